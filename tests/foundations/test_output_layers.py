"""nnfaq.foundations.output_layers: softmax, log-softmax and the two binary cross-entropies.

Parity with PyTorch (forward and gradient, float64, including PyTorch's clamps), the claims of the answers
(float32 saturation on each side of the sigmoid), and the refusals specific to these functions (the shared
ones are rows of tests/foundations/contract.py).
"""

import math

import pytest
import torch
import torch.nn.functional as F
from helpers import REDUCTIONS, gen, parity, rejects, seeds, small_shapes
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.testing import assert_close

from nnfaq.foundations.output_layers import binary_cross_entropy, binary_cross_entropy_with_logits, log_softmax, softmax

F64 = torch.float64


@st.composite
def shape_and_dim(draw):
    shape = draw(small_shapes)
    return shape, draw(st.integers(-len(shape), len(shape) - 1))


@st.composite
def broadcastable(draw, shape):
    """A shape that broadcasts to ``shape`` without growing it: a suffix of it, some sizes set to 1."""
    k = draw(st.integers(0, len(shape)))
    return tuple(draw(st.sampled_from([1, n])) for n in shape[len(shape) - k :])


# --- parity --------------------------------------------------------------------------------------


@settings(max_examples=20)
@given(shape_and_dim(), seeds, st.sampled_from([1.0, 20.0, 500.0]), st.floats(-1e3, 1e3))
def test_softmax_and_log_softmax_match_torch_and_are_shift_invariant_distributions(sd, seed, scale, shift):
    shape, dim = sd
    x = scale * torch.randn(shape, generator=gen(seed), dtype=F64)
    parity(lambda a: softmax(a, dim), lambda b: F.softmax(b, dim), x, seed=seed)
    parity(lambda a: log_softmax(a, dim), lambda b: F.log_softmax(b, dim), x, seed=seed)
    p = softmax(x, dim)
    assert ((p >= 0) & (p <= 1)).all() and (log_softmax(x, dim) <= 0).all()
    assert_close(p.sum(dim), torch.ones_like(p.sum(dim)))
    assert_close(softmax(x + shift, dim), p)


@st.composite
def bce_case(draw):
    shape = draw(small_shapes)
    weight, pos_weight = draw(st.none() | broadcastable(shape)), draw(st.none() | broadcastable(shape))
    return shape, weight, pos_weight, draw(st.sampled_from(REDUCTIONS)), draw(seeds)


@settings(max_examples=20)
@given(bce_case(), st.sampled_from(["inside", "edges"]))
def test_binary_cross_entropy_matches_torch_with_its_clamps(case, where):
    shape, wshape, _, reduction, seed = case
    g = gen(seed)
    if where == "inside":
        p = torch.rand(shape, generator=g, dtype=F64) * 0.98 + 0.01
    else:  # exactly 0 and 1, and within 1e-13 of them, where both of PyTorch's clamps act
        edges = torch.tensor([0.0, 1e-300, 1e-13, 1 - 1e-13, 1.0], dtype=F64)
        p = edges[torch.randint(0, 5, shape, generator=g)]
    y = torch.rand(shape, generator=g, dtype=F64)
    y = torch.where(torch.rand(shape, generator=g) < 0.5, y.round(), y)  # hard and soft targets
    w = None if wshape is None else torch.rand(wshape, generator=g, dtype=F64) * 2
    parity(
        lambda a: binary_cross_entropy(a, y, w, reduction=reduction),
        lambda b: F.binary_cross_entropy(b, y, w, reduction=reduction),
        p,
        seed=seed,
    )


