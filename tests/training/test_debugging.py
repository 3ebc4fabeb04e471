"""nnfaq.training.debugging: overfitting one batch, finite differences against autograd and gradcheck, NaN hunting."""

import math
import warnings

import pytest
import torch
import torch.nn.functional as F
from helpers import gen, rejects
from hypothesis import given
from hypothesis import strategies as st
from torch.testing import assert_close

from nnfaq.training.debugging import first_nonfinite, numerical_gradient, overfit_one_batch

F64 = torch.float64
nn = torch.nn


# --- numerical_gradient --------------------------------------------------------------------------


@given(shape=st.lists(st.integers(1, 3), min_size=1, max_size=3), seed=st.integers(0, 2**16))
def test_numerical_gradient_matches_autograd(shape, seed):
    x = torch.randn(shape, generator=gen(seed), dtype=F64)

    def f(t):
        return (torch.sin(t) * t.exp()).sum() + (t**2).mean()

    leaf = x.clone().requires_grad_()
    (auto,) = torch.autograd.grad(f(leaf), leaf)
    num = numerical_gradient(f, x)
    assert num.shape == x.shape and num.dtype == x.dtype
    assert_close(num, auto, atol=1e-7, rtol=1e-6)
    assert torch.equal(x, torch.randn(shape, generator=gen(seed), dtype=F64))  # input untouched


def test_numerical_gradient_agrees_with_gradcheck_on_a_buggy_backward():
    class Square(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * x  # missing the factor 2

    x = torch.randn(4, dtype=F64, requires_grad=True)
    assert not torch.autograd.gradcheck(Square.apply, (x,), raise_exception=False)
    (analytic,) = torch.autograd.grad(Square.apply(x).sum(), x)
    assert_close(numerical_gradient(lambda t: Square.apply(t).sum(), x.detach()), 2 * analytic)


@pytest.mark.parametrize("seed", range(3))
def test_float32_is_too_coarse_for_a_float64_tolerance(seed):
    W = torch.randn(3, 4, generator=gen(seed), dtype=F64)
    x = torch.randn(4, generator=gen(seed + 1), dtype=F64, requires_grad=True)
    (auto,) = torch.autograd.grad(torch.tanh(W @ x).pow(2).sum(), x)
    f32 = lambda t: torch.tanh(W.float() @ t).pow(2).sum()  # noqa: E731
    best32 = min(
        (numerical_gradient(f32, x.detach().float(), eps) - auto.float()).abs().max().item()
        for eps in (1e-2, 1e-3, 1e-4)
    )
    err64 = (numerical_gradient(lambda t: torch.tanh(W @ t).pow(2).sum(), x.detach()) - auto).abs().max().item()
    assert best32 > 100 * err64


# --- overfit_one_batch ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1])
def test_correct_model_overfits_and_final_relu_bug_stalls(seed):
    torch.manual_seed(seed)
    x, y = torch.randn(8, 4), torch.randn(8, 1) - 0.5
    good = overfit_one_batch(nn.Sequential(nn.Linear(4, 32), nn.Tanh(), nn.Linear(32, 1)), F.mse_loss, x, y)
    bad = overfit_one_batch(nn.Sequential(nn.Linear(4, 32), nn.Tanh(), nn.Linear(32, 1), nn.ReLU()), F.mse_loss, x, y)
    assert good.shape == (300,) and good.dtype == F64
    assert good[-1] < 1e-6 * good[0]
    assert bad[-1] >= (y.clamp(max=0) ** 2).mean().item() - 1e-6
    # probabilities instead of logits: cross-entropy on softmax outputs cannot go near zero
    labels = torch.arange(8) % 3
    double = overfit_one_batch(nn.Sequential(nn.Linear(4, 3), nn.Softmax(-1)), F.cross_entropy, x, labels)
    assert double[-1] > 0.5  # bounded below by log(1 + 2/e) ~ 0.55 for 3 classes


def test_overfit_one_batch_uses_only_trainable_parameters():
    net = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
    net[0].requires_grad_(False)
    frozen = net[0].weight.clone()
    overfit_one_batch(net, F.mse_loss, torch.randn(4, 2), torch.randn(4, 1), steps=5)
    assert torch.equal(net[0].weight, frozen)


# --- first_nonfinite -----------------------------------------------------------------------------


class Log(nn.Module):
    def forward(self, x):
        return torch.log(x)


def test_first_nonfinite_names_the_innermost_first_culprit():
    net = nn.Sequential(nn.Linear(3, 3), nn.Sequential(nn.Identity(), Log()), nn.Linear(3, 1), Log())
    with torch.no_grad():
        net[0].weight.fill_(-1.0)
        net[0].bias.zero_()
    assert first_nonfinite(net, torch.ones(2, 3)) == "1.1"
    assert first_nonfinite(net, -torch.ones(2, 3)) in (None, "3")
    nan_input = torch.full((2, 3), math.nan)
    assert first_nonfinite(nn.Sequential(nn.Linear(3, 1)), nan_input) == "0"
    # hooks are removed afterwards
    assert all(not m._forward_hooks for m in net.modules())


def test_detect_anomaly_names_the_backward_op():
    v = torch.zeros(3, dtype=F64, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with torch.autograd.detect_anomaly(), pytest.raises(RuntimeError, match="PowBackward0.*nan"):
            torch.sqrt((v**2).sum()).backward()
    # the usual fix: an eps inside the square root
    v.grad = None
    torch.sqrt((v**2).sum() + 1e-12).backward()
    assert bool(torch.isfinite(v.grad).all())


def test_log_of_softmax_underflows_but_log_softmax_does_not():
    logits = torch.tensor([[0.0, 200.0]])
    assert torch.isinf(torch.log(torch.softmax(logits, -1))).any()
    assert torch.isfinite(F.log_softmax(logits, -1)).all()


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fn", "name"),
    [
        (lambda: numerical_gradient(3, torch.zeros(2)), "fn"),
        (lambda: numerical_gradient(lambda t: t, torch.zeros(2)), "fn"),
        (lambda: overfit_one_batch(lambda t: t, F.mse_loss, torch.zeros(2, 1), torch.zeros(2, 1)), "model"),
        (lambda: overfit_one_batch(nn.Linear(1, 1), None, torch.zeros(2, 1), torch.zeros(2, 1)), "loss_fn"),
        (lambda: overfit_one_batch(nn.Linear(1, 1), F.mse_loss, torch.zeros(2, 1), torch.zeros(3, 1)), "target"),
        (
            lambda: overfit_one_batch(
                nn.Linear(1, 1).requires_grad_(False), F.mse_loss, torch.zeros(2, 1), torch.zeros(2, 1)
            ),
            "model",
        ),
        (lambda: first_nonfinite(None, torch.zeros(2)), "model"),
    ],
)
def test_rejects_bad_arguments(fn, name):
    rejects(name, fn)
