"""The argument check that the attention functions of this part share."""

from __future__ import annotations

import math

import torch

from nnfaq import _validate as check


def check_qkv(query, key, value, scale=None, *, same_batch: bool = True) -> float:
    """Check ``(*, L, E)`` query, ``(*, S, E)`` key and ``(*, S, Ev)`` value; return the score scale.

    ``same_batch`` asks for identical leading dimensions (the functions that loop over positions do
    not broadcast); the scale defaults to ``1 / sqrt(E)``.
    """
    for name, t in (("query", query), ("key", key), ("value", value)):
        check.tensor(name, t, min_ndim=2)
    check.same_dtype("query", query, key=key, value=value)
    if key.shape[-1] != query.shape[-1]:
        raise ValueError(f"key must have the query's last dimension {query.shape[-1]}, got shape {tuple(key.shape)}")
    if value.shape[-2] != key.shape[-2]:
        raise ValueError(f"value must have as many rows as key ({key.shape[-2]}), got shape {tuple(value.shape)}")
    if same_batch:
        for name, t in (("key", key), ("value", value)):
            if t.shape[:-2] != query.shape[:-2]:
                raise ValueError(
                    f"{name} must have the query's leading dimensions {tuple(query.shape[:-2])}, "
                    f"got shape {tuple(t.shape)}"
                )
    if scale is None:
        return 1.0 / math.sqrt(query.shape[-1]) if query.shape[-1] else 1.0
    return check.number("scale", scale)


def causal_keep(L: int, S: int, offset: int = 0, device=None) -> torch.Tensor:
    """Boolean ``(L, S)`` mask: query ``i`` (at absolute position ``offset + i``) may see keys ``j <= offset + i``."""
    return torch.ones(L, S, dtype=torch.bool, device=device).tril(offset)  # (L, S)
