"""Tensors, strides and views

How a tensor is laid out in memory (shape, strides, offset), what contiguous means, when
``view`` can reinterpret a tensor without copying and when it fails, and what ``reshape`` and
``contiguous`` do instead.
"""

from __future__ import annotations

import math
import numbers

import torch

from nnfaq import _validate as check
from nnfaq._registry import question

__all__ = ["is_contiguous", "view_strides"]


def _ints(name: str, value) -> tuple[int, ...]:
    if not isinstance(value, tuple | list | torch.Size) or not all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value
    ):
        raise TypeError(f"{name} must be a tuple of ints, got {value!r}")
    return tuple(int(v) for v in value)


@question(
    "what-is-contiguous",
    level="intermediate",
    short=(
        "A tensor is a view of a flat storage: element (i, j) lives at offset + i*stride[0] + j*stride[1]. It is "
        "contiguous when its strides are row-major, each the product of the later sizes. transpose, permute, "
        "expand and slicing only change strides, never copy, so their results are often not contiguous; "
        ".contiguous() copies only then."
    ),
    followups=("view-vs-reshape",),
)
def is_contiguous(shape, stride) -> bool:
    r"""Whether a tensor of this ``shape`` and ``stride`` is contiguous (row-major), as ``Tensor.is_contiguous()``.

    **What does it mean for a tensor to be contiguous, and how do strides work?**

    A tensor is a window on a flat block of memory (its storage): element :math:`(i_0, i_1,
    \ldots)` lives at :math:`\text{offset} + \sum_k i_k\,\text{stride}_k`. It is contiguous when
    its strides are those of a row-major (C-order) array of its shape: the last dimension's
    stride is 1 and each earlier stride is the product of the later sizes, so the elements sit in
    memory in the order a loop over the indices visits them. ``transpose``, ``permute``,
    ``expand`` and slicing return views that only change the shape, strides and offset, never
    the data, so they are fast and their results are often not contiguous. ``.contiguous()``
    returns the tensor itself when it already is, and a row-major copy otherwise. Dimensions of
    size 1 can have any stride (they are never stepped over).

    .. math::

        \text{contiguous} \iff \text{stride}_k = \prod_{j > k} \text{size}_j
        \ \text{ for every } k \text{ with } \text{size}_k > 1 \ (\text{or the tensor is empty})

    Parameters
    ----------
    shape, stride : tuple of int
        Of the same length; sizes at least 0.

    Returns
    -------
    bool

    See Also
    --------
    torch.Tensor.is_contiguous, torch.Tensor.stride, torch.as_strided

    Examples
    --------
    >>> t = torch.arange(12.0).reshape(3, 4)
    >>> t.stride(), is_contiguous(t.shape, t.stride())
    ((4, 1), True)

    Transposing swaps the strides and copies nothing, so the result shares the storage and is
    not contiguous; ``.contiguous()`` then copies:

    >>> u = t.T
    >>> u.stride(), u.data_ptr() == t.data_ptr(), is_contiguous(u.shape, u.stride()), u.is_contiguous()
    ((1, 4), True, False, False)
    >>> u.contiguous().data_ptr() == t.data_ptr(), t.contiguous().data_ptr() == t.data_ptr()
    (False, True)

    The address formula is how indexing works: rebuilding ``u`` from the storage with its
    strides gives ``u``:

    >>> torch.equal(torch.as_strided(t, u.shape, u.stride(), u.storage_offset()), u)
    True
    >>> i, j = 3, 1
    >>> u[i, j].item() == t.flatten()[u.storage_offset() + i * u.stride(0) + j * u.stride(1)].item()
    True

    It agrees with PyTorch on every permutation, slice and broadcast of a tensor:

    >>> x = torch.randn(2, 3, 4)
    >>> views = [x, x.permute(2, 0, 1), x[:, 1:], x[..., ::2], x[:1], x.unsqueeze(1), x[:, :1].expand(2, 5, 4)]
    >>> all(is_contiguous(v.shape, v.stride()) == v.is_contiguous() for v in views)
    True
    """
    shape, stride = _ints("shape", shape), _ints("stride", stride)
    if len(shape) != len(stride):
        raise ValueError(f"stride must have one entry per dimension of shape {shape}, got {stride}")
    if min(shape, default=1) < 0:
        raise ValueError(f"shape must have sizes >= 0, got {shape}")
    if 0 in shape:
        return True  # an empty tensor has no element out of place
    expected = 1
    for size, st in zip(reversed(shape), reversed(stride)):
        # a size-1 dimension is never stepped over: its stride does not matter
        if size != 1 and st != expected:
            return False
        expected *= size
    return True


