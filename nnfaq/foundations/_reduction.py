"""The ``reduction`` argument shared by the loss topics: PyTorch's three ways to turn element-wise losses into one."""

from __future__ import annotations

import torch

REDUCTIONS = ("none", "mean", "sum")


def reduce(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    """Average (``'mean'``), add up (``'sum'``) or keep (``'none'``) the element-wise ``loss``."""
    if reduction == "mean":
        return loss.mean()
    return loss.sum() if reduction == "sum" else loss
