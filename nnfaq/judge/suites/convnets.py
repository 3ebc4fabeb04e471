"""The checks of the convnets exercises: convolution and pooling (see :mod:`nnfaq.judge.suites`)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from hypothesis import strategies as st

from nnfaq.judge.checks import (
    F64,
    Case,
    Mistake,
    Suite,
    call,
    dtypes,
    expect,
    seeded,
    seeds,
)
from nnfaq.judge.suites._base import _NOT_A_TENSOR, _close, _suite, _t

# --- convnets ------------------------------------------------------------------------------------


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


@st.composite
def _conv_cases(draw):
    groups = draw(st.sampled_from([1, 1, 2]))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride, padding, dilation = (
        (draw(st.integers(1, 2)), draw(st.integers(1, 2))),
        (draw(st.integers(0, 2)), draw(st.integers(0, 2))),
        (draw(st.integers(1, 2)), draw(st.integers(1, 2))),
    )
    as_int = draw(st.booleans())
    if as_int:
        k, stride, padding, dilation = (k[0], k[0]), (stride[0],) * 2, (padding[0],) * 2, (dilation[0],) * 2
    size = [max(draw(st.integers(1, 6)), dilation[i] * (k[i] - 1) + 1 - 2 * padding[i]) for i in range(2)]
    seed, dtype = draw(seeds), draw(dtypes)

    def opt(v):
        return v[0] if as_int else v

    return Case(
        input=seeded((draw(st.integers(1, 2)), c_in, *size), seed, dtype),
        weight=seeded((c_out, c_in // groups, *k), seed + 1, dtype),
        bias=seeded((c_out,), seed + 2, dtype) if draw(st.booleans()) else None,
        stride=opt(stride),
        padding=opt(padding),
        dilation=opt(dilation),
        groups=groups,
    )


@_suite("conv2d")
def _conv2d():
    def flipped(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
        return F.conv2d(input, weight.flip(-1, -2), bias, stride, padding, dilation, groups)

    wrong = [Mistake(flipped, "the kernel is flipped: conv2d is a cross-correlation, the kernel is used as it is")]
    s = Suite("conv2d", F.conv2d, "torch.nn.functional.conv2d")
    s.forward(_conv_cases(), wrong)
    s.gradient(_conv_cases(), wrt=("input", "weight", "bias"))

    def shift(fn):
        x, w = seeded((1, 1, 8, 8), 17, F64), seeded((1, 1, 3, 3), 18, F64)
        a = call(fn, {"input": x, "weight": w})
        b = call(fn, {"input": torch.roll(x, (1, 2), (2, 3)), "weight": w})
        expect(
            _close(b[..., 1:, 2:], a[..., :-1, :-2]),
            "shifting the input must shift the output by as much (translation equivariance)",
        )

    s.claim("shifting the input shifts the output", shift)
    s.edge(
        "a 1x1 kernel",
        lambda: Case(input=seeded((2, 3, 4, 5), 19, F64), weight=seeded((2, 3, 1, 1), 20, F64)),
        "a 1x1 convolution is a matrix product at every pixel",
        None,
        grad=("input", "weight"),
    )
    s.edge(
        "a kernel as large as the padded input",
        lambda: Case(input=seeded((1, 2, 3, 3), 21, F64), weight=seeded((1, 2, 5, 5), 22, F64), padding=1),
        "a kernel as large as the padded input gives a 1x1 output",
        None,
    )
    s.refuse(
        [
            (_NOT_A_TENSOR, lambda: Case(input=[[1.0]], weight=torch.ones(1, 1, 1, 1, dtype=F64))),
            (
                "a weight with 2 input channels for an input with 3",
                lambda: Case(input=torch.ones(1, 3, 4, 4, dtype=F64), weight=torch.ones(1, 2, 3, 3, dtype=F64)),
            ),
            (
                "groups=2 for 3 input channels",
                lambda: Case(
                    input=torch.ones(1, 3, 4, 4, dtype=F64), weight=torch.ones(2, 1, 3, 3, dtype=F64), groups=2
                ),
            ),
        ]
    )
    return s


@st.composite
def _pool_cases(draw, negative=False):
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = draw(st.sampled_from([None, 1, 2, (1, 2)]))
    padding = (draw(st.integers(0, k[0] // 2)), draw(st.integers(0, k[1] // 2)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    size = [max(draw(st.integers(1, 7)), dilation[i] * (k[i] - 1) + 1 - 2 * padding[i]) for i in range(2)]
    seed, dtype = draw(seeds), draw(dtypes)
    x = seeded((draw(st.integers(1, 2)), draw(st.integers(1, 2)), *size), seed, dtype)
    as_int = k[0] == k[1] and padding[0] == padding[1] and dilation[0] == dilation[1] and draw(st.booleans())
    return Case(
        input=x - 3 if negative else x,
        kernel_size=k[0] if as_int else k,
        stride=stride,
        padding=padding[0] if as_int else padding,
        dilation=dilation[0] if as_int else dilation,
        ceil_mode=draw(st.booleans()),
        return_indices=draw(st.booleans()),
    )


@_suite("max-pool2d")
def _max_pool2d():
    def zero_padded(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
        p = _pair(padding)
        x = F.pad(input, (p[1], p[1], p[0], p[0]), value=0.0)
        out = F.max_pool2d(x, kernel_size, stride, 0, dilation, ceil_mode, return_indices)
        return out

    def stride_one(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
        return F.max_pool2d(
            input, kernel_size, 1 if stride is None else stride, padding, dilation, ceil_mode, return_indices
        )

    wrong = [
        Mistake(
            zero_padded,
            "padding must be -inf, not zeros: an all-negative window next to the border pooled to 0",
            "pad with float('-inf'): F.pad(input, pads, value=float('-inf'))",
        ),
        Mistake(stride_one, "stride=None means stride = kernel_size (non-overlapping windows), not 1"),
    ]
    s = Suite("max_pool2d", F.max_pool2d, "torch.nn.functional.max_pool2d")
    # no window may lie entirely in the padding (PyTorch would return -inf there)
    cases = _pool_cases().filter(
        lambda c: bool(torch.isfinite(F.max_pool2d(**{**c.args, "return_indices": False})).all())
    )
    s.forward(cases, wrong)
    s.gradient(cases)

    def to_max(fn):
        x = _t([[[[1.0, 3.0], [2.0, 0.0]]]]).requires_grad_(True)
        y = call(fn, {"input": x, "kernel_size": 2})
        (g,) = torch.autograd.grad(y.sum(), x)
        expect(g.flatten().tolist() == [0.0, 1.0, 0.0, 0.0], "the whole gradient of a window must go to its maximum")

    s.claim("the gradient of each window goes to its maximum only", to_max)
    s.edge(
        "an all-negative input with padding",
        lambda: Case(
            input=-1 - seeded((1, 1, 4, 4), 23, F64, low=0, high=1),
            kernel_size=3,
            stride=2,
            padding=1,
            return_indices=True,
        ),
        "padding must be -inf, not zeros: an all-negative input must not pool to 0",
        "pad with float('-inf'): F.pad(input, pads, value=float('-inf'))",
    )
    s.refuse(
        [
            (_NOT_A_TENSOR, lambda: Case(input=[[1.0]], kernel_size=1)),
            (
                "padding=2 for kernel_size=3 (more than half the kernel)",
                lambda: Case(input=torch.ones(1, 1, 5, 5, dtype=F64), kernel_size=3, padding=2),
            ),
            ("kernel_size=0", lambda: Case(input=torch.ones(1, 1, 5, 5, dtype=F64), kernel_size=0)),
        ]
    )
    return s
