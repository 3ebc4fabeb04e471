"""nnfaq.sequences.attention: parity with PyTorch (forward and gradient, float64, on PyTorch's own OpInfo samples and on
hypothesis-drawn cases), the claims of its answers, and the refusals only it makes (the shared ones are rows of
tests/sequences/contract.py)."""

import math

import pytest
import torch
import torch.nn.functional as F
from helpers import agree as _agree
from helpers import batch_shapes, gen, opinfo_samples, rejects
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.testing import assert_close

from nnfaq.sequences.attention import multi_head_attention, scaled_dot_product_attention, softmax_saturation

F64 = torch.float64
size = st.integers(1, 5)


def randn(*shape):
    return torch.randn(*shape, dtype=F64)


def agree(ours_fn, ref_fn, *args, seed=0, **kwargs):
    """:func:`helpers.agree` with torch seeded before each side, so that dropout drops the same weights."""
    _agree(ours_fn, ref_fn, *args, seed=seed, reseed=True, **kwargs)


@st.composite
def sdpa_inputs(draw):
    batch = draw(batch_shapes)
    kv_batch = tuple(draw(st.sampled_from([b, 1])) for b in batch)  # key and value batch dimensions broadcast
    L, S, E, Ev = draw(size), draw(size), draw(size), draw(size)
    g = gen(draw(st.integers(0, 2**31 - 1)))
    q, k, v = (
        torch.randn(*shape, generator=g, dtype=F64) for shape in ((*batch, L, E), (*kv_batch, S, E), (*kv_batch, S, Ev))
    )
    mask_kind = draw(st.sampled_from(["none", "bool", "float", "causal"]))
    mask_shape = draw(st.sampled_from([(L, S), (*batch, L, S)]))
    mask = {"bool": torch.rand(mask_shape, generator=g) > 0.3, "float": torch.randn(mask_shape, generator=g, dtype=F64)}
    scale = draw(st.none() | st.floats(0.1, 2.0))
    return q, k, v, mask.get(mask_kind), mask_kind == "causal", scale


# --- parity ----------------------------------------------------------------------------------------


def test_sdpa_matches_torch_on_its_opinfo_samples():
    for i, s in enumerate(opinfo_samples("nn.functional.scaled_dot_product_attention")):
        agree(scaled_dot_product_attention, F.scaled_dot_product_attention, s.input, *s.args, seed=i, **s.kwargs)


@settings(max_examples=15)
@given(sdpa_inputs())
def test_sdpa_matches_torch(inputs):
    q, k, v, mask, causal, scale = inputs
    agree(scaled_dot_product_attention, F.scaled_dot_product_attention, q, k, v, mask, is_causal=causal, scale=scale)


@settings(max_examples=10)
@given(
    Hk=st.integers(1, 3), g=st.integers(1, 3), L=size, S=size, p=st.sampled_from([0.0, 0.3]), seed=st.integers(0, 99)
)
def test_sdpa_grouped_query_attention_and_dropout_match_torch(Hk, g, L, S, p, seed):
    q, k, v = randn(2, Hk * g, L, 4), randn(2, Hk, S, 4), randn(2, Hk, S, 3)
    agree(
        scaled_dot_product_attention, F.scaled_dot_product_attention, q, k, v, seed=seed, dropout_p=p, enable_gqa=True
    )


@st.composite
def mha_setups(draw):
    H, D, B, L, S = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(size), draw(size)
    kind = draw(st.sampled_from(["bool", "float"]))  # PyTorch deprecates mixing the two mask types
    return (H, H * D, B, L, S, draw(st.booleans()), draw(st.booleans()), draw(st.sampled_from(["none", kind])),
            draw(st.sampled_from(["none", kind, kind + "3"])), draw(st.booleans()))  # fmt: skip