@settings(max_examples=20)
@given(bce_case(), st.sampled_from([1.0, 5.0, 100.0]))
def test_binary_cross_entropy_with_logits_matches_torch(case, scale):
    shape, wshape, pwshape, reduction, seed = case
    g = gen(seed)
    x = scale * torch.randn(shape, generator=g, dtype=F64)
    x.view(-1)[0] = 0.0  # the kink of |x| in the stable form must not show in the gradient
    y = torch.rand(shape, generator=g, dtype=F64)
    w = None if wshape is None else torch.rand(wshape, generator=g, dtype=F64) * 2
    pw = None if pwshape is None else torch.rand(pwshape, generator=g, dtype=F64) * 4
    parity(
        lambda a: binary_cross_entropy_with_logits(a, y, w, reduction=reduction, pos_weight=pw),
        lambda b: F.binary_cross_entropy_with_logits(b, y, w, reduction=reduction, pos_weight=pw),
        x,
        seed=seed,
    )


# --- claims: softmax and sigmoid ---------------------------------------------------------------


def test_two_class_softmax_is_the_sigmoid_of_the_logit_difference():
    z = 5 * torch.randn(100, 2, generator=gen(0), dtype=F64)
    assert_close(softmax(z, dim=1)[:, 1], torch.sigmoid(z[:, 1] - z[:, 0]))


@pytest.mark.parametrize("gap", [5.0, 10.0, 20.0])
def test_sigmoids_can_say_yes_to_two_labels_a_softmax_cannot(gap):
    y = torch.tensor([[1.0, 1.0, 0.0, 0.0]], dtype=F64)
    logits = torch.tensor([[gap, gap, -gap, -gap]], dtype=F64)
    assert binary_cross_entropy(torch.sigmoid(logits), y).item() < 2 * math.exp(-gap)
    assert softmax(logits, dim=1)[0, :2].max() <= 0.5
    assert F.cross_entropy(logits, y / 2).item() >= math.log(2) - 1e-12


def test_the_naive_softmax_overflows_and_log_of_softmax_is_minus_inf_where_ours_are_exact():
    for dtype, big in ((torch.float32, 100.0), (torch.float64, 1000.0)):
        x = torch.tensor([big, big - 1, big - 2], dtype=dtype)
        assert (x.exp() / x.exp().sum()).isnan().all()
        assert_close(softmax(x, dim=0), softmax(x - big, dim=0))
    z = torch.tensor([0.0, 800.0], dtype=F64)
    assert log_softmax(z, dim=0)[0].item() == -800.0 and torch.log(softmax(z, dim=0))[0].item() == -math.inf


def test_cross_entropy_on_probabilities_is_another_loss_bounded_below_with_vanishing_gradients():
    x = 3 * torch.randn(8, 5, generator=gen(0), dtype=F64)
    t = torch.randint(0, 5, (8,), generator=gen(1))
    right = -log_softmax(x, dim=1)[torch.arange(8), t].mean()
    assert_close(F.cross_entropy(x, t), right)
    assert not torch.allclose(F.cross_entropy(softmax(x, dim=1), t), right)
    assert F.cross_entropy(F.one_hot(t, 5).double(), t).item() == pytest.approx(math.log(1 + 4 / math.e))
    for gap in (10.0, 20.0):
        wrong = torch.tensor([[0.0, gap]], dtype=F64, requires_grad=True)
        (g,) = torch.autograd.grad(F.cross_entropy(softmax(wrong, dim=1), t[:1] * 0), wrong)
        assert g.abs().max() < 1e-3


# --- claims: the two sides of a float32 sigmoid ------------------------------------------------


def test_float32_sigmoid_rounds_to_one_near_17_but_to_zero_only_below_88():
    x = torch.arange(-100.0, 30.0, 0.001, dtype=F64).float()
    s = torch.sigmoid(x)
    one, zero = x[s == 1].min().item(), x[s > 0].min().item()
    assert 16 < one < 17 and -89 < zero < -88


def _loss_and_grad(loss_fn, logits, label):
    x = torch.tensor(logits, requires_grad=True)  # float32
    loss = loss_fn(x, torch.full_like(x, label), reduction="none")
    loss.sum().backward()
    return loss.detach(), x.grad


def _sigmoid_bce(x, y, reduction):
    return binary_cross_entropy(torch.sigmoid(x), y, reduction=reduction)


