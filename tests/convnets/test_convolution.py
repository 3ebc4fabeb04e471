"""nnfaq.convolution against PyTorch (forward and gradient, float64) and its claims."""

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from nnfaq.convolution import commutes_with_shift, conv1d, conv2d, conv3d

D = torch.float64


def _parity(ours_fn, ref_fn, x, w, b, **kwargs):
    """Forward and gradients (input, weight, bias) of ours and ref on the same random upstream gradient."""
    leaves = [t.clone().requires_grad_() for t in (x, w, b) if t is not None]
    twins = [t.clone().requires_grad_() for t in (x, w, b) if t is not None]
    ours = ours_fn(*leaves, *([None] if b is None else []), **kwargs)
    ref = ref_fn(*twins, *([None] if b is None else []), **kwargs)
    assert_close(ours, ref)
    g = torch.randn_like(ref)
    ours.backward(g)
    ref.backward(g)
    for a, r in zip(leaves, twins):
        assert_close(a.grad, r.grad)


GRID_2D = [
    (stride, padding, dilation, groups, kernel, groups == 1)
    for stride, padding, dilation, groups, kernel in itertools.product(
        [1, (2, 1)], [0, (2, 1), "same", "valid"], [1, (1, 2)], [1, 2], [(3, 3), (2, 3), (1, 1)]
    )
    if not (padding == "same" and stride != 1)
]


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize(("stride", "padding", "dilation", "groups", "kernel", "bias"), GRID_2D)
def test_conv2d_matches_torch_forward_and_gradient(stride, padding, dilation, groups, kernel, bias):
    x = torch.randn(2, 4, 9, 8, dtype=D)
    w = torch.randn(6, 4 // groups, *kernel, dtype=D)
    b = torch.randn(6, dtype=D) if bias else None
    _parity(conv2d, F.conv2d, x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize(
    ("stride", "padding", "dilation", "groups", "kernel"),
    [
        c
        for c in itertools.product([1, 3], [0, 2, "same"], [1, 2], [1, 3], [2, 5])
        if not (c[1] == "same" and c[0] != 1)
    ],
)
def test_conv1d_matches_torch_forward_and_gradient(stride, padding, dilation, groups, kernel):
    x = torch.randn(2, 6, 17, dtype=D)
    w = torch.randn(3, 6 // groups, kernel, dtype=D)
    _parity(
        conv1d,
        F.conv1d,
        x,
        w,
        torch.randn(3, dtype=D),
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
    )


@pytest.mark.parametrize(
    ("stride", "padding", "dilation", "groups"),
    [(1, 0, 1, 1), (2, 1, 1, 2), ((1, 2, 2), (0, 1, 1), 1, 1), (1, "same", 2, 2), (1, 1, (2, 1, 1), 1)],
)
def test_conv3d_matches_torch_forward_and_gradient(stride, padding, dilation, groups):
    x = torch.randn(2, 4, 6, 7, 7, dtype=D)
    w = torch.randn(4, 4 // groups, 3, 3, 3, dtype=D)
    _parity(
        conv3d,
        F.conv3d,
        x,
        w,
        torch.randn(4, dtype=D),
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
    )


def test_unbatched_input_matches_torch():
    x, w = torch.randn(3, 10, 10, dtype=D), torch.randn(5, 3, 3, 3, dtype=D)
    assert_close(conv2d(x, w, padding=1), F.conv2d(x, w, padding=1))
    assert conv1d(torch.randn(3, 10, dtype=D), torch.randn(2, 3, 3, dtype=D)).shape == (2, 8)


def test_gradcheck_with_groups_and_dilation():
    x = torch.randn(1, 4, 7, 7, dtype=D, requires_grad=True)
    w = torch.randn(4, 2, 3, 3, dtype=D, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: conv2d(a, b, stride=2, padding=2, dilation=2, groups=2), (x, w))


# --- claims ---------------------------------------------------------------------------------------


def test_output_sizes_28_to_24_and_same():
    x, w = torch.randn(1, 1, 28, 28), torch.randn(8, 1, 5, 5)
    assert conv2d(x, w).shape == (1, 8, 24, 24)
    assert conv2d(x, w, padding="same").shape == (1, 8, 28, 28)
    assert conv2d(x, w, padding=2).shape == (1, 8, 28, 28)


def test_one_by_one_convolution_is_a_per_pixel_linear_layer():
    x = torch.randn(3, 5, 6, 7, dtype=D)
    linear = torch.nn.Linear(5, 4, dtype=D)
    ours = conv2d(x, linear.weight[:, :, None, None], linear.bias)
    ref = linear(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
    assert_close(ours, ref)
    # and each output pixel depends on its own input pixel only
    x.requires_grad_()
    conv2d(x, linear.weight[:, :, None, None])[0, :, 2, 3].sum().backward()
    assert x.grad[0].abs().sum(0).nonzero().tolist() == [[2, 3]]


def test_im2col_matrix_product():
    x, w = torch.randn(2, 3, 8, 8, dtype=D), torch.randn(4, 3, 3, 3, dtype=D)
    assert_close(conv2d(x, w, stride=2).flatten(2), w.flatten(1) @ F.unfold(x, 3, stride=2))


def test_cross_correlation_not_convolution():
    s, k = np.arange(10.0), np.array([1.0, -2.0, 4.0])
    ours = conv1d(torch.tensor(s)[None], torch.tensor(k)[None, None])[0].numpy()
    np.testing.assert_allclose(ours, np.correlate(s, k, "valid"))
    np.testing.assert_allclose(ours, np.convolve(s, k[::-1], "valid"))
    assert not np.allclose(ours, np.convolve(s, k, "valid"))


def test_conv3d_with_full_depth_kernel_is_conv2d_of_stacked_frames():
    video, w = torch.randn(2, 3, 5, 8, 8, dtype=D), torch.randn(4, 3, 5, 3, 3, dtype=D)
    assert_close(conv3d(video, w).squeeze(2), conv2d(video.flatten(1, 2), w.flatten(1, 2)))
    assert conv3d(video, w[:, :, :3]).shape == (2, 4, 3, 6, 6)  # a shorter kernel keeps a time axis


@pytest.mark.parametrize("shift", [(1, 0), (3, 5), (-2, 7)])
def test_circular_padding_makes_convolution_translation_equivariant(shift):
    x, w = torch.randn(1, 3, 12, 12, dtype=D), torch.randn(4, 3, 3, 3, dtype=D)

    def circular(t):
        return conv2d(F.pad(t, (1, 1, 1, 1), mode="circular"), w)

    def zero_padded(t):
        return conv2d(t, w, padding=1)

    assert commutes_with_shift(circular, x, shift)
    assert not commutes_with_shift(zero_padded, x, shift)
    # away from the borders zero padding is equivariant too
    moved, out = zero_padded(torch.roll(x, shift, (2, 3))), torch.roll(zero_padded(x), shift, (2, 3))
    inner = (slice(None), slice(None), slice(4, 8), slice(4, 8))
    if abs(shift[0]) <= 3 and abs(shift[1]) <= 3:
        assert_close(moved[inner], out[inner])


def test_strided_layer_is_equivariant_only_to_multiples_of_the_stride():
    x = torch.randn(1, 2, 12, 12, dtype=D)
    layer = torch.nn.Conv2d(2, 3, 3, stride=2, padding=1, padding_mode="circular", dtype=D)
    assert commutes_with_shift(layer, x, (2, 4), (1, 2))
    assert not commutes_with_shift(layer, x, (1, 1), (1, 1))


def test_dense_layer_is_not_equivariant_and_parameter_count_depends_on_image_size():
    x = torch.randn(1, 2, 6, 6, dtype=D)
    dense = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(72, 72, dtype=D), torch.nn.Unflatten(1, (2, 6, 6)))
    assert not commutes_with_shift(dense, x, (1, 2))
    conv_params = [sum(p.numel() for p in torch.nn.Conv2d(3, 8, 3).parameters()) for _ in (8, 16)]
    dense_params = [torch.nn.Linear(3 * n * n, 8 * n * n, bias=False, device="meta").weight.numel() for n in (8, 16)]
    assert conv_params[0] == conv_params[1] == 8 * 3 * 9 + 8
    assert dense_params[1] == 16 * dense_params[0]  # grows with the square of the pixel count


def test_commutes_with_shift_reports_a_shape_change():
    assert not commutes_with_shift(lambda t: t[..., :-1], torch.randn(1, 1, 4, 4), (1, 1))


# --- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "kwargs", "error", "match"),
    [
        ((2, 4, 8, 8), (6, 2, 3, 3), {"groups": 3}, ValueError, "groups must divide"),
        ((2, 4, 8, 8), (5, 2, 3, 3), {"groups": 2}, ValueError, "groups must divide"),
        ((2, 4, 8, 8), (6, 4, 3, 3), {"groups": 2}, ValueError, "weight must have shape"),
        ((1, 1, 4, 4), (1, 1, 7, 7), {"padding": 1}, ValueError, "weight must fit in the padded input"),
        ((1, 1, 5, 5), (1, 1, 3, 3), {"dilation": 3}, ValueError, "weight must fit in the padded input"),
        ((4, 8, 8), (6, 4, 3), {}, ValueError, "weight must have 4 dimensions"),
        ((8, 8), (6, 4, 3, 3), {}, ValueError, "input must have 3 or 4 dimensions"),
        ((1, 4, 8, 8), (6, 4, 3, 3), {"padding": "same", "stride": 2}, ValueError, "padding='same' needs stride=1"),
        ((1, 4, 8, 8), (6, 4, 3, 3), {"padding": "full"}, ValueError, "padding must be one of"),
        ((1, 4, 8, 8), (6, 4, 3, 3), {"padding": -1}, ValueError, "padding must be >= 0"),
        ((1, 4, 8, 8), (6, 4, 3, 3), {"stride": 0}, ValueError, "stride must be >= 1"),
        ((1, 4, 8, 8), (6, 4, 3, 3), {"stride": (1, 2, 3)}, ValueError, "stride must be an int or a tuple of 2"),
        ((1, 4, 8, 8), (6, 4, 3, 3), {"dilation": 1.5}, TypeError, "dilation must be an int"),
        ((1, 4, 8, 8), (6, 4, 3, 3), {"groups": 0}, ValueError, "groups must be >= 1"),
    ],
)
def test_conv2d_rejects_bad_arguments(x_shape, w_shape, kwargs, error, match):
    with pytest.raises(error, match=match):
        conv2d(torch.randn(x_shape), torch.randn(w_shape), **kwargs)


def test_conv_rejects_bad_bias_dtype_and_rank():
    x, w = torch.randn(1, 4, 8, 8), torch.randn(6, 4, 3, 3)
    with pytest.raises(ValueError, match=r"bias must have shape \(6,\)"):
        conv2d(x, w, torch.randn(4))
    with pytest.raises(TypeError, match="weight must have the dtype of input"):
        conv2d(x, w.double())
    with pytest.raises(TypeError, match="input must be a floating-point tensor"):
        conv2d(torch.ones(1, 4, 8, 8, dtype=torch.int64), w)
    with pytest.raises(ValueError, match="input must have 2 or 3 dimensions"):
        conv1d(x, torch.randn(6, 4, 3))
    with pytest.raises(ValueError, match="weight must have 5 dimensions"):
        conv3d(torch.randn(1, 4, 5, 5, 5), w)


def test_commutes_with_shift_rejects_bad_arguments():
    with pytest.raises(TypeError, match="layer must be callable"):
        commutes_with_shift(3, torch.randn(1, 1, 4, 4))
    with pytest.raises(ValueError, match="input must have 4 dimensions"):
        commutes_with_shift(torch.nn.Identity(), torch.randn(1, 4, 4))
    with pytest.raises(ValueError, match="shift must be an int or a tuple of 2 ints"):
        commutes_with_shift(torch.nn.Identity(), torch.randn(1, 1, 4, 4), (1, 2, 3))
