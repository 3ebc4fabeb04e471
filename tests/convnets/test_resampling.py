"""nnfaq.resampling against PyTorch (forward and gradient, float64) and its claims."""

import itertools

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from nnfaq.resampling import avg_pool2d, conv_transpose2d, max_pool2d, pool_output_size

D = torch.float64


def _parity(ours_fn, ref_fn, tensors, **kwargs):
    """Forward and gradients of every tensor argument, ours against ref, on one random upstream gradient."""
    leaves = [None if t is None else t.clone().requires_grad_() for t in tensors]
    twins = [None if t is None else t.clone().requires_grad_() for t in tensors]
    ours, ref = ours_fn(*leaves, **kwargs), ref_fn(*twins, **kwargs)
    assert_close(ours, ref)
    g = torch.randn_like(ref)
    ours.backward(g)
    ref.backward(g)
    for a, r in zip(leaves, twins):
        if a is not None:
            assert_close(a.grad, r.grad)


# --- transposed convolution -----------------------------------------------------------------------


def _valid_output_padding(stride, output_padding, dilation):
    strides = (stride, stride) if isinstance(stride, int) else stride
    return all(output_padding < max(s, dilation) for s in strides)


GRID_T = [
    case
    for case in itertools.product([1, 2, (3, 2)], [0, 1], [0, 1], [1, 2], [1, 2], [(3, 3), (2, 4)])
    if _valid_output_padding(case[0], case[2], case[3])
]


@pytest.mark.parametrize(("stride", "padding", "output_padding", "dilation", "groups", "kernel"), GRID_T)
def test_conv_transpose2d_matches_torch_forward_and_gradient(stride, padding, output_padding, dilation, groups, kernel):
    x = torch.randn(2, 4, 5, 6, dtype=D)
    w = torch.randn(4, 6 // groups, *kernel, dtype=D)
    b = torch.randn(6, dtype=D) if groups == 1 else None
    kwargs = dict(stride=stride, padding=padding, output_padding=output_padding, groups=groups, dilation=dilation)
    _parity(conv_transpose2d, F.conv_transpose2d, (x, w, b), **kwargs)


def test_conv_transpose2d_unbatched():
    x, w = torch.randn(3, 4, 4, dtype=D), torch.randn(3, 2, 3, 3, dtype=D)
    assert_close(conv_transpose2d(x, w, stride=2), F.conv_transpose2d(x, w, stride=2))


@pytest.mark.parametrize(("stride", "padding", "dilation", "groups"), [(1, 0, 1, 1), (2, 1, 1, 1), (3, 2, 2, 2)])
def test_transposed_convolution_is_the_adjoint_and_the_gradient_of_convolution(stride, padding, dilation, groups):
    w = torch.randn(4, 6 // groups, 3, 3, dtype=D)  # conv2d: 6 -> 4 channels; its transpose: 4 -> 6
    z = torch.randn(2, 6, 13, 13, dtype=D, requires_grad=True)
    y_shape = F.conv2d(z, w, stride=stride, padding=padding, dilation=dilation, groups=groups).shape
    out_pad = 13 - ((y_shape[-1] - 1) * stride - 2 * padding + dilation * 2 + 1)  # recover the lost rows
    y = torch.randn(y_shape, dtype=D)
    args = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    conv_y = (F.conv2d(z, w, **args) * y).sum()
    transposed = conv_transpose2d(y, w, output_padding=out_pad, **args)
    assert_close(conv_y, (z * transposed).sum())
    (grad,) = torch.autograd.grad(conv_y, z)
    assert_close(grad, transposed)


def test_transposed_convolution_is_not_the_inverse():
    x, k = torch.randn(1, 1, 8, 8, dtype=D), torch.randn(1, 1, 3, 3, dtype=D)
    back = conv_transpose2d(F.conv2d(x, k), k)
    assert back.shape == x.shape
    assert not torch.allclose(back, x, atol=1e-3)


def test_stride_two_transposed_convolution_of_a_constant_has_a_checkerboard():
    ones, w = torch.ones(1, 1, 6, 6, dtype=D), torch.ones(1, 1, 3, 3, dtype=D)
    inner = conv_transpose2d(ones, w, stride=2)[0, 0, 2:-2, 2:-2]
    assert set(inner.unique().tolist()) == {1.0, 2.0, 4.0}  # uneven overlap, not a constant
    assert conv_transpose2d(ones, torch.ones(1, 1, 4, 4, dtype=D), stride=2)[0, 0, 3:-3, 3:-3].unique().tolist() == [
        4.0
    ]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"output_padding": 2, "stride": 2}, ValueError, "output_padding must be smaller than stride or dilation"),
        ({"padding": 5}, ValueError, "padding .* is too large"),
        ({"groups": 3}, ValueError, "groups must divide the input channels"),
        ({"stride": 0}, ValueError, "stride must be >= 1"),
    ],
)
def test_conv_transpose2d_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        conv_transpose2d(torch.randn(1, 4, 3, 3), torch.randn(4, 2, 3, 3), **kwargs)


def test_conv_transpose2d_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"weight must have shape \(C = 4"):
        conv_transpose2d(torch.randn(1, 4, 3, 3), torch.randn(3, 2, 3, 3))
    with pytest.raises(ValueError, match="input must have 3 or 4 dimensions"):
        conv_transpose2d(torch.randn(4, 3), torch.randn(4, 2, 3, 3))
    with pytest.raises(ValueError, match=r"bias must have shape \(2,\)"):
        conv_transpose2d(torch.randn(1, 4, 3, 3), torch.randn(4, 2, 3, 3), torch.randn(4))
    with pytest.raises(TypeError, match="weight must have the dtype of input"):
        conv_transpose2d(torch.randn(1, 4, 3, 3), torch.randn(4, 2, 3, 3, dtype=D))


