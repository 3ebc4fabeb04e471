"""nnfaq.attention and nnfaq.attention_variants against PyTorch (forward and gradient, float64) and their claims."""

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from nnfaq.attention import attention_mechanisms, multi_head_attention, scaled_dot_product_attention, softmax_saturation
from nnfaq.attention_variants import (
    additive_attention,
    local_attention,
    location_attention,
    multiplicative_attention,
    self_attention,
)


def randn(*shape, grad=False):
    return torch.randn(*shape, dtype=torch.float64, requires_grad=grad)


def twins(*tensors):
    """Two independent leaf copies of each tensor, for the ours and ref sides."""
    a = [t.detach().clone().requires_grad_() for t in tensors]
    b = [t.detach().clone().requires_grad_() for t in tensors]
    return a, b


def check_parity(ours, ref, a, b):
    assert_close(ours, ref)
    g = torch.randn_like(ref)
    ours.backward(g)
    ref.backward(g)
    for x, y in zip(a, b):
        assert_close(x.grad, y.grad)


# --- scaled dot-product attention ----------------------------------------------------------------


def _mask(kind, L, S):
    keep = torch.rand(L, S) > 0.3
    keep[:, 0] = True  # no fully masked row in the float version (-inf rows give NaN gradients in torch)
    if kind == "bool":
        return keep
    if kind == "float":
        return torch.randn(L, S, dtype=torch.float64)
    if kind == "float-inf":
        return torch.zeros(L, S, dtype=torch.float64).masked_fill(~keep, float("-inf"))
    return None


@pytest.mark.parametrize(("batch", "L", "S", "E", "Ev"), [((), 3, 3, 4, 4), ((2,), 5, 7, 8, 3), ((2, 3), 4, 6, 16, 5)])
@pytest.mark.parametrize("mask", [None, "bool", "float", "float-inf", "causal"])
@pytest.mark.parametrize("scale", [None, 0.3])
def test_sdpa_matches_torch_forward_and_gradient(batch, L, S, E, Ev, mask, scale):
    q, k, v = randn(*batch, L, E), randn(*batch, S, E), randn(*batch, S, Ev)
    m = _mask(mask, L, S)
    causal = mask == "causal"
    a, b = twins(q, k, v)
    ours = scaled_dot_product_attention(*a, attn_mask=m, is_causal=causal, scale=scale)
    ref = F.scaled_dot_product_attention(*b, attn_mask=m, is_causal=causal, scale=scale)
    check_parity(ours, ref, a, b)


def test_sdpa_dropout_matches_torch_with_same_seed():
    q, k, v = randn(2, 4, 5, 8), randn(2, 4, 6, 8), randn(2, 4, 6, 3)
    torch.manual_seed(3)
    ours = scaled_dot_product_attention(q, k, v, dropout_p=0.4)
    torch.manual_seed(3)
    ref = F.scaled_dot_product_attention(q, k, v, dropout_p=0.4)
    assert_close(ours, ref)


def test_sdpa_grouped_query_attention_matches_torch():
    q, k, v = randn(2, 8, 5, 4), randn(2, 2, 6, 4), randn(2, 2, 6, 4)
    a, b = twins(q, k, v)
    check_parity(
        scaled_dot_product_attention(*a, enable_gqa=True), F.scaled_dot_product_attention(*b, enable_gqa=True), a, b
    )


def test_sdpa_weights_are_a_distribution_and_fully_masked_rows_are_zero():
    q, k, v = randn(3, 4, 8), randn(3, 6, 8), randn(3, 6, 2)
    out, A = scaled_dot_product_attention(q, k, v, return_weights=True)
    assert bool((A >= 0).all())
    assert_close(A.sum(-1), torch.ones(3, 4, dtype=torch.float64))
    assert_close(out, A @ v)
    keep = torch.ones(4, 6, dtype=torch.bool)
    keep[2] = False
    qa = q.clone().requires_grad_()
    out, A = scaled_dot_product_attention(qa, k, v, keep, return_weights=True)
    assert_close(out, F.scaled_dot_product_attention(q, k, v, keep))
    assert bool((A[:, 2] == 0).all()) and bool((out[:, 2] == 0).all())
    out.sum().backward()
    assert bool(torch.isfinite(qa.grad).all())


