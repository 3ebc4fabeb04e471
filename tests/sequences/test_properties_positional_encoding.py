"""Property-based tests for nnfaq.positional_encoding: random valid input agrees with PyTorch (or the stated
invariant), random invalid input raises ValueError/TypeError naming the argument (issue 10)."""

import math

import torch
import torch.nn.functional as F
from helpers import batch_shapes, not_a_bool, not_a_tensor, not_an_int, rejects
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.testing import assert_close

from nnfaq.positional_encoding import (
    alibi_bias,
    learned_positional_encoding,
    permutation_equivariance,
    rotary_embedding,
    sinusoidal_encoding,
)

D64 = torch.float64
size = st.integers(1, 5)
not_a_number = st.one_of(st.none(), st.booleans(), st.text(max_size=3))
bad_base = st.one_of(not_a_number, st.floats(max_value=1.0), st.just(math.nan))
bad_dtype = st.one_of(st.sampled_from([torch.int64, torch.int32, torch.bool, torch.complex64]), st.text(max_size=8))
float_dtypes = st.sampled_from([torch.float64, torch.float32])


# --- permutation_equivariance --------------------------------------------------------------------


@settings(max_examples=30)
@given(batch=batch_shapes, T=size, C=size, data=st.data())
def test_attention_commutes_with_every_permutation_and_positions_break_it(batch, T, C, data):
    perm = torch.tensor(data.draw(st.permutations(range(T))))
    x = torch.randn(*batch, T, C, dtype=D64)
    assert permutation_equivariance(lambda x: F.scaled_dot_product_attention(x, x, x), x, perm)
    assert permutation_equivariance(torch.tanh, x, perm)
    # any layer commutes with the identity permutation
    assert permutation_equivariance(
        lambda x: F.scaled_dot_product_attention(x, x, x, is_causal=True), x, perm.sort()[0]
    )
    # adding the sinusoid: layer(x[perm]) = x[perm] + pe differs from x[perm] + pe[perm] unless perm = identity
    pe = sinusoidal_encoding(T, 2 * C)[:, :C]
    identity = torch.equal(perm, torch.arange(T))
    assert permutation_equivariance(lambda x: x + pe, x, perm) == identity


@given(
    case=st.one_of(
        st.tuples(st.just("layer"), st.one_of(st.none(), st.integers(), st.text(max_size=3))),
        st.tuples(st.just("x"), not_a_tensor),
        st.tuples(st.just("x"), st.sampled_from([torch.zeros(4), torch.zeros(4, 3, dtype=torch.long)])),
        st.tuples(st.just("perm"), not_a_tensor.filter(lambda p: p is not None)),
        st.tuples(
            st.just("perm"), st.lists(st.integers(-2, 5), max_size=6).filter(lambda p: sorted(p) != [0, 1, 2, 3])
        ),
        st.tuples(st.just("perm"), st.sampled_from([[3.0, 2.0, 1.0, 0.0], [[0, 1, 2, 3]], [True, False, True, False]])),
    )
)
def test_permutation_equivariance_rejects_bad_arguments(case):
    name, bad = case
    kwargs = {"layer": torch.tanh, "x": torch.randn(2, 4, 3, dtype=D64), "perm": None, name: bad}
    if name == "perm" and isinstance(bad, list):
        kwargs["perm"] = torch.tensor(bad) if bad else torch.zeros(0, dtype=torch.long)
    rejects(name, permutation_equivariance, **kwargs)


@given(out=st.sampled_from([lambda x: x.sum(), lambda x: x[..., :1, :], lambda x: x.tolist(), lambda x: x[0, 0]]))
def test_permutation_equivariance_rejects_a_layer_that_does_not_keep_the_tokens(out):
    rejects("layer", permutation_equivariance, out, torch.randn(2, 4, 3, dtype=D64))


# --- sinusoidal_encoding -------------------------------------------------------------------------


