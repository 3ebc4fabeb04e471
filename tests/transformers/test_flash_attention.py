"""nnfaq.transformers.flash_attention: the online softmax and tiled attention against PyTorch (forward and
gradient, float64), what is never materialised, and the low-precision numerics."""

import math

import pytest
import torch
import torch.nn.functional as F
from helpers import gen, seeds
from hypothesis import given
from hypothesis import strategies as st
from torch.testing import assert_close
from torch.utils.flop_counter import FlopCounterMode

from nnfaq.transformers.flash_attention import (
    largest_intermediate,
    low_precision_softmax,
    online_softmax,
    tiled_attention,
)

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


def standard(q, k, v, scale):
    return torch.softmax(scale * q @ k.transpose(-2, -1), -1) @ v


# --- online_softmax ------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(7,), (3, 10), (2, 3, 9)])
@pytest.mark.parametrize("block_size", [1, 2, 4, 128])
def test_online_softmax_matches_torch_forward_and_gradient(shape, block_size):
    for dim in range(-len(shape), len(shape)):
        check_parity(
            lambda x, d=dim: online_softmax(x, d, block_size), lambda x, d=dim: torch.softmax(x, d), randn(*shape)
        )


@given(n=st.integers(1, 40), block=st.integers(1, 50), scale=st.floats(0.01, 1000.0), seed=seeds)
def test_online_softmax_is_exact_at_any_scale(n, block, scale, seed):
    x = scale * randn(3, n, seed=seed)
    p, m, l = online_softmax(x, block_size=block, return_stats=True)
    assert_close(p, torch.softmax(x, -1))
    assert torch.equal(m, x.amax(-1))
    assert_close(l, torch.exp(x - m[:, None]).sum(-1))


def test_online_softmax_handles_masked_entries_like_torch():
    x = randn(4, 9)
    x[0, :5] = -math.inf  # the first blocks are entirely masked
    x[1, ::2] = -math.inf
    assert_close(online_softmax(x, block_size=2), torch.softmax(x, -1))
    x[2] = -math.inf  # a fully masked row is NaN, as in torch
    assert bool(online_softmax(x, block_size=2)[2].isnan().all()) and bool(torch.softmax(x, -1)[2].isnan().all())


def test_online_softmax_does_not_overflow_where_exp_does():
    x = torch.tensor([[1000.0, 1001.0, 999.0], [-1000.0, -1001.0, -999.0]], dtype=F64)
    assert bool(torch.exp(x[0]).isinf().all()) and bool((torch.exp(x[1]) == 0).all())
    assert_close(online_softmax(x, block_size=1), torch.softmax(x, -1))


def test_online_softmax_rejects_a_bad_dim():
    with pytest.raises(ValueError, match=r"dim must be in \[-2, 1\]"):
        online_softmax(randn(2, 3), dim=2)


# --- tiled_attention -----------------------------------------------------------------------------


@pytest.mark.parametrize(("L", "S"), [(1, 1), (9, 9), (5, 13), (13, 5)])
@pytest.mark.parametrize("block_size", [1, 4, 64])
@pytest.mark.parametrize("is_causal", [False, True])
@pytest.mark.parametrize("scale", [None, 0.2])
def test_tiled_attention_matches_sdpa_forward_and_gradient(L, S, block_size, is_causal, scale):
    q, k, v = randn(2, 2, L, 4), randn(2, 2, S, 4), randn(2, 2, S, 3)
    kw = {"is_causal": is_causal, "scale": scale}
    check_parity(
        lambda *t: tiled_attention(*t, block_size, **kw), lambda *t: F.scaled_dot_product_attention(*t, **kw), q, k, v
    )


@given(L=st.integers(1, 20), S=st.integers(1, 20), block=st.integers(1, 21), causal=st.booleans(), seed=seeds)
def test_tiled_attention_is_exact_not_approximate(L, S, block, causal, seed):
    q, k, v = 3 * randn(1, 2, L, 4, seed=seed), 3 * randn(1, 2, S, 4, seed=seed + 1), randn(1, 2, S, 2, seed=seed + 2)
    out, lse = tiled_attention(q, k, v, block, is_causal=causal, return_lse=True)
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    assert float((out - ref).abs().max()) < 1e-12
    s = q @ k.transpose(-2, -1) / 2
    if causal:
        s = s.masked_fill(~torch.ones(L, S, dtype=torch.bool).tril(), -math.inf)
    assert_close(lse, torch.logsumexp(s, -1))


