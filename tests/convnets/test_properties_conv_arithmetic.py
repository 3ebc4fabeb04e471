"""Property tests for nnfaq.conv_arithmetic: random sizes and options agree with the shapes, parameter counts and
FLOPs PyTorch produces and with the gradient support of a stack of layers; random invalid arguments raise
ValueError/TypeError naming the argument."""

import math
import warnings

import pytest
import torch
import torch.nn.functional as F
from helpers import conv_layers, rejects
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode

from nnfaq.conv_arithmetic import KINDS, conv_cost, conv_output_size, conv_transpose_output_size, receptive_field

not_ints = st.sampled_from([True, False, 1.0, 2.5, None, "2", math.nan, [3]])


# --- valid input ---------------------------------------------------------------------------------


@settings(max_examples=60)
@given(
    n=st.integers(1, 12),
    k=st.integers(1, 6),
    s=st.integers(1, 4),
    p=st.integers(0, 3) | st.sampled_from(["same", "valid"]),
    d=st.integers(1, 3),
)
def test_conv_output_size_is_the_shape_torch_produces_or_an_error_naming_the_kernel(n, k, s, p, d):
    if p == "same":
        s = 1
    x, w = torch.zeros(1, 1, n), torch.zeros(1, 1, k)
    pad = 0 if p == "valid" else p
    if p != "same" and n + 2 * pad < d * (k - 1) + 1:
        rejects("kernel_size", conv_output_size, n, k, s, p, d)
        with pytest.raises(RuntimeError):  # PyTorch refuses too, with its own error
            F.conv1d(x, w, stride=s, padding=p, dilation=d)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "same" with an even kernel
        expected = F.conv1d(x, w, stride=s, padding=p, dilation=d).shape[-1]
    assert conv_output_size(n, k, s, p, d) == expected


@settings(max_examples=60)
@given(
    n=st.integers(1, 10),
    k=st.integers(1, 5),
    s=st.integers(1, 4),
    p=st.integers(0, 3),
    op=st.integers(0, 3),
    d=st.integers(1, 3),
)
def test_conv_transpose_output_size_is_the_shape_torch_produces(n, k, s, p, op, d):
    if op >= max(s, d):
        rejects("output_padding", conv_transpose_output_size, n, k, s, p, op, d)
        return
    if (n - 1) * s - 2 * p + d * (k - 1) + op + 1 < 1:
        rejects("padding", conv_transpose_output_size, n, k, s, p, op, d)
        return
    y = F.conv_transpose1d(
        torch.zeros(1, 1, n), torch.zeros(1, 1, k), stride=s, padding=p, output_padding=op, dilation=d
    )
    assert conv_transpose_output_size(n, k, s, p, op, d) == y.shape[-1]


@given(n=st.integers(1, 40), k=st.integers(1, 6), s=st.integers(1, 5), p=st.integers(0, 3), d=st.integers(1, 3))
def test_transposed_size_inverts_the_convolution_size(n, k, s, p, d):
    if n + 2 * p < d * (k - 1) + 1:
        return
    m = conv_output_size(n, k, s, p, d)
    lost = (n + 2 * p - d * (k - 1) - 1) % s  # the rows the convolution's floor dropped, fewer than s
    assert conv_transpose_output_size(m, k, s, p, lost, d) == n
    # and every size that the convolution maps to m is reached with some output_padding < s
    assert conv_transpose_output_size(m, k, s, p, 0, d) <= n


