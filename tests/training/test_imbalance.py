"""nnfaq.training.imbalance: class weights against scikit-learn, pos_weight's equivalences, the focal loss formula."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import gen, rejects
from hypothesis import given
from hypothesis import strategies as st
from torch.testing import assert_close

from nnfaq.training.imbalance import balanced_class_weights, balanced_pos_weight, sigmoid_focal_loss

F64 = torch.float64


@given(counts=st.lists(st.integers(1, 20), min_size=1, max_size=5), seed=st.integers(0, 2**16))
def test_class_weights_match_sklearn_and_balance_the_loss(counts, seed):
    from sklearn.utils.class_weight import compute_class_weight  # not at collection: seconds

    C = len(counts)
    y = torch.cat([torch.full((n,), c) for c, n in enumerate(counts)])
    y = y[torch.randperm(len(y), generator=gen(seed))]
    w = balanced_class_weights(y, C)
    assert np.allclose(w.numpy(), compute_class_weight("balanced", classes=np.arange(C), y=y.numpy()))
    # each class carries the same total weight
    assert_close(torch.bincount(y, minlength=C).double() * w, torch.full((C,), len(y) / C, dtype=F64))
    logits = torch.randn(len(y), C, generator=gen(seed + 1), dtype=F64)
    per = F.cross_entropy(logits, y, reduction="none")
    assert_close(F.cross_entropy(logits, y, weight=w), torch.stack([per[y == c].mean() for c in range(C)]).mean())


@given(pos=st.integers(1, 10), neg=st.integers(0, 30), k=st.integers(1, 5), seed=st.integers(0, 2**16))
def test_integer_pos_weight_is_repeating_positives(pos, neg, k, seed):
    t = torch.cat([torch.ones(pos, dtype=F64), torch.zeros(neg, dtype=F64)])
    x = 2 * torch.randn(pos + neg, generator=gen(seed), dtype=F64)
    weighted = F.binary_cross_entropy_with_logits(x, t, pos_weight=torch.tensor(float(k), dtype=F64), reduction="sum")
    rep = torch.where(t == 1, k, 1)
    ref = F.binary_cross_entropy_with_logits(x.repeat_interleave(rep), t.repeat_interleave(rep), reduction="sum")
    assert_close(weighted, ref)
    assert math.isclose(balanced_pos_weight(t).item(), neg / pos)


def test_pos_weight_per_label_and_best_constant_prediction():
    t = (torch.rand(200, 3, generator=gen(0)) < torch.tensor([0.05, 0.2, 0.5])).double()
    k = balanced_pos_weight(t)
    assert_close(k, (200 - t.sum(0)) / t.sum(0))
    # the minimizer of the weighted loss over one constant logit per label: probability 0.5 for every label
    logit = torch.zeros(3, dtype=F64, requires_grad=True)
    opt = torch.optim.LBFGS([logit], max_iter=100, tolerance_grad=1e-12, tolerance_change=1e-15)

    def closure():
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(logit.expand(200, 3), t, pos_weight=k)
        loss.backward()
        return loss

    opt.step(closure)
    assert_close(torch.sigmoid(logit.detach()), torch.full((3,), 0.5, dtype=F64), atol=1e-6, rtol=0)


@given(
    shape=st.lists(st.integers(1, 4), min_size=1, max_size=3),
    alpha=st.sampled_from([-1.0, 0.0, 0.25, 0.5, 1.0]),
    gamma=st.sampled_from([0.0, 0.5, 1.0, 2.0, 5.0]),
    reduction=st.sampled_from(["none", "mean", "sum"]),
    soft=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_focal_loss_is_its_formula_with_gradients(shape, alpha, gamma, reduction, soft, seed):
    x = 3 * torch.randn(shape, generator=gen(seed), dtype=F64)
    y = torch.rand(shape, generator=gen(seed + 1), dtype=F64)
    y = y if soft else (y < 0.3).double()

    def formula(x):
        p = torch.sigmoid(x)
        p_t = p * y + (1 - p) * (1 - y)
        ce = -(y * torch.log(p) + (1 - y) * torch.log(1 - p))
        loss = ce * (1 - p_t) ** gamma
        if alpha >= 0:
            loss = (alpha * y + (1 - alpha) * (1 - y)) * loss
        return {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]

    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    ours, ref = sigmoid_focal_loss(a, y, alpha, gamma, reduction), formula(b)
    assert_close(ours, ref)
    g = torch.randn(ref.shape, generator=gen(seed + 2), dtype=F64)
    ours.backward(g)
    ref.backward(g)
    assert_close(a.grad, b.grad)


def test_focal_loss_reduces_to_bce_and_is_stable():
    x = torch.tensor([-200.0, -5.0, 0.0, 5.0, 200.0], dtype=F64)
    for y in (torch.zeros(5, dtype=F64), torch.ones(5, dtype=F64)):
        bce = F.binary_cross_entropy_with_logits(x, y, reduction="none")
        assert_close(sigmoid_focal_loss(x, y, alpha=-1, gamma=0), bce)
        assert torch.isfinite(sigmoid_focal_loss(x, y)).all()
    assert torch.autograd.gradcheck(
        lambda t: sigmoid_focal_loss(t, torch.tensor([0.0, 1.0, 1.0], dtype=F64)),
        (torch.randn(3, dtype=F64, requires_grad=True),),
    )


@pytest.mark.parametrize("gamma", [1.0, 2.0, 3.0])
def test_focal_weight_is_one_minus_p_t_to_the_gamma(gamma):
    p_t = torch.tensor([0.1, 0.5, 0.9, 0.99], dtype=F64)
    x = torch.log(p_t / (1 - p_t))
    one = torch.ones(4, dtype=F64)
    ratio = sigmoid_focal_loss(x, one, alpha=-1, gamma=gamma) / F.binary_cross_entropy_with_logits(
        x, one, reduction="none"
    )
    assert_close(ratio, (1 - p_t) ** gamma)


@pytest.mark.parametrize(
    ("fn", "name"),
    [
        (lambda: balanced_class_weights(torch.tensor([0, 0, 2]), 3), "target"),
        (lambda: balanced_class_weights(torch.tensor([0, 3]), 3), "target"),
        (lambda: balanced_class_weights(torch.tensor([0.0, 1.0]), 2), "target"),
        (lambda: balanced_class_weights(torch.tensor([], dtype=torch.long), 2), "target"),
        (lambda: balanced_pos_weight(torch.tensor([0.0, 0.5])), "target"),
        (lambda: balanced_pos_weight(torch.tensor([0.0, 0.0])), "target"),
        (lambda: balanced_pos_weight(torch.zeros(2, 2, 2)), "target"),
        (lambda: sigmoid_focal_loss(torch.zeros(3), torch.zeros(2)), "targets"),
        (lambda: sigmoid_focal_loss(torch.zeros(2), torch.tensor([0.0, 2.0])), "targets"),
    ],
)
def test_rejects_bad_arguments(fn, name):
    rejects(name, fn)