def _flops(fn, *args, **kwargs):
    with FlopCounterMode(display=False) as counter:
        fn(*args, **kwargs)
    return counter.get_total_flops()


@pytest.mark.parametrize(("T", "block"), [(16, 4), (40, 8), (33, 8)])
def test_tiling_does_the_same_flops_and_causal_skips_tiles(T, block):
    q, k, v = randn(1, 2, T, 8), randn(1, 2, T, 8), randn(1, 2, T, 8)
    full = _flops(standard, q, k, v, 0.5)
    assert _flops(tiled_attention, q, k, v, block) == full
    n = math.ceil(T / block)
    causal = _flops(tiled_attention, q, k, v, block, is_causal=True)
    assert 0.5 * full <= causal < full
    if T % block == 0:
        assert causal == full * (n * (n + 1) // 2) / n**2  # the lower triangle of tiles


# --- largest_intermediate ------------------------------------------------------------------------


@pytest.mark.parametrize("T", [32, 64])
def test_the_score_matrix_is_never_materialised(T):
    B, H, D = 1, 2, 8
    q, k, v = randn(B, H, T, D), randn(B, H, T, D), randn(B, H, T, D)
    assert largest_intermediate(standard, q, k, v, 0.5) == B * H * T * T
    assert largest_intermediate(tiled_attention, q, k, v, block_size=8) == B * H * T * D
    assert largest_intermediate(F.scaled_dot_product_attention, q, k, v) == B * H * T * D


def test_largest_intermediate_counts_what_the_function_creates():
    x = randn(3, 4)
    assert largest_intermediate(lambda t: t.sum(), x) == 1
    assert largest_intermediate(lambda t: t[:, :, None] * t[:, None, :], x) == 3 * 4 * 4
    with pytest.raises(TypeError, match="fn must be callable"):
        largest_intermediate(3, x)


# --- low_precision_softmax -----------------------------------------------------------------------


def test_fp16_overflow_thresholds():
    assert torch.finfo(torch.float16).max == 65504
    assert round(math.log(65504), 2) == 11.09
    t = torch.tensor([11.08, 11.1], dtype=torch.float16)
    assert torch.exp(t).isinf().tolist() == [False, True]
    assert bool(torch.isfinite(torch.exp(torch.tensor(88.7, dtype=torch.bfloat16))))
    assert bool(torch.exp(torch.tensor(89.0)).isinf())  # float32's threshold is bfloat16's


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_high_precision_is_torch_softmax(dim):
    x = randn(5, 7)
    assert_close(low_precision_softmax(x, dim, dtype=F64, accumulate_dtype=F64), torch.softmax(x, dim))


@given(top=st.floats(11.2, 60.0), n=st.integers(2, 20), seed=seeds)
def test_max_subtraction_prevents_fp16_overflow(top, n, seed):
    x = randn(n, seed=seed)
    x[0] = top  # one score beyond fp16's exp threshold
    assert bool(low_precision_softmax(x, subtract_max=False).isnan().any())
    assert_close(low_precision_softmax(x).double(), torch.softmax(x, 0), atol=1e-3, rtol=0)


@pytest.mark.parametrize(("dtype", "stall"), [(torch.float16, 2048), (torch.bfloat16, 256)])
def test_low_precision_running_sums_stall(dtype, stall):
    n = 2 * stall
    flat = torch.zeros(n)
    stalled = low_precision_softmax(flat, dtype=dtype, accumulate_dtype=dtype)
    assert stalled[0].item() == 1 / stall and stalled.double().sum().item() == 2.0
    assert low_precision_softmax(flat, dtype=dtype).double().sum().item() == 1.0


def test_low_precision_softmax_rejects_non_float_dtypes():
    for name in ("dtype", "accumulate_dtype"):
        with pytest.raises(TypeError, match=f"{name} must be one of"):
            low_precision_softmax(randn(3), **{name: torch.int32})
