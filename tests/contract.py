"""The refusals every public function shares, as one table (scikit-learn's ``test_common.py`` pattern).

Each part keeps its rows in ``tests/<part>/contract.py`` as ``CASES = [Case(...), ...]``; the one test in
``tests/test_contract.py`` runs every row. A row is a valid call and which arguments take which kinds::

    Case(dropout, lambda: {"input": torch.randn(2, 3), "p": 0.5, "training": True},
         tensor=["input"], number={"p": "[0, 1)"}, flag=["training"])

For every argument named, each value that its kind refuses is put in its place, one at a time, and the
call must raise ValueError or TypeError whose message names the argument. The valid call must succeed.

Kinds: ``tensor`` (a floating-point tensor), ``tensor_any`` (a tensor of any dtype), ``number`` (a real
number in an interval written ``"[low, high)"``, ``"(0, inf)"``...; NaN is always refused), ``integer``
(an int, with an optional lowest value), ``flag`` (a bool), ``choice`` (one of some strings).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

NOT_A_TENSOR = [None, 1, 1.5, "x", [1.0, 2.0]]
NOT_A_NUMBER = [None, True, "0.5", [0.5], math.nan]
NOT_AN_INT = [None, True, 1.5, "2"]
NOT_A_FLAG = [None, 1, 0.0, "yes"]
NOT_A_CHOICE = [None, 3, "no-such-option"]


def interval(text: str) -> tuple[float, float, bool, bool]:
    """``"[0, 1)"`` -> (low, high, low_open, high_open)."""
    text = text.strip()
    low_open, high_open = text[0] == "(", text[-1] == ")"
    low, high = (float(v) for v in text[1:-1].split(","))
    return low, high, low_open, high_open


def out_of_range(text: str) -> list[float]:
    """Values just outside the interval (the endpoint itself where it is open), and its far side."""
    low, high, low_open, high_open = interval(text)
    bad = []
    if math.isfinite(low):
        bad += [low] if low_open else []
        bad += [low - 1.0 if low != 0 else -1e-3, low - 1e6]
    if math.isfinite(high):
        bad += [high] if high_open else []
        bad += [high + 1e-3 * max(1.0, abs(high)), high + 1e6]
    return bad


@dataclass
class Case:
    """A valid call of ``fn`` (``call`` makes fresh keyword arguments) and the kind of each checked argument."""

    fn: object
    call: object
    tensor: list[str] = field(default_factory=list)
    tensor_any: list[str] = field(default_factory=list)
    number: dict[str, str] = field(default_factory=dict)
    integer: dict[str, int | None] = field(default_factory=dict)
    flag: list[str] = field(default_factory=list)
    choice: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.fn.__module__.removeprefix('nnfaq.')}.{self.fn.__name__}"

    def kwargs(self) -> dict:
        return self.call() if callable(self.call) else dict(self.call)

    def bad_values(self):
        """(argument, bad value) pairs this row must refuse."""
        for name in self.tensor:
            yield from ((name, v) for v in [*NOT_A_TENSOR, torch.zeros(2, 3, dtype=torch.int64)])
        for name in self.tensor_any:
            yield from ((name, v) for v in NOT_A_TENSOR)
        for name, text in self.number.items():
            yield from ((name, v) for v in [*NOT_A_NUMBER, *out_of_range(text)])
        for name, low in self.integer.items():
            yield from ((name, v) for v in [*NOT_AN_INT, *([] if low is None else [low - 1])])
        for name in self.flag:
            yield from ((name, v) for v in NOT_A_FLAG)
        for name in self.choice:
            yield from ((name, v) for v in NOT_A_CHOICE)
