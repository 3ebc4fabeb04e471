"""Property tests for nnfaq.regression_losses: random valid shapes and options agree with PyTorch (forward and
gradient, float64); random invalid input raises ValueError/TypeError naming the argument."""

import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import REDUCTIONS, gen, non_float_dtypes, parity, rejects, seeds
from hypothesis import given
from hypothesis import strategies as st
from torch.testing import assert_close

from nnfaq.regression_losses import huber_loss, kl_div, l1_loss, mse_loss

F64 = torch.float64

shapes = st.lists(st.integers(1, 5), max_size=4).map(tuple)  # () included: PyTorch takes scalars too
batched = st.lists(st.integers(1, 5), min_size=1, max_size=4).map(tuple)
bad_reductions = st.text(max_size=8).filter(lambda s: s not in [*REDUCTIONS, "batchmean"]) | st.none() | st.integers()
not_tensors = st.sampled_from([None, 1.0, 3, [0.5, 0.5], "x", np.zeros(3)])


# --- valid input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("ours_fn", "ref_fn"), [(mse_loss, F.mse_loss), (l1_loss, F.l1_loss)])
@given(shape=shapes, seed=seeds, reduction=st.sampled_from(REDUCTIONS), scale=st.sampled_from([1e-3, 1.0, 1e3]))
def test_mse_and_l1_match_torch(ours_fn, ref_fn, shape, seed, reduction, scale):
    g = gen(seed)
    x, y = scale * torch.randn(shape, generator=g, dtype=F64), torch.randn(shape, generator=g, dtype=F64)
    parity(lambda a: ours_fn(a, y, reduction=reduction), lambda b: ref_fn(b, y, reduction=reduction), x, seed=seed)


@given(shape=shapes, seed=seeds, reduction=st.sampled_from(REDUCTIONS), delta=st.floats(1e-3, 1e3))
def test_huber_matches_torch_and_is_between_l2_and_l1(shape, seed, reduction, delta):
    g = gen(seed)
    x, y = 4 * torch.randn(shape, generator=g, dtype=F64), torch.randn(shape, generator=g, dtype=F64)
    parity(lambda a: huber_loss(a, y, reduction, delta), lambda b: F.huber_loss(b, y, reduction, delta), x, seed=seed)
    # element-wise: the half squared error below delta, delta times (|e| - delta/2) beyond; never above either
    h = huber_loss(x, y, "none", delta)
    e = (x - y).abs()
    assert (h <= 0.5 * e**2 + 1e-12).all()
    assert (h <= delta * e + 1e-12).all()
    assert_close(h, delta * F.smooth_l1_loss(x, y, reduction="none", beta=delta))


@st.composite
def kl_case(draw):
    shape = draw(batched)
    seed = draw(seeds)
    g = gen(seed)
    logq = (3 * torch.randn(shape, generator=g, dtype=F64)).log_softmax(-1)
    p = (3 * torch.randn(shape, generator=g, dtype=F64)).softmax(-1)
    p = torch.where(torch.rand(shape, generator=g) < draw(st.sampled_from([0.0, 0.3])), 0.0, p)  # 0 log 0 = 0
    return logq, p, draw(st.sampled_from([*REDUCTIONS, "batchmean"])), draw(st.booleans()), seed


@given(kl_case())
def test_kl_div_matches_torch(case):
    logq, p, reduction, log_target, seed = case
    target = p.clamp(min=1e-300).log() if log_target else p
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # PyTorch warns that 'mean' is not the KL
        parity(
            lambda a: kl_div(a, target, reduction=reduction, log_target=log_target),
            lambda b: F.kl_div(b, target, reduction=reduction, log_target=log_target),
            logq,
            seed=seed,
        )


@given(batched, seeds)
def test_kl_div_is_non_negative_zero_at_equality_and_cross_entropy_minus_entropy(shape, seed):
    g = gen(seed)
    p = (2 * torch.randn(shape, generator=g, dtype=F64)).softmax(-1)
    q = (2 * torch.randn(shape, generator=g, dtype=F64)).softmax(-1)
    kl = kl_div(q.log(), p, reduction="none").sum(-1)
    assert (kl >= -1e-12).all()
    assert_close(kl_div(p.log(), p, reduction="none").sum(-1), torch.zeros_like(kl), atol=1e-12, rtol=0)
    assert_close(-(p * q.log()).sum(-1), -(p * p.log()).sum(-1) + kl)


# --- invalid input -------------------------------------------------------------------------------

ALL = [mse_loss, l1_loss, huber_loss, kl_div]


def _pair(shape):
    """Valid input and target for every function: log-probabilities and probabilities."""
    return torch.full(shape, -1.0, dtype=F64), torch.full(shape, 0.5, dtype=F64)


@pytest.mark.parametrize("fn", ALL)
@given(shape=shapes, bad=not_tensors, which=st.sampled_from(["input", "target"]))
def test_losses_reject_non_tensors(fn, shape, bad, which):
    args = dict(zip(["input", "target"], _pair(shape)))
    args[which] = bad
    rejects(which, fn, **args)


@pytest.mark.parametrize("fn", ALL)
@given(shape=shapes, dtype=non_float_dtypes, which=st.sampled_from(["input", "target"]))
def test_losses_reject_non_float_dtypes(fn, shape, dtype, which):
    args = dict(zip(["input", "target"], _pair(shape)))
    args[which] = torch.zeros(shape, dtype=dtype)
    rejects(which, fn, **args)


@pytest.mark.parametrize("fn", ALL)
@given(shape=shapes, other=shapes)
def test_losses_reject_mismatched_shapes(fn, shape, other):
    if other == shape:
        other = (*shape, 2)
    rejects("target", fn, _pair(shape)[0], _pair(other)[1])


@pytest.mark.parametrize("fn", ALL)
@given(bad=bad_reductions)
def test_losses_reject_bad_reduction(fn, bad):
    rejects("reduction", fn, *_pair((2, 3)), reduction=bad)


@pytest.mark.parametrize("fn", [mse_loss, l1_loss, huber_loss])
def test_batchmean_is_only_for_kl_div(fn):
    rejects("reduction", fn, *_pair((2, 3)), reduction="batchmean")


@given(bad=st.floats(max_value=0) | st.just(math.nan) | st.just(math.inf) | st.booleans() | st.none() | st.just("1"))
def test_huber_rejects_bad_delta(bad):
    rejects("delta", huber_loss, *_pair((2, 3)), delta=bad)


@given(shape=batched, index=st.integers(0, 10**6), bad=st.floats(min_value=1e-12) | st.just(math.nan))
def test_kl_div_rejects_input_that_is_not_log_probabilities(shape, index, bad):
    x, p = _pair(shape)
    x.view(-1)[index % x.numel()] = bad
    rejects("input", kl_div, x, p)


@given(
    shape=batched,
    index=st.integers(0, 10**6),
    log_target=st.booleans(),
    data=st.data(),
)
def test_kl_div_rejects_bad_targets(shape, index, log_target, data):
    x, p = _pair(shape)
    if log_target:
        p = p.log()
        bad = data.draw(st.floats(min_value=1e-12) | st.just(math.nan))
    else:
        bad = data.draw(st.floats(max_value=-1e-12) | st.floats(min_value=1 + 1e-12) | st.just(math.nan))
    p.view(-1)[index % p.numel()] = bad
    rejects("target", kl_div, x, p, log_target=log_target)


@given(bad=st.integers() | st.floats() | st.none() | st.just("True"))
def test_kl_div_rejects_non_bool_log_target(bad):
    rejects("log_target", kl_div, *_pair((2, 3)), log_target=bad)
