"""Property-based tests for nnfaq.attention_variants: random valid input agrees with PyTorch (or the stated formula),
random invalid input raises ValueError/TypeError naming the argument (issue 10)."""

import math
import re

import pytest
import torch
import torch.nn.functional as F
from helpers import batch_shapes, leaves, not_a_bool, not_a_tensor, rejects
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.testing import assert_close

from nnfaq.attention_variants import (
    additive_attention,
    local_attention,
    location_attention,
    multiplicative_attention,
    self_attention,
)

D64 = torch.float64
size = st.integers(1, 5)
not_an_int = st.one_of(st.booleans(), st.floats(), st.text(max_size=3))


def same_forward_and_gradient(ours_fn, ref_fn, *tensors):
    """ours_fn and ref_fn agree in value and in the gradient with respect to every tensor."""
    a, b = leaves(*tensors), leaves(*tensors)
    ours, ref = ours_fn(*a), ref_fn(*b)
    assert_close(ours, ref)
    g = torch.randn_like(ref)
    ours.backward(g)
    ref.backward(g)
    for x, y in zip(a, b):
        assert_close(x.grad, y.grad)


@st.composite
def qkv(draw, same_size=False):
    """(*, L, d_q) query, (*, S, d_k) key, (*, S, d_v) value, with broadcastable batch dimensions."""
    batch = draw(batch_shapes)
    kv_batch = tuple(draw(st.sampled_from([b, 1])) for b in batch)
    L, S, d_q, d_v = draw(size), draw(size), draw(size), draw(size)
    d_k = d_q if same_size else draw(size)
    return (
        torch.randn(*batch, L, d_q, dtype=D64),
        torch.randn(*kv_batch, S, d_k, dtype=D64),
        torch.randn(*kv_batch, S, d_v, dtype=D64),
    )


def is_distribution(a):
    return bool((a >= 0).all()) and torch.allclose(a.sum(-1), torch.ones((), dtype=a.dtype))


# --- valid input ---------------------------------------------------------------------------------


@settings(max_examples=30)
@given(inputs=qkv(), d_a=size)
def test_additive_is_the_per_pair_formula_forward_and_gradient(inputs, d_a):
    q, k, v = inputs
    W_q, W_k, w = torch.randn(d_a, q.shape[-1], dtype=D64), torch.randn(d_a, k.shape[-1], dtype=D64), torch.randn(d_a)
    w = w.double()

    def ref(q, k, v, W_q, W_k, w):
        # e_ij = w . tanh(W_q q_i + W_k k_j), written with einsum over explicit (i, j) pairs
        h = torch.tanh(
            torch.einsum("...id,ad->...ia", q, W_q)[..., :, None, :]
            + torch.einsum("...jd,ad->...ja", k, W_k)[..., None, :, :]
        )
        a = torch.softmax(torch.einsum("...ija,a->...ij", h, w), dim=-1)
        return torch.einsum("...ij,...jv->...iv", a, v)

    same_forward_and_gradient(lambda *t: additive_attention(*t)[0], ref, q, k, v, W_q, W_k, w)
    assert is_distribution(additive_attention(q, k, v, W_q, W_k, w)[1])


@settings(max_examples=30)
@given(inputs=qkv(), use_weight=st.booleans())
def test_multiplicative_is_sdpa_with_scale_one_on_projected_queries(inputs, use_weight):
    q, k, v = inputs
    if use_weight:
        W = torch.randn(q.shape[-1], k.shape[-1], dtype=D64)
        same_forward_and_gradient(
            lambda q, k, v, W: multiplicative_attention(q, k, v, W)[0],
            lambda q, k, v, W: F.scaled_dot_product_attention(q @ W, k, v, scale=1.0),
            q, k, v, W,
        )  # fmt: skip
    else:
        k = k[..., :1].expand(*k.shape[:-1], q.shape[-1]).contiguous()  # dot score needs d_k = d_q
        same_forward_and_gradient(
            lambda *t: multiplicative_attention(*t)[0],
            lambda *t: F.scaled_dot_product_attention(*t, scale=1.0),
            q, k, v,
        )  # fmt: skip


