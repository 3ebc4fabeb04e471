"""Property tests for nnfaq.optimizers: random shapes, hyperparameters and gradients follow torch.optim step
for step (float64); random invalid input raises ValueError/TypeError naming the argument."""

import math

import numpy as np
import pytest
import torch
from helpers import gen, non_finite, rejects, seeds
from hypothesis import given
from hypothesis import strategies as st
from torch.testing import assert_close

from nnfaq.optimizers import adam_step, adamw_step, gradient_descent, sgd_step

F64 = torch.float64

shapes = st.lists(st.integers(1, 5), max_size=3).map(tuple)
n_steps = st.integers(1, 5)
not_numbers = st.booleans() | st.none() | st.just("0.1") | st.just([0.1])
not_tensors = st.sampled_from([None, 1.0, [1.0, 2.0], "x", np.ones(3)])


def _follow(ours_step, ref_cls, shape, seed, steps, **hyper):
    """Feed the same random gradients to ours and to torch.optim; the parameters agree after every step."""
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
        assert torch.equal(previous, copy)  # the input parameter is not modified in place
        assert ours.shape == w0.shape and ours.dtype == F64
        assert_close(ours, ref.detach())


# --- valid input ---------------------------------------------------------------------------------


@given(
    w0=st.floats(-10, 10),
    lr=st.floats(0, 1.5),
    steps=st.integers(1, 30),
    curvature=st.floats(0.1, 10),
)
def test_gradient_descent_is_geometric_and_matches_torch_sgd(w0, lr, steps, curvature):
    path = gradient_descent(w0, lr, steps, curvature)
    assert path.shape == (steps + 1,) and path.dtype == F64
    assert path[0].item() == w0
    assert_close(path, w0 * (1 - lr * curvature) ** torch.arange(steps + 1, dtype=F64), atol=1e-9, rtol=1e-9)
    w = torch.tensor(w0, dtype=F64, requires_grad=True)
    opt = torch.optim.SGD([w], lr=lr)
    for t in range(min(steps, 5)):
        opt.zero_grad()
        (0.5 * curvature * w**2).backward()
        opt.step()
        assert_close(path[t + 1], w.detach())
    # converges iff lr < 2 / curvature
    ratio = abs(1 - lr * curvature)
    assert (path.abs().diff() <= 0).all() if ratio <= 1 else (path.abs().diff() >= 0).all()


@st.composite
def sgd_hyper(draw):
    hyper = dict(lr=draw(st.floats(0, 0.5)), weight_decay=draw(st.sampled_from([0.0, 1e-3]) | st.floats(0, 0.5)))
    momentum = draw(st.sampled_from([0.0, 0.9]) | st.floats(0, 0.99))
    hyper["momentum"] = momentum
    if momentum > 0 and draw(st.booleans()):
        hyper["nesterov"] = True
    else:
        hyper["dampening"] = draw(st.sampled_from([0.0, 1.0]) | st.floats(0, 1))
    return hyper


@given(shape=shapes, seed=seeds, steps=n_steps, hyper=sgd_hyper())
def test_sgd_step_follows_torch_optim(shape, seed, steps, hyper):
    _follow(sgd_step, torch.optim.SGD, shape, seed, steps, **hyper)


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


@given(shape=shapes, seed=seeds, steps=n_steps, hyper=adam_hyper(0.0))
def test_adam_step_follows_torch_optim(shape, seed, steps, hyper):
    _follow(adam_step, torch.optim.Adam, shape, seed, steps, **hyper)


@given(shape=shapes, seed=seeds, steps=n_steps, hyper=adam_hyper(1e-2))
def test_adamw_step_follows_torch_optim(shape, seed, steps, hyper):
    _follow(adamw_step, torch.optim.AdamW, shape, seed, steps, **hyper)


@given(shape=shapes, seed=seeds, log_scale=st.integers(-1, 6), lr=st.floats(1e-4, 0.1))
def test_adam_first_step_is_lr_times_sign_whatever_the_gradient_scale(shape, seed, log_scale, lr):
    g = gen(seed)
    x = torch.randn(shape, generator=g, dtype=F64)
    grad = x.sign() * x.abs().clamp_min(1e-2) * 10.0**log_scale  # |grad| >= 1e-3, far above eps = 1e-8
    w0 = torch.randn(shape, generator=g, dtype=F64)
    assert_close(adam_step(w0, grad, {}, lr=lr) - w0, -lr * grad.sign(), rtol=1e-4, atol=1e-12)


# --- invalid input -------------------------------------------------------------------------------

STEPS = [sgd_step, adam_step, adamw_step]


@pytest.mark.parametrize("step", STEPS)
@given(shape=shapes, bad=not_tensors, which=st.sampled_from(["param", "grad"]))
def test_steps_reject_non_tensors(step, shape, bad, which):
    args = {"param": torch.ones(shape, dtype=F64), "grad": torch.ones(shape, dtype=F64), which: bad}
    rejects(which, step, args["param"], args["grad"], {})


