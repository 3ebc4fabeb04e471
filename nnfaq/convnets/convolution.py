"""Convolutions

What a convolutional layer computes and why images call for it: 1-D, 2-D and 3-D convolutions
written from scratch with PyTorch's signatures, as a sliding window (im2col) followed by one matrix
product, each proven equal to its ``torch.nn.functional`` twin; cross-correlation versus
convolution; and the translation equivariance and weight sharing that motivate it.
"""

from __future__ import annotations

import math

import torch

from nnfaq import _validate as check
from nnfaq._registry import question
from nnfaq.convnets import _sliding

__all__ = ["commutes_with_shift", "conv1d", "conv2d", "conv3d"]


def _conv_checks(input, weight, bias, groups, n):
    check.tensor("input", input, ndim=(n + 1, n + 2))
    check.tensor("weight", weight, ndim=n + 2)
    check.same_dtype("input", input, weight=weight)
    _sliding.check_nonempty(input, n, weight)
    groups = check.integer("groups", groups, low=1)
    C_in, C_out = input.shape[-n - 1], weight.shape[0]
    if C_in % groups or C_out % groups:
        raise ValueError(f"groups must divide the input ({C_in}) and output ({C_out}) channels, got groups={groups}")
    if weight.shape[1] * groups != C_in:
        raise ValueError(
            f"weight must have shape (C_out, C_in / groups = {C_in // groups}, *K), got {tuple(weight.shape)}"
        )
    if bias is not None:
        check.tensor("bias", bias, ndim=1)
        check.same_dtype("input", input, bias=bias)
        check.same_shape("bias", bias, (C_out,), "weight.shape[0], the output channels")
    return groups


