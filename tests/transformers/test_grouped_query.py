"""nnfaq.transformers.grouped_query: grouped-query attention and latent attention against PyTorch (forward and
gradient, float64), the head-order bug, and the cost model against counted FLOPs and tensor sizes."""

import pytest
import torch
import torch.nn.functional as F
from helpers import gen, seeds
from hypothesis import given
from hypothesis import strategies as st
from torch.testing import assert_close
from torch.utils.flop_counter import FlopCounterMode

from nnfaq.transformers._models import A100, LLAMA3_8B
from nnfaq.transformers.grouped_query import attention_cost, latent_attention, repeat_kv, scaled_dot_product_attention

F64 = torch.float64


def randn(*shape, seed=None):
    return torch.randn(*shape, dtype=F64, generator=None if seed is None else gen(seed))


def check_parity(ours_fn, ref_fn, *tensors):
    a = [t.clone().requires_grad_() for t in tensors]
    b = [t.clone().requires_grad_() for t in tensors]
    ours, ref = ours_fn(*a), ref_fn(*b)
    assert_close(ours, ref)
    g = torch.randn_like(ref)
    ours.backward(g)
    ref.backward(g)
    for x, y in zip(a, b):
        assert_close(x.grad, y.grad)


# --- scaled_dot_product_attention ----------------------------------------------------------------


def _mask(kind, L, S):
    keep = torch.rand(L, S) > 0.3
    keep[:, 0] = True
    return {"bool": keep, "float": randn(L, S), "float32": torch.randn(L, S)}.get(kind)


@pytest.mark.parametrize(("H", "H_kv"), [(4, 4), (8, 2), (6, 3), (8, 1)])
@pytest.mark.parametrize(("L", "S"), [(5, 5), (3, 7), (6, 2)])
@pytest.mark.parametrize("mask", [None, "bool", "float", "float32", "causal"])
def test_gqa_matches_torch_forward_and_gradient(H, H_kv, L, S, mask):
    q, k, v = randn(2, H, L, 4), randn(2, H_kv, S, 4), randn(2, H_kv, S, 3)
    kw = {"attn_mask": _mask(mask, L, S), "is_causal": mask == "causal", "enable_gqa": True}
    check_parity(
        lambda *t: scaled_dot_product_attention(*t, **kw), lambda *t: F.scaled_dot_product_attention(*t, **kw), q, k, v
    )


@given(
    batch=st.lists(st.integers(1, 3), max_size=2),
    H_kv=st.integers(1, 3),
    G=st.integers(1, 3),
    L=st.integers(1, 5),
    S=st.integers(1, 5),
    scale=st.one_of(st.none(), st.floats(0.1, 2.0)),
    seed=seeds,
)
def test_gqa_matches_torch_for_any_shape(batch, H_kv, G, L, S, scale, seed):
    q = randn(*batch, H_kv * G, L, 3, seed=seed)
    k, v = randn(*batch, H_kv, S, 3, seed=seed + 1), randn(*batch, H_kv, S, 2, seed=seed + 2)
    ours = scaled_dot_product_attention(q, k, v, scale=scale, enable_gqa=True)
    assert_close(ours, F.scaled_dot_product_attention(q, k, v, scale=scale, enable_gqa=True))


def test_without_gqa_it_is_plain_attention_and_broadcasts_like_torch():
    q, k, v = randn(2, 3, 5, 4), randn(2, 3, 6, 4), randn(2, 3, 6, 4)
    check_parity(scaled_dot_product_attention, F.scaled_dot_product_attention, q, k, v)
    k1, v1 = randn(2, 1, 6, 4), randn(2, 1, 6, 4)  # a single key/value head broadcasts
    assert_close(scaled_dot_product_attention(q, k1, v1), F.scaled_dot_product_attention(q, k1, v1))


def test_gqa_is_mha_with_copied_heads():
    q, k, v = randn(1, 8, 5, 4), randn(1, 2, 5, 4), randn(1, 2, 5, 4)
    mha = F.scaled_dot_product_attention(q, k.repeat_interleave(4, 1), v.repeat_interleave(4, 1))
    assert_close(scaled_dot_product_attention(q, k, v, enable_gqa=True), mha)


def test_dropout_matches_torch_with_the_same_seed():
    q, k, v = randn(2, 4, 5, 8), randn(2, 2, 6, 8), randn(2, 2, 6, 3)
    torch.manual_seed(3)
    ours = scaled_dot_product_attention(q, k, v, dropout_p=0.4, enable_gqa=True)
    torch.manual_seed(3)
    assert_close(ours, F.scaled_dot_product_attention(q, k, v, dropout_p=0.4, enable_gqa=True))
    zero = scaled_dot_product_attention(q, k, v, dropout_p=1.0, enable_gqa=True)
    assert_close(zero, F.scaled_dot_product_attention(q, k, v, dropout_p=1.0, enable_gqa=True))


