"""Each exercise's checks: its random inputs, its oracle, its claims, edge cases, bad input and known mistakes.

One function per exercise, in the module of its part (``nnfaq.judge.suites.foundations``, ...),
registered under the exercise's id with ``@_suite(id)``; it returns the
:class:`~nnfaq.judge.checks.Suite` that :func:`nnfaq.judge.runner.run_checks` runs. The oracle is
PyTorch's operation where PyTorch has it, else the stated math written out here. The messages of
:class:`~nnfaq.judge.checks.Mistake` rows name the classic wrong versions, so that a learner who
makes one is told which.

Examples
--------
>>> s = suite("softmax")
>>> [c.kind for c in s.ordered()][:2]
['forward', 'gradient']
>>> sorted(SUITES) == sorted(e.id for e in EXERCISES)
True
"""

from __future__ import annotations

from nnfaq.judge.exercises import EXERCISES
from nnfaq.judge.suites import (  # noqa: F401 (importing a part registers its suites)
    convnets,
    efficiency,
    foundations,
    representations,
    sequences,
    training,
    transformers,
)
from nnfaq.judge.suites._base import SUITES, suite

__all__ = ["SUITES", "suite"]


assert set(SUITES) == {e.id for e in EXERCISES}, sorted(set(SUITES) ^ {e.id for e in EXERCISES})