def _convnd(input, weight, bias, stride, padding, dilation, groups, n):
    groups = _conv_checks(input, weight, bias, groups, n)
    stride = _sliding.ints("stride", stride, n, low=1)
    dilation = _sliding.ints("dilation", dilation, n, low=1)
    kernel = tuple(weight.shape[2:])
    x = input if input.dim() == n + 2 else input.unsqueeze(0)  # (B, C, *S)
    x = _sliding.pad(x, _sliding.pads(padding, kernel, stride, dilation))
    _sliding.check_fits(x, kernel, dilation)
    B, C_in, C_out, g = x.shape[0], x.shape[1], weight.shape[0], groups
    # im2col: one row per output position, one column per (input channel, kernel offset)
    cols = _sliding.windows(x, kernel, stride, dilation)  # (B, C, *O, *K)
    out_size = cols.shape[2 : 2 + n]
    cols = cols.reshape(B, g, C_in // g, math.prod(out_size), math.prod(kernel))  # (B, g, C/g, L, K^n)
    L, width = math.prod(out_size), C_in // g * math.prod(kernel)  # explicit sizes: B may be 0
    cols = cols.transpose(2, 3).reshape(B, g, L, width)  # (B, g, L, C/g * K^n)
    w = weight.reshape(g, C_out // g, -1)  # (g, C_out/g, C/g * K^n)
    # y = cols @ W^T: every output pixel is a dot product of its window with each filter
    y = cols @ w.transpose(1, 2)  # (B, g, L, C_out/g)
    y = y.transpose(2, 3).reshape(B, C_out, *out_size)  # (B, C_out, *O)
    if bias is not None:
        y = y + bias.reshape(1, C_out, *[1] * n)
    return y if input.dim() == n + 2 else y.squeeze(0)


@question(
    "conv2d-im2col",
    level="intermediate",
    short=(
        "Each output pixel is the dot product of one filter with the input window under it, across all input "
        "channels, plus a bias. im2col copies every window into a row, so the whole layer is one matrix product "
        "of the window matrix with the flattened filters: fast, at the price of copying each pixel up to K*K "
        "times."
    ),
    followups=("conv-output-size", "convolution-vs-cross-correlation", "convolution-types"),
)
def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> torch.Tensor:
    r"""2-D convolution (cross-correlation) as im2col followed by one matrix product.

    **How does a convolutional layer compute its output, and how is it implemented efficiently?**

    Each output pixel is the dot product of one filter with the input window under it, summed over
    the input channels, plus a bias. Writing every window as a row (im2col) turns the whole layer
    into one matrix product of the ``(L, C·K·K)`` window matrix with the ``(C·K·K, C_out)`` filter
    matrix, which is how fast libraries do it. Stride skips windows, padding adds zeros at the
    borders, dilation spreads the kernel taps apart, and ``groups`` splits the channels into
    independent convolutions.

    .. math::

        y_{b,o,i,j} = b_o + \sum_{c \in \mathrm{group}(o)} \sum_{u,v}
        W_{o,c,u,v}\; x_{b,c,\,s i + d u - p,\; s j + d v - p}

    Parameters
    ----------
    input : torch.Tensor
        ``(B, C, H, W)`` or unbatched ``(C, H, W)``.
    weight : torch.Tensor
        ``(C_out, C / groups, K_h, K_w)``, same dtype as ``input``.
    bias : torch.Tensor, optional
        ``(C_out,)``.
    stride, dilation : int or tuple of 2 ints, default 1
        Step between windows; spacing between kernel taps. At least 1.
    padding : int, tuple of 2 ints, "valid" or "same", default 0
        Zeros added on both sides; "same" keeps the size (stride 1 only; an even kernel puts the
        extra zero at the end, as PyTorch does).
    groups : int, default 1
        Number of independent channel groups; must divide ``C`` and ``C_out``.

    Returns
    -------
    torch.Tensor
        ``(B, C_out, H_out, W_out)`` with
        :math:`H_{out} = \lfloor (H + 2p - d(K-1) - 1)/s \rfloor + 1`.

    See Also
    --------
    torch.nn.functional.conv2d, torch.nn.functional.unfold, torch.nn.Conv2d

    Notes
    -----
    Like every deep-learning "convolution", this is a cross-correlation: the kernel is not flipped
    (see :func:`conv1d`). im2col trades memory (each input pixel is copied up to ``K·K`` times)
    for one large, fast matrix product.

    References
    ----------
    .. [1] K. Chellapilla, S. Puri, P. Simard, "High Performance Convolutional Neural Networks for
       Document Processing", 2006 (im2col).

    Examples
    --------
    Equal to PyTorch's, with stride, padding, dilation and groups:

    >>> x = torch.randn(2, 4, 9, 9, dtype=torch.float64)
    >>> w = torch.randn(6, 2, 3, 3, dtype=torch.float64)
    >>> b = torch.randn(6, dtype=torch.float64)
    >>> args = dict(stride=2, padding=1, dilation=2, groups=2)
    >>> torch.allclose(conv2d(x, w, b, **args), F.conv2d(x, w, b, **args))
    True
    >>> w4 = torch.randn(3, 4, 4, 4, dtype=torch.float64)
    >>> torch.allclose(conv2d(x, w4, padding="same", dilation=2), F.conv2d(x, w4, padding="same", dilation=2))
    True

    A 28x28 image and a 5x5 kernel without padding give 24x24; "same" keeps 28x28:

    >>> img, k5 = torch.randn(1, 1, 28, 28), torch.randn(8, 1, 5, 5)
    >>> conv2d(img, k5).shape, conv2d(img, k5, padding="same").shape
    (torch.Size([1, 8, 24, 24]), torch.Size([1, 8, 28, 28]))

    The layer is one matrix product: the im2col matrix times the flattened filters:

    >>> cols = F.unfold(x, kernel_size=3)  # (B, C·K·K, L)
    >>> w1 = torch.randn(5, 4, 3, 3, dtype=torch.float64)
    >>> torch.allclose(conv2d(x, w1).flatten(2), w1.flatten(1) @ cols)
    True

    A 1x1 convolution is a linear layer applied to every pixel's channel vector:

    >>> w11 = torch.randn(5, 4, 1, 1, dtype=torch.float64)
    >>> per_pixel = F.linear(x.permute(0, 2, 3, 1), w11.flatten(1), b[:5]).permute(0, 3, 1, 2)
    >>> torch.allclose(conv2d(x, w11, b[:5]), per_pixel)
    True
    """
    return _convnd(input, weight, bias, stride, padding, dilation, groups, n=2)


@question(
    "convolution-vs-cross-correlation",
    level="basic",
    short=(
        "No. A CNN layer computes a cross-correlation: the kernel slides over the input without being flipped. "
        "A true convolution flips the kernel first, so the two agree only for symmetric kernels. For learning "
        "it makes no difference: the network simply learns the flipped kernel, and both operations are "
        "linear, local and translation-equivariant."
    ),
    followups=("conv2d-im2col", "why-convolutions"),
)
def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> torch.Tensor:
    r"""1-D convolution (cross-correlation) of sequences, the same im2col code as :func:`conv2d`.

    **Is the "convolution" in a CNN a convolution in the mathematical sense?**

    No: it is a cross-correlation, the kernel slides over the input without being flipped. A true
    convolution flips the kernel first, so the two agree only for symmetric kernels. For learning
    it makes no difference: the network simply learns the flipped kernel, and both operations are
    linear, local and translation-equivariant.

    .. math::

        \text{CNN: } y_i = \sum_u w_u\, x_{i+u}, \qquad
        \text{convolution: } (x * w)_i = \sum_u w_u\, x_{i-u}

    Parameters
    ----------
    input : torch.Tensor
        ``(B, C, T)`` or unbatched ``(C, T)``.
    weight : torch.Tensor
        ``(C_out, C / groups, K)``.
    bias : torch.Tensor, optional
        ``(C_out,)``.
    stride, padding, dilation, groups
        As in :func:`conv2d`, with one spatial dimension.

    Returns
    -------
    torch.Tensor
        ``(B, C_out, T_out)``.

    See Also
    --------
    torch.nn.functional.conv1d, numpy.convolve, numpy.correlate

    Notes
    -----
    .. admonition:: Common mistake

        "A convolutional layer convolves the input with its kernel."

        It computes a cross-correlation: ``F.conv1d`` equals ``np.correlate`` and equals
        ``np.convolve`` only after flipping the kernel; the examples show both, and that an
        asymmetric kernel gives a different result without the flip.

    Examples
    --------
    >>> x = torch.randn(2, 3, 20, dtype=torch.float64)
    >>> w = torch.randn(4, 3, 5, dtype=torch.float64)
    >>> torch.allclose(conv1d(x, w, padding=2, dilation=2), F.conv1d(x, w, padding=2, dilation=2))
    True

    A CNN's convolution is numpy's correlation, and numpy's convolution of the flipped kernel:

    >>> s, k = np.arange(8.0), np.array([1.0, 2.0, 5.0])
    >>> ours = conv1d(torch.tensor(s)[None], torch.tensor(k)[None, None])[0].numpy()
    >>> np.allclose(ours, np.correlate(s, k, "valid")), np.allclose(ours, np.convolve(s, k[::-1], "valid"))
    (True, True)
    >>> np.allclose(ours, np.convolve(s, k, "valid"))  # no flip: a different answer
    False
    """
    return _convnd(input, weight, bias, stride, padding, dilation, groups, n=1)


@question(
    "conv3d-vs-conv2d",
    level="intermediate",
    short=(
        "When the third axis has local structure of its own: time in a video, depth in a scan. The kernel "
        "also slides along it, so weights are shared over time and the output keeps a time axis; frames stacked "
        "as 2D channels are all mixed in the first layer. The price is K times the weights and multiply-adds."
    ),
    followups=("conv2d-im2col", "convolution-types"),
)
def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> torch.Tensor:
    r"""3-D convolution of volumes or videos, the same im2col code as :func:`conv2d`.

    **When would you use a 3D convolution instead of a 2D one?**

    For data with a third axis that has local structure of its own: videos (time) and medical or
    3-D scans (depth). A 3-D kernel also slides along that axis, so the same weights are reused
    across time and the output keeps a time axis, whereas stacking frames as channels of a 2-D
    convolution mixes all frames in the first layer and loses the time axis. The price is a
    ``K`` times larger kernel and ``K`` times more multiply-adds per output.

    .. math::

        y_{b,o,t,i,j} = b_o + \sum_c \sum_{r,u,v} W_{o,c,r,u,v}\; x_{b,c,\,t+r,\,i+u,\,j+v}

    Parameters
    ----------
    input : torch.Tensor
        ``(B, C, T, H, W)`` or unbatched ``(C, T, H, W)``.
    weight : torch.Tensor
        ``(C_out, C / groups, K_t, K_h, K_w)``.
    bias : torch.Tensor, optional
        ``(C_out,)``.
    stride, padding, dilation, groups
        As in :func:`conv2d`, with three spatial dimensions.

    Returns
    -------
    torch.Tensor
        ``(B, C_out, T_out, H_out, W_out)``.

    See Also
    --------
    torch.nn.functional.conv3d, torch.nn.Conv3d

    References
    ----------
    .. [1] D. Tran et al., "Learning Spatiotemporal Features with 3D Convolutional Networks", ICCV 2015.

    Examples
    --------
    >>> video = torch.randn(2, 3, 6, 10, 10, dtype=torch.float64)  # (B, C, T, H, W)
    >>> w = torch.randn(4, 3, 3, 3, 3, dtype=torch.float64)
    >>> torch.allclose(conv3d(video, w, padding=1, stride=(1, 2, 2)), F.conv3d(video, w, padding=1, stride=(1, 2, 2)))
    True

    The output keeps a time axis (6 frames in, 4 out without padding):

    >>> conv3d(video, w).shape
    torch.Size([2, 4, 4, 8, 8])

    A kernel as deep as the clip is the 2-D convolution of frames stacked as channels: time is gone:

    >>> w_all = torch.randn(4, 3, 6, 3, 3, dtype=torch.float64)
    >>> stacked = conv2d(video.flatten(1, 2), w_all.flatten(1, 2))  # (B, C·T, H, W)
    >>> torch.allclose(conv3d(video, w_all).squeeze(2), stacked)
    True
    """
    return _convnd(input, weight, bias, stride, padding, dilation, groups, n=3)


@question(
    "why-convolutions",
    level="basic",
    short=(
        "Images have local structure and a pattern can appear anywhere. A convolution sees small windows and "
        "applies one kernel everywhere, so its parameter count is independent of the image size and a "
        "shifted input gives a shifted output (away from the borders). A dense layer has a weight per "
        "input-output pixel pair and learns each pattern at each position."
    ),
    followups=("convolution-types", "receptive-field", "pooling"),
)
def commutes_with_shift(layer, input, shift=(1, 1), output_shift=None) -> bool:
    r"""Whether ``layer(roll(x, shift))`` equals ``roll(layer(x), output_shift)``: translation equivariance.

    **Why use convolutional layers for images instead of fully connected layers?**

    Images have local structure, and the same pattern can appear anywhere. A convolution uses both
    facts: each output sees only a small window (locality), and the same small kernel is applied at
    every position (weight sharing), so its parameter count does not depend on the image size and
    a shifted input gives a shifted output (translation equivariance). A dense layer on an image
    has a weight for every input-output pixel pair and must learn each pattern at each position.

    .. math::

        \mathrm{conv}(T_\delta x) = T_\delta\, \mathrm{conv}(x), \qquad
        (T_\delta x)_{i} = x_{(i - \delta) \bmod N}

    Parameters
    ----------
    layer : callable
        Maps a ``(B, C, H, W)`` tensor to a ``(B, C', H', W')`` tensor.
    input : torch.Tensor
        ``(B, C, H, W)``, finite; float64 makes the comparison exact up to rounding.
    shift : tuple of 2 ints, default (1, 1)
        Cyclic shift of the input along height and width.
    output_shift : tuple of 2 ints, optional
        Expected shift of the output; defaults to ``shift`` (use ``shift / stride`` for a strided layer).

    Returns
    -------
    bool
        True if the two agree to ``torch.allclose`` precision.

    See Also
    --------
    torch.roll, torch.nn.Conv2d

    Notes
    -----
    The equivariance is exact with circular padding. Zero padding breaks it at the borders, and a
    stride or pooling of ``s`` keeps it only for shifts that are multiples of ``s``.

    Examples
    --------
    >>> x = torch.randn(1, 3, 16, 16, dtype=torch.float64)
    >>> circ = nn.Conv2d(3, 8, 3, padding=1, padding_mode="circular", dtype=torch.float64)
    >>> zero = nn.Conv2d(3, 8, 3, padding=1, dtype=torch.float64)
    >>> commutes_with_shift(circ, x, (3, 5))
    True
    >>> commutes_with_shift(zero, x, (3, 5))  # zero padding: the borders differ
    False

    A stride of 2 keeps it only for even shifts, which move the output by half as much:

    >>> strided = nn.Conv2d(3, 8, 3, stride=2, padding=1, padding_mode="circular", dtype=torch.float64)
    >>> commutes_with_shift(strided, x, (2, 4), (1, 2)), commutes_with_shift(strided, x, (1, 1), (1, 1))
    (True, False)

    A dense layer mapping the image to an image of the same size is not equivariant:

    >>> dense = nn.Sequential(nn.Flatten(), nn.Linear(3 * 16 * 16, 8 * 16 * 16, dtype=torch.float64),
    ...                       nn.Unflatten(1, (8, 16, 16)))
    >>> commutes_with_shift(dense, x, (3, 5))
    False

    Weight sharing: the convolution's parameter count is the same for any image size; the dense
    layer's grows with the square of the pixel count:

    >>> sum(p.numel() for p in circ.parameters()), sum(p.numel() for p in dense.parameters())
    (224, 1574912)
    """
    if not callable(layer):
        raise TypeError(f"layer must be callable (a module or a function), got {type(layer).__name__}")
    check.tensor("input", input, ndim=4, finite=True)
    shift = check.int_tuple("shift", shift, 2)
    output_shift = shift if output_shift is None else check.int_tuple("output_shift", output_shift, 2)
    with torch.no_grad():
        outputs = [layer(torch.roll(input, shift, dims=(2, 3))), layer(input)]
        for y in outputs:
            check.tensor("layer output", y, ndim=4, floating=False)
        shifted_first, shifted_after = outputs[0], torch.roll(outputs[1], output_shift, dims=(2, 3))
    return shifted_first.shape == shifted_after.shape and torch.allclose(shifted_first, shifted_after)