@settings(max_examples=30)
@given(inputs=qkv())
def test_location_weights_are_softmax_of_the_query_alone(inputs):
    q, _, v = inputs
    W = torch.randn(v.shape[-2], q.shape[-1], dtype=D64)
    same_forward_and_gradient(
        lambda q, v, W: location_attention(q, v, W)[0],
        lambda q, v, W: torch.softmax(q @ W.T, -1) @ v,
        q, v, W,
    )  # fmt: skip
    a = location_attention(q, v, W)[1]
    assert is_distribution(a)
    assert torch.equal(location_attention(q, 10 * torch.randn_like(v), W)[1], a)  # content does not matter


@settings(max_examples=30)
@given(
    inputs=qkv(same_size=True),
    window=st.one_of(st.none(), st.integers(0, 6)),
    scale=st.one_of(st.none(), st.floats(0.1, 2.0)),
)
def test_local_is_sdpa_with_a_band_mask(inputs, window, scale):
    q, k, v = inputs
    T, S = q.shape[-2], k.shape[-2]
    band = None if window is None else (torch.arange(T)[:, None] - torch.arange(S)[None, :]).abs() <= window
    same_forward_and_gradient(
        lambda *t: local_attention(*t, window=window, scale=scale)[0],
        lambda *t: F.scaled_dot_product_attention(*t, attn_mask=band, scale=scale),
        q, k, v,
    )  # fmt: skip
    A = local_attention(q, k, v, window=window, scale=scale)[1]
    if window is not None:
        assert int((A > 0).sum(-1).max()) <= 2 * window + 1
        assert bool((A[..., ~band.any(-1), :] == 0).all())  # no key in the window: zero weights, not NaN


@settings(max_examples=15)
@given(T=st.integers(3, 6), window=st.integers(0, 1), d=size)
def test_local_query_with_no_key_in_its_window_gets_zero_output_as_in_torch(T, window, d):
    q, k = torch.randn(T, d, dtype=D64), torch.randn(1, d, dtype=D64)
    out, A = local_attention(q, k, k, window=window)
    band = torch.arange(T)[:, None] <= window  # (T, 1): only queries 0..w see key 0
    assert_close(out, F.scaled_dot_product_attention(q, k, k, attn_mask=band))
    assert (
        bool(torch.isfinite(out).all()) and bool((out[window + 1 :] == 0).all()) and bool((A[window + 1 :] == 0).all())
    )


@settings(max_examples=30)
@given(batch=batch_shapes, T=size, C=size, project=st.booleans(), causal=st.booleans())
def test_self_attention_is_sdpa_of_x_with_itself(batch, T, C, project, causal):
    x = torch.randn(*batch, T, C, dtype=D64)
    if project:
        W = torch.randn(3 * C, C, dtype=D64)
        same_forward_and_gradient(
            lambda x, W: self_attention(x, W, is_causal=causal),
            lambda x, W: F.scaled_dot_product_attention(*(x @ W.T).chunk(3, -1), is_causal=causal),
            x, W,
        )  # fmt: skip
    else:
        same_forward_and_gradient(
            lambda x: self_attention(x, is_causal=causal),
            lambda x: F.scaled_dot_product_attention(x, x, x, is_causal=causal),
            x,
        )  # fmt: skip
    assert self_attention(x).shape == x.shape


# --- invalid input -------------------------------------------------------------------------------


def _args(fn):
    """Valid arguments of ``fn``, by name."""
    q, k, v = torch.randn(2, 3, 4, dtype=D64), torch.randn(2, 5, 6, dtype=D64), torch.randn(2, 5, 2, dtype=D64)
    if fn is additive_attention:
        return {"query": q, "key": k, "value": v, "W_q": torch.randn(7, 4, dtype=D64),
                "W_k": torch.randn(7, 6, dtype=D64), "v": torch.randn(7, dtype=D64)}  # fmt: skip
    if fn is multiplicative_attention:
        return {"query": q, "key": k, "value": v, "weight": torch.randn(4, 6, dtype=D64)}
    if fn is location_attention:
        return {"query": q, "value": v, "weight": torch.randn(5, 4, dtype=D64)}
    if fn is local_attention:
        return {"query": q, "key": torch.randn(2, 5, 4, dtype=D64), "value": v}
    return {"x": q, "in_proj_weight": torch.randn(12, 4, dtype=D64)}


