"""Property tests for nnfaq.gradients: random shapes and options agree with PyTorch (activations and their
autograd derivatives, composed linear layers, gradient norms, clip_grad_norm_; float64) or with the stated
invariant (dead units get no gradient, the gradient through a linear recurrence is a matrix power); random
invalid input raises ValueError/TypeError naming the argument."""

import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import gen, non_finite, rejects, seeds, sizes
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.testing import assert_close

from nnfaq.gradients import (
    activation,
    clip_grad_norm_,
    collapse_linear,
    dead_relu_fraction,
    grad_norms,
    unrolled_gradient,
)

F64 = torch.float64

shapes = st.lists(sizes, max_size=3).map(tuple)
not_numbers = st.sampled_from([None, "1.0", [1.0], True, torch.tensor(1.0)])
not_tensors = st.sampled_from([None, 1.0, [[1.0, 2.0]], "x", np.ones((2, 2))])


# --- activation ----------------------------------------------------------------------------------


@given(
    shape=shapes,
    nonlinearity=st.sampled_from(["sigmoid", "tanh", "relu", "leaky_relu", "gelu"]),
    slope=st.floats(-2, 2),
    scale=st.sampled_from([0.1, 1.0, 10.0]),
    seed=seeds,
)
def test_activation_and_derivative_match_torch_and_autograd(shape, nonlinearity, slope, scale, seed):
    x = scale * torch.randn(shape, generator=gen(seed), dtype=F64)
    x = torch.where(torch.rand(shape, generator=gen(seed + 1), dtype=F64) < 0.2, 0.0, x)  # kinks at exactly 0
    ref_fn = {
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "relu": F.relu,
        "leaky_relu": lambda t: F.leaky_relu(t, slope),
        "gelu": F.gelu,
    }[nonlinearity]
    xr = x.clone().requires_grad_()
    ref = ref_fn(xr)
    (ref_grad,) = torch.autograd.grad(ref.sum(), xr)
    ours, d_ours = activation(x.clone().requires_grad_(), nonlinearity, negative_slope=slope)
    assert ours.shape == d_ours.shape == x.shape and ours.dtype == d_ours.dtype == F64
    assert not ours.requires_grad and not d_ours.requires_grad
    assert_close(ours, ref.detach())
    assert_close(d_ours, ref_grad)
    if nonlinearity == "sigmoid":
        assert bool((d_ours <= 0.25).all())
    if nonlinearity == "tanh":
        assert bool(((d_ours >= 0) & (d_ours <= 1)).all())


@given(
    which=st.sampled_from(["input", "nonlinearity", "negative_slope"]),
    bad=not_numbers | not_tensors | non_finite | st.sampled_from(["swish", "ReLU"]),
)
def test_activation_rejects_bad_arguments(which, bad):
    if (which == "negative_slope" and isinstance(bad, float) and math.isfinite(bad)) or (
        which == "input" and isinstance(bad, torch.Tensor) and bad.is_floating_point()
    ):
        return  # valid
    if which == "nonlinearity" and isinstance(bad, np.ndarray):
        return  # _validate.choice compares an array elementwise: reported to the lead
    args = dict(input=torch.ones(3, dtype=F64), nonlinearity="leaky_relu", negative_slope=0.1)
    rejects(which, activation, **{**args, which: bad})


@given(shape=shapes, dtype=st.sampled_from([torch.int64, torch.bool, torch.int8]))
def test_activation_rejects_integer_input(shape, dtype):
    rejects("input", activation, torch.zeros(shape, dtype=dtype))


# --- collapse_linear -----------------------------------------------------------------------------


@given(
    widths=st.lists(sizes, min_size=2, max_size=5),
    biases=st.lists(st.booleans(), min_size=4, max_size=4),
    B=sizes,
    seed=seeds,
)
def test_collapse_linear_equals_the_stack(widths, biases, B, seed):
    torch.manual_seed(seed)
    layers = [torch.nn.Linear(i, o, bias=b, dtype=F64) for i, o, b in zip(widths, widths[1:], biases)]
    W, b = collapse_linear(*layers)
    assert W.shape == (widths[-1], widths[0]) and b.shape == (widths[-1],)
    x = torch.randn(B, widths[0], generator=gen(seed), dtype=F64)
    assert_close(F.linear(x, W, b), torch.nn.Sequential(*layers)(x).detach())


