"""Hypothesis profile for the property tests: derandomized (the same examples on every machine and
run), no per-example deadline (CI machines are slow and shared), no example database on disk."""

import sys
from pathlib import Path

from hypothesis import HealthCheck, settings

# the test files import their shared helpers as `from helpers import ...` (pytest's importlib mode adds no path)
sys.path.insert(0, str(Path(__file__).resolve().parent))

settings.register_profile(
    "nnfaq",
    derandomize=True,
    deadline=None,
    max_examples=20,  # 20 derandomized draws per property: 200 properties stay within the minute the phase has
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile("nnfaq")
