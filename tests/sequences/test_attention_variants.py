"""nnfaq.sequences.attention_variants: parity with PyTorch or the written-out formula (forward and gradient, float64,
hypothesis-drawn cases), the claims of its answers and of the comparison table, and the refusals only it makes (the
shared ones are rows of tests/sequences/contract.py)."""

import pytest
import torch
import torch.nn.functional as F
from helpers import agree, batch_shapes, gen, rejects
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.testing import assert_close

from nnfaq.sequences.attention_variants import (
    additive_attention,
    attention_mechanisms,
    local_attention,
    location_attention,
    multiplicative_attention,
    self_attention,
)

F64 = torch.float64
size = st.integers(1, 5)


def randn(*shape):
    return torch.randn(*shape, dtype=F64)


def is_distribution(A):
    return bool((A >= 0).all()) and torch.allclose(A.sum(-1), torch.ones((), dtype=A.dtype))


@st.composite
def qkv(draw, same_size=False):
    """(*, L, d_q) query, (*, S, d_k) key, (*, S, d_v) value, with broadcastable batch dimensions."""
    batch = draw(batch_shapes)
    kv_batch = tuple(draw(st.sampled_from([b, 1])) for b in batch)
    L, S, d_q, d_v = draw(size), draw(size), draw(size), draw(size)
    d_k = d_q if same_size else draw(size)
    g = gen(draw(st.integers(0, 2**31 - 1)))
    shapes = ((*batch, L, d_q), (*kv_batch, S, d_k), (*kv_batch, S, d_v))
    return tuple(torch.randn(shape, generator=g, dtype=F64) for shape in shapes)


# --- parity ----------------------------------------------------------------------------------------


@settings(max_examples=12)
@given(inputs=qkv(), d_a=size)
def test_additive_is_the_per_pair_formula_forward_and_gradient(inputs, d_a):
    q, k, v = inputs
    W_q, W_k, w = randn(d_a, q.shape[-1]), randn(d_a, k.shape[-1]), randn(d_a)

    def ref(q, k, v, W_q, W_k, w):
        # e_ij = w . tanh(W_q q_i + W_k k_j), over explicit (i, j) pairs
        h = torch.tanh(torch.einsum("...id,ad->...ia", q, W_q)[..., :, None, :]
                       + torch.einsum("...jd,ad->...ja", k, W_k)[..., None, :, :])  # fmt: skip
        return torch.einsum("...ij,...jv->...iv", torch.softmax(torch.einsum("...ija,a->...ij", h, w), -1), v)

    agree(lambda *t: additive_attention(*t)[0], ref, q, k, v, W_q, W_k, w)
    assert is_distribution(additive_attention(q, k, v, W_q, W_k, w)[1])


@settings(max_examples=12)
@given(inputs=qkv(), use_weight=st.booleans())
def test_multiplicative_is_sdpa_with_scale_one_on_projected_queries(inputs, use_weight):
    q, k, v = inputs
    if use_weight:
        W = randn(q.shape[-1], k.shape[-1])
        agree(lambda q, k, v, W: multiplicative_attention(q, k, v, W)[0],
              lambda q, k, v, W: F.scaled_dot_product_attention(q @ W, k, v, scale=1.0), q, k, v, W)  # fmt: skip
    else:
        k = k[..., :1].expand(*k.shape[:-1], q.shape[-1]).contiguous()  # the dot score needs d_k = d_q
        agree(lambda *t: multiplicative_attention(*t)[0], lambda *t: F.scaled_dot_product_attention(*t, scale=1.0),
              q, k, v)  # fmt: skip


@settings(max_examples=12)
@given(inputs=qkv())
def test_location_weights_are_a_softmax_of_the_query_alone(inputs):
    q, _, v = inputs
    W = randn(v.shape[-2], q.shape[-1])
    agree(lambda q, v, W: location_attention(q, v, W)[0], lambda q, v, W: torch.softmax(q @ W.T, -1) @ v, q, v, W)
    A = location_attention(q, v, W)[1]
    assert is_distribution(A)
    assert torch.equal(location_attention(q, 10 * torch.randn_like(v), W)[1], A)  # the content does not matter


@settings(max_examples=12)
@given(inputs=qkv(same_size=True), window=st.none() | st.integers(0, 6), scale=st.none() | st.floats(0.1, 2.0))
def test_local_is_sdpa_with_a_band_mask(inputs, window, scale):
    q, k, v = inputs
    T, S = q.shape[-2], k.shape[-2]
    band = None if window is None else (torch.arange(T)[:, None] - torch.arange(S)[None, :]).abs() <= window
    agree(lambda *t: local_attention(*t, window=window, scale=scale)[0],
          lambda *t: F.scaled_dot_product_attention(*t, attn_mask=band, scale=scale), q, k, v)  # fmt: skip
    A = local_attention(q, k, v, window=window, scale=scale)[1]
    if window is not None:
        assert int((A > 0).sum(-1).max()) <= 2 * window + 1
        assert bool((A[..., ~band.any(-1), :] == 0).all())  # no key in the window: zero weights, not NaN


@settings(max_examples=12)
@given(batch=batch_shapes, T=size, C=size, project=st.booleans(), causal=st.booleans())
def test_self_attention_is_sdpa_of_x_with_itself(batch, T, C, project, causal):
    x = randn(*batch, T, C)
    if project:

        def ref(x, W):
            return F.scaled_dot_product_attention(*(x @ W.T).chunk(3, -1), is_causal=causal)

        agree(lambda x, W: self_attention(x, W, is_causal=causal), ref, x, randn(3 * C, C))
    else:
        agree(
            lambda x: self_attention(x, is_causal=causal),
            lambda x: F.scaled_dot_product_attention(x, x, x, is_causal=causal),
            x,
        )


