"""nnfaq.convnets.conv_arithmetic: its sizes, parameter counts and multiply-adds against the shapes, parameters and
FLOPs of PyTorch's layers, the claims of its answers, and the refusals only it makes (the shared ones are rows of
tests/convnets/contract.py)."""

import math
import warnings

import pytest
import torch
import torch.nn.functional as F
from helpers import conv_layers, gen, rejects
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode

from nnfaq.convnets.conv_arithmetic import (
    KINDS,
    conv_cost,
    conv_output_size,
    conv_transpose_output_size,
    receptive_field,
)

F64 = torch.float64


def torch_cost(kind, c_in, c_out, k, size, s=1, p=0, d=1, g=1, bias=False):
    """Parameters, multiply-adds (half of FlopCounterMode's FLOPs) and output size of PyTorch's layers for ``kind``."""
    with torch.device("meta"):
        layers = conv_layers(kind, c_in, c_out, k, s, p, d, g, bias)
        with FlopCounterMode(display=False) as counter:
            y = torch.nn.Sequential(*layers)(torch.empty(1, c_in, *size))
    params = sum(t.numel() for layer in layers for t in layer.parameters())
    return {"params": params, "macs": counter.get_total_flops() // 2, "output_size": tuple(y.shape[2:])}


@st.composite
def cost_case(draw):
    kind = draw(st.sampled_from([k for k in KINDS if k != "dense"]))
    g = draw(st.integers(1, 3)) if kind == "grouped" else 1
    c_in = g * draw(st.integers(1, 4))
    c_out = c_in * draw(st.integers(1, 3)) if kind == "depthwise" else g * draw(st.integers(1, 4))
    k, s = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    d = draw(st.integers(2, 3)) if kind == "dilated" else draw(st.integers(1, 2))
    p = draw(st.integers(0, 2))
    low = 1 if kind in ("pointwise", "transposed") else max(1, d * (k - 1) + 1 - 2 * p)
    size = (draw(st.integers(low, low + 4)), draw(st.integers(low, low + 4)))
    if kind == "transposed":  # a non-empty output: (n - 1)s - 2p + d(K - 1) + 1 >= 1
        p = min(p, ((min(size) - 1) * s + d * (k - 1)) // 2)
    return kind, c_in, c_out, k, size, s, p, d, g, draw(st.booleans())


# --- parity ----------------------------------------------------------------------------------------


@given(
    n=st.integers(1, 12),
    k=st.integers(1, 6),
    s=st.integers(1, 4),
    p=st.integers(0, 3) | st.sampled_from(["same", "valid"]),
    d=st.integers(1, 3),
)
def test_conv_output_size_is_the_shape_torch_produces(n, k, s, p, d):
    s = 1 if p == "same" else s
    x, w = torch.zeros(1, 1, n), torch.zeros(1, 1, k)
    if p != "same" and n + 2 * (0 if p == "valid" else p) < d * (k - 1) + 1:
        rejects("kernel_size", conv_output_size, n, k, s, p, d)
        with pytest.raises(RuntimeError):  # PyTorch refuses too
            F.conv1d(x, w, stride=s, padding=p, dilation=d)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "same" with an even kernel
        assert conv_output_size(n, k, s, p, d) == F.conv1d(x, w, stride=s, padding=p, dilation=d).shape[-1]


@given(n=st.integers(1, 10), k=st.integers(1, 5), s=st.integers(1, 4), p=st.integers(0, 3), op=st.integers(0, 3),
       d=st.integers(1, 3))  # fmt: skip
def test_conv_transpose_output_size_is_the_shape_torch_produces(n, k, s, p, op, d):
    if op >= max(s, d):
        rejects("output_padding", conv_transpose_output_size, n, k, s, p, op, d)
    elif (n - 1) * s - 2 * p + d * (k - 1) + op + 1 < 1:
        rejects("padding", conv_transpose_output_size, n, k, s, p, op, d)
    else:
        y = F.conv_transpose1d(torch.zeros(1, 1, n), torch.zeros(1, 1, k), stride=s, padding=p, output_padding=op,
                               dilation=d)  # fmt: skip
        assert conv_transpose_output_size(n, k, s, p, op, d) == y.shape[-1]


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "dense"])
def test_every_kind_costs_what_torchs_layers_cost(kind):
    args = (kind, 8, 16, 3, (12, 10), 2, 1, 2 if kind == "dilated" else 1, 4 if kind == "grouped" else 1, True)
    assert conv_cost(*args[:5], stride=2, padding=1, dilation=args[7], groups=args[8], bias=True) == torch_cost(*args)


