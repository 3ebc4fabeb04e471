"""nnfaq.regression_losses against PyTorch (forward and gradient, float64) and its claims."""

import warnings

import pytest
import torch
import torch.nn.functional as F
from helpers import REDUCTIONS, parity
from torch.testing import assert_close

from nnfaq.regression_losses import huber_loss, kl_div, l1_loss, mse_loss

SHAPES = [(7,), (4, 9), (2, 3, 5)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(("ours_fn", "ref_fn"), [(mse_loss, F.mse_loss), (l1_loss, F.l1_loss)])
def test_mse_and_l1_match_torch(shape, reduction, ours_fn, ref_fn):
    x, y = torch.randn(shape, dtype=torch.float64), torch.randn(shape, dtype=torch.float64)
    parity(lambda a: ours_fn(a, y, reduction=reduction), lambda b: ref_fn(b, y, reduction=reduction), x)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("delta", [0.5, 1.0, 3.0])
def test_huber_matches_torch(shape, reduction, delta):
    x, y = 3 * torch.randn(shape, dtype=torch.float64), torch.randn(shape, dtype=torch.float64)
    parity(lambda a: huber_loss(a, y, reduction, delta), lambda b: F.huber_loss(b, y, reduction, delta), x)


def test_mse_gradient_vanishes_at_saturated_wrong_logit_cross_entropy_does_not():
    one = torch.ones(1, dtype=torch.float64)
    for logit in (-5.0, -10.0, -20.0):
        z = torch.tensor([logit], dtype=torch.float64, requires_grad=True)
        (g_mse,) = torch.autograd.grad(mse_loss(torch.sigmoid(z), one), z)
        (g_ce,) = torch.autograd.grad(F.binary_cross_entropy_with_logits(z, one), z)
        p = torch.sigmoid(z.detach())
        assert_close(g_mse, 2 * (p - 1) * p * (1 - p))
        assert abs(g_mse.item()) < 0.02
        assert g_ce.item() < -0.99
    # the smaller the probability of the true class, the smaller MSE's gradient: it stalls on mistakes
    z = torch.linspace(-20, -2, 50, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(mse_loss(torch.sigmoid(z), torch.ones(50, dtype=torch.float64), reduction="sum"), z)
    assert (g.abs().diff() > 0).all()


def test_l1_constant_optimum_is_the_median_mse_the_mean():
    y = torch.tensor([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 1000.0], dtype=torch.float64)
    c = torch.linspace(0, 1000, 4001, dtype=torch.float64)  # step 0.25
    l1 = torch.stack([l1_loss(ci.expand(7), y) for ci in c])
    l2 = torch.stack([mse_loss(ci.expand(7), y) for ci in c])
    assert c[l1.argmin()].item() == y.median().item() == 3.0
    assert c[l2.argmin()].item() == pytest.approx(y.mean().item(), abs=0.125)


def test_l1_gradient_is_sign_mse_gradient_is_proportional():
    e = torch.tensor([-100.0, -0.1, 0.2, 50.0], dtype=torch.float64, requires_grad=True)
    zero = torch.zeros(4, dtype=torch.float64)
    (g1,) = torch.autograd.grad(l1_loss(e, zero, reduction="sum"), e)
    (g2,) = torch.autograd.grad(mse_loss(e, zero, reduction="sum"), e)
    assert g1.tolist() == [-1.0, -1.0, 1.0, 1.0]
    assert_close(g2, 2 * e.detach())


def test_huber_is_quadratic_then_linear_with_clipped_gradient():
    delta = 1.5
    e = torch.linspace(-6, 6, 241, dtype=torch.float64, requires_grad=True)
    zero = torch.zeros_like(e)
    loss = huber_loss(e, zero, "none", delta)
    (g,) = torch.autograd.grad(loss.sum(), e)
    small = e.detach().abs() <= delta
    assert_close(loss[small], 0.5 * e.detach()[small] ** 2)
    assert_close(loss[~small], delta * (e.detach()[~small].abs() - delta / 2))
    assert_close(g, e.detach().clamp(-delta, delta))
    assert_close(huber_loss(e, zero, "mean", delta), delta * F.smooth_l1_loss(e, zero, beta=delta))


@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 6)])
@pytest.mark.parametrize("reduction", [*REDUCTIONS, "batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_matches_torch(shape, reduction, log_target):
    logq = torch.randn(shape, dtype=torch.float64).log_softmax(-1)
    p = torch.randn(shape, dtype=torch.float64).softmax(-1)
    p[0, 0] = 0.0  # 0 log 0 = 0
    target = p.clamp(min=1e-300).log() if log_target else p
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # PyTorch warns that 'mean' is not the KL
        parity(
            lambda a: kl_div(a, target, reduction=reduction, log_target=log_target),
            lambda b: F.kl_div(b, target, reduction=reduction, log_target=log_target),
            logq,
        )


def test_kl_div_is_the_textbook_kl_and_cross_entropy_minus_entropy():
    p = torch.randn(6, 4, dtype=torch.float64).softmax(1)
    q = torch.randn(6, 4, dtype=torch.float64).softmax(1)
    kl = kl_div(q.log(), p, reduction="batchmean")
    assert_close(kl, (p * (p / q).log()).sum(1).mean())
    assert kl.item() > 0
    assert_close(kl_div(p.log(), p, reduction="batchmean"), torch.zeros((), dtype=torch.float64))
    ce = -(p * q.log()).sum(1).mean()
    entropy = -(p * p.log()).sum(1).mean()
    assert_close(ce, entropy + kl)
    assert not torch.allclose(kl, kl_div(p.log(), q, reduction="batchmean"))
    assert_close(kl_div(q.log(), p) * 4, kl)
    # one-hot targets: KL equals cross-entropy
    y = torch.randint(0, 4, (6,))
    logits = torch.randn(6, 4, dtype=torch.float64)
    onehot = F.one_hot(y, 4).double()
    assert_close(kl_div(logits.log_softmax(1), onehot, reduction="batchmean"), F.cross_entropy(logits, y))


def test_kl_div_refuses_probabilities_as_input():
    p = torch.randn(3, 4).softmax(1)
    with pytest.raises(ValueError, match="input must contain log-probabilities"):
        kl_div(p, p)


@pytest.mark.parametrize("fn", [mse_loss, l1_loss, huber_loss, kl_div])
def test_regression_losses_reject_bad_arguments(fn):
    x = -torch.rand(3, 2)
    with pytest.raises(ValueError, match=r"target must have shape \(3, 2\)"):
        fn(x, torch.zeros(3))
    with pytest.raises(ValueError, match="reduction must be one of"):
        fn(x, x.exp(), reduction="avg")
    with pytest.raises(TypeError, match="input must be a floating-point tensor"):
        fn(torch.zeros(3, 2, dtype=torch.long), x)


def test_huber_and_kl_reject_bad_options():
    x = -torch.rand(3, 2)
    with pytest.raises(ValueError, match="delta must be in"):
        huber_loss(x, x, delta=0.0)
    with pytest.raises(ValueError, match=r"target must contain probabilities in \[0, 1\]"):
        kl_div(x, x)
    with pytest.raises(ValueError, match="target must contain log-probabilities"):
        kl_div(x, -x, log_target=True)
    with pytest.raises(TypeError, match="log_target must be True or False"):
        kl_div(x, x.exp(), log_target=1)