@settings(max_examples=30)
@given(T=st.integers(1, 20), half=st.integers(1, 8), base=st.floats(1.5, 1e5), dtype=float_dtypes)
def test_sinusoidal_formula_norm_and_offset_only_dot_products(T, half, base, dtype):
    d = 2 * half
    pe = sinusoidal_encoding(T, d, base=base, dtype=dtype)
    assert pe.shape == (T, d) and pe.dtype == dtype
    t, i = torch.arange(T, dtype=D64)[:, None], torch.arange(half, dtype=D64)
    angle = t * base ** (-2 * i / d)  # (T, d/2)
    assert_close(pe[:, 0::2], torch.sin(angle).to(dtype))
    assert_close(pe[:, 1::2], torch.cos(angle).to(dtype))
    pe64 = sinusoidal_encoding(T, d, base=base)
    assert bool(pe64.abs().max() <= 1)
    assert_close((pe64**2).sum(1), torch.full((T,), float(half), dtype=D64))
    G = pe64 @ pe64.T  # dot product depends only on the offset: every diagonal is constant
    for k in range(T):
        assert_close(G.diagonal(k), G.diagonal(k)[:1].expand(T - k))


@given(
    case=st.one_of(
        st.tuples(st.just("T"), st.one_of(not_an_int, st.integers(-3, 0))),
        st.tuples(st.just("d"), st.one_of(not_an_int, st.integers(-3, 1), st.integers(1, 8).map(lambda h: 2 * h + 1))),
        st.tuples(st.just("base"), bad_base),
        st.tuples(st.just("dtype"), bad_dtype),
    )
)
def test_sinusoidal_rejects_bad_arguments(case):
    name, bad = case
    rejects(name, sinusoidal_encoding, **{"T": 4, "d": 6, name: bad})


# --- learned_positional_encoding -----------------------------------------------------------------


@settings(max_examples=30)
@given(batch=batch_shapes, T=size, d=size, extra=st.integers(0, 3))
def test_learned_is_embedding_lookup_added_forward_and_gradient(batch, T, d, extra):
    x = torch.randn(*batch, T, d, dtype=D64)
    emb = torch.nn.Embedding(T + extra, d, dtype=D64)
    xs = [x.clone().requires_grad_() for _ in range(2)]
    ours = learned_positional_encoding(xs[0], emb.weight)
    ref = xs[1] + emb(torch.arange(T))
    assert_close(ours, ref)
    g = torch.randn_like(ref)
    ours.backward(g, retain_graph=True)
    ours_w = emb.weight.grad.clone()
    emb.weight.grad = None
    ref.backward(g)
    assert_close(ours_w, emb.weight.grad)
    assert_close(xs[0].grad, xs[1].grad)
    assert bool((ours_w[T:] == 0).all())  # rows beyond the sequence get no gradient


@given(
    case=st.one_of(
        st.tuples(st.just("x"), not_a_tensor),
        st.tuples(st.just("x"), st.sampled_from([torch.zeros(4), torch.zeros(3, 4, dtype=torch.long)])),
        st.tuples(st.just("weight"), not_a_tensor),
        st.tuples(st.just("weight"), st.sampled_from([(8,), (8, 5), (8, 3), (2, 4), (1, 8, 4)]).map(torch.zeros)),
        st.tuples(st.just("weight"), st.just(torch.zeros(8, 4, dtype=torch.long))),
    )
)
def test_learned_rejects_bad_arguments(case):
    name, bad = case
    kwargs = {"x": torch.randn(2, 3, 4, dtype=D64), "weight": torch.randn(8, 4, dtype=D64), name: bad}
    rejects(name, learned_positional_encoding, **kwargs)


# --- rotary_embedding ----------------------------------------------------------------------------


