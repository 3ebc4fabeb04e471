"""Segmentation heads

From one label per image to one label per pixel: a classifier's fully connected layer is a 1x1
convolution, so the network becomes fully convolutional, and an FCN-style head upsamples its
coarse score map back to the input's resolution. Shapes and identities are proven with random
weights; no pretrained model is needed.
"""

from __future__ import annotations

import torch

from nnfaq import _validate as check
from nnfaq._registry import question

__all__ = ["conv_from_linear", "fcn_head"]


@question(
    "fully-convolutional-network",
    level="intermediate",
    short=(
        "A fully connected layer applied at each position is a 1x1 convolution with the same weights, reshaped "
        "to (out, in, 1, 1). Replacing it, and dropping the global pooling, turns a classifier into a fully "
        "convolutional network: it accepts any input size and outputs a map of class scores, one per location, "
        "whose average is the original classifier's output."
    ),
    followups=("segmentation-head", "global-average-pooling", "why-convolutions"),
)
def conv_from_linear(linear: torch.nn.Linear) -> torch.nn.Conv2d:
    r"""The 1x1 convolution that applies ``linear`` at every spatial position, with its weights copied.

    **How do you turn a classifier into a fully convolutional network, and what does it output?**

    A fully connected layer on a ``C``-feature vector, applied at every spatial position of a
    ``(B, C, H, W)`` map, is a 1x1 convolution whose kernel is the layer's weight reshaped to
    ``(K, C, 1, 1)``. Replacing the classifier's last layer this way and removing the global
    pooling in front of it gives a fully convolutional network (Long et al.): it accepts inputs of
    any size and outputs a map of class scores, one per location of the last feature map. When the
    classifier pooled by averaging, the average of that score map is exactly the classifier's
    output (a linear layer commutes with averaging). The map is coarse, one score per receptive
    field at the backbone's total stride (often 32), which is why segmentation needs an
    upsampling head as well.

    .. math::

        y_{k,h,w} = \sum_c W_{kc}\,x_{c,h,w} + b_k \quad\text{(a 1x1 convolution with kernel } W_{kc11}\text{)}

    Parameters
    ----------
    linear : torch.nn.Linear
        ``C`` inputs, ``K`` outputs.

    Returns
    -------
    torch.nn.Conv2d
        ``Conv2d(C, K, kernel_size=1)`` with the same weights (copies) and bias, dtype and device.

    See Also
    --------
    torch.nn.Conv2d, fcn_head

    References
    ----------
    .. [1] J. Long, E. Shelhamer and T. Darrell, "Fully Convolutional Networks for Semantic
       Segmentation", CVPR 2015.

    Examples
    --------
    The 1x1 convolution is the linear layer at every position:

    >>> _ = torch.manual_seed(0)
    >>> fc = nn.Linear(16, 5, dtype=torch.float64)
    >>> conv = conv_from_linear(fc)
    >>> feats = torch.randn(2, 16, 7, 9, dtype=torch.float64)
    >>> torch.allclose(conv(feats), fc(feats.permute(0, 2, 3, 1)).permute(0, 3, 1, 2))
    True

    A classifier with global average pooling, made fully convolutional, accepts a larger image and
    outputs a score map whose average is the classifier's logits:

    >>> backbone = nn.Sequential(nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.ReLU(),
    ...                          nn.Conv2d(16, 16, 3, stride=2, padding=1), nn.ReLU()).double()
    >>> classifier = nn.Sequential(backbone, nn.AdaptiveAvgPool2d(1), nn.Flatten(), fc)
    >>> fcn = nn.Sequential(backbone, conv)
    >>> img = torch.randn(1, 3, 64, 96, dtype=torch.float64)
    >>> classifier(img).shape, fcn(img).shape
    (torch.Size([1, 5]), torch.Size([1, 5, 16, 24]))
    >>> torch.allclose(fcn(img).mean(dim=(2, 3)), classifier(img))
    True
    """
    if not isinstance(linear, torch.nn.Linear):
        raise TypeError(f"linear must be a torch.nn.Linear, got {type(linear).__name__}")
    W = linear.weight
    conv = torch.nn.Conv2d(
        linear.in_features, linear.out_features, 1, bias=linear.bias is not None, dtype=W.dtype, device=W.device
    )
    with torch.no_grad():
        # (K, C) -> (K, C, 1, 1)
        conv.weight.copy_(W[:, :, None, None])
        if linear.bias is not None:
            conv.bias.copy_(linear.bias)
    return conv


