"""Read conf/settings.toml and apply the reproducibility settings; used by nox, Sphinx and pytest.

Kept free of third-party imports at module level so nox can read it before anything is installed.
"""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path

CONF_DIR = Path(__file__).resolve().parent
ROOT = CONF_DIR.parent
SETTINGS = tomllib.loads((CONF_DIR / "settings.toml").read_text(encoding="utf-8"))
CONSTRAINTS = CONF_DIR / "constraints.txt"
MPLSTYLE = CONF_DIR / SETTINGS["matplotlib"]["style"]
PYTEST_WORKERS = ["-n", str(SETTINGS["pytest"]["workers"]), "--dist", SETTINGS["pytest"]["distribution"]]  # nox, bench


def reset_state() -> None:
    """Put torch and matplotlib in the documented starting state: seeded, single-threaded, defaults.

    Called before every test and doctest (conftest.py) and before every gallery example (Sphinx, which
    imports pyplot first). matplotlib is reset once pyplot is imported: no test or doctest plots, and
    importing it for them would cost each pytest worker a second. Its settings are re-applied only
    when something changed them since the last reset (a full reset costs about 3 ms, which over 2,500
    tests is seconds of the pytest phase).
    """
    import sys

    from nnfaq import _repro

    global _STYLED
    _repro.reset()
    if "matplotlib.pyplot" not in sys.modules:
        return
    import matplotlib
    import matplotlib.pyplot as plt

    plt.close("all")
    if _STYLED is None or dict.items(matplotlib.rcParams) != _STYLED.items():
        matplotlib.rcdefaults()
        plt.style.use(str(MPLSTYLE))
        _STYLED = copy.deepcopy(dict(dict.items(matplotlib.rcParams)))  # a list changed in place is seen


_STYLED: dict | None = None  # matplotlib's settings as the last reset left them


def reset_example_state(gallery_conf, fname) -> None:
    """sphinx-gallery's ``reset_modules`` hook: :func:`reset_state` before every example.

    First, matplotlib on the Agg backend with sphinx-gallery's warning filters, as sphinx-gallery sets it up
    (docs/_ext/gallery_lazy_matplotlib.py defers that from configuration time to the first example).
    """
    from sphinx_gallery.scrapers import _import_matplotlib

    _import_matplotlib()
    reset_state()
