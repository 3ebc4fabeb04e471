"""nnfaq.training.schedules against torch.optim.lr_scheduler (every step's value), its claims and refusals."""

import math

import pytest
import torch
from helpers import rejects
from hypothesis import given
from hypothesis import strategies as st

from nnfaq.training.schedules import cosine_annealing_lr, linear_lr, step_lr

F64 = torch.float64


def torch_lrs(make, steps, lr=0.1):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    sched = make(opt)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


# --- parity --------------------------------------------------------------------------------------


@given(step_size=st.integers(1, 6), gamma=st.floats(0.0, 2.0), lr=st.floats(1e-4, 1.0))
def test_step_lr_matches_torch(step_size, gamma, lr):
    ref = torch_lrs(lambda o: torch.optim.lr_scheduler.StepLR(o, step_size, gamma), 20, lr)
    for t, r in enumerate(ref):
        assert math.isclose(step_lr(lr, t, step_size, gamma), r, rel_tol=1e-9, abs_tol=1e-15)


@given(T_max=st.integers(1, 12), eta_min=st.floats(0.0, 0.05), lr=st.floats(0.06, 1.0))
def test_cosine_annealing_matches_torch(T_max, eta_min, lr):
    ref = torch_lrs(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max, eta_min), 3 * T_max + 2, lr)
    for t, r in enumerate(ref):
        assert math.isclose(cosine_annealing_lr(lr, t, T_max, eta_min), r, rel_tol=1e-7, abs_tol=1e-12)


@given(start=st.floats(0.01, 1.0), end=st.floats(0.0, 1.0), total=st.integers(1, 10), lr=st.floats(1e-4, 1.0))
def test_linear_lr_matches_torch(start, end, total, lr):
    ref = torch_lrs(lambda o: torch.optim.lr_scheduler.LinearLR(o, start, end, total), total + 5, lr)
    for t, r in enumerate(ref):
        assert math.isclose(linear_lr(lr, t, start, end, total), r, rel_tol=1e-7, abs_tol=1e-12)


def test_warmup_then_cosine_matches_sequential_lr():
    def make(o):
        warm = torch.optim.lr_scheduler.LinearLR(o, 0.1, 1.0, 5)
        cos = torch.optim.lr_scheduler.CosineAnnealingLR(o, 20)
        return torch.optim.lr_scheduler.SequentialLR(o, [warm, cos], milestones=[5])

    ref = torch_lrs(make, 25)
    ours = [linear_lr(0.1, t, 0.1, 1.0, 5) if t < 5 else cosine_annealing_lr(0.1, t - 5, 20) for t in range(25)]
    for a, b in zip(ours, ref):
        assert math.isclose(a, b, rel_tol=1e-7, abs_tol=1e-12)


# --- claims --------------------------------------------------------------------------------------


def final_loss(lrs, seed):
    g = torch.Generator().manual_seed(seed)
    w = torch.ones(2000, dtype=F64)
    for lr in lrs:
        w = w - lr * (w + torch.randn(2000, generator=g, dtype=F64))
    return (0.5 * w**2).mean().item()


@pytest.mark.parametrize("seed", range(3))
def test_decay_beats_a_constant_rate_on_a_noisy_quadratic(seed):
    constant = final_loss([0.1] * 200, seed)
    assert abs(constant - 0.5 * 0.01 / (1 - 0.81)) < 0.1 * constant  # the noise floor, proportional to lr
    assert final_loss([cosine_annealing_lr(0.1, t, 200) for t in range(200)], seed) < 0.3 * constant
    assert final_loss([step_lr(0.1, t, 100) for t in range(200)], seed) < 0.3 * constant
    # and a smaller constant rate has a lower floor: the floor scales with the rate
    assert final_loss([0.01] * 1000, seed) < 0.2 * constant


@pytest.mark.parametrize("seed", range(3))
def test_adam_takes_its_largest_steps_first_on_noise(seed):
    torch.manual_seed(seed)
    p = torch.nn.Parameter(torch.zeros(5000, dtype=F64))
    adam = torch.optim.Adam([p], lr=1.0)
    sizes = []
    for _ in range(100):
        before = p.detach().clone()
        p.grad = torch.randn_like(p)
        adam.step()
        sizes.append((p.detach() - before).abs().mean().item())
    assert abs(sizes[0] - 1.0) < 1e-6
    assert max(sizes) == sizes[0]
    assert sizes[99] < 0.25
    warm = [linear_lr(1.0, t, 0.01, 1.0, 100) * s for t, s in enumerate(sizes)]
    assert max(range(100), key=warm.__getitem__) > 50


def test_closed_form_values():
    assert cosine_annealing_lr(1.0, 0, 4) == 1.0
    assert math.isclose(cosine_annealing_lr(1.0, 2, 4), 0.5)
    assert math.isclose(cosine_annealing_lr(1.0, 4, 4, eta_min=0.1), 0.1)
    assert math.isclose(cosine_annealing_lr(1.0, 8, 4), 1.0)  # PyTorch's cosine rises again after T_max
    assert linear_lr(1.0, 100, 0.5, 0.0, 10) == 0.0  # linear decay when end < start
    assert step_lr(1.0, 9, 3, 0.5) == 0.125


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fn", "name"),
    [
        (lambda: step_lr(0.1, 0, 0), "step_size"),
        (lambda: cosine_annealing_lr(0.1, 0, 0), "T_max"),
        (lambda: linear_lr(0.1, 0, total_iters=0), "total_iters"),
        (lambda: linear_lr(0.1, 0, start_factor=0.0), "start_factor"),
    ],
)
def test_rejects_bad_arguments(fn, name):
    rejects(name, fn)
