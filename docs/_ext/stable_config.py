"""Sphinx extension: pickle the configuration as conf.py wrote it, so an unchanged build re-reads nothing.

Several extensions change configuration values while the build runs (the theme adds its templates
and permalink icon, sphinx-copybutton and sphinx-design their static folders, sphinx-gallery
normalises its settings, css and js files gain a priority). The environment is pickled with those
changed values, so the next build sees "The configuration has changed (9 options ...)" and re-reads
every page. This extension snapshots every value when conf.py has been read, puts the snapshots back
just for the pickling (between ``env-updated`` and ``env-check-consistency``) and then restores the
values the extensions made, so a no-change build compares equal values and reads no page.
"""

from __future__ import annotations

import copy

from sphinx.util._serialise import stable_str

_SNAPSHOT: dict = {}
_RUNTIME: dict = {}


def _snapshot(app, config) -> None:
    for option in config:
        try:
            _SNAPSHOT[option.name] = (copy.deepcopy(option.value), stable_str(option.value))
        except Exception:  # a value that cannot be copied is compared as it is
            continue


def _as_written(app, env) -> None:
    """Before pickling: the values conf.py wrote, wherever an extension changed them."""
    for name, (value, text) in _SNAPSHOT.items():
        current = getattr(app.config, name, None)
        if name not in _RUNTIME and stable_str(current) != text:
            _RUNTIME[name] = current
            app.config[name] = value


def _as_running(app, *args) -> None:
    """After pickling: the values the extensions made, for writing the pages."""
    for name, value in _RUNTIME.items():
        app.config[name] = value
    _RUNTIME.clear()


def setup(app):
    app.connect("config-inited", _snapshot, priority=999)
    app.connect("env-updated", _as_written, priority=999)
    app.connect("env-check-consistency", _as_running, priority=1)
    app.connect("write-started", _as_running, priority=1)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
