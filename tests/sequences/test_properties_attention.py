"""Property-based tests for nnfaq.attention: random valid input agrees with PyTorch (or the stated invariant),
random invalid input raises ValueError/TypeError naming the argument (issue 10)."""

import math

import torch
import torch.nn.functional as F
from helpers import batch_shapes, leaves, not_a_bool, not_a_tensor, not_an_int, rejects
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.testing import assert_close

from nnfaq.attention import attention_mechanisms, multi_head_attention, scaled_dot_product_attention, softmax_saturation

D64 = torch.float64
size = st.integers(1, 5)
int_dtypes = st.sampled_from([torch.int64, torch.int32, torch.bool])


# --- attention_mechanisms ------------------------------------------------------------------------


@settings(max_examples=25)
@given(d=st.integers(1, 32), T=st.integers(1, 40), window=st.integers(0, 50))
def test_table_counts_follow_from_the_sizes(d, T, window):
    table = attention_mechanisms(d_model=d, T=T, window=window)
    assert set(table) == {"dot", "scaled_dot", "multiplicative", "additive", "location", "local", "multi_head"}
    i = torch.arange(T)
    band = int(((i[:, None] - i[None, :]).abs() <= window).sum())
    assert table["local"]["scores"] == band <= table["dot"]["scores"] == T * T
    assert table["multi_head"]["params"] == sum(p.numel() for p in torch.nn.MultiheadAttention(d, 1).parameters())
    assert table["multiplicative"]["params"] == d * d and table["additive"]["params"] == 2 * d * d + d
    assert all(isinstance(row["params"], int) and row["params"] >= 0 for row in table.values())


@given(name=st.sampled_from(["d_model", "T", "window"]), bad=st.one_of(not_an_int, st.integers(-5, -1)))
def test_table_rejects_bad_sizes(name, bad):
    rejects(name, attention_mechanisms, **{name: bad})


@given(name=st.sampled_from(["d_model", "T"]))
def test_table_rejects_zero_sizes(name):
    rejects(name, attention_mechanisms, **{name: 0})


# --- scaled_dot_product_attention ----------------------------------------------------------------


@st.composite
def sdpa_inputs(draw):
    batch = draw(batch_shapes)
    kv_batch = tuple(draw(st.sampled_from([b, 1])) for b in batch)  # key/value batch dims broadcast
    L, S, E, Ev = draw(size), draw(size), draw(size), draw(size)
    q = torch.randn(*batch, L, E, dtype=D64)
    k = torch.randn(*kv_batch, S, E, dtype=D64)
    v = torch.randn(*kv_batch, S, Ev, dtype=D64)
    mask_kind = draw(st.sampled_from(["none", "bool", "float", "causal"]))
    mask_shape = draw(st.sampled_from([(L, S), (*batch, L, S)]))
    mask = {"bool": torch.rand(mask_shape) > 0.3, "float": torch.randn(mask_shape, dtype=D64)}.get(mask_kind)
    scale = draw(st.one_of(st.none(), st.floats(0.1, 2.0)))
    return q, k, v, mask, mask_kind == "causal", scale


@settings(max_examples=40)
@given(inputs=sdpa_inputs())
def test_sdpa_matches_torch_forward_and_gradient(inputs):
    q, k, v, mask, causal, scale = inputs
    ours_in, ref_in = leaves(q, k, v), leaves(q, k, v)
    ours, A = scaled_dot_product_attention(*ours_in, mask, is_causal=causal, scale=scale, return_weights=True)
    ref = F.scaled_dot_product_attention(*ref_in, attn_mask=mask, is_causal=causal, scale=scale)
    assert_close(ours, ref)
    g = torch.randn_like(ref)
    ours.backward(g)
    ref.backward(g)
    for a, b in zip(ours_in, ref_in):
        assert_close(a.grad, b.grad)
    # weights: non-negative rows summing to 1, or all 0 when every key of the row is masked
    sums = A.detach().sum(-1)
    assert bool((A >= 0).all()) and bool(((sums - 1).abs() < 1e-9).logical_or(sums == 0).all())


