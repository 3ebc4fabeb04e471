"""Sliding windows shared by the convolution, conv_arithmetic and resampling topics: sizes, padding, window views.

A convolution, a transposed convolution's adjoint and a pooling layer all look at the same windows of a padded
input; this module computes them once, with PyTorch's rules for ``padding``, ``stride`` and ``dilation``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from nnfaq import _validate as check


def output_size(n: int, k: int, s: int, p: int, d: int, ceil_mode: bool = False) -> int:
    """How many windows of a kernel ``k`` with dilation ``d`` fit in ``n`` positions padded by ``p``, stepping by ``s``.

    ValueError naming ``kernel_size`` if the dilated kernel is larger than the padded input.
    """
    span = d * (k - 1) + 1
    if n + 2 * p < span:
        raise ValueError(f"kernel_size must fit in the padded input: dilated kernel {span}, padded input {n + 2 * p}")
    # floor (or ceil) of (n + 2p - d(K - 1) - 1) / s, plus 1
    return (-(-(n + 2 * p - span) // s) if ceil_mode else (n + 2 * p - span) // s) + 1


def windows(x: torch.Tensor, kernel, stride, dilation) -> torch.Tensor:
    """Every kernel-sized window of the already padded ``x``: ``(B, C, *S)`` to the view ``(B, C, *O, *K)``."""
    for d, (k, s, dil) in enumerate(zip(kernel, stride, dilation)):
        # a window spans dil * (k - 1) + 1 positions; keep every dil-th one
        x = x.unfold(2 + d, dil * (k - 1) + 1, s)[..., ::dil]  # appends this window dimension at the end
    return x


def ints(name: str, value, n: int, low: int | None = None) -> tuple[int, ...]:
    """``value`` as an ``n``-tuple of ints, as PyTorch reads ``kernel_size``, ``stride``, ``padding``, ``dilation``.

    An int, a sequence of ``n`` ints, or a sequence of one int (PyTorch repeats it); each at least ``low``.
    """
    if isinstance(value, tuple | list) and len(value) == 1 and n > 1:
        value = value[0]
    return check.int_tuple(name, value, n, low=low)


def pads(padding, kernel, stride, dilation) -> list[tuple[int, int]]:
    """(left, right) padding per spatial dimension, PyTorch's rules for int, tuple, "valid" and "same"."""
    n = len(kernel)
    if isinstance(padding, str):
        check.choice("padding", padding, ("same", "valid"))
        if padding == "valid":
            return [(0, 0)] * n
        if any(s != 1 for s in stride):
            raise ValueError(f"padding='same' needs stride=1, got stride={stride}")
        # total padding dil * (k - 1); for an even kernel the extra zero goes at the end, as in PyTorch
        return [(dil * (k - 1) // 2, dil * (k - 1) - dil * (k - 1) // 2) for k, dil in zip(kernel, dilation)]
    return [(p, p) for p in ints("padding", padding, n, low=0)]


def pad(x: torch.Tensor, pads, value: float = 0.0) -> torch.Tensor:
    """Pad the spatial dimensions of ``(B, C, *S)`` by the (left, right) pairs ``pads``."""
    # F.pad takes (left, right) pairs starting from the last dimension
    return F.pad(x, [p for pair in reversed(pads) for p in pair], value=value)


def check_nonempty(input: torch.Tensor, n: int, weight: torch.Tensor | None = None) -> None:
    """ValueError if ``weight`` has a zero-size dimension, or ``input`` zero channels or a zero spatial size.

    The channels are checked only with a ``weight`` (a convolution). A zero batch is fine: PyTorch returns an empty
    batch; a zero channel, kernel or spatial size is refused.
    """
    if weight is not None and 0 in weight.shape:
        raise ValueError(f"weight must have no zero-size dimension, got shape {tuple(weight.shape)}")
    if 0 in input.shape[-n - (weight is not None) :]:
        what = "channels and spatial sizes" if weight is not None else "spatial sizes"
        raise ValueError(f"input must have {what} >= 1, got shape {tuple(input.shape)}")


def check_fits(x: torch.Tensor, kernel, dilation, name: str = "weight") -> None:
    """ValueError naming ``name`` if the dilated kernel is larger than the padded ``(B, C, *S)`` input."""
    spans = tuple(dil * (k - 1) + 1 for k, dil in zip(kernel, dilation))
    sizes = tuple(x.shape[2:])
    if any(span > size for span, size in zip(spans, sizes)):
        raise ValueError(f"{name} must fit in the padded input: dilated kernel size {spans}, padded input size {sizes}")