def test_causal_first_output_is_first_value_and_future_is_ignored():
    q, k, v = randn(2, 5, 4), randn(2, 5, 4), randn(2, 5, 3)
    out, A = scaled_dot_product_attention(q, k, v, is_causal=True, return_weights=True)
    assert_close(out[:, 0], v[:, 0])
    assert bool((A.triu(1) == 0).all())


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((randn(2, 3, 4), randn(2, 5, 6), randn(2, 5, 6)), {}, "key must have the query's last dimension 4"),
        ((randn(2, 3, 4), randn(2, 5, 4), randn(2, 6, 4)), {}, "value must have as many rows as key"),
        ((randn(3, 4), randn(5, 4), randn(5, 4)), {"attn_mask": torch.ones(4, 5, dtype=torch.bool)}, "attn_mask must"),
        ((randn(3, 4), randn(5, 4), randn(5, 4)), {"attn_mask": torch.ones(3, 5, dtype=torch.bool), "is_causal": True},
         "attn_mask must be None when is_causal"),
        ((randn(3, 4), randn(5, 4), randn(5, 4)), {"dropout_p": 1.0}, "dropout_p must be in"),
        ((randn(4,), randn(5, 4), randn(5, 4)), {}, "query must have at least 2 dimensions"),
        ((randn(1, 3, 3, 4), randn(1, 2, 5, 4), randn(1, 2, 5, 4)), {"enable_gqa": True}, "key must have a number of"),
    ],
)  # fmt: skip
def test_sdpa_rejects_bad_arguments(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        scaled_dot_product_attention(*args, **kwargs)


def test_sdpa_rejects_bad_types():
    with pytest.raises(TypeError, match="query must be a torch.Tensor"):
        scaled_dot_product_attention([[1.0]], randn(2, 2), randn(2, 2))
    with pytest.raises(TypeError, match="return_weights must be True or False"):
        scaled_dot_product_attention(randn(2, 2), randn(2, 2), randn(2, 2), return_weights=1)


# --- why scale -----------------------------------------------------------------------------------


def test_score_variance_is_d_k_unscaled_and_one_scaled():
    for d_k in (16, 64, 256):
        assert softmax_saturation(d_k, scaled=False, n=2048)["score_var"] / d_k == pytest.approx(1, rel=0.1)
        assert softmax_saturation(d_k, n=2048)["score_var"] == pytest.approx(1, rel=0.1)


def test_unscaled_softmax_saturates_and_its_gradient_shrinks_with_d_k():
    dims = (4, 16, 64, 256, 1024)
    unscaled = [softmax_saturation(d, scaled=False) for d in dims]
    scaled = [softmax_saturation(d) for d in dims]
    peaks = [r["max_weight"] for r in unscaled]
    norms = [r["jacobian_norm"] for r in unscaled]
    assert peaks == sorted(peaks) and peaks[-1] > 0.9
    assert norms == sorted(norms, reverse=True) and norms[-1] < norms[0] / 4
    assert max(r["jacobian_norm"] for r in scaled) - min(r["jacobian_norm"] for r in scaled) < 0.05


def test_softmax_jacobian_formula_matches_autograd():
    s = randn(2, 7)
    a = torch.softmax(s, -1)
    J = torch.autograd.functional.jacobian(lambda x: torch.softmax(x, -1), s)  # (2, 7, 2, 7)
    for i in range(2):
        assert_close(J[i, :, i], torch.diag(a[i]) - torch.outer(a[i], a[i]))


def test_softmax_saturation_rejects_bad_arguments():
    with pytest.raises(ValueError, match="d_k must be >= 1"):
        softmax_saturation(0)
    with pytest.raises(ValueError, match="T must be >= 2"):
        softmax_saturation(8, T=1)


# --- multi-head attention ------------------------------------------------------------------------


@pytest.mark.parametrize(("d", "H"), [(8, 1), (8, 2), (12, 3), (16, 8)])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("masks", [(), ("pad",), ("pad", "bool"), ("float",), ("bool3",)])
@pytest.mark.parametrize("bias", [True, False])
def test_mha_matches_torch_module(d, H, batch_first, masks, bias):
    B, L, S = 2, 4, 6
    mha = torch.nn.MultiheadAttention(d, H, bias=bias, batch_first=batch_first, dtype=torch.float64)
    shape_q, shape_k = ((B, L, d), (B, S, d)) if batch_first else ((L, B, d), (S, B, d))
    q, k, v = randn(*shape_q), randn(*shape_k), randn(*shape_k)
    kw = {}
    if "pad" in masks:
        kw["key_padding_mask"] = torch.tensor([[False] * S, [False] * 3 + [True] * 3])
    if "bool" in masks:
        kw["attn_mask"] = torch.ones(L, S, dtype=torch.bool).triu(2)  # True = not allowed
    if "float" in masks:
        kw["attn_mask"] = randn(L, S)
    if "bool3" in masks:
        kw["attn_mask"] = torch.rand(B * H, L, S) > 0.7
        kw["attn_mask"][..., 0] = False
    a, b = twins(q, k, v)
    ours, A = multi_head_attention(
        *a, H, mha.in_proj_weight, mha.in_proj_bias, mha.out_proj.weight, mha.out_proj.bias,
        batch_first=batch_first, **kw,
    )  # fmt: skip
    ref, A_ref = mha(*b, **kw)
    assert_close(A, A_ref)
    check_parity(ours, ref, a, b)
    _, A_heads = multi_head_attention(
        q, k, v, H, mha.in_proj_weight, mha.in_proj_bias, mha.out_proj.weight, mha.out_proj.bias,
        batch_first=batch_first, average_attn_weights=False, **kw,
    )  # fmt: skip
    assert_close(A_heads, mha(q, k, v, average_attn_weights=False, **kw)[1])


def test_mha_weight_gradients_match_torch():
    mha = torch.nn.MultiheadAttention(8, 2, dtype=torch.float64)
    x = randn(5, 3, 8)
    params = [mha.in_proj_weight, mha.in_proj_bias, mha.out_proj.weight, mha.out_proj.bias]
    ours = multi_head_attention(x, x, x, 2, *params)[0]
    g = torch.randn_like(ours)
    ours_grads = torch.autograd.grad(ours, params, g)
    ref_grads = torch.autograd.grad(mha(x, x, x)[0], params, g)
    for o, r in zip(ours_grads, ref_grads):
        assert_close(o, r)


@pytest.mark.parametrize("d", [8, 32, 64])
def test_mha_parameter_count_is_the_same_for_every_number_of_heads(d):
    counts = {sum(p.numel() for p in torch.nn.MultiheadAttention(d, h).parameters()) for h in (1, 2, 4, 8)}
    assert counts == {4 * d * d + 4 * d}
    assert attention_mechanisms(d_model=d)["multi_head"]["params"] == 4 * d * d + 4 * d


def test_mha_heads_change_the_function():
    mha = torch.nn.MultiheadAttention(8, 4, dtype=torch.float64)
    x = randn(5, 2, 8)
    w = mha.in_proj_weight, mha.in_proj_bias, mha.out_proj.weight, mha.out_proj.bias
    assert not torch.allclose(multi_head_attention(x, x, x, 1, *w)[0], multi_head_attention(x, x, x, 4, *w)[0])


def test_mha_rejects_bad_arguments():
    d = 8
    w = randn(3 * d, d), randn(3 * d), randn(d, d), randn(d)
    x = randn(4, 2, d)
    with pytest.raises(ValueError, match="num_heads must divide the embedding dimension 8"):
        multi_head_attention(x, x, x, 3, *w)
    with pytest.raises(ValueError, match="key and value must both have"):
        multi_head_attention(x, randn(4, 2, 6), x, 2, *w)
    with pytest.raises(ValueError, match=r"in_proj_weight must have shape \(24, 8\)"):
        multi_head_attention(x, x, x, 2, randn(8, 8), *w[1:])
    with pytest.raises(ValueError, match=r"key_padding_mask must have shape \(2, 4\)"):
        multi_head_attention(x, x, x, 2, *w, key_padding_mask=torch.zeros(4, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match="attn_mask must have shape"):
        multi_head_attention(x, x, x, 2, *w, attn_mask=torch.zeros(3, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="query must have 3 dimensions"):
        multi_head_attention(randn(4, d), x, x, 2, *w)


# --- the comparison table ------------------------------------------------------------------------


def test_table_parameter_counts_are_the_implementations():
    d, T = 16, 10
    table = attention_mechanisms(d_model=d, T=T)
    additive = [randn(d, d), randn(d, d), randn(d)]  # W_q, W_k, v with d_a = d
    assert table["additive"]["params"] == sum(t.numel() for t in additive)
    assert table["multiplicative"]["params"] == randn(d, d).numel()
    assert table["location"]["params"] == randn(T, d).numel()
    for name in ("dot", "scaled_dot", "local"):
        assert table[name]["params"] == 0


@pytest.mark.parametrize(("T", "w"), [(10, 0), (10, 2), (32, 5), (7, 10)])
def test_table_score_counts_are_the_nonzero_weights(T, w):
    table = attention_mechanisms(d_model=4, T=T, window=w)
    q = randn(T, 4)
    assert int((local_attention(q, q, q, window=w)[1] > 0).sum()) == table["local"]["scores"]
    assert int((local_attention(q, q, q)[1] > 0).sum()) == table["scaled_dot"]["scores"] == T * T


def test_table_global_cost_is_quadratic_local_is_linear():
    small, big = attention_mechanisms(T=100, window=4), attention_mechanisms(T=1000, window=4)
    for name in ("dot", "scaled_dot", "multiplicative", "additive", "multi_head"):
        assert big[name]["scores"] == 100 * small[name]["scores"]
    assert big["local"]["scores"] / small["local"]["scores"] == pytest.approx(10, rel=0.03)


def test_table_query_key_sizes_match_what_the_functions_accept():
    table = attention_mechanisms()
    q, k, v = randn(3, 6), randn(5, 9), randn(5, 2)
    assert table["additive"]["qk_sizes_may_differ"]
    additive_attention(q, k, v, randn(4, 6), randn(4, 9), randn(4))
    assert table["multiplicative"]["qk_sizes_may_differ"]
    multiplicative_attention(q, k, v, randn(6, 9))
    for name, fn in (("dot", multiplicative_attention), ("scaled_dot", scaled_dot_product_attention),
                     ("local", local_attention)):  # fmt: skip
        assert table[name]["qk_sizes_may_differ"] is False
        with pytest.raises(ValueError, match="key must have the query's"):
            fn(q, k, v)
    assert table["location"]["qk_sizes_may_differ"] is None
    assert all(row["advantage"] and row["disadvantage"] for row in table.values())


def test_table_rejects_bad_arguments():
    with pytest.raises(ValueError, match="d_model must be >= 1"):
        attention_mechanisms(d_model=0)
    with pytest.raises(TypeError, match="window must be an int"):
        attention_mechanisms(window=1.5)


# --- classic variants ----------------------------------------------------------------------------


def test_additive_matches_the_per_pair_formula_and_backpropagates():
    q, k, v = randn(2, 3, 6), randn(2, 5, 4), randn(2, 5, 7)
    W_q, W_k, w = randn(8, 6), randn(8, 4), randn(8)
    c, a = additive_attention(q, k, v, W_q, W_k, w)
    e = torch.empty(2, 3, 5, dtype=torch.float64)
    for b in range(2):
        for i in range(3):
            for j in range(5):
                e[b, i, j] = w @ torch.tanh(W_q @ q[b, i] + W_k @ k[b, j])
    ref = torch.softmax(e, -1)
    assert_close(a, ref)
    assert_close(c, ref @ v)
    params = [t.clone().requires_grad_() for t in (W_q, W_k, w)]
    assert torch.autograd.gradcheck(lambda *p: additive_attention(q[0], k[0], v[0], *p)[0], params)


def test_multiplicative_is_sdpa_on_projected_queries():
    q, k, v = randn(2, 4, 6), randn(2, 5, 9), randn(2, 5, 3)
    W = randn(6, 9)
    a, b = twins(q, k, v)
    ours = multiplicative_attention(*a, W)[0]
    ref = F.scaled_dot_product_attention(b[0] @ W, b[1], b[2], scale=1.0)
    check_parity(ours, ref, a, b)


def test_location_weights_ignore_the_source_content():
    h, W = randn(2, 3, 8), randn(5, 8)
    _, a = location_attention(h, randn(2, 5, 4), W)
    assert_close(a, torch.softmax(h @ W.T, -1))
    assert torch.equal(location_attention(h, randn(2, 5, 4) * 100, W)[1], a)
    with pytest.raises(ValueError, match="value must have 5 positions"):
        location_attention(h, randn(2, 6, 4), W)


@pytest.mark.parametrize("window", [0, 1, 3, 20])
def test_local_attention_is_sdpa_with_a_band_mask(window):
    q, k, v = randn(2, 9, 4), randn(2, 9, 4), randn(2, 9, 3)
    i = torch.arange(9)
    band = (i[:, None] - i[None, :]).abs() <= window
    a, b = twins(q, k, v)
    ours, A = local_attention(*a, window=window)
    check_parity(ours, F.scaled_dot_product_attention(*b, attn_mask=band), a, b)
    assert bool((A[..., ~band] == 0).all())
    assert int((A[0] > 0).sum(-1).max()) == min(2 * window + 1, 9)


def test_self_attention_matches_torch_and_causal_ignores_the_future():
    x, W = randn(2, 6, 8), randn(24, 8)
    a, b = twins(x, W)
    ours = self_attention(a[0], a[1], is_causal=True)
    q, k, v = (b[0] @ b[1].T).chunk(3, -1)
    check_parity(ours, F.scaled_dot_product_attention(q, k, v, is_causal=True), a, b)
    y = x.clone()
    y[:, 3:] = randn(2, 3, 8)
    assert_close(self_attention(x, W, True)[:, :3], self_attention(y, W, True)[:, :3])


@pytest.mark.parametrize(
    ("fn", "args", "match"),
    [
        (additive_attention, (randn(3, 6), randn(5, 4), randn(5, 2), randn(8, 5), randn(8, 4), randn(8)), "W_q must"),
        (additive_attention, (randn(3, 6), randn(5, 4), randn(6, 2), randn(8, 6), randn(8, 4), randn(8)), "value must"),
        (multiplicative_attention, (randn(3, 6), randn(5, 4), randn(5, 2), randn(4, 6)), r"weight must have shape"),
        (location_attention, (randn(3, 6), randn(5, 2), randn(5, 7)), "weight must have 6 columns"),
        (local_attention, (randn(3, 6), randn(5, 6), randn(5, 2), -1), "window must be >= 0"),
        (self_attention, (randn(3, 6), randn(6, 6)), r"in_proj_weight must have shape \(18, 6\)"),
    ],
)
def test_variants_reject_bad_arguments(fn, args, match):
    with pytest.raises(ValueError, match=match):
        fn(*args)
