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
  dependency makes Sphinx read or write documents, and the step runs as usual;
- in a build that did change pages (an edited example rewrites four), skips only the general and
  module indices and the search page when what they show is unchanged: every page's index entries,
  title and toctree, the Python modules, the templates and the configuration (a hash of them is kept
  in the doctree folder). The search index, images and the rest are written as usual.
"""

from __future__ import annotations

import hashlib
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


def _index_key(app) -> str:
    """A hash of what the general and module indices and the search page show."""
    env = app.env
    shown = (
        sorted((doc, repr(entries)) for doc, entries in env.domains.index_domain.entries.items()),
        sorted((doc, title.astext()) for doc, title in env.titles.items()),
        sorted((doc, tuple(included)) for doc, included in env.toctree_includes.items()),
        repr(sorted(env.domains.python_domain.data.get("modules", {}).items())),
        app.builder.templates.newest_template_mtime(),
        env.config_status,
    )
    return hashlib.sha256(repr(shown).encode()).hexdigest()


def _skip_finish_when_unchanged(app) -> None:
    builder = app.builder
    if builder.format != "html" or not hasattr(builder, "finish"):
        return
    finish = builder.finish

    def finish_unless_unchanged() -> None:
        outdir = Path(builder.outdir)
        outputs = all((outdir / name).exists() for name in OUTPUTS)
        if outputs and not app.unchanged_build_changes:
            logger.info("no page changed: indices, search page and search index kept")
            return
        stamp, key = Path(app.doctreedir) / "unchanged_build.key", _index_key(app)
        if outputs and stamp.exists() and stamp.read_text() == key:
            logger.info("no index entry, title or toctree changed: indices and search page kept")
            builder.gen_indices = builder.gen_additional_pages = lambda: None  # this build only
        try:
            finish()
        finally:
            vars(builder).pop("gen_indices", None)
            vars(builder).pop("gen_additional_pages", None)
        stamp.write_text(key)

    builder.finish = finish_unless_unchanged


def setup(app):
    app.unchanged_build_changes = []
    app.connect("builder-inited", _cache_templates)
    app.connect("builder-inited", _skip_finish_when_unchanged)
    app.connect("env-get-outdated", _outdated)
    app.connect("env-before-read-docs", _read)
    app.connect("doctree-resolved", _written)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
