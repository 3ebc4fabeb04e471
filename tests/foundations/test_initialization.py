"""nnfaq.foundations.initialization: PyTorch's initializers, activations through depth, zero and constant init.

Parity with torch.nn.init (the same draws from the same seed, float64), the claims of the answers, and the
refusals specific to these functions (the shared ones are rows of tests/foundations/contract.py).
"""

import math

import pytest
import torch
import torch.nn.functional as F
from helpers import gen, rejects, seeds, sizes
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.testing import assert_close

from nnfaq.foundations.initialization import (
    activation_std,
    calculate_gain,
    count_distinct_units,
    kaiming_normal_,
    kaiming_uniform_,
    train_mlp,
    xavier_normal_,
    xavier_uniform_,
)

F64 = torch.float64
weight_shapes = st.lists(sizes, min_size=2, max_size=4).map(tuple)
NONLINEARITIES = [
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "selu",
]


def _fill(fn, shape, seed, **kwargs):
    w = torch.empty(shape, dtype=F64)
    torch.manual_seed(seed)
    assert fn(w, **kwargs) is w  # in place, and returned
    return w


def _fans(shape):
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


# --- parity --------------------------------------------------------------------------------------


def test_calculate_gain_matches_torch_for_every_name_it_accepts():
    for nonlinearity in NONLINEARITIES:
        for param in (None, 0.0, 0.2, -1.5, 3):
            ours = calculate_gain(nonlinearity, param)
            assert ours == pytest.approx(torch.nn.init.calculate_gain(nonlinearity, param), rel=1e-15) and ours > 0


@settings(max_examples=20)
@given(
    name=st.sampled_from(["xavier_uniform_", "xavier_normal_"]), shape=weight_shapes, gain=st.floats(0, 5), seed=seeds
)
def test_xavier_draws_exactly_what_torch_draws(name, shape, gain, seed):
    ours = _fill(globals()[name], shape, seed, gain=gain)
    assert torch.equal(ours, _fill(getattr(torch.nn.init, name), shape, seed, gain=gain))
    if name == "xavier_uniform_":  # inside the bound gain sqrt(6 / (fan_in + fan_out))
        assert ours.abs().max() <= gain * math.sqrt(6 / sum(_fans(shape))) * (1 + 1e-12)


@settings(max_examples=20)
@given(
    name=st.sampled_from(["kaiming_uniform_", "kaiming_normal_"]),
    shape=weight_shapes,
    a=st.floats(0, 3),
    mode=st.sampled_from(["fan_in", "fan_out"]),
    nonlinearity=st.sampled_from(NONLINEARITIES),
    seed=seeds,
)
def test_kaiming_draws_exactly_what_torch_draws(name, shape, a, mode, nonlinearity, seed):
    kwargs = dict(a=a, mode=mode, nonlinearity=nonlinearity)
    ours = _fill(globals()[name], shape, seed, **kwargs)
    assert torch.equal(ours, _fill(getattr(torch.nn.init, name), shape, seed, **kwargs))
    if name == "kaiming_uniform_":
        fan = _fans(shape)[0 if mode == "fan_in" else 1]
        assert ours.abs().max() <= math.sqrt(3 / fan) * calculate_gain(nonlinearity, a) * (1 + 1e-12)


@settings(max_examples=15)
@given(
    C=sizes,
    depth=st.integers(1, 5),
    init=st.sampled_from(["kaiming", "xavier", "default"]) | st.floats(0, 2),
    nonlinearity=st.sampled_from(["relu", "tanh", "sigmoid", "linear"]),
    seed=seeds,
)
def test_activation_std_is_the_std_of_the_documented_stack(C, depth, init, nonlinearity, seed):
    x = torch.randn(3, C, dtype=F64, generator=gen(seed))
    torch.manual_seed(seed)
    ours = activation_std(x, depth, init=init, nonlinearity=nonlinearity)
    torch.manual_seed(seed)
    act = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid, "linear": lambda t: t}[nonlinearity]
    h, ref = x, []
    for _ in range(depth):
        W = torch.empty(C, C, dtype=F64)
        if init == "kaiming":
            torch.nn.init.kaiming_normal_(W, nonlinearity=nonlinearity)
        elif init == "xavier":
            torch.nn.init.xavier_normal_(W)
        elif init == "default":
            torch.nn.init.kaiming_uniform_(W, a=math.sqrt(5))
        else:
            W.normal_(0, init)
        h = act(h @ W.T)
        ref.append(h.std())
    assert ours.shape == (depth,) and ours.dtype == F64
    assert_close(ours, torch.stack(ref))


