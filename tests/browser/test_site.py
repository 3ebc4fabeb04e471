"""The built site as a user sees it, in headless Chromium with no network (run by ``nox -s browser``).

Per page: no console error, no failed request, no request off the local server; every image loads and
has alt text; every internal link and anchor resolves; math is rendered, not left as TeX source; axe-core
finds no serious or critical WCAG 2.1 A/AA violation.
Site-wide: search finds the dropout answer, the copy button copies doctest code without prompts or
outputs, the gallery thumbnails open their examples; screenshots are saved for review.
"""

from __future__ import annotations

import re
from pathlib import Path

import nnfaq_conf
import pytest
from built_site import anchors_of, resolve_internal

SETTINGS = nnfaq_conf.SETTINGS["browser"]


def _page(page_path: str) -> str:
    if page_path == "<no site built>":
        pytest.fail("no built site: run `nox -s docs` (or `nox -s browser`, which builds it)")
    return page_path


# --- every page ----------------------------------------------------------------------------------


def test_no_console_errors_or_bad_requests(visit, page_path):
    seen = visit(_page(page_path))
    problems = (
        [f"console: {e}" for e in seen.console_errors]
        + [f"failed: {r}" for r in seen.failed_requests]
        + [f"request off the local server: {r}" for r in seen.foreign_requests]
    )
    assert not problems, "\n".join(problems)


def test_images_load_and_have_alt_text(visit, page_path):
    images = visit(_page(page_path)).data["images"]
    broken = [i["src"] for i in images if i["width"] == 0]
    no_alt = [i["src"] for i in images if not i["alt"]]
    assert not broken, f"images that did not load: {broken}"
    assert not no_alt, f"images without alt text: {no_alt}"


def test_internal_links_and_anchors_resolve(visit, base_url, site, page_path):
    bad = []
    for url in sorted(set(visit(_page(page_path)).data["links"])):
        resolved = resolve_internal(url, base_url, site)
        if resolved is None:
            continue
        target, fragment = resolved
        if not target.is_file():
            bad.append(f"{url}: no such file")
        elif fragment and target.suffix == ".html" and fragment not in anchors_of(target):
            bad.append(f"{url}: no anchor #{fragment}")
    assert not bad, "\n".join(bad)


def test_math_is_rendered(visit, page_path):
    data = visit(_page(page_path)).data
    assert not data["mathUnrendered"], f"math left as TeX: {data['mathUnrendered'][:5]}"
    assert not data["mathErrors"], f"MathJax errors: {data['mathErrors'][:5]}"
    assert not data["rawTex"], f"raw TeX in the text: {data['rawTex'][:5]}"


def test_no_serious_accessibility_violations(visit, page_path):
    """axe-core's WCAG 2.1 A and AA rules (the audit browsers run); see conftest for colour contrast."""
    violations = visit(_page(page_path)).data["axe"]
    lines = []
    for v in violations:
        lines.append(f"{v['id']} ({v['impact']}, {len(v['nodes'])} elements): {v['help']}")
        lines += [f"    {n['target']}: {n['html']}\n      {n['why']}" for n in v["nodes"][:3]]
    assert not violations, "\n".join(lines)


# --- site-wide -----------------------------------------------------------------------------------


def test_some_pages_have_math(visit):
    page = SETTINGS["answer_page"]
    assert visit(page).data["math"] > 0, f"{page} has no math: the math check above would be vacuous"


def test_search_lists_the_dropout_answer(context, base_url):
    page = context.new_page()
    try:
        page.goto(base_url + "index.html")
        page.locator("button.search-button__button:visible").first.click()
        box = page.locator("input[name=q]:visible").first
        box.fill("dropout")
        box.press("Enter")
        page.wait_for_url(re.compile(r"search\.html\?q=dropout"))
        hit = page.locator(f"#search-results a[href*='{SETTINGS['answer_page']}']").first
        hit.wait_for(timeout=15_000)
        links = page.locator("#search-results a").evaluate_all("as => as.map(a => a.textContent + ' ' + a.href)")
        assert any("dropout" in link.lower() and SETTINGS["answer_page"] in link for link in links), links
    finally:
        page.close()


def test_copy_button_copies_doctest_code_without_prompts_or_outputs(context, base_url):
    page = context.new_page()
    try:
        page.goto(base_url + SETTINGS["answer_page"])
        block = page.locator("div.doctest").first
        text = block.locator("pre").inner_text()
        expected = "\n".join(line[4:] for line in text.splitlines() if line.startswith((">>> ", "... ")))
        outputs = [line for line in text.splitlines() if line.strip() and not line.startswith((">>>", "..."))]
        assert outputs, "the first doctest shows no output: pick a block that has some"
        block.hover()
        block.locator("button.copybtn").click()
        copied = page.evaluate("navigator.clipboard.readText()")
        assert copied.strip() == expected.strip()
        assert ">>>" not in copied
        assert not any(out in copied.splitlines() for out in outputs)
    finally:
        page.close()


def test_gallery_thumbnails_open_their_examples(context, base_url, site):
    """A click in the middle of every card lands on its example's link; the first and last are clicked for real."""
    page = context.new_page()
    gallery = Path(SETTINGS["gallery_page"]).parts[0]  # one gallery per part: the first part's index
    first = sorted((site / gallery).glob("*/index.html"))
    assert first, f"no gallery index under {site / gallery}"
    index = base_url + first[0].relative_to(site).as_posix()
    try:
        page.goto(index)
        cards = page.locator(".sphx-glr-thumbcontainer")
        count = cards.count()
        assert count > 0, "the gallery index shows no thumbnails"
        hits = cards.evaluate_all(
            """cards => cards.map(card => {
                 card.scrollIntoView({block: "center"});
                 const box = card.querySelector("img").getBoundingClientRect();
                 const hit = document.elementFromPoint(box.x + box.width / 2, box.y + box.height / 2);
                 return [card.querySelector("a").href, hit && hit.closest("a") ? hit.closest("a").href : null];
               })"""
        )
        missed = [href for href, hit in hits if hit != href]
        assert not missed, f"thumbnails whose picture does not open their example: {missed}"
        for i in sorted({0, count - 1}):
            if i:
                page.goto(index)
            href = hits[i][0]
            cards.nth(i).click()  # where a reader clicks: the middle of the card
            page.wait_for_url(href.split("#")[0])
            assert page.locator("h1").count() == 1
    finally:
        page.close()


@pytest.mark.parametrize("width,height", [(1280, 800), (390, 844)], ids=["desktop", "phone"])
@pytest.mark.parametrize("name", ["landing", "answer", "gallery"])
def test_screenshot_and_no_sideways_scroll(context, base_url, site, name, width, height):
    path = {"landing": "index.html", "answer": SETTINGS["answer_page"], "gallery": SETTINGS["gallery_page"]}[name]
    page = context.new_page()
    try:
        page.set_viewport_size({"width": width, "height": height})
        page.goto(base_url + path, wait_until="load")
        page.evaluate("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
        shots = site.parent / "screenshots"
        shots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shots / f"{name}-{width}.png"), full_page=True)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{path} scrolls sideways by {overflow} px at {width} px wide"
    finally:
        page.close()
