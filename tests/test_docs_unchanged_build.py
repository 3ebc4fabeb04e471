"""docs/_ext/unchanged_build.py on a two-page Sphinx project: a build that changes no page writes no index,
search page or search index; one that changes a page's words writes the search index only, and not the
page whose toctree holds it; one that changes an index entry and a title writes them all again. A page
whose download file or unchanged image was written again is not; one whose image changed is."""

import contextlib
import io
import os
from pathlib import Path

import pytest

sphinx_build = pytest.importorskip("sphinx.cmd.build")

EXT = Path(__file__).resolve().parents[1] / "docs" / "_ext"
OLD = 10**18  # a modification time (ns) no build writes: a rewrite replaces it
KEPT = ("genindex.html", "search.html", "searchindex.js")
FILES = "\n.. image:: pic.png\n\n:download:`data <data.zip>`\n"


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
    (src / "other.rst").write_text("Other\n=====\n\n.. index:: beta\n\nMore text.\n" + FILES)
    (src / "pic.png").write_bytes(b"picture 1")
    (src / "data.zip").write_bytes(b"data 1")
    build(src, out)
    assert "alpha" in (out / "genindex.html").read_text() and any((out / ".doctrees" / "jinja").iterdir())
    for name in KEPT:
        os.utime(out / name, ns=(OLD, OLD))
    index_written = (out / "index.html").stat().st_mtime_ns

    printed = build(src, out)
    assert "no page changed: indices, search page and search index kept" in printed
    assert all((out / name).stat().st_mtime_ns == OLD for name in KEPT)

    (src / "other.rst").write_text("Other\n=====\n\n.. index:: beta\n\nAn okapi.\n" + FILES)  # new words only
    printed = build(src, out)
    assert "no index entry, title or toctree changed: indices and search page kept" in printed
    assert [(out / name).stat().st_mtime_ns == OLD for name in KEPT] == [True, True, False]
    assert "okapi" in (out / "searchindex.js").read_text() and "okapi" in (out / "other.html").read_text()
    assert (out / "index.html").stat().st_mtime_ns == index_written  # its toctree shows the same title

    (src / "other.rst").write_text("Zebras\n======\n\n.. index:: gamma\n\nA zebra.\n" + FILES)
    printed = build(src, out)
    assert "kept" not in printed and not any((out / name).stat().st_mtime_ns == OLD for name in KEPT)
    assert "gamma" in (out / "genindex.html").read_text() and "zebra" in (out / "searchindex.js").read_text()
    assert "Zebras" in (out / "index.html").read_text()

    other_written = (out / "other.html").stat().st_mtime_ns
    (src / "pic.png").write_bytes(b"picture 1")  # written again, the same bytes
    (src / "data.zip").write_bytes(b"data 2")
    printed = build(src, out)
    assert "no page changed" in printed and (out / "other.html").stat().st_mtime_ns == other_written
    assert [path.read_bytes() for path in (out / "_downloads").rglob("data.zip")] == [b"data 2"]

    (src / "pic.png").write_bytes(b"picture 2")
    build(src, out)
    assert (out / "other.html").stat().st_mtime_ns != other_written
    assert (out / "_images" / "pic.png").read_bytes() == b"picture 2"

    (out / "search.html").unlink()  # an output is missing: the step runs, though no page changed
    build(src, out)
    assert (out / "search.html").exists()
