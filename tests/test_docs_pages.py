"""The site pages written from the registry: complete, in the answer format, and linked only to answers that exist."""

import re
import sys
from pathlib import Path

import pytest

import nnfaq

DOCS = Path(__file__).resolve().parents[1] / "docs"
sys.path.insert(0, str(DOCS / "_ext"))

import nnfaq_directives as directives  # noqa: E402
import nnfaq_docstrings as docstrings  # noqa: E402
import nnfaq_pages as pages  # noqa: E402

QUESTIONS = nnfaq.questions()
LABELS = {f"q-{q.id}" for q in QUESTIONS}


def refs(rst: str) -> list[str]:
    return re.findall(r":ref:`[^`]*<(q-[^>]+)>`", rst)


@pytest.mark.parametrize("topic", nnfaq.topics(), ids=lambda t: t.name)
def test_topic_page_opens_each_question_with_its_card_then_the_deep_dive_then_the_implementation(topic):
    page = pages.topic_page(topic)
    assert page.startswith(f"(topic-{topic.name})=\n# {topic.title}")
    assert f".. module:: {topic.module}" in page
    for q in topic.questions:
        heading = re.search(rf"^\(q-{re.escape(q.id)}\)=\n## (.+)$", page, re.MULTILINE)
        assert heading, q.id
        assert pages.plain(heading[1]) == pages.plain(q.text)
        section = page[heading.end() :].split("\n(q-", 1)[0]
        card = section.index(".. card::")
        proof = section.index(f".. _proof-{q.id}:")
        implementation = section.index(".. dropdown:: Implementation")
        signature = re.search(rf"^ *\.\. auto(function|class):: {re.escape(q.function)}$", section, re.MULTILINE)
        assert signature, q.id
        assert card < proof < implementation < signature.start(), f"{q.id}: card, proof, then implementation"
        assert f".. minigallery:: {q.function}\n" in section
        assert f"**{q.text}**" not in " ".join(section.split()), f"{q.id}: the question is the heading only"


def test_deep_dive_keeps_the_answer_and_proof_and_leaves_parameters_to_the_implementation():
    q = nnfaq.get_question("dropout-train-vs-eval")
    deep = pages.deep_dive(q)
    assert q.answer.split("\n")[0] in deep
    assert ".. rubric:: Proof" in deep and ">>> " in deep
    assert "Parameters\n---" not in deep and ".. rubric:: Parameters" not in deep
    # numpydoc's [1] references become footnotes local to the question: a page holds several
    assert "[#dropout-train-vs-eval-1]" in deep and ".. [1]" not in deep


def test_implementation_entry_keeps_only_summary_and_implementation_sections():
    lines = [
        "Summary.",
        "",
        "Extended answer.",
        "",
        ":Parameters:",
        "",
        "    **x** : tensor",
        "",
        ".. seealso::",
        "",
        "    torch.relu",
        "",
        ".. rubric:: Notes",
        "",
        "A note.",
        "",
        ".. rubric:: Examples",
        "",
        ">>> 1",
    ]
    fn = type("F", (), {"__nnfaq_question__": "x"})
    kept = list(lines)
    docstrings.implementation_only(None, "function", "f", fn, {}, kept)
    assert kept == [
        "Summary.",
        "",
        ":Parameters:",
        "",
        "    **x** : tensor",
        "",
        ".. seealso::",
        "",
        "    torch.relu",
        "",
    ]
    untouched = list(lines)
    docstrings.implementation_only(None, "function", "f", object(), {}, untouched)
    assert untouched == lines


def test_topics_index_has_one_toctree_per_part_in_registry_order():
    text = pages.topics_index()
    captions = re.findall(r"^:caption: (.+)$", text, re.MULTILINE)
    assert captions == [p.title for p in nnfaq.parts() if p.topics]
    listed = [line for line in text.splitlines() if line in nnfaq.topic_names()]
    assert listed == list(nnfaq.topic_names())


def test_split_topics_keep_their_old_address_with_every_anchor():
    for old, new in pages.MOVED.items():
        assert old not in nnfaq.topic_names()
        page = pages.moved_page(old, new)
        for q in (q for t in nnfaq.topics() if t.name in new for q in t.questions):
            assert f'<span id="q-{q.id}"></span>' in page


@pytest.mark.parametrize("make", [directives.questions_rst, directives.practice_rst, directives.cheatsheet_rst])
def test_landing_practice_and_cheatsheet_link_every_question_once(make):
    assert sorted(refs(make())) == sorted(LABELS)


@pytest.mark.parametrize("make", [directives.questions_rst, directives.practice_rst])
def test_landing_and_practice_items_carry_their_part_and_level_for_the_filters(make):
    rst = make()
    assert '<select data-filter="part">' in rst and '<select data-filter="level">' in rst
    for q in QUESTIONS:
        assert pages.item_classes(q) in rst
    for part in (p for p in nnfaq.parts() if p.topics):
        assert f'<option value="{part.name}">' in rst


def test_practice_and_cheatsheet_show_each_short_answer():
    for make in (directives.practice_rst, directives.cheatsheet_rst):
        rst = make()
        for q in QUESTIONS:
            first_line = (pages.plain_rst(q.short) if q.short else q.answer).splitlines()[0]
            assert first_line in rst, (make.__name__, q.id)


def test_errata_lists_every_mistake_with_a_link_to_its_proof():
    rst = directives.errata_rst()
    mistakes = [(q, m) for q in QUESTIONS for m in q.mistakes]
    assert len(mistakes) >= 1
    assert rst.count(".. card::") == len(mistakes)
    for _, m in mistakes:
        assert f"**They say:** {m.claim}" in rst
    assert set(refs(rst)) == {f"q-{q.id}" for q, _ in mistakes}


def test_api_page_lists_every_public_function():
    rst = directives.api_rst()
    for topic in nnfaq.topics():
        block = rst.split(f".. currentmodule:: {topic.module}\n", 1)[1].split("\n\n", 2)[1]
        assert [line.strip() for line in block.splitlines()] == list(topic.public)


def test_landing_page_counts_come_from_the_registry():
    first = directives.questions_rst().split("\n")[0]
    n_mistakes = sum(len(q.mistakes) for q in QUESTIONS)
    assert first == (
        f"**{len(QUESTIONS)} questions in {len(nnfaq.topics())} topics, {n_mistakes} common wrong answers corrected.**"
    )


def test_gallery_headers_come_from_the_part_and_topic_titles(tmp_path):
    (tmp_path / "training" / "regularization").mkdir(parents=True)
    files = pages.gallery_files(tmp_path)
    part = next(p for p in nnfaq.parts() if p.name == "training")
    topic = next(t for t in part.topics if t.name == "regularization")
    assert files[tmp_path / "training" / "GALLERY_HEADER.rst"].startswith(f"{part.title}\n{'=' * len(part.title)}\n")
    header = files[tmp_path / "training" / "regularization" / "GALLERY_HEADER.rst"]
    assert header.startswith(f"{topic.title}\n") and ":ref:`topic-regularization`" in header
    assert len(files) == 2  # only folders that exist get a header