@question(
    "segmentation-head",
    level="intermediate",
    short=(
        "Not on its own. Swapping the last layer for a 1x1 convolution gives class scores at the backbone's "
        "resolution, 1/32 of the input: a 224 image yields a 7x7 map. The head must upsample to every pixel, "
        "bilinearly or with transposed convolutions, and skip connections from finer layers (FCN-8s, U-Net) "
        "restore the detail a coarse map cannot hold."
    ),
    followups=("fully-convolutional-network", "transposed-convolution", "receptive-field"),
)
def fcn_head(
    features: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    size=None,
) -> torch.Tensor:
    r"""An FCN-style dense head: a 1x1 convolution to class scores, then bilinear upsampling to ``size``.

    **For segmentation, is it enough to replace the classifier's last layer with a convolution?**

    No. A 1x1 (or any) convolution in place of the last layer gives class scores at the
    resolution of the backbone's last feature map, typically 1/32 of the input (7x7 for a 224x224
    image): one label per 32x32 block, not per pixel. A segmentation head must bring the scores
    back to the input's resolution, by bilinear interpolation (which is itself a fixed transposed
    convolution; FCN initializes its learned upsampling with exactly that kernel) or by learned
    transposed convolutions, and the per-pixel loss is then cross-entropy over the ``K`` classes
    at every pixel. Upsampling alone cannot add detail the coarse map does not hold, so FCN-8s and
    U-Net add skip connections from earlier, finer feature maps.

    .. math::

        s = W * f + b \ \ (1 \times 1), \qquad y = \mathrm{upsample}_{\text{bilinear}}(s) \in
        \mathbb{R}^{B \times K \times H \times W}

    Parameters
    ----------
    features : torch.Tensor
        ``(B, C, h, w)``, the backbone's last feature map.
    weight : torch.Tensor
        ``(K, C)`` or ``(K, C, 1, 1)``: the scoring layer (a linear layer's weight drops in).
    bias : torch.Tensor, optional
        ``(K,)``.
    size : tuple of int, optional
        ``(H, W)``, the output resolution (the input image's); None returns the coarse scores.

    Returns
    -------
    torch.Tensor
        ``(B, K, H, W)`` per-pixel logits (``(B, K, h, w)`` when ``size`` is None).

    See Also
    --------
    conv_from_linear, torch.nn.functional.interpolate, torch.nn.functional.conv_transpose2d

    Notes
    -----
    Bilinear interpolation with ``align_corners=False``, PyTorch's default, is used; it equals a
    stride-2 transposed convolution with the kernel ``outer([1, 3, 3, 1] / 4)`` after padding the
    input by replicating its border, as the examples show for a factor of 2.

    .. admonition:: Common mistake

        "For segmentation, replace the final layer with a convolutional layer."

        That gives a score map at the backbone's resolution, 1/32 of the input, not a label per
        pixel: the examples show a 64x64 image producing 2x2 scores, and that any prediction
        upsampled from a 2x2 map lies in a 4-dimensional space of images, too few to draw a
        finer mask. The head must upsample (bilinear or transposed convolution) to the input's
        size, and skip connections from finer layers restore detail.

    References
    ----------
    .. [1] J. Long, E. Shelhamer and T. Darrell, "Fully Convolutional Networks for Semantic
       Segmentation", CVPR 2015.
    .. [2] O. Ronneberger, P. Fischer and T. Brox, "U-Net: Convolutional Networks for Biomedical
       Image Segmentation", MICCAI 2015.

    Examples
    --------
    A backbone with total stride 32 (five stride-2 convolutions, random weights) maps a 64x64
    image to 2x2 features; a convolution in place of the last layer scores those 4 locations
    only; the head upsamples to one score per class per pixel, which the per-pixel loss takes:

    >>> _ = torch.manual_seed(0)
    >>> layers = [nn.Conv2d(3 if i == 0 else 8, 8, 3, stride=2, padding=1) for i in range(5)]
    >>> backbone = nn.Sequential(*[m for conv in layers for m in (conv, nn.ReLU())]).double()
    >>> img = torch.randn(1, 3, 64, 64, dtype=torch.float64)
    >>> feats = backbone(img)
    >>> W, b = torch.randn(4, 8, dtype=torch.float64), torch.randn(4, dtype=torch.float64)
    >>> feats.shape, fcn_head(feats, W, b).shape, fcn_head(feats, W, b, size=(64, 64)).shape
    (torch.Size([1, 8, 2, 2]), torch.Size([1, 4, 2, 2]), torch.Size([1, 4, 64, 64]))
    >>> mask = torch.randint(0, 4, (1, 64, 64))
    >>> F.cross_entropy(fcn_head(feats, W, b, size=(64, 64)), mask).shape
    torch.Size([])

    The coarse head is the 1x1 convolution with the scoring weights:

    >>> torch.allclose(fcn_head(feats, W, b), F.conv2d(feats, W[:, :, None, None], b))
    True

    Upsampled from 2x2, every possible prediction lies in a 4-dimensional space of 64x64 maps, so
    most masks cannot be drawn, however the weights are trained:

    >>> basis = torch.eye(4, dtype=torch.float64).reshape(4, 1, 2, 2)
    >>> maps = F.interpolate(basis, size=(64, 64), mode="bilinear").reshape(4, -1)
    >>> int(torch.linalg.matrix_rank(maps))
    4

    Bilinear upsampling by 2 is a fixed transposed convolution (the FCN initialization):

    >>> s = torch.randn(1, 4, 5, 7, dtype=torch.float64)
    >>> k = torch.tensor([1.0, 3.0, 3.0, 1.0], dtype=torch.float64) / 4
    >>> kernel = torch.outer(k, k).expand(4, 1, 4, 4)
    >>> up = F.conv_transpose2d(F.pad(s, (1, 1, 1, 1), mode="replicate"), kernel, stride=2, padding=3, groups=4)
    >>> torch.allclose(up, F.interpolate(s, scale_factor=2, mode="bilinear"))
    True
    """
    check.tensor("features", features, ndim=4)
    check.tensor("weight", weight, ndim=(2, 4))
    K, C = weight.shape[:2]
    if weight.dim() == 4 and tuple(weight.shape[2:]) != (1, 1):
        raise ValueError(f"weight must be (K, C) or (K, C, 1, 1), got shape {tuple(weight.shape)}")
    check.same_shape(
        "weight",
        weight[:, :, None, None] if weight.dim() == 2 else weight,
        (K, features.shape[1], 1, 1),
        "(K, C) with C the channels of features",
    )
    if bias is not None:
        check.tensor("bias", bias, ndim=1)
        check.same_shape("bias", bias, (K,), "one per class")
    check.same_dtype("features", features, weight=weight, bias=bias)
    if size is not None:
        size = check.int_tuple("size", size, 2, low=1)
    # s = W * f + b: the classifier applied at every location
    scores = torch.nn.functional.conv2d(features, weight.reshape(K, C, 1, 1), bias)  # (B, K, h, w)
    if size is None:
        return scores
    # back to one score per class per pixel
    return torch.nn.functional.interpolate(scores, size=size, mode="bilinear", align_corners=False)  # (B, K, H, W)
