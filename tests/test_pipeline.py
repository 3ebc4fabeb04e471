"""The test and build pipeline itself: checks that must fail loudly do fail."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_zero_collected_doctests_fails_the_run():
    # nnfaq/_validate.py has no doctests: a run over it must fail, not pass silently
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "nnfaq/_validate.py"], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 1
    assert "zero doctests were collected" in proc.stderr + proc.stdout
