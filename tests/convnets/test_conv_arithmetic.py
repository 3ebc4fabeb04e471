"""nnfaq.conv_arithmetic against the shapes, parameters and FLOPs PyTorch produces, and its claims."""

import itertools

import pytest
import torch
import torch.nn.functional as F
from helpers import conv_layers
from torch.utils.flop_counter import FlopCounterMode

from nnfaq.conv_arithmetic import KINDS, conv_cost, conv_output_size, conv_transpose_output_size, receptive_field


def test_conv_output_size_matches_torch_shapes_over_a_grid():
    checked = 0
    for n, k, s, p, d in itertools.product(range(1, 13), [1, 2, 3, 5], [1, 2, 3], [0, 1, 2], [1, 2, 3]):
        x, w = torch.zeros(1, 1, n), torch.zeros(1, 1, k)
        if n + 2 * p < d * (k - 1) + 1:
            with pytest.raises(ValueError, match="kernel_size must fit in the padded input"):
                conv_output_size(n, k, s, p, d)
            continue
        assert conv_output_size(n, k, s, p, d) == F.conv1d(x, w, stride=s, padding=p, dilation=d).shape[-1]
        checked += 1
    assert checked > 1000


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize(("k", "d"), [(1, 1), (2, 1), (3, 2), (4, 3), (5, 1)])
def test_same_and_valid_padding(k, d):
    x, w = torch.zeros(1, 1, 11), torch.zeros(1, 1, k)
    assert conv_output_size(11, k, padding="same", dilation=d) == F.conv1d(x, w, padding="same", dilation=d).shape[-1]
    assert conv_output_size(11, k, padding="valid", dilation=d) == F.conv1d(x, w, padding="valid", dilation=d).shape[-1]