def test_sigmoid_bce_clamps_a_wrong_negative_and_fades_a_wrong_positive_logits_form_does_neither():
    # a negative example with a large logit: from ~17 the loss is clamped at 100 and the gradient is 0
    logits = [18.0, 30.0, 60.0, 90.0]
    loss, grad = _loss_and_grad(_sigmoid_bce, logits, 0.0)
    assert (loss == 100.0).all() and (grad == 0).all()
    loss, grad = _loss_and_grad(binary_cross_entropy_with_logits, logits, 0.0)
    assert torch.equal(loss, torch.tensor(logits)) and (grad == 1).all()
    # a positive example with a very negative logit: the loss is exact down to -88, but the clamped
    # backward (p (1 - p) at 1e-12) gives 1e12 e^x instead of -1 from x ~ -27.6 on, and 0 below -88.7
    logits = [-30.0, -40.0, -60.0, -88.0]
    loss, grad = _loss_and_grad(_sigmoid_bce, logits, 1.0)
    assert_close(loss, torch.tensor([30.0, 40.0, 60.0, 88.0]))
    assert_close(grad, -1e12 * torch.tensor(logits, dtype=F64).exp().float(), rtol=1e-3, atol=0)
    assert (grad.abs() < 0.1).all()
    loss, grad = _loss_and_grad(_sigmoid_bce, [-89.0, -120.0], 1.0)
    assert (loss == 100.0).all() and (grad == 0).all()
    loss, grad = _loss_and_grad(binary_cross_entropy_with_logits, [-30.0, -88.0, -120.0], 1.0)
    assert torch.equal(loss, torch.tensor([30.0, 88.0, 120.0])) and (grad == -1).all()


@settings(max_examples=10)
@given(small_shapes, seeds)
def test_bce_with_logits_is_bce_of_the_sigmoid_where_it_does_not_saturate_and_its_gradient_is_sigmoid_minus_y(
    shape, seed
):
    g = gen(seed)
    x = 3 * torch.randn(shape, generator=g, dtype=F64)
    y = torch.rand(shape, generator=g, dtype=F64)
    assert_close(
        binary_cross_entropy_with_logits(x, y, reduction="none"),
        binary_cross_entropy(torch.sigmoid(x), y, reduction="none"),
    )
    xg = torch.cat([x.flatten(), torch.tensor([-800.0, 800.0], dtype=F64)]).requires_grad_()
    yg = torch.cat([y.flatten(), torch.tensor([1.0, 0.0], dtype=F64)])
    binary_cross_entropy_with_logits(xg, yg, reduction="sum").backward()
    assert_close(xg.grad, torch.sigmoid(xg.detach()) - yg)


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize("fn", [softmax, log_softmax])
def test_softmax_refuses_a_dim_outside_the_input_scalars_and_empty_class_dims(fn):
    for dim in (2, -3, 10):
        rejects("dim", fn, torch.zeros(3, 4), dim)
    rejects("input", fn, torch.tensor(1.0), 0)
    rejects("input", fn, torch.zeros(3, 0), 1)


@pytest.mark.parametrize("fn", [binary_cross_entropy, binary_cross_entropy_with_logits])
def test_binary_losses_refuse_mismatched_targets_non_broadcasting_weights_and_bad_probabilities(fn):
    half = torch.full((3, 2), 0.5)
    rejects("target", fn, half, torch.full((3,), 0.5))
    for bad in (1.5, -1e-9, math.nan):
        rejects("target", fn, half, half.clone().index_fill_(0, torch.tensor([1]), bad))
    for shape in ((3,), (2, 3, 2), (4, 2)):
        rejects("weight", fn, half, half, torch.ones(shape))
    rejects("weight", fn, half, half, torch.ones(2, dtype=torch.long))
    if fn is binary_cross_entropy_with_logits:
        rejects("pos_weight", fn, half, half, pos_weight=torch.ones(3))
    else:
        for bad in (1.5, -1e-9, math.nan):
            rejects("input", fn, half.clone().index_fill_(0, torch.tensor([0]), bad), half)
