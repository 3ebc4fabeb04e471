"""nnfaq.foundations.classification_losses: NLL, cross-entropy, its gradient and label smoothing.

Parity with PyTorch (forward and gradient, float64), the claims of the answers (the gradient p - y, the
optimum of label smoothing, loss versus cost), and the refusals specific to these functions (the shared
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

from nnfaq.foundations.classification_losses import cross_entropy, cross_entropy_grad, nll_loss, smooth_one_hot

F64 = torch.float64


def _cdim(shape):
    """PyTorch's layout: classes on dimension 0 for (C,), else on dimension 1 of (B, C, *)."""
    return 0 if len(shape) == 1 else 1


def _tshape(shape):
    """Index targets: input's shape without the class dimension."""
    c = _cdim(shape)
    return shape[:c] + shape[c + 1 :]


@st.composite
def index_case(draw):
    """Logits, index targets (some equal to ignore_index), class weights and the options."""
    shape, seed = draw(small_shapes), draw(seeds)
    g = gen(seed)
    C = shape[_cdim(shape)]
    ignore_index = draw(st.sampled_from([-100, -1, C + 2]) | st.integers(0, C - 1))
    y = torch.randint(0, C, _tshape(shape), generator=g)
    drop = torch.rand(y.shape, generator=g) < draw(st.sampled_from([0.0, 0.3, 1.0]))
    y = torch.where(drop, torch.full_like(y, ignore_index), y)
    w = torch.rand(C, generator=g, dtype=F64) + 0.1 if draw(st.booleans()) else None
    x = draw(st.sampled_from([1.0, 10.0, 300.0])) * torch.randn(shape, generator=g, dtype=F64)
    return x, y, w, ignore_index, draw(st.sampled_from(REDUCTIONS)), seed


# --- parity --------------------------------------------------------------------------------------


@settings(max_examples=20)
@given(index_case())
def test_nll_loss_matches_torch(case):
    x, y, w, ignore_index, reduction, seed = case
    kw = dict(ignore_index=ignore_index, reduction=reduction)
    # equal_nan: the mean over only ignored targets is 0/0 in both
    parity(
        lambda a: nll_loss(a, y, w, **kw),
        lambda b: F.nll_loss(b, y, w, **kw),
        x.log_softmax(_cdim(x.shape)),
        seed=seed,
        equal_nan=True,
    )


@settings(max_examples=20)
@given(index_case(), st.floats(0, 1))
def test_cross_entropy_with_indices_matches_torch(case, eps):
    x, y, w, ignore_index, reduction, seed = case
    kw = dict(ignore_index=ignore_index, reduction=reduction, label_smoothing=eps)
    parity(
        lambda a: cross_entropy(a, y, w, **kw), lambda b: F.cross_entropy(b, y, w, **kw), x, seed=seed, equal_nan=True
    )


@settings(max_examples=20)
@given(small_shapes, seeds, st.floats(0, 1), st.sampled_from(REDUCTIONS), st.booleans(), st.booleans())
def test_cross_entropy_with_probabilities_matches_torch_and_one_hot_equals_indices(
    shape, seed, eps, reduction, weighted, hard
):
    g = gen(seed)
    cdim, C = _cdim(shape), shape[_cdim(shape)]
    x = 5 * torch.randn(shape, generator=g, dtype=F64)
    y = torch.randint(0, C, _tshape(shape), generator=g)
    onehot = F.one_hot(y, C).to(F64).movedim(-1, cdim)
    q = onehot if hard else torch.randn(shape, generator=g, dtype=F64).softmax(cdim)
    w = torch.rand(C, generator=g, dtype=F64) + 0.1 if weighted else None
    kw = dict(reduction=reduction, label_smoothing=eps)
    parity(lambda a: cross_entropy(a, q, w, **kw), lambda b: F.cross_entropy(b, q, w, **kw), x, seed=seed)
    # "sparse" and "categorical" are the same loss, and cross-entropy is NLL of the log-softmax
    assert_close(cross_entropy(x, onehot, reduction=reduction), cross_entropy(x, y, reduction=reduction))
    assert_close(cross_entropy(x, y, reduction=reduction), nll_loss(x.log_softmax(cdim), y, reduction=reduction))