FUNCTIONS = [additive_attention, multiplicative_attention, location_attention, local_attention, self_attention]


@st.composite
def bad_tensor_argument(draw):
    """(fn, name, bad value): not a tensor, integer dtype, other float dtype, or a wrong shape."""
    fn = draw(st.sampled_from(FUNCTIONS))
    args = _args(fn)
    name = draw(st.sampled_from(sorted(args)))
    good = args[name]
    how = draw(st.sampled_from(["type", "int", "float32", "shape"]))
    if how == "type":
        bad = draw(not_a_tensor.filter(lambda t: t is not None))
    elif how == "int":
        bad = good.to(draw(st.sampled_from([torch.int64, torch.bool])))
    elif how == "float32":
        if name in ("query", "x"):  # then every other tensor is the odd one out; name the first
            name = next(n for n in args if n not in ("query", "x"))
            good = args[name]
        bad = good.float()
    else:
        shape = draw(st.lists(st.integers(1, 7), max_size=4).map(tuple).filter(lambda s: s != tuple(good.shape)))
        if name in ("query", "x") and len(shape) >= 2 and shape[:-2] in ((), (1,), (2,)):
            shape = (*shape[:-1], shape[-1] + 7)  # a query size nothing else matches
        bad = torch.randn(shape, dtype=D64)
        # a wrong query/x shape may be reported against the tensor it no longer matches
        names = {name} if name not in ("query", "x") else set(args)
        return fn, name, bad, names
    return fn, name, bad, {name}


@settings(max_examples=60)
@given(case=bad_tensor_argument())
def test_variants_reject_bad_tensors_naming_an_argument(case):
    fn, name, bad, names = case
    kwargs = {**_args(fn), name: bad}
    with pytest.raises((ValueError, TypeError)) as excinfo:
        fn(**kwargs)
    message = str(excinfo.value)
    assert any(re.search(rf"(?<![\w\[]){re.escape(n)}(?![\w])", message) for n in names), message


@given(fn=st.sampled_from([additive_attention, multiplicative_attention, local_attention]), bad_batch=st.integers(3, 5))
def test_variants_reject_batches_that_do_not_broadcast(fn, bad_batch):
    kwargs = _args(fn)
    kwargs["key"] = torch.randn(bad_batch, *kwargs["key"].shape[1:], dtype=D64)
    rejects("key", fn, **kwargs)
    loc = _args(location_attention)
    rejects("value", location_attention, loc["query"], torch.randn(bad_batch, 5, 2, dtype=D64), loc["weight"])


@given(
    case=st.one_of(
        st.tuples(st.just("window"), st.one_of(not_an_int, st.integers(max_value=-1))),
        st.tuples(st.just("scale"), st.one_of(st.booleans(), st.text(max_size=2), st.just(math.nan))),
    )
)
def test_local_rejects_bad_window_and_scale(case):
    name, bad = case
    rejects(name, local_attention, **_args(local_attention), **{name: bad})


@given(bad=not_a_bool)
def test_self_attention_rejects_non_bool_is_causal(bad):
    rejects("is_causal", self_attention, torch.randn(3, 4, dtype=D64), is_causal=bad)


@given(d_q=size, d_k=size)
def test_dot_score_needs_equal_query_and_key_sizes(d_q, d_k):
    q, k = torch.randn(3, d_q, dtype=D64), torch.randn(5, d_k, dtype=D64)
    if d_q != d_k:
        rejects("key", multiplicative_attention, q, k, k)
        rejects("key", local_attention, q, k, k)