@given(widths=st.lists(sizes, min_size=3, max_size=4), i=st.integers(1, 2), bad=not_tensors)
def test_collapse_linear_rejects_non_linear_layers_mismatched_widths_and_dtypes(widths, i, bad):
    layers = [torch.nn.Linear(a, b, dtype=F64) for a, b in itertools.pairwise(widths)]
    i = min(i, len(layers) - 1)
    rejects(f"layers[{i}]", collapse_linear, *layers[:i], bad, *layers[i + 1 :])
    rejects(f"layers[{i}]", collapse_linear, *layers[:i], torch.nn.ReLU(), *layers[i + 1 :])
    wrong = torch.nn.Linear(widths[i] + 1, widths[i + 1], dtype=F64)
    rejects(f"layers[{i}]", collapse_linear, *layers[:i], wrong, *layers[i + 1 :])
    other = torch.nn.Linear(widths[i], widths[i + 1], dtype=torch.float32)
    rejects(f"layers[{i}]", collapse_linear, *layers[:i], other, *layers[i + 1 :])
    rejects("layers", collapse_linear)


# --- dead_relu_fraction --------------------------------------------------------------------------


@given(B=sizes, C=sizes, Cin=sizes, shift=st.floats(-5, 2), seed=seeds)
def test_dead_units_are_counted_and_get_exactly_zero_gradient(B, C, Cin, shift, seed):
    g = gen(seed)
    layer = torch.nn.Linear(Cin, C, dtype=F64)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(C, Cin, generator=g, dtype=F64))
        layer.bias.copy_(torch.randn(C, generator=g, dtype=F64) + 3 * shift)
    x = torch.randn(B, Cin, generator=g, dtype=F64)
    z = layer(x)  # (B, C)
    fraction = dead_relu_fraction(z.detach())
    dead = (z <= 0).all(dim=0)
    assert fraction == dead.sum().item() / C and 0 <= fraction <= 1
    F.relu(z).pow(2).sum().backward()
    assert not layer.weight.grad[dead].any() and not layer.bias.grad[dead].any()


@given(
    bad=not_tensors
    | st.sampled_from(
        [torch.ones(3), torch.ones(2, 2, 2), torch.ones(0, 3), torch.ones(3, 0), torch.ones(2, 2, dtype=torch.int64)]
    )
    | st.builds(
        lambda i, j: torch.ones(3, 3).index_put_((torch.tensor(i), torch.tensor(j)), torch.tensor(math.nan)),
        st.integers(0, 2),
        st.integers(0, 2),
    )
)
def test_dead_relu_fraction_rejects_bad_preactivations(bad):
    rejects("preactivation", dead_relu_fraction, bad)


# --- grad_norms ----------------------------------------------------------------------------------


@given(
    widths=st.lists(sizes, min_size=2, max_size=5), frozen=st.lists(st.booleans(), min_size=4, max_size=4), seed=seeds
)
def test_grad_norms_are_the_norms_of_the_weight_gradients(widths, frozen, seed):
    torch.manual_seed(seed)
    layers = [torch.nn.Linear(i, o, dtype=F64) for i, o in itertools.pairwise(widths)]
    for layer, f in zip(layers, frozen):
        layer.weight.requires_grad_(not f)
    net = torch.nn.Sequential(*[m for layer in layers for m in (layer, torch.nn.Tanh())])
    x = torch.randn(3, widths[0], generator=gen(seed), dtype=F64)
    net(x).pow(2).sum().backward()
    ours = grad_norms(net)
    ref = {n: p.grad.norm().item() for n, p in net.named_parameters() if p.grad is not None and p.dim() >= 2}
    assert list(ours) == list(ref)  # registration order, weights only, frozen ones skipped
    assert ours == pytest.approx(ref, rel=1e-12)


@given(bad=not_tensors | st.just(torch.nn.Linear) | st.just([torch.nn.Linear(2, 2)]))
def test_grad_norms_rejects_non_modules(bad):
    rejects("model", grad_norms, bad)


# --- unrolled_gradient ---------------------------------------------------------------------------


@given(w=st.floats(-2, 2), steps=st.integers(1, 30))
def test_scalar_linear_recurrence_gradient_is_abs_w_to_the_k(w, steps):
    ours = unrolled_gradient(w, steps)
    assert ours.shape == (steps + 1,) and ours.dtype == F64
    assert_close(ours, abs(w) ** torch.arange(steps + 1, dtype=F64), rtol=1e-10, atol=1e-300)