@settings(max_examples=20)
@given(st.integers(1, 6), st.integers(1, 6), seeds, st.sampled_from([1.0, 10.0, 300.0]))
def test_cross_entropy_grad_is_autograds_and_is_p_minus_y(B, C, seed, scale):
    g = gen(seed)
    x = (scale * torch.randn(B, C, generator=g, dtype=F64)).requires_grad_()
    y = torch.randint(0, C, (B,), generator=g)
    (ref,) = torch.autograd.grad(F.cross_entropy(x, y), x)
    ours = cross_entropy_grad(x, y)
    assert_close(ours, ref)
    assert_close(B * ours, x.detach().softmax(1) - F.one_hot(y, C).to(F64))
    assert_close(ours.sum(1), torch.zeros(B, dtype=F64), atol=1e-12, rtol=0)  # sums to 0 over the classes
    assert (ours.abs() * B <= 1 + 1e-12).all()  # bounded in [-1, 1]


@settings(max_examples=20)
@given(st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple), st.integers(2, 6), st.floats(0, 1), seeds)
def test_smooth_one_hot_is_pytorchs_label_smoothing(tshape, C, eps, seed):
    g = gen(seed)
    y = torch.randint(0, C, tshape, generator=g)
    q = smooth_one_hot(y, C, eps)
    assert q.shape == (*tshape, C) and q.dtype == F64
    assert_close(q.sum(-1), torch.ones(tshape, dtype=F64))
    x = 3 * torch.randn((*tshape[:1], C, *tshape[1:]), generator=g, dtype=F64)
    ref = F.cross_entropy(x, y, label_smoothing=eps)
    assert_close(cross_entropy(x, q.movedim(-1, 1)), ref)
    assert_close(cross_entropy(x, y, label_smoothing=eps), ref)


# --- claims --------------------------------------------------------------------------------------


def test_cross_entropy_is_exact_for_huge_logits_and_nan_when_every_target_is_ignored():
    x = torch.tensor([[1000.0, -1000.0], [0.0, 1e4]], dtype=F64)
    assert_close(cross_entropy(x, torch.tensor([1, 0]), reduction="none"), torch.tensor([2000.0, 1e4], dtype=F64))
    logp = torch.randn(4, 3, generator=gen(0), dtype=F64).log_softmax(1).requires_grad_()
    everything = torch.full((4,), -100)
    loss = nll_loss(logp, everything)
    loss.backward()
    assert loss.isnan() and F.nll_loss(logp, everything).isnan()
    assert not logp.grad.any()  # one all-ignored batch does not poison the weights


def test_a_confident_mistake_gets_the_largest_gradient_a_right_but_unsure_answer_still_gets_one():
    # each row predicts class 0 with a higher and higher logit; the target is always 0
    margins = torch.tensor([0.01, 0.3, 1.0, 3.0, 8.0], dtype=F64)
    right = torch.stack([margins, torch.zeros(5, dtype=F64), torch.zeros(5, dtype=F64)], dim=1)
    g = 5 * cross_entropy_grad(right, torch.zeros(5, dtype=torch.long))[:, 0]
    assert (right.argmax(1) == 0).all() and (g < 0).all() and (g.diff() > 0).all()  # shrinks with confidence
    assert g[0] < -0.6 and g[-1] > -1e-3  # unsure: about -2/3; confident: almost nothing
    wrong = torch.tensor([[-30.0, 30.0, 0.0]], dtype=F64)
    assert cross_entropy_grad(wrong, torch.tensor([0]))[0, 0].item() == pytest.approx(-1.0)


@pytest.mark.parametrize(("eps", "C"), [(0.1, 10), (0.2, 3), (0.05, 100)])
def test_label_smoothing_has_its_optimum_at_a_finite_gap_with_confidence_below_one(eps, C):
    gap = torch.linspace(0, 15, 1501, dtype=F64)
    logits = torch.zeros(1501, C, dtype=F64)
    logits[:, 0] = gap
    y = torch.zeros(1501, dtype=torch.long)
    assert (cross_entropy(logits, y, reduction="none").diff() < 0).all()  # hard targets: always larger
    soft = cross_entropy(logits, y, reduction="none", label_smoothing=eps)
    best = math.log(1 + (1 - eps) * C / eps)
    assert abs(gap[soft.argmin()].item() - best) <= 0.01
    z = smooth_one_hot(torch.tensor([0]), C, eps).log().requires_grad_()
    (g,) = torch.autograd.grad(cross_entropy(z, torch.tensor([0]), label_smoothing=eps), z)
    assert g.abs().max() < 1e-12  # the optimum: softmax = the smoothed target
    assert z.softmax(1)[0, 0].item() == pytest.approx(1 - eps + eps / C)
    assert (z[0, 0] - z[0, 1]).item() == pytest.approx(best)


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.3])
def test_the_population_optimum_is_the_true_distribution_only_without_smoothing(eps):
    p = torch.randn(5, generator=gen(7), dtype=F64).softmax(0)  # the true class distribution of an input
    labels = torch.arange(5)

    def expected_loss(z):  # E_{y ~ p} of the (smoothed) cross-entropy at logits z
        return cross_entropy(z.expand(5, 5), labels, reduction="none", label_smoothing=eps) @ p

    opt = (1 - eps) * p + eps / 5
    z = opt.log().requires_grad_()
    (g,) = torch.autograd.grad(expected_loss(z), z)
    assert g.abs().max() < 1e-12  # the loss is convex in z, so this is the minimum
    assert torch.allclose(z.softmax(0), p) == (eps == 0.0)  # calibrated only without smoothing


