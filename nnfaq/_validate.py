"""Argument checks shared by every topic module.

Each check raises ``TypeError`` (wrong kind of object) or ``ValueError`` (right kind, wrong value)
with a message that names the argument and says what was expected, so bad input never reaches
torch and never returns a silently wrong answer.
"""

from __future__ import annotations

import math
import numbers

import torch


def tensor(
    name: str,
    x,
    *,
    ndim: int | tuple[int, ...] | None = None,
    min_ndim: int | None = None,
    floating: bool = True,
    finite: bool = False,
) -> torch.Tensor:
    """Check that ``x`` is a tensor of the expected rank and dtype kind; return it."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if floating and not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if x.dim() not in allowed:
            want = " or ".join(str(n) for n in allowed)
            raise ValueError(f"{name} must have {want} dimensions, got shape {tuple(x.shape)}")
    if min_ndim is not None and x.dim() < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimensions, got shape {tuple(x.shape)}")
    if finite and x.is_floating_point() and not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} must contain only finite values (no NaN or inf)")
    return x


def number(
    name: str,
    value,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Check that ``value`` is a real number in the given interval; return it as float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if math.isnan(value):
        raise ValueError(f"{name} must be a number, got nan")
    below = low is not None and (value <= low if low_open else value < low)
    above = high is not None and (value >= high if high_open else value > high)
    if below or above:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        raise ValueError(f"{name} must be in {left}{lo}, {hi}{right}, got {value:g}")
    return value


def integer(name: str, value, *, low: int | None = None) -> int:
    """Check that ``value`` is an int (not a bool) of at least ``low``; return it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if low is not None and value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    return int(value)


def same_shape(name: str, x: torch.Tensor, expected: tuple[int, ...], what: str = "") -> None:
    """Check ``x.shape == expected``; ``what`` says where the expected shape comes from."""
    if tuple(x.shape) != tuple(expected):
        source = f" ({what})" if what else ""
        raise ValueError(f"{name} must have shape {tuple(expected)}{source}, got {tuple(x.shape)}")


def flag(name: str, value) -> bool:
    """Check that ``value`` is a bool; return it."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__}")
    return value


def choice(name: str, value, options: tuple[str, ...]) -> str:
    """Check that ``value`` is one of the given strings; return it."""
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {', '.join(repr(o) for o in options)}; got {value!r}")
    return value


def int_tuple(name: str, value, n: int, *, low: int | None = None) -> tuple[int, ...]:
    """Check that ``value`` is an int or a sequence of ``n`` ints, each at least ``low``; return an ``n``-tuple.

    The way PyTorch takes ``kernel_size``, ``stride``, ``padding`` and ``dilation``: ``3`` means ``(3, 3)`` in 2-D.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral | tuple | list):
        raise TypeError(f"{name} must be an int or a tuple of {n} ints, got {type(value).__name__}")
    values = (value,) * n if isinstance(value, numbers.Integral) else tuple(value)
    if len(values) != n or any(isinstance(v, bool) or not isinstance(v, numbers.Integral) for v in values):
        raise ValueError(f"{name} must be an int or a tuple of {n} ints, got {value!r}")
    if low is not None and min(values) < low:
        raise ValueError(f"{name} must be >= {low}, got {value!r}")
    return tuple(int(v) for v in values)


def same_dtype(ref_name: str, ref: torch.Tensor, **tensors) -> None:
    """Check that every given tensor (``None`` is skipped) has the dtype of ``ref``, which is named ``ref_name``."""
    for name, t in tensors.items():
        if t is not None and t.dtype != ref.dtype:
            raise TypeError(f"{name} must have the dtype of {ref_name} ({ref.dtype}), got {t.dtype}")


def batch_broadcast(first: torch.Tensor, **tensors) -> tuple[int, ...]:
    """Check that the batch dimensions (all but the last two) of ``first`` and the given tensors broadcast.

    Return the broadcast batch shape; the error names the first tensor that does not fit.
    """
    batch = first.shape[:-2]
    for name, t in tensors.items():
        try:
            batch = torch.broadcast_shapes(batch, t.shape[:-2])
        except RuntimeError:
            raise ValueError(
                f"{name} must have batch dimensions (all but the last two) that broadcast with {tuple(batch)}, "
                f"got shape {tuple(t.shape)}"
            ) from None
    return tuple(batch)


def probabilities(name: str, x: torch.Tensor) -> None:
    """Check that every entry of the tensor ``x`` is a probability in [0, 1] (NaN is refused)."""
    if bool(((x < 0) | (x > 1) | x.isnan()).any()):
        raise ValueError(f"{name} must contain probabilities in [0, 1]")