# --- claims ----------------------------------------------------------------------------------------


def test_query_and_key_sizes_may_differ_with_learned_scores_only():
    q, k, v = randn(3, 6), randn(5, 9), randn(5, 2)
    assert additive_attention(q, k, v, randn(4, 6), randn(4, 9), randn(4))[0].shape == (3, 2)
    assert multiplicative_attention(q, k, v, randn(6, 9))[0].shape == (3, 2)
    for fn in (multiplicative_attention, local_attention):
        rejects("key", fn, q, k, v)


def test_a_query_with_no_key_in_its_window_gets_zero_output_as_in_torch():
    q, k = randn(5, 3), randn(1, 3)
    out, A = local_attention(q, k, k, window=1)
    assert_close(out, F.scaled_dot_product_attention(q, k, k, attn_mask=torch.arange(5)[:, None] <= 1))
    assert bool((out[2:] == 0).all()) and bool((A[2:] == 0).all())


@pytest.mark.parametrize(("layers", "w"), [(1, 2), (2, 2), (3, 1)])
def test_n_stacked_local_layers_see_n_w_tokens(layers, w):
    x = randn(16, 4).requires_grad_()
    h = x
    for _ in range(layers):
        h = local_attention(h, h, h, window=w)[0]
    h[0].sum().backward()
    assert (x.grad.abs().sum(1) != 0).nonzero().flatten().tolist() == list(range(layers * w + 1))


def test_causal_self_attention_ignores_the_future():
    x, W = randn(2, 6, 8), randn(24, 8)
    y = x.clone()
    y[:, 3:] = randn(2, 3, 8)
    assert_close(self_attention(x, W, True)[:, :3], self_attention(y, W, True)[:, :3])
    assert not torch.allclose(self_attention(x, W)[:, :3], self_attention(y, W)[:, :3])  # without the mask it sees


@settings(max_examples=10)
@given(d=st.integers(1, 12), T=st.integers(1, 20), window=st.integers(0, 25), heads=st.integers(1, 4))
def test_the_table_measures_what_the_formulas_say(d, T, window, heads):
    heads = max(h for h in range(1, heads + 1) if d % h == 0)
    table = attention_mechanisms(d_model=d, T=T, window=window, num_heads=heads)
    w = min(window, T - 1)
    assert {name: row["params"] for name, row in table.items()} == {
        "dot": 0, "scaled_dot": 0, "multiplicative": d * d, "additive": 2 * d * d + d, "location": T * d, "local": 0,
        "multi_head": 4 * d * d + 4 * d,
    }  # fmt: skip
    scores = {name: row["scores"] for name, row in table.items()}
    local = T * (2 * w + 1) - w * (w + 1)
    assert scores == {
        **dict.fromkeys(["dot", "scaled_dot", "multiplicative", "additive", "location"], T * T),
        "local": local,
        "multi_head": heads * T * T,
    }
    assert [n for n, row in table.items() if row["qk_sizes_may_differ"]] == ["multiplicative", "additive", "multi_head"]
    assert table["location"]["qk_sizes_may_differ"] is None
    assert all(row["score"] and row["advantage"] and row["disadvantage"] for row in table.values())


def test_the_table_counts_are_the_non_zero_weights_of_the_functions():
    table, x = attention_mechanisms(d_model=4, T=10, window=2, num_heads=2), randn(10, 4)
    assert int((local_attention(x, x, x, window=2)[1] != 0).sum()) == table["local"]["scores"] == 44
    assert int((local_attention(x, x, x)[1] != 0).sum()) == table["scaled_dot"]["scores"] == 100
    mha = torch.nn.MultiheadAttention(4, 2)
    assert sum(p.numel() for p in mha.parameters()) == table["multi_head"]["params"]


# --- bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fn", "args", "name"),
    [
        (additive_attention, (randn(3, 6), randn(5, 4), randn(5, 2), randn(8, 5), randn(8, 4), randn(8)), "W_q"),
        (additive_attention, (randn(3, 6), randn(5, 4), randn(5, 2), randn(8, 6), randn(7, 4), randn(8)), "W_k"),
        (additive_attention, (randn(3, 6), randn(5, 4), randn(6, 2), randn(8, 6), randn(8, 4), randn(8)), "value"),
        (
            additive_attention,
            (randn(2, 3, 6), randn(3, 5, 4), randn(3, 5, 2), randn(8, 6), randn(8, 4), randn(8)),
            "key",
        ),
        (multiplicative_attention, (randn(3, 6), randn(5, 4), randn(5, 2), randn(4, 6)), "weight"),
        (multiplicative_attention, (randn(3, 6), randn(5, 4), randn(5, 2), randn(6, 4).float()), "weight"),
        (location_attention, (randn(3, 6), randn(5, 2), randn(5, 7)), "weight"),
        (location_attention, (randn(3, 6), randn(4, 2), randn(5, 6)), "value"),
        (location_attention, (randn(2, 3, 6), randn(3, 5, 2), randn(5, 6)), "value"),
        (local_attention, (randn(3, 6), randn(5, 6), randn(5, 2), -1), "window"),
        (local_attention, (randn(3, 6), randn(5, 6), randn(5, 2), 1.5), "window"),
        (self_attention, (randn(3, 6), randn(6, 6)), "in_proj_weight"),
    ],
)
def test_variants_refuse_tensors_that_do_not_fit_together(fn, args, name):
    rejects(name, fn, *args)


def test_the_table_refuses_heads_that_do_not_divide_the_size():
    rejects("num_heads", attention_mechanisms, d_model=6, num_heads=4)
