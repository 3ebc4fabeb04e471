"""The ``nnfaq`` command line, driven as a user drives it: subprocess runs of ``python -m nnfaq``.

Expectations are derived from the registry, never from a fixed list of questions, so the tests keep
holding while topics are added.
"""

import doctest
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import nnfaq
from nnfaq import cli
from nnfaq.cli import plain

QUESTIONS = nnfaq.questions()
TOPICS = nnfaq.topics()
COMMANDS = ["list", "search", "show", "check", "quiz"]
# one question per topic goes through a subprocess; every question goes through cli.main in process
SAMPLE = [t.questions[0] for t in TOPICS]


def run(*args, input=None, python_args=(), timeout=120):
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, *python_args, "-m", "nnfaq", *args],
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def flat(text: str) -> str:
    """Whitespace-insensitive form, so wrapped terminal lines compare equal to one-line strings."""
    return " ".join(text.split())


def typo(word: str) -> str:
    """Swap the second and third letters: 'dropout' -> 'dorpout'."""
    return word[0] + word[2] + word[1] + word[3:]


def misspelt(name: str) -> str:
    """A near miss of an id or topic name that is not itself a valid name."""
    return typo(name) if typo(name) != name else name + "x"


# --- help and usage ------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_on_every_command(command):
    result = run(*([command] if command else []), "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: nnfaq" + (f" {command}" if command else ""))
    if command is None:
        for name in COMMANDS:
            assert re.search(rf"^\s+{name}\s+\S", result.stdout, re.MULTILINE), f"{name} missing from --help"


def test_no_command_and_unknown_command_are_usage_errors():
    assert run().returncode == 2
    result = run("frobnicate")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


@pytest.mark.parametrize("args", [["quiz", "-n", "0"], ["search", "x", "-n", "-1"], ["quiz", "--seed", "abc"]])
def test_bad_option_values_are_usage_errors(args):
    assert run(*args).returncode == 2


# --- unknown ids and topics: closest matches, exit status 2 -------------------------------------


