"""nnfaq.training.adaptive against torch.optim.Adagrad / RMSprop (step for step, float64), its claims and refusals."""

import math

import pytest
import torch
from helpers import gen, rejects
from hypothesis import given
from hypothesis import strategies as st
from torch.testing import assert_close

from nnfaq.training.adaptive import adagrad_step, rmsprop_step

F64 = torch.float64


def follow(step_fn, opt_cls, kwargs, seed, steps=12, shape=(3, 2)):
    """Run ours and torch's optimizer on the same random quadratic; parameters and state agree at every step."""
    A = torch.rand(shape, generator=gen(seed), dtype=F64) * 10 + 0.1
    w0 = torch.randn(shape, generator=gen(seed + 1), dtype=F64)
    ref = w0.clone().requires_grad_()
    opt = opt_cls([ref], **kwargs)
    w, state = w0.clone(), {}
    for _ in range(steps):
        opt.zero_grad()
        (0.5 * A * ref**2).sum().backward()
        opt.step()
        w = step_fn(w, A * w, state, **kwargs)
        assert_close(w, ref.detach())
    return state, opt.state[ref]


@given(
    lr=st.floats(1e-3, 1.0),
    lr_decay=st.sampled_from([0.0, 0.01, 0.5]),
    weight_decay=st.sampled_from([0.0, 0.1]),
    init=st.sampled_from([0.0, 0.1, 1.0]),
    eps=st.sampled_from([1e-10, 1e-3]),
    seed=st.integers(0, 2**16),
)
def test_adagrad_matches_torch(lr, lr_decay, weight_decay, init, eps, seed):
    kw = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay, initial_accumulator_value=init, eps=eps)
    state, ref_state = follow(adagrad_step, torch.optim.Adagrad, kw, seed)
    assert_close(state["sum"], ref_state["sum"])
    assert state["step"] == int(ref_state["step"])


@given(
    lr=st.floats(1e-4, 0.1),
    alpha=st.sampled_from([0.0, 0.5, 0.9, 0.99]),
    eps=st.sampled_from([1e-8, 1e-3]),
    weight_decay=st.sampled_from([0.0, 0.1]),
    momentum=st.sampled_from([0.0, 0.9]),
    centered=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_rmsprop_matches_torch(lr, alpha, eps, weight_decay, momentum, centered, seed):
    if centered and alpha == 0.0:
        alpha = 0.5  # alpha = 0 makes v - g_bar^2 a rounding error of 0, whose root can be NaN on both sides
    kw = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum, centered=centered)
    state, ref_state = follow(rmsprop_step, torch.optim.RMSprop, kw, seed)
    assert_close(state["square_avg"], ref_state["square_avg"])
    if momentum:
        assert_close(state["momentum_buffer"], ref_state["momentum_buffer"])
    if centered:
        assert_close(state["grad_avg"], ref_state["grad_avg"])


# --- claims --------------------------------------------------------------------------------------


@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e3])
def test_adagrad_step_decays_like_one_over_sqrt_t(scale):
    w, state = torch.zeros(1, dtype=F64), {}
    for t in range(1, 101):
        new = adagrad_step(w, torch.full((1,), scale, dtype=F64), state, lr=1.0, eps=0.0)
        assert math.isclose((w - new).item(), 1 / math.sqrt(t), rel_tol=1e-12)
        w = new


@pytest.mark.parametrize("alpha", [0.9, 0.99])
def test_rmsprop_step_under_constant_gradient(alpha):
    w, state = torch.zeros(1, dtype=F64), {}
    for t in range(1, 1001):
        new = rmsprop_step(w, torch.ones(1, dtype=F64), state, lr=1.0, alpha=alpha, eps=0.0)
        assert math.isclose((w - new).item(), 1 / math.sqrt(1 - alpha**t), rel_tol=1e-9)
        w = new
    assert math.isclose(1 / math.sqrt(1 - alpha**1000), 1.0, rel_tol=1e-4)  # it tends to lr, not to 0


@pytest.mark.parametrize("seed", range(3))
def test_adam_without_momentum_is_bias_corrected_rmsprop(seed):
    grads = torch.randn(30, 4, generator=gen(seed), dtype=F64)
    p = torch.nn.Parameter(torch.zeros(4, dtype=F64))
    adam = torch.optim.Adam([p], lr=0.1, betas=(0.0, 0.9), eps=0.0)
    w, state = torch.zeros(4, dtype=F64), {}
    for t, g in enumerate(grads, start=1):
        before = p.detach().clone()
        p.grad = g.clone()
        adam.step()
        new = rmsprop_step(w, g, state, lr=0.1, alpha=0.9, eps=0.0)
        assert_close(p.detach() - before, (new - w) * math.sqrt(1 - 0.9**t))
        w = new


def test_adagrad_rare_parameters_keep_larger_steps():
    w, state = torch.zeros(2, dtype=F64), {}
    for t in range(100):
        g = torch.tensor([1.0, 1.0 if t % 10 == 9 else 0.0], dtype=F64)
        new = adagrad_step(w, g, state, lr=1.0)
        last = (w - new).tolist()
        w = new
    assert math.isclose(last[1] / last[0], math.sqrt(10), rel_tol=1e-8)


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fn", "name"),
    [
        (lambda: adagrad_step(torch.zeros(2), torch.zeros(3), {}), "grad"),
        (lambda: adagrad_step(torch.zeros(2), torch.zeros(2, dtype=F64), {}), "grad"),
        (lambda: adagrad_step(torch.zeros(2), torch.zeros(2), []), "state"),
        (lambda: adagrad_step(torch.zeros(2), torch.zeros(2), {"step": 1, "sum": torch.zeros(3)}), "state['sum']"),
        (lambda: rmsprop_step(torch.zeros(2), torch.zeros(2), {"step": 0}), "state['step']"),
        (lambda: rmsprop_step(torch.zeros(2), torch.zeros(2), {"square_avg": torch.zeros(1)}), "state['square_avg']"),
    ],
)
def test_rejects_bad_arguments(fn, name):
    rejects(name, fn)
