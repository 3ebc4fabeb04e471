"""nnfaq.convnets.convolution: parity with PyTorch (forward and gradient of input, weight and bias, float64, on
PyTorch's own OpInfo samples and on hypothesis-drawn cases), the claims of its answers, and the refusals only it
makes (the shared ones are rows of tests/convnets/contract.py)."""

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import agree as _agree
from helpers import gen, opinfo_samples, rejects, seeds
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.testing import assert_close

from nnfaq.convnets.convolution import commutes_with_shift, conv1d, conv2d, conv3d

F64 = torch.float64
OURS = {1: conv1d, 2: conv2d, 3: conv3d}
REFS = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def agree(ours_fn, ref_fn, *args, seed=0, **kwargs):
    """:func:`helpers.agree`, without PyTorch's warning about padding="same" with an even kernel."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        _agree(ours_fn, ref_fn, *args, seed=seed, **kwargs)


def _per_dim(draw, n, values):
    vals = tuple(draw(values) for _ in range(n))
    return vals[0] if len(set(vals)) == 1 and draw(st.booleans()) else vals


@st.composite
def conv_case(draw, n):
    """Valid arguments of conv{n}d: the kernel fits the padded input; B may be 0 or absent (unbatched)."""
    groups = draw(st.integers(1, 3))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kernel = tuple(draw(st.integers(1, 4 if n < 3 else 3)) for _ in range(n))
    kind = draw(st.sampled_from(["int", "valid", "same"]))
    stride = _per_dim(draw, n, st.just(1) if kind == "same" else st.integers(1, 3))  # "same" needs stride 1
    dilation = _per_dim(draw, n, st.integers(1, 2))
    padding = _per_dim(draw, n, st.integers(0, 2)) if kind == "int" else kind
    dils = (dilation,) * n if isinstance(dilation, int) else dilation
    pads = (padding,) * n if isinstance(padding, int) else (0,) * n if isinstance(padding, str) else padding
    low = [1 if kind == "same" else max(1, d * (k - 1) + 1 - 2 * p) for k, d, p in zip(kernel, dils, pads)]
    size = tuple(draw(st.integers(lo, lo + (3 if n < 3 else 2))) for lo in low)
    batch = draw(st.sampled_from([None, 0, 1, 2]))
    seed = draw(seeds)
    g = gen(seed)
    x = torch.randn(*(() if batch is None else (batch,)), c_in, *size, generator=g, dtype=F64)
    w = torch.randn(c_out, c_in // groups, *kernel, generator=g, dtype=F64)
    b = torch.randn(c_out, generator=g, dtype=F64) if draw(st.booleans()) else None
    return x, w, b, dict(stride=stride, padding=padding, dilation=dilation, groups=groups), seed


# --- parity ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 3])
def test_conv_matches_torch_on_its_opinfo_samples(n):
    for i, s in enumerate(opinfo_samples(f"nn.functional.conv{n}d")):
        agree(OURS[n], REFS[n], s.input, *s.args, seed=i, **s.kwargs)


@pytest.mark.parametrize("n", [1, 2, 3])
@settings(max_examples=10)
@given(data=st.data())
def test_conv_matches_torch(n, data):
    x, w, b, kwargs, seed = data.draw(conv_case(n))
    agree(OURS[n], REFS[n], x, w, b, seed=seed, **kwargs)


def test_gradcheck_with_groups_and_dilation():
    x = torch.randn(1, 4, 6, 6, dtype=F64, requires_grad=True)
    w = torch.randn(4, 2, 3, 3, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: conv2d(a, b, stride=2, padding=2, dilation=2, groups=2), (x, w))


# --- claims ----------------------------------------------------------------------------------------


@settings(max_examples=12)
@given(conv_case(2))
def test_conv2d_is_linear_in_input_and_weight(case):
    x, w, _, kwargs, seed = case
    g = gen(seed + 2)
    x2, w2 = torch.randn(x.shape, generator=g, dtype=F64), torch.randn(w.shape, generator=g, dtype=F64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        assert_close(conv2d(2 * x - x2, w, **kwargs), 2 * conv2d(x, w, **kwargs) - conv2d(x2, w, **kwargs))
        assert_close(conv2d(x, w + 3 * w2, **kwargs), conv2d(x, w, **kwargs) + 3 * conv2d(x, w2, **kwargs))


def test_conv2d_is_one_matrix_product_of_the_im2col_matrix_and_sizes_follow_the_formula():
    x, w = torch.randn(2, 3, 8, 8, dtype=F64), torch.randn(4, 3, 3, 3, dtype=F64)
    assert_close(conv2d(x, w, stride=2).flatten(2), w.flatten(1) @ F.unfold(x, 3, stride=2))
    img, k5 = torch.randn(1, 1, 28, 28), torch.randn(8, 1, 5, 5)
    assert [conv2d(img, k5, padding=p).shape[-1] for p in (0, 2, "same")] == [24, 28, 28]


def test_one_by_one_convolution_is_a_per_pixel_linear_layer():
    x = torch.randn(3, 5, 6, 7, dtype=F64, requires_grad=True)
    linear = torch.nn.Linear(5, 4, dtype=F64)
    ours = conv2d(x, linear.weight[:, :, None, None], linear.bias)
    assert_close(ours, linear(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2))
    ours[0, :, 2, 3].sum().backward()
    assert x.grad[0].abs().sum(0).nonzero().tolist() == [[2, 3]]  # each output pixel reads its own pixel only


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_cnn_layer_is_a_cross_correlation_not_a_convolution(seed):
    rng = np.random.default_rng(seed)
    s, k = rng.normal(size=12), rng.normal(size=3)  # an asymmetric kernel
    ours = conv1d(torch.tensor(s)[None], torch.tensor(k)[None, None])[0].numpy()
    np.testing.assert_allclose(ours, np.correlate(s, k, "valid"))
    np.testing.assert_allclose(ours, np.convolve(s, k[::-1], "valid"))
    assert not np.allclose(ours, np.convolve(s, k, "valid"))


def test_conv3d_keeps_a_time_axis_and_a_full_depth_kernel_is_conv2d_of_stacked_frames():
    video, w = torch.randn(2, 3, 5, 8, 8, dtype=F64), torch.randn(4, 3, 5, 3, 3, dtype=F64)
    assert_close(conv3d(video, w).squeeze(2), conv2d(video.flatten(1, 2), w.flatten(1, 2)))
    assert conv3d(video, w[:, :, :3]).shape == (2, 4, 3, 6, 6)
    weights = [sum(p.numel() for p in m(3, 4, 3, bias=False).parameters()) for m in (torch.nn.Conv3d, torch.nn.Conv2d)]
    assert weights[0] == 3 * weights[1]  # K times the weights of the 2-D kernel


@st.composite
def circular_case(draw):
    """A circularly padded convolution of stride s, an input whose size is a multiple of s, and a shift."""
    s, k = draw(st.integers(1, 2)), draw(st.sampled_from([1, 3]))
    h, wd = s * draw(st.integers(2, 4)), s * draw(st.integers(2, 4))
    g = gen(draw(seeds))
    x = torch.randn(draw(st.integers(1, 2)), 2, h, wd, generator=g, dtype=F64)
    w, b = torch.randn(3, 2, k, k, generator=g, dtype=F64), torch.randn(3, generator=g, dtype=F64)
    return x, w, b, s, (draw(st.integers(-3, 3)), draw(st.integers(-3, 3)))


@settings(max_examples=12)
@given(circular_case())
def test_circular_convolution_commutes_with_shifts_that_are_multiples_of_the_stride(case):
    x, w, b, s, (dh, dw) = case
    k = w.shape[-1]

    def layer(t):
        return conv2d(F.pad(t, [k // 2] * 4, mode="circular"), w, b, stride=s)

    assert commutes_with_shift(layer, x, (s * dh, s * dw), (dh, dw))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_zero_padding_strides_and_dense_layers_break_equivariance(seed):
    torch.manual_seed(seed)
    x = torch.randn(1, 2, 12, 12, dtype=F64)
    zero = torch.nn.Conv2d(2, 3, 3, padding=1, dtype=F64)
    strided = torch.nn.Conv2d(2, 3, 3, stride=2, padding=1, padding_mode="circular", dtype=F64)
    dense = torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(288, 288, dtype=F64), torch.nn.Unflatten(1, (2, 12, 12))
    )
    assert not commutes_with_shift(zero, x, (3, 5))
    assert commutes_with_shift(strided, x, (2, 4), (1, 2)) and not commutes_with_shift(strided, x, (1, 1), (1, 1))
    assert not commutes_with_shift(dense, x, (1, 2))
    # away from the borders the zero-padded layer is equivariant too
    moved, out = zero(torch.roll(x, (1, 2), (2, 3))), torch.roll(zero(x), (1, 2), (2, 3))
    assert_close(moved[..., 4:8, 4:8], out[..., 4:8, 4:8])


def test_weight_sharing_a_convolutions_parameter_count_is_independent_of_the_image():
    conv = sum(p.numel() for p in torch.nn.Conv2d(3, 8, 3).parameters())
    dense = [torch.nn.Linear(3 * n * n, 8 * n * n, bias=False, device="meta").weight.numel() for n in (8, 16)]
    assert conv == 8 * 3 * 9 + 8 and dense[1] == 16 * dense[0]


# --- bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "kwargs", "name"),
    [
        ((2, 4, 8, 8), (6, 2, 3, 3), {"groups": 3}, "groups"),
        ((2, 4, 8, 8), (5, 2, 3, 3), {"groups": 2}, "groups"),
        ((2, 4, 8, 8), (6, 4, 3, 3), {"groups": 2}, "weight"),
        ((1, 1, 4, 4), (1, 1, 7, 7), {"padding": 1}, "weight"),
        ((1, 1, 5, 5), (1, 1, 3, 3), {"dilation": 3}, "weight"),
        ((4, 8, 8), (6, 4, 3), {}, "weight"),
        ((8, 8), (6, 4, 3, 3), {}, "input"),
        ((1, 4, 8, 8), (6, 4, 3, 3), {"padding": "same", "stride": 2}, "padding"),
        ((1, 4, 8, 8), (6, 4, 3, 3), {"stride": (1, 2, 3)}, "stride"),
        ((1, 0, 8, 8), (6, 0, 3, 3), {}, "weight"),
        ((1, 4, 0, 8), (6, 4, 1, 1), {}, "input"),
    ],
)
def test_conv2d_refuses_inconsistent_shapes(x_shape, w_shape, kwargs, name):
    rejects(name, conv2d, torch.randn(x_shape), torch.randn(w_shape), **kwargs)


def test_conv_refuses_a_bias_of_the_wrong_size_or_dtype_and_mixed_dtypes():
    x, w = torch.randn(1, 4, 8, 8), torch.randn(6, 4, 3, 3)
    rejects("bias", conv2d, x, w, torch.randn(4))
    rejects("bias", conv2d, x, w, torch.randn(6, dtype=F64))
    rejects("weight", conv2d, x, w.double())
    rejects("input", conv1d, x, torch.randn(6, 4, 3))
    rejects("weight", conv3d, torch.randn(1, 4, 5, 5, 5), w)


def test_an_empty_batch_is_valid_as_in_torch():
    x, w = torch.randn(0, 2, 5, 5), torch.randn(3, 2, 3, 3)
    assert conv2d(x, w, padding=1).shape == F.conv2d(x, w, padding=1).shape == (0, 3, 5, 5)


@pytest.mark.parametrize("out", [lambda t: 3, lambda t: t.sum((2, 3)), lambda t: t[0], lambda t: t[None]])
def test_commutes_with_shift_refuses_a_layer_that_does_not_return_a_feature_map(out):
    rejects("layer", commutes_with_shift, out, torch.ones(1, 1, 4, 4))
    rejects("layer", commutes_with_shift, 3, torch.ones(1, 1, 4, 4))
    rejects("output_shift", commutes_with_shift, torch.nn.Identity(), torch.ones(1, 1, 4, 4), output_shift=(1, 0.5))