@pytest.mark.parametrize("command", ["show", "check"])
def test_unknown_id_prints_closest_matches_and_exits_2(command):
    q = QUESTIONS[len(QUESTIONS) // 2]
    wrong = misspelt(q.id)
    result = run(command, wrong)
    assert result.returncode == 2
    assert result.stdout == ""
    assert f"unknown question id {wrong!r}" in result.stderr
    assert q.id in result.stderr.partition("Closest matches:")[2]


def test_unknown_id_without_any_close_match_points_to_list():
    result = run("show", "qqqqqqqqqqqqqqqq")
    assert result.returncode == 2
    assert "nnfaq list" in result.stderr


@pytest.mark.parametrize("command", ["list", "check", "quiz"])
def test_unknown_topic_prints_closest_matches_and_exits_2(command):
    topic = TOPICS[-1].name
    result = run(command, "--topic", misspelt(topic), input="")
    assert result.returncode == 2
    assert "unknown topic" in result.stderr
    assert topic in result.stderr.partition("Closest matches:")[2]


# --- list ----------------------------------------------------------------------------------------


def test_list_shows_every_question_with_its_id_grouped_by_topic():
    result = run("list")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    headers = [i for i, line in enumerate(lines) if not line.startswith(" ") and line]
    assert [lines[i].split("  [")[0] for i in headers] == [t.title for t in TOPICS]
    for topic, start, end in zip(TOPICS, headers, [*headers[1:], len(lines)]):
        assert f"[{topic.name}, {len(topic.questions)} questions]" in lines[start]
        section = "\n".join(lines[start + 1 : end])
        assert [line.split()[0] for line in lines[start + 1 : end] if re.match(r"^  \S", line)] == [
            q.id for q in topic.questions
        ]
        for q in topic.questions:
            assert flat(plain(q.text)) in flat(section)


@pytest.mark.parametrize("topic", TOPICS, ids=lambda t: t.name)
def test_list_topic_shows_only_that_topic(topic):
    result = run("list", "--topic", topic.name)
    assert result.returncode == 0, result.stderr
    listed = re.findall(r"^  (\S+)", result.stdout, re.MULTILINE)
    assert listed == [q.id for q in topic.questions]


# --- search --------------------------------------------------------------------------------------


def scrambled(q) -> list[str]:
    """The question's words backwards, the longest one misspelt."""
    words = cli._words(plain(q.text))  # without "what", "is", "the", ...
    longest = max(words, key=len)
    return [typo(w) if w == longest else w for w in reversed(words)]


@pytest.mark.parametrize("q", SAMPLE, ids=lambda q: q.id)
def test_search_finds_a_question_despite_a_typo_and_another_word_order(q):
    result = run("search", *scrambled(q))
    assert result.returncode == 0, result.stderr
    ranked = re.findall(r"^\s*\d+\. (\S+)", result.stdout, re.MULTILINE)
    assert q.id in ranked[:3], f"{scrambled(q)} ranked {ranked}"


@pytest.mark.parametrize("q", QUESTIONS, ids=lambda q: q.id)
def test_search_ranks_every_question_near_the_top_for_its_scrambled_words(q):
    ranked = [found.id for _, found in cli.search(" ".join(scrambled(q)))]
    assert q.id in ranked[:3], f"{scrambled(q)} ranked {ranked}"


def test_search_ranks_the_exact_question_first_and_shows_its_text():
    q = QUESTIONS[-1]
    result = run("search", plain(q.text))
    ranked = re.findall(r"^\s*\d+\. (\S+)", result.stdout, re.MULTILINE)
    assert ranked[0] == q.id
    assert flat(plain(q.text)) in flat(result.stdout)


def test_search_limit_and_no_match():
    result = run("search", "-n", "1", QUESTIONS[0].id)
    assert len(re.findall(r"^\s*\d+\. ", result.stdout, re.MULTILINE)) == 1
    result = run("search", "qqqqqqqqqqqq")
    assert result.returncode == 1
    assert result.stdout == ""
    assert "no question matches" in result.stderr


# --- show ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("q", SAMPLE, ids=lambda q: q.id)
def test_show_runs_as_a_command(q):
    result = run("show", q.id)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(q.id)
    assert flat(plain(q.answer)) in flat(result.stdout)


@pytest.mark.parametrize("q", QUESTIONS, ids=lambda q: q.id)
def test_show_prints_question_answer_mistakes_and_proof(q, capsys):
    assert cli.main(["show", q.id]) == 0
    out = capsys.readouterr().out
    assert out.startswith(q.id)
    assert q.function in out
    assert flat(plain(q.text)) in flat(out)
    assert flat(plain(q.answer)) in flat(out)
    for mistake in q.mistakes:
        assert flat(plain(mistake.claim)) in flat(out)
    # the proof code is shown verbatim, line by line, in source order
    code = [line for e in doctest.DocTestParser().get_examples(q.examples) for line in e.source.splitlines()]
    prompts = [re.match(r"^ {4}(?:>>>|\.\.\.)(?: (.*))?$", line) for line in out.splitlines()]
    shown = [m[1] or "" for m in prompts if m]
    assert code and shown == code
    # outside the code, no rst markup is left for the reader to decode
    prose = [line for line in out.splitlines() if not line.startswith("    ")]
    for line in prose:
        assert not re.search(r"``|:[a-z]+:`|\*\*|`_", line), line


@pytest.mark.parametrize(
    ("rst", "text"),
    [
        ("the ``F.dropout`` call", "the F.dropout call"),
        ("see :func:`eval_is_deterministic`", "see eval_is_deterministic()"),
        ("see :func:`~torch.nn.functional.dropout`", "see dropout()"),
        ("see :func:`torch.nn.functional.dropout`", "see torch.nn.functional.dropout()"),
        ("the :class:`~torch.nn.Dropout` module", "the Dropout module"),
        (":math:`\\lambda w` added", "\\lambda w added"),
        ("**bold** and *emphasis*", "bold and emphasis"),
        ("the paper [1]_ says", "the paper [1] says"),
        ("`PyTorch <https://pytorch.org>`_ docs", "PyTorch (https://pytorch.org) docs"),
        ("a `default role` word", "a default role word"),
        ("x ** 2 and a * b", "x ** 2 and a * b"),
    ],
)
def test_plain_strips_rst_markup(rst, text):
    assert plain(rst) == text


# --- list, search and show start fast: no torch, no numpy ---------------------------------------

FAST = [["list"], ["search", typo(QUESTIONS[0].id.split("-")[0])], ["show", QUESTIONS[-1].id]]


@pytest.mark.parametrize("args", [*FAST, ["quiz", "-n", "1"]], ids=lambda a: a[0])
def test_fast_commands_do_not_import_torch_or_numpy(args):
    result = run(*args, input="\ny\n", python_args=["-X", "importtime"])
    assert result.returncode == 0, result.stderr
    imported = {line.rpartition("|")[2].strip() for line in result.stderr.splitlines() if "|" in line}
    assert "nnfaq.cli" in imported  # the import log is real
    heavy = sorted(m for m in imported if m.split(".")[0] in ("torch", "numpy"))
    assert heavy == []


# Start-up time is measured by the benchmark session (`nox -s bench`), not by timed tests.


# --- check ---------------------------------------------------------------------------------------


def test_check_one_id_reports_pass_and_time():
    q = QUESTIONS[0]
    result = run("check", q.id)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(rf"^PASS  {re.escape(q.id)}\s+\d+\.\d\d s$", result.stdout, re.MULTILINE)
    assert result.stdout.splitlines()[-1].startswith("1 passed, 0 failed in ")


def test_check_runs_every_proof_by_default_under_plain_doctest():
    # plain doctest (NORMALIZE_WHITESPACE | ELLIPSIS, no pytest NUMBER flag): every answer must pass
    result = run("check", timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    reported = re.findall(r"^(PASS|FAIL)  (\S+)", result.stdout, re.MULTILINE)
    assert reported == [("PASS", q.id) for q in QUESTIONS]
    assert result.stdout.splitlines()[-1].startswith(f"{len(QUESTIONS)} passed, 0 failed in ")


FAKE_TOPIC = '''
"""Fake topic for the CLI tests

Questions whose proofs pass and fail on purpose.
"""

import torch

from nnfaq._registry import question

__all__ = ["draws", "again", "wrong"]


def _helper():
    return 41


@question("fake-draws")
def draws():
    """Draw.

    **Does the proof run seeded, on one thread, with torch, nn, F, np and the module's names?**

    Yes.

    Examples
    --------
    >>> torch.equal(torch.rand(3), torch.rand(3, generator=torch.Generator().manual_seed(0)))
    True
    >>> torch.get_num_threads()
    1
    >>> F.relu(torch.tensor([-1.0, 2.0])).tolist(), isinstance(nn.Linear(2, 2), nn.Module), int(np.arange(4).sum())
    ([0.0, 2.0], True, 6)
    >>> _helper() + 1
    42
    >>> _ = torch.rand(100); torch.set_num_threads(2)
    """


@question("fake-again")
def again():
    """Draw again.

    **Is torch reseeded and set back to one thread before each question?**

    Yes.

    Examples
    --------
    >>> torch.equal(torch.rand(3), torch.rand(3, generator=torch.Generator().manual_seed(0)))
    True
    >>> torch.get_num_threads()
    1
    >>> list(range(30))
    [0, 1, 2, ..., 29]
    """


@question("fake-wrong")
def wrong():
    """Wrong.

    **Does a wrong proof fail the check?**

    It must.

    Examples
    --------
    >>> 1 + 1
    3
    """
'''

DRIVER = """
import importlib.util, runpy, sys
from pathlib import Path
from nnfaq import _registry

folder = Path(sys.argv[1])
_registry._PACKAGE_DIR = folder
_registry.TOPICS = ("fakecli",)
spec = importlib.util.spec_from_file_location("nnfaq.fakecli", folder / "fakecli.py")
module = importlib.util.module_from_spec(spec)
sys.modules["nnfaq.fakecli"] = module
spec.loader.exec_module(module)
sys.argv = ["nnfaq", *sys.argv[2:]]
runpy.run_module("nnfaq", run_name="__main__", alter_sys=True)
"""


def run_fake_check(tmp_path, *args):
    (tmp_path / "fakecli.py").write_text(textwrap.dedent(FAKE_TOPIC))
    return subprocess.run(
        [sys.executable, "-c", DRIVER, str(tmp_path), "check", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_check_failure_exits_1_and_reports_the_failed_example(tmp_path):
    result = run_fake_check(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert re.findall(r"^(PASS|FAIL)  (\S+)", out, re.MULTILINE) == [
        ("PASS", "fake-draws"),
        ("PASS", "fake-again"),
        ("FAIL", "fake-wrong"),
    ]
    # the report points to the file and line of the failing example and shows both outputs
    line = next(i for i, s in enumerate(FAKE_TOPIC.splitlines()) if s.strip() == ">>> 1 + 1")
    assert f'fakecli.py", line {line + 1}, in nnfaq.fakecli.wrong' in out
    assert re.search(r"Expected:\s+3\s+Got:\s+2", out)
    assert out.splitlines()[-1].startswith("2 passed, 1 failed in ")


def test_check_selected_passing_ids_exit_0(tmp_path):
    # fake-again right after fake-draws, which drew random numbers and set 2 threads, still passes
    result = run_fake_check(tmp_path, "fake-draws", "fake-again")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1].startswith("2 passed, 0 failed in ")


# --- quiz ----------------------------------------------------------------------------------------


def asked(out: str) -> list[str]:
    """Ids of the questions the quiz asked, in order, found by their text."""
    found = []
    for q in QUESTIONS:
        position = flat(out).find(flat(plain(q.text)))
        if position >= 0:
            found.append((position, q.id))
    return [qid for _, qid in sorted(found)]


def test_quiz_with_piped_input_asks_reveals_and_scores():
    n = min(2, len(QUESTIONS))
    result = run("quiz", "-n", str(n), "--seed", "3", input="\ny\n\nn\n"[: 3 * n])
    assert result.returncode == 0, result.stderr
    out = result.stdout
    ids = asked(out)
    assert len(ids) == n and len(set(ids)) == n
    for i, qid in enumerate(ids, 1):
        q = nnfaq.get_question(qid)
        assert f"Question {i} of {n}" in out
        assert flat(plain(q.answer)) in flat(out)  # revealed
    assert f"Score: 1 of {n} right" in out
    if n == 2:
        assert f"review: nnfaq show {ids[1]}" in out
        assert f"review: nnfaq show {ids[0]}" not in out


def test_quiz_is_reproducible_with_a_seed():
    outputs = [run("quiz", "-n", "3", "--seed", "7", input="\ny\n" * 3).stdout for _ in range(2)]
    assert outputs[0] == outputs[1]
    assert asked(outputs[0])


def test_quiz_asks_again_until_y_or_n():
    result = run("quiz", "-n", "1", input="\nmaybe\n\nYes\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("Did you get it right?") == 3
    assert "Score: 1 of 1 right" in result.stdout


@pytest.mark.parametrize(
    ("stdin", "score"),
    [("", "Score: 0 of 0 right"), ("\n", "Score: 0 of 0 right"), ("\ny\n", "Score: 1 of 1 right"), ("q\n", "0 of 0")],
)
def test_quiz_ends_cleanly_at_end_of_input_or_on_q(stdin, score):
    n = min(3, len(QUESTIONS))
    result = run("quiz", "-n", str(n), input=stdin)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert score in result.stdout
    if n > 1:
        assert f"of {n} questions)" in result.stdout  # says it stopped early


@pytest.mark.parametrize("topic", TOPICS, ids=lambda t: t.name)
def test_quiz_topic_asks_only_that_topic_and_at_most_all_of_it(topic):
    n = len(topic.questions)
    result = run("quiz", "--topic", topic.name, "-n", str(n + 5), input="\nn\n" * (n + 5))
    assert result.returncode == 0, result.stderr
    assert sorted(asked(result.stdout)) == sorted(q.id for q in topic.questions)
    assert f"Score: 0 of {n} right" in result.stdout


# --- the console script --------------------------------------------------------------------------


def test_console_script_matches_python_m():
    script = Path(sys.executable).with_name("nnfaq")
    if not script.exists():
        pytest.skip("the nnfaq console script is not installed next to this Python")
    result = subprocess.run([script, "list"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == run("list").stdout


@pytest.mark.parametrize(
    "argv",
    [
        ["list"],
        ["list", "--topic", "attention"],
        ["list", "-t", "attention"],
        ["show", "dropout-train-vs-eval"],
        ["search", "batch", "norm", "eval"],
        ["search", "dropuot"],
    ],
)
def test_fast_parser_agrees_with_argparse(argv):
    fast = cli._fast_args(argv)
    assert fast is not None
    assert vars(fast) == vars(cli._parser().parse_args(argv))


@pytest.mark.parametrize(
    "argv",
    [[], ["list", "-h"], ["list", "--topic"], ["search", "-n", "3", "x"], ["show"], ["show", "a", "b"], ["quiz"]],
)
def test_fast_parser_leaves_everything_else_to_argparse(argv):
    assert cli._fast_args(argv) is None


@pytest.mark.parametrize("width", [40, 60, 96])
def test_wrap_matches_textwrap_on_every_question(width):
    import textwrap

    for q in QUESTIONS:
        text = plain(q.text)
        assert cli._wrap(text, width) == textwrap.wrap(text, width, break_on_hyphens=False)


def test_wrap_keeps_a_word_longer_than_the_line_whole():
    assert cli._wrap("a sparse_categorical_crossentropy b", 10) == ["a", "sparse_categorical_crossentropy", "b"]


def test_plain_literal_only_fast_path():
    assert plain("how does ``clip_grad_norm_`` work?") == "how does clip_grad_norm_ work?"
    assert plain("``a`` and :func:`b`") == "a and b()"  # a role: the full path
    assert plain("see [1]_ and ``x``") == "see [1] and x"
