"""nnfaq.sequences.positional_encoding: parity with the papers' formulas and PyTorch (forward and gradient, float64,
hypothesis-drawn cases), the claims of its answers, and the refusals only it makes (the shared ones are rows of
tests/sequences/contract.py)."""

import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from helpers import batch_shapes, gen, rejects
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.testing import assert_close

from nnfaq.sequences.positional_encoding import (
    alibi_bias,
    learned_positional_encoding,
    permutation_equivariance,
    rotary_embedding,
    sinusoidal_encoding,
)

F64 = torch.float64
size = st.integers(1, 5)


def randn(*shape):
    return torch.randn(*shape, dtype=F64)


def sdpa_self(x, **kw):
    return F.scaled_dot_product_attention(x, x, x, **kw)


def rope_reference(x, positions, base=10000.0):
    """RoPE as the paper writes it: each pair x_2i + i x_2i+1 times exp(i m theta_i)."""
    D = x.shape[-1]
    theta = base ** (-torch.arange(0, D, 2, dtype=F64) / D)
    turn = torch.polar(torch.ones(len(positions), D // 2, dtype=F64), positions.to(F64)[:, None] * theta)
    return torch.view_as_real(torch.view_as_complex(x.reshape(*x.shape[:-1], D // 2, 2)) * turn).flatten(-2)


# --- parity ----------------------------------------------------------------------------------------


@settings(max_examples=12)
@given(
    T=st.integers(1, 20), half=st.integers(1, 8), base=st.floats(1.5, 1e5), dtype=st.sampled_from([F64, torch.float32])
)
def test_sinusoidal_is_the_papers_formula(T, half, base, dtype):
    d = 2 * half
    pe = sinusoidal_encoding(T, d, base=base, dtype=dtype)
    assert pe.shape == (T, d) and pe.dtype == dtype
    angle = torch.arange(T, dtype=F64)[:, None] * base ** (-2 * torch.arange(half, dtype=F64) / d)  # (T, d/2)
    assert_close(pe[:, 0::2], torch.sin(angle).to(dtype))
    assert_close(pe[:, 1::2], torch.cos(angle).to(dtype))


@settings(max_examples=12)
@given(batch=batch_shapes, T=size, d=size, extra=st.integers(0, 3))
def test_learned_is_an_embedding_lookup_added_forward_and_gradient(batch, T, d, extra):
    x = randn(*batch, T, d)
    emb = torch.nn.Embedding(T + extra, d, dtype=F64)
    xa, xb, w = x.clone().requires_grad_(), x.clone().requires_grad_(), emb.weight.detach().clone().requires_grad_()
    ours, ref = learned_positional_encoding(xa, w), xb + emb(torch.arange(T))
    assert_close(ours, ref)
    g = torch.randn_like(ref)
    ours.backward(g)
    ref.backward(g)
    assert_close(xa.grad, xb.grad)
    assert_close(w.grad, emb.weight.grad)
    assert bool((w.grad[T:] == 0).all())  # rows beyond the sequence get no gradient


@settings(max_examples=12)
@given(batch=batch_shapes, T=size, half=st.integers(1, 4), base=st.floats(1.5, 1e5),
       positions=st.none() | st.lists(st.integers(-50, 50), min_size=5, max_size=5))  # fmt: skip
def test_rope_is_the_papers_complex_rotation_forward_and_gradient(batch, T, half, base, positions):
    x = randn(*batch, T, 2 * half)
    pos = torch.arange(T) if positions is None else torch.tensor(positions[:T])
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    ours, ref = rotary_embedding(xa, None if positions is None else pos, base), rope_reference(xb, pos, base)
    assert_close(ours, ref)
    g = torch.randn_like(ref)
    ours.backward(g)
    ref.backward(g)
    assert_close(xa.grad, xb.grad)


def test_alibi_as_an_attention_mask_is_the_score_plus_the_bias():
    q, k, v = randn(2, 4, 6, 8), randn(2, 4, 6, 8), randn(2, 4, 6, 8)
    b = alibi_bias(4, 6)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=b)
    assert_close(out, torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(8) + b, -1) @ v)
    assert_close(out[..., 0, :], v[..., 0, :])  # causal: the first query sees the first key only


# --- claims ----------------------------------------------------------------------------------------


@settings(max_examples=12)
@given(batch=batch_shapes, T=size, C=size, data=st.data())
def test_attention_commutes_with_every_permutation_and_adding_positions_breaks_it(batch, T, C, data):
    perm = torch.tensor(data.draw(st.permutations(range(T))))
    x = randn(*batch, T, C)
    assert permutation_equivariance(sdpa_self, x, perm)
    assert permutation_equivariance(lambda x: sdpa_self(x, is_causal=True), x, torch.arange(T))
    pe = sinusoidal_encoding(T, 2 * C)[:, :C]
    assert permutation_equivariance(lambda x: x + pe, x, perm) == torch.equal(perm, torch.arange(T))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_an_encoder_layer_is_equivariant_and_every_kind_of_position_breaks_it(seed):
    torch.manual_seed(seed)
    T, C = 6, 8
    x, perm = randn(2, T, C), torch.tensor([2, 0, 5, 1, 4, 3])  # not the reversal: symmetric ALiBi is invariant to it
    enc = torch.nn.TransformerEncoderLayer(C, 2, 16, dropout=0.0, batch_first=True, dtype=F64).eval()
    assert permutation_equivariance(enc, x, perm) and permutation_equivariance(enc, x)
    assert_close(enc(x).mean(1), enc(x.flip(1)).mean(1))  # a pooled sentence equals its reverse
    heads = x.unsqueeze(1).expand(2, 2, T, C)
    conv = torch.nn.Conv1d(C, C, 3, padding=1, dtype=F64)
    broken = [
        (lambda x: enc(x + sinusoidal_encoding(T, C)), x),
        (lambda x: sdpa_self(learned_positional_encoding(x, randn(T, C))), x),
        (lambda x: F.scaled_dot_product_attention(rotary_embedding(x), rotary_embedding(x), x), x),
        (lambda x: sdpa_self(x, attn_mask=alibi_bias(2, T, causal=False)), heads),
        (lambda x: sdpa_self(x, is_causal=True), x),
        (lambda x: conv(x.transpose(1, 2)).transpose(1, 2), x),  # a convolution knows the order too
    ]
    assert not any(permutation_equivariance(layer, inputs, perm) for layer, inputs in broken)


def test_sinusoidal_dot_products_depend_only_on_the_offset_and_a_shift_is_one_rotation():
    pe = sinusoidal_encoding(60, 16)
    G = pe @ pe.T
    omega = 10000 ** (-torch.arange(0, 16, 2, dtype=F64) / 16)
    for k in range(0, 60, 7):
        assert_close(G.diagonal(k), G.diagonal(k)[0].expand(60 - k))
        assert_close(G[0, k], torch.cos(omega * k).sum())  # the closed form
    for k in (1, 5):
        c, s = torch.cos(k * omega), torch.sin(k * omega)
        R = torch.block_diag(*[torch.stack([torch.stack([ci, -si]), torch.stack([si, ci])]) for ci, si in zip(c, s)])
        assert_close(pe[:-k] @ R, pe[k:])
    assert bool(pe.abs().max() <= 1)
    assert_close(pe.norm(dim=1) ** 2, torch.full((60,), 8.0, dtype=F64))


@settings(max_examples=12)
@given(T=size, half=st.integers(1, 4), shift=st.integers(-1000, 1000), seed=st.integers(0, 2**31 - 1))
def test_rope_keeps_norms_and_scores_depend_only_on_offsets(T, half, shift, seed):
    g = gen(seed)
    q, k = torch.randn(2, T, 2 * half, generator=g, dtype=F64), torch.randn(2, T, 2 * half, generator=g, dtype=F64)
    pos = torch.randint(-50, 50, (T,), generator=g)
    assert_close(rotary_embedding(q, pos).norm(dim=-1), q.norm(dim=-1))
    scores = rotary_embedding(q, pos) @ rotary_embedding(k, pos).transpose(-2, -1)
    assert_close(rotary_embedding(q, pos + shift) @ rotary_embedding(k, pos + shift).transpose(-2, -1), scores)


D = 128
THETA = 10000.0 ** (-torch.arange(0, D, 2, dtype=F64) / D)


def bound_factor(r):
    """sum_j |S_j(r)|, S_j = sum_{i<j} exp(i r theta_i): Su et al.'s long-term decay factor, for distances r."""
    return torch.polar(torch.ones(len(r), D // 2, dtype=F64), r[:, None] * THETA).cumsum(-1).abs().sum(-1)


@settings(max_examples=10)
@given(seed=st.integers(0, 2**31 - 1), r=st.integers(-5000, 5000))
def test_rope_scores_stay_under_su_et_als_bound(seed, r):
    g = gen(seed)
    q, k = torch.randn(D, generator=g, dtype=F64), torch.randn(D, generator=g, dtype=F64)
    h = torch.view_as_complex(q.view(-1, 2)) * torch.view_as_complex(k.view(-1, 2)).conj()
    step = (torch.cat([h[1:], h.new_zeros(1)]) - h).abs().max()
    score = rotary_embedding(q[None], torch.tensor([r])) @ rotary_embedding(k[None], torch.tensor([0]))[0]
    assert score.abs() <= step * bound_factor(torch.tensor([float(r)]))[0] * (1 + 1e-12)


def test_the_bound_decays_on_average_but_not_every_score_does():
    means = [bound_factor(torch.arange(2**j, 2 ** (j + 1), dtype=F64)).mean() for j in range(11)]
    assert all(a > b for a, b in itertools.pairwise(means))
    f = bound_factor(torch.arange(1, 4097, dtype=F64))
    assert bool((f[1:] > f[:-1]).any())  # it oscillates
    # q . R k for Gaussian q, k has the same distribution at every distance: mean |score| over 4000 pairs
    qs, ks = torch.randn(4000, D, generator=gen(1), dtype=F64), torch.randn(4000, D, generator=gen(2), dtype=F64)
    mean_abs = [
        (rotary_embedding(qs[:, None], torch.tensor([r])) * ks[:, None]).sum(-1).abs().mean() for r in (1, 1000)
    ]
    assert abs(mean_abs[1] / mean_abs[0] - 1) < 0.1


@pytest.mark.parametrize(
    ("H", "slopes"),
    [
        (1, [2**-8]),
        (4, [2**-2, 2**-4, 2**-6, 2**-8]),
        (8, [2**-h for h in range(1, 9)]),
        (6, [2**-2, 2**-4, 2**-6, 2**-8, 2**-1, 2**-3]),  # the paper's rule for other head counts
    ],
)
def test_alibi_slopes(H, slopes):
    b = alibi_bias(H, 5)
    assert_close(-b[:, 1, 0], torch.tensor(slopes, dtype=F64))
    assert_close(-b[:, 4, 0], 4 * torch.tensor(slopes, dtype=F64))


@pytest.mark.parametrize("causal", [True, False])
def test_alibi_depends_only_on_the_distance_and_a_longer_sequence_extends_it(causal):
    b = alibi_bias(4, 10, causal=causal)
    assert torch.equal(b[:, 1:, 1:], b[:, :-1, :-1]) and torch.equal(alibi_bias(4, 100, causal=causal)[:, :10, :10], b)
    upper = torch.ones(10, 10, dtype=torch.bool).triu(1)
    assert bool(torch.isneginf(b[:, upper]).all()) == causal
    if not causal:
        assert torch.equal(b, b.transpose(1, 2))
    A = torch.softmax(alibi_bias(4, 10), -1)
    assert bool((A[:, -1, 1:] > A[:, -1, :-1]).all())  # with equal scores, nearer keys weigh more


def test_a_learned_table_has_no_row_beyond_max_len():
    rejects("weight", learned_positional_encoding, randn(9, 4), randn(8, 4))


# --- bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"perm": torch.tensor([0, 0, 1, 2])}, "perm"),
        ({"perm": torch.tensor([3.0, 2.0, 1.0, 0.0])}, "perm"),
        ({"perm": torch.tensor([True, False, True, False])}, "perm"),
        ({"perm": torch.tensor([[0, 1, 2, 3]])}, "perm"),
        ({"layer": 3}, "layer"),
        ({"layer": lambda x: x.sum()}, "layer"),
        ({"layer": lambda x: x[..., :1, :]}, "layer"),
    ],
)
def test_permutation_equivariance_refuses_what_is_not_a_permutation_or_a_token_layer(kwargs, name):
    rejects(name, permutation_equivariance, **{"layer": torch.tanh, "x": randn(2, 4, 3), **kwargs})


@pytest.mark.parametrize(
    ("fn", "kwargs", "name"),
    [
        (sinusoidal_encoding, {"T": 4, "d": 5}, "d"),
        (sinusoidal_encoding, {"T": 4, "d": 6, "dtype": torch.int64}, "dtype"),
        (alibi_bias, {"num_heads": 2, "T": 3, "dtype": "float64"}, "dtype"),
        (learned_positional_encoding, {"x": randn(3, 4), "weight": randn(8, 5)}, "weight"),
        (rotary_embedding, {"x": randn(4, 5)}, "x"),
        (rotary_embedding, {"x": randn(4, 6), "positions": torch.arange(3)}, "positions"),
        (rotary_embedding, {"x": randn(3, 6), "positions": torch.tensor([0.0, math.nan, 1.0])}, "positions"),
        (rotary_embedding, {"x": randn(3, 6), "positions": torch.tensor([True, False, True])}, "positions"),
    ],
)
def test_refuses_arguments_that_do_not_fit(fn, kwargs, name):
    rejects(name, fn, **kwargs)
