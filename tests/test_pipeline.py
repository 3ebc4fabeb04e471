"""The test and build pipeline itself: checks that must fail loudly do fail."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("workers", [[], ["-n", "1"]], ids=["serial", "xdist"])
def test_zero_collected_doctests_fails_the_run(workers):
    # nnfaq/_repro.py has no doctests (nor a torch import, so the run is quick): a run over it must fail,
    # not pass silently, in one process and with pytest-xdist's workers (as `nox -s tests` runs)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", *workers, "nnfaq/_repro.py"], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "zero doctests were collected" in proc.stderr + proc.stdout
