"""Read conf/settings.toml and apply the reproducibility settings; used by nox, Sphinx and pytest.

Kept free of third-party imports at module level so nox can read it before anything is installed.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

CONF_DIR = Path(__file__).resolve().parent
ROOT = CONF_DIR.parent
SETTINGS = tomllib.loads((CONF_DIR / "settings.toml").read_text(encoding="utf-8"))
CONSTRAINTS = CONF_DIR / "constraints.txt"
MPLSTYLE = CONF_DIR / SETTINGS["matplotlib"]["style"]


def reset_state() -> None:
    """Put torch and matplotlib in the documented starting state: seeded, single-threaded, defaults.

    Called before every test and doctest (conftest.py) and before every gallery example (Sphinx).
    """
    import matplotlib
    import matplotlib.pyplot as plt

    from nnfaq import _repro

    _repro.reset()
    plt.close("all")
    matplotlib.rcdefaults()
    plt.style.use(str(MPLSTYLE))


def reset_example_state(gallery_conf, fname) -> None:
    """sphinx-gallery's ``reset_modules`` hook: :func:`reset_state` before every example."""
    reset_state()
