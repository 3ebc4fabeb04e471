"""nnfaq.gradients against PyTorch (activations, derivatives, clipping; float64) and its claims."""

import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from nnfaq.gradients import (
    activation,
    clip_grad_norm_,
    collapse_linear,
    dead_relu_fraction,
    grad_norms,
    unrolled_gradient,
)

REFS = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": F.relu,
    "leaky_relu": lambda t: F.leaky_relu(t, 0.1),
    "gelu": F.gelu,
}

# --- activations ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(REFS))
@pytest.mark.parametrize("shape", [(7,), (3, 4), (2, 3, 5)])
def test_activation_and_derivative_match_torch(name, shape):
    x = (4 * torch.randn(shape, dtype=torch.float64)).requires_grad_()
    x.data[..., 0] = 0.0  # include the kink
    ours, d_ours = activation(x, name, negative_slope=0.1)
    ref = REFS[name](x)
    (d_ref,) = torch.autograd.grad(ref.sum(), x)
    assert_close(ours, ref.detach())
    assert_close(d_ours, d_ref)


def test_derivative_maxima_and_saturation():
    x = torch.linspace(-10, 10, 20001, dtype=torch.float64)
    assert activation(x, "sigmoid")[1].max().item() == pytest.approx(0.25, abs=1e-12)
    assert activation(x, "tanh")[1].max().item() == pytest.approx(1.0, abs=1e-12)
    assert activation(x, "sigmoid")[1].argmax() == activation(x, "tanh")[1].argmax() == 10000  # at x = 0
    assert activation(torch.tensor(3.0, dtype=torch.float64), "tanh")[1] < 0.01
    assert activation(torch.tensor(0.0), "relu")[1].item() == 0.0
    assert activation(torch.tensor(0.0), "leaky_relu", 0.2)[1].item() == pytest.approx(0.2)


@pytest.mark.parametrize("n", [1, 3, 8])
@pytest.mark.parametrize("z0", [-2.0, 0.0, 1.5])
def test_stacked_sigmoids_scale_the_gradient_below_quarter_power_n(n, z0):
    z = torch.tensor(z0, dtype=torch.float64, requires_grad=True)
    h = z
    for _ in range(n):
        h = torch.sigmoid(h)
    (g,) = torch.autograd.grad(h, z)
    assert 0 < g.item() <= 0.25**n
    if n > 1:  # the inner sigmoids' outputs are never 0, so the outer derivatives stay below 0.25
        assert g.item() < 0.25**n


# --- linear collapse -----------------------------------------------------------------------------


