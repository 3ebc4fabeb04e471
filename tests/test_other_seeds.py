"""Every docstring's claims hold for other random draws, not only the seed they were written with (issue 14).

Each topic module's doctests run again, as ``nnfaq check`` runs them, after seeding with other seeds:
an example that starts from ``torch.manual_seed(0)`` inside the docstring keeps its draw, the others get
new ones. A claim that only held for the default seed fails here.

Each topic gets one other seed of its own (from its name, so the same on every run and machine): 40
topics are 40 different draws, at half the cost of running every topic under two fixed seeds. A
docstring whose first example seeds torch itself is not run again: every draw it makes would be the
one its doctest already checked.
"""

import doctest
import importlib
import zlib

import pytest

import nnfaq
from nnfaq import _repro


def other_seed(topic_name: str) -> int:
    """A seed other than the default, stable for the topic: 1 to 10,000."""
    return 1 + zlib.crc32(topic_name.encode()) % 10_000


def test_every_topic_gets_its_own_other_seed():
    seeds = [other_seed(t.name) for t in nnfaq.topics()]
    assert _repro.SEED not in seeds and len(set(seeds)) == len(seeds)


def seeds_itself(test: doctest.DocTest) -> bool:
    """The docstring's first example is ``torch.manual_seed(...)`` (or ``_ = torch.manual_seed(...)``)."""
    first = test.examples[0].source.strip()
    return first.startswith(("torch.manual_seed(", "_ = torch.manual_seed(")) and first.count("\n") == 0


def test_a_docstring_that_seeds_itself_first_is_recognised():
    parse = doctest.DocTestParser().get_doctest
    assert seeds_itself(parse(">>> _ = torch.manual_seed(0)\n>>> torch.rand(1)\n", {}, "a", None, 0))
    assert not seeds_itself(parse(">>> x = torch.rand(1)\n>>> _ = torch.manual_seed(0)\n", {}, "b", None, 0))
    assert not seeds_itself(parse(">>> for _ in range(2):\n...     _ = torch.manual_seed(0)\n", {}, "c", None, 0))


@pytest.mark.parametrize("topic", nnfaq.topics(), ids=lambda t: t.name)
def test_docstring_claims_hold_for_other_seeds(topic):
    module = importlib.import_module(topic.module)
    finder = doctest.DocTestFinder()
    failures = []
    for seed in (other_seed(topic.name),):
        for test in finder.find(module, module.__name__, globs={**vars(module), **_repro.doctest_namespace()}):
            if not test.examples or seeds_itself(test):
                continue
            _repro.reset(seed)
            runner = doctest.DocTestRunner(optionflags=_repro.doctest_flags())
            report = []
            runner.run(test, out=report.append)
            if runner.failures:
                failures.append(f"seed {seed}, {test.name}:\n{''.join(report)[:1500]}")
    assert not failures, "\n".join(failures)