@settings(max_examples=30)
@given(
    batch=batch_shapes,
    T=size,
    half=st.integers(1, 4),
    positions=st.one_of(st.none(), st.lists(st.integers(-50, 50), min_size=5, max_size=5)),
    base=st.floats(1.5, 1e5),
    shift=st.integers(-20, 20),
)
def test_rope_is_complex_rotation_keeps_norms_and_scores_depend_on_offsets(batch, T, half, positions, base, shift):
    D = 2 * half
    x = torch.randn(*batch, T, D, dtype=D64)
    pos = torch.arange(T) if positions is None else torch.tensor(positions[:T])

    def ref(x):
        theta = base ** (-torch.arange(0, D, 2, dtype=D64) / D)
        turn = torch.polar(torch.ones(T, half, dtype=D64), pos.to(D64)[:, None] * theta)
        return torch.view_as_real(torch.view_as_complex(x.reshape(*x.shape[:-1], half, 2)) * turn).flatten(-2)

    xs = [x.clone().requires_grad_() for _ in range(2)]
    ours, expected = rotary_embedding(xs[0], None if positions is None else pos, base), ref(xs[1])
    assert_close(ours, expected)
    g = torch.randn_like(ours)
    ours.backward(g)
    expected.backward(g)
    assert_close(xs[0].grad, xs[1].grad)
    assert_close(ours.detach().norm(dim=-1), x.norm(dim=-1))
    # q_m . k_n depends on n - m only: shifting every position by the same amount keeps all scores
    k = torch.randn_like(x)
    scores = rotary_embedding(x, pos, base) @ rotary_embedding(k, pos, base).transpose(-2, -1)
    shifted = rotary_embedding(x, pos + shift, base) @ rotary_embedding(k, pos + shift, base).transpose(-2, -1)
    assert_close(scores, shifted)


@given(
    case=st.one_of(
        st.tuples(st.just("x"), not_a_tensor),
        st.tuples(
            st.just("x"), st.sampled_from([torch.zeros(4), torch.zeros(3, 4, dtype=torch.long), torch.zeros(3, 5)])
        ),
        st.tuples(st.just("positions"), not_a_tensor.filter(lambda p: p is not None)),
        st.tuples(
            st.just("positions"),
            st.sampled_from([(2,), (4,), (3, 1), ()]).map(lambda s: torch.zeros(s, dtype=torch.long)),
        ),
        st.tuples(
            st.just("positions"), st.sampled_from([[0.0, math.nan, 1.0], [0.0, math.inf, 1.0]]).map(torch.tensor)
        ),
        st.tuples(st.just("positions"), st.just(torch.tensor([True, False, True]))),
        st.tuples(st.just("base"), bad_base),
    )
)
def test_rope_rejects_bad_arguments(case):
    name, bad = case
    kwargs = {"x": torch.randn(2, 3, 4, dtype=D64), "positions": None, "base": 10000.0, name: bad}
    rejects(name, rotary_embedding, **kwargs)


# --- alibi_bias ----------------------------------------------------------------------------------


@settings(max_examples=30)
@given(H=st.integers(1, 16), T=st.integers(1, 8), causal=st.booleans(), extra=st.integers(1, 4), dtype=float_dtypes)
def test_alibi_is_a_distance_penalty_with_geometric_slopes(H, T, causal, extra, dtype):
    b = alibi_bias(H, T, causal=causal, dtype=dtype)
    assert b.shape == (H, T, T) and b.dtype == dtype
    assert torch.equal(b[:, 1:, 1:], b[:, :-1, :-1])  # depends on i - j only
    assert bool((b.diagonal(dim1=1, dim2=2) == 0).all())
    assert torch.equal(alibi_bias(H, T + extra, causal=causal, dtype=dtype)[:, :T, :T], b)  # extends unchanged
    upper = torch.ones(T, T, dtype=torch.bool).triu(1)
    if causal:
        assert bool(torch.isneginf(b[:, upper]).all())
    else:
        assert torch.equal(b, b.transpose(1, 2))
    if T > 1:
        slopes = -alibi_bias(H, 2)[:, 1, 0]
        assert bool(((slopes > 0) & (slopes < 1)).all()) and len(set(slopes.tolist())) == H
        if H & (H - 1) == 0:  # a power of two: m_h = 2^(-8h/H)
            assert_close(slopes, 2 ** (-8 * torch.arange(1, H + 1, dtype=D64) / H))


@given(
    case=st.one_of(
        st.tuples(st.just("num_heads"), st.one_of(not_an_int, st.integers(-3, 0))),
        st.tuples(st.just("T"), st.one_of(not_an_int, st.integers(-3, 0))),
        st.tuples(st.just("causal"), not_a_bool),
        st.tuples(st.just("dtype"), bad_dtype),
    )
)
def test_alibi_rejects_bad_arguments(case):
    name, bad = case
    rejects(name, alibi_bias, **{"num_heads": 4, "T": 3, name: bad})
