"""nnfaq.foundations.activations: activations and their derivatives, the linear collapse, dead ReLUs.

Parity with PyTorch (values and autograd derivatives, float64), the claims of the answers, and the refusals
specific to these functions (the shared ones are rows of tests/foundations/contract.py).
"""

import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from helpers import gen, rejects, seeds, sizes
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.testing import assert_close

from nnfaq.foundations.activations import activation, collapse_linear, dead_relu_fraction

F64 = torch.float64

# --- parity --------------------------------------------------------------------------------------


@settings(max_examples=20)
@given(
    shape=st.lists(sizes, max_size=3).map(tuple),
    nonlinearity=st.sampled_from(["sigmoid", "tanh", "relu", "leaky_relu", "gelu"]),
    slope=st.sampled_from([0.01, 0.2, -0.5]) | st.floats(-2, 2),
    scale=st.sampled_from([0.1, 1.0, 10.0]),
    seed=seeds,
)
def test_activation_and_derivative_match_torch(shape, nonlinearity, slope, scale, seed):
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
    assert ours.dtype == d_ours.dtype == F64 and not ours.requires_grad and not d_ours.requires_grad
    assert_close(ours, ref.detach())
    assert_close(d_ours, ref_grad)
    if nonlinearity == "leaky_relu":  # the slope itself, not a float32 rounding of it
        assert (d_ours[x <= 0] == slope).all()


@settings(max_examples=20)
@given(widths=st.lists(sizes, min_size=2, max_size=5), bias=st.booleans(), B=sizes, seed=seeds)
def test_collapse_linear_equals_the_stack(widths, bias, B, seed):
    torch.manual_seed(seed)
    layers = [torch.nn.Linear(i, o, bias=bias, dtype=F64) for i, o in itertools.pairwise(widths)]
    W, b = collapse_linear(*layers)
    assert W.shape == (widths[-1], widths[0]) and b.shape == (widths[-1],)
    x = torch.randn(B, widths[0], generator=gen(seed), dtype=F64)
    assert_close(F.linear(x, W, b), torch.nn.Sequential(*layers)(x).detach())


# --- claims: saturation and the weights ----------------------------------------------------------


def test_derivative_maxima_are_at_zero_and_tanh_saturates():
    x = torch.linspace(-10, 10, 20001, dtype=F64)
    for name, top in (("sigmoid", 0.25), ("tanh", 1.0)):
        d = activation(x, name)[1]
        assert d.max().item() == pytest.approx(top, abs=1e-12) and d.argmax() == 10000  # x = 0
    assert activation(torch.tensor(3.0, dtype=F64), "tanh")[1] < 0.01


def _chain(f, w, b, n, h=0.5):
    h0 = torch.tensor(h, dtype=F64, requires_grad=True)
    out, factors = h0, []
    for _ in range(n):
        z = w * out + b
        factors.append(torch.autograd.functional.jacobian(f, z.detach()) * w)
        out = f(z)
    return torch.autograd.grad(out, h0)[0].item(), factors


@settings(max_examples=20)
@given(w=st.floats(-8, 8), b=st.floats(-4, 4), n=st.integers(1, 12), h=st.floats(-1, 1))
def test_the_gradient_through_n_layers_is_the_product_of_slope_times_weight(w, b, n, h):
    g, factors = _chain(torch.sigmoid, w, b, n, h)
    assert g == pytest.approx(math.prod(f.item() for f in factors), rel=1e-9, abs=1e-300)
    assert abs(g) <= (0.25 * abs(w)) ** n * (1 + 1e-9)  # the bound has the weight in it


def test_sigmoid_layers_can_grow_the_gradient_and_relu_layers_shrink_it():
    assert _chain(torch.sigmoid, 1.0, 0.0, 10)[0] < 0.25**10
    for n in (1, 5, 10):  # every layer at z = 0, sigma' = 1/4, times w = 6
        assert _chain(torch.sigmoid, 6.0, -3.0, n)[0] == 1.5**n > 0.25**n
        assert _chain(torch.relu, 0.5, 0.0, n)[0] == 0.5**n


def test_the_loss_of_a_tanh_network_is_not_convex():
    t = torch.linspace(-2, 2, 41, dtype=F64).unsqueeze(1)
    g = gen(0)
    for _ in range(5):  # any two distinct units fitted exactly, and their swap
        W1, W2 = torch.randn(2, 1, generator=g, dtype=F64), torch.randn(1, 2, generator=g, dtype=F64)
        target = torch.tanh(t @ W1.T) @ W2.T

        def loss(A, B, target=target):
            return F.mse_loss(torch.tanh(t @ A.T) @ B.T, target).item()

        mid = loss((W1 + W1[[1, 0]]) / 2, (W2 + W2[:, [1, 0]]) / 2)
        assert loss(W1, W2) == 0.0 and loss(W1[[1, 0]], W2[:, [1, 0]]) < 1e-30
        assert mid > 1e-6  # convexity would need mid <= 0


# --- claims: why non-linear ----------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_no_affine_map_fits_a_relu_network_and_additivity_fails(seed):
    torch.manual_seed(seed)
    lin = [torch.nn.Linear(3, 16, dtype=F64), torch.nn.Linear(16, 2, dtype=F64)]
    net = torch.nn.Sequential(lin[0], torch.nn.ReLU(), lin[1])
    X = torch.randn(200, 3, generator=gen(seed), dtype=F64)
    A = torch.cat([X, torch.ones(200, 1, dtype=F64)], dim=1)
    for model, nonlinear in ((net, True), (torch.nn.Sequential(*lin), False)):
        Y = model(X).detach()
        unexplained = (Y - A @ torch.linalg.lstsq(A, Y).solution).pow(2).sum() / (Y - Y.mean(0)).pow(2).sum()
        assert (unexplained > 0.01) if nonlinear else (unexplained < 1e-20)
    # an affine f has f(x + y) - f(y) = f(x) - f(0) for every pair; the ReLU network breaks it
    x, y = X[:100], X[100:]
    zero = torch.zeros_like(x)
    assert not torch.allclose(net(x + y) - net(y), net(x) - net(zero))


