"""The built site on disk, shared by the browser checks: its pages, the ids in a page, where a link points.

(pytest's importlib mode adds no path: conftest puts this folder on ``sys.path`` for ``from built_site import``.)
"""

from __future__ import annotations

import functools
import html.parser
import json
import os
import sys
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "conf"))
import nnfaq_conf

HTML = Path(os.environ.get("NNFAQ_HTML", nnfaq_conf.ROOT / "docs" / "_build" / "html")).resolve()


def site_pages() -> list[str]:
    """Every HTML page of the last build (from its search index, so stale files of removed pages are not
    visited), plus the index pages Sphinx generates; as paths relative to the output folder."""
    index = (HTML / "searchindex.js").read_text(encoding="utf-8")
    docnames = json.loads(index[index.index("(") + 1 : index.rindex(")")])["docnames"]
    extra = [name for name in ("genindex", "py-modindex", "search") if (HTML / f"{name}.html").exists()]
    return sorted(f"{name}.html" for name in [*docnames, *extra])


class _Ids(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name == "id" or (tag == "a" and name == "name"):
                self.ids.add(value or "")


@functools.cache
def anchors_of(path: Path) -> frozenset[str]:
    """The ids (and <a name>) in one built HTML file."""
    parser = _Ids()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    return frozenset(parser.ids)


def resolve_internal(url: str, base_url: str, site: Path) -> tuple[Path, str] | None:
    """The file and fragment a link to the local server points at (None for other hosts)."""
    if not url.startswith(base_url):
        return None
    parts = urllib.parse.urlsplit(url)
    rel = urllib.parse.unquote(parts.path)[1:]
    target = site / rel
    if rel == "" or rel.endswith("/"):
        target = target / "index.html"
    return target, urllib.parse.unquote(parts.fragment)
