"""The registry of the suites (``@_suite(id)``) and the helpers every part's suites share."""

from __future__ import annotations

import math

import torch

from nnfaq.judge.checks import (
    F64,
    Suite,
    call,
    expect,
)

SUITES: dict = {}
INF = math.inf
_NOT_A_TENSOR = "input is a list, not a tensor"


def _suite(id: str):
    def register(fn):
        SUITES[id] = fn
        return fn

    return register


def suite(exercise_id: str) -> Suite:
    """The checks of exercise ``exercise_id``, built fresh."""
    return SUITES[exercise_id]()


def _t(values, dtype=F64) -> torch.Tensor:
    return torch.tensor(values, dtype=dtype)


def _grad(fn, x: torch.Tensor, **kwargs) -> tuple[torch.Tensor, torch.Tensor]:
    """The user's ``fn(x, **kwargs)`` and the gradient of its sum with respect to ``x``."""
    x = x.detach().clone().requires_grad_(True)
    y = call(fn, {"input": x, **kwargs})
    expect(isinstance(y, torch.Tensor) and y.requires_grad, "the output does not depend on the input through autograd")
    (g,) = torch.autograd.grad(y.sum(), x, allow_unused=True)
    return y.detach(), torch.zeros_like(x) if g is None else g


def _close(a, b, tol=1e-7) -> bool:
    return (
        isinstance(a, torch.Tensor)
        and a.shape == b.shape
        and bool(torch.allclose(a.double(), b.double(), rtol=tol, atol=tol))
    )
