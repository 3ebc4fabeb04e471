"""Downsampling and upsampling

How a CNN changes the size of its feature maps: max and average pooling shrink them with no
parameters, global average pooling collapses them, and the transposed convolution grows them as
the adjoint of a strided convolution. Each function is written from scratch with PyTorch's
signature and proven equal to its ``torch.nn.functional`` twin.
"""

from __future__ import annotations

import math

import torch

from nnfaq import _validate as check
from nnfaq._registry import question
from nnfaq.convnets import _sliding

__all__ = ["avg_pool2d", "conv_transpose2d", "max_pool2d", "pool_output_size"]

#: VGG-16's last feature map and classifier (Simonyan and Zisserman, ICLR 2015, Table 1, configuration D:
#: a 512 x 7 x 7 map after the fifth pooling, then dense layers of 4096, 4096 and 1000 units).
VGG16 = {"channels": 512, "height": 7, "width": 7, "hidden": 4096, "classes": 1000}


@question(
    "transposed-convolution",
    level="intermediate",
    short=(
        "A transposed convolution is the adjoint of a convolution: each input pixel adds a copy of the kernel, "
        "scaled by its value, into the output, stride pixels apart, so stride 2 upsamples by 2. Backpropagation "
        "applies it to a convolution's output gradient. It restores the shape, not the values: despite the name "
        "deconvolution, it is not an inverse."
    ),
    followups=("transposed-conv-output-size", "conv2d-im2col"),
)
def conv_transpose2d(
    input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1
) -> torch.Tensor:
    r"""2-D transposed convolution: every input pixel scatters a copy of the kernel into the output.

    **What is a transposed convolution, and is it the inverse of a convolution?**

    It is the transpose (adjoint) of a convolution's matrix: the map that backpropagation applies
    to send a convolution's output gradient back to its input. Each input pixel adds a copy of the
    kernel, scaled by its value, into the output at ``stride`` times its position, so a stride-2
    transposed convolution upsamples by 2; that is why it is used as a learnable upsampling layer.
    It is not an inverse (the name "deconvolution" is misleading): it restores the shape, not the
    values.

    .. math::

        \langle \mathrm{conv}(x), y \rangle = \langle x, \mathrm{conv}^\top(y) \rangle, \qquad
        H_{out} = (H - 1)s - 2p + d(K - 1) + p_{out} + 1

    Parameters
    ----------
    input : torch.Tensor
        ``(B, C, H, W)`` or unbatched ``(C, H, W)``.
    weight : torch.Tensor
        ``(C, C_out / groups, K_h, K_w)``: the weight of the convolution it transposes.
    bias : torch.Tensor, optional
        ``(C_out,)``.
    stride, padding, dilation : int or tuple of 2 ints
        Those of the convolution being transposed; ``padding`` removes rows and columns from the
        border of the output.
    output_padding : int or tuple of 2 ints, default 0
        Extra rows/columns at the end, smaller than ``stride`` or ``dilation``: a strided
        convolution maps several input sizes to the same output size, and this picks one.
    groups : int, default 1
        Must divide ``C`` and ``C_out``.

    Returns
    -------
    torch.Tensor
        ``(B, C_out, H_out, W_out)``.

    See Also
    --------
    torch.nn.functional.conv_transpose2d, torch.nn.functional.fold, torch.nn.ConvTranspose2d

    Notes
    -----
    When ``K`` is not a multiple of ``stride`` the kernel copies overlap unevenly, which prints a
    checkerboard pattern into the output; resizing and then convolving avoids it [2]_.

    .. admonition:: Common mistake

        "A transposed convolution (deconvolution) undoes a convolution."

        It undoes only the change of shape. The examples show that it is the adjoint (its output is
        the gradient of the convolution) and that transposing a convolution's output does not give
        back the input.

    References
    ----------
    .. [1] V. Dumoulin and F. Visin, "A guide to convolution arithmetic for deep learning", 2016.
    .. [2] A. Odena, V. Dumoulin, C. Olah, "Deconvolution and Checkerboard Artifacts", Distill 2016.

    Examples
    --------
    >>> x = torch.randn(2, 4, 5, 5, dtype=torch.float64)
    >>> w = torch.randn(4, 3, 3, 3, dtype=torch.float64)  # (C, C_out/groups, K, K)
    >>> b = torch.randn(6, dtype=torch.float64)
    >>> args = dict(stride=2, padding=1, output_padding=1, groups=2, dilation=1)
    >>> torch.allclose(conv_transpose2d(x, w, b, **args), F.conv_transpose2d(x, w, b, **args))
    True
    >>> conv_transpose2d(x, w, stride=2).shape  # upsampled: (5 - 1) * 2 + 3 = 11
    torch.Size([2, 3, 11, 11])

    It is the adjoint of the convolution with the same weight (``F.conv2d``, or
    :func:`nnfaq.convnets.convolution.conv2d`): inner products agree, and it is that convolution's
    input-gradient:

    >>> z = torch.randn(2, 3, 11, 11, dtype=torch.float64, requires_grad=True)
    >>> y = torch.randn(2, 4, 5, 5, dtype=torch.float64)
    >>> lhs = (F.conv2d(z, w, stride=2) * y).sum()
    >>> rhs = (z * conv_transpose2d(y, w, stride=2)).sum()
    >>> torch.allclose(lhs, rhs)
    True
    >>> (grad,) = torch.autograd.grad(lhs, z)
    >>> torch.allclose(grad, conv_transpose2d(y, w, stride=2))
    True

    It is not the inverse:

    >>> x1 = torch.randn(1, 1, 8, 8, dtype=torch.float64)
    >>> k = torch.randn(1, 1, 3, 3, dtype=torch.float64)
    >>> back = conv_transpose2d(F.conv2d(x1, k), k)
    >>> back.shape == x1.shape, torch.allclose(back, x1)
    (True, False)
    """
    check.tensor("input", input, ndim=(3, 4))
    check.tensor("weight", weight, ndim=4)
    check.same_dtype("input", input, weight=weight)
    _sliding.check_nonempty(input, 2, weight)
    groups = check.integer("groups", groups, low=1)
    C, C_out = input.shape[-3], weight.shape[1] * groups
    if C % groups:
        raise ValueError(f"groups must divide the input channels ({C}), got groups={groups}")
    if weight.shape[0] != C:
        raise ValueError(f"weight must have shape (C = {C}, C_out / groups, K_h, K_w), got {tuple(weight.shape)}")
    if bias is not None:
        check.tensor("bias", bias, ndim=1)
        check.same_dtype("input", input, bias=bias)
        check.same_shape("bias", bias, (C_out,), "weight.shape[1] * groups, the output channels")
    stride = _sliding.ints("stride", stride, 2, low=1)
    dilation = _sliding.ints("dilation", dilation, 2, low=1)
    pad = _sliding.ints("padding", padding, 2, low=0)
    out_pad = _sliding.ints("output_padding", output_padding, 2, low=0)
    if any(op >= max(s, d) for op, s, d in zip(out_pad, stride, dilation)):
        raise ValueError(f"output_padding must be smaller than stride or dilation, got {out_pad}")
    x = input if input.dim() == 4 else input.unsqueeze(0)  # (B, C, H, W)
    (B, C, H, W), (K_h, K_w), g = x.shape, weight.shape[2:], groups
    size = [(n - 1) * s - 2 * p + d * (k - 1) + op + 1 for n, s, p, d, k, op in
            zip((H, W), stride, pad, dilation, (K_h, K_w), out_pad)]  # fmt: skip
    if min(size) < 1:
        raise ValueError(f"padding {pad} is too large: the output size would be {tuple(size)}")
    # each input pixel times each kernel: z[b, o, i, j, u, v] = sum_c x[b, c, i, j] W[c, o, u, v]
    z = torch.einsum("bgchw,gcouv->bgohwuv", x.reshape(B, g, C // g, H, W), weight.reshape(g, C // g, -1, K_h, K_w))
    z = z.reshape(B, C_out, H, W, K_h, K_w)  # (B, C_out, H, W, K, K)
    # col2im: kernel tap (u, v) of pixel (i, j) lands at (s i + d u, s j + d v) before cropping the padding
    canvas = x.new_zeros(B, C_out, size[0] + 2 * pad[0], size[1] + 2 * pad[1])
    (s_h, s_w), (d_h, d_w) = stride, dilation
    for u in range(K_h):
        for v in range(K_w):
            canvas[:, :, d_h * u : d_h * u + s_h * (H - 1) + 1 : s_h, d_w * v : d_w * v + s_w * (W - 1) + 1 : s_w] += z[
                ..., u, v
            ]
    y = canvas[:, :, pad[0] : pad[0] + size[0], pad[1] : pad[1] + size[1]]  # (B, C_out, H_out, W_out)
    if bias is not None:
        y = y + bias.reshape(1, C_out, 1, 1)
    return y if input.dim() == 4 else y.squeeze(0)


@question(
    "pool-output-size",
    level="basic",
    short=(
        "Pooling uses the convolution's formula, floor((n + 2p - d(K-1) - 1) / s) + 1, with the stride "
        "defaulting to the window, so 2x2 pooling halves the size, rounding down: 7 becomes 3. With "
        "``ceil_mode=True`` it rounds up, so a partial last window still produces an output (7 becomes 4), "
        "unless that window would start in the right padding."
    ),
    followups=("conv-output-size", "pooling"),
)
def pool_output_size(
    size: int, kernel_size: int, stride: int | None = None, padding: int = 0, dilation: int = 1, ceil_mode=False
) -> int:
    r"""Output length of max or average pooling along one dimension.

    **How does a pooling layer change the feature-map size, and what does ceil_mode do?**

    Pooling uses the convolution's formula with the stride defaulting to the window size, so a
    2x2 pool halves the size, rounding down (7 becomes 3). With ``ceil_mode=True`` it rounds up
    instead, so the leftover partial window still produces an output (7 becomes 4), except that
    a window may not start in the right padding.

    .. math::

        n_{out} = \left\lfloor \frac{n + 2p - d(K - 1) - 1}{s} \right\rfloor + 1
        \quad (\lceil\cdot\rceil \text{ with ceil\_mode})

    Parameters
    ----------
    size : int
        Input length ``n``, at least 1.
    kernel_size : int
        Window size ``K``.
    stride : int, optional
        Defaults to ``kernel_size``.
    padding : int, default 0
        At most ``kernel_size // 2``.
    dilation : int, default 1
        Spacing between window elements (max pooling only in PyTorch).
    ceil_mode : bool, default False
        Round up instead of down.

    Returns
    -------
    int
        The output length ``n_out``.

    See Also
    --------
    torch.nn.MaxPool2d, torch.nn.AvgPool2d

    Examples
    --------
    >>> pool_output_size(7, 2), pool_output_size(7, 2, ceil_mode=True)
    (3, 4)
    >>> pool_output_size(112, 3, stride=2, padding=1)  # ResNet's stem pool: 112 -> 56
    56

    The last window may not start in the right padding, so ceil mode can still round down:

    >>> pool_output_size(5, 2, stride=2, padding=1, ceil_mode=True)
    3
    >>> y = F.max_pool2d(torch.randn(1, 1, 5, 5), 2, stride=2, padding=1, ceil_mode=True)
    >>> y.shape[-1] == pool_output_size(5, 2, stride=2, padding=1, ceil_mode=True)
    True
    """
    n = check.integer("size", size, low=1)
    k = check.integer("kernel_size", kernel_size, low=1)
    s = k if stride is None else check.integer("stride", stride, low=1)
    p = check.integer("padding", padding, low=0)
    d = check.integer("dilation", dilation, low=1)
    ceil_mode = check.flag("ceil_mode", ceil_mode)
    if p > k // 2:
        raise ValueError(f"padding must be at most half of kernel_size ({k // 2}), got {p}")
    span = d * (k - 1) + 1
    # floor (or ceil) of (n + 2p - d(K - 1) - 1) / s, plus 1: in ceil mode the last window may run past
    # the padded input, so a kernel wider than the padded input still gives one window, as in PyTorch
    out = (n + 2 * p - span + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= n + p:  # the last window would start in the right padding
        out -= 1
    if out < 1:
        raise ValueError(f"kernel_size must fit in the padded input: dilated kernel {span}, padded input {n + 2 * p}")
    return out


def _first_tap_inside(n_out: int, s: int, p: int, d: int) -> torch.Tensor:
    """``(n_out, 1)``: each window's first tap at or after position 0 (its start moved on by whole dilations)."""
    start = s * torch.arange(n_out)[:, None] - p
    return torch.where(start < 0, start + (-start + d - 1) // d * d, start)


def _any_tap_inside(n_out: int, k: int, s: int, p: int, d: int, n: int) -> torch.Tensor:
    """``(n_out,)``: whether any of a window's ``k`` taps falls inside the ``n`` input positions."""
    taps = s * torch.arange(n_out)[:, None] - p + d * torch.arange(k)[None, :]
    return ((taps >= 0) & (taps < n)).any(dim=1)


def _pool_setup(input, kernel_size, stride, padding, dilation, ceil_mode):
    check.tensor("input", input, ndim=(3, 4))
    _sliding.check_nonempty(input, 2)
    kernel = _sliding.ints("kernel_size", kernel_size, 2, low=1)
    stride = kernel if stride is None else _sliding.ints("stride", stride, 2, low=1)
    pad = _sliding.ints("padding", padding, 2, low=0)
    dilation = _sliding.ints("dilation", dilation, 2, low=1)
    x = input if input.dim() == 4 else input.unsqueeze(0)  # (B, C, H, W)
    pads = []
    for n, k, s, p, d in zip(x.shape[2:], kernel, stride, pad, dilation):
        out = pool_output_size(n, k, s, p, d, ceil_mode)
        # windows that run past the right padding in ceil mode need extra room there
        pads.append((p, p + max(0, (out - 1) * s + d * (k - 1) + 1 - (n + 2 * p))))
    return x, kernel, stride, dilation, pads


@question(
    "pooling",
    level="basic",
    short=(
        "Pooling summarises each window of each channel by its maximum or its mean, usually with stride equal to "
        "the window, so 2x2 pooling halves height and width. It has no parameters. In the backward pass max "
        "pooling sends each window's gradient to the one input that was its maximum (the indices "
        "``return_indices=True`` returns); every other input gets zero."
    ),
    followups=("global-average-pooling", "pool-output-size", "receptive-field"),
)
def max_pool2d(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    r"""2-D max pooling: the largest value of every window, and optionally where it is.

    **What does pooling do, how many parameters does a pooling layer have, and how does max pooling route
    the gradient backward?**

    Pooling slides a window over each channel separately and keeps one summary of it, the maximum
    or the mean, usually with stride equal to the window so the feature map shrinks (2x2 halves
    height and width). It cuts the computation of later layers and grows their receptive field,
    and it has no learnable parameters. Max pooling's output is the input at one index per window
    (the argmax), so its backward pass is a scatter: each window's gradient goes to its maximum
    and every other input gets zero (summed where overlapping windows pick the same input).

    .. math::

        y_{b,c,i,j} = \max_{u,v}\; x_{b,c,\,s i + d u - p,\; s j + d v - p} = x_{b,c,\,a_{b,c,i,j}}, \qquad
        \frac{\partial L}{\partial x_{b,c,n}} = \sum_{(i,j) : a_{b,c,i,j} = n} \frac{\partial L}{\partial y_{b,c,i,j}}

    where :math:`a_{b,c,i,j}` is the position of window :math:`(i, j)`'s maximum in the flattened
    ``(H, W)`` plane.

    Parameters
    ----------
    input : torch.Tensor
        ``(B, C, H, W)`` or unbatched ``(C, H, W)``, floating point.
    kernel_size : int or tuple of 2 ints
        Window size.
    stride : int or tuple of 2 ints, optional
        Defaults to ``kernel_size``.
    padding : int or tuple of 2 ints, default 0
        Implicit ``-inf`` on both sides, at most half the window.
    dilation : int or tuple of 2 ints, default 1
        Spacing between window elements.
    ceil_mode : bool, default False
        Round the output size up, so that a partial window at the end still produces an output.
    return_indices : bool, default False
        Also return where each maximum is.

    Returns
    -------
    torch.Tensor or tuple of torch.Tensor
        ``(B, C, H_out, W_out)``; with ``return_indices`` also the indices ``(B, C, H_out, W_out)``
        (int64): the position ``h * W + w`` of each maximum in its flattened ``(H, W)`` input plane,
        as ``torch.nn.functional.max_pool2d`` returns them (and ``torch.nn.MaxUnpool2d`` takes them).

    See Also
    --------
    torch.nn.functional.max_pool2d, torch.nn.MaxPool2d, torch.nn.MaxUnpool2d

    Notes
    -----
    A tie goes to the first maximum of the window in row-major order, as in PyTorch's CPU kernel, so
    the indices and the gradient match PyTorch's exactly. A window whose taps inside the input are
    all ``-inf`` gives ``-inf`` at its first tap inside, as PyTorch does; a window that lies wholly in
    the padding (possible with dilation) gives ``-inf`` and routes no gradient, and its index is
    PyTorch's (which may point outside the window). Integer inputs, which PyTorch also pools, are
    refused on purpose: the padding is ``-inf``.

    .. admonition:: Common mistake

        "Max pooling makes a CNN invariant to small translations."

        Only to shifts that keep each window's maximum inside its window. Moving a maximum across a
        window border by a single pixel changes the output, and shifting a random image by one
        pixel changes almost every pooled value; stride-2 pooling is equivariant only to even
        shifts, like any stride-2 layer. The examples show both cases; Zhang (2019) measures how
        little shift invariance pooled CNNs have.

    References
    ----------
    .. [1] R. Zhang, "Making Convolutional Networks Shift-Invariant Again", ICML 2019.

    Examples
    --------
    Values and indices equal PyTorch's:

    >>> x = torch.randn(2, 3, 11, 11, dtype=torch.float64)
    >>> args = dict(kernel_size=3, stride=2, padding=1, dilation=2, ceil_mode=True, return_indices=True)
    >>> (y, idx), (y_ref, idx_ref) = max_pool2d(x, **args), F.max_pool2d(x, **args)
    >>> torch.equal(y, y_ref), torch.equal(idx, idx_ref)
    (True, True)
    >>> max_pool2d(x, 2).shape  # 2x2 pooling halves the size (rounding down)
    torch.Size([2, 3, 5, 5])

    No parameters; the output is the input gathered at the indices:

    >>> sum(p.numel() for p in nn.MaxPool2d(2).parameters())
    0
    >>> torch.equal(y, x.flatten(2).gather(2, idx.flatten(2)).view_as(y))
    True

    The backward pass scatters each window's gradient to its maximum and nowhere else:

    >>> x = torch.randn(2, 3, 8, 8, dtype=torch.float64, requires_grad=True)
    >>> y, idx = max_pool2d(x, 2, return_indices=True)
    >>> g = torch.randn_like(y)
    >>> y.backward(g)
    >>> routed = torch.zeros(2, 3, 64, dtype=torch.float64).scatter_add(2, idx.flatten(2), g.flatten(2))
    >>> torch.equal(x.grad, routed.view_as(x)), int((x.grad != 0).sum()) == y.numel()
    (True, True)

    Shifts: a peak that moves within its 2x2 window leaves the output unchanged; one pixel more crosses
    into the next window and changes it; a random image shifted by one pixel changes:

    >>> peak = torch.zeros(1, 1, 4, 4); peak[0, 0, 0, 0] = 1.0
    >>> torch.equal(max_pool2d(peak, 2), max_pool2d(peak.roll((1, 1), (2, 3)), 2))
    True
    >>> torch.equal(max_pool2d(peak, 2), max_pool2d(peak.roll((2, 2), (2, 3)), 2))
    False
    >>> img = torch.randn(1, 1, 16, 16)
    >>> torch.equal(max_pool2d(img, 2), max_pool2d(img.roll(1, 3), 2))
    False
    """
    check.flag("return_indices", return_indices)
    x, kernel, stride, dilation, pads = _pool_setup(input, kernel_size, stride, padding, dilation, ceil_mode)
    B, C, W, K_w = x.shape[0], x.shape[1], x.shape[3], kernel[1]
    windows = _sliding.windows(
        _sliding.pad(x, pads, value=-math.inf), kernel, stride, dilation
    )  # (B, C, H_out, W_out, K, K)
    H_out, W_out = windows.shape[2:4]
    # a = argmax over the window: the first maximum in row-major order (torch.argmax's rule, and PyTorch's kernel's)
    a = windows.flatten(-2).argmax(dim=-1)  # (B, C, H_out, W_out)
    # window (i, j), tap (u, v) reads input row s i + d u - p and column s j + d v - p
    rows = stride[0] * torch.arange(H_out)[:, None] + dilation[0] * (a // K_w) - pads[0][0]  # (B, C, H_out, W_out)
    cols = stride[1] * torch.arange(W_out)[None, :] + dilation[1] * (a % K_w) - pads[1][0]  # (B, C, H_out, W_out)
    # PyTorch's kernel starts from each window's first tap inside the input, and keeps it when no tap beats
    # -inf: a window whose taps inside are all -inf, or that lies wholly in the padding (dilation allows it)
    first_r = _first_tap_inside(H_out, stride[0], pads[0][0], dilation[0])  # (H_out, 1)
    first_c = _first_tap_inside(W_out, stride[1], pads[1][0], dilation[1]).T  # (1, W_out)
    H = x.shape[2]
    inside = (rows >= 0) & (rows < H) & (cols >= 0) & (cols < W)
    best = windows.flatten(-2).gather(-1, a.unsqueeze(-1)).squeeze(-1)
    found = inside & ((best > -math.inf) | best.isnan())
    indices = torch.where(found, rows * W + cols, first_r * W + first_c)  # position in the flattened (H, W)
    # a window with no tap inside the input has -inf and routes its gradient nowhere
    has_tap = (
        _any_tap_inside(H_out, kernel[0], stride[0], pads[0][0], dilation[0], H)[:, None]
        & (_any_tap_inside(W_out, kernel[1], stride[1], pads[1][0], dilation[1], W)[None, :])
    )  # (H_out, W_out)
    safe = torch.where(has_tap, indices, 0)
    # y = x at the indices: autograd's backward of gather is the scatter-add of the answer
    y = x.flatten(2).gather(2, safe.flatten(2)).view(B, C, H_out, W_out)  # (B, C, H_out, W_out)
    y = torch.where(has_tap, y, -math.inf)
    if input.dim() == 3:
        y, indices = y.squeeze(0), indices.squeeze(0)
    return (y, indices) if return_indices else y


@question(
    "global-average-pooling",
    level="intermediate",
    short=(
        "Global average pooling averages each channel over the whole feature map: (C, H, W) becomes C numbers. "
        "It has no parameters and takes any input size, so the classifier after it is a small C-to-classes "
        "layer instead of a dense layer on the flattened map, which removes most of a classic CNN's "
        "parameters. The layers before it can still overfit."
    ),
    followups=("pooling", "prevent-overfitting"),
)
def avg_pool2d(
    input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None
) -> torch.Tensor:
    r"""2-D average pooling: the mean of every window, with PyTorch's rules for what counts.

    **What is global average pooling, and why did it replace the fully connected layers of a CNN?**

    Global average pooling averages each channel over the whole feature map, turning ``(C, H, W)``
    into ``C`` numbers, and it works for any input size; the classifier after it is then a small
    ``C -> classes`` layer. Flattening the map into a dense layer instead costs ``C H W`` weights
    per output unit (VGG-16's first dense layer has 102.8 million parameters), so global average
    pooling removes most of the parameters that could overfit, but not the convolutions before it.
    It is average pooling with the window as large as the map.

    .. math::

        y_{b,c,i,j} = \frac{1}{N_{ij}} \sum_{u,v} x_{b,c,\,s i + u - p,\; s j + v - p}

    Parameters
    ----------
    input : torch.Tensor
        ``(B, C, H, W)`` or unbatched ``(C, H, W)``.
    kernel_size : int or tuple of 2 ints
        Window size.
    stride : int or tuple of 2 ints, optional
        Defaults to ``kernel_size``.
    padding : int or tuple of 2 ints, default 0
        Zeros on both sides, at most half the window.
    ceil_mode : bool, default False
        Round the output size up.
    count_include_pad : bool, default True
        Count the padding zeros in :math:`N_{ij}` (never the ceil-mode overhang beyond them).
    divisor_override : int, optional
        Use this :math:`N` for every window instead.

    Returns
    -------
    torch.Tensor
        ``(B, C, H_out, W_out)``.

    See Also
    --------
    torch.nn.functional.avg_pool2d, torch.nn.AdaptiveAvgPool2d

    Notes
    -----
    PyTorch also accepts a negative ``divisor_override``; it is refused here on purpose (a window's
    mean has a positive divisor).

    .. admonition:: Common mistake

        "Global average pooling has no parameters, so it cannot overfit."

        The layer has none, but the network it sits in has all its convolutions: Lin et al. call it a
        structural regularizer because it removes the dense layers' parameters, not because the network
        can no longer overfit. The examples train a small convolutional network with global average
        pooling on random labels, which have nothing to generalize, and it fits every one of them.

    References
    ----------
    .. [1] M. Lin, Q. Chen, S. Yan, "Network In Network", ICLR 2014 (global average pooling).

    Examples
    --------
    >>> x = torch.randn(2, 3, 10, 10, dtype=torch.float64)
    >>> args = dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)
    >>> torch.allclose(avg_pool2d(x, **args), F.avg_pool2d(x, **args))
    True

    Global average pooling is the mean over the map; it has no parameters and accepts any size:

    >>> torch.allclose(avg_pool2d(x, (10, 10)).flatten(1), x.mean(dim=(2, 3)))
    True
    >>> gap = nn.AdaptiveAvgPool2d(1)
    >>> sum(p.numel() for p in gap.parameters()), gap(torch.randn(1, 3, 7, 13)).shape
    (0, torch.Size([1, 3, 1, 1]))

    Average pooling is a depthwise convolution with the constant kernel ``1/K²``:

    >>> box = torch.full((3, 1, 2, 2), 0.25, dtype=torch.float64)
    >>> torch.allclose(avg_pool2d(x, 2), F.conv2d(x, box, stride=2, groups=3))
    True

    On VGG-16's last feature map, its first dense layer has 200 times the parameters of global
    average pooling followed by the 1000-class layer:

    >>> C, H, W = VGG16["channels"], VGG16["height"], VGG16["width"]
    >>> dense = nn.Linear(C * H * W, VGG16["hidden"], device="meta")
    >>> gap_head = nn.Linear(C, VGG16["classes"], device="meta")
    >>> [sum(p.numel() for p in m.parameters()) for m in (dense, gap_head)]
    [102764544, 513000]

    No parameters in the pooling, yet the network still memorizes 16 random labels:

    >>> images, labels = torch.randn(16, 3, 8, 8), torch.randint(0, 2, (16,))
    >>> net = nn.Sequential(nn.Conv2d(3, 32, 3), nn.ReLU(), nn.Conv2d(32, 32, 3), nn.ReLU(),
    ...                     nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 2))
    >>> opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    >>> for _ in range(50):
    ...     opt.zero_grad(); F.cross_entropy(net(images), labels).backward(); opt.step()
    >>> bool((net(images).argmax(1) == labels).all())
    True
    """
    check.flag("count_include_pad", count_include_pad)
    if divisor_override is not None:  # PyTorch also takes a negative divisor; refused on purpose (Notes)
        divisor_override = check.integer("divisor_override", divisor_override, low=1)
    x, kernel, stride, dilation, pads = _pool_setup(input, kernel_size, stride, padding, 1, ceil_mode)
    sums = _sliding.windows(_sliding.pad(x, pads), kernel, stride, dilation).sum(dim=(-2, -1))  # (B, C, H_out, W_out)
    if divisor_override is not None:
        y = sums / divisor_override
    else:
        # N_ij: how many cells of window (i, j) are inside the input (plus the padding, if counted)
        inner = [(p, p) for p, _ in pads] if count_include_pad else [(0, 0), (0, 0)]
        ones = _sliding.pad(x.new_ones(1, 1, *x.shape[2:]), inner, value=1.0)
        mask = _sliding.pad(ones, [(p - a, q - b) for (p, q), (a, b) in zip(pads, inner)])  # (1, 1, H + pads, W + pads)
        y = sums / _sliding.windows(mask, kernel, stride, dilation).sum(dim=(-2, -1))
    return y if input.dim() == 4 else y.squeeze(0)