@settings(max_examples=25)
@given(
    Hk=st.integers(1, 3), g=st.integers(1, 3), L=size, S=size, E=size, p=st.floats(0.0, 0.9), seed=st.integers(0, 99)
)
def test_sdpa_grouped_query_attention_and_dropout_match_torch(Hk, g, L, S, E, p, seed):
    q, k, v = torch.randn(2, Hk * g, L, E, dtype=D64), torch.randn(2, Hk, S, E, dtype=D64), torch.randn(2, Hk, S, 3)
    v = v.double()
    torch.manual_seed(seed)
    ours = scaled_dot_product_attention(q, k, v, dropout_p=p, enable_gqa=True)
    torch.manual_seed(seed)
    ref = F.scaled_dot_product_attention(q, k, v, dropout_p=p, enable_gqa=True)
    assert_close(ours, ref)


def _sdpa_args():
    return [torch.randn(2, 3, 4, dtype=D64), torch.randn(2, 5, 4, dtype=D64), torch.randn(2, 5, 6, dtype=D64)]


@given(i=st.integers(0, 2), bad=st.one_of(not_a_tensor, int_dtypes, st.integers(0, 1)))
def test_sdpa_rejects_bad_query_key_value(i, bad):
    """Not a tensor, an integer tensor, or a tensor of rank < 2."""
    args = _sdpa_args()
    if isinstance(bad, torch.dtype):
        bad = args[i].to(bad)
    elif isinstance(bad, int) and not isinstance(bad, bool) and bad in (0, 1):
        bad = torch.randn((4,) * bad, dtype=D64)
    args[i] = bad
    rejects(["query", "key", "value"][i], scaled_dot_product_attention, *args)


@given(
    case=st.sampled_from(
        [
            ("key", lambda a: a[1][..., :3]),  # last dim differs from the query's
            ("value", lambda a: a[2][:, :4]),  # rows differ from the key's
            ("key", lambda a: a[1].float()),  # dtype differs from the query's
            ("value", lambda a: a[2].float()),
            ("key", lambda a: torch.randn(3, 5, 4, dtype=D64)),  # batch 3 does not broadcast with 2
            ("value", lambda a: torch.randn(3, 5, 6, dtype=D64)),
        ]
    )
)
def test_sdpa_rejects_mismatched_tensors(case):
    name, make = case
    args = _sdpa_args()
    args[["query", "key", "value"].index(name)] = make(args)
    rejects(name, scaled_dot_product_attention, *args)


@given(
    case=st.one_of(
        st.tuples(st.just("dropout_p"), st.one_of(not_an_int, st.floats().filter(lambda p: not 0 <= p < 1))),
        st.tuples(st.sampled_from(["is_causal", "enable_gqa", "return_weights"]), not_a_bool),
        st.tuples(st.just("scale"), st.one_of(st.booleans(), st.text(max_size=2), st.just(math.nan))),
        st.tuples(st.just("attn_mask"), not_a_tensor.filter(lambda m: m is not None)),
        st.tuples(st.just("attn_mask"), st.sampled_from([(4, 5), (3, 6), (3, 3, 5), (2,)]).map(torch.ones)),
        st.tuples(
            st.just("attn_mask"), int_dtypes.filter(lambda d: d != torch.bool).map(lambda d: torch.ones(3, 5, dtype=d))
        ),
    )
)
def test_sdpa_rejects_bad_options(case):
    name, bad = case
    rejects(name, scaled_dot_product_attention, *_sdpa_args(), **{name: bad})


