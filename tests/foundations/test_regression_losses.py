"""nnfaq.foundations.regression_losses: MSE, L1, Huber and KL divergence.

Parity with PyTorch (forward and gradient, float64), the claims of the answers, and the refusals specific
to these functions (the shared ones are rows of tests/foundations/contract.py).
"""

import math
import warnings

import pytest
import torch
import torch.nn.functional as F
from helpers import REDUCTIONS, gen, parity, rejects, seeds
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.testing import assert_close

from nnfaq.foundations.regression_losses import huber_loss, kl_div, l1_loss, mse_loss

F64 = torch.float64
shapes = st.lists(st.integers(1, 5), max_size=4).map(tuple)  # () included: PyTorch takes scalars too
batched = st.lists(st.integers(1, 5), min_size=1, max_size=4).map(tuple)

# --- parity --------------------------------------------------------------------------------------


@settings(max_examples=15)
@pytest.mark.parametrize(("ours_fn", "ref_fn"), [(mse_loss, F.mse_loss), (l1_loss, F.l1_loss)])
@given(shape=shapes, seed=seeds, reduction=st.sampled_from(REDUCTIONS), scale=st.sampled_from([1e-3, 1.0, 1e3]))
def test_mse_and_l1_match_torch(ours_fn, ref_fn, shape, seed, reduction, scale):
    g = gen(seed)
    x, y = scale * torch.randn(shape, generator=g, dtype=F64), torch.randn(shape, generator=g, dtype=F64)
    parity(lambda a: ours_fn(a, y, reduction=reduction), lambda b: ref_fn(b, y, reduction=reduction), x, seed=seed)


@settings(max_examples=20)
@given(shape=shapes, seed=seeds, reduction=st.sampled_from(REDUCTIONS), delta=st.floats(1e-3, 1e3))
def test_huber_matches_torch_and_lies_below_half_mse_and_delta_l1(shape, seed, reduction, delta):
    g = gen(seed)
    x, y = 4 * torch.randn(shape, generator=g, dtype=F64), torch.randn(shape, generator=g, dtype=F64)
    parity(lambda a: huber_loss(a, y, reduction, delta), lambda b: F.huber_loss(b, y, reduction, delta), x, seed=seed)
    h, e = huber_loss(x, y, "none", delta), (x - y).abs()
    assert (h <= 0.5 * e**2 + 1e-12).all() and (h <= delta * e + 1e-12).all()
    assert_close(h, delta * F.smooth_l1_loss(x, y, reduction="none", beta=delta))


@st.composite
def kl_case(draw):
    shape, seed = draw(batched), draw(seeds)
    g = gen(seed)
    logq = (3 * torch.randn(shape, generator=g, dtype=F64)).log_softmax(-1)
    p = (3 * torch.randn(shape, generator=g, dtype=F64)).softmax(-1)
    p = torch.where(torch.rand(shape, generator=g) < draw(st.sampled_from([0.0, 0.3])), 0.0, p)  # 0 log 0 = 0
    return logq, p, draw(st.sampled_from([*REDUCTIONS, "batchmean"])), draw(st.booleans()), seed


@settings(max_examples=20)
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


# --- claims --------------------------------------------------------------------------------------


def test_behind_a_sigmoid_mse_stalls_on_confident_mistakes_cross_entropy_does_not():
    z = torch.linspace(-20, -2, 50, dtype=F64, requires_grad=True)  # target 1: all wrong
    one = torch.ones(50, dtype=F64)
    (g_mse,) = torch.autograd.grad(mse_loss(torch.sigmoid(z), one, reduction="sum"), z)
    (g_ce,) = torch.autograd.grad(F.binary_cross_entropy_with_logits(z, one, reduction="sum"), z)
    p = torch.sigmoid(z.detach())
    assert_close(g_mse, 2 * (p - 1) * p * (1 - p))
    assert (g_mse.abs().diff() > 0).all() and g_mse.abs()[z.detach() < -5].max() < 0.02  # the more wrong, the less
    assert (g_ce < -0.88).all()


def test_cross_entropy_is_convex_in_the_logit_mse_of_the_sigmoid_is_not():
    z = torch.linspace(-8, 8, 33, dtype=F64)
    one = torch.ones((), dtype=F64)
    for loss, convex in (
        (lambda t: F.binary_cross_entropy_with_logits(t, one), True),
        (lambda t: mse_loss(torch.sigmoid(t), one), False),
    ):
        second = torch.stack([torch.autograd.functional.hessian(loss, t) for t in z])
        assert bool((second >= 0).all()) == convex


@settings(max_examples=20)
@given(y=st.lists(st.floats(-10, 10), min_size=1, max_size=9), outlier=st.floats(100, 1e4), seed=seeds)
def test_the_best_constant_is_the_median_for_l1_and_the_mean_for_mse(y, outlier, seed):
    y = torch.tensor([*y, outlier], dtype=F64)
    candidates = torch.cat([y, 30 * torch.randn(8, generator=gen(seed), dtype=F64)])

    def at(fn, c):
        return fn(torch.full_like(y, float(c)), y).item()

    lower_median = y.median()  # any point between the two middle values is optimal for L1
    assert all(at(l1_loss, lower_median) <= at(l1_loss, c) + 1e-9 for c in candidates)
    assert all(at(mse_loss, y.mean()) <= at(mse_loss, c) + 1e-9 for c in candidates)
    assert y[:-1].min() <= lower_median <= y[:-1].max()  # the median stays among the ordinary values


