"""Property tests for nnfaq.initialization: random shapes and options draw exactly what torch.nn.init draws
(float64, same seed), training and activation statistics equal the loops they describe; random invalid input
raises ValueError/TypeError naming the argument."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import rejects, seeds, sizes
from hypothesis import given, settings
from hypothesis import strategies as st
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

F64 = torch.float64

weight_shapes = st.lists(sizes, min_size=2, max_size=4).map(tuple)
NONLINEARITIES = ["linear", "conv1d", "conv2d", "conv3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"]
gains = st.floats(0, 5)
slopes = st.floats(-3, 3)
not_numbers = st.sampled_from([None, "1.0", [1.0], True, torch.tensor(1.0)])
not_tensors = st.sampled_from([None, 1.0, [[1.0, 2.0]], "x", np.ones((2, 2))])
INITIALIZERS = [xavier_uniform_, xavier_normal_, kaiming_uniform_, kaiming_normal_]


def _fill(fn, shape, seed, **kwargs):
    w = torch.empty(shape, dtype=F64)
    torch.manual_seed(seed)
    out = fn(w, **kwargs)
    assert out is w  # in place, and returned
    return w


# --- valid input ---------------------------------------------------------------------------------


@given(nonlinearity=st.sampled_from(NONLINEARITIES), param=st.none() | slopes)
def test_calculate_gain_matches_torch(nonlinearity, param):
    ours = calculate_gain(nonlinearity, param)
    assert ours == pytest.approx(torch.nn.init.calculate_gain(nonlinearity, param), rel=1e-15)
    assert ours > 0


@given(
    name=st.sampled_from(["xavier_uniform_", "xavier_normal_"]),
    shape=weight_shapes,
    gain=gains,
    seed=seeds,
)
def test_xavier_draws_exactly_what_torch_draws(name, shape, gain, seed):
    ours = _fill(globals()[name], shape, seed, gain=gain)
    ref = _fill(getattr(torch.nn.init, name), shape, seed, gain=gain)
    assert torch.equal(ours, ref)
    fan_in, fan_out = shape[1] * math.prod(shape[2:]), shape[0] * math.prod(shape[2:])
    if name == "xavier_uniform_":  # inside the documented bound a = gain sqrt(6 / (fan_in + fan_out))
        assert ours.abs().max() <= gain * math.sqrt(6 / (fan_in + fan_out)) * (1 + 1e-12)


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
    ref = _fill(getattr(torch.nn.init, name), shape, seed, **kwargs)
    assert torch.equal(ours, ref)
    if name == "kaiming_uniform_":
        receptive = math.prod(shape[2:])
        fan = (shape[1] if mode == "fan_in" else shape[0]) * receptive
        assert ours.abs().max() <= math.sqrt(3 / fan) * calculate_gain(nonlinearity, a) * (1 + 1e-12)


@st.composite
def inits(draw):
    return draw(st.sampled_from(["kaiming", "xavier", "default"]) | st.floats(0, 2))


@settings(max_examples=30)
@given(
    B=st.integers(2, 5),
    C=sizes,
    depth=st.integers(1, 6),
    init=inits(),
    nonlinearity=st.sampled_from(["relu", "tanh", "sigmoid", "linear"]),
    seed=seeds,
)
def test_activation_std_is_the_std_of_the_documented_stack(B, C, depth, init, nonlinearity, seed):
    x = torch.randn(B, C, dtype=F64, generator=torch.Generator().manual_seed(seed))
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
    assert bool((ours >= 0).all())


@settings(max_examples=25)
@given(
    B=sizes,
    C=sizes,
    H=sizes,
    O=sizes,
    init=st.just("default") | st.floats(-1, 1),
    steps=st.integers(0, 3),
    lr=st.floats(1e-3, 0.5),
    seed=seeds,
)
def test_train_mlp_is_the_documented_sgd_loop(B, C, H, O, init, steps, lr, seed):
    g = torch.Generator().manual_seed(seed)
    x, y = torch.randn(B, C, generator=g, dtype=F64), torch.randn(B, O, generator=g, dtype=F64)
    torch.manual_seed(seed)
    ours = train_mlp(x, y, H, init=init, steps=steps, lr=lr)
    torch.manual_seed(seed)
    ref = torch.nn.Sequential(torch.nn.Linear(C, H), torch.nn.ReLU(), torch.nn.Linear(H, O)).to(F64)
    if init != "default":
        for layer in (ref[0], ref[2]):
            torch.nn.init.constant_(layer.weight, init)
            torch.nn.init.zeros_(layer.bias)
    opt = torch.optim.SGD(ref.parameters(), lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        F.mse_loss(ref(x), y).backward()
        opt.step()
    for o, r in zip(ours.parameters(), ref.parameters()):
        assert o.dtype == F64
        assert_close(o, r)
    if init != "default":  # a constant start never breaks the symmetry: one hidden unit, however trained
        assert count_distinct_units(ours[0].weight, atol=1e-12) == 1
        if init == 0:  # and at zero, no weight ever moves
            assert not ours[0].weight.any() and not ours[2].weight.any()


@given(
    rows=st.lists(st.integers(0, 3), min_size=1, max_size=8),
    C=sizes,
    seed=seeds,
    atol=st.floats(0, 0.4),
)
def test_count_distinct_units_counts_the_distinct_rows(rows, C, seed, atol):
    palette = torch.randint(-5, 6, (4, C), generator=torch.Generator().manual_seed(seed)).to(F64)
    W = palette[rows]  # (H, C): repeated rows of a palette of integer rows
    ours = count_distinct_units(W, atol=atol)
    assert ours == torch.unique(W, dim=0).shape[0]  # integer rows differ by >= 1 > atol
    assert 1 <= ours <= W.shape[0]
    assert count_distinct_units(W[torch.randperm(W.shape[0], generator=torch.Generator().manual_seed(seed))]) == ours
    assert count_distinct_units(W + 0.3 * torch.rand(W.shape, dtype=F64), atol=1.0) <= ours  # atol merges more


# --- invalid input -------------------------------------------------------------------------------


@given(fn=st.sampled_from(INITIALIZERS), bad=not_tensors)
def test_initializers_reject_non_tensors(fn, bad):
    rejects("tensor", fn, bad)


@given(fn=st.sampled_from(INITIALIZERS), shape=weight_shapes, dtype=st.sampled_from([torch.int64, torch.bool]))
def test_initializers_reject_integer_tensors(fn, shape, dtype):
    rejects("tensor", fn, torch.zeros(shape, dtype=dtype))


@given(fn=st.sampled_from(INITIALIZERS), shape=st.lists(sizes, max_size=1).map(tuple))
def test_initializers_reject_fewer_than_two_dimensions(fn, shape):
    rejects("tensor", fn, torch.empty(shape, dtype=F64))


@given(fn=st.sampled_from(INITIALIZERS), shape=st.lists(st.integers(0, 3), min_size=2, max_size=4).map(tuple))
def test_initializers_reject_zero_element_tensors(fn, shape):
    if math.prod(shape) == 0:
        rejects("tensor", fn, torch.empty(shape, dtype=F64))


@given(
    fn=st.sampled_from([xavier_uniform_, xavier_normal_]),
    gain=not_numbers | st.sampled_from([math.nan, math.inf, -math.inf]) | st.floats(-10, -1e-9),
)
def test_xavier_rejects_bad_gains(fn, gain):
    rejects("gain", fn, torch.empty(3, 3, dtype=F64), gain=gain)


@given(
    fn=st.sampled_from([kaiming_uniform_, kaiming_normal_]),
    which=st.sampled_from(["a", "mode", "nonlinearity"]),
    bad=not_numbers | st.just(math.nan) | st.sampled_from(["fan_avg", "gelu", ""]),
)
def test_kaiming_rejects_bad_options(fn, which, bad):
    if which == "a" and isinstance(bad, str) and bad:
        bad = None
    rejects(which, fn, torch.empty(3, 3, dtype=F64), **{which: bad})


@given(bad=st.sampled_from(["softmax", "ReLU", "", None, 1]), param=st.none() | slopes)
def test_calculate_gain_rejects_unknown_nonlinearities_and_bad_params(bad, param):
    rejects("nonlinearity", calculate_gain, bad, param)
    rejects("param", calculate_gain, "leaky_relu", "0.1")


@given(
    which=st.sampled_from(["input", "depth", "init", "nonlinearity"]),
    bad=st.sampled_from([None, True, 0, -2, 2.5, "he", math.nan, math.inf, -0.1, torch.ones(4)]),
)
def test_activation_std_rejects_bad_arguments(which, bad):
    args = dict(input=torch.ones(4, 3, dtype=F64), depth=2, init="kaiming", nonlinearity="relu")
    if which == "init" and not isinstance(bad, torch.Tensor) and (bad == 0 or bad == 2.5):
        return  # a fixed std of 0 or 2.5 is valid
    rejects(which, activation_std, **{**args, which: bad})


@given(shape=st.sampled_from([(0, 3), (3, 0), (1, 1), (0, 0)]) | st.lists(sizes, max_size=3).map(tuple))
def test_activation_std_rejects_inputs_without_a_std_or_of_wrong_rank(shape):
    if len(shape) != 2 or math.prod(shape) < 2:
        rejects("input", activation_std, torch.ones(shape, dtype=F64), 2)


@given(
    B=sizes,
    which=st.sampled_from(["input", "target"]),
    bad=st.sampled_from(["nan", "inf", "rows", "rank", "int", "empty", "dtype"]),
)
def test_train_mlp_rejects_bad_data(B, which, bad):
    args = dict(input=torch.ones(B, 2, dtype=F64), target=torch.ones(B, 1, dtype=F64))
    t = args[which]
    t = {
        "nan": t.clone().fill_(math.nan),
        "inf": t.clone().fill_(-math.inf),
        "rows": torch.ones(B + 1, t.shape[1], dtype=F64),
        "rank": t[0],
        "int": t.long(),
        "empty": t[:, :0],
        "dtype": t.float(),
    }[bad]
    if bad in ("rows", "dtype") and which == "input":
        which = "target"  # target is checked against input
    rejects(which, train_mlp, **{**args, which: t}, hidden_features=2, steps=1)


@given(
    which=st.sampled_from(["hidden_features", "steps", "lr", "init"]),
    bad=st.sampled_from([None, True, -1, 0.5, "zeros", math.nan, math.inf]),
)
def test_train_mlp_rejects_bad_options(which, bad):
    if (which == "lr" and bad == 0.5) or (which == "init" and bad in (-1, 0.5)) or (which == "steps" and bad == 0):
        return  # valid
    args = dict(hidden_features=2, steps=1, lr=0.1, init="default")
    rejects(which, train_mlp, torch.ones(3, 2, dtype=F64), torch.ones(3, 1, dtype=F64), **{**args, which: bad})


@given(
    weight=st.sampled_from(
        [torch.ones(3), torch.ones(2, 2, 2), torch.ones(2, 2, dtype=torch.int64), torch.full((2, 2), math.nan)]
    )
    | not_tensors
)
def test_count_distinct_units_rejects_bad_weights(weight):
    rejects("weight", count_distinct_units, weight)


@given(atol=not_numbers | st.sampled_from([math.nan, -1e-9, -1.0]))
def test_count_distinct_units_rejects_bad_atol(atol):
    rejects("atol", count_distinct_units, torch.ones(2, 2), atol=atol)
