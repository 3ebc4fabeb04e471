"""pytest set-up shared by the doctests of nnfaq/, the MyST pages in docs/ and the tests in tests/.

Every test and doctest starts seeded, on one torch thread, with matplotlib's Agg backend and, once
pyplot is imported, the project style (all read from conf/settings.toml). The run fails if doctests
were asked for and none was collected: a silent zero would mean the proofs stopped running.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
sys.path.insert(0, str(Path(__file__).resolve().parent / "conf"))

import nnfaq_conf

_collected_doctests = 0


def pytest_configure(config: pytest.Config) -> None:
    from nnfaq import _repro

    for flag in _repro.DOCTEST_OPTIONFLAGS:
        config.addinivalue_line("doctest_optionflags", flag)


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list) -> None:
    global _collected_doctests
    _collected_doctests = sum(type(item).__name__ == "DoctestItem" for item in items)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Where tests run (one process, or each pytest-xdist worker; never the controller, which collects
    nothing and imports no torch): ``torch.manual_seed`` seeds the CPU generator, as it does, and queues
    nothing for accelerators.

    Besides the CPU generator, ``torch.manual_seed`` queues the seed for CUDA, XPU and MTIA until they are
    initialized, each time with a formatted stack of its caller: about 1.5 ms under pytest, over 1,000 calls
    a run. The tests and proofs run on the CPU and never initialize an accelerator, so in this process the
    queue is dropped; what every seeded draw gives is unchanged (``tests/test_pipeline.py`` checks it, and
    ``nnfaq check``, the docs build and the determinism session run the real function).
    """
    if "torch" not in sys.modules:  # the run imports no torch: nothing to seed
        return
    import torch

    if getattr(torch.manual_seed, "__nnfaq_cpu_only__", False):
        return
    cpu, original = torch.default_generator, torch.random.manual_seed

    def manual_seed(seed):
        return cpu.manual_seed(int(seed))

    manual_seed.__doc__, manual_seed.__wrapped__, manual_seed.__nnfaq_cpu_only__ = original.__doc__, original, True
    torch.manual_seed = torch.random.manual_seed = manual_seed


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node, ids: list[str]) -> None:
    """With pytest-xdist the workers collect and the controller judges: it sees only the test ids
    (every item under nnfaq/ and every .md page is a doctest, the library holding no test files)."""
    global _collected_doctests
    doctests = sum(i.startswith("nnfaq/") or i.split("::")[0].endswith(".md") for i in ids)
    _collected_doctests = max(_collected_doctests, doctests)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    # doctests are expected when the run covers the library or the pages (the default testpaths do)
    roots = [Path(a.split("::")[0]).resolve() for a in config.args]
    here = Path(__file__).resolve().parent
    covers = any(r == here or r.is_relative_to(here / "nnfaq") or r.is_relative_to(here / "docs") for r in roots)
    if hasattr(config, "workerinput"):  # a pytest-xdist worker: the controller checks the whole run
        return
    asked = config.getoption("doctestmodules", False) and not config.getoption("collectonly", False) and covers
    if asked and not config.getoption("keyword") and _collected_doctests == 0 and exitstatus in (0, 5):
        sys.stderr.write("\nERROR: doctests were enabled but zero doctests were collected\n")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(autouse=True)
def _reset_state():
    """Seed, one thread, default dtype, grad mode on, fresh matplotlib style: before every test."""
    nnfaq_conf.reset_state()
    yield


@pytest.fixture(autouse=True)
def _doctest_names(doctest_namespace: dict) -> None:
    """Names every docstring example may use without importing them."""
    from nnfaq import _repro

    doctest_namespace.update(_repro.doctest_namespace())
