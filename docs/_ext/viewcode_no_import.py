"""viewcode finds a module's file without importing it, so a build with nothing to do imports no torch.

At every build, ``sphinx.ext.viewcode`` asks each documented module for its file, to see whether its
highlighted source page is older than the module; it does so through ``ModuleAnalyzer.get_module_source``,
which imports the module (Sphinx 9.0). Importing the topic modules imports torch: seconds of a no-change
build spent on a question ``importlib.util.find_spec`` answers from the file system (it imports only the
parent packages, which hold no code). Anything find_spec cannot place as a ``.py`` file goes the old way.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from sphinx.ext import viewcode

_imported_way = viewcode.get_module_filename


def get_module_filename(app, modname: str) -> Path | None:
    """What ``viewcode.get_module_filename`` returns, read from the module's spec."""
    if app.events.emit_firstresult("viewcode-find-source", modname):
        return None  # as viewcode does: the page is then always written
    try:
        spec = importlib.util.find_spec(modname)
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.origin and spec.origin.endswith(".py"):
        return Path(spec.origin)
    return _imported_way(app, modname)


def setup(app):
    app.setup_extension("sphinx.ext.viewcode")
    viewcode.get_module_filename = get_module_filename  # read by viewcode.should_generate_module_page
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
