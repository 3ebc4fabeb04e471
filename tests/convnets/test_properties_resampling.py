"""Property tests for nnfaq.resampling: random valid shapes and options (stride, padding, output_padding, dilation,
groups, ceil_mode, count_include_pad, divisor_override, unbatched, empty batch) agree with PyTorch (forward and
gradient, float64); random invalid input raises ValueError/TypeError naming the argument."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import gen, non_float_dtypes, rejects, seeds
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.testing import assert_close

from nnfaq.resampling import avg_pool2d, conv_transpose2d, max_pool2d, pool_output_size

F64 = torch.float64

not_tensors = st.sampled_from([None, 1.0, 3, [[0.5, 0.5]], "x", np.zeros((1, 2, 3, 3))])
not_ints = st.sampled_from([True, False, 1.0, 2.5, None, "2", math.nan])


def _pair(draw, values):
    """An int (same in both dimensions, sometimes) or a tuple of 2 ints."""
    a, b = draw(values), draw(values)
    return a if a == b and draw(st.booleans()) else (a, b)


def _two(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _parity(ours_fn, ref_fn, tensors, seed, **kwargs):
    leaves = [None if t is None else t.clone().requires_grad_() for t in tensors]
    twins = [None if t is None else t.clone().requires_grad_() for t in tensors]
    ours, ref = ours_fn(*leaves, **kwargs), ref_fn(*twins, **kwargs)
    assert ours.shape == ref.shape
    assert_close(ours, ref)
    upstream = torch.randn(ref.shape, generator=gen(seed + 1), dtype=F64)
    ours.backward(upstream)
    ref.backward(upstream)
    for a, r in zip(leaves, twins):
        if a is not None:
            assert_close(a.grad, r.grad)


def _input(draw, channels, low=(1, 1), extra=3):
    """(B, C, H, W) or unbatched (C, H, W), float64; B may be 0."""
    size = [draw(st.integers(lo, lo + extra)) for lo in low]
    batch = draw(st.sampled_from([None, 0, 1, 2]))
    shape = (*(() if batch is None else (batch,)), channels, *size)
    return shape


# --- valid input: transposed convolution ---------------------------------------------------------


@st.composite
def transpose_case(draw):
    groups = draw(st.integers(1, 3))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride, dilation = _pair(draw, st.integers(1, 3)), _pair(draw, st.integers(1, 2))
    # output_padding < max(stride, dilation) in each dimension
    out_pad = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(_two(stride), _two(dilation)))
    shape = _input(draw, c_in)
    # padding at most what keeps the output size >= 1: (n - 1)s - 2p + d(K - 1) + op + 1 >= 1
    room = [
        ((n - 1) * s + d * (k - 1) + op) // 2
        for n, s, d, k, op in zip(shape[-2:], _two(stride), _two(dilation), kernel, out_pad)
    ]
    padding = tuple(draw(st.integers(0, min(r, 3))) for r in room)
    seed = draw(seeds)
    g = gen(seed)
    x = torch.randn(shape, generator=g, dtype=F64)
    w = torch.randn(c_in, c_out // groups, *kernel, generator=g, dtype=F64)
    b = torch.randn(c_out, generator=g, dtype=F64) if draw(st.booleans()) else None
    kwargs = dict(stride=stride, padding=padding, output_padding=out_pad, groups=groups, dilation=dilation)
    return x, w, b, kwargs, seed


@settings(max_examples=40)
@given(transpose_case())
def test_conv_transpose2d_matches_torch(case):
    x, w, b, kwargs, seed = case
    _parity(conv_transpose2d, F.conv_transpose2d, (x, w, b), seed, **kwargs)


@given(transpose_case())
def test_conv_transpose2d_is_the_adjoint_of_conv2d(case):
    y, w, _, kwargs, seed = case
    kwargs = dict(kwargs)
    out_pad = kwargs.pop("output_padding")
    if any(op >= s for op, s in zip(out_pad, _two(kwargs["stride"]))):
        return  # output_padding >= stride (allowed by a larger dilation) adds rows the convolution would see
    z = torch.randn(conv_transpose2d(y, w, output_padding=out_pad, **kwargs).shape, generator=gen(seed), dtype=F64)
    # <conv(z), y> = <z, conv^T(y)>: the same weight, stride, padding, dilation and groups
    assert_close(
        (F.conv2d(z, w, **kwargs) * y).sum(), (z * conv_transpose2d(y, w, output_padding=out_pad, **kwargs)).sum()
    )


# --- valid input: pooling ------------------------------------------------------------------------


@st.composite
def pool_case(draw, dilated):
    kernel = _pair(draw, st.integers(1, 3))
    stride = draw(st.none() | st.integers(1, 3) | st.tuples(st.integers(1, 3), st.integers(1, 3)))
    padding = tuple(draw(st.integers(0, k // 2)) for k in _two(kernel))  # PyTorch: at most half the window
    padding = padding[0] if padding[0] == padding[1] and draw(st.booleans()) else padding
    dilation = _pair(draw, st.integers(1, 2)) if dilated else 1
    spans = [d * (k - 1) + 1 for k, d in zip(_two(kernel), _two(dilation))]
    low = [max(1, span - 2 * p) for span, p in zip(spans, _two(padding))]
    shape = _input(draw, draw(st.integers(1, 3)), low)
    seed = draw(seeds)
    x = torch.randn(shape, generator=gen(seed), dtype=F64)
    kwargs = dict(kernel_size=kernel, stride=stride, padding=padding, ceil_mode=draw(st.booleans()))
    if dilated:
        kwargs["dilation"] = dilation
    return x, kwargs, seed


@settings(max_examples=40)
@given(pool_case(dilated=True))
def test_max_pool2d_matches_torch(case):
    x, kwargs, seed = case
    _parity(max_pool2d, F.max_pool2d, (x,), seed, **kwargs)


@settings(max_examples=40)
@given(pool_case(dilated=False), st.booleans(), st.sampled_from([None, None, None, 1, 4]))
def test_avg_pool2d_matches_torch(case, count_include_pad, divisor_override):
    x, kwargs, seed = case
    kwargs.update(count_include_pad=count_include_pad, divisor_override=divisor_override)
    _parity(avg_pool2d, F.avg_pool2d, (x,), seed, **kwargs)


@given(pool_case(dilated=True))
def test_pool_output_size_is_the_shape_torch_produces(case):
    x, kwargs, _ = case
    kernel, stride, padding = _two(kwargs["kernel_size"]), kwargs["stride"], _two(kwargs["padding"])
    stride = kernel if stride is None else _two(stride)
    expected = F.max_pool2d(x, **kwargs).shape[-2:]
    for n, k, s, p, d, out in zip(x.shape[-2:], kernel, stride, padding, _two(kwargs["dilation"]), expected):
        assert pool_output_size(n, k, s, p, d, kwargs["ceil_mode"]) == out
        assert pool_output_size(n, k, s, p, d, False) <= out <= pool_output_size(n, k, s, p, d, True)


# --- invalid input -------------------------------------------------------------------------------


def _valid_transpose():
    return torch.ones(2, 4, 3, 3, dtype=F64), torch.ones(4, 3, 2, 2, dtype=F64), torch.ones(6, dtype=F64)


ARGS = ["input", "weight", "bias"]


@given(bad=not_tensors, which=st.sampled_from(ARGS))
def test_conv_transpose2d_rejects_non_tensors(bad, which):
    args = dict(zip(ARGS, _valid_transpose()))
    if which == "bias" and bad is None:
        return  # no bias is valid
    args[which] = bad
    rejects(which, conv_transpose2d, **args, groups=2)


@given(dtype=non_float_dtypes | st.sampled_from([torch.float32, torch.float16]), which=st.sampled_from(ARGS))
def test_conv_transpose2d_rejects_wrong_dtypes(dtype, which):
    args = dict(zip(ARGS, _valid_transpose()))
    args[which] = args[which].to(dtype)
    rejects(which, conv_transpose2d, **args, groups=2)


@given(which=st.sampled_from(ARGS), rank=st.integers(0, 6))
def test_conv_transpose2d_rejects_wrong_rank(which, rank):
    if rank in {"input": (3, 4), "weight": (4,), "bias": (1,)}[which]:
        return
    args = dict(zip(ARGS, _valid_transpose()))
    args[which] = torch.ones((2,) * rank, dtype=F64)
    rejects(which, conv_transpose2d, **args, groups=2)


@given(c_in=st.integers(1, 6), c_w=st.integers(1, 6), groups=st.integers(1, 4), bias=st.integers(1, 9))
def test_conv_transpose2d_rejects_mismatched_channels_groups_and_bias(c_in, c_w, groups, bias):
    x, w = torch.ones(1, c_in, 3, 3, dtype=F64), torch.ones(c_w, 2, 2, 2, dtype=F64)
    if c_in % groups:
        rejects("groups", conv_transpose2d, x, w, groups=groups)
    elif c_w != c_in:
        rejects("weight", conv_transpose2d, x, w, groups=groups)
    elif bias != 2 * groups:
        rejects("bias", conv_transpose2d, x, w, torch.ones(bias, dtype=F64), groups=groups)


@given(which=st.sampled_from(["channel", "space", "out", "kernel"]))
def test_conv_transpose2d_rejects_zero_sizes(which):
    x_shape, w_shape = [1, 2, 3, 3], [2, 3, 2, 2]
    if which in ("channel", "space"):
        x_shape[{"channel": 1, "space": 3}[which]] = 0
        w_shape[0] = x_shape[1]
    else:
        w_shape[{"out": 1, "kernel": 2}[which]] = 0
    name = "input" if which == "space" else "weight"
    rejects(name, conv_transpose2d, torch.ones(x_shape, dtype=F64), torch.ones(w_shape, dtype=F64))


bad_transpose_options = (
    st.integers(-3, 0).map(lambda v: ("stride", v))
    | st.integers(-3, 0).map(lambda v: ("dilation", v))
    | st.integers(-3, -1).map(lambda v: ("padding", v))
    | st.integers(-3, -1).map(lambda v: ("output_padding", v))
    | st.integers(0, 4).filter(lambda m: m != 2).map(lambda m: ("stride", (1,) * m))
    | st.sampled_from(["stride", "dilation", "padding", "output_padding"]).flatmap(
        lambda name: not_ints.map(lambda v: (name, v)) | st.just((name, (1, True)))
    )
    | st.sampled_from([0, -1, True, 1.0, None, "1"]).map(lambda v: ("groups", v))
    | st.integers(3, 9).map(lambda p: ("padding", p))  # the output would be empty
    | st.integers(1, 3).flatmap(lambda s: st.integers(s, 5).map(lambda op: ("output_padding", op, s)))
)


@given(bad=bad_transpose_options)
def test_conv_transpose2d_rejects_bad_options(bad):
    name, value, *stride = bad
    kwargs = {"groups": 2, name: value, **({"stride": stride[0]} if stride else {})}
    rejects(name, conv_transpose2d, *_valid_transpose(), **kwargs)


POOLS = [max_pool2d, avg_pool2d]


@pytest.mark.parametrize("fn", POOLS)
@given(
    bad=not_tensors
    | non_float_dtypes.map(lambda d: torch.zeros(1, 1, 3, 3, dtype=d))
    | st.integers(0, 6).filter(lambda r: r not in (3, 4)).map(lambda r: torch.zeros((2,) * r))
    | st.sampled_from([(1, 1, 0, 3), (1, 2, 3, 0), (2, 0, 0)]).map(torch.zeros)
)
def test_pooling_rejects_bad_input(fn, bad):
    rejects("input", fn, bad, 1)


bad_pool_options = (
    st.sampled_from(["kernel_size", "stride", "padding"]).flatmap(
        lambda name: (
            not_ints.filter(lambda v: v is not None).map(lambda v: (name, v))
            | st.just((name, (1, True)))
            | st.integers(0, 4).filter(lambda m: m != 2).map(lambda m: (name, (1,) * m))
        )
    )
    | st.integers(-3, 0).map(lambda v: ("kernel_size", v))
    | st.integers(-3, 0).map(lambda v: ("stride", v))
    | st.integers(-3, -1).map(lambda v: ("padding", v))
    | st.integers(2, 4).map(lambda p: ("padding", p))  # more than half of the 3x3 window
    | st.sampled_from([None, 0, 1, "True", 1.0]).map(lambda v: ("ceil_mode", v))
    | st.integers(6, 9).map(lambda k: ("kernel_size", k))  # larger than the 5x5 input
)


@pytest.mark.parametrize("fn", POOLS)
@given(bad=bad_pool_options)
def test_pooling_rejects_bad_options(fn, bad):
    name, value = bad
    kwargs = {"kernel_size": 3, name: value}
    rejects(name, fn, torch.ones(1, 2, 5, 5, dtype=F64), **kwargs)


@given(
    bad=st.sampled_from(["dilation"]).flatmap(
        lambda name: (
            not_ints.filter(lambda v: v is not None).map(lambda v: (name, v))
            | st.integers(-3, 0).map(lambda v: (name, v))
        )
    )
    | st.integers(3, 5).map(lambda d: ("dilation", d))  # the dilated 3x3 window no longer fits in 5x5
)
def test_max_pool2d_rejects_bad_dilation(bad):
    rejects(
        "dilation" if bad[1] not in (3, 4, 5) else "kernel_size",
        max_pool2d,
        torch.ones(1, 2, 5, 5),
        3,
        **{bad[0]: bad[1]},
    )


@given(
    name=st.sampled_from(["count_include_pad", "divisor_override"]),
    bad=st.sampled_from([0, -2, 1.5, "1", True, math.nan]),
)
def test_avg_pool2d_rejects_bad_counting_options(name, bad):
    if name == "count_include_pad" and isinstance(bad, bool):
        return
    rejects(name, avg_pool2d, torch.ones(1, 2, 5, 5), 2, **{name: bad})


@given(
    args=st.tuples(st.integers(1, 12), st.integers(1, 5), st.integers(1, 4), st.integers(0, 2), st.integers(1, 3)),
    name=st.sampled_from(["size", "kernel_size", "stride", "padding", "dilation", "ceil_mode"]),
    bad=not_ints | st.integers(-3, 0),
)
def test_pool_output_size_rejects_bad_arguments(args, name, bad):
    kwargs = dict(zip(["size", "kernel_size", "stride", "padding", "dilation"], args), ceil_mode=False)
    if (name == "ceil_mode" and isinstance(bad, bool)) or (name == "stride" and bad is None):
        return  # valid values
    if name == "padding" and bad == 0:
        return
    kwargs[name] = bad
    rejects(name, pool_output_size, **kwargs)


@given(size=st.integers(1, 8), k=st.integers(1, 5), p=st.integers(0, 4), d=st.integers(1, 3))
def test_pool_output_size_rejects_large_padding_and_windows_that_do_not_fit(size, k, p, d):
    if p > k // 2:
        rejects("padding", pool_output_size, size, k, padding=p, dilation=d)
    elif size + 2 * p < d * (k - 1) + 1:
        rejects("kernel_size", pool_output_size, size, k, padding=p, dilation=d)
    else:
        assert pool_output_size(size, k, padding=p, dilation=d) >= 1