@given(Hq=st.integers(1, 6), Hk=st.integers(1, 6), Hv=st.integers(1, 6))
def test_sdpa_rejects_bad_gqa_heads_and_causal_with_mask(Hq, Hk, Hv):
    q, k, v = torch.randn(Hq, 3, 4, dtype=D64), torch.randn(Hk, 5, 4, dtype=D64), torch.randn(Hv, 5, 2, dtype=D64)
    if Hq % Hk:
        rejects("key", scaled_dot_product_attention, q, k, v, enable_gqa=True)
    elif Hv != Hk:
        rejects("value", scaled_dot_product_attention, q, k, v, enable_gqa=True)
    rejects("attn_mask", scaled_dot_product_attention, q, q, q, torch.ones(3, 3, dtype=torch.bool), is_causal=True)


# --- softmax_saturation --------------------------------------------------------------------------


@settings(max_examples=25)
@given(d_k=st.integers(1, 64), T=st.integers(2, 16), n=st.integers(1, 32), seed=st.integers(-(2**63), 2**64 - 1))
def test_softmax_saturation_invariants(d_k, T, n, seed):
    scaled = softmax_saturation(d_k, True, T, n, seed)
    raw = softmax_saturation(d_k, False, T, n, seed)
    assert math.isclose(raw["score_var"], d_k * scaled["score_var"], rel_tol=1e-9)  # same draws, scores x sqrt(d_k)
    for r in (scaled, raw):
        assert 1 / T - 1e-12 <= r["max_weight"] <= 1
        assert 0 <= r["jacobian_norm"] <= 1  # ||diag(a) - a a^T||_F <= ||a||_2 <= 1
    assert softmax_saturation(d_k, True, T, n, seed) == scaled  # reproducible


@given(
    case=st.one_of(
        st.tuples(st.just("d_k"), st.one_of(not_an_int, st.integers(-3, 0))),
        st.tuples(st.just("T"), st.one_of(not_an_int, st.integers(-3, 1))),
        st.tuples(st.just("n"), st.one_of(not_an_int, st.integers(-3, 0))),
        st.tuples(
            st.just("seed"), st.one_of(not_an_int, st.integers(min_value=2**64), st.integers(max_value=-(2**63) - 1))
        ),
        st.tuples(st.just("scaled"), not_a_bool),
    )
)
def test_softmax_saturation_rejects_bad_arguments(case):
    name, bad = case
    kwargs = {"d_k": 4, "T": 4, "n": 4, name: bad}
    rejects(name, softmax_saturation, **kwargs)


# --- multi_head_attention ------------------------------------------------------------------------


@st.composite
def mha_setups(draw):
    H, D, B, L, S = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(size), draw(size)
    d = H * D
    batch_first, bias = draw(st.booleans()), draw(st.booleans())
    kind = draw(st.sampled_from(["bool", "float"]))  # PyTorch deprecates mixing mask types
    kpm = draw(st.sampled_from(["none", kind]))
    am = draw(st.sampled_from(["none", kind, kind + "3"]))
    average = draw(st.booleans())
    return H, d, B, L, S, batch_first, bias, kpm, am, average


