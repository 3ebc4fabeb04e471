"""Contract rows of the convnets part (see tests/contract.py)."""

import torch
from contract import Case

from nnfaq.convnets.conv_arithmetic import conv_cost, conv_output_size, conv_transpose_output_size
from nnfaq.convnets.convolution import commutes_with_shift, conv1d, conv2d, conv3d
from nnfaq.convnets.resampling import avg_pool2d, conv_transpose2d, max_pool2d, pool_output_size
from nnfaq.convnets.segmentation import conv_from_linear, fcn_head

F64 = torch.float64


def _conv(n):
    return lambda: {
        "input": torch.randn(1, 4, *[5] * n, dtype=F64),
        "weight": torch.randn(6, 2, *[3] * n, dtype=F64),
        "bias": torch.randn(6, dtype=F64),
        "stride": 1,
        "padding": 1,
        "dilation": 1,
        "groups": 2,
    }


CONV_OPTIONS = {"stride": 1, "padding": 0, "dilation": 1, "groups": 1}

CASES = [
    *[
        Case(fn, _conv(n), tensor=["input", "weight"], integer=CONV_OPTIONS)
        for n, fn in enumerate((conv1d, conv2d, conv3d), 1)
    ],
    Case(
        commutes_with_shift,
        lambda: {"layer": torch.nn.Identity(), "input": torch.randn(1, 1, 4, 4), "shift": (1, 2)},
        tensor=["input"],
    ),
    Case(
        conv_output_size,
        {"size": 8, "kernel_size": 3, "stride": 2, "padding": 1, "dilation": 1},
        integer={"size": 1, "kernel_size": 1, "stride": 1, "padding": 0, "dilation": 1},
    ),
    Case(
        conv_transpose_output_size,
        {"size": 4, "kernel_size": 3, "stride": 2, "padding": 1, "output_padding": 1, "dilation": 1},
        integer={"size": 1, "kernel_size": 1, "stride": 1, "padding": 0, "output_padding": 0, "dilation": 1},
    ),
    Case(
        conv_cost,
        {"kind": "standard", "in_channels": 4, "out_channels": 8, "kernel_size": 3, "input_size": 6, "bias": True},
        integer={
            "in_channels": 1,
            "out_channels": 1,
            "kernel_size": 1,
            "input_size": 1,
            "stride": 1,
            "padding": 0,
            "dilation": 1,
            "groups": 1,
        },
        flag=["bias"],
        choice=["kind"],
    ),
    Case(
        conv_transpose2d,
        lambda: {
            "input": torch.randn(1, 4, 3, 3, dtype=F64),
            "weight": torch.randn(4, 3, 2, 2, dtype=F64),
            "groups": 2,
        },
        tensor=["input", "weight"],
        integer={"stride": 1, "padding": 0, "output_padding": 0, "groups": 1, "dilation": 1},
    ),
    # stride=None (the window) and divisor_override=None are valid, so they have no row
    Case(
        pool_output_size,
        {"size": 7, "kernel_size": 3, "padding": 1, "dilation": 1, "ceil_mode": True},
        integer={"size": 1, "kernel_size": 1, "padding": 0, "dilation": 1},
        flag=["ceil_mode"],
    ),
    Case(
        max_pool2d,
        lambda: {"input": torch.randn(1, 2, 5, 5), "kernel_size": 3, "padding": 1, "return_indices": True},
        tensor=["input"],
        integer={"kernel_size": 1, "padding": 0, "dilation": 1},
        flag=["ceil_mode", "return_indices"],
    ),
    Case(
        avg_pool2d,
        lambda: {"input": torch.randn(1, 2, 5, 5), "kernel_size": 3, "padding": 1},
        tensor=["input"],
        integer={"kernel_size": 1, "padding": 0},
        flag=["ceil_mode", "count_include_pad"],
    ),
    Case(conv_from_linear, lambda: {"linear": torch.nn.Linear(3, 2)}),
    Case(
        fcn_head,
        lambda: {"features": torch.randn(1, 4, 2, 2), "weight": torch.randn(3, 4), "size": (8, 8)},
        tensor=["features", "weight"],
    ),
]
