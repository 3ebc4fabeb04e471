"""nnfaq.transformers.kv_cache: cached decoding against PyTorch's causal attention (forward and gradient,
float64), the cache size against the tensors it counts, and the claims about published models."""

import pytest
import torch
import torch.nn.functional as F
from helpers import gen, seeds
from hypothesis import given
from hypothesis import strategies as st
from torch.testing import assert_close

from nnfaq.transformers._models import LLAMA2_7B, LLAMA3_8B
from nnfaq.transformers.kv_cache import decode_with_cache, kv_cache_bytes

F64 = torch.float64


def qkv(B, H, T, D, Dv=None, seed=0):
    g = gen(seed)
    return (torch.randn(B, H, T, d, dtype=F64, generator=g) for d in (D, D, Dv or D))


# --- decode_with_cache ---------------------------------------------------------------------------


@pytest.mark.parametrize(("B", "H", "T", "D", "Dv"), [(1, 1, 1, 4, 4), (2, 3, 7, 8, 5), (1, 4, 12, 16, 16)])
@pytest.mark.parametrize("chunk_size", [1, 2, 5, 64])
@pytest.mark.parametrize("scale", [None, 0.3])
def test_decode_matches_causal_sdpa_forward_and_gradient(B, H, T, D, Dv, chunk_size, scale):
    q, k, v = qkv(B, H, T, D, Dv)
    ours_in = [t.clone().requires_grad_() for t in (q, k, v)]
    ref_in = [t.clone().requires_grad_() for t in (q, k, v)]
    ours = decode_with_cache(*ours_in, scale=scale, chunk_size=chunk_size)
    ref = F.scaled_dot_product_attention(*ref_in, is_causal=True, scale=scale)
    assert_close(ours, ref)
    g = torch.randn_like(ref)
    ours.backward(g)
    ref.backward(g)
    for a, b in zip(ours_in, ref_in):
        assert_close(a.grad, b.grad)


@given(T=st.integers(1, 10), chunk=st.integers(1, 10), H=st.integers(1, 3), seed=seeds)
def test_decode_matches_causal_sdpa_for_any_length_and_chunk(T, chunk, H, seed):
    q, k, v = qkv(2, H, T, 4, 3, seed=seed)
    assert_close(decode_with_cache(q, k, v, chunk_size=chunk), F.scaled_dot_product_attention(q, k, v, is_causal=True))


@given(T=st.integers(2, 9), cut=st.integers(1, 8), seed=seeds)
def test_outputs_never_depend_on_later_tokens(T, cut, seed):
    cut = min(cut, T - 1)
    q, k, v = qkv(1, 2, T, 4, seed=seed)
    k2, v2 = k.clone(), v.clone()
    k2[..., cut:, :] += 1.0
    v2[..., cut:, :] -= 1.0
    assert torch.equal(decode_with_cache(q, k2, v2)[..., :cut, :], decode_with_cache(q, k, v)[..., :cut, :])
    # attending to every key (no causality) is a different function
    assert not torch.allclose(decode_with_cache(q, k, v), F.scaled_dot_product_attention(q, k, v))


def test_the_cache_is_the_keys_and_values():
    q, k, v = qkv(2, 3, 6, 8, 5)
    _, (k_cache, v_cache) = decode_with_cache(q, k, v, return_cache=True)
    assert torch.equal(k_cache, k) and torch.equal(v_cache, v)


@pytest.mark.parametrize(("cached", "new"), [(4, 2), (3, 3), (1, 5)])
def test_a_chunk_needs_the_bottom_right_mask_not_is_causal(cached, new):
    q, k, v = qkv(2, 2, cached + new, 8)
    out = decode_with_cache(q, k, v)
    chunk = q[..., cached:, :]
    bottom_right = torch.ones(new, cached + new, dtype=torch.bool).tril(cached)
    assert_close(out[..., cached:, :], F.scaled_dot_product_attention(chunk, k, v, attn_mask=bottom_right))
    top_left = F.scaled_dot_product_attention(chunk, k, v, is_causal=True)
    assert not torch.allclose(out[..., cached:, :], top_left)


def test_empty_sequence():
    q = torch.zeros(2, 3, 0, 4, dtype=F64)
    assert decode_with_cache(q, q, torch.zeros(2, 3, 0, 5, dtype=F64)).shape == (2, 3, 0, 5)


@pytest.mark.parametrize(
    ("shapes", "match"),
    [
        (((1, 2, 5, 4), (1, 2, 6, 4), (1, 2, 6, 4)), "key must have the query's length 5"),
        (((1, 2, 5, 4), (1, 2, 5, 3), (1, 2, 5, 4)), "key must have the query's last dimension 4"),
        (((1, 2, 5, 4), (1, 2, 5, 4), (1, 2, 4, 4)), "value must have as many rows as key"),
        (((1, 2, 5, 4), (1, 1, 5, 4), (1, 1, 5, 4)), "key must have the query's leading dimensions"),
    ],
)
def test_decode_rejects_mismatched_shapes(shapes, match):
    q, k, v = (torch.randn(s, dtype=F64) for s in shapes)
    with pytest.raises(ValueError, match=match):
        decode_with_cache(q, k, v)


def test_decode_rejects_mixed_dtypes():
    q, k, v = qkv(1, 1, 3, 4)
    with pytest.raises(TypeError, match="key must have the dtype of query"):
        decode_with_cache(q, k.float(), v)


# --- kv_cache_bytes ------------------------------------------------------------------------------


@given(
    B=st.integers(1, 3),
    H=st.integers(1, 4),
    T=st.integers(0, 9),
    D=st.integers(1, 8),
    dtype=st.sampled_from([torch.float16, torch.bfloat16, torch.float32, torch.float64]),
)
def test_size_is_the_bytes_of_the_cache_decoding_builds(B, H, T, D, dtype):
    q, k, v = (torch.randn(B, H, T, D, dtype=dtype) for _ in range(3))
    _, (k_cache, v_cache) = decode_with_cache(q, k, v, return_cache=True)
    layers = 3  # every layer keeps a cache of its own
    size = kv_cache_bytes(layers, H, D, T, batch=B, dtype_bytes=dtype.itemsize)
    assert size == layers * (k_cache.nbytes + v_cache.nbytes)


@given(T=st.integers(0, 10_000), B=st.integers(1, 64))
def test_size_is_linear_in_length_and_batch(T, B):
    one = kv_cache_bytes(32, 8, 128, 1)
    assert kv_cache_bytes(32, 8, 128, T, batch=B) == one * T * B


def test_published_models():
    m = LLAMA2_7B
    assert kv_cache_bytes(m.n_layers, m.n_kv_heads, m.head_dim, 1) == 512 * 1024
    assert kv_cache_bytes(m.n_layers, m.n_kv_heads, m.head_dim, m.max_seq_len) == 2 * 2**30
    at_batch_8 = kv_cache_bytes(m.n_layers, m.n_kv_heads, m.head_dim, m.max_seq_len, batch=8)
    assert at_batch_8 > 2 * m.published_params  # more than the fp16 weights
    assert kv_cache_bytes(m.n_layers, m.n_kv_heads, m.head_dim, m.max_seq_len, batch=4) < 2 * m.published_params
    n = LLAMA3_8B
    assert kv_cache_bytes(m.n_layers, m.n_kv_heads, m.head_dim, 1) == 4 * kv_cache_bytes(
        n.n_layers, n.n_kv_heads, n.head_dim, 1
    )
