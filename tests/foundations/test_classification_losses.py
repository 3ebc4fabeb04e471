"""nnfaq.classification_losses against PyTorch (forward and gradient, float64) and its claims."""

import math

import pytest
import torch
import torch.nn.functional as F
from helpers import REDUCTIONS, parity
from torch.testing import assert_close

from nnfaq.classification_losses import cross_entropy, cross_entropy_grad, nll_loss, smooth_one_hot

# (input shape, class dimension): unbatched (C,), (B, C) and (B, C, *)
SHAPES = [(5,), (6, 4), (3, 4, 5), (2, 4, 3, 3)]


def _cdim(shape):
    return 0 if len(shape) == 1 else 1


def _index_target(shape, ignore=True):
    C = shape[_cdim(shape)]
    tshape = () if len(shape) == 1 else shape[:1] + shape[2:]
    y = torch.randint(0, C, tshape)
    if ignore and y.dim():
        y.view(-1)[0] = -100
    return y


# --- nll_loss ------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_nll_loss_matches_torch(shape, reduction, weighted):
    logp = torch.randn(shape, dtype=torch.float64).log_softmax(_cdim(shape))
    y = _index_target(shape)
    w = torch.rand(shape[_cdim(shape)], dtype=torch.float64) + 0.1 if weighted else None
    parity(
        lambda a: nll_loss(a, y, w, reduction=reduction),
        lambda b: F.nll_loss(b, y, w, reduction=reduction),
        logp,
    )


def test_nll_loss_custom_ignore_index_and_all_ignored():
    logp = torch.randn(4, 3, dtype=torch.float64).log_softmax(1)
    y = torch.tensor([0, 2, 2, 1])
    assert_close(nll_loss(logp, y, ignore_index=2), F.nll_loss(logp, y, ignore_index=2))
    assert_close(nll_loss(logp, y, ignore_index=2), -(logp[0, 0] + logp[3, 1]) / 2)
    everything = torch.full((4,), -100)
    assert nll_loss(logp, everything).isnan() and F.nll_loss(logp, everything).isnan()


def test_mse_is_gaussian_nll_up_to_constants():
    pred, t = torch.randn(50, dtype=torch.float64), torch.randn(50, dtype=torch.float64)
    gauss = F.gaussian_nll_loss(pred, t, torch.ones(50, dtype=torch.float64), full=True)
    assert_close(gauss, 0.5 * F.mse_loss(pred, t) + 0.5 * math.log(2 * math.pi))


# --- cross_entropy -------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("label_smoothing", [0.0, 0.15])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_with_indices_matches_torch(shape, reduction, label_smoothing, weighted):
    x = 2 * torch.randn(shape, dtype=torch.float64)
    y = _index_target(shape)
    w = torch.rand(shape[_cdim(shape)], dtype=torch.float64) + 0.1 if weighted else None
    kw = dict(reduction=reduction, label_smoothing=label_smoothing)
    parity(lambda a: cross_entropy(a, y, w, **kw), lambda b: F.cross_entropy(b, y, w, **kw), x)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("label_smoothing", [0.0, 0.15])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_with_probabilities_matches_torch(shape, reduction, label_smoothing, weighted):
    x = 2 * torch.randn(shape, dtype=torch.float64)
    q = torch.randn(shape, dtype=torch.float64).softmax(_cdim(shape))
    w = torch.rand(shape[_cdim(shape)], dtype=torch.float64) + 0.1 if weighted else None
    kw = dict(reduction=reduction, label_smoothing=label_smoothing)
    parity(lambda a: cross_entropy(a, q, w, **kw), lambda b: F.cross_entropy(b, q, w, **kw), x)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_sparse_and_categorical_cross_entropy_are_the_same_loss(shape, reduction):
    x = torch.randn(shape, dtype=torch.float64)
    y = _index_target(shape, ignore=False)
    onehot = F.one_hot(y, shape[_cdim(shape)]).double().movedim(-1, _cdim(shape))
    assert_close(cross_entropy(x, onehot, reduction=reduction), cross_entropy(x, y, reduction=reduction))


def test_cross_entropy_is_minus_log_softmax_of_true_class():
    x = torch.randn(7, 3, dtype=torch.float64)
    y = torch.randint(0, 3, (7,))
    assert_close(cross_entropy(x, y), -x.log_softmax(1)[torch.arange(7), y].mean())


def test_cross_entropy_of_probabilities_is_a_different_loss():
    x = 3 * torch.randn(8, 4, dtype=torch.float64)
    y = torch.randint(0, 4, (8,))
    assert not torch.allclose(cross_entropy(x.softmax(1), y), cross_entropy(x, y))


def test_cross_entropy_is_stable_for_huge_logits():
    x = torch.tensor([[1000.0, -1000.0], [0.0, 1e4]], dtype=torch.float64)
    y = torch.tensor([1, 0])
    assert_close(cross_entropy(x, y, reduction="none"), torch.tensor([2000.0, 1e4], dtype=torch.float64))


