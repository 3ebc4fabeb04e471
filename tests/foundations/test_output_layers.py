"""nnfaq.output_layers against PyTorch (forward and gradient, float64) and its claims."""

import math

import pytest
import torch
import torch.nn.functional as F
from helpers import REDUCTIONS, parity
from torch.testing import assert_close

from nnfaq.output_layers import binary_cross_entropy, binary_cross_entropy_with_logits, log_softmax, softmax

SHAPES_DIMS = [((7,), 0), ((4, 9), 1), ((4, 9), 0), ((2, 3, 5), -1), ((2, 3, 4, 5), 1)]


# --- softmax / log_softmax -----------------------------------------------------------------------


@pytest.mark.parametrize(("shape", "dim"), SHAPES_DIMS)
@pytest.mark.parametrize("scale", [1.0, 50.0])
def test_softmax_and_log_softmax_match_torch(shape, dim, scale):
    x = scale * torch.randn(shape, dtype=torch.float64)
    parity(softmax, F.softmax, x, dim=dim)
    parity(log_softmax, F.log_softmax, x, dim=dim)


def test_two_class_softmax_is_sigmoid_of_logit_difference():
    z = 5 * torch.randn(100, 2, dtype=torch.float64)
    assert_close(softmax(z, dim=1)[:, 1], torch.sigmoid(z[:, 1] - z[:, 0]))
    assert_close(softmax(z, dim=1)[:, 0], torch.sigmoid(z[:, 0] - z[:, 1]))


def test_softmax_makes_labels_compete_sigmoid_does_not():
    logits = torch.tensor([6.0, 6.0, -6.0], dtype=torch.float64)
    assert softmax(logits, dim=0)[:2].max() < 0.51
    assert torch.sigmoid(logits)[:2].min() > 0.99


def test_naive_softmax_overflows_where_stable_one_does_not():
    for dtype, big in ((torch.float32, 100.0), (torch.float64, 1000.0)):
        x = torch.tensor([big, big - 1, big - 2], dtype=dtype)
        naive = x.exp() / x.exp().sum()
        assert naive.isnan().all()
        ours = softmax(x, dim=0)
        assert torch.isfinite(ours).all()
        assert_close(ours, softmax(x - big, dim=0))


def test_log_softmax_is_exact_where_log_of_softmax_is_minus_inf():
    z = torch.tensor([0.0, 800.0], dtype=torch.float64)
    assert log_softmax(z, dim=0)[0].item() == -800.0
    assert torch.log(softmax(z, dim=0))[0].item() == -math.inf


def test_cross_entropy_on_probabilities_is_a_different_bounded_loss():
    x = 3 * torch.randn(8, 5, dtype=torch.float64)
    t = torch.randint(0, 5, (8,))
    right = -log_softmax(x, dim=1)[torch.arange(8), t].mean()
    assert_close(F.cross_entropy(x, t), right)
    assert not torch.allclose(F.cross_entropy(softmax(x, dim=1), t), right)
    perfect = F.one_hot(t, 5).double()
    assert F.cross_entropy(perfect, t).item() == pytest.approx(math.log(1 + 4 / math.e))


@pytest.mark.parametrize("fn", [softmax, log_softmax])
def test_softmax_rejects_bad_arguments(fn):
    with pytest.raises(ValueError, match=r"dim must be in \[-2, 2\)"):
        fn(torch.randn(3, 4), dim=2)
    with pytest.raises(TypeError, match="dim must be an int"):
        fn(torch.randn(3, 4), dim=1.0)
    with pytest.raises(TypeError, match="input must be a floating-point tensor"):
        fn(torch.arange(4), dim=0)
    with pytest.raises(ValueError, match="input must have at least 1 dimensions"):
        fn(torch.tensor(1.0), dim=0)


# --- binary cross-entropy ------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(7,), (4, 3), (2, 3, 5)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_binary_cross_entropy_matches_torch(shape, reduction, weighted):
    p = torch.rand(shape, dtype=torch.float64) * 0.98 + 0.01
    y = torch.rand(shape, dtype=torch.float64)
    w = torch.rand(shape[-1], dtype=torch.float64) if weighted else None
    parity(binary_cross_entropy, F.binary_cross_entropy, p, y, w, reduction=reduction)