@settings(max_examples=15)
@given(cost_case())
def test_conv_cost_matches_torch_parameters_flops_and_shape(case):
    kind, c_in, c_out, k, size, s, p, d, g, bias = case
    assert conv_cost(kind, c_in, c_out, k, size, s, p, d, g, bias) == torch_cost(*case)


def test_dense_cost_is_a_linear_layer_from_the_whole_input():
    cost = conv_cost("dense", 3, 4, 3, (6, 5), padding=1, bias=True)
    linear = torch.nn.Linear(3 * 6 * 5, 4 * 6 * 5, device="meta")
    assert cost["params"] == sum(t.numel() for t in linear.parameters()) and cost["macs"] == linear.weight.numel()


# --- claims ----------------------------------------------------------------------------------------


@given(n=st.integers(1, 40), k=st.integers(1, 6), s=st.integers(1, 5), p=st.integers(0, 3), d=st.integers(1, 3))
def test_output_padding_picks_which_input_size_the_transpose_restores(n, k, s, p, d):
    if n + 2 * p < d * (k - 1) + 1:
        return
    m = conv_output_size(n, k, s, p, d)
    lost = (n + 2 * p - d * (k - 1) - 1) % s  # the rows the convolution's floor dropped, fewer than s
    assert conv_transpose_output_size(m, k, s, p, lost, d) == n
    # the s sizes n - lost ... n - lost + s - 1 share one output (those of them that exist and fit the kernel)
    sizes = [n - lost + j for j in range(s) if n - lost + j >= 1 and n - lost + j + 2 * p >= d * (k - 1) + 1]
    assert n in sizes and all(conv_output_size(size, k, s, p, d) == m for size in sizes)


