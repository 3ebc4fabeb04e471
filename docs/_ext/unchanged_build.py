"""Sphinx extension: a build in which no page changed compiles no template and writes no page.

Sphinx compiles every Jinja template again at each build, and writes the general index, the module
index, the search page and the search index even when no document was read or written (about a
second of a no-change build here). This extension

- gives the HTML builder's Jinja environment a bytecode cache in the doctree folder (Jinja's own
  :class:`jinja2.FileSystemBytecodeCache`, keyed by each template's source: an edited template is
  compiled again);
- skips the HTML builder's ``finish`` step (indices, extension pages, the search page, images, build
  info, search index and inventory) when this build found no document added, changed or removed, and
  wrote none, and the previous build's outputs are all there. Everything those outputs are made of
  is then what the previous build made them from: a changed configuration, template, source or
  dependency makes Sphinx read or write documents, and the step runs as usual.
"""

from __future__ import annotations

from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)

# what the HTML builder's finish step writes; if any is missing, it runs
OUTPUTS = ("genindex.html", "search.html", "searchindex.js", "objects.inv", ".buildinfo")


def _cache_templates(app) -> None:
    environment = getattr(getattr(app.builder, "templates", None), "environment", None)
    if environment is None:
        return
    from jinja2 import FileSystemBytecodeCache

    folder = Path(app.doctreedir) / "jinja"
    folder.mkdir(parents=True, exist_ok=True)
    environment.bytecode_cache = FileSystemBytecodeCache(str(folder))


def _outdated(app, env, added, changed, removed) -> list[str]:
    if added or changed or removed:
        app.unchanged_build_changes.append("sources")
    return []


def _read(app, env, docnames) -> None:
    if docnames:
        app.unchanged_build_changes.append("read")


def _written(app, doctree, docname) -> None:
    app.unchanged_build_changes.append("written")


def _skip_finish_when_unchanged(app) -> None:
    builder = app.builder
    if builder.format != "html" or not hasattr(builder, "finish"):
        return
    finish = builder.finish

    def finish_unless_unchanged() -> None:
        outdir = Path(builder.outdir)
        if app.unchanged_build_changes or not all((outdir / name).exists() for name in OUTPUTS):
            finish()
        else:
            logger.info("no page changed: indices, search page and search index kept")

    builder.finish = finish_unless_unchanged


def setup(app):
    app.unchanged_build_changes = []
    app.connect("builder-inited", _cache_templates)
    app.connect("builder-inited", _skip_finish_when_unchanged)
    app.connect("env-get-outdated", _outdated)
    app.connect("env-before-read-docs", _read)
    app.connect("doctree-resolved", _written)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
