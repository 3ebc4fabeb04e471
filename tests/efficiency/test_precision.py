"""nnfaq.efficiency.precision against torch.finfo, real casts, GradScaler and torch's AMP kernels, and its claims."""

import math

import pytest
import torch
from helpers import gen, rejects, seeds
from hypothesis import given
from hypothesis import strategies as st
from torch.testing import assert_close

from nnfaq.efficiency.precision import accumulate_updates, float_limits, unscale_grads, update_scale

F64 = torch.float64
LAYOUTS = {
    torch.float64: (11, 52),
    torch.float32: (8, 23),
    torch.float16: (5, 10),
    torch.bfloat16: (8, 7),
    torch.float8_e5m2: (5, 2),  # IEEE-style 8-bit float (it has inf); e4m3fn is not
}


# --- float_limits --------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", LAYOUTS)
def test_float_limits_match_finfo(dtype):
    ours = float_limits(*LAYOUTS[dtype])
    ref = torch.finfo(dtype)
    assert ours["max"] == ref.max
    assert ours["smallest_normal"] == ref.smallest_normal == ref.tiny
    assert ours["eps"] == ref.eps
    assert ours["smallest_subnormal"] == ref.smallest_normal * ref.eps


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_overflow_and_underflow_thresholds_on_real_casts(dtype):
    lim = float_limits(*LAYOUTS[dtype])
    e, m = LAYOUTS[dtype]
    half_step_at_max = 2.0 ** (2 ** (e - 1) - 1 - m - 1)
    tiny = lim["smallest_subnormal"]
    # float32 holds every value below exactly, so the cast to the 16-bit type is the only rounding
    x = torch.tensor([lim["max"], lim["max"] + 0.99 * half_step_at_max, lim["max"] + half_step_at_max])
    assert x.to(dtype).float().tolist() == [lim["max"], lim["max"], math.inf]
    y = torch.tensor([tiny, tiny / 2, 0.75 * tiny, tiny / 2 * 0.99])
    assert y.to(dtype).float().tolist() == [tiny, 0.0, tiny, 0.0]  # halfway rounds to even (0)
    # the precision: 1 + eps is the next value after 1, 1 + eps/2 rounds back to 1 (even)
    one = torch.tensor([1 + lim["eps"], 1 + lim["eps"] / 2])
    assert one.to(dtype).float().tolist() == [1 + lim["eps"], 1.0]


def test_bf16_keeps_range_and_fp16_keeps_precision():
    big_small = torch.tensor([1e5, 1e30, 1e-10, 1e-30])
    assert not bool(big_small.half().isfinite().all()) and bool((big_small.half()[2:] == 0).all())
    assert bool(big_small.bfloat16().isfinite().all() and (big_small.bfloat16() != 0).all())
    assert float_limits(5, 10)["eps"] * 8 == float_limits(8, 7)["eps"]


@given(seed=seeds)
def test_relative_rounding_error_is_at_most_half_eps(seed):
    x = torch.randn(500, generator=gen(seed), dtype=F64) * 100  # inside both normal ranges
    for dtype in (torch.float16, torch.bfloat16):
        rel = ((x.to(torch.float32).to(dtype).double() - x.float().double()) / x.float().double()).abs().max()
        assert rel <= float_limits(*LAYOUTS[dtype])["eps"] / 2


def test_float_limits_rejects_bad_layouts():
    rejects("exponent_bits", float_limits, 1, 10)
    rejects("mantissa_bits", float_limits, 5, 0)


# --- unscale_grads -------------------------------------------------------------------------------


@given(seed=seeds, scale=st.sampled_from([1.0, 128.0, 65536.0, 3.0]))
def test_unscale_grads_matches_torch_amp_kernel(seed, scale):
    g = gen(seed)
    grads = [torch.randn(3, 4, generator=g) * 1e3, torch.randn(5, generator=g)]
    if seed % 3 == 0:
        grads[1][seed % 5] = [math.inf, -math.inf, math.nan][seed % 3]
    ours, found_inf = unscale_grads([t.clone() for t in grads], scale)
    ref, ref_found = [t.clone() for t in grads], torch.zeros(1)
    torch._amp_foreach_non_finite_check_and_unscale_(ref, ref_found, torch.tensor([1.0 / scale]))
    for o, r in zip(ours, ref):
        assert_close(o, r, equal_nan=True)
    assert found_inf == bool(ref_found.item())


