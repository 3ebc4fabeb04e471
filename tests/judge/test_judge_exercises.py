"""The table of exercises and their starter files: complete, consistent with the registry, judgeable."""

import ast
import re

import pytest

import nnfaq
from nnfaq.judge import checks, suites
from nnfaq.judge.exercises import EXERCISES, exercises, get_exercise
from nnfaq.judge.runner import _expected, check_signature, run_checks
from nnfaq.judge.starter import MARKER, exercise_id_of, starter

IDS = [e.id for e in EXERCISES]


def test_at_least_30_exercises_across_the_parts():
    assert len(EXERCISES) >= 30 and len(set(IDS)) == len(IDS)
    parts = {e.part for e in EXERCISES}
    assert parts <= set(nnfaq.PARTS) and len(parts) >= 6
    assert sorted(IDS) == sorted(e.id for p in nnfaq.PARTS for e in exercises(part=p))
    assert {e.level for e in EXERCISES} == set(nnfaq.LEVELS)


@pytest.mark.parametrize("ex", EXERCISES, ids=IDS)
def test_record_is_complete(ex):
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", ex.id)
    assert nnfaq.get_question(ex.question)  # the practised question exists
    assert ex.function.isidentifier() and ex.title and ex.task and ex.returns and ex.hints and ex.oracle
    names = [n for n, _, _ in _expected(ex)]
    documented = [n for group, _ in ex.parameters for n in group.split(", ")]
    assert documented == names  # one description per parameter, in order
    assert set(ex.free_defaults) <= set(names)
    if ex.solution is not None:
        assert ex.solution.startswith(f"nnfaq.{ex.part}.") and ex.solution.count(".") == 3
    assert ex.id in suites.SUITES
    assert repr(ex) == f"Exercise({ex.id!r}: {ex.function}({ex.signature}))"


def test_unknown_id_suggests():
    with pytest.raises(KeyError, match="did you mean dropout"):
        get_exercise("dropuot")


@pytest.mark.parametrize("ex", EXERCISES, ids=IDS)
def test_starter_is_the_exercise(ex):
    text = starter(ex.id)
    assert text.startswith(MARKER + ex.id + "\n") and exercise_id_of(text) == ex.id
    tree = ast.parse(text)
    (fn,) = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert fn.name == ex.function and ast.get_docstring(fn).startswith(ex.title)
    assert isinstance(fn.body[-1], ast.Raise) and "NotImplementedError" in ast.unparse(fn.body[-1])
    namespace = {}
    exec(compile(text, ex.filename, "exec"), namespace)
    assert check_signature(ex, namespace[ex.function]) == (True, f"{ex.function}({ex.signature})", None)
    question = nnfaq.get_question(ex.question)
    assert " ".join(question.text.split()[:4]) in " ".join(text.split()) and f"nnfaq judge {ex.filename}" in text
    for hint in ex.hints:  # the starter is the task, not the answer
        assert hint not in text


def test_a_fresh_starter_fails_at_the_first_value_check(monkeypatch):
    monkeypatch.setattr(checks, "EXAMPLES", 0.1)
    namespace = {}
    exec(starter("dropout"), namespace)
    events = []
    assert not run_checks(get_exercise("dropout"), namespace["dropout"], events.append)
    fail = events[-2]
    assert fail["kind"] == "forward" and fail["message"].startswith("dropout is not written yet")


def test_exercise_id_of():
    assert exercise_id_of("#!/usr/bin/env python\n#  nnfaq exercise:  top-p-filter \n") == "top-p-filter"
    assert exercise_id_of("import torch\n") is None
    assert exercise_id_of("\n" * 6 + "# nnfaq exercise: softmax\n") is None