@settings(max_examples=12)
@given(mha_setups())
def test_mha_matches_the_torch_module_forward_and_gradient(setup):
    H, d, B, L, S, batch_first, bias, kpm_kind, am_kind, average = setup
    mha = torch.nn.MultiheadAttention(d, H, bias=bias, batch_first=batch_first, dtype=F64)
    layout = (lambda T: (B, T, d)) if batch_first else (lambda T: (T, B, d))
    x, y = randn(*layout(L)), randn(*layout(S))
    kw = {"average_attn_weights": average}
    if kpm_kind == "bool":  # key 0 is never masked, so no row is fully masked
        kw["key_padding_mask"] = (torch.rand(B, S) > 0.5).index_fill(1, torch.tensor([0]), False)
    elif kpm_kind == "float":
        kw["key_padding_mask"] = randn(B, S)
    shape = (L, S) if am_kind in ("bool", "float") else (B * H, L, S)
    if am_kind.startswith("bool"):
        kw["attn_mask"] = (torch.rand(shape) > 0.5).index_fill(-1, torch.tensor([0]), False)
    elif am_kind.startswith("float"):
        kw["attn_mask"] = randn(*shape)
    weights = [mha.in_proj_weight, mha.in_proj_bias, mha.out_proj.weight, mha.out_proj.bias]
    out, A = multi_head_attention(x, y, y, H, *weights, batch_first=batch_first, **kw)
    ref, A_ref = mha(x, y, y, **kw)
    assert_close(out, ref)
    assert_close(A, A_ref)
    g = torch.randn_like(ref)
    present = [w for w in weights if w is not None]
    for o, r in zip(torch.autograd.grad(out, present, g), torch.autograd.grad(ref, present, g)):
        assert_close(o, r)
    agree(lambda a, b: multi_head_attention(a, b, b, H, *weights, batch_first=batch_first, **kw)[0],
          lambda a, b: mha(a, b, b, **kw)[0], x, y)  # fmt: skip


# --- claims ----------------------------------------------------------------------------------------


@settings(max_examples=12)
@given(sdpa_inputs())
def test_weights_are_a_distribution_over_the_allowed_keys_and_a_fully_masked_row_is_zero(inputs):
    q, k, v, mask, causal, scale = inputs
    out, A = scaled_dot_product_attention(q, k, v, mask, is_causal=causal, scale=scale, return_weights=True)
    sums = A.sum(-1)
    assert bool((A >= 0).all()) and bool(((sums - 1).abs() < 1e-9).logical_or(sums == 0).all())
    assert_close(out, A @ v)
    if mask is not None and mask.dtype == torch.bool:
        assert bool((A.masked_select(~mask.expand_as(A)) == 0).all())


def test_a_fully_masked_query_gets_zero_output_and_a_finite_gradient():
    q, k, v = randn(3, 4, 8).requires_grad_(), randn(3, 6, 8), randn(3, 6, 2)
    keep = torch.ones(4, 6, dtype=torch.bool)
    keep[2] = False
    out, A = scaled_dot_product_attention(q, k, v, keep, return_weights=True)
    assert_close(out, F.scaled_dot_product_attention(q, k, v, keep))
    assert bool((A[:, 2] == 0).all()) and bool((out[:, 2] == 0).all())
    out.sum().backward()
    assert bool(torch.isfinite(q.grad).all())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_causal_first_output_is_the_first_value_and_the_future_is_ignored(seed):
    torch.manual_seed(seed)
    q, k, v = randn(2, 5, 4), randn(2, 5, 4), randn(2, 5, 3)
    out, A = scaled_dot_product_attention(q, k, v, is_causal=True, return_weights=True)
    assert_close(out[:, 0], v[:, 0])
    assert bool((A.triu(1) == 0).all())


@pytest.mark.parametrize("seed", [5, 23])  # the extremes of 100 seeds (the docstring runs seed 0)
def test_score_variance_is_d_k_unscaled_one_scaled_and_unscaled_softmax_saturates(seed):
    for d_k in (64, 256):
        assert math.isclose(softmax_saturation(d_k, scaled=False, seed=seed)["score_var"] / d_k, 1, rel_tol=0.1)
        assert math.isclose(softmax_saturation(d_k, seed=seed)["score_var"], 1, rel_tol=0.1)
    unscaled = [softmax_saturation(d, scaled=False, seed=seed) for d in (4, 64, 1024)]
    scaled = [softmax_saturation(d, seed=seed) for d in (4, 64, 1024)]
    peaks, norms = [r["max_weight"] for r in unscaled], [r["jacobian_norm"] for r in unscaled]
    assert peaks == sorted(peaks) and peaks[-1] > 0.9
    assert norms == sorted(norms, reverse=True) and norms[-1] < norms[0] / 3
    assert max(r["jacobian_norm"] for r in scaled) - min(r["jacobian_norm"] for r in scaled) < 0.05
    assert max(r["max_weight"] for r in scaled) - min(r["max_weight"] for r in scaled) < 0.1


