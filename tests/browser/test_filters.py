"""The part and level filters of the landing and practice pages (docs/_static/nnfaq-filter.js).

Choosing a part and a level leaves exactly the matching questions visible (groups with none left are
hidden too), the count says how many, the URL keeps the choice (?part=&level=) and a reload restores it.
A screenshot of each page with the filter applied is saved for review.
"""

from __future__ import annotations

import collections
import urllib.parse

import pytest

STATE_JS = """
() => {
  const items = Array.from(document.querySelectorAll(".nnfaq-item"));
  const groups = Array.from(document.querySelectorAll(".nnfaq-group"));
  const classOf = (el, kind) => (Array.from(el.classList).find(c => c.startsWith(`nnfaq-${kind}-`)) || "")
    .slice(`nnfaq-${kind}-`.length);
  return {
    items: items.map(i => ({part: classOf(i, "part"), level: classOf(i, "level"), shown: i.checkVisibility()})),
    emptyGroupsShown: groups.filter(g => g.checkVisibility() && !Array.from(g.querySelectorAll(".nnfaq-item"))
                                           .some(i => i.checkVisibility())).length,
    count: document.querySelector(".nnfaq-count").textContent.trim(),
    selected: Object.fromEntries(Array.from(document.querySelectorAll("select[data-filter]"))
                                   .map(s => [s.dataset.filter, s.value])),
  };
}
"""


@pytest.fixture
def tab(context):
    page = context.new_page()
    yield page
    page.close()


def check_filtered(state: dict, part: str, level: str) -> None:
    items = state["items"]
    wanted = [i for i in items if (not part or i["part"] == part) and (not level or i["level"] == level)]
    wrong = [i for i in items if i["shown"] != (i in wanted)]
    assert not wrong, f"part={part!r} level={level!r}: {len(wrong)} items shown or hidden wrongly, e.g. {wrong[:3]}"
    assert state["count"] == f"{len(wanted)} of {len(items)} questions", state["count"]
    assert state["emptyGroupsShown"] == 0, "a part or topic with no question left is still shown"
    assert state["selected"] == {"part": part, "level": level}


@pytest.mark.parametrize("path", ["index.html", "practice.html"])
def test_part_and_level_filters(tab, base_url, site, path):
    tab.goto(base_url + path)
    state = tab.evaluate(STATE_JS)
    check_filtered(state, "", "")
    # the most common (part, level) pair: a real choice that leaves several questions, not all
    pairs = collections.Counter((i["part"], i["level"]) for i in state["items"])
    (part, level), n = sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[0]
    assert 0 < n < len(state["items"])

    tab.select_option("select[data-filter=part]", part)
    check_filtered(tab.evaluate(STATE_JS), part, "")
    tab.select_option("select[data-filter=level]", level)
    check_filtered(tab.evaluate(STATE_JS), part, level)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(tab.url).query)
    assert query == {"part": [part], "level": [level]}, tab.url

    shots = site.parent / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(shots / f"{path.removesuffix('.html')}-filtered-1280.png"), full_page=True)

    tab.reload()
    check_filtered(tab.evaluate(STATE_JS), part, level)

    tab.select_option("select[data-filter=part]", "")
    check_filtered(tab.evaluate(STATE_JS), "", level)
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(tab.url).query) == {"level": [level]}, tab.url