def test_output_size_claims():
    assert conv_output_size(28, 5) == 24
    assert conv_output_size(6, 3, stride=2) == 2  # (6 - 3) / 2 + 1 = 2.5, rounded down
    assert conv_output_size(10, 3, dilation=2) == 6
    for k in (1, 3, 5, 7):
        assert conv_output_size(32, k, padding=(k - 1) // 2) == 32


def test_conv_transpose_output_size_matches_torch_shapes_over_a_grid():
    checked = 0
    for n, k, s, p, op, d in itertools.product(range(1, 9), [1, 2, 3, 4], [1, 2, 3], [0, 1, 2], [0, 1, 2], [1, 2]):
        if op >= max(s, d) or (n - 1) * s - 2 * p + d * (k - 1) + op + 1 < 1:
            with pytest.raises(ValueError, match="output_padding|padding"):
                conv_transpose_output_size(n, k, s, p, op, d)
            continue
        y = F.conv_transpose1d(
            torch.zeros(1, 1, n), torch.zeros(1, 1, k), stride=s, padding=p, output_padding=op, dilation=d
        )
        assert conv_transpose_output_size(n, k, s, p, op, d) == y.shape[-1]
        checked += 1
    assert checked > 500


def test_transposed_size_inverts_the_convolution_size_with_output_padding():
    for n, k, s, p in itertools.product(range(4, 20), [2, 3, 4, 5], [1, 2, 3], [0, 1]):
        if n + 2 * p < k:
            continue
        m = conv_output_size(n, k, s, p)
        lost = (n + 2 * p - k) % s  # rows the convolution's floor dropped
        assert conv_transpose_output_size(m, k, s, p, output_padding=lost) == n


CASES = [
    (kind, 8, 16, 3, (12, 10), s, p, 2 if kind == "dilated" else 1, 4 if kind == "grouped" else 1, bias)
    for kind in KINDS
    if kind != "dense"
    for s, p, bias in [(1, 1, False), (2, 0, True), (2, 2, False)]
]


@pytest.mark.parametrize(("kind", "c_in", "c_out", "k", "size", "s", "p", "d", "g", "bias"), CASES)
def test_conv_cost_matches_torch_parameters_flops_and_shape(kind, c_in, c_out, k, size, s, p, d, g, bias):
    cost = conv_cost(kind, c_in, c_out, k, size, stride=s, padding=p, dilation=d, groups=g, bias=bias)
    layers = conv_layers(kind, c_in, c_out, k, s, p, d, g, bias)
    with FlopCounterMode(display=False) as counter:
        y = torch.nn.Sequential(*layers)(torch.randn(1, c_in, *size))
    assert cost["params"] == sum(t.numel() for layer in layers for t in layer.parameters())
    assert 2 * cost["macs"] == counter.get_total_flops()
    assert cost["output_size"] == tuple(y.shape[2:])


def test_dense_cost_matches_a_linear_layer_and_grows_with_the_image():
    cost = conv_cost("dense", 3, 4, 3, (6, 5), padding=1, bias=True)
    linear = torch.nn.Linear(3 * 6 * 5, 4 * 6 * 5, device="meta")
    assert cost["params"] == sum(t.numel() for t in linear.parameters())
    assert cost["macs"] == linear.weight.numel()
    conv = [conv_cost("standard", 3, 16, 3, n, padding=1)["params"] for n in (8, 16, 224)]
    dense = [conv_cost("dense", 3, 16, 3, n, padding=1)["params"] for n in (8, 16)]
    assert conv == [432] * 3  # weight sharing: independent of the image size
    assert dense[1] == 16 * dense[0]


@pytest.mark.parametrize(("c_in", "c_out", "k"), [(16, 16, 3), (32, 64, 3), (64, 128, 5), (3, 96, 7)])
def test_cost_ratios(c_in, c_out, k):
    args = dict(in_channels=c_in, out_channels=c_out, kernel_size=k, input_size=40, padding=k // 2)
    std = conv_cost("standard", **args)
    sep = conv_cost("depthwise-separable", **args)
    assert sep["params"] / std["params"] == pytest.approx(1 / c_out + 1 / k**2, rel=1e-12)
    assert sep["macs"] / std["macs"] == pytest.approx(1 / c_out + 1 / k**2, rel=1e-12)
    assert conv_cost("pointwise", **args)["params"] * k**2 == std["params"]
    assert conv_cost("dilated", **{**args, "dilation": 2})["params"] == std["params"]  # no new weights
    assert (
        conv_cost("grouped", **{**args, "in_channels": 16, "groups": 4})["params"] * 4
        == conv_cost("standard", **{**args, "in_channels": 16})["params"]
    )
    spatial = conv_cost("spatially-separable", **{**args, "in_channels": c_out})
    assert spatial["params"] / conv_cost("standard", **{**args, "in_channels": c_out})["params"] == pytest.approx(2 / k)


@pytest.mark.parametrize(
    ("kernels", "strides", "dilations", "expected"),
    [
        ([3], None, None, 3),
        ([3, 3], None, None, 5),
        ([3, 3, 3], None, None, 7),
        ([3, 3, 3], None, [1, 2, 4], 15),
        ([7, 3, 3], [2, 2, 1], None, 7 + 2 * 2 + 4 * 2),
        ([5, 2, 3], [1, 2, 1], [2, 1, 3], 9 + 1 + 2 * 3 * 2),
    ],
)
def test_receptive_field_equals_the_support_of_one_output_pixel_gradient(kernels, strides, dilations, expected):
    strides, dilations = strides or [1] * len(kernels), dilations or [1] * len(kernels)
    assert receptive_field(kernels, strides, dilations) == expected
    layers = [torch.nn.Conv2d(1, 1, k, s, dilation=d, bias=False) for k, s, d in zip(kernels, strides, dilations)]
    for layer in layers:
        torch.nn.init.constant_(layer.weight, 1.0)  # positive weights: no cancellation in the gradient
    x = torch.randn(1, 1, 64, 64, dtype=torch.float64, requires_grad=True)
    y = torch.nn.Sequential(*layers).double()(x)
    y[0, 0, y.shape[2] // 2, y.shape[3] // 2].backward()
    rows = x.grad[0, 0].abs().sum(1).nonzero().squeeze(1)
    assert int(rows.max() - rows.min() + 1) == expected


def test_two_3x3_layers_see_5x5_with_fewer_weights():
    assert receptive_field([3, 3]) == receptive_field([5]) == 5
    assert 2 * conv_cost("standard", 64, 64, 3, 32)["params"] < conv_cost("standard", 64, 64, 5, 32)["params"]


@pytest.mark.parametrize(
    ("fn", "args", "kwargs", "error", "match"),
    [
        (conv_output_size, (5, 7), {}, ValueError, "kernel_size must fit in the padded input"),
        (conv_output_size, (0, 3), {}, ValueError, "size must be >= 1"),
        (conv_output_size, (8, 3), {"padding": "same", "stride": 2}, ValueError, "padding='same' needs stride=1"),
        (conv_output_size, (8, 3), {"padding": "full"}, ValueError, "padding must be one of"),
        (conv_output_size, (8, 3.0), {}, TypeError, "kernel_size must be an int"),
        (conv_transpose_output_size, (4, 3), {"stride": 2, "output_padding": 2}, ValueError, "output_padding must be"),
        (conv_transpose_output_size, (1, 1), {"padding": 1}, ValueError, "padding=1 is too large"),
        (conv_cost, ("separable", 3, 8, 3, 8), {}, ValueError, "kind must be one of"),
        (conv_cost, ("grouped", 6, 8, 3, 8), {"groups": 4}, ValueError, "groups must divide"),
        (conv_cost, ("standard", 6, 8, 3, 8), {"groups": 2}, ValueError, "groups is for kind='grouped' only"),
        (conv_cost, ("depthwise", 6, 8, 3, 8), {}, ValueError, "out_channels must be a multiple of in_channels"),
        (conv_cost, ("dilated", 6, 8, 3, 8), {}, ValueError, "dilation must be >= 2"),
        (conv_cost, ("standard", 6, 8, 9, 8), {}, ValueError, "kernel_size must fit in the padded input"),
        (conv_cost, ("standard", 6, 8, 3, (8, 8, 8)), {}, ValueError, "input_size must be an int or a tuple of 2"),
        (receptive_field, ([3, 3],), {"strides": [1]}, ValueError, "strides must be an int or a tuple of 2"),
        (receptive_field, ([],), {}, ValueError, "kernel_sizes must contain at least one layer"),
        (receptive_field, (3,), {}, TypeError, "kernel_sizes must be a sequence"),
        (receptive_field, ([3, 0],), {}, ValueError, "kernel_sizes must be >= 1"),
    ],
)
def test_bad_arguments(fn, args, kwargs, error, match):
    with pytest.raises(error, match=match):
        fn(*args, **kwargs)