@question(
    "view-vs-reshape",
    level="intermediate",
    short=(
        "view reinterprets the same memory with new strides and never copies, so it fails when the new shape "
        "cannot be expressed as strides over the existing layout, typically after a transpose. reshape returns a "
        "view when one exists and a copy otherwise; contiguous() copies to row-major if needed. Neither changes "
        "the element count: 2 elements cannot become (2, 6)."
    ),
    followups=("what-is-contiguous",),
)
def view_strides(input: torch.Tensor, shape) -> tuple[int, ...] | None:
    r"""The strides ``input.view(shape)`` would have, or None where ``view`` fails (PyTorch's rule, from scratch).

    **What is the difference between view, reshape and contiguous, and when does view fail?**

    ``view`` returns a tensor on the *same* memory with a new shape and new strides; it never
    copies, so writes through the view change the original. That is possible only when each group
    of old dimensions merged or split by the new shape is laid out with uniform steps in memory,
    which a contiguous tensor always satisfies and a transposed one usually does not: there
    ``view`` raises and tells you to use ``reshape``. ``reshape`` returns a view when one exists
    and a copy otherwise (so whether it aliases its input depends on the layout), and
    ``.contiguous()`` makes a row-major copy only when needed, after which any ``view`` works. All
    three keep the number of elements: a shape with a different product is an error, whatever the
    layout.

    Parameters
    ----------
    input : torch.Tensor
        Any tensor.
    shape : tuple of int
        The requested shape; one entry may be ``-1`` (inferred).

    Returns
    -------
    tuple of int or None
        The strides of the view, or None if ``input.view(shape)`` raises because of the layout.

    Raises
    ------
    ValueError
        If ``shape`` does not have ``input.numel()`` elements (``view`` and ``reshape`` refuse too).

    See Also
    --------
    torch.Tensor.view, torch.Tensor.reshape, torch.Tensor.contiguous, is_contiguous

    Notes
    -----
    The rule follows ATen's ``computeStride``: walking from the last dimension, consecutive old
    dimensions that are contiguous with each other form a chunk; every chunk must be split into
    new dimensions whose sizes multiply to the chunk's size exactly.

    .. admonition:: Common mistake

        "``a = torch.range(3, 4); a.view(2, 6)`` reshapes ``a`` into two rows of six."

        ``torch.range(3, 4)`` is deprecated and includes its end point: it holds the two numbers
        3 and 4, and two elements cannot be viewed as twelve; ``view`` raises whatever the layout.
        Use ``torch.arange`` (end excluded), e.g. ``torch.arange(12).view(2, 6)``. The examples
        show both.

    Examples
    --------
    The strides match PyTorch's view, and a transposed tensor cannot be flattened by ``view``:

    >>> t = torch.arange(24.0).reshape(2, 3, 4)
    >>> view_strides(t, (6, 4)) == t.view(6, 4).stride(), view_strides(t, (2, -1))
    (True, (12, 1))
    >>> u = t.transpose(1, 2)  # (2, 4, 3), strides (12, 1, 4)
    >>> view_strides(u, (2, 12)) is None
    True
    >>> u.view(2, 12)
    Traceback (most recent call last):
    ...
    RuntimeError: view size is not compatible with input tensor's size and stride ... Use .reshape(...) instead.

    Yet splitting or merging dimensions that stay contiguous with each other works even on that
    transposed tensor:

    >>> view_strides(u, (2, 2, 2, 3)) == u.view(2, 2, 2, 3).stride()
    True

    ``reshape`` copies exactly when ``view`` would fail; a view shares memory, so writes show
    through:

    >>> u.reshape(2, 12).data_ptr() == u.data_ptr(), t.reshape(6, 4).data_ptr() == t.data_ptr()
    (False, True)
    >>> v = t.view(6, 4)
    >>> v[0, 0] = 100.0
    >>> t[0, 0, 0].item()
    100.0
    >>> u.contiguous().view(2, 12).shape
    torch.Size([2, 12])

    The seed notes' example: ``torch.range`` is deprecated and end-inclusive, two elements:

    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     a = torch.range(3, 4)
    >>> a.tolist(), any("deprecated" in str(w.message) for w in caught)
    ([3.0, 4.0], True)
    >>> a.view(2, 6)
    Traceback (most recent call last):
    ...
    RuntimeError: shape '[2, 6]' is invalid for input of size 2
    >>> torch.arange(12).view(2, 6).shape
    torch.Size([2, 6])
    """
    check.tensor("input", input, floating=False)
    new = list(_ints("shape", shape))
    n = input.numel()
    if new.count(-1) > 1 or any(s < -1 for s in new):
        raise ValueError(f"shape must have sizes >= 0 and at most one -1, got {tuple(new)}")
    if -1 in new:
        known = math.prod(s for s in new if s != -1)
        if known == 0 or n % known:
            raise ValueError(f"shape {tuple(new)} cannot be inferred for input of size {n}")
        new[new.index(-1)] = n // known
    if math.prod(new) != n:
        raise ValueError(f"shape {tuple(new)} must have the {n} elements of input")
    old_shape, old_stride = list(input.shape), list(input.stride())
    if n == 0 or not old_shape:
        # no element to lay out (or a scalar): any shape with the same size is a contiguous view
        return tuple(math.prod(new[i + 1 :]) for i in range(len(new)))
    strides = [0] * len(new)
    view_d = len(new) - 1
    chunk_stride = old_stride[-1]  # the memory step of the innermost element of the current chunk
    tensor_numel = view_numel = 1
    for d in range(len(old_shape) - 1, -1, -1):
        tensor_numel *= old_shape[d]
        # a chunk ends where the next old dimension out is not laid out right after this one
        if d == 0 or (old_shape[d - 1] != 1 and old_stride[d - 1] != tensor_numel * chunk_stride):
            # new dimensions (inner first) take up the chunk's elements, each stepping over the ones inside it
            while view_d >= 0 and (view_numel < tensor_numel or new[view_d] == 1):
                strides[view_d] = view_numel * chunk_stride
                view_numel *= new[view_d]
                view_d -= 1
            if view_numel != tensor_numel:
                return None  # a new dimension would span two chunks
            if d > 0:
                chunk_stride = old_stride[d - 1]
                tensor_numel = view_numel = 1
    return tuple(strides) if view_d == -1 else None