# --- pooling --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kernel", "stride", "padding", "dilation", "ceil_mode"),
    [c for c in itertools.product([2, 3, (3, 2)], [None, 1, 2], [0, 1], [1, 2], [False, True])],
)
def test_max_pool2d_matches_torch_forward_and_gradient(kernel, stride, padding, dilation, ceil_mode):
    x = torch.randn(2, 3, 9, 10, dtype=D)
    args = dict(kernel_size=kernel, stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode)
    _parity(max_pool2d, F.max_pool2d, (x,), **args)


@pytest.mark.parametrize(
    ("kernel", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"),
    list(itertools.product([2, 3, (3, 2)], [None, 2], [0, 1], [False, True], [True, False], [None, 3])),
)
def test_avg_pool2d_matches_torch_forward_and_gradient(
    kernel, stride, padding, ceil_mode, count_include_pad, divisor_override
):
    x = torch.randn(2, 3, 9, 10, dtype=D)
    args = dict(
        kernel_size=kernel,
        stride=stride,
        padding=padding,
        ceil_mode=ceil_mode,
        count_include_pad=count_include_pad,
        divisor_override=divisor_override,
    )
    _parity(avg_pool2d, F.avg_pool2d, (x,), **args)


def test_pool_output_size_matches_torch_shapes_over_a_grid():
    grid = itertools.product(range(3, 12), [1, 2, 3, 4], [None, 1, 2, 3], [0, 1, 2], [1, 2], [False, True])
    checked = 0
    for size, kernel, stride, padding, dilation, ceil_mode in grid:
        if padding > kernel // 2 or size + 2 * padding < dilation * (kernel - 1) + 1:
            with pytest.raises(ValueError, match="padding|kernel_size"):
                pool_output_size(size, kernel, stride, padding, dilation, ceil_mode)
            continue
        x = torch.zeros(1, 1, size, size)
        args = dict(kernel_size=kernel, stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode)
        expected = F.max_pool2d(x, **args).shape[-1]
        assert pool_output_size(size, kernel, stride, padding, dilation, ceil_mode) == expected, args
        assert max_pool2d(x, **args).shape[-1] == expected, args
        checked += 1
    assert checked > 1000


def test_pooling_has_no_parameters_and_max_gradient_goes_to_the_maximum():
    for layer in (torch.nn.MaxPool2d(2), torch.nn.AvgPool2d(3), torch.nn.AdaptiveAvgPool2d(1)):
        assert sum(p.numel() for p in layer.parameters()) == 0
    x = torch.randn(1, 2, 6, 6, dtype=D, requires_grad=True)
    max_pool2d(x, 2).sum().backward()
    assert x.grad.sum().item() == 2 * 9  # one unit of gradient per window
    windows = x.grad.unfold(2, 2, 2).unfold(3, 2, 2).flatten(-2)
    assert bool(((windows == 1).sum(-1) == 1).all())  # exactly one element per window receives it
    values = x.detach().unfold(2, 2, 2).unfold(3, 2, 2).flatten(-2)
    assert_close(values.gather(-1, windows.argmax(-1, keepdim=True)).squeeze(-1), values.amax(-1))


def test_average_pooling_is_a_depthwise_convolution_and_global_pooling_is_the_mean():
    x = torch.randn(2, 3, 8, 8, dtype=D)
    assert_close(avg_pool2d(x, 2), F.conv2d(x, torch.full((3, 1, 2, 2), 0.25, dtype=D), stride=2, groups=3))
    assert_close(avg_pool2d(x, 8).flatten(1), x.mean((2, 3)))


def test_max_pooling_is_insensitive_to_shifts_inside_a_window():
    x = torch.zeros(1, 1, 4, 4)
    x[0, 0, 0, 0] = 1.0
    moved = torch.roll(x, (1, 1), (2, 3))  # the peak stays in the same 2x2 window
    assert torch.equal(max_pool2d(x, 2), max_pool2d(moved, 2))


@pytest.mark.parametrize(
    ("fn", "kwargs", "error", "match"),
    [
        (max_pool2d, {"kernel_size": 3, "padding": 2}, ValueError, "padding must be at most half of kernel_size"),
        (avg_pool2d, {"kernel_size": 2, "padding": 2}, ValueError, "padding must be at most half of kernel_size"),
        (max_pool2d, {"kernel_size": 9}, ValueError, "kernel_size must fit in the padded input"),
        (max_pool2d, {"kernel_size": 0}, ValueError, "kernel_size must be >= 1"),
        (max_pool2d, {"kernel_size": 2, "ceil_mode": 1}, TypeError, "ceil_mode must be True or False"),
        (avg_pool2d, {"kernel_size": 2, "divisor_override": 0}, ValueError, "divisor_override must be >= 1"),
        (
            avg_pool2d,
            {"kernel_size": 2, "count_include_pad": None},
            TypeError,
            "count_include_pad must be True or False",
        ),
    ],
)
def test_pooling_rejects_bad_arguments(fn, kwargs, error, match):
    with pytest.raises(error, match=match):
        fn(torch.randn(1, 2, 5, 5), **kwargs)


def test_pooling_rejects_wrong_rank():
    with pytest.raises(ValueError, match="input must have 3 or 4 dimensions"):
        max_pool2d(torch.randn(5, 5), 2)
    with pytest.raises(ValueError, match="padding must be at most half of kernel_size"):
        pool_output_size(8, 2, padding=2)
