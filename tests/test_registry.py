"""The question registry: complete, in the answer format, consistent with the code, and free of torch."""

import doctest
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import nnfaq
from nnfaq import _registry

QUESTIONS = nnfaq.questions()
IDS = {q.id for q in QUESTIONS}
PACKAGE = Path(nnfaq.__file__).parent


def test_parts_list_every_topic_module_and_hold_only_title_intro_and_topics():
    assert [p.name for p in nnfaq.parts()] == list(nnfaq.PARTS)
    for part in nnfaq.parts():
        assert part.title and part.intro and part.topics, part.name
        on_disk = {f.stem for f in (PACKAGE / part.name).glob("[!_]*.py")}
        assert on_disk == {t.name for t in part.topics}, f"{part.name}: modules not in TOPICS (or missing)"
        for topic in part.topics:
            assert topic.questions, f"topic {topic.name} has no questions"
            assert topic.title and topic.intro and topic.part == part.name
    names = nnfaq.topic_names()
    assert len(names) == len(set(names)), "topic names are page addresses: unique across parts"


def test_ids_are_unique_and_order_is_stable():
    ids = [q.id for q in QUESTIONS]
    assert len(ids) == len(set(ids))
    _registry._load.cache_clear()
    assert [q.id for q in nnfaq.questions()] == ids


@pytest.mark.parametrize("q", QUESTIONS, ids=lambda q: q.id)
def test_every_question_has_a_short_answer_a_level_and_followups_that_exist(q):
    words = len(q.short.split())
    assert 0 < words <= _registry.SHORT_MAX_WORDS, f"{q.id}: the 30-second answer has {words} words"
    assert "\\" not in q.short and ":math:" not in q.short, f"{q.id}: the short answer is read aloud and in a terminal"
    assert q.level in nnfaq.LEVELS, f"{q.id}: level {q.level!r}"
    assert 1 <= len(q.followups) <= 3, f"{q.id}: {len(q.followups)} follow-ups"
    assert set(q.followups) <= IDS - {q.id}, f"{q.id}: follow-ups {set(q.followups) - IDS} name no question"


@pytest.mark.parametrize("q", QUESTIONS, ids=lambda q: q.id)
def test_registry_agrees_with_the_imported_function_and_its_proof(q):
    module_name, _, name = q.function.rpartition(".")
    module = importlib.import_module(module_name)
    fn = getattr(module, name)
    assert fn.__nnfaq_question__ == q.id
    assert name in module.__all__
    assert q.text.endswith("?") and q.text in " ".join(fn.__doc__.split())
    examples = doctest.DocTestParser().get_examples(q.docstring)
    checked = [e for e in examples if e.want.strip()]
    assert len(checked) >= 2, f"{q.id}: fewer than two examples with a checked output"
    assert any(e.want.strip() == "True" for e in checked), f"{q.id}: no example asserts a claim (True)"


def test_decorator_rejects_bad_arguments():
    with pytest.raises(ValueError, match="id must be a kebab-case string"):
        nnfaq.question("Not An Id")
    with pytest.raises(ValueError, match="level must be one of basic, intermediate, advanced"):
        nnfaq.question("an-id", level="easy")
    with pytest.raises(TypeError, match="followups must be a tuple of question ids"):
        nnfaq.question("an-id", followups="other-id")
    with pytest.raises(ValueError, match="topic must be one of"):
        nnfaq.questions(topic="nope")
    with pytest.raises(ValueError, match="part must be one of"):
        nnfaq.topics(part="nope")


def test_reprs_are_one_line():
    q, t, p = QUESTIONS[0], nnfaq.topics()[0], nnfaq.parts()[0]
    assert repr(q) == f"Question({q.id!r}: {q.text!r})"
    for obj in (q, t, p):
        assert "\n" not in repr(obj) and len(repr(obj)) < 200


def test_importing_nnfaq_and_listing_questions_does_not_import_torch():
    code = "import sys, nnfaq; nnfaq.questions(); print('torch' in sys.modules, 'numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def _fake_package(tmp_path, topic_source):
    (tmp_path / "part").mkdir()
    (tmp_path / "part" / "__init__.py").write_text('"""Part\n\nIntro.\n"""\n\nTOPICS = ("topic",)\n')
    (tmp_path / "part" / "topic.py").write_text(topic_source)
    return str(tmp_path)


def test_parser_rejects_a_function_without_a_question(tmp_path):
    source = '"""Broken\n\nIntro.\n"""\n@question("x")\ndef f():\n    """Summary.\n\n    No question here.\n    """\n'
    with pytest.raises(RuntimeError, match=r"needs the question as \*\*\.\.\.\?\*\*"):
        _registry._parse_part(_fake_package(tmp_path, source), "part")


def test_parser_reads_what_each_public_name_is_and_rejects_a_name_it_does_not_define(tmp_path):
    source = '"""T\n\nI.\n"""\n\n__all__ = ["f", "C", "K"]\nK = 1\n\n\ndef f():\n    pass\n\n\nclass C:\n    pass\n'
    (topic,) = _registry._parse_part(_fake_package(tmp_path, source), "part").topics
    assert topic.public == ("f", "C", "K") and topic.kinds == (("f", "function"), ("C", "class"), ("K", "data"))
    (tmp_path / "part" / "topic.py").write_text(source.replace('"K"]', '"K", "gone"]'))
    with pytest.raises(RuntimeError, match="__all__ names gone, which the module does not define"):
        _registry._parse_part(str(tmp_path), "part")


def test_parser_rejects_a_part_that_imports(tmp_path):
    _fake_package(tmp_path, '"""T\n\nI.\n"""\n')
    init = tmp_path / "part" / "__init__.py"
    init.write_text(init.read_text() + "import torch\n")
    with pytest.raises(RuntimeError, match="holds only its docstring and TOPICS"):
        _registry._parse_part(str(tmp_path), "part")


def test_registry_cache_is_rebuilt_when_a_topic_changes(tmp_path, monkeypatch):
    source = (PACKAGE / "training" / "regularization.py").read_text()
    package = _fake_package(tmp_path, source)
    monkeypatch.delenv("NNFAQ_NO_CACHE", raising=False)
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    first = _registry._load_cached(package, ("part",))
    assert (tmp_path / "__pycache__" / "nnfaq-registry.marshal").exists()
    _registry._load_cached.cache_clear()
    monkeypatch.setattr(_registry, "_parse_part", lambda *a: pytest.fail("parsed although the cache was fresh"))
    assert _registry._load_cached(package, ("part",)) == first  # read back from the cache, not parsed
    monkeypatch.undo()
    (tmp_path / "part" / "topic.py").write_text(source.replace("Is weight decay the same", "Is weight decay equal"))
    _registry._load_cached.cache_clear()
    texts = [q.text for q in _registry._load_cached(package, ("part",))[0].questions]
    assert any(t.startswith("Is weight decay equal") for t in texts)
    _registry._load_cached.cache_clear()