def test_fully_masked_query_gets_zero_output_and_finite_gradient():
    keep = torch.ones(4, 6, dtype=torch.bool)
    keep[2] = False
    q = randn(1, 4, 4, 8).requires_grad_()
    k, v = randn(1, 2, 6, 8), randn(1, 2, 6, 3)
    out = scaled_dot_product_attention(q, k, v, keep, enable_gqa=True)
    assert_close(out, F.scaled_dot_product_attention(q.detach(), k, v, keep, enable_gqa=True))
    assert bool((out[:, :, 2] == 0).all())
    out.sum().backward()
    assert bool(torch.isfinite(q.grad).all())


@pytest.mark.parametrize(
    ("shapes", "kwargs", "error", "match"),
    [
        (
            ((1, 6, 3, 4), (1, 4, 5, 4), (1, 4, 5, 4)),
            {"enable_gqa": True},
            ValueError,
            "key must have a number of heads",
        ),
        (((1, 6, 3, 4), (1, 2, 5, 4), (1, 3, 5, 4)), {"enable_gqa": True}, ValueError, "value must have the key's"),
        (((3, 4), (5, 4), (5, 4)), {"enable_gqa": True}, ValueError, "must have a heads dimension"),
        (
            ((1, 2, 3, 4), (1, 2, 5, 4), (1, 2, 5, 4)),
            {"is_causal": True, "attn_mask": torch.ones(3, 5, dtype=torch.bool)},
            ValueError,
            "attn_mask must be None when is_causal",
        ),
        (
            ((1, 2, 3, 4), (1, 2, 5, 4), (1, 2, 5, 4)),
            {"attn_mask": torch.ones(4, 5, dtype=torch.bool)},
            ValueError,
            "attn_mask must broadcast",
        ),
        (
            ((1, 2, 3, 4), (1, 2, 5, 4), (1, 2, 5, 4)),
            {"attn_mask": torch.ones(3, 5, dtype=torch.long)},
            TypeError,
            "attn_mask must be bool or floating point",
        ),
        (
            ((1, 2, 3, 4), (1, 2, 5, 4), (1, 2, 5, 4)),
            {"attn_mask": [[True]]},
            TypeError,
            "attn_mask must be a torch.Tensor",
        ),
        (((1, 6, 3, 4), (1, 2, 5, 4), (1, 2, 5, 4)), {}, ValueError, "key must have batch dimensions"),
    ],
)
def test_sdpa_rejects_bad_arguments(shapes, kwargs, error, match):
    q, k, v = (randn(*s) for s in shapes)
    with pytest.raises(error, match=match):
        scaled_dot_product_attention(q, k, v, **kwargs)


# --- repeat_kv -----------------------------------------------------------------------------------


@given(batch=st.lists(st.integers(1, 3), max_size=2), H_kv=st.integers(1, 4), n_rep=st.integers(1, 4), seed=seeds)
def test_interleave_is_repeat_interleave_and_tile_is_repeat(batch, H_kv, n_rep, seed):
    x = randn(*batch, H_kv, 3, 2, seed=seed)
    assert torch.equal(repeat_kv(x, n_rep), x.repeat_interleave(n_rep, dim=-3))
    assert torch.equal(repeat_kv(x, n_rep, order="tile"), x.repeat(*([1] * len(batch)), n_rep, 1, 1))


@pytest.mark.parametrize(("H_kv", "G"), [(2, 2), (2, 4), (4, 2), (3, 3)])
def test_tiling_is_a_different_model_for_real_gqa(H_kv, G):
    q, k, v = randn(2, H_kv * G, 5, 4), randn(2, H_kv, 5, 4), randn(2, H_kv, 5, 4)
    ref = F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
    assert_close(F.scaled_dot_product_attention(q, repeat_kv(k, G), repeat_kv(v, G)), ref)
    tiled = F.scaled_dot_product_attention(q, repeat_kv(k, G, "tile"), repeat_kv(v, G, "tile"))
    assert not torch.allclose(tiled, ref)
    # the heads that are paired correctly by chance: h // G == h % H_kv
    heads = torch.arange(H_kv * G)
    right = heads // G == heads % H_kv
    assert_close(tiled[:, right], ref[:, right])
    assert not torch.allclose(tiled[:, ~right], ref[:, ~right])


@pytest.mark.parametrize(("H_kv", "G"), [(1, 6), (5, 1)])
def test_the_bug_is_invisible_for_mqa_and_mha(H_kv, G):
    x = randn(2, H_kv, 5, 4)
    assert torch.equal(repeat_kv(x, G), repeat_kv(x, G, order="tile"))


def test_repeat_kv_rejects_a_tensor_without_heads():
    with pytest.raises(ValueError, match="x must have at least 3 dimensions"):
        repeat_kv(randn(5, 4), 2)


# --- latent_attention ----------------------------------------------------------------------------


def latent_inputs(B=2, T=6, C=10, H=3, D=4, r=5, seed=0):
    g = gen(seed)
    return [torch.randn(*s, dtype=F64, generator=g) for s in ((B, T, C), (H * D, C), (r, C), (H * D, r), (H * D, r))]


