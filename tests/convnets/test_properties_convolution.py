"""Property tests for nnfaq.convolution: random valid shapes and options (stride, padding incl. "same"/"valid",
dilation, groups, bias, unbatched, empty batch) agree with PyTorch (forward and gradient, float64); random invalid
input raises ValueError/TypeError naming the argument."""

import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import gen, non_float_dtypes, rejects, seeds
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.testing import assert_close

from nnfaq.convolution import commutes_with_shift, conv1d, conv2d, conv3d

F64 = torch.float64
OURS = {1: conv1d, 2: conv2d, 3: conv3d}
REFS = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}

not_tensors = st.sampled_from([None, 1.0, 3, [[0.5, 0.5]], "x", np.zeros((1, 2, 3))])
not_ints = st.sampled_from([True, False, 1.0, 2.5, None, "2", math.nan])


def _per_dim(draw, n, values):
    """An int when every dimension gets the same value (sometimes), else a tuple or list of n ints."""
    vals = tuple(draw(values) for _ in range(n))
    if len(set(vals)) == 1 and draw(st.booleans()):
        return vals[0]
    return vals if draw(st.booleans()) else list(vals)


@st.composite
def conv_case(draw, n):
    """Random valid arguments of conv{n}d: tensors and keyword options, with the kernel fitting the padded input."""
    groups = draw(st.integers(1, 3))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kernel = tuple(draw(st.integers(1, 4 if n < 3 else 3)) for _ in range(n))
    kind = draw(st.sampled_from(["int", "valid", "same"]))
    stride = _per_dim(draw, n, st.just(1) if kind == "same" else st.integers(1, 3))  # "same" needs stride 1
    dilation = _per_dim(draw, n, st.integers(1, 2))
    dilations = (dilation,) * n if isinstance(dilation, int) else tuple(dilation)
    padding = _per_dim(draw, n, st.integers(0, 2)) if kind == "int" else kind
    pads = (padding,) * n if isinstance(padding, int) else (0,) * n if isinstance(padding, str) else tuple(padding)
    spans = [d * (k - 1) + 1 for k, d in zip(kernel, dilations)]
    # "same" pads by the span, so any size fits; otherwise the padded size must hold the dilated kernel
    low = [1 if kind == "same" else max(1, span - 2 * p) for span, p in zip(spans, pads)]
    size = tuple(draw(st.integers(lo, lo + (3 if n < 3 else 2))) for lo in low)
    batch = draw(st.sampled_from([None, 0, 1, 2]))  # None: unbatched
    seed = draw(seeds)
    g = gen(seed)
    x = torch.randn(*(() if batch is None else (batch,)), c_in, *size, generator=g, dtype=F64)
    w = torch.randn(c_out, c_in // groups, *kernel, generator=g, dtype=F64)
    b = torch.randn(c_out, generator=g, dtype=F64) if draw(st.booleans()) else None
    return x, w, b, dict(stride=stride, padding=padding, dilation=dilation, groups=groups), seed


def _torch_args(kwargs):
    """PyTorch's functional convolutions take tuples, not lists."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}


def _parity(n, case):
    x, w, b, kwargs, seed = case
    leaves = [t.clone().requires_grad_() for t in (x, w, b) if t is not None]
    twins = [t.clone().requires_grad_() for t in (x, w, b) if t is not None]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # PyTorch warns about "same" with an even kernel
        ours = OURS[n](*leaves[:2], leaves[2] if b is not None else None, **kwargs)
        ref = REFS[n](*twins[:2], twins[2] if b is not None else None, **_torch_args(kwargs))
    assert ours.shape == ref.shape
    assert_close(ours, ref)
    upstream = torch.randn(ref.shape, generator=gen(seed + 1), dtype=F64)
    ours.backward(upstream)
    ref.backward(upstream)
    for a, r in zip(leaves, twins):
        assert_close(a.grad, r.grad)


# --- valid input ---------------------------------------------------------------------------------


@settings(max_examples=40)
@given(conv_case(1))
def test_conv1d_matches_torch(case):
    _parity(1, case)


@settings(max_examples=40)
@given(conv_case(2))
def test_conv2d_matches_torch(case):
    _parity(2, case)


@settings(max_examples=25)
@given(conv_case(3))
def test_conv3d_matches_torch(case):
    _parity(3, case)


@given(conv_case(2))
def test_conv2d_is_linear_in_input_and_weight(case):
    x, w, _, kwargs, seed = case
    g = gen(seed + 2)
    x2, w2 = torch.randn(x.shape, generator=g, dtype=F64), torch.randn(w.shape, generator=g, dtype=F64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        assert_close(conv2d(2 * x - x2, w, **kwargs), 2 * conv2d(x, w, **kwargs) - conv2d(x2, w, **kwargs))
        assert_close(conv2d(x, w + 3 * w2, **kwargs), conv2d(x, w, **kwargs) + 3 * conv2d(x, w2, **kwargs))


@st.composite
def circular_case(draw):
    """A circularly padded convolution with stride s, an input whose size is a multiple of s, and a shift of s·m."""
    s, k = draw(st.integers(1, 2)), draw(st.sampled_from([1, 3]))
    h, wd = s * draw(st.integers(2, 4)), s * draw(st.integers(2, 4))
    c_in, c_out = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    shift = (draw(st.integers(-3, 3)), draw(st.integers(-3, 3)))
    g = gen(draw(seeds))
    x = torch.randn(draw(st.integers(1, 2)), c_in, h, wd, generator=g, dtype=F64)
    w, b = torch.randn(c_out, c_in, k, k, generator=g, dtype=F64), torch.randn(c_out, generator=g, dtype=F64)
    return x, w, b, s, shift


@given(circular_case())
def test_circular_convolution_commutes_with_shifts_that_are_multiples_of_the_stride(case):
    x, w, b, s, (dh, dw) = case
    k = w.shape[-1]

    def layer(t):
        return conv2d(F.pad(t, [k // 2] * 4, mode="circular"), w, b, stride=s)

    assert commutes_with_shift(layer, x, (s * dh, s * dw), (dh, dw))
    assert commutes_with_shift(lambda t: 2 * t + 1, x, (dh, dw))  # any pointwise map is equivariant


# --- invalid input: convolutions -----------------------------------------------------------------


def _valid(n):
    """Small valid input, weight and bias for conv{n}d."""
    return torch.ones(2, 4, *[5] * n, dtype=F64), torch.ones(6, 2, *[3] * n, dtype=F64), torch.ones(6, dtype=F64)


ARGS = ["input", "weight", "bias"]


@pytest.mark.parametrize("n", [1, 2, 3])
@given(bad=not_tensors, which=st.sampled_from(ARGS))
def test_conv_rejects_non_tensors(n, bad, which):
    args = dict(zip(ARGS, _valid(n)))
    if which == "bias" and bad is None:
        return  # no bias is valid
    args[which] = bad
    rejects(which, OURS[n], **args, groups=2)


@pytest.mark.parametrize("n", [1, 2, 3])
@given(dtype=non_float_dtypes | st.sampled_from([torch.float32, torch.float16]), which=st.sampled_from(ARGS))
def test_conv_rejects_wrong_dtypes(n, dtype, which):
    args = dict(zip(ARGS, _valid(n)))
    args[which] = args[which].to(dtype)
    rejects(which, OURS[n], **args, groups=2)


@pytest.mark.parametrize("n", [1, 2, 3])
@given(which=st.sampled_from(ARGS), rank=st.integers(0, 6))
def test_conv_rejects_wrong_rank(n, which, rank):
    allowed = {"input": (n + 1, n + 2), "weight": (n + 2,), "bias": (1,)}[which]
    if rank in allowed:
        return
    args = dict(zip(ARGS, _valid(n)))
    args[which] = torch.ones((2,) * rank, dtype=F64)
    rejects(which, OURS[n], **args, groups=2)


@pytest.mark.parametrize("n", [1, 2, 3])
@given(c_in=st.integers(1, 6), c_w=st.integers(1, 6), c_out=st.integers(1, 6), groups=st.integers(1, 4), data=st.data())
def test_conv_rejects_mismatched_channels_and_groups(n, c_in, c_w, c_out, groups, data):
    x, w = torch.ones(1, c_in, *[4] * n, dtype=F64), torch.ones(c_out, c_w, *[2] * n, dtype=F64)
    if c_in % groups == 0 and c_out % groups == 0 and c_w * groups == c_in:
        bias_size = data.draw(st.integers(1, 7).filter(lambda m: m != c_out))
        rejects("bias", OURS[n], x, w, torch.ones(bias_size, dtype=F64), groups=groups)
        return
    name = "weight" if c_in % groups == 0 and c_out % groups == 0 else "groups"
    rejects(name, OURS[n], x, w, groups=groups)


@pytest.mark.parametrize("n", [1, 2, 3])
@given(which=st.sampled_from(["batch", "channel", "space", "out", "kernel"]))
def test_conv_rejects_zero_sizes(n, which):
    x_shape, w_shape = [1, 2, *[4] * n], [3, 2, *[2] * n]
    if which in ("batch", "channel", "space"):
        x_shape[{"batch": 0, "channel": 1, "space": 2}[which]] = 0
        if which == "channel":
            w_shape[1] = 0
    else:
        w_shape[{"out": 0, "kernel": -1}[which]] = 0
    x, w = torch.ones(x_shape, dtype=F64), torch.ones(w_shape, dtype=F64)
    if which == "batch":  # an empty batch is valid, as in PyTorch
        assert OURS[n](x, w, padding=1).shape == REFS[n](x, w, padding=1).shape
        return
    rejects("input" if which == "space" else "weight", OURS[n], x, w, padding=1)


bad_tuple_options = (
    st.integers(-3, 0).map(lambda v: ("stride", v))
    | st.integers(-3, 0).map(lambda v: ("dilation", v))
    | st.integers(-3, -1).map(lambda v: ("padding", v))
    | st.integers(0, 4).filter(lambda m: m != 2).map(lambda m: ("stride", (1,) * m))
    | st.sampled_from(["stride", "dilation", "padding"]).flatmap(lambda name: not_ints.map(lambda v: (name, v)))
    | st.sampled_from(["stride", "dilation", "padding"]).map(lambda name: (name, (1, True)))
    | st.text(max_size=6).filter(lambda s: s not in ("same", "valid")).map(lambda v: ("padding", v))
    | st.integers(2, 3).map(lambda s: ("padding", "same", s))  # "same" needs stride 1
    | st.sampled_from([0, -1, True, 1.0, None, "1"]).map(lambda v: ("groups", v))
)


@given(bad=bad_tuple_options)
def test_conv2d_rejects_bad_options(bad):
    x, w, b = _valid(2)
    name, value, *stride = bad
    kwargs = {"groups": 2, name: value}
    if stride:
        kwargs["stride"] = stride[0]
    rejects(name, conv2d, x, w, b, **kwargs)


@pytest.mark.parametrize("n", [1, 2, 3])
@given(k=st.integers(1, 6), size=st.integers(1, 5), pad=st.integers(0, 2), dilation=st.integers(1, 3))
def test_conv_rejects_a_kernel_larger_than_the_padded_input(n, k, size, pad, dilation):
    if dilation * (k - 1) + 1 <= size + 2 * pad:
        return
    x, w = torch.ones(1, 1, *[size] * n, dtype=F64), torch.ones(1, 1, *[k] * n, dtype=F64)
    rejects("weight", OURS[n], x, w, padding=pad, dilation=dilation)


# --- invalid input: commutes_with_shift ----------------------------------------------------------


@given(bad=st.sampled_from([None, 3, "conv", torch.ones(2)]))
def test_commutes_with_shift_rejects_a_layer_that_is_not_callable(bad):
    rejects("layer", commutes_with_shift, bad, torch.ones(1, 1, 4, 4))


@given(
    bad=not_tensors
    | non_float_dtypes.map(lambda d: torch.zeros(1, 1, 3, 3, dtype=d))
    | st.integers(0, 6).filter(lambda r: r != 4).map(lambda r: torch.zeros((2,) * r))
    | st.sampled_from([math.nan, math.inf, -math.inf]).map(lambda v: torch.full((1, 1, 3, 3), v))
)
def test_commutes_with_shift_rejects_bad_input(bad):
    rejects("input", commutes_with_shift, torch.nn.Identity(), bad)


bad_shifts = (
    not_ints.filter(lambda v: v is not None)
    | st.integers(0, 4).filter(lambda m: m != 2).map(lambda m: (1,) * m)
    | st.just((1, 0.5))
    | st.just((True, 1))
)


@given(bad=bad_shifts, which=st.sampled_from(["shift", "output_shift"]))
def test_commutes_with_shift_rejects_bad_shifts(bad, which):
    rejects(which, commutes_with_shift, torch.nn.Identity(), torch.ones(1, 1, 4, 4), **{which: bad})


@given(out=st.sampled_from([lambda t: 3, lambda t: None, lambda t: t.sum((2, 3)), lambda t: t[0], lambda t: t[None]]))
def test_commutes_with_shift_rejects_a_layer_whose_output_is_not_a_feature_map(out):
    rejects("layer", commutes_with_shift, out, torch.ones(1, 1, 4, 4))
