"""The test and build pipeline itself: checks that must fail loudly do fail."""

import subprocess
import sys
from pathlib import Path

import nnfaq_conf
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "workers", [[], ["-n", "1", "--dist", nnfaq_conf.SETTINGS["pytest"]["distribution"]]], ids=["serial", "xdist"]
)
def test_zero_collected_doctests_fails_the_run(workers):
    # nnfaq/_repro.py has no doctests (nor a torch import, so the run is quick): a run over it must fail,
    # not pass silently, in one process and with pytest-xdist's workers (as `nox -s tests` runs)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", *workers, "nnfaq/_repro.py"], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "zero doctests were collected" in proc.stderr + proc.stdout


def test_the_sessions_cpu_only_manual_seed_draws_what_torchs_does():
    # conftest.py drops torch.manual_seed's queue for accelerators in the test process (seconds of a run)
    # (once torch._dynamo is imported, torch.manual_seed is its wrapper around ours: functools.wraps keeps the mark)
    ours, torchs = torch.manual_seed, torch.random.manual_seed.__wrapped__
    assert ours.__nnfaq_cpu_only__ and torch.random.manual_seed.__nnfaq_cpu_only__
    assert torchs.__module__ == "torch.random"
    for seed in (0, 7, 2**40, -3):
        torchs(seed)
        expected = torch.get_rng_state(), torch.randn(5), torch.initial_seed()
        assert ours(seed) is torch.default_generator
        assert torch.equal(torch.get_rng_state(), expected[0]) and torch.equal(torch.randn(5), expected[1])
        assert torch.initial_seed() == expected[2]