@settings(max_examples=15)
@given(B=sizes, C=sizes, H=sizes, init=st.just("default") | st.floats(-1, 1), steps=st.integers(0, 3), seed=seeds)
def test_train_mlp_is_the_documented_sgd_loop(B, C, H, init, steps, seed):
    g = gen(seed)
    x, y = torch.randn(B, C, generator=g, dtype=F64), torch.randn(B, 2, generator=g, dtype=F64)
    torch.manual_seed(seed)
    ours = train_mlp(x, y, H, init=init, steps=steps, lr=0.05)
    torch.manual_seed(seed)
    ref = torch.nn.Sequential(torch.nn.Linear(C, H), torch.nn.ReLU(), torch.nn.Linear(H, 2)).to(F64)
    if init != "default":
        for layer in (ref[0], ref[2]):
            torch.nn.init.constant_(layer.weight, init)
            torch.nn.init.zeros_(layer.bias)
    opt = torch.optim.SGD(ref.parameters(), lr=0.05)
    for _ in range(steps):
        opt.zero_grad()
        F.mse_loss(ref(x), y).backward()
        opt.step()
    for o, r in zip(ours.parameters(), ref.parameters()):
        assert o.dtype == F64
        assert_close(o, r)
    if init != "default":  # a constant start never breaks the symmetry: one hidden unit, however trained
        assert count_distinct_units(ours[0].weight, atol=1e-12) == 1
        if init == 0:  # and at zero no weight ever moves
            assert not ours[0].weight.any() and not ours[2].weight.any()


@settings(max_examples=20)
@given(rows=st.lists(st.integers(0, 3), min_size=1, max_size=8), C=sizes, seed=seeds, atol=st.floats(0, 0.4))
def test_count_distinct_units_counts_the_distinct_rows(rows, C, seed, atol):
    palette = torch.randint(-5, 6, (4, C), generator=gen(seed)).to(F64)
    W = palette[rows]  # (H, C): repeated rows of a palette of integer rows, which differ by >= 1 > atol
    ours = count_distinct_units(W, atol=atol)
    assert ours == torch.unique(W, dim=0).shape[0]
    assert count_distinct_units(W[torch.randperm(len(rows), generator=gen(seed))]) == ours


# --- claims --------------------------------------------------------------------------------------


@settings(max_examples=10)
@given(shape=weight_shapes, seed=seeds)
def test_he_over_xavier_is_fan_in_plus_fan_out_over_fan_in_twice_only_for_square_layers(shape, seed):
    he = _fill(kaiming_normal_, shape, seed, nonlinearity="relu")
    xavier = _fill(xavier_normal_, shape, seed)
    fan_in, fan_out = _fans(shape)
    assert_close(he**2, (fan_in + fan_out) / fan_in * xavier**2)
    assert (fan_in == fan_out) == math.isclose((fan_in + fan_out) / fan_in, 2.0)


def test_pytorch_default_linear_and_conv_init_is_kaiming_uniform_sqrt5():
    for make, shape in (
        (lambda: torch.nn.Linear(100, 50), (50, 100)),
        (lambda: torch.nn.Conv2d(8, 16, 3), (16, 8, 3, 3)),
    ):
        torch.manual_seed(2)
        layer = make()
        torch.manual_seed(2)
        assert torch.equal(layer.weight, kaiming_uniform_(torch.empty(shape), a=math.sqrt(5)))
        assert layer.weight.abs().max() <= 1 / math.sqrt(_fans(shape)[0])  # variance 1 / (3 fan_in)


@pytest.mark.parametrize("seed", range(3))
def test_the_default_init_shrinks_a_deep_relu_stack_kaiming_does_not(seed):
    x = torch.randn(32, 64, generator=gen(seed))
    torch.manual_seed(seed)
    per_layer = {}
    for init in ("kaiming", "xavier", "default"):
        s = activation_std(x, 20, init=init)
        per_layer[init] = (s[-1] / s[0]).item() ** (1 / 19)
    assert abs(per_layer["kaiming"] - 1) < 0.15
    assert abs(per_layer["xavier"] - math.sqrt(1 / 2)) < 0.1
    assert abs(per_layer["default"] - math.sqrt(1 / 6)) < 0.1
    assert activation_std(x, 20, init=0.01)[-1] < 1e-15 and activation_std(x, 20, init=0.5)[-1] > 1e3
    assert activation_std(x, 20, "xavier", nonlinearity="tanh")[-1] > 0.05  # Xavier suits tanh


def _data(seed=0):
    g = gen(seed)
    return torch.randn(64, 4, generator=g, dtype=F64), torch.randn(64, 2, generator=g, dtype=F64)


def test_zero_init_gives_zero_weight_gradients_only_the_output_bias_learns():
    x, y = _data()
    net = train_mlp(x, y, 8, init=0.0, steps=0)
    F.mse_loss(net(x), y).backward()
    assert [int(p.grad.count_nonzero()) for p in net.parameters()] == [0, 0, 0, 2]
    trained = train_mlp(x, y, 8, init=0.0, steps=100)
    assert trained[0].weight.count_nonzero() == 0 and trained[2].weight.count_nonzero() == 0
    out = trained(x)
    assert torch.equal(out, out[:1].expand(64, 2))
    assert_close(out[0], y.mean(0), atol=1e-4, rtol=0)  # the bias converges as 0.9 ** steps


