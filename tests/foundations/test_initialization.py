"""nnfaq.initialization against torch.nn.init (same draws, bounds, std) and its claims."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from nnfaq.initialization import (
    activation_std,
    calculate_gain,
    count_distinct_units,
    kaiming_normal_,
    kaiming_uniform_,
    train_mlp,
    xavier_normal_,
    xavier_uniform_,
)

SHAPES = [(30, 20), (16, 8, 3), (64, 32, 3, 3), (4, 2, 2, 3, 3)]


@pytest.mark.parametrize("nonlinearity", ["linear", "conv1d", "conv2d", "conv3d", "sigmoid", "tanh", "relu", "selu"])
def test_calculate_gain_matches_torch(nonlinearity):
    assert calculate_gain(nonlinearity) == pytest.approx(torch.nn.init.calculate_gain(nonlinearity))


@pytest.mark.parametrize("slope", [None, 0.0, 0.01, 0.2, 1.0])
def test_leaky_relu_gain_matches_torch(slope):
    assert calculate_gain("leaky_relu", slope) == pytest.approx(torch.nn.init.calculate_gain("leaky_relu", slope))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("gain", [1.0, 5 / 3, math.sqrt(2)])
@pytest.mark.parametrize(
    ("ours_fn", "ref_fn"),
    [(xavier_uniform_, torch.nn.init.xavier_uniform_), (xavier_normal_, torch.nn.init.xavier_normal_)],
)
def test_xavier_matches_torch(shape, gain, ours_fn, ref_fn):
    torch.manual_seed(3)
    ours = ours_fn(torch.empty(shape, dtype=torch.float64), gain=gain)
    torch.manual_seed(3)
    ref = ref_fn(torch.empty(shape, dtype=torch.float64), gain=gain)
    assert torch.equal(ours, ref)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("a", [0.0, 0.1, math.sqrt(5)])
@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize("nonlinearity", ["relu", "leaky_relu", "tanh"])
@pytest.mark.parametrize(
    ("ours_fn", "ref_fn"),
    [(kaiming_uniform_, torch.nn.init.kaiming_uniform_), (kaiming_normal_, torch.nn.init.kaiming_normal_)],
)
def test_kaiming_matches_torch(shape, a, mode, nonlinearity, ours_fn, ref_fn):
    torch.manual_seed(5)
    ours = ours_fn(torch.empty(shape, dtype=torch.float64), a=a, mode=mode, nonlinearity=nonlinearity)
    torch.manual_seed(5)
    ref = ref_fn(torch.empty(shape, dtype=torch.float64), a=a, mode=mode, nonlinearity=nonlinearity)
    assert torch.equal(ours, ref)


def test_bounds_and_stds_are_the_documented_ones():
    fan_in, fan_out = 200, 300
    w = torch.empty(fan_out, fan_in, dtype=torch.float64)
    bound = math.sqrt(6 / (fan_in + fan_out))
    u = xavier_uniform_(w.clone())
    assert u.abs().max() <= bound and u.abs().max() > 0.99 * bound
    assert xavier_normal_(w.clone()).std().item() == pytest.approx(math.sqrt(2 / (fan_in + fan_out)), rel=0.02)
    assert kaiming_normal_(w.clone(), nonlinearity="relu").std().item() == pytest.approx(
        math.sqrt(2 / fan_in), rel=0.02
    )
    k = kaiming_uniform_(w.clone(), nonlinearity="relu")
    assert k.abs().max() <= math.sqrt(6 / fan_in)


def test_pytorch_default_linear_and_conv_init_is_kaiming_uniform_sqrt5():
    torch.manual_seed(2)
    layer = torch.nn.Linear(100, 50)
    torch.manual_seed(2)
    ours = kaiming_uniform_(torch.empty(50, 100), a=math.sqrt(5))
    assert torch.equal(layer.weight, ours)
    assert layer.weight.abs().max() <= 1 / math.sqrt(100)
    torch.manual_seed(2)
    conv = torch.nn.Conv2d(8, 16, 3)
    torch.manual_seed(2)
    assert torch.equal(conv.weight, kaiming_uniform_(torch.empty(16, 8, 3, 3), a=math.sqrt(5)))


def test_he_variance_is_twice_xavier_for_square_layers():
    he = kaiming_normal_(torch.empty(600, 600, dtype=torch.float64), nonlinearity="relu")
    xavier = xavier_normal_(torch.empty(600, 600, dtype=torch.float64))
    assert (he.var() / xavier.var()).item() == pytest.approx(2.0, rel=0.02)


# --- activations through depth -------------------------------------------------------------------


def test_he_keeps_activation_std_while_small_or_xavier_vanish_and_large_explodes():
    x = torch.randn(64, 256, dtype=torch.float64)
    he = activation_std(x, 50, "kaiming")
    assert 0.25 < (he[-1] / he[0]).item() < 4
    xavier = activation_std(x, 50, "xavier")
    assert (xavier[-1] / xavier[0]).item() == pytest.approx(2 ** (-49 / 2), rel=2.0)
    assert activation_std(x, 50, 0.01)[-1] < 1e-40
    assert activation_std(x, 50, 0.2)[-1] > 1e10
    # PyTorch's default (variance 1/(3 fan_in)) shrinks the variance by 1/6 per ReLU layer
    default = activation_std(x, 20, "default")
    assert (default[-1] / default[0]).item() < 1e-6


def test_activation_std_tanh_with_xavier_does_not_explode():
    x = torch.randn(64, 256, dtype=torch.float64)
    s = activation_std(x, 50, "xavier", nonlinearity="tanh")
    assert s.max() <= 1 and s[-1] > 0.05


# --- zero and constant init ----------------------------------------------------------------------


def _data():
    return torch.randn(64, 4, dtype=torch.float64), torch.randn(64, 2, dtype=torch.float64)


def test_zero_init_gives_exactly_zero_weight_gradients_and_weights_never_move():
    x, y = _data()
    net = train_mlp(x, y, 8, init=0.0, steps=0)
    F.mse_loss(net(x), y).backward()
    assert torch.equal(net[0].weight.grad, torch.zeros_like(net[0].weight))
    assert torch.equal(net[2].weight.grad, torch.zeros_like(net[2].weight))
    assert torch.equal(net[0].bias.grad, torch.zeros_like(net[0].bias))
    assert bool(net[2].bias.grad.abs().sum() > 0)
    trained = train_mlp(x, y, 8, init=0.0, steps=200)
    assert trained[0].weight.count_nonzero() == 0 and trained[2].weight.count_nonzero() == 0
    # only the output bias learned: the prediction is the same for every input, the mean target
    out = trained(x)
    assert torch.equal(out, out[:1].expand(64, 2))
    assert_close(out[0], y.mean(0), atol=1e-6, rtol=0)


def test_constant_init_keeps_units_identical_random_does_not():
    x, y = _data()
    const = train_mlp(x, y, 8, init=0.3, steps=100)
    assert bool(const[0].weight.grad.abs().sum() > 0)  # it does learn, but as one unit
    assert count_distinct_units(const[0].weight) == 1
    assert count_distinct_units(const[2].weight.T) == 1
    rand = train_mlp(x, y, 8, steps=100)
    assert count_distinct_units(rand[0].weight) == 8
    assert F.mse_loss(rand(x), y) < F.mse_loss(const(x), y)


def test_train_mlp_matches_a_manual_sgd_loop():
    x, y = _data()
    torch.manual_seed(4)
    ours = train_mlp(x, y, 5, steps=10, lr=0.05)
    torch.manual_seed(4)
    ref = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.ReLU(), torch.nn.Linear(5, 2)).double()
    opt = torch.optim.SGD(ref.parameters(), lr=0.05)
    for _ in range(10):
        opt.zero_grad()
        F.mse_loss(ref(x), y).backward()
        opt.step()
    for o, r in zip(ours.parameters(), ref.parameters()):
        assert_close(o, r)


def test_count_distinct_units():
    w = torch.tensor([[1.0, 2.0], [1.0, 2.0], [1.0, 2.000001], [0.0, 0.0]])
    assert count_distinct_units(w) == 3
    assert count_distinct_units(w, atol=1e-3) == 2


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: calculate_gain("softmax"), ValueError, "nonlinearity must be one of"),
        (lambda: calculate_gain("leaky_relu", "x"), TypeError, "param must be a real number"),
        (lambda: xavier_uniform_(torch.empty(5)), ValueError, "tensor must have at least 2 dimensions"),
        (lambda: xavier_normal_(torch.empty(3, 3), gain=-1.0), ValueError, "gain must be in"),
        (lambda: kaiming_uniform_(torch.empty(3, 3), mode="fan_avg"), ValueError, "mode must be one of"),
        (lambda: kaiming_normal_(torch.empty(3, 3, dtype=torch.long)), TypeError, "tensor must be a floating-point"),
        (lambda: activation_std(torch.randn(4, 4), 0), ValueError, "depth must be >= 1"),
        (lambda: activation_std(torch.randn(4, 4), 3, init="he"), ValueError, "init must be one of"),
        (lambda: activation_std(torch.randn(4, 4), 3, init=-0.1), ValueError, "init must be in"),
        (lambda: activation_std(torch.randn(4, 4), 3, nonlinearity="gelu"), ValueError, "nonlinearity must be one of"),
        (lambda: train_mlp(torch.randn(4, 2), torch.randn(3, 1), 4), ValueError, r"target must have shape \(4, 1\)"),
        (lambda: train_mlp(torch.randn(4, 2), torch.randn(4, 1), 0), ValueError, "hidden_features must be >= 1"),
        (lambda: train_mlp(torch.randn(4, 2), torch.randn(4, 1), 3, init="zeros"), ValueError, "init must be one of"),
        (lambda: train_mlp(torch.randn(4, 2), torch.randn(4, 1), 3, lr=0.0), ValueError, "lr must be in"),
        (lambda: count_distinct_units(torch.randn(3)), ValueError, "weight must have 2 dimensions"),
    ],
)
def test_bad_input_names_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()
