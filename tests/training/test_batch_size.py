"""nnfaq.training.batch_size: mini-batch gradients against autograd, the exact noise formula, refusals."""

import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from helpers import gen, rejects
from hypothesis import given
from hypothesis import strategies as st
from torch.testing import assert_close

from nnfaq.training.batch_size import minibatch_gradient_variance, minibatch_gradients

F64 = torch.float64


def model_and_data(seed, N=12):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2)).double()
    x = torch.randn(N, 3, generator=gen(seed), dtype=F64)
    y = torch.randint(0, 2, (N,), generator=gen(seed + 1))
    return model, x, y


def full_gradient(model, x, y):
    model.zero_grad()
    F.cross_entropy(model(x), y).backward()
    g = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
    model.zero_grad()
    return g


@given(seed=st.integers(0, 2**16), B=st.sampled_from([1, 2, 3, 4, 6, 12]))
def test_batch_gradients_average_to_the_full_gradient(seed, B):
    model, x, y = model_and_data(seed)
    grads = minibatch_gradients(model, F.cross_entropy, x, y, B)
    assert grads.shape == (12 // B, sum(p.numel() for p in model.parameters()))
    assert_close(grads.mean(0), full_gradient(model, x, y))
    # each row is autograd on that batch
    assert_close(grads[-1], full_gradient(model, x[-B:], y[-B:]))


@pytest.mark.parametrize("B", [5, 7])
def test_uneven_last_batch_weighted_by_size(B):
    model, x, y = model_and_data(0)
    grads = minibatch_gradients(model, F.cross_entropy, x, y, B)
    sizes = torch.tensor([len(range(s, min(s + B, 12))) for s in range(0, 12, B)], dtype=F64)
    assert_close((sizes[:, None] * grads).sum(0) / 12, full_gradient(model, x, y))


def test_leaves_no_gradients_behind():
    model, x, y = model_and_data(0)
    minibatch_gradients(model, F.cross_entropy, x, y, 4)
    assert all(p.grad is None for p in model.parameters())


@given(N=st.integers(1, 7), B=st.integers(1, 7), P=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_variance_formula_is_exact_by_enumeration(N, B, P, seed):
    g = torch.randn(N, P, generator=gen(seed), dtype=F64)

    def exact(batches):
        means = torch.stack([g[list(b)].mean(0) for b in batches])
        return ((means - g.mean(0)) ** 2).sum(1).mean().item()

    if B <= 3:
        ours = minibatch_gradient_variance(g, B)
        assert math.isclose(exact(itertools.product(range(N), repeat=B)), ours, rel_tol=1e-9, abs_tol=1e-12)
    if B <= N:
        ours = minibatch_gradient_variance(g, B, replacement=False)
        assert math.isclose(exact(itertools.combinations(range(N), B)), ours, rel_tol=1e-9, abs_tol=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_monte_carlo_noise_falls_as_one_over_b(seed):
    model, x, y = model_and_data(seed, N=64)
    per_example = minibatch_gradients(model, F.cross_entropy, x, y, 1)
    full = full_gradient(model, x, y)
    g = gen(seed + 7)
    for B in (1, 4, 16):
        draws = per_example[torch.randint(0, 64, (3000, B), generator=g)].mean(1)  # (3000, P)
        mc = ((draws - full) ** 2).sum(1).mean().item()
        assert abs(mc - minibatch_gradient_variance(per_example, B)) < 0.1 * minibatch_gradient_variance(per_example, B)


@pytest.mark.parametrize(
    ("fn", "name"),
    [
        (lambda: minibatch_gradients(lambda t: t, F.mse_loss, torch.randn(4, 2), torch.randn(4, 2), 2), "model"),
        (lambda: minibatch_gradients(torch.nn.Linear(2, 1), 3, torch.randn(4, 2), torch.randn(4, 1), 2), "loss_fn"),
        (
            lambda: minibatch_gradients(torch.nn.Linear(2, 1), F.mse_loss, torch.randn(4, 2), torch.randn(3, 1), 2),
            "target",
        ),
        (
            lambda: minibatch_gradients(torch.nn.Linear(2, 1), F.mse_loss, torch.randn(4, 2), torch.randn(4, 1), 0),
            "batch_size",
        ),
        (lambda: minibatch_gradient_variance(torch.randn(4), 2), "per_example_grads"),
        (lambda: minibatch_gradient_variance(torch.randn(4, 2), 5, replacement=False), "batch_size"),
    ],
)
def test_rejects_bad_arguments(fn, name):
    rejects(name, fn)