@given(C=sizes, steps=st.integers(1, 8), tanh=st.booleans(), seed=seeds)
def test_matrix_recurrence_gradient_matches_autograd_and_matrix_powers(C, steps, tanh, seed):
    W = torch.randn(C, C, generator=gen(seed), dtype=F64) / math.sqrt(C)
    ours = unrolled_gradient(W.float() if seed % 2 else W, steps, "tanh" if tanh else None)
    W = W.float().double() if seed % 2 else W
    if not tanh:  # d(1^T W^k h)/dh = (W^T)^k 1
        ref = [torch.linalg.matrix_power(W.T, k) @ torch.ones(C, dtype=F64) for k in range(steps + 1)]
        assert_close(ours, torch.stack([r.norm() for r in ref]))
    h0 = torch.ones(C, dtype=F64, requires_grad=True)
    hs = [h0]
    for _ in range(steps):
        hs.append(torch.tanh(W @ hs[-1]) if tanh else W @ hs[-1])
    (g0,) = torch.autograd.grad(hs[-1].sum(), h0)
    assert_close(ours[-1], g0.norm())
    assert ours[0].item() == pytest.approx(math.sqrt(C))


@given(
    which=st.sampled_from(["weight", "steps", "nonlinearity"]),
    bad=not_numbers
    | non_finite
    | st.sampled_from(
        [0, -1, 2.0, "relu", torch.ones(2, 3), torch.ones(0, 0), torch.ones(3), torch.ones(2, 2, dtype=torch.int64)]
    ),
)
def test_unrolled_gradient_rejects_bad_arguments(which, bad):
    if (which == "weight" and isinstance(bad, int | float) and math.isfinite(bad) and not isinstance(bad, bool)) or (
        which == "nonlinearity" and bad is None
    ):
        return  # valid
    args = dict(weight=1.5, steps=3, nonlinearity=None)
    rejects(which, unrolled_gradient, **{**args, which: bad})


@given(
    bad=st.builds(
        lambda i, v: torch.eye(3).index_put_((torch.tensor(i),), torch.tensor(v)), st.integers(0, 2), non_finite
    )
)
def test_unrolled_gradient_rejects_non_finite_matrices(bad):
    rejects("weight", unrolled_gradient, bad, 3)


# --- clip_grad_norm_ -----------------------------------------------------------------------------


@st.composite
def parameter_sets(draw):
    n = draw(st.integers(1, 4))
    specs = [
        (draw(shapes), draw(st.booleans() | st.just(True)), draw(st.sampled_from([F64, F64, torch.float32])))
        for _ in range(n)
    ]
    return specs, draw(seeds), draw(st.sampled_from([0.0, 1.0, 3.0]))


def _params(specs, seed, log_scale):
    g = gen(seed)
    params = []
    for shape, has_grad, dtype in specs:
        p = torch.zeros(shape, dtype=dtype, requires_grad=True)
        if has_grad:
            p.grad = torch.randn(shape, generator=g, dtype=F64).to(dtype) * 10**log_scale
        params.append(p)
    return params


@settings(max_examples=40)
@given(
    spec=parameter_sets(),
    max_norm=st.floats(1e-3, 1e3),
    norm_type=st.sampled_from([1.0, 2.0, math.inf]) | st.floats(0.5, 4),
)
def test_clip_grad_norm_matches_torch(spec, max_norm, norm_type):
    ours_p, ref_p = _params(*spec), _params(*spec)
    ours = clip_grad_norm_(ours_p, max_norm, norm_type)
    ref = torch.nn.utils.clip_grad_norm_(ref_p, max_norm, norm_type, foreach=False)
    assert_close(ours, ref, rtol=1e-5, atol=1e-6)
    for p, q in zip(ours_p, ref_p):
        assert (p.grad is None) == (q.grad is None)
        if p.grad is not None:
            assert p.grad.dtype == q.grad.dtype
            assert_close(p.grad, q.grad, rtol=1e-5, atol=1e-7)


@given(bad=st.sampled_from([None, 1, 1.5, True, object()]))
def test_clip_grad_norm_rejects_non_iterables(bad):
    rejects("parameters", clip_grad_norm_, bad, 1.0)


@given(i=st.integers(0, 3), bad=st.sampled_from([None, 1.0, "x", [1.0], np.ones(2), torch.ones(2, dtype=torch.int64)]))
def test_clip_grad_norm_rejects_non_tensor_or_integer_parameters(i, bad):
    params = [torch.ones(2, requires_grad=True) for _ in range(4)]
    params[i] = bad
    rejects(f"parameters[{i}]", clip_grad_norm_, params, 1.0)


@given(
    which=st.sampled_from(["max_norm", "norm_type"]),
    bad=not_numbers | st.sampled_from([0.0, -1.0, math.nan, -math.inf]),
)
def test_clip_grad_norm_rejects_bad_norms(which, bad):
    p = torch.ones(2, requires_grad=True)
    p.grad = torch.ones(2)
    rejects(which, clip_grad_norm_, [p], **{"max_norm": 1.0, "norm_type": 2.0, which: bad})
    assert torch.equal(p.grad, torch.ones(2))  # refused before touching any gradient