@pytest.mark.parametrize("seed", range(3))
def test_a_constant_start_keeps_units_identical_a_random_one_does_not(seed):
    x, y = _data(seed)
    torch.manual_seed(seed)
    const = train_mlp(x, y, 8, init=0.3, steps=30)
    assert bool(const[0].weight.grad.abs().sum() > 0)  # it does learn, but as one unit
    assert count_distinct_units(const[0].weight) == count_distinct_units(const[2].weight.T) == 1
    assert torch.linalg.matrix_rank(F.relu(const[0](x))) <= 1
    assert count_distinct_units(train_mlp(x, y, 8, steps=30)[0].weight) == 8


@pytest.mark.parametrize("rank", [1, 2, 4])
def test_zeros_are_fine_where_the_symmetry_is_broken_elsewhere(rank):
    x, y = _data(rank)
    torch.manual_seed(rank)
    # biases at zero next to random weights: every parameter gets a gradient
    net = train_mlp(x, y, 8, steps=0)
    for layer in (net[0], net[2]):
        torch.nn.init.zeros_(layer.bias)
    F.mse_loss(net(x), y).backward()
    assert all(bool(p.grad.abs().sum() > 0) for p in net.parameters())
    # a residual branch whose last layer is zero: the identity at first, then every layer learns
    branch = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 4)).double()
    torch.nn.init.zeros_(branch[2].weight)
    torch.nn.init.zeros_(branch[2].bias)
    goal = torch.randn(64, 4, generator=gen(rank + 100), dtype=F64)
    assert torch.equal(x + branch(x), x)
    F.mse_loss(x + branch(x), goal).backward()
    assert bool(branch[2].weight.grad.abs().sum() > 0) and branch[0].weight.grad.count_nonzero() == 0
    torch.optim.SGD(branch.parameters(), lr=0.1).step()
    branch.zero_grad()
    F.mse_loss(x + branch(x), goal).backward()
    assert bool(branch[0].weight.grad.abs().sum() > 0)
    # LoRA: B = 0, A random; the output is the frozen layer's, B's columns get different gradients
    W0 = torch.randn(2, 4, generator=gen(rank), dtype=F64)
    A = (0.1 * torch.randn(rank, 4, generator=gen(rank + 1), dtype=F64)).requires_grad_()
    B = torch.zeros(2, rank, dtype=F64, requires_grad=True)
    out = x @ (W0 + B @ A).T
    assert torch.equal(out, x @ W0.T)
    F.mse_loss(out, y).backward()
    assert count_distinct_units(B.grad.T) == rank and A.grad.count_nonzero() == 0


# --- bad input -----------------------------------------------------------------------------------

INITIALIZERS = [xavier_uniform_, xavier_normal_, kaiming_uniform_, kaiming_normal_]


@pytest.mark.parametrize("fn", INITIALIZERS)
def test_initializers_refuse_fewer_than_two_dimensions_and_empty_tensors(fn):
    for shape in [(), (5,), (0, 3), (3, 0, 2)]:
        rejects("tensor", fn, torch.empty(shape, dtype=F64))


def test_calculate_gain_refuses_a_slope_that_is_not_a_number():
    for bad in ("0.1", True, [0.1], math.nan):
        rejects("param", calculate_gain, "leaky_relu", bad)


def test_activation_std_refuses_inputs_without_a_std_and_bad_inits():
    for shape in ((4,), (2, 2, 2), (1, 1), (0, 3)):
        rejects("input", activation_std, torch.ones(shape), 2)
    rejects("input", activation_std, torch.tensor([[1.0, math.nan]]), 2)
    for bad in ("he", None, True, -0.1, math.nan, math.inf):
        rejects("init", activation_std, torch.ones(4, 3), 2, bad)


def test_train_mlp_refuses_mismatched_targets_non_finite_data_and_bad_inits():
    x, y = torch.ones(4, 2, dtype=F64), torch.ones(4, 1, dtype=F64)
    rejects("target", train_mlp, x, torch.ones(3, 1, dtype=F64), 2)
    rejects("target", train_mlp, x, y.float(), 2)
    rejects("target", train_mlp, x, y[:, :0], 2)
    rejects("input", train_mlp, torch.full((4, 2), math.nan, dtype=F64), y, 2)
    rejects("input", train_mlp, x[:, :0], y, 2)
    for bad in ("zeros", None, True, math.nan, math.inf):
        rejects("init", train_mlp, x, y, 2, init=bad)


def test_count_distinct_units_refuses_other_ranks_and_non_finite_weights():
    for bad in (torch.ones(3), torch.ones(2, 2, 2), torch.full((2, 2), math.nan)):
        rejects("weight", count_distinct_units, bad)
