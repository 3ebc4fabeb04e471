"""The site pages written from the registry: complete, and linked only to answers that exist."""

import re
import sys
from pathlib import Path

import pytest

import nnfaq

DOCS = Path(__file__).resolve().parents[1] / "docs"
sys.path.insert(0, str(DOCS / "_ext"))

import nnfaq_sphinx as pages  # noqa: E402

QUESTIONS = nnfaq.questions()
LABELS = {f"q-{q.id}" for q in QUESTIONS}


def refs(rst: str) -> list[str]:
    return re.findall(r":ref:`[^`]*<(q-[^>]+)>`", rst)


def test_topic_pages_have_every_question_as_a_labelled_heading_with_its_proof():
    for topic in nnfaq.topics():
        page = pages.topic_page(topic)
        assert page.startswith(f"(topic-{topic.name})=\n# {topic.title}")
        assert f".. module:: {topic.module}" in page
        for q in topic.questions:
            heading = re.search(rf"^\(q-{re.escape(q.id)}\)=\n## (.+)$", page, re.MULTILINE)
            assert heading, q.id
            assert pages.plain(heading[1]) == pages.plain(q.text)
            assert re.search(rf"^\.\. auto(function|class):: {re.escape(q.function)}$", page, re.MULTILINE), q.id
            assert f".. minigallery:: {q.function}\n" in page


def test_topics_index_lists_topics_in_registry_order():
    listed = pages.topics_index().split("```")[1].split("\n")
    assert [line for line in listed if line in nnfaq.TOPICS] == list(nnfaq.TOPICS)


@pytest.mark.parametrize("make", [pages.questions_rst, pages.practice_rst], ids=["landing", "practice"])
def test_landing_and_practice_link_every_question_once(make):
    assert sorted(refs(make())) == sorted(LABELS)


def test_practice_shows_each_question_collapsed_with_its_answer():
    rst = pages.practice_rst()
    for q in QUESTIONS:
        assert f".. dropdown:: {q.text}\n" in rst
        first_line = q.answer.splitlines()[0]
        assert f"   {first_line}" in rst


def test_errata_lists_every_mistake_with_a_link_to_its_proof():
    rst = pages.errata_rst()
    mistakes = [(q, m) for q in QUESTIONS for m in q.mistakes]
    assert len(mistakes) >= 1
    assert rst.count(".. card::") == len(mistakes)
    for _, m in mistakes:
        assert f"**They say:** {m.claim}" in rst
    assert set(refs(rst)) <= LABELS
    assert set(refs(rst)) == {f"q-{q.id}" for q, _ in mistakes}


def test_api_page_lists_every_public_function():
    rst = pages.api_rst()
    for topic in nnfaq.topics():
        block = rst.split(f".. currentmodule:: {topic.module}\n", 1)[1].split("\n\n", 2)[1]
        assert [line.strip() for line in block.splitlines()] == list(topic.public)


def test_question_paragraph_is_stripped_only_from_question_docstrings():
    q = QUESTIONS[0]
    lines = q.docstring.splitlines()
    fn = type("F", (), {"__nnfaq_question__": q.id})
    pages.strip_question(None, "function", q.function, fn, {}, lines)
    assert f"**{q.text}**" not in " ".join(" ".join(lines).split())
    assert lines[0] == q.docstring.splitlines()[0]
    untouched = q.docstring.splitlines()
    pages.strip_question(None, "function", q.function, object(), {}, untouched)
    assert untouched == q.docstring.splitlines()


def test_pages_reference_missing_answers_fail_the_build():
    """The site's cross-page links are :ref: roles, which Sphinx -n -W turns into build errors when missing."""
    conf = (DOCS / "conf.py").read_text()
    assert "nitpicky = True" in conf
    for make in (pages.questions_rst, pages.practice_rst, pages.errata_rst):
        assert refs(make()), make.__name__


def test_landing_page_counts_come_from_the_registry():
    first = pages.questions_rst().split("\n")[0]
    n_mistakes = sum(len(q.mistakes) for q in QUESTIONS)
    assert first.startswith(f"**{len(QUESTIONS)} questions in {len(nnfaq.TOPICS)} topics")
    assert f"{n_mistakes} common wrong answers corrected" in first


def test_readme_counts_match_the_registry_and_gallery():
    readme = (DOCS.parent / "README.md").read_text()
    n_examples = len(list((DOCS.parent / "gallery").rglob("plot_*.py")))
    n_mistakes = sum(len(q.mistakes) for q in QUESTIONS)
    assert f"**{len(QUESTIONS)} questions in {len(nnfaq.TOPICS)} topics**" in readme
    assert f"{n_mistakes} wrong or half-true answers" in readme
    assert f"A gallery** of {n_examples} illustrated examples" in readme