def test_binary_cross_entropy_clamps_log_at_minus_100_like_torch():
    p = torch.tensor([0.0, 1.0, 0.0, 1.0], dtype=torch.float64)
    y = torch.tensor([1.0, 0.0, 0.0, 1.0], dtype=torch.float64)
    ours = binary_cross_entropy(p, y, reduction="none")
    assert_close(ours, F.binary_cross_entropy(p, y, reduction="none"))
    assert ours.tolist() == [100.0, 100.0, 0.0, 0.0]


def test_multi_label_sigmoid_reaches_zero_loss_softmax_cannot():
    y = torch.tensor([[1.0, 1.0, 0.0, 0.0]], dtype=torch.float64)
    for gap in (5.0, 10.0, 20.0):
        logits = torch.tensor([[gap, gap, -gap, -gap]], dtype=torch.float64)
        assert binary_cross_entropy(torch.sigmoid(logits), y).item() < 2 * math.exp(-gap)
        assert F.cross_entropy(logits, y / 2).item() >= math.log(2) - 1e-12


@pytest.mark.parametrize("shape", [(7,), (4, 3), (2, 3, 5)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("options", ["plain", "weight", "pos_weight", "both"])
def test_bce_with_logits_matches_torch(shape, reduction, options):
    x = 4 * torch.randn(shape, dtype=torch.float64)
    x.view(-1)[0] = 0.0  # the kink of |x| in the stable formula must not show in the gradient
    y = torch.rand(shape, dtype=torch.float64)
    w = torch.rand(shape[-1], dtype=torch.float64) if options in ("weight", "both") else None
    pw = 3 * torch.rand(shape[-1], dtype=torch.float64) if options in ("pos_weight", "both") else None
    kwargs = dict(reduction=reduction, pos_weight=pw)
    parity(binary_cross_entropy_with_logits, F.binary_cross_entropy_with_logits, x, y, w, **kwargs)


def test_sigmoid_plus_bce_clamps_where_with_logits_stays_exact():
    one = torch.ones(1, dtype=torch.float64)
    for logit in (-800.0, -2000.0):
        a = torch.tensor([logit], dtype=torch.float64, requires_grad=True)
        clamped = binary_cross_entropy(torch.sigmoid(a), one)
        clamped.backward()
        assert clamped.item() == 100.0 and a.grad.item() == 0.0
        b = torch.tensor([logit], dtype=torch.float64, requires_grad=True)
        exact = binary_cross_entropy_with_logits(b, one)
        exact.backward()
        assert exact.item() == -logit and b.grad.item() == -1.0
    # in float32 the sigmoid saturates much earlier, near |x| = 17 for 1 - sigmoid(x)
    x32 = torch.tensor([20.0])
    assert F.binary_cross_entropy(torch.sigmoid(x32), torch.zeros(1)).item() == 100.0
    assert binary_cross_entropy_with_logits(x32, torch.zeros(1)).item() == pytest.approx(20.0, rel=1e-6)


def test_bce_with_logits_gradient_is_sigmoid_minus_target():
    x = torch.cat([5 * torch.randn(20, dtype=torch.float64), torch.zeros(2, dtype=torch.float64)])
    x = torch.cat([x, torch.tensor([-800.0, 800.0], dtype=torch.float64)]).requires_grad_()
    y = torch.randint(0, 2, (24,)).double()
    binary_cross_entropy_with_logits(x, y, reduction="sum").backward()
    assert_close(x.grad, torch.sigmoid(x.detach()) - y)


@pytest.mark.parametrize("fn", [binary_cross_entropy, binary_cross_entropy_with_logits])
def test_binary_losses_reject_bad_arguments(fn):
    p = torch.full((3, 2), 0.5)
    with pytest.raises(ValueError, match=r"target must have shape \(3, 2\)"):
        fn(p, torch.zeros(3))
    with pytest.raises(ValueError, match=r"target must contain probabilities in \[0, 1\]"):
        fn(p, torch.full((3, 2), 1.5))
    with pytest.raises(ValueError, match="reduction must be one of"):
        fn(p, p, reduction="avg")
    with pytest.raises(TypeError, match="target must be a floating-point tensor"):
        fn(p, torch.ones(3, 2, dtype=torch.long))


def test_binary_cross_entropy_rejects_input_outside_unit_interval():
    with pytest.raises(ValueError, match=r"input must contain probabilities in \[0, 1\]"):
        binary_cross_entropy(torch.tensor([2.0, 0.5]), torch.tensor([1.0, 0.0]))