def test_unscale_grads_matches_grad_scaler_unscale():
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**12)
    params = [torch.nn.Parameter(torch.randn(4, 3)), torch.nn.Parameter(torch.randn(3))]
    opt = torch.optim.SGD(params, lr=0.1)
    scaler.scale((params[0] @ params[1]).pow(2).sum()).backward()
    scaled = [p.grad.clone() for p in params]
    scaler.unscale_(opt)
    ours, found_inf = unscale_grads(scaled, 2.0**12)
    assert not found_inf
    for o, p in zip(ours, params):
        assert torch.equal(o, p.grad)


def test_small_gradients_vanish_in_fp16_survive_scaling_and_bf16():
    g = torch.logspace(-10, -5, 50)  # gradients from 1e-10 to 1e-5
    assert bool((g.half() == 0).any())  # fp16 loses them
    scaled = (g * 2.0**24).half().float()  # what an fp16 backward of the scaled loss stores
    back, found_inf = unscale_grads([scaled], 2.0**24)
    assert not found_inf
    assert bool((((back[0] - g) / g).abs() < 1e-3).all())
    assert bool((g.bfloat16() != 0).all())  # bf16 keeps them unscaled


def test_unscale_grads_rejects_bad_grads():
    rejects("grads", unscale_grads, torch.ones(3), 2.0)
    rejects("grads[1]", unscale_grads, [torch.ones(3), 1.0], 2.0)


# --- update_scale --------------------------------------------------------------------------------


@given(
    found=st.lists(st.booleans(), min_size=1, max_size=30),
    interval=st.integers(1, 5),
    growth=st.sampled_from([2.0, 1.5]),
    backoff=st.sampled_from([0.5, 0.25]),
)
def test_update_scale_matches_torch_amp_kernel(found, interval, growth, backoff):
    scale, tracker = 1024.0, 0
    ref_scale, ref_tracker = torch.tensor([1024.0]), torch.zeros(1, dtype=torch.int32)
    for f in found:
        scale, tracker = update_scale(scale, tracker, f, growth, backoff, interval)
        torch._amp_update_scale_(ref_scale, ref_tracker, torch.tensor([float(f)]), growth, backoff, interval)
        assert (scale, tracker) == (ref_scale.item(), ref_tracker.item())


@given(seed=seeds)
def test_grad_scaler_run_with_overflows_matches_ours_and_skips_steps(seed):
    pattern = (torch.rand(12, generator=gen(seed)) < 0.3).tolist()
    ref = torch.amp.GradScaler("cpu", init_scale=256.0, growth_interval=3)
    w = torch.nn.Parameter(torch.ones(2))
    opt = torch.optim.SGD([w], lr=0.1)
    scale, tracker, clean = 256.0, 0, 0
    for overflow in pattern:
        g = math.inf if overflow else 1.0
        opt.zero_grad()
        ref.scale((w * g).sum()).backward()
        ref.step(opt)
        ref.update()
        _, found_inf = unscale_grads([torch.full((2,), g * scale)], scale)
        scale, tracker = update_scale(scale, tracker, found_inf, growth_interval=3)
        clean += not found_inf
        assert scale == ref.get_scale()
    assert_close(w.detach(), torch.full((2,), 1.0 - 0.1 * clean))  # every overflow step was skipped


# --- accumulate_updates --------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("w", [0.5, 1.0, 3.0])
def test_updates_below_half_a_step_are_lost_without_master_weights(dtype, w):
    step = 2.0 ** math.floor(math.log2(w)) * float_limits(*LAYOUTS[dtype])["eps"]  # the gap above w
    lost = accumulate_updates(w, 0.45 * step, 100, dtype, master_weights=False)
    kept = accumulate_updates(w, 0.55 * step, 1, dtype, master_weights=False)
    assert lost.item() == w
    assert kept.item() == w + step
    # the master copy accumulates the 100 small updates
    assert abs(accumulate_updates(w, 0.45 * step, 100, dtype).item() - (w + 45 * step)) <= step


def test_fp32_master_weights_follow_the_exact_sum():
    ours = accumulate_updates(1.0, 1e-4, 1000, torch.float32)
    assert ours.dtype == torch.float32
    # each fp32 addition rounds by at most half a step (eps at values in [1, 2))
    assert abs(ours.item() - 1.1) < 1000 * float_limits(8, 23)["eps"] / 2
    assert accumulate_updates(1.0, 1e-4, 1000, torch.float16, master_weights=False).item() == 1.0


def test_accumulate_updates_rejects_bad_dtype():
    rejects("dtype", accumulate_updates, 1.0, 1e-4, 10, "float16")
    rejects("dtype", accumulate_updates, 1.0, 1e-4, 10, torch.int32)