@st.composite
def cost_case(draw):
    kind = draw(st.sampled_from([k for k in KINDS if k != "dense"]))
    c_in = draw(st.integers(1, 4))
    g = draw(st.integers(1, 3)) if kind == "grouped" else 1
    c_in = c_in * g
    c_out = c_in * draw(st.integers(1, 3)) if kind == "depthwise" else g * draw(st.integers(1, 4))
    k, s = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    d = draw(st.integers(2, 3)) if kind == "dilated" else draw(st.integers(1, 2))
    p = draw(st.integers(0, 2))
    span = d * (k - 1) + 1
    low = 1 if kind in ("pointwise", "transposed") else max(1, span - 2 * p)
    size = (draw(st.integers(low, low + 4)), draw(st.integers(low, low + 4)))
    if kind == "transposed":  # the output must not be empty: (n - 1)s - 2p + d(K - 1) + 1 >= 1
        p = min(p, ((min(size) - 1) * s + d * (k - 1)) // 2)
    return kind, c_in, c_out, k, size, s, p, d, g, draw(st.booleans())


@settings(max_examples=40)
@given(cost_case())
def test_conv_cost_matches_torch_parameters_flops_and_shape(case):
    kind, c_in, c_out, k, size, s, p, d, g, bias = case
    cost = conv_cost(kind, c_in, c_out, k, size, stride=s, padding=p, dilation=d, groups=g, bias=bias)
    with torch.device("meta"):
        layers = conv_layers(kind, c_in, c_out, k, s, p, d, g, bias)
        with FlopCounterMode(display=False) as counter:
            y = torch.nn.Sequential(*layers)(torch.empty(1, c_in, *size))
    assert cost["params"] == sum(t.numel() for layer in layers for t in layer.parameters())
    assert 2 * cost["macs"] == counter.get_total_flops()
    assert cost["output_size"] == tuple(y.shape[2:])


@given(cost_case())
def test_dense_layer_costs_more_and_has_one_weight_per_input_output_pair(case):
    _, c_in, c_out, k, size, s, p, d, _, bias = case
    if min(size) + 2 * p < d * (k - 1) + 1:
        return  # drawn for a kind whose kernel need not fit
    std = conv_cost("standard", c_in, c_out, k, size, s, p, d, bias=bias)
    dense = conv_cost("dense", c_in, c_out, k, size, s, p, d, bias=bias)
    n_in, n_out = c_in * math.prod(size), c_out * math.prod(std["output_size"])
    assert dense["output_size"] == std["output_size"]
    assert dense["params"] == n_in * n_out + (n_out if bias else 0)
    assert dense["macs"] == n_in * n_out
    if p == 0:  # without padding a window is part of the whole input, so the dense layer costs at least as much
        assert dense["macs"] >= std["macs"]


@st.composite
def stack(draw):
    n = draw(st.integers(1, 4))
    ks = draw(st.lists(st.integers(1, 4), min_size=n, max_size=n))
    ss = draw(st.none() | st.lists(st.integers(1, 3), min_size=n, max_size=n))
    ds = draw(st.none() | st.lists(st.integers(1, 3), min_size=n, max_size=n))
    return ks, ss, ds


@settings(max_examples=40)
@given(stack(), st.integers(0, 5))
def test_receptive_field_is_the_span_of_one_output_gradient(layers, extra):
    ks, ss, ds = layers
    r = receptive_field(ks, ss, ds)
    ss, ds = ss or [1] * len(ks), ds or [1] * len(ks)
    # r input positions are exactly enough for one output; positive weights: no cancellation in the gradient
    x = torch.randn(1, 1, r + extra, dtype=torch.float64, requires_grad=True)
    y = x
    for k, s, d in zip(ks, ss, ds):
        y = F.conv1d(y, torch.ones(1, 1, k, dtype=torch.float64), stride=s, dilation=d)
    y[0, 0, 0].backward()
    support = x.grad[0, 0].nonzero().squeeze(1)
    assert int(support.min()) == 0 and int(support.max()) + 1 == r
    # one layer more never shrinks it, and neither do larger kernels
    assert receptive_field([*ks, 1]) <= receptive_field([*ks, 2]) and receptive_field(ks) <= receptive_field(
        [k + 1 for k in ks]
    )


# --- invalid input -------------------------------------------------------------------------------

SIZE_ARGS = ["size", "kernel_size", "stride", "padding", "dilation"]


@given(name=st.sampled_from(SIZE_ARGS), bad=not_ints | st.integers(-3, 0) | st.just("full"))
def test_conv_output_size_rejects_bad_arguments(name, bad):
    if name == "padding" and bad in (0, "valid") and not isinstance(bad, bool):
        return  # valid
    if name != "padding" and bad == "full":
        bad = "3"
    kwargs = dict(zip(SIZE_ARGS, (8, 3, 1, 1, 1)))
    kwargs[name] = bad
    rejects(name, conv_output_size, **kwargs)


@given(stride=st.integers(2, 5), k=st.integers(1, 5))
def test_conv_output_size_rejects_same_padding_with_a_stride(stride, k):
    rejects("padding", conv_output_size, 9, k, stride, "same")


TRANSPOSE_ARGS = ["size", "kernel_size", "stride", "padding", "output_padding", "dilation"]


@given(name=st.sampled_from(TRANSPOSE_ARGS), bad=not_ints | st.integers(-3, 0))
def test_conv_transpose_output_size_rejects_bad_arguments(name, bad):
    if name in ("padding", "output_padding") and bad == 0 and not isinstance(bad, bool):
        return  # valid
    kwargs = dict(zip(TRANSPOSE_ARGS, (4, 3, 2, 1, 0, 1)))
    kwargs[name] = bad
    rejects(name, conv_transpose_output_size, **kwargs)


COST_ARGS = ["in_channels", "out_channels", "kernel_size", "input_size", "stride", "padding", "dilation", "groups"]


@given(name=st.sampled_from(COST_ARGS), bad=not_ints | st.integers(-3, 0), kind=st.sampled_from(KINDS))
def test_conv_cost_rejects_bad_integers(name, bad, kind):
    if name == "padding" and bad == 0 and not isinstance(bad, bool):
        return  # valid
    kwargs = dict(zip(COST_ARGS, (4, 8, 3, 6, 1, 1, 2 if kind == "dilated" else 1, 1)))
    kwargs[name] = bad
    rejects(name, conv_cost, kind, **kwargs)


@given(
    bad=st.text(max_size=12).filter(lambda s: s not in KINDS)
    | st.sampled_from([None, 3, ("standard",), "Standard", "depthwise separable"])
)
def test_conv_cost_rejects_unknown_kinds(bad):
    rejects("kind", conv_cost, bad, 4, 8, 3, 6)


@given(
    bad=st.sampled_from([None, 1, 0, "True", 1.0]),
    input_size=st.integers(0, 3).filter(lambda m: m != 2).map(lambda m: (4,) * m) | st.just((4, True)),
)
def test_conv_cost_rejects_bad_bias_and_input_size(bad, input_size):
    rejects("bias", conv_cost, "standard", 4, 8, 3, 6, bias=bad)
    rejects("input_size", conv_cost, "standard", 4, 8, 3, input_size)


@given(c_in=st.integers(1, 8), c_out=st.integers(1, 8), g=st.integers(2, 5), kind=st.sampled_from(KINDS))
def test_conv_cost_rejects_inconsistent_channels_groups_and_dilation(c_in, c_out, g, kind):
    if kind != "grouped":
        rejects("groups", conv_cost, kind, c_in, c_out, 1, 4, groups=g)  # groups is for "grouped" only
    elif c_in % g or c_out % g:
        rejects("groups", conv_cost, kind, c_in, c_out, 1, 4, groups=g)
    if c_out % c_in:
        rejects("out_channels", conv_cost, "depthwise", c_in, c_out, 1, 4)
    rejects("dilation", conv_cost, "dilated", c_in, c_out, 1, 4, dilation=1)


@given(kind=st.sampled_from([k for k in KINDS if k not in ("pointwise", "transposed")]), k=st.integers(6, 9))
def test_conv_cost_rejects_a_kernel_larger_than_the_padded_input(kind, k):
    c_out = 4 if kind == "depthwise" else 8
    rejects("kernel_size", conv_cost, kind, 4, c_out, k, 5, dilation=2 if kind == "dilated" else 1)


@given(p=st.integers(4, 9))
def test_conv_cost_rejects_an_empty_transposed_output(p):
    rejects("padding", conv_cost, "transposed", 4, 8, 3, 2, padding=p)


not_sequences = st.sampled_from([3, None, "33", b"33", {3, 5}, {3: 1}, 3.0, iter([3, 3])])


@given(
    which=st.sampled_from(["kernel_sizes", "strides", "dilations"]),
    bad=not_sequences
    | st.lists(st.integers(-2, 0), min_size=2, max_size=2)
    | st.lists(not_ints.filter(lambda v: v != [3]), min_size=2, max_size=2)
    | st.integers(0, 5).filter(lambda m: m != 2).map(lambda m: [1] * m),
)
def test_receptive_field_rejects_bad_layers(which, bad):
    if which == "kernel_sizes" and isinstance(bad, list) and len(bad) not in (0, 2):
        return  # a different number of layers is valid for kernel_sizes itself
    if which != "kernel_sizes" and bad is None:
        return  # the default: all 1
    kwargs = {"kernel_sizes": [3, 3], which: bad}
    rejects(which, receptive_field, **kwargs)