@pytest.mark.parametrize("widths", [(3, 2), (3, 5, 2), (4, 8, 8, 8, 1)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_layers_collapse_into_one(widths, bias):
    layers = [torch.nn.Linear(a, b, bias=bias, dtype=torch.float64) for a, b in itertools.pairwise(widths)]
    W, b = collapse_linear(*layers)
    x = torch.randn(6, widths[0], dtype=torch.float64)
    assert_close(F.linear(x, W, b), torch.nn.Sequential(*layers)(x))
    assert W.shape == (widths[-1], widths[0])


def test_a_relu_between_breaks_the_collapse():
    layers = [torch.nn.Linear(3, 16, dtype=torch.float64), torch.nn.Linear(16, 2, dtype=torch.float64)]
    net = torch.nn.Sequential(layers[0], torch.nn.ReLU(), layers[1])
    x, y = torch.randn(5, 3, dtype=torch.float64), torch.randn(5, 3, dtype=torch.float64)
    # a linear (affine) map f satisfies f(x + y) - f(y) = f(x) - f(0); the ReLU network does not
    assert not torch.allclose(net(x + y) - net(y), net(x) - net(torch.zeros_like(x)))
    W, b = collapse_linear(*layers)
    assert not torch.allclose(net(x), F.linear(x, W, b))


def test_collapse_rejects_bad_layers():
    with pytest.raises(ValueError, match="layers must contain at least one"):
        collapse_linear()
    with pytest.raises(TypeError, match=r"layers\[1\] must be a torch.nn.Linear"):
        collapse_linear(torch.nn.Linear(2, 2), torch.nn.ReLU())
    with pytest.raises(ValueError, match=r"layers\[1\] must have in_features == 3"):
        collapse_linear(torch.nn.Linear(2, 3), torch.nn.Linear(4, 1))


# --- dead ReLUs ----------------------------------------------------------------------------------


def test_dead_relu_gets_no_gradient_and_stays_dead_leaky_does_not():
    layer = torch.nn.Linear(4, 8, dtype=torch.float64)
    with torch.no_grad():
        layer.bias[:4] = -20.0
    x = torch.randn(64, 4, dtype=torch.float64)
    assert dead_relu_fraction(layer(x)) == 0.5
    opt = torch.optim.SGD(layer.parameters(), lr=0.1)
    before = layer.weight[:4].detach().clone()
    for _ in range(20):
        opt.zero_grad()
        F.relu(layer(x)).pow(2).mean().backward()
        assert torch.equal(layer.weight.grad[:4], torch.zeros(4, 4, dtype=torch.float64))
        opt.step()
    assert torch.equal(layer.weight[:4], before)
    layer.zero_grad()
    F.leaky_relu(layer(x), 0.01).sum().backward()
    assert bool((layer.weight.grad[:4].abs().sum(1) > 0).all())


def test_dead_relu_fraction_values():
    z = torch.tensor([[1.0, -1.0, 0.0], [-2.0, -3.0, 0.0]])
    assert dead_relu_fraction(z) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="preactivation must have 2 dimensions"):
        dead_relu_fraction(torch.randn(3))


# --- per-layer gradient norms --------------------------------------------------------------------


def _deep(activation_cls, nonlinearity, depth=12, width=64):
    layers = []
    for _ in range(depth):
        lin = torch.nn.Linear(width, width, dtype=torch.float64)
        torch.nn.init.kaiming_normal_(lin.weight, nonlinearity=nonlinearity)
        layers += [lin, activation_cls()]
    return torch.nn.Sequential(*layers)


def test_grad_norms_equal_the_norms_of_each_weight_gradient():
    net = _deep(torch.nn.ReLU, "relu", depth=3, width=8)
    net(torch.randn(4, 8, dtype=torch.float64)).sum().backward()
    ours = grad_norms(net)
    ref = {n: p.grad.norm().item() for n, p in net.named_parameters() if p.dim() >= 2}
    assert list(ours) == list(ref) == ["0.weight", "2.weight", "4.weight"]
    for n in ref:
        assert ours[n] == pytest.approx(ref[n])


def test_sigmoid_gradients_vanish_towards_the_input_relu_with_he_does_not():
    x = torch.randn(256, 64, dtype=torch.float64)
    sig = _deep(torch.nn.Sigmoid, "sigmoid")
    sig(x).pow(2).mean().backward()
    s = list(grad_norms(sig).values())
    assert s[0] / s[-1] < 1e-4
    relu = _deep(torch.nn.ReLU, "relu")
    relu(x).pow(2).mean().backward()
    r = list(grad_norms(relu).values())
    assert 0.1 < r[0] / r[-1] < 10


def test_grad_norms_rejects_non_modules():
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        grad_norms([torch.zeros(2)])


# --- exploding gradients through time -----------------------------------------------------------


@pytest.mark.parametrize("w", [0.5, 0.9, 1.0, 1.1, 2.0, -1.3])
@pytest.mark.parametrize("n", [1, 10, 50])
def test_linear_recurrence_gradient_is_w_to_the_n(w, n):
    g = unrolled_gradient(w, n)
    assert g.shape == (n + 1,)
    expected = torch.tensor([abs(w) ** k for k in range(n + 1)], dtype=torch.float64)
    assert_close(g, expected)


def test_gradient_explodes_with_sequence_length_at_a_fixed_weight():
    assert unrolled_gradient(1.1, 10)[-1] < 3
    assert unrolled_gradient(1.1, 100)[-1] > 1e4
    assert unrolled_gradient(0.9, 100)[-1] < 1e-4


def test_matrix_recurrence_follows_the_spectral_radius():
    Q = torch.linalg.qr(torch.randn(6, 6, dtype=torch.float64)).Q
    for rho in (0.8, 1.3):
        g = unrolled_gradient(rho * Q, 15)
        assert g[-1].item() == pytest.approx(rho**15 * math.sqrt(6), rel=1e-9)


def test_tanh_recurrence_matches_nn_rnn_gradient():
    W = 1.5 * torch.randn(5, 5, dtype=torch.float64) / math.sqrt(5)
    ours = unrolled_gradient(W, 12, nonlinearity="tanh")[-1]
    rnn = torch.nn.RNN(5, 5, bias=False, dtype=torch.float64)
    with torch.no_grad():
        rnn.weight_hh_l0.copy_(W)
        rnn.weight_ih_l0.zero_()
    h0 = torch.ones(1, 1, 5, dtype=torch.float64, requires_grad=True)
    out, _ = rnn(torch.zeros(12, 1, 5, dtype=torch.float64), h0)
    (ref,) = torch.autograd.grad(out[-1].sum(), h0)
    assert ours.item() == pytest.approx(ref.norm().item(), rel=1e-10)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((1.0, 0), {}, ValueError, "steps must be >= 1"),
        (("1.0", 3), {}, TypeError, "weight must be a real number"),
        ((torch.randn(2, 3), 3), {}, ValueError, r"weight must be a square \(C, C\) matrix"),
        ((torch.randn(3), 3), {}, ValueError, "weight must have 2 dimensions"),
        ((1.0, 3), {"nonlinearity": "relu"}, ValueError, "nonlinearity must be None or 'tanh'"),
    ],
)
def test_unrolled_gradient_rejects_bad_arguments(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        unrolled_gradient(*args, **kwargs)


# --- gradient clipping ---------------------------------------------------------------------------


def _twins():
    torch.manual_seed(1)
    a = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 3)).double()
    b = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 3)).double()
    b.load_state_dict(a.state_dict())
    x = 5 * torch.randn(16, 5, dtype=torch.float64)
    a(x).pow(2).sum().backward()
    b(x).pow(2).sum().backward()
    return a, b