@settings(max_examples=30)
@given(setup=mha_setups())
def test_mha_matches_torch_module_forward_and_gradient(setup):
    H, d, B, L, S, batch_first, bias, kpm_kind, am_kind, average = setup
    mha = torch.nn.MultiheadAttention(d, H, bias=bias, batch_first=batch_first, dtype=D64)
    layout = (lambda T: (B, T, d)) if batch_first else (lambda T: (T, B, d))
    x, y = torch.randn(layout(L), dtype=D64), torch.randn(layout(S), dtype=D64)
    kw = {"average_attn_weights": average}
    if kpm_kind == "bool":  # key 0 is never masked, so no row is fully masked
        kw["key_padding_mask"] = (torch.rand(B, S) > 0.5).index_fill(1, torch.tensor([0]), False)
    elif kpm_kind == "float":
        kw["key_padding_mask"] = torch.randn(B, S, dtype=D64)
    shape = (L, S) if am_kind in ("bool", "float") else (B * H, L, S)
    if am_kind.startswith("bool"):
        kw["attn_mask"] = (torch.rand(shape) > 0.5).index_fill(-1, torch.tensor([0]), False)
    elif am_kind.startswith("float"):
        kw["attn_mask"] = torch.randn(shape, dtype=D64)
    xs, ys = leaves(x, x), leaves(y, y)  # [ours, ref]
    out, A = multi_head_attention(
        xs[0],
        ys[0],
        ys[0],
        H,
        mha.in_proj_weight,
        mha.in_proj_bias,
        mha.out_proj.weight,
        mha.out_proj.bias,
        batch_first=batch_first,
        **kw,
    )
    ref, A_ref = mha(xs[1], ys[1], ys[1], **kw)
    assert_close(out, ref)
    assert_close(A, A_ref)
    g = torch.randn_like(ref)
    out.backward(g, retain_graph=True)
    ours_w = mha.in_proj_weight.grad.clone()
    mha.in_proj_weight.grad = None
    ref.backward(g)
    assert_close(ours_w, mha.in_proj_weight.grad)
    assert_close(xs[0].grad, xs[1].grad)
    assert_close(ys[0].grad, ys[1].grad)


def _mha_call():
    d = 4
    return {
        "query": torch.randn(3, 2, d, dtype=D64),
        "key": torch.randn(5, 2, d, dtype=D64),
        "value": torch.randn(5, 2, d, dtype=D64),
        "num_heads": 2,
        "in_proj_weight": torch.randn(3 * d, d, dtype=D64),
        "in_proj_bias": torch.randn(3 * d, dtype=D64),
        "out_proj_weight": torch.randn(d, d, dtype=D64),
        "out_proj_bias": torch.randn(d, dtype=D64),
    }


MHA_TENSORS = ["query", "key", "value", "in_proj_weight", "in_proj_bias", "out_proj_weight", "out_proj_bias"]


@given(
    case=st.one_of(
        st.tuples(st.sampled_from([*MHA_TENSORS[:4], "out_proj_weight"]), not_a_tensor.filter(lambda t: t is not None)),
        st.tuples(st.sampled_from(MHA_TENSORS), st.sampled_from([torch.float32, torch.int64])),
        st.tuples(st.sampled_from(MHA_TENSORS), st.lists(st.integers(1, 6), min_size=1, max_size=4).map(tuple)),
        st.tuples(st.just("num_heads"), st.one_of(not_an_int, st.integers(-2, 0), st.just(3))),
        st.tuples(st.sampled_from(["batch_first", "average_attn_weights"]), not_a_bool),
        st.tuples(st.just("key_padding_mask"), st.one_of(not_a_tensor.filter(lambda t: t is not None), int_dtypes)),
        st.tuples(st.just("key_padding_mask"), st.sampled_from([(5, 2), (2,), (2, 4), (2, 5, 1)])),
        st.tuples(st.just("attn_mask"), st.one_of(not_a_tensor.filter(lambda t: t is not None), int_dtypes)),
        st.tuples(st.just("attn_mask"), st.sampled_from([(5, 3), (3,), (2, 3, 5), (4, 3, 5, 1)])),
    )
)
def test_mha_rejects_bad_arguments(case):
    name, bad = case
    kwargs = _mha_call()
    ref = kwargs.get(name, torch.zeros(2, 5) if name == "key_padding_mask" else torch.zeros(3, 5))
    if isinstance(bad, torch.dtype):
        bad = ref.to(bad) if bad != torch.bool or name not in ("key_padding_mask", "attn_mask") else ref.long()
    elif isinstance(bad, tuple):
        if name in kwargs and bad == tuple(ref.shape):
            bad = (*bad, 1)
        bad = torch.zeros(bad, dtype=torch.bool if name.endswith("mask") else D64)
    kwargs[name] = bad
    rejects(name, multi_head_attention, **kwargs)
