"""nnfaq.optimizers against torch.optim (whole trajectories, float64) and its claims."""

import pytest
import torch
from torch.testing import assert_close

from nnfaq.optimizers import adam_step, adamw_step, gradient_descent, sgd_step

STEPS = 60


def _problem():
    """An ill-conditioned least-squares loss on a (3, 4) weight; returns (w0, grad function, loss function)."""
    X = torch.randn(32, 4, dtype=torch.float64) * torch.tensor([1.0, 5.0, 0.2, 2.0], dtype=torch.float64)
    Y = torch.randn(32, 3, dtype=torch.float64)

    def loss(W):
        return ((X @ W.T - Y) ** 2).mean()

    def grad(W):
        W = W.detach().requires_grad_()
        return torch.autograd.grad(loss(W), W)[0]

    return torch.randn(3, 4, dtype=torch.float64), grad, loss


def _trajectories(ours_step, ref_cls, **hyper):
    w0, grad, loss = _problem()
    ref = w0.clone().requires_grad_()
    opt = ref_cls([ref], **hyper)
    ours, state = w0.clone(), {}
    for _ in range(STEPS):
        opt.zero_grad()
        loss(ref).backward()
        opt.step()
        ours = ours_step(ours, grad(ours), state, **hyper)
        assert_close(ours, ref.detach())
    return ours, ref.detach()


@pytest.mark.parametrize(
    "hyper",
    [
        dict(lr=0.01),
        dict(lr=0.01, momentum=0.9),
        dict(lr=0.01, momentum=0.9, dampening=0.5),
        dict(lr=0.01, momentum=0.9, nesterov=True),
        dict(lr=0.005, momentum=0.5, weight_decay=0.1, nesterov=True),
        dict(lr=0.01, weight_decay=0.05),
    ],
)
def test_sgd_trajectory_matches_torch(hyper):
    _trajectories(sgd_step, torch.optim.SGD, **hyper)


@pytest.mark.parametrize(
    "hyper",
    [dict(lr=0.01), dict(lr=0.1, betas=(0.8, 0.99)), dict(lr=0.01, weight_decay=0.1), dict(lr=0.05, eps=1e-3)],
)
def test_adam_trajectory_matches_torch(hyper):
    _trajectories(adam_step, torch.optim.Adam, **hyper)


@pytest.mark.parametrize("hyper", [dict(lr=0.01), dict(lr=0.05, weight_decay=0.3), dict(lr=0.01, weight_decay=0.0)])
def test_adamw_trajectory_matches_torch(hyper):
    _trajectories(adamw_step, torch.optim.AdamW, **hyper)


def test_step_functions_do_not_modify_param_in_place():
    w, g = torch.ones(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    for step in (sgd_step, adam_step, adamw_step):
        step(w, g, {}, lr=0.1)
        assert torch.equal(w, torch.ones(3, dtype=torch.float64))


# --- learning rate -------------------------------------------------------------------------------


@pytest.mark.parametrize("lr", [0.01, 0.3, 0.5, 0.9, 1.0, 1.1])
def test_gradient_descent_matches_torch_sgd_on_w_squared(lr):
    w = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([w], lr=lr)
    path = [w.item()]
    for _ in range(15):
        opt.zero_grad()
        (w**2).backward()
        opt.step()
        path.append(w.item())
    assert_close(gradient_descent(0.7, lr, 15), torch.tensor(path, dtype=torch.float64))


def test_learning_rate_regimes_on_w_squared():
    too_low, right, oscillating, edge, too_high = (gradient_descent(1.0, lr, 30) for lr in (0.01, 0.5, 0.9, 1.0, 1.1))
    assert (too_low.diff() < 0).all() and too_low[-1] > 0.5  # monotone but slow
    assert right[1].item() == 0.0  # one step to the minimum
    assert (oscillating[1:] * oscillating[:-1] < 0).all() and oscillating[-1].abs() < 1e-2
    assert (edge.abs() == 1.0).all()  # bounces between +1 and -1 for ever
    assert (too_high.abs().diff() > 0).all() and too_high[-1].abs() > 100  # diverges


@pytest.mark.parametrize("a", [0.5, 2.0, 10.0])
def test_divergence_threshold_is_two_over_curvature(a):
    assert gradient_descent(1.0, 0.99 * 2 / a, 200, curvature=a).abs()[-1] < 1
    assert gradient_descent(1.0, 1.01 * 2 / a, 200, curvature=a).abs()[-1] > 1


# --- momentum, Adam, AdamW claims ----------------------------------------------------------------


def _quadratic_run(step, n=50, **hyper):
    A = torch.tensor([1.0, 25.0], dtype=torch.float64)
    w, s = torch.ones(2, dtype=torch.float64), {}
    for _ in range(n):
        w = step(w, A * w, s, **hyper)
    return (0.5 * A * w**2).sum().item()


def test_momentum_beats_plain_sgd_on_ill_conditioned_quadratic():
    plain = _quadratic_run(sgd_step, lr=0.03)
    assert _quadratic_run(sgd_step, lr=0.03, momentum=0.7) < 1e-3 * plain
    assert _quadratic_run(sgd_step, lr=0.03, momentum=0.7, nesterov=True) < 1e-3 * plain


@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e3, 1e6])
def test_adam_first_step_has_size_lr_whatever_the_gradient_scale(scale):
    g = scale * torch.tensor([1.0, -3.0, 0.5], dtype=torch.float64)
    w0 = torch.zeros(3, dtype=torch.float64)
    step = adam_step(w0, g, {}, lr=0.01) - w0
    assert_close(step, -0.01 * g.sign(), rtol=1e-4, atol=0)
    # SGD's step, by contrast, is proportional to the gradient
    assert_close(sgd_step(w0, g, {}, lr=0.01), -0.01 * g)


