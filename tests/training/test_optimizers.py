"""nnfaq.training.optimizers: parity with torch.optim (float64, step after step), the claims its answers make, and
the refusals specific to optimizer steps (the shared ones are rows of tests/training/contract.py)."""

import pytest
import torch
from helpers import gen, rejects, seeds
from hypothesis import given
from hypothesis import strategies as st
from torch.testing import assert_close

from nnfaq.training.optimizers import adam_step, adamw_step, gradient_descent, sgd_step

F64 = torch.float64
STEPS = [sgd_step, adam_step, adamw_step]
shapes = st.lists(st.integers(1, 5), max_size=3).map(tuple)


# --- parity with torch.optim ---------------------------------------------------------------------


def _follow(ours_step, ref_cls, shape, seed, steps, **hyper):
    """Feed the same random gradients (scales 1e-3 to 1e3) to ours and to torch.optim; the parameters agree after
    every step, and the input parameter is never modified in place."""
    g = gen(seed)
    w0 = torch.randn(shape, generator=g, dtype=F64)
    ref = w0.clone().requires_grad_()
    opt = ref_cls([ref], foreach=False, **hyper)
    ours, state = w0.clone(), {}
    for _ in range(steps):
        grad = torch.randn(shape, generator=g, dtype=F64) * 10 ** torch.randint(-3, 4, (), generator=g).item()
        ref.grad = grad.clone()
        opt.step()
        previous, copy = ours, ours.clone()
        ours = ours_step(ours, grad, state, **hyper)
        assert torch.equal(previous, copy)
        assert ours.shape == w0.shape and ours.dtype == F64
        assert_close(ours, ref.detach())


@st.composite
def sgd_hyper(draw):
    hyper = dict(lr=draw(st.floats(0, 0.5)), weight_decay=draw(st.sampled_from([0.0, 1e-3]) | st.floats(0, 0.5)))
    hyper["momentum"] = draw(st.sampled_from([0.0, 0.9]) | st.floats(0, 0.99))
    if hyper["momentum"] > 0 and draw(st.booleans()):
        hyper["nesterov"] = True
    else:
        hyper["dampening"] = draw(st.sampled_from([0.0, 1.0]) | st.floats(0, 1))
    return hyper


@st.composite
def adam_hyper(draw, default_wd):
    betas = (
        draw(st.sampled_from([0.0, 0.9]) | st.floats(0, 0.999)),
        draw(st.sampled_from([0.0, 0.999]) | st.floats(0, 0.999)),
    )
    return dict(
        lr=draw(st.floats(0, 0.5)),
        betas=betas,
        eps=draw(st.sampled_from([1e-8]) | st.floats(1e-10, 1.0)),
        weight_decay=draw(st.sampled_from([0.0, default_wd]) | st.floats(0, 0.5)),
    )


@given(shape=shapes, seed=seeds, steps=st.integers(1, 6), hyper=sgd_hyper())
def test_sgd_step_follows_torch_optim(shape, seed, steps, hyper):
    _follow(sgd_step, torch.optim.SGD, shape, seed, steps, **hyper)


@given(shape=shapes, seed=seeds, steps=st.integers(1, 6), hyper=adam_hyper(0.0))
def test_adam_step_follows_torch_optim(shape, seed, steps, hyper):
    _follow(adam_step, torch.optim.Adam, shape, seed, steps, **hyper)


@given(shape=shapes, seed=seeds, steps=st.integers(1, 6), hyper=adam_hyper(1e-2))
def test_adamw_step_follows_torch_optim(shape, seed, steps, hyper):
    _follow(adamw_step, torch.optim.AdamW, shape, seed, steps, **hyper)


@given(w0=st.floats(-10, 10), lr=st.floats(0, 1.5), steps=st.integers(1, 30), curvature=st.floats(0.1, 10))
def test_gradient_descent_is_geometric_and_matches_torch_sgd(w0, lr, steps, curvature):
    path = gradient_descent(w0, lr, steps, curvature)
    assert path.shape == (steps + 1,) and path.dtype == F64 and path[0].item() == w0
    assert_close(path, w0 * (1 - lr * curvature) ** torch.arange(steps + 1, dtype=F64), atol=1e-9, rtol=1e-9)
    w = torch.tensor(w0, dtype=F64, requires_grad=True)
    opt = torch.optim.SGD([w], lr=lr)
    for t in range(min(steps, 5)):
        opt.zero_grad()
        (0.5 * curvature * w**2).backward()
        opt.step()
        assert_close(path[t + 1], w.detach())


# --- claims: the learning rate -------------------------------------------------------------------