def mla_reference(x, W_q, W_dkv, W_uk, W_uv, H):
    B, T, _ = x.shape
    heads = lambda t: t.view(B, T, H, -1).transpose(1, 2)  # noqa: E731
    c = x @ W_dkv.T
    return F.scaled_dot_product_attention(heads(x @ W_q.T), heads(c @ W_uk.T), heads(c @ W_uv.T), is_causal=True)


@pytest.mark.parametrize("absorb", [False, True])
@pytest.mark.parametrize(("T", "H", "D", "r"), [(1, 1, 2, 1), (6, 3, 4, 5), (5, 2, 8, 16)])
def test_latent_attention_matches_attention_on_rebuilt_keys_and_values(absorb, T, H, D, r):
    inputs = latent_inputs(T=T, H=H, D=D, r=r)
    check_parity(
        lambda *t: latent_attention(*t, num_heads=H, absorb=absorb)[0],
        lambda *t: mla_reference(*t, H),
        *inputs,
    )


@given(seed=seeds, r=st.integers(1, 8))
def test_absorbed_equals_decompressed_and_the_cache_is_the_latent(seed, r):
    x, W_q, W_dkv, W_uk, W_uv = latent_inputs(r=r, seed=seed)
    out, latent = latent_attention(x, W_q, W_dkv, W_uk, W_uv, num_heads=3)
    absorbed, latent2 = latent_attention(x, W_q, W_dkv, W_uk, W_uv, num_heads=3, absorb=True)
    assert_close(absorbed, out)
    assert latent.shape == (2, 6, r) and torch.equal(latent, latent2)
    assert_close(latent, x @ W_dkv.T)


def test_deepseek_v2_cache_per_token():
    from nnfaq.transformers._models import DEEPSEEK_V2 as m

    mla = m.kv_lora_rank + m.rope_head_dim
    assert (mla, 2 * m.n_heads * m.head_dim, mla / m.head_dim) == (576, 32768, 4.5)


@pytest.mark.parametrize(
    ("index", "shape", "match"),
    [
        (1, (13, 10), "W_q must have shape"),
        (2, (5, 9), "W_dkv must have shape"),
        (3, (12, 4), "W_uk must have shape"),
        (4, (11, 5), "W_uv must have shape"),
        (0, (6, 10), "x must have 3"),
    ],
)
def test_latent_attention_rejects_bad_shapes(index, shape, match):
    inputs = latent_inputs()
    inputs[index] = randn(*shape)
    with pytest.raises(ValueError, match=match):
        latent_attention(*inputs, num_heads=3)


# --- attention_cost ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("B", "H", "H_kv", "L", "S", "D"), [(1, 8, 8, 1, 64, 16), (2, 8, 2, 1, 32, 8), (1, 4, 1, 7, 9, 4)]
)
def test_cost_counts_the_implementation_flops_and_bytes(B, H, H_kv, L, S, D):
    q, k, v = randn(B, H, L, D), randn(B, H_kv, S, D), randn(B, H_kv, S, D)
    with FlopCounterMode(display=False) as counter:
        out = scaled_dot_product_attention(q, k, v, enable_gqa=True)
    cost = attention_cost(H, H_kv, D, L, S, batch=B, dtype_bytes=8)
    assert cost["flops"] == counter.get_total_flops()
    assert cost["bytes"] == q.nbytes + k.nbytes + v.nbytes + out.nbytes
    assert cost["intensity"] == cost["flops"] / cost["bytes"]


@given(G=st.sampled_from([1, 2, 4, 8, 32]), S=st.integers(1, 8192), B=st.integers(1, 32))
def test_flops_do_not_depend_on_kv_heads_and_decode_intensity_not_on_batch(G, S, B):
    mha, gqa = attention_cost(32, 32, 128, 1, S), attention_cost(32, 32 // G, 128, 1, S)
    assert mha["flops"] == gqa["flops"]
    assert gqa["bytes"] <= mha["bytes"]
    assert attention_cost(32, 32 // G, 128, 1, S, batch=B)["intensity"] == gqa["intensity"]


def test_decode_is_memory_bound_prefill_compute_bound_on_an_a100():
    m = LLAMA3_8B
    time = lambda c: max(c["flops"] / A100.peak_flops, c["bytes"] / A100.bandwidth)  # noqa: E731
    decode = [attention_cost(m.n_heads, kv, m.head_dim, 1, 4096) for kv in (m.n_heads, m.n_kv_heads)]
    prefill = [attention_cost(m.n_heads, kv, m.head_dim, 4096, 4096) for kv in (m.n_heads, m.n_kv_heads)]
    assert all(c["intensity"] < A100.ridge for c in decode)
    assert all(c["intensity"] > A100.ridge for c in prefill)
    assert time(decode[0]) / time(decode[1]) == pytest.approx(4, rel=0.01)
    assert time(prefill[0]) / time(prefill[1]) == 1.0
    # about G FLOPs per byte at decode in 16-bit
    assert decode[0]["intensity"] == pytest.approx(1, rel=0.01) and decode[1]["intensity"] == pytest.approx(4, rel=0.01)


def test_cost_rejects_kv_heads_that_do_not_divide():
    with pytest.raises(ValueError, match="num_kv_heads must divide num_heads"):
        attention_cost(8, 3, 16, 1, 4)