def test_adam_first_step_shrinks_only_when_the_gradient_nears_eps():
    g = torch.tensor([1e-8], dtype=torch.float64)
    assert_close(
        adam_step(torch.zeros(1, dtype=torch.float64), g, {}, lr=0.01), torch.tensor([-0.005], dtype=torch.float64)
    )


def test_adam_is_invariant_to_loss_scale():
    A = torch.tensor([1.0, 25.0], dtype=torch.float64)
    paths = []
    for scale in (1.0, 1000.0):
        w, s = torch.ones(2, dtype=torch.float64), {}
        for _ in range(30):
            w = adam_step(w, scale * A * w, s, lr=0.05)
        paths.append(w)
    assert_close(paths[0], paths[1], atol=1e-6, rtol=0)


def test_adam_l2_differs_from_adamw_after_one_step():
    w0, g = torch.tensor([10.0, 0.1], dtype=torch.float64), torch.tensor([0.5, 0.5], dtype=torch.float64)
    a = adam_step(w0, g, {}, lr=0.1, weight_decay=0.1)
    b = adamw_step(w0, g, {}, lr=0.1, weight_decay=0.1)
    assert not torch.allclose(a, b)
    ref = w0.clone().requires_grad_()
    opt = torch.optim.Adam([ref], lr=0.1, weight_decay=0.1)
    ref.grad = g.clone()
    opt.step()
    assert_close(a, ref.detach())


def test_adamw_decay_is_proportional_adam_l2_is_not():
    w0 = torch.tensor([10.0, 1.0, 0.1], dtype=torch.float64)
    zero = torch.zeros(3, dtype=torch.float64)
    decoupled = adamw_step(w0, zero, {}, lr=0.1, weight_decay=0.1)
    assert_close(decoupled, 0.99 * w0)
    coupled = adam_step(w0, zero, {}, lr=0.1, weight_decay=0.1)
    assert_close(w0 - coupled, torch.full((3,), 0.1, dtype=torch.float64), rtol=1e-5, atol=0)


@pytest.mark.parametrize("step", [sgd_step, adam_step, adamw_step])
def test_steps_reject_bad_arguments(step):
    w = torch.ones(3)
    with pytest.raises(ValueError, match=r"grad must have shape \(3,\)"):
        step(w, torch.ones(2), {})
    with pytest.raises(TypeError, match="state must be a dict"):
        step(w, w, None)
    with pytest.raises(ValueError, match="lr must be in"):
        step(w, w, {}, lr=-1.0)
    with pytest.raises(TypeError, match="param must be a torch.Tensor"):
        step([1.0], w, {})
    with pytest.raises(ValueError, match="weight_decay must be in"):
        step(w, w, {}, weight_decay=-0.1)


def test_sgd_and_adam_reject_bad_hyperparameters():
    w = torch.ones(3)
    with pytest.raises(ValueError, match="nesterov=True requires momentum > 0"):
        sgd_step(w, w, {}, nesterov=True)
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\)"):
        sgd_step(w, w, {}, momentum=1.0)
    with pytest.raises(ValueError, match=r"betas\[1\] must be in \[0, 1\)"):
        adam_step(w, w, {}, betas=(0.9, 1.0))
    with pytest.raises(TypeError, match="betas must be a pair"):
        adamw_step(w, w, {}, betas=0.9)
    with pytest.raises(ValueError, match="eps must be in"):
        adam_step(w, w, {}, eps=0.0)


def test_gradient_descent_rejects_bad_arguments():
    with pytest.raises(ValueError, match="steps must be >= 1"):
        gradient_descent(1.0, 0.1, 0)
    with pytest.raises(ValueError, match="curvature must be in"):
        gradient_descent(1.0, 0.1, 5, curvature=0.0)
    with pytest.raises(ValueError, match="lr must be in"):
        gradient_descent(1.0, -0.1, 5)
