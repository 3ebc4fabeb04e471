"""The topic pages as an interview candidate reads them (issue 16), at a 1280-px desktop width.

Every question opens with its answer card (level badge, the 30-second answer, a Proof link to the
executed examples of the same question, a Source link to its viewcode page), then the deep dive,
then the implementation, folded. Code blocks do not scroll sideways for a doctest line of
``DOCTEST_WIDTH`` characters. Links are followed for real on the dropout answer.
"""

from __future__ import annotations

import re

import nnfaq_conf
import pytest
from built_site import anchors_of, resolve_internal, site_pages

SETTINGS = nnfaq_conf.SETTINGS["browser"]
LEVELS = ("basic", "intermediate", "advanced")
DOCTEST_WIDTH = 90  # characters of a doctest line that a desktop reader sees whole


def topic_pages(site) -> list[str]:
    return [p for p in site_pages() if p.startswith("topics/") and p != "topics/index.html"]


def test_every_question_opens_with_its_answer_card(visit, site, base_url):
    problems, questions = [], 0
    for path in topic_pages(site):
        for q in visit(path).data["questions"]:
            questions += 1
            where = f"{path}#q-{q['id']}"
            impl = q["implementation"]
            if not q["cardFirst"]:
                problems.append(f"{where}: the heading is not followed by the answer card")
                continue
            if q["badge"] not in LEVELS:
                problems.append(f"{where}: level badge {q['badge']!r}, not one of {LEVELS}")
            if "In 30 seconds:" not in q["short"] or len(q["short"].split("In 30 seconds:")[-1].split()) < 5:
                problems.append(f"{where}: no 30-second answer in the card")
            if q["proof"] != f"#proof-{q['id']}" or not q["proofTarget"]:
                problems.append(f"{where}: Proof link {q['proof']!r} does not lead to this question's proof")
            resolved = resolve_internal(q["source"] or "", base_url, site)
            if resolved is None or not resolved[0].is_file() or resolved[1] not in anchors_of(resolved[0]):
                problems.append(f"{where}: Source link {q['source']!r} does not resolve to a viewcode entry")
            if impl is None or not impl["afterCard"] or impl["open"] or not impl["signature"]:
                problems.append(f"{where}: the implementation is not a folded dropdown with the signature: {impl}")
            elif not q["deepDive"]:
                problems.append(f"{where}: no deep dive between the card and the implementation")
    assert questions, "no question found on the topic pages"
    assert not problems, f"{len(problems)} problems in {questions} questions:\n" + "\n".join(problems)


def test_doctest_lines_are_not_cut_on_a_desktop(visit, site):
    """At 1280 px a code block fits a DOCTEST_WIDTH-character line; only longer lines scroll."""
    narrow, scrolls, blocks = [], [], 0
    for path in topic_pages(site):
        for pre in visit(path).data["pre"]:
            blocks += pre["doctest"]
            if pre["doctest"] and pre["fits"] < DOCTEST_WIDTH:
                narrow.append(f"{path}: {pre['fits']} characters fit in {pre['text']!r}")
            if pre["scrollWidth"] > pre["clientWidth"] + 1 and pre["longest"] <= DOCTEST_WIDTH:
                scrolls.append(f"{path}: a {pre['longest']}-character block scrolls: {pre['text']!r}")
    assert blocks, "no doctest block visible on the topic pages"
    assert not narrow, "code blocks narrower than a doctest line:\n" + "\n".join(narrow[:10])
    assert not scrolls, "code blocks that scroll for short lines:\n" + "\n".join(scrolls[:10])


@pytest.fixture
def tab(context):
    page = context.new_page()
    yield page
    page.close()


def test_proof_link_lands_on_the_proof(tab, base_url):
    tab.goto(base_url + SETTINGS["answer_page"])
    card = tab.locator(".sd-card.nnfaq-answer").first
    link = card.locator("a[href^='#proof-']")
    target = link.get_attribute("href")
    link.click()
    tab.wait_for_url(re.compile(re.escape(target) + "$"))
    proof = tab.locator(target)
    assert proof.inner_text().strip() == "Proof"
    top = proof.evaluate("el => el.getBoundingClientRect().top")
    height = tab.viewport_size["height"]
    assert 0 <= top < height / 2, f"the proof heading is at {top} px of a {height} px window, not in view"
    # the executed examples follow the heading, in the same question, shown rather than folded
    shown = """el => {
      const section = el.closest("section[id^='q-']");
      const doctest = Array.from(section.querySelectorAll("div.doctest"))
        .find(d => el.compareDocumentPosition(d) & Node.DOCUMENT_POSITION_FOLLOWING);
      return !!doctest && doctest.checkVisibility() && !doctest.closest("details");
    }"""
    assert proof.evaluate(shown), "the proof heading is not followed by its executed examples"


def test_source_link_opens_the_function_in_viewcode(tab, base_url):
    tab.goto(base_url + SETTINGS["answer_page"])
    link = tab.locator(".sd-card.nnfaq-answer").first.get_by_role("link", name="Source", exact=True)
    href = link.evaluate("a => a.href")
    link.click()
    tab.wait_for_url(href)
    name = href.rpartition("#")[2]
    assert "/_modules/" in tab.url
    block = tab.locator(f"[id='{name}']")
    assert block.count() == 1 and f"def {name}(" in block.inner_text(), f"no source of {name} at {href}"