def test_output_size_claims():
    assert (conv_output_size(28, 5), conv_output_size(6, 3, stride=2), conv_output_size(10, 3, dilation=2)) == (
        24,
        2,
        6,
    )
    assert all(conv_output_size(32, k, padding=(k - 1) // 2) == 32 for k in (1, 3, 5, 7))
    assert [conv_transpose_output_size(n, 4, stride=2, padding=1) for n in (4, 8, 16)] == [8, 16, 32]


@given(c_in=st.integers(1, 64), c_out=st.integers(1, 64), k=st.integers(2, 7))
def test_cost_ratios_of_the_factorised_kinds(c_in, c_out, k):
    std = conv_cost("standard", c_in, c_out, k, 32, padding=k // 2)
    for kind, ratio in [
        ("depthwise-separable", 1 / c_out + 1 / k**2),
        ("pointwise", 1 / k**2),
        ("spatially-separable", (c_in + c_out) / (k * c_in)),  # 2/K only when C_in = C_out
    ]:
        assert math.isclose(conv_cost(kind, c_in, c_out, k, 32, padding=k // 2)["params"] / std["params"], ratio)
    spatial = conv_cost("spatially-separable", c_in, c_out, k, 32, padding=k // 2)["params"] / std["params"]
    assert math.isclose(spatial, 2 / k) == (c_in == c_out)
    assert conv_cost("dilated", c_in, c_out, k, 32, padding=k, dilation=2)["params"] == std["params"]
    assert (
        conv_cost("grouped", 4 * c_in, 4 * c_out, k, 32, groups=4)["params"] * 4
        == conv_cost("standard", 4 * c_in, 4 * c_out, k, 32)["params"]
    )


def test_weight_sharing_a_convolutions_parameters_do_not_grow_with_the_image():
    assert [conv_cost("standard", 3, 16, 3, n, padding=1)["params"] for n in (8, 16, 224)] == [432] * 3
    dense = [conv_cost("dense", 3, 16, 3, n, padding=1)["params"] for n in (8, 16)]
    assert dense[1] == 16 * dense[0]  # the square of the pixel count


@st.composite
def stack(draw):
    n = draw(st.integers(1, 4))
    ks = draw(st.lists(st.integers(1, 4), min_size=n, max_size=n))
    ss = draw(st.none() | st.lists(st.integers(1, 3), min_size=n, max_size=n))
    ds = draw(st.none() | st.lists(st.integers(1, 3), min_size=n, max_size=n))
    return ks, ss, ds, draw(st.integers(0, 3)), draw(st.integers(0, 2**31 - 1))


@settings(max_examples=12)
@given(stack())
def test_receptive_field_is_the_extent_of_one_outputs_gradient(case):
    ks, ss, ds, extra, seed = case
    r = receptive_field(ks, ss, ds)
    ss, ds = ss or [1] * len(ks), ds or [1] * len(ks)
    g = gen(seed)
    # positive weights and inputs with ReLUs between: no gradient cancels, so its support is the field
    y = x = torch.rand(1, 1, r + extra, generator=g, dtype=F64).requires_grad_()
    for k, s, d in zip(ks, ss, ds):
        y = F.relu(F.conv1d(y, torch.rand(1, 1, k, generator=g, dtype=F64) + 0.1, stride=s, dilation=d))
    y[0, 0, 0].backward()
    support = x.grad[0, 0].nonzero().flatten()
    assert (int(support.min()), int(support.max()) + 1) == (0, r)  # r inputs are exactly enough for one output
    if all(d == 1 for d in ds) and all(s <= k for s, k in zip(ss[:-1], ks[:-1])):
        assert len(support) == r  # and without dilation or skipped pixels it reads every one of them


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_two_3x3_layers_with_a_relu_see_exactly_25_pixels_for_any_weights(seed):
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Conv2d(4, 1, 3))
    x = torch.randn(64, 1, 15, 15, requires_grad=True)
    net(x)[:, 0, 5, 5].sum().backward()
    seen = (x.grad[:, 0] != 0).any(0)
    assert int(seen.sum()) == 25 and bool(seen[5:10, 5:10].all())


def test_receptive_field_claims():
    assert [receptive_field(k) for k in ([3], [3, 3], [3, 3, 3], [5])] == [3, 5, 7, 5]
    assert receptive_field([3, 3, 3], dilations=[1, 2, 4]) == 15
    assert receptive_field([7, 3, 3], strides=[2, 2, 1]) == 7 + 2 * 2 + 4 * 2
    three, five = (sum(p.numel() for p in torch.nn.Conv2d(64, 64, k, bias=False).parameters()) for k in (3, 5))
    assert 2 * three < five and 3 * three < sum(p.numel() for p in torch.nn.Conv2d(64, 64, 7, bias=False).parameters())


# --- bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fn", "args", "kwargs", "name"),
    [
        (conv_output_size, (5, 7), {}, "kernel_size"),
        (conv_output_size, (8, 3), {"padding": "same", "stride": 2}, "padding"),
        (conv_transpose_output_size, (4, 3), {"stride": 2, "output_padding": 2}, "output_padding"),
        (conv_transpose_output_size, (1, 1), {"padding": 1}, "padding"),
        (conv_cost, ("grouped", 6, 8, 3, 8), {"groups": 4}, "groups"),
        (conv_cost, ("standard", 6, 8, 3, 8), {"groups": 2}, "groups"),
        (conv_cost, ("depthwise", 6, 8, 3, 8), {}, "out_channels"),
        (conv_cost, ("dilated", 6, 8, 3, 8), {}, "dilation"),
        (conv_cost, ("standard", 6, 8, 9, 8), {}, "kernel_size"),
        (conv_cost, ("transposed", 4, 8, 3, 2), {"padding": 4}, "padding"),
        (conv_cost, ("standard", 6, 8, 3, (8, 8, 8)), {}, "input_size"),
        (receptive_field, ([3, 3],), {"strides": [1]}, "strides"),
        (receptive_field, ([],), {}, "kernel_sizes"),
        (receptive_field, ([3, 0],), {}, "kernel_sizes"),
        (receptive_field, ([3, 3],), {"dilations": [1, 0]}, "dilations"),
    ],
)
def test_refuses_inconsistent_arguments(fn, args, kwargs, name):
    rejects(name, fn, *args, **kwargs)


@pytest.mark.parametrize("bad", [3, None, "33", {3, 5}, {3: 1}, iter([3, 3]), [3, 1.5], [3, True]])
@pytest.mark.parametrize("name", ["kernel_sizes", "strides", "dilations"])
def test_receptive_field_refuses_what_is_not_one_int_per_layer(name, bad):
    if bad is None and name != "kernel_sizes":
        return  # the default: all 1
    rejects(name, receptive_field, **{"kernel_sizes": [3, 3], name: bad})