@pytest.mark.parametrize("width", [1, 10, 1000])
def test_a_polynomial_activation_gives_a_polynomial_of_its_degree_however_wide(width):
    g = gen(width)
    t = torch.linspace(-1, 1, 101, dtype=F64).unsqueeze(1)
    P = torch.cat([t**0, t, t**2], dim=1)  # every quadratic in t is P @ c

    def off(f):  # largest error of the best quadratic fit of f, relative to f
        return ((f - P @ torch.linalg.lstsq(P, f).solution).abs().max() / f.abs().max()).item()

    h = t @ torch.randn(width, 1, generator=g, dtype=F64).T + torch.randn(width, generator=g, dtype=F64)
    v = torch.randn(width, 1, generator=g, dtype=F64)
    assert off(h.square() @ v) < 1e-9
    assert off(t.abs()) > 0.1 and torch.equal(F.relu(t) + F.relu(-t), t.abs())
    if width == 1000:  # a wide ReLU layer is no quadratic
        assert off(F.relu(h) @ v) > 1e-3


def test_a_linear_stack_cannot_fit_xor():
    X = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], dtype=F64)
    y = torch.tensor([[0.0], [1.0], [1.0], [0.0]], dtype=F64)
    A = torch.cat([X, torch.ones(4, 1, dtype=F64)], dim=1)
    assert F.mse_loss(A @ torch.linalg.lstsq(A, y).solution, y).item() == pytest.approx(0.25)


# --- claims: dead ReLUs --------------------------------------------------------------------------


@settings(max_examples=20)
@given(B=sizes, C=sizes, Cin=sizes, shift=st.floats(-5, 2), seed=seeds)
def test_dead_units_are_counted_and_get_exactly_zero_gradient(B, C, Cin, shift, seed):
    g = gen(seed)
    layer = torch.nn.Linear(Cin, C, dtype=F64)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(C, Cin, generator=g, dtype=F64))
        layer.bias.copy_(torch.randn(C, generator=g, dtype=F64) + 3 * shift)
    z = layer(torch.randn(B, Cin, generator=g, dtype=F64))  # (B, C)
    dead = (z <= 0).all(dim=0)
    assert dead_relu_fraction(z.detach()) == dead.sum().item() / C
    F.relu(z).pow(2).sum().backward()
    assert not layer.weight.grad[dead].any() and not layer.bias.grad[dead].any()
    # dead on this batch, not on every input: along its own weights a unit switches on
    w = layer.weight.detach()
    norm2 = w.pow(2).sum(dim=1, keepdim=True)
    probe = (1 - layer.bias.detach().unsqueeze(1)) * w / norm2  # row j: w_j . x + b_j = 1
    alive = norm2.squeeze(1) > 0
    assert (layer(probe).diagonal()[alive] > 0).all()


@pytest.mark.parametrize("seed", range(3))
def test_upstream_layers_keep_learning_and_weight_decay_only_scales_a_dead_unit(seed):
    torch.manual_seed(seed)
    upstream, layer, live = (torch.nn.Linear(4, n, dtype=F64) for n in (4, 8, 1))
    torch.nn.init.constant_(layer.bias, -10.0)
    x = torch.randn(32, 4, generator=gen(seed), dtype=F64)
    h = upstream(x)
    assert dead_relu_fraction(layer(h)) == 1.0
    (F.relu(layer(h)).sum() + live(h).pow(2).sum()).backward()
    assert layer.weight.grad.count_nonzero() == 0 and bool(upstream.weight.grad.abs().sum() > 0)
    w0, b0 = layer.weight.detach().clone(), layer.bias.detach().clone()
    opt = torch.optim.SGD(layer.parameters(), lr=0.1, weight_decay=0.1)
    for _ in range(20):
        opt.zero_grad()
        F.relu(layer(x)).sum().backward()
        opt.step()
    assert_close(layer.weight, w0 * 0.99**20)
    assert_close(layer.bias, b0 * 0.99**20)
    assert dead_relu_fraction(layer(x)) == 1.0
    layer.zero_grad()
    F.leaky_relu(layer(x), 0.01).sum().backward()
    assert (layer.weight.grad.abs().sum(dim=1) > 0).all()


# --- bad input -----------------------------------------------------------------------------------


def test_collapse_linear_refuses_non_linear_layers_mismatched_widths_and_dtypes():
    layers = [torch.nn.Linear(2, 3, dtype=F64), torch.nn.Linear(3, 4, dtype=F64), torch.nn.Linear(4, 1, dtype=F64)]
    rejects("layers", collapse_linear)
    for bad in (None, torch.nn.ReLU(), torch.nn.Linear(5, 4, dtype=F64), torch.nn.Linear(3, 4)):
        rejects("layers[1]", collapse_linear, layers[0], bad, layers[2])


@pytest.mark.parametrize("shape", [(3,), (2, 2, 2), (0, 3), (3, 0)])
def test_dead_relu_fraction_refuses_other_ranks_empty_batches_and_nan(shape):
    rejects("preactivation", dead_relu_fraction, torch.ones(shape))
    rejects("preactivation", dead_relu_fraction, torch.tensor([[1.0, math.nan]]))