@pytest.mark.parametrize("max_norm", [1e-3, 0.5, 1.0, 1e6])
@pytest.mark.parametrize("norm_type", [1.0, 2.0, 3.0, float("inf")])
def test_clip_grad_norm_matches_torch(max_norm, norm_type):
    a, b = _twins()
    ours = clip_grad_norm_(a.parameters(), max_norm, norm_type)
    ref = torch.nn.utils.clip_grad_norm_(b.parameters(), max_norm, norm_type)
    assert_close(ours, ref)
    for p, q in zip(a.parameters(), b.parameters()):
        assert_close(p.grad, q.grad)


def test_clip_returns_the_norm_before_and_keeps_the_direction():
    a, _ = _twins()
    before = torch.cat([p.grad.flatten() for p in a.parameters()])
    total = clip_grad_norm_(a.parameters(), 0.5)
    after = torch.cat([p.grad.flatten() for p in a.parameters()])
    assert_close(total, before.norm())
    assert after.norm().item() == pytest.approx(0.5, rel=1e-5)
    assert_close(after / after.norm(), before / before.norm())
    # below the threshold nothing changes
    clip_grad_norm_(a.parameters(), 10.0)
    assert_close(torch.cat([p.grad.flatten() for p in a.parameters()]), after)


def test_clip_skips_parameters_without_gradient_and_accepts_one_tensor():
    p, q = torch.ones(3, requires_grad=True), torch.ones(2, requires_grad=True)
    p.grad = torch.tensor([3.0, 4.0, 0.0])
    assert clip_grad_norm_([p, q], 1.0).item() == pytest.approx(5.0)
    assert q.grad is None
    assert clip_grad_norm_(p, 1.0).item() == pytest.approx(1.0, rel=1e-5)
    assert clip_grad_norm_([q], 1.0).item() == 0.0


def test_clip_rejects_bad_arguments():
    p = torch.ones(3, requires_grad=True)
    with pytest.raises(ValueError, match="max_norm must be in"):
        clip_grad_norm_([p], 0.0)
    with pytest.raises(ValueError, match="norm_type must be in"):
        clip_grad_norm_([p], 1.0, norm_type=-2.0)
    with pytest.raises(TypeError, match=r"parameters\[1\] must be a torch.Tensor"):
        clip_grad_norm_([p, 3.0], 1.0)


def test_activation_rejects_bad_arguments():
    with pytest.raises(ValueError, match="nonlinearity must be one of"):
        activation(torch.randn(3), "swish")
    with pytest.raises(TypeError, match="input must be a floating-point tensor"):
        activation(torch.arange(3))
    with pytest.raises(TypeError, match="negative_slope must be a real number"):
        activation(torch.randn(3), "leaky_relu", negative_slope="0.1")