@pytest.mark.parametrize("step", STEPS)
@given(
    shape=shapes,
    dtype=st.sampled_from([torch.int64, torch.bool, torch.complex128]),
    which=st.sampled_from(["param", "grad"]),
)
def test_steps_reject_non_float_dtypes(step, shape, dtype, which):
    args = {
        "param": torch.ones(shape, dtype=F64),
        "grad": torch.ones(shape, dtype=F64),
        which: torch.ones(shape, dtype=dtype),
    }
    rejects(which, step, args["param"], args["grad"], {})


@pytest.mark.parametrize("step", STEPS)
@given(shape=shapes)
def test_steps_reject_grad_of_another_float_dtype(step, shape):
    rejects("grad", step, torch.ones(shape, dtype=F64), torch.ones(shape, dtype=torch.float32), {})


@pytest.mark.parametrize("step", STEPS)
@given(shape=shapes, other=shapes)
def test_steps_reject_mismatched_grad_shape(step, shape, other):
    if other == shape:
        other = (*shape, 2)
    rejects("grad", step, torch.ones(shape, dtype=F64), torch.ones(other, dtype=F64), {})


@pytest.mark.parametrize("step", STEPS)
@given(bad=st.none() | st.just([]) | st.just("state") | st.just(0))
def test_steps_reject_non_dict_state(step, bad):
    w = torch.ones(3, dtype=F64)
    rejects("state", step, w, w, bad)


@pytest.mark.parametrize("step", STEPS)
@given(shape=shapes, other=shapes, seed=seeds)
def test_steps_reject_state_from_another_parameter(step, shape, other, seed):
    """A state dict filled by steps on a parameter of another shape must not reach torch."""
    if other == shape:
        other = (*shape, 2)
    state = {}
    kw = dict(momentum=0.9) if step is sgd_step else {}
    step(torch.ones(other, dtype=F64), torch.ones(other, dtype=F64), state, **kw)
    w = torch.ones(shape, dtype=F64)
    rejects("state", step, w, w, state, **kw)


@pytest.mark.parametrize("step", [adam_step, adamw_step])
@given(bad=st.integers(max_value=0) | st.floats() | st.booleans() | st.none() | st.just("1"))
def test_adam_steps_reject_bad_step_count_in_state(step, bad):
    w = torch.ones(3, dtype=F64)
    state = {}
    step(w, w, state)
    state["step"] = bad
    rejects("state", step, w, w, state)


def _bad(low, high=math.inf, *, low_open=False, high_open=True):
    """Values outside [low, high] (or the open variants), NaN, and non-numbers."""
    below = st.floats(max_value=low, exclude_max=not low_open)
    above = st.floats(min_value=high, exclude_min=not high_open) if high < math.inf else st.just(math.inf)
    return below | above | st.just(math.nan) | not_numbers


BAD_HYPER = {
    sgd_step: dict(
        lr=_bad(0.0), momentum=_bad(0.0, 1.0), dampening=_bad(0.0, 1.0, high_open=False), weight_decay=_bad(0.0)
    ),
    adam_step: dict(lr=_bad(0.0), eps=_bad(0.0, low_open=True), weight_decay=_bad(0.0)),
    adamw_step: dict(lr=_bad(0.0), eps=_bad(0.0, low_open=True), weight_decay=_bad(0.0)),
}


@pytest.mark.parametrize(("step", "name"), [(s, n) for s, names in BAD_HYPER.items() for n in names])
@given(data=st.data())
def test_steps_reject_bad_hyperparameters(step, name, data):
    w = torch.ones(3, dtype=F64)
    rejects(name, step, w, w, {}, **{name: data.draw(BAD_HYPER[step][name])})


@pytest.mark.parametrize("step", [adam_step, adamw_step])
@given(data=st.data())
def test_adam_steps_reject_bad_betas(step, data):
    w = torch.ones(3, dtype=F64)
    good = st.floats(0, 0.999)
    bad_beta = _bad(0.0, 1.0)
    betas = data.draw(
        st.tuples(bad_beta, good)
        | st.tuples(good, bad_beta)
        | st.lists(good, max_size=4).filter(lambda b: len(b) != 2)
        | good
        | st.none()
    )
    rejects("betas", step, w, w, {}, betas=betas)


@given(data=st.data())
def test_sgd_rejects_bad_nesterov(data):
    w = torch.ones(3, dtype=F64)
    bad = data.draw(
        st.fixed_dictionaries({"nesterov": st.just(True), "momentum": st.just(0.0)})
        | st.fixed_dictionaries(
            {"nesterov": st.just(True), "momentum": st.floats(0.01, 0.99), "dampening": st.floats(0.01, 1)}
        )
        | st.fixed_dictionaries({"nesterov": st.integers() | st.none() | st.just("yes"), "momentum": st.just(0.9)})
    )
    rejects("nesterov", sgd_step, w, w, {}, **bad)


@given(data=st.data())
def test_gradient_descent_rejects_bad_arguments(data):
    name = data.draw(st.sampled_from(["w0", "lr", "steps", "curvature"]))
    args = dict(w0=1.0, lr=0.1, steps=5, curvature=2.0)
    args[name] = data.draw(
        {
            "w0": non_finite | not_numbers,
            "lr": _bad(0.0),
            "steps": st.integers(max_value=0) | st.floats() | not_numbers,
            "curvature": _bad(0.0, low_open=True),
        }[name]
    )
    rejects(name, gradient_descent, **args)
