"""nnfaq.convnets.segmentation: 1x1 convolutions equal linear layers, head shapes and upsampling, refusals."""

import pytest
import torch
import torch.nn.functional as F
from helpers import gen, rejects
from hypothesis import given
from hypothesis import strategies as st
from torch.testing import assert_close

from nnfaq.convnets.segmentation import conv_from_linear, fcn_head

F64 = torch.float64


@given(
    C=st.integers(1, 6),
    K=st.integers(1, 5),
    h=st.integers(1, 5),
    w=st.integers(1, 5),
    bias=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_conv_from_linear_is_the_linear_layer_at_every_position(C, K, h, w, bias, seed):
    torch.manual_seed(seed)
    fc = torch.nn.Linear(C, K, bias=bias, dtype=F64)
    conv = conv_from_linear(fc)
    assert conv.weight.shape == (K, C, 1, 1) and (conv.bias is None) == (not bias)
    x = torch.randn(2, C, h, w, generator=gen(seed), dtype=F64)
    assert_close(conv(x), fc(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2))
    # a copy: training the conv does not move the linear layer
    with torch.no_grad():
        conv.weight.add_(1.0)
    assert not torch.allclose(conv.weight[:, :, 0, 0], fc.weight)


@given(
    B=st.integers(1, 2),
    C=st.integers(1, 4),
    K=st.integers(1, 4),
    h=st.integers(1, 4),
    w=st.integers(1, 4),
    H=st.integers(1, 40),
    W=st.integers(1, 40),
    four_d=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_fcn_head_matches_conv_then_interpolate(B, C, K, h, w, H, W, four_d, seed):
    feats = torch.randn(B, C, h, w, generator=gen(seed), dtype=F64, requires_grad=True)
    weight = torch.randn(K, C, generator=gen(seed + 1), dtype=F64)
    bias = torch.randn(K, generator=gen(seed + 2), dtype=F64)
    wt = weight[:, :, None, None] if four_d else weight
    ours = fcn_head(feats, wt, bias, size=(H, W))
    ref = F.interpolate(F.conv2d(feats, weight[:, :, None, None], bias), size=(H, W), mode="bilinear")
    assert ours.shape == (B, K, H, W)
    assert_close(ours, ref)
    (g1,) = torch.autograd.grad(ours.sum(), feats)
    (g2,) = torch.autograd.grad(ref.sum(), feats)
    assert_close(g1, g2)


def test_stride_32_backbone_gives_a_coarse_map_and_the_head_a_per_pixel_one():
    torch.manual_seed(0)
    layers = []
    for i in range(5):
        layers += [torch.nn.Conv2d(3 if i == 0 else 4, 4, 3, stride=2, padding=1), torch.nn.ReLU()]
    backbone = torch.nn.Sequential(*layers)
    for size in (32, 64, 224):
        feats = backbone(torch.randn(1, 3, size, size))
        assert feats.shape[-2:] == (size // 32, size // 32)
        assert fcn_head(feats, torch.randn(3, 4), size=(size, size)).shape == (1, 3, size, size)


@pytest.mark.parametrize("coarse", [(1, 1), (2, 2), (3, 4)])
def test_upsampled_predictions_span_only_the_coarse_dimension(coarse):
    n = coarse[0] * coarse[1]
    basis = torch.eye(n, dtype=F64).reshape(n, 1, *coarse)
    maps = F.interpolate(basis, size=(48, 48), mode="bilinear").reshape(n, -1)
    assert int(torch.linalg.matrix_rank(maps)) == n


@pytest.mark.parametrize("seed", range(3))
def test_bilinear_upsampling_is_a_fixed_transposed_convolution(seed):
    s = torch.randn(2, 3, 4, 6, generator=gen(seed), dtype=F64)
    k = torch.tensor([1.0, 3.0, 3.0, 1.0], dtype=F64) / 4
    kernel = torch.outer(k, k).expand(3, 1, 4, 4)
    up = F.conv_transpose2d(F.pad(s, (1, 1, 1, 1), mode="replicate"), kernel, stride=2, padding=3, groups=3)
    assert_close(up, F.interpolate(s, scale_factor=2, mode="bilinear"))


@pytest.mark.parametrize(
    ("fn", "name"),
    [
        (lambda: conv_from_linear(torch.nn.Conv2d(2, 2, 1)), "linear"),
        (lambda: fcn_head(torch.randn(1, 4, 2, 2), torch.randn(3, 5)), "weight"),
        (lambda: fcn_head(torch.randn(1, 4, 2, 2), torch.randn(3, 4, 3, 3)), "weight"),
        (lambda: fcn_head(torch.randn(4, 2, 2), torch.randn(3, 4)), "features"),
        (lambda: fcn_head(torch.randn(1, 4, 2, 2), torch.randn(3, 4), torch.randn(4)), "bias"),
        (lambda: fcn_head(torch.randn(1, 4, 2, 2), torch.randn(3, 4), size=(0, 4)), "size"),
        (lambda: fcn_head(torch.randn(1, 4, 2, 2), torch.randn(3, 4, dtype=F64)), "weight"),
    ],
)
def test_rejects_bad_arguments(fn, name):
    rejects(name, fn)