def test_the_cost_is_the_mean_loss_plus_regularization_and_weight_decay_minimizes_it():
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3, bias=False, dtype=F64)
    x, y = torch.randn(6, 4, generator=gen(0), dtype=F64), torch.tensor([0, 2, 1, 1, 0, 2])
    losses = cross_entropy(model(x), y, reduction="none")
    assert losses.shape == (6,)
    cost = losses.mean() + 0.1 / 2 * model.weight.pow(2).sum()
    (g_cost,) = torch.autograd.grad(cost, model.weight, retain_graph=True)
    (g_loss,) = torch.autograd.grad(losses.mean(), model.weight)
    assert_close(g_cost - g_loss, 0.1 * model.weight.detach())
    w0 = model.weight.detach().clone()
    opt = torch.optim.SGD(model.parameters(), lr=0.5, weight_decay=0.1)
    F.cross_entropy(model(x), y).backward()
    opt.step()
    assert_close(model.weight.detach(), w0 - 0.5 * g_cost)


def test_mse_is_the_nll_of_a_unit_variance_gaussian_up_to_constants():
    pred, t = torch.randn(50, generator=gen(0), dtype=F64), torch.randn(50, generator=gen(1), dtype=F64)
    gauss = F.gaussian_nll_loss(pred, t, torch.ones(50, dtype=F64), full=True)
    assert_close(gauss, 0.5 * F.mse_loss(pred, t) + 0.5 * math.log(2 * math.pi))


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize("fn", [nll_loss, cross_entropy, cross_entropy_grad])
def test_losses_refuse_out_of_range_or_mismatched_class_indices(fn):
    x = torch.zeros(3, 4, dtype=F64)
    for bad in ([0, 1, 4], [0, -1, 2], [0, 1], [[0, 1, 2]]):
        rejects("target", fn, x, torch.tensor(bad))
    for dtype in (torch.bool, torch.complex64):
        rejects("target", fn, x, torch.zeros(3, dtype=dtype))
    rejects("input", fn, torch.zeros(3, 0, dtype=F64), torch.full((3,), -100))
    with pytest.raises(ValueError, match=r"target must contain class indices in \[0, 4\)"):
        fn(x, torch.tensor([1, 2, 4]))


def test_index_losses_refuse_float_targets_and_bad_class_weights():
    x = torch.zeros(3, 4, dtype=F64)
    for fn in (nll_loss, cross_entropy_grad):
        rejects("target", fn, x, torch.zeros(3, dtype=F64))
    rejects("target", cross_entropy_grad, x, torch.tensor([0, -100, 1]))  # no ignore_index here
    for fn in (nll_loss, cross_entropy):
        for bad in (torch.ones(3, dtype=F64), torch.ones(4, 1, dtype=F64), torch.ones(4, dtype=torch.long), [1.0] * 4):
            rejects("weight", fn, x, torch.tensor([0, 1, 2]), bad)


def test_cross_entropy_refuses_probability_targets_that_are_not_distributions_of_the_right_shape():
    x = torch.zeros(3, 4, dtype=F64)
    q = torch.full((3, 4), 0.25, dtype=F64)
    for bad in (
        q * 0.9,
        q.clone().index_fill_(1, torch.tensor([0]), math.nan),
        q.clone().index_fill_(1, torch.tensor([0]), -0.1),
    ):
        rejects("target", cross_entropy, x, bad)
    rejects("target", cross_entropy, x, torch.full((3, 5), 0.2, dtype=F64))


def test_smooth_one_hot_refuses_indices_outside_its_classes():
    for bad in ([0, 3], [-1, 0], [2**62]):
        rejects("target", smooth_one_hot, torch.tensor(bad), 3)
    rejects("target", smooth_one_hot, torch.zeros(2, dtype=F64), 3)