@settings(max_examples=10)
@given(d_k=st.integers(1, 64), T=st.integers(2, 16), n=st.integers(1, 32), seed=st.integers(-(2**63), 2**64 - 1))
def test_softmax_saturation_is_reproducible_and_scaling_divides_the_variance_by_d_k(d_k, T, n, seed):
    scaled, raw = softmax_saturation(d_k, True, T, n, seed), softmax_saturation(d_k, False, T, n, seed)
    assert math.isclose(raw["score_var"], d_k * scaled["score_var"], rel_tol=1e-9)  # the same draws, times sqrt(d_k)
    for r in (scaled, raw):
        assert 1 / T - 1e-12 <= r["max_weight"] <= 1 and 0 <= r["jacobian_norm"] <= 1
    assert softmax_saturation(d_k, True, T, n, seed) == scaled


def test_softmax_jacobian_formula_is_autograds():
    s = randn(2, 7)
    a = torch.softmax(s, -1)
    J = torch.autograd.functional.jacobian(lambda x: torch.softmax(x, -1), s)  # (2, 7, 2, 7)
    for i in range(2):
        assert_close(J[i, :, i], torch.diag(a[i]) - torch.outer(a[i], a[i]))


@pytest.mark.parametrize("d", [8, 64])
def test_mha_has_4d2_plus_4d_parameters_for_any_number_of_heads_and_heads_change_the_function(d):
    counts = {sum(p.numel() for p in torch.nn.MultiheadAttention(d, h).parameters()) for h in (1, 2, 4, 8)}
    assert counts == {4 * d * d + 4 * d}
    mha = torch.nn.MultiheadAttention(d, 4, dtype=F64)
    x = randn(5, 2, d)
    w = mha.in_proj_weight, mha.in_proj_bias, mha.out_proj.weight, mha.out_proj.bias
    one, four = (multi_head_attention(x, x, x, h, *w, average_attn_weights=False) for h in (1, 4))
    assert not torch.allclose(one[0], four[0])
    assert one[1].shape == (2, 1, 5, 5) and four[1].shape == (2, 4, 5, 5)  # H maps of weights


# --- bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "kwargs", "name"),
    [
        ((randn(2, 3, 4), randn(2, 5, 6), randn(2, 5, 6)), {}, "key"),
        ((randn(2, 3, 4), randn(2, 5, 4), randn(2, 6, 4)), {}, "value"),
        ((randn(2, 3, 4), randn(3, 5, 4), randn(3, 5, 4)), {}, "key"),  # batch 3 does not broadcast with 2
        ((randn(2, 3, 4), randn(2, 5, 4).float(), randn(2, 5, 4)), {}, "key"),
        ((randn(3, 4), randn(5, 4), randn(5, 4)), {"attn_mask": torch.ones(4, 5, dtype=torch.bool)}, "attn_mask"),
        ((randn(3, 4), randn(5, 4), randn(5, 4)), {"attn_mask": torch.ones(3, 5, dtype=torch.int64)}, "attn_mask"),
        ((randn(3, 4), randn(3, 4), randn(3, 4)), {"attn_mask": torch.ones(3, 3, dtype=torch.bool), "is_causal": True},
         "attn_mask"),
        ((randn(4), randn(5, 4), randn(5, 4)), {}, "query"),
        ((randn(1, 3, 3, 4), randn(1, 2, 5, 4), randn(1, 2, 5, 4)), {"enable_gqa": True}, "key"),
        ((randn(1, 4, 3, 4), randn(1, 2, 5, 4), randn(1, 1, 5, 4)), {"enable_gqa": True}, "value"),
    ],
)  # fmt: skip
def test_sdpa_refuses_tensors_that_do_not_fit_together(args, kwargs, name):
    rejects(name, scaled_dot_product_attention, *args, **kwargs)


@pytest.mark.parametrize(
    ("change", "name"),
    [
        ({"num_heads": 3}, "num_heads"),
        ({"key": randn(4, 2, 6)}, "key"),
        ({"in_proj_weight": randn(8, 8)}, "in_proj_weight"),
        ({"out_proj_bias": randn(5)}, "out_proj_bias"),
        ({"key_padding_mask": torch.zeros(4, 2, dtype=torch.bool)}, "key_padding_mask"),
        ({"attn_mask": torch.zeros(3, 4, dtype=torch.bool)}, "attn_mask"),
        ({"query": randn(4, 8)}, "query"),
    ],
)
def test_mha_refuses_shapes_that_do_not_fit_together(change, name):
    x = randn(4, 2, 8)
    call = {"query": x, "key": x, "value": x, "num_heads": 2, "in_proj_weight": randn(24, 8), "in_proj_bias": randn(24),
            "out_proj_weight": randn(8, 8), "out_proj_bias": randn(8), **change}  # fmt: skip
    rejects(name, multi_head_attention, **call)


def test_softmax_saturation_refuses_a_seed_a_generator_cannot_take():
    rejects("seed", softmax_saturation, 4, seed=2**64)