def test_learning_rate_regimes_on_w_squared():
    too_low, right, oscillating, edge, too_high = (gradient_descent(1.0, lr, 30) for lr in (0.01, 0.5, 0.9, 1.0, 1.1))
    assert (too_low.diff() < 0).all() and too_low[-1] > 0.5  # monotone but slow
    assert right[1].item() == 0.0  # one step to the minimum
    assert (oscillating[1:] * oscillating[:-1] < 0).all() and oscillating[-1].abs() < 1e-2
    assert (edge.abs() == 1.0).all()  # bounces between +1 and -1 for ever
    assert (too_high.pow(2).diff() > 0).all() and too_high[-1].abs() > 100  # the loss grows at every step


@pytest.mark.parametrize("a", [0.5, 2.0, 10.0])
def test_divergence_threshold_is_two_over_curvature(a):
    assert gradient_descent(1.0, 0.99 * 2 / a, 200, curvature=a).abs()[-1] < 1
    assert gradient_descent(1.0, 1.01 * 2 / a, 200, curvature=a).abs()[-1] > 1


# --- claims: momentum ----------------------------------------------------------------------------


def _steps(step_fn, grads, **hyper):
    """The size of each step ``|w_t - w_{t+1}|`` for the gradient sequence ``grads`` (T, *)."""
    w, state, sizes = torch.zeros(grads.shape[1:], dtype=F64), {}, []
    for g in grads:
        new = step_fn(w, g, state, **hyper)
        sizes.append((w - new).abs())
        w = new
    return torch.stack(sizes)


@pytest.mark.parametrize("mu", [0.5, 0.9, 0.99])
@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum_step_under_a_constant_gradient_tends_to_lr_g_over_one_minus_mu(mu, nesterov):
    g = torch.tensor([1.0, -3.0, 0.25], dtype=F64)
    sizes = _steps(sgd_step, g.expand(1000, 3), lr=0.1, momentum=mu, nesterov=nesterov)
    t = torch.arange(1, 1001, dtype=F64)[:, None]
    # v_t = (1 - mu^t) / (1 - mu) g: the geometric series, exactly (Nesterov: g + mu v_t)
    v = (1 - mu**t) / (1 - mu) * g.abs()
    assert_close(sizes, 0.1 * (g.abs() + mu * v if nesterov else v))
    assert_close(sizes[-1], 0.1 * g.abs() / (1 - mu), rtol=1e-4, atol=0)  # 0.99^1000 = 4e-5


@pytest.mark.parametrize("mu", [0.5, 0.9])
def test_momentum_damps_a_gradient_that_flips_sign_to_lr_g_over_one_plus_mu(mu):
    signs = torch.tensor([(-1.0) ** t for t in range(400)], dtype=F64)[:, None]
    sizes = _steps(sgd_step, signs * 2.0, lr=0.1, momentum=mu)
    assert_close(sizes[-1], torch.tensor([0.1 * 2.0 / (1 + mu)], dtype=F64))
    assert bool((sizes[1:] < 0.1 * 2.0).all())  # every step after the first is smaller than plain SGD's


@pytest.mark.parametrize("seed", range(3))
def test_momentum_beats_plain_sgd_on_an_ill_conditioned_quadratic(seed):
    A = torch.tensor([1.0, 25.0], dtype=F64)
    w0 = torch.randn(2, generator=gen(seed), dtype=F64)

    def loss_after(**hyper):
        w, s = w0.clone(), {}
        for _ in range(50):
            w = sgd_step(w, A * w, s, lr=0.03, **hyper)
        return (0.5 * A * w**2).sum().item()

    plain = loss_after()
    assert loss_after(momentum=0.7) < 1e-3 * plain
    assert loss_after(momentum=0.7, nesterov=True) < 1e-3 * plain


# --- claims: Adam and AdamW ----------------------------------------------------------------------


@given(shape=shapes, seed=seeds, log_scale=st.integers(-1, 6), lr=st.floats(1e-4, 0.1))
def test_adam_first_step_is_lr_times_sign_whatever_the_gradient_scale_sgd_is_proportional(shape, seed, log_scale, lr):
    g = gen(seed)
    x = torch.randn(shape, generator=g, dtype=F64)
    grad = x.sign() * x.abs().clamp_min(1e-2) * 10.0**log_scale  # |grad| >= 1e-3, far above eps = 1e-8
    w0 = torch.randn(shape, generator=g, dtype=F64)
    assert_close(adam_step(w0, grad, {}, lr=lr) - w0, -lr * grad.sign(), rtol=1e-4, atol=1e-12)
    assert_close(sgd_step(w0, grad, {}, lr=lr) - w0, -lr * grad)


def test_adam_first_step_shrinks_only_when_the_gradient_nears_eps():
    step = adam_step(torch.zeros(1, dtype=F64), torch.tensor([1e-8], dtype=F64), {}, lr=0.01)
    assert_close(step, torch.tensor([-0.005], dtype=F64))


@pytest.mark.parametrize("seed", range(3))
def test_adam_path_is_invariant_to_the_loss_scale(seed):
    A = torch.rand(4, generator=gen(seed), dtype=F64) * 25 + 0.5
    w0 = torch.randn(4, generator=gen(seed + 1), dtype=F64)
    paths = []
    for scale in (1.0, 1000.0):
        w, s = w0.clone(), {}
        for _ in range(30):
            w = adam_step(w, scale * A * w, s, lr=0.05)
        paths.append(w)
    assert_close(paths[0], paths[1], atol=1e-6, rtol=0)


