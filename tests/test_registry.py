"""The question registry: complete, stable, consistent with the code, and free of torch."""

import doctest
import importlib
import subprocess
import sys

import pytest

import nnfaq
from nnfaq import _registry

QUESTIONS = nnfaq.questions()


def test_every_topic_module_is_registered_and_has_questions():
    assert [t.name for t in nnfaq.topics()] == list(nnfaq.TOPICS)
    for topic in nnfaq.topics():
        assert topic.questions, f"topic {topic.name} has no questions"
        assert topic.title and topic.intro


def test_ids_are_unique_and_order_is_stable():
    ids = [q.id for q in QUESTIONS]
    assert len(ids) == len(set(ids))
    _registry._load.cache_clear()
    assert [q.id for q in nnfaq.questions()] == ids


@pytest.mark.parametrize("q", QUESTIONS, ids=lambda q: q.id)
def test_registry_agrees_with_the_imported_function(q):
    module_name, _, name = q.function.rpartition(".")
    fn = getattr(importlib.import_module(module_name), name)
    assert fn.__nnfaq_question__ == q.id
    assert name in importlib.import_module(module_name).__all__
    assert q.text.endswith("?")
    assert q.text in " ".join(fn.__doc__.split())


@pytest.mark.parametrize("q", QUESTIONS, ids=lambda q: q.id)
def test_every_question_is_proven_by_doctests_with_checked_output(q):
    examples = doctest.DocTestParser().get_examples(q.docstring)
    assert examples, f"{q.id}: no doctest examples"
    checked = [e for e in examples if e.want.strip()]
    assert len(checked) >= 2, f"{q.id}: fewer than two examples with a checked output"
    assert any(e.want.strip() == "True" for e in checked), f"{q.id}: no example asserts a claim (True)"


def test_public_functions_have_numpydoc_sections():
    for topic in nnfaq.topics():
        module = importlib.import_module(topic.module)
        for name in topic.public:
            doc = getattr(module, name).__doc__ or ""
            for section in ("Parameters", "Returns", "Examples"):
                assert f"\n    {section}\n    ---" in doc, f"{topic.module}.{name}: no {section} section"


def test_decorator_rejects_bad_ids():
    with pytest.raises(ValueError, match="id must be a kebab-case string"):
        nnfaq.question("Not An Id")
    with pytest.raises(ValueError, match="topic must be one of"):
        nnfaq.questions(topic="nope")


def test_get_question():
    assert nnfaq.get_question(QUESTIONS[0].id) == QUESTIONS[0]
    with pytest.raises(KeyError):
        nnfaq.get_question("no-such-question")


def test_importing_nnfaq_and_listing_questions_does_not_import_torch():
    code = "import sys, nnfaq; nnfaq.questions(); print('torch' in sys.modules, 'numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_parser_rejects_a_function_without_a_question(tmp_path, monkeypatch):
    (tmp_path / "broken.py").write_text(
        '"""Broken\n\nIntro.\n"""\n@question("x")\ndef f():\n    """Summary.\n\n    No question here.\n    """\n'
    )
    monkeypatch.setattr(_registry, "_PACKAGE_DIR", tmp_path)
    with pytest.raises(RuntimeError, match=r"needs the question as \*\*\.\.\.\?\*\*"):
        _registry._parse_topic("broken")
