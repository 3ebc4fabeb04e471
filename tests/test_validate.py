"""The shared argument checks: each names the argument and what was expected."""

import numpy as np
import pytest
import torch

from nnfaq import _validate as check


def test_choice_rejects_non_strings_naming_the_argument():
    assert check.choice("mode", "fan_in", ("fan_in", "fan_out")) == "fan_in"
    for bad in (np.array(["fan_in"]), 3, None, ["fan_in"]):
        with pytest.raises(ValueError, match="mode must be one of 'fan_in', 'fan_out'"):
            check.choice("mode", bad, ("fan_in", "fan_out"))


def test_tensor_checks():
    with pytest.raises(TypeError, match="x must be a torch.Tensor, got list"):
        check.tensor("x", [1.0])
    with pytest.raises(TypeError, match="x must be a floating-point tensor"):
        check.tensor("x", torch.arange(3))
    with pytest.raises(ValueError, match=r"x must have 2 or 3 dimensions, got shape \(4,\)"):
        check.tensor("x", torch.zeros(4), ndim=(2, 3))
    with pytest.raises(ValueError, match="x must contain only finite values"):
        check.tensor("x", torch.tensor([1.0, float("nan")]), finite=True)


@pytest.mark.parametrize(
    ("kwargs", "value", "message"),
    [
        ({"low": 0.0, "high": 1.0, "high_open": True}, 1.0, r"p must be in \[0, 1\), got 1"),
        ({"low": 0.0, "low_open": True}, 0.0, r"p must be in \(0, inf\], got 0"),
        ({}, float("nan"), "p must be a number, got nan"),
    ],
)
def test_number_intervals(kwargs, value, message):
    with pytest.raises(ValueError, match=message):
        check.number("p", value, **kwargs)


def test_number_and_integer_reject_bools():
    with pytest.raises(TypeError, match="p must be a real number, got bool"):
        check.number("p", True)
    with pytest.raises(TypeError, match="n must be an int, got bool"):
        check.integer("n", True)
    with pytest.raises(ValueError, match="n must be >= 1, got 0"):
        check.integer("n", 0, low=1)


def test_same_dtype_names_the_first_mismatch_and_skips_none():
    q = torch.zeros(2, 3, dtype=torch.float64)
    check.same_dtype("query", q, key=q, bias=None)
    with pytest.raises(TypeError, match=r"value must have the dtype of query \(torch.float64\), got torch.float32"):
        check.same_dtype("query", q, key=q, value=q.float())


def test_batch_broadcast_returns_the_batch_or_names_the_tensor():
    q, k = torch.zeros(4, 1, 5, 3), torch.zeros(2, 6, 3)
    assert check.batch_broadcast(q, key=k) == (4, 2)
    with pytest.raises(ValueError, match=r"value must have batch dimensions .* broadcast with \(4, 2\), got shape"):
        check.batch_broadcast(q, key=k, value=torch.zeros(3, 6, 3))


def test_probabilities_refuses_out_of_range_and_nan():
    check.probabilities("target", torch.tensor([0.0, 0.5, 1.0]))
    for bad in (-1e-9, 1 + 1e-9, float("nan")):
        with pytest.raises(ValueError, match=r"target must contain probabilities in \[0, 1\]"):
            check.probabilities("target", torch.tensor([0.5, bad], dtype=torch.float64))
