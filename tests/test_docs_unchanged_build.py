"""docs/_ext/unchanged_build.py on a two-page Sphinx project: a build that changes no page writes no index,
search page or search index; one that changes a page's words writes the search index only; one that
changes an index entry writes them all again."""

import contextlib
import io
import os
from pathlib import Path

import pytest

sphinx_build = pytest.importorskip("sphinx.cmd.build")

EXT = Path(__file__).resolve().parents[1] / "docs" / "_ext"
OLD = 10**18  # a modification time (ns) no build writes: a rewrite replaces it
KEPT = ("genindex.html", "search.html", "searchindex.js")


def build(src: Path, out: Path) -> str:
    """Build ``src`` into ``out`` in this process, -W as the site is built; what Sphinx printed."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
        status = sphinx_build.build_main(["-W", "-b", "html", str(src), str(out)])
    assert status == 0, printed.getvalue()
    return printed.getvalue()


def test_a_build_that_changes_no_page_writes_no_index_and_one_that_does_writes_them(tmp_path):
    src, out = tmp_path / "src", tmp_path / "html"
    src.mkdir()
    (src / "conf.py").write_text(
        f"import sys\nsys.path.insert(0, {str(EXT)!r})\nextensions = ['unchanged_build']\nhtml_theme = 'basic'\n"
    )
    (src / "index.rst").write_text("Home\n====\n\n.. index:: alpha\n\nText.\n\n.. toctree::\n\n   other\n")
    (src / "other.rst").write_text("Other\n=====\n\n.. index:: beta\n\nMore text.\n")
    build(src, out)
    assert "alpha" in (out / "genindex.html").read_text() and any((out / ".doctrees" / "jinja").iterdir())
    for name in KEPT:
        os.utime(out / name, ns=(OLD, OLD))

    printed = build(src, out)
    assert "no page changed: indices, search page and search index kept" in printed
    assert all((out / name).stat().st_mtime_ns == OLD for name in KEPT)

    (src / "other.rst").write_text("Other\n=====\n\n.. index:: beta\n\nAn okapi.\n")  # new words only
    printed = build(src, out)
    assert "no index entry, title or toctree changed: indices and search page kept" in printed
    assert [(out / name).stat().st_mtime_ns == OLD for name in KEPT] == [True, True, False]
    assert "okapi" in (out / "searchindex.js").read_text()

    (src / "other.rst").write_text("Other\n=====\n\n.. index:: gamma\n\nA zebra.\n")
    printed = build(src, out)
    assert "kept" not in printed and not any((out / name).stat().st_mtime_ns == OLD for name in KEPT)
    assert "gamma" in (out / "genindex.html").read_text() and "zebra" in (out / "searchindex.js").read_text()

    (out / "search.html").unlink()  # an output is missing: the step runs, though no page changed
    build(src, out)
    assert (out / "search.html").exists()
