"""Read conf/settings.toml and apply the reproducibility settings; used by nox, Sphinx and pytest.

Kept free of third-party imports at module level so nox can read it before anything is installed.
"""

from __future__ import annotations

import os
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
    import torch

    repro = SETTINGS["reproducibility"]
    torch.manual_seed(repro["seed"])
    # the determinism check (tools/determinism.py) reruns everything with other thread counts
    torch.set_num_threads(int(os.environ.get("NNFAQ_TORCH_THREADS", repro["torch_threads"])))
    torch.set_default_dtype(torch.float32)
    torch.set_grad_enabled(True)
    torch.use_deterministic_algorithms(False)
    plt.close("all")
    matplotlib.rcdefaults()
    plt.style.use(str(MPLSTYLE))
