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
- in a build that did change pages (an edited example rewrites its own), skips only the general and
  module indices and the search page when what they show is unchanged: every page's index entries,
  title and toctree, the Python modules, the templates and the configuration (a hash of them is kept
  in the doctree folder). The search index, images and the rest are written as usual;
- does not read again a page whose source did not change when the only dependencies newer than it
  are download archives (``.zip``: the HTML builder copies every download at every build, under a
  name made from its path, so the page's links stay the same; a download that is not an archive
  may also be shown by the page, with ``literalinclude``) or images whose bytes are those of the
  copy the site already has. An edited example regenerates its gallery's download archives and its thumbnail,
  which made Sphinx read and write the gallery's index page again;
- does not rewrite a changed page's toctree ancestors when nothing they show of it changed. Sphinx
  rewrites every page whose toctree includes a page it read again (an edited example's section,
  part and gallery indices), in case the page's title or sections changed; the extension compares
  what those pages show of it (titles, table of contents, own toctree, section and figure numbers,
  tocdepth) before and after reading, and rewrites them only when it differs.
"""

from __future__ import annotations

import filecmp
import hashlib
import os
from pathlib import Path

from sphinx.environment import CONFIG_OK
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
    if env.config_status == CONFIG_OK:
        changed -= {doc for doc in changed if _only_same_output_changed(app, env, doc)}
    if added or changed or removed:
        app.unchanged_build_changes.append("sources")
    return []


def _only_same_output_changed(app, env, docname: str) -> bool:
    """Whether Sphinx finds ``docname`` outdated only through dependencies whose output is the same."""
    read = env.all_docs.get(docname)
    if read is None or docname in env.reread_always:
        return False
    if not (Path(env.doctreedir) / f"{docname}.doctree").is_file():
        return False
    if _last_modified_time(env.doc2path(docname)) > read:
        return False
    newer = [dep for dep in env.dependencies.get(docname, ()) if not dep.is_file() or _last_modified_time(dep) > read]
    return bool(newer) and all(_same_output(app, env, dep) for dep in newer)


def _last_modified_time(path) -> int:
    """In microseconds, rounded up: how Sphinx compares a file with the time it read a page."""
    return -(os.stat(path).st_mtime_ns // -1_000)


def _same_output(app, env, dependency: Path) -> bool:
    if not dependency.is_file():
        return False
    relative = Path(os.path.relpath(dependency, app.srcdir))
    if relative.suffix == ".zip" and relative in env.dlfiles:  # keyed by the path relative to the sources
        return True  # an archive is only linked to (no page includes one), copied at every build by its path
    if relative.as_posix() in env.images:
        copy = Path(app.builder.outdir) / app.builder.imagedir / env.images[relative.as_posix()][1]
        return copy.is_file() and filecmp.cmp(dependency, copy, shallow=False)
    return False


def _read(app, env, docnames) -> None:
    if docnames:
        app.unchanged_build_changes.append("read")
    app.unchanged_build_navigation = {doc: _navigation(env, doc) for doc in docnames if doc in env.titles}


def _navigation(env, docname: str) -> str:
    """What the pages whose toctree includes ``docname`` show of it (their toctree, sidebar and links)."""
    shown = (
        env.titles[docname].astext(),
        env.longtitles[docname].astext() if docname in env.longtitles else None,
        env.tocs[docname].pformat() if docname in env.tocs else None,
        env.toctree_includes.get(docname),
        env.toc_secnumbers.get(docname),
        env.toc_fignumbers.get(docname),
        env.metadata.get(docname, {}).get("tocdepth"),
    )
    return repr(shown)


def _keep_ancestors_when_unchanged(app, builder) -> None:
    """Before Sphinx adds the toctree ancestors of the pages it writes: leave out those of the pages read
    again whose navigation is what it was (this build only; the environment is already saved)."""
    before = getattr(app, "unchanged_build_navigation", {})
    same = {doc for doc, shown in before.items() if doc in app.env.titles and _navigation(app.env, doc) == shown}
    if same:
        app.unchanged_build_ancestors = app.env.files_to_rebuild
        app.env.files_to_rebuild = {doc: up for doc, up in app.env.files_to_rebuild.items() if doc not in same}


def _restore_ancestors(app, *args) -> None:
    if hasattr(app, "unchanged_build_ancestors"):
        app.env.files_to_rebuild = app.unchanged_build_ancestors
        del app.unchanged_build_ancestors


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
    app.connect("write-started", _keep_ancestors_when_unchanged)
    app.connect("build-finished", _restore_ancestors)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