@pytest.mark.parametrize(
    ("target", "error", "match"),
    [
        (torch.tensor([0, 1, 3]), ValueError, r"target must contain class indices in \[0, 3\) or ignore_index=-100"),
        (torch.tensor([0, -1, 2]), ValueError, r"target must contain class indices in \[0, 3\)"),
        (torch.tensor([0, 1]), ValueError, r"target must have shape \(3,\)"),
        (torch.tensor([True, False, True]), TypeError, "target must hold integer class indices"),
        (torch.full((3, 3), 0.5), ValueError, r"target must contain probabilities|must sum to 1"),
        (torch.tensor([[1.5, -0.5, 0.0]] * 3), ValueError, r"target must contain probabilities in \[0, 1\]"),
        (torch.full((3, 2), 0.5), ValueError, r"target must have shape \(3, 3\)"),
        ([0, 1, 2], TypeError, "target must be a torch.Tensor"),
    ],
)
def test_cross_entropy_rejects_bad_targets(target, error, match):
    with pytest.raises(error, match=match):
        cross_entropy(torch.randn(3, 3), target)


def test_cross_entropy_rejects_bad_options():
    x, y = torch.randn(3, 3), torch.tensor([0, 1, 2])
    with pytest.raises(ValueError, match="label_smoothing must be in"):
        cross_entropy(x, y, label_smoothing=1.5)
    with pytest.raises(ValueError, match="reduction must be one of"):
        cross_entropy(x, y, reduction="batchmean")
    with pytest.raises(ValueError, match=r"weight must have shape \(3,\)"):
        cross_entropy(x, y, torch.ones(4))
    with pytest.raises(TypeError, match="input must be a floating-point tensor"):
        cross_entropy(torch.ones(3, 3, dtype=torch.long), y)
    with pytest.raises(TypeError, match="target must hold integer class indices"):
        nll_loss(x, y.double())


# --- gradient p - y ------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(1, 2), (5, 3), (16, 10)])
def test_cross_entropy_grad_is_p_minus_y_and_matches_autograd(shape):
    x = (4 * torch.randn(shape, dtype=torch.float64)).requires_grad_()
    y = torch.randint(0, shape[1], shape[:1])
    (ref,) = torch.autograd.grad(F.cross_entropy(x, y), x)
    ours = cross_entropy_grad(x, y)
    assert_close(ours, ref)
    p = x.detach().softmax(1)
    assert_close(ours * shape[0], p - F.one_hot(y, shape[1]).double())
    assert_close(ours.sum(1), torch.zeros(shape[0], dtype=torch.float64))
    assert (ours.abs() * shape[0] <= 1).all()


def test_cross_entropy_grad_does_not_vanish_when_confidently_wrong():
    wrong = torch.tensor([[30.0, -30.0, 0.0]], dtype=torch.float64)
    g = cross_entropy_grad(wrong, torch.tensor([1]))
    assert g[0, 1].item() == pytest.approx(-1.0)
    assert g[0, 0].item() == pytest.approx(1.0)


def test_cross_entropy_grad_rejects_bad_arguments():
    with pytest.raises(ValueError, match="input must have 2 dimensions"):
        cross_entropy_grad(torch.randn(3), torch.tensor(1))
    with pytest.raises(ValueError, match=r"target must contain class indices in \[0, 3\)"):
        cross_entropy_grad(torch.randn(2, 3), torch.tensor([0, -100]))


# --- label smoothing -----------------------------------------------------------------------------


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.5, 1.0])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_label_smoothing_is_cross_entropy_against_smoothed_targets(eps, reduction):
    x = torch.randn(9, 5, dtype=torch.float64)
    y = torch.randint(0, 5, (9,))
    q = smooth_one_hot(y, 5, eps)
    assert_close(q.sum(1), torch.ones(9, dtype=torch.float64))
    ref = F.cross_entropy(x, y, label_smoothing=eps, reduction=reduction)
    assert_close(cross_entropy(x, q, reduction=reduction), ref)
    assert_close(F.cross_entropy(x, q, reduction=reduction), ref)


@pytest.mark.parametrize(("eps", "C"), [(0.1, 10), (0.2, 3), (0.05, 100)])
def test_label_smoothing_optimum_is_a_finite_logit_gap(eps, C):
    gap = torch.linspace(0, 15, 3001, dtype=torch.float64)
    logits = torch.zeros(3001, C, dtype=torch.float64)
    logits[:, 0] = gap
    y = torch.zeros(3001, dtype=torch.long)
    hard = cross_entropy(logits, y, reduction="none")
    soft = cross_entropy(logits, y, reduction="none", label_smoothing=eps)
    assert (hard.diff() < 0).all()
    assert gap[soft.argmin()].item() == pytest.approx(math.log(1 + (1 - eps) * C / eps), abs=5e-3)


def test_smooth_one_hot_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"target must contain class indices in \[0, 3\)"):
        smooth_one_hot(torch.tensor([0, 3]), 3)
    with pytest.raises(ValueError, match="num_classes must be >= 2"):
        smooth_one_hot(torch.tensor([0]), 1)
    with pytest.raises(ValueError, match="label_smoothing must be in"):
        smooth_one_hot(torch.tensor([0]), 3, -0.1)