def test_gradients_l1_is_the_sign_mse_grows_huber_is_the_clipped_error():
    e = torch.tensor([-100.0, -1.2, -0.1, 0.2, 1.7, 50.0], dtype=F64, requires_grad=True)
    zero = torch.zeros(6, dtype=F64)
    (g1,) = torch.autograd.grad(l1_loss(e, zero, reduction="sum"), e)
    (g2,) = torch.autograd.grad(mse_loss(e, zero, reduction="sum"), e)
    (gh,) = torch.autograd.grad(huber_loss(e, zero, "sum", delta=1.5), e)
    assert g1.tolist() == [-1.0, -1.0, -1.0, 1.0, 1.0, 1.0]
    assert_close(g2, 2 * e.detach())
    assert_close(gh, e.detach().clamp(-1.5, 1.5))
    small = e.detach().abs() <= 1.5
    h = huber_loss(e, zero, "none", delta=1.5).detach()
    assert_close(h[small], 0.5 * e.detach()[small] ** 2)
    assert_close(h[~small], 1.5 * (e.detach()[~small].abs() - 0.75))


@settings(max_examples=20)
@given(batched, seeds)
def test_kl_is_non_negative_asymmetric_and_cross_entropy_minus_entropy_with_its_gradient(shape, seed):
    g = gen(seed)
    p = (2 * torch.randn(shape, generator=g, dtype=F64)).softmax(-1)
    x = 2 * torch.randn(shape, generator=g, dtype=F64)
    q = x.softmax(-1)
    kl = kl_div(q.log(), p, reduction="none").sum(-1)
    assert (kl >= -1e-12).all()
    assert_close(kl_div(p.log(), p, reduction="none").sum(-1), torch.zeros_like(kl), atol=1e-12, rtol=0)
    assert_close(-(p * q.log()).sum(-1), -(p * p.log()).sum(-1) + kl)  # H(p, q) = H(p) + KL(p || q)
    xg = x.reshape(-1, shape[-1]).clone().requires_grad_()
    pg = p.reshape(-1, shape[-1])
    (g_ce,) = torch.autograd.grad(F.cross_entropy(xg, pg), xg)
    (g_kl,) = torch.autograd.grad(kl_div(xg.log_softmax(1), pg, reduction="batchmean"), xg)
    assert_close(g_ce, g_kl)  # the same gradient for fixed targets
    # 'mean' divides by every element, 'batchmean' by the batch: the KL per example
    assert_close(kl_div(q.log(), p, reduction="mean") * p.numel(), kl_div(q.log(), p, reduction="sum"))
    assert_close(kl_div(q.log(), p, reduction="batchmean") * shape[0], kl_div(q.log(), p, reduction="sum"))


def test_kl_of_a_one_hot_target_is_cross_entropy_and_probabilities_as_input_give_a_negative_kl():
    y = torch.randint(0, 4, (6,), generator=gen(0))
    logits = torch.randn(6, 4, generator=gen(1), dtype=F64)
    assert_close(
        kl_div(logits.log_softmax(1), F.one_hot(y, 4).double(), reduction="batchmean"), F.cross_entropy(logits, y)
    )
    p, q = torch.randn(6, 4, generator=gen(2), dtype=F64).softmax(1), logits.softmax(1)
    assert F.kl_div(q, p, reduction="batchmean") < 0 <= kl_div(q.log(), p, reduction="batchmean")  # PyTorch is silent
    rejects("input", kl_div, q, p)


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize("fn", [mse_loss, l1_loss, huber_loss, kl_div])
def test_losses_refuse_a_target_of_another_shape(fn):
    rejects("target", fn, torch.full((3, 2), -1.0), torch.full((3,), 0.5))
    rejects("target", fn, torch.full((3, 2), -1.0), torch.full((2, 3), 0.5))


def test_batchmean_is_only_for_kl_div_and_kl_div_refuses_what_is_not_a_log_probability():
    for fn in (mse_loss, l1_loss, huber_loss):
        rejects("reduction", fn, torch.zeros(2, 3), torch.zeros(2, 3), reduction="batchmean")
    x, p = torch.full((2, 3), -1.0), torch.full((2, 3), 0.5)
    for bad in (1e-12, 2.0, math.nan):
        rejects("input", kl_div, x.clone().index_fill_(1, torch.tensor([1]), bad), p)
        rejects("target", kl_div, x, p.log().index_fill_(1, torch.tensor([1]), bad), log_target=True)
    for bad in (-1e-12, 1 + 1e-6, math.nan):
        rejects("target", kl_div, x, p.clone().index_fill_(1, torch.tensor([1]), bad))