@pytest.mark.parametrize("seed", range(3))
def test_adamw_decay_ignores_the_gradient_scale_adam_l2_does_not(seed):
    """Noise-only gradients (a weight near a minimum), times a scale. The decay is how far weight decay moves the
    weights in 100 steps, compared with the same run without it: AdamW's is the same at every scale; Adam's L2
    decays by most of ``lr * steps`` at a small scale and almost nothing at a large one."""
    noise = torch.randn(100, 5, generator=gen(seed), dtype=F64)
    w0 = torch.randn(5, generator=gen(seed + 1), dtype=F64).sign() * 2.0

    def decay(step, scale):
        ends = []
        for weight_decay in (0.0, 0.1):
            w, s = w0.clone(), {}
            for g in noise:
                w = step(w, scale * g, s, lr=0.01, weight_decay=weight_decay)
            ends.append(w)
        return (ends[0] - ends[1]).abs()

    decoupled = decay(adamw_step, 0.01)
    assert_close(decoupled, decay(adamw_step, 100.0), rtol=1e-6, atol=0)
    assert bool(((decoupled > 0.15) & (decoupled < 0.25)).all())  # about |w| (1 - 0.999^100) = 0.19
    assert bool((decay(adam_step, 0.01) > 0.5).all())
    assert bool((decay(adam_step, 100.0) < 0.01).all())


def test_adamw_is_adam_on_a_decayed_weight_and_differs_from_adam_l2():
    w0, g = torch.tensor([10.0, 0.1], dtype=F64), torch.tensor([0.5, 0.5], dtype=F64)
    decoupled = adamw_step(w0, g, {}, lr=0.1, weight_decay=0.1)
    assert_close(decoupled, adam_step(0.99 * w0, g, {}, lr=0.1))
    assert not torch.allclose(decoupled, adam_step(w0, g, {}, lr=0.1, weight_decay=0.1))
    zero = torch.zeros(3, dtype=F64)
    w0 = torch.tensor([10.0, 1.0, 0.1], dtype=F64)
    assert_close(adamw_step(w0, zero, {}, lr=0.1, weight_decay=0.1), 0.99 * w0)
    assert_close(
        w0 - adam_step(w0, zero, {}, lr=0.1, weight_decay=0.1), torch.full((3,), 0.1, dtype=F64), rtol=1e-6, atol=0
    )


# --- bad input (the shared refusals are rows of tests/training/contract.py) ----------------------


@pytest.mark.parametrize("step", STEPS)
@given(shape=shapes, other=shapes)
def test_steps_refuse_a_grad_of_another_shape_or_dtype(step, shape, other):
    if other == shape:
        other = (*shape, 2)
    rejects("grad", step, torch.ones(shape, dtype=F64), torch.ones(other, dtype=F64), {})
    rejects("grad", step, torch.ones(shape, dtype=F64), torch.ones(shape, dtype=torch.float32), {})


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("bad", [None, [], "state", 0])
def test_steps_refuse_a_state_that_is_not_a_dict(step, bad):
    w = torch.ones(3, dtype=F64)
    rejects("state", step, w, w, bad)


@pytest.mark.parametrize("step", STEPS)
def test_steps_refuse_a_state_kept_from_another_parameter(step):
    state, kw = {}, dict(momentum=0.9) if step is sgd_step else {}
    step(torch.ones(2, 3, dtype=F64), torch.ones(2, 3, dtype=F64), state, **kw)
    w = torch.ones(3, dtype=F64)
    rejects("state", step, w, w, state, **kw)


@pytest.mark.parametrize("step", [adam_step, adamw_step])
@pytest.mark.parametrize("bad", [0, -1, 1.5, True, None, "1"])
def test_adam_steps_refuse_a_bad_step_count_in_state(step, bad):
    w, state = torch.ones(3, dtype=F64), {}
    step(w, w, state)
    state["step"] = bad
    rejects("state", step, w, w, state)


@pytest.mark.parametrize("step", [adam_step, adamw_step])
@pytest.mark.parametrize("betas", [(1.0, 0.999), (0.9, -0.1), (0.9, float("nan")), (0.9,), (0.9, 0.99, 0.9), 0.9, None])
def test_adam_steps_refuse_bad_betas(step, betas):
    w = torch.ones(3, dtype=F64)
    rejects("betas", step, w, w, {}, betas=betas)


@pytest.mark.parametrize("kwargs", [dict(momentum=0.0), dict(momentum=0.9, dampening=0.5)])
def test_nesterov_needs_momentum_and_no_dampening(kwargs):
    w = torch.ones(3, dtype=F64)
    rejects("nesterov", sgd_step, w, w, {}, nesterov=True, **kwargs)
