"""The ``nnfaq`` command line: every command, every error path, the quiz and its saved state.

Most tests call :func:`nnfaq.cli.main` in process (capsys, a StringIO for stdin); a subprocess runs
only where the process boundary is the point (console script, imports, a closed pipe, a real
stdin, an ASCII terminal). Expectations come from the registry, never from a fixed list of
questions, so they hold while questions are added. The ``fake`` fixture swaps in a small registry
of two parts whose levels, short answers, follow-ups and proofs are known.
"""

import doctest
import importlib
import io
import json
import os
import re
import subprocess
import sys
import textwrap
import unicodedata
from pathlib import Path

import pytest

import nnfaq
from nnfaq import _registry, cli
from nnfaq._text import math, math_blocks, paragraphs, plain, wrap

QUESTIONS = nnfaq.questions()
COMMANDS = ["list", "search", "show", "quiz", "check", "exercise", "judge"]
LATEX = re.compile(r"\\[A-Za-z]+|\\[,;:!|{}_ ]")  # a backslash command left for the reader to decode


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """No test reads or writes the user's quiz state, or colours its output."""
    monkeypatch.setenv("NNFAQ_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("NNFAQ_TORCH_THREADS", raising=False)


def nnfaq_main(capsys, monkeypatch, *argv, stdin=""):
    """(status, stdout, stderr) of ``nnfaq ARGV`` with ``stdin`` as its standard input."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def run(capsys, monkeypatch):
    return lambda *argv, stdin="": nnfaq_main(capsys, monkeypatch, *argv, stdin=stdin)


def flat(text: str) -> str:
    """Whitespace-insensitive form, so wrapped terminal lines compare equal to one-line strings."""
    return " ".join(text.split())


def typo(word: str) -> str:
    """Swap the second and third letters: 'dropout' -> 'dorpout'."""
    return word[0] + word[2] + word[1] + word[3:]


def state_file(tmp_path) -> Path:
    return tmp_path / "data" / "quiz.json"


# --- a small registry with known levels, short answers, follow-ups and proofs ---------------------

FAKE = {
    "alpha/__init__.py": '''
        """Alpha part

        The first fake part.
        """

        TOPICS = ("one",)
    ''',
    "alpha/one.py": r'''
        """Topic one

        Questions whose proofs pass.
        """

        import torch

        from nnfaq._registry import question

        __all__ = ["draws", "again", "unwritten"]


        def _helper():
            return 41


        @question(
            "fake-draws",
            level="basic",
            short="Yes: seeded, on one thread, with ``torch``, ``nn``, ``F`` and ``np`` predefined.",
            followups=("fake-again", "fake-wrong"),
        )
        def draws():
            r"""Draw.

            **Does the proof run seeded, on one thread, with torch, nn, F, np and the module's names?**

            Yes, and its variance is :math:`2/(\text{fan\_in}+\text{fan\_out})`.

            .. math::

                \frac{\partial L}{\partial w} = \sqrt{\hat v} \cdot W^\top

            Notes
            -----
            .. admonition:: Common mistake

                "The proof runs :math:`\alpha` times unseeded."

                It is seeded before every question.

            Examples
            --------
            The draw matches a fresh generator seeded with 0:

            >>> torch.equal(torch.rand(3), torch.rand(3, generator=torch.Generator().manual_seed(0)))
            True
            >>> torch.get_num_threads()
            1
            >>> F.relu(torch.tensor([-1.0, 2.0])).tolist(), isinstance(nn.Linear(2, 2), nn.Module)
            ([0.0, 2.0], True)
            >>> int(np.arange(4).sum())
            6
            >>> _helper() + 1
            42
            >>> _ = torch.rand(100); torch.set_num_threads(2)
            """


        @question("fake-again", level="intermediate", short="Yes, every question starts from the same state.")
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


        @question("fake-unwritten")
        def unwritten():
            """Not written yet.

            **Is a question without a short answer or a level still shown?**

            It is: its deep answer stands in for the short one.

            Examples
            --------
            >>> 1 + 1
            2
            """
    ''',
    "beta/__init__.py": '''
        """Beta part

        The second fake part: one topic of one question.
        """

        TOPICS = ("two",)
    ''',
    "beta/two.py": '''
        """Topic two

        A question whose proof fails.
        """

        from nnfaq._registry import question

        __all__ = ["wrong"]


        @question("fake-wrong", level="advanced", short="It must fail the check.")
        def wrong():
            """Wrong.

            **Does a wrong proof fail the check?**

            It must.

            Examples
            --------
            >>> 1 + 1
            3
            """
    ''',
}
FAKE_IDS = ["fake-draws", "fake-again", "fake-unwritten", "fake-wrong"]


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """The registry and the ``nnfaq`` package see only the two fake parts above."""
    root = tmp_path / "pkg"
    for name, source in FAKE.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(source).lstrip())
    importlib.invalidate_caches()
    monkeypatch.setenv("NNFAQ_NO_CACHE", "1")
    monkeypatch.setattr(_registry, "_PACKAGE_DIR", str(root))
    monkeypatch.setattr(_registry, "PARTS", ("alpha", "beta"))
    monkeypatch.setattr(nnfaq, "__path__", [*nnfaq.__path__, str(root)])  # `check` imports nnfaq.alpha.one
    yield root
    for name in [m for m in sys.modules if m.split(".")[:2] in (["nnfaq", "alpha"], ["nnfaq", "beta"])]:
        del sys.modules[name]
    for part in ("alpha", "beta"):
        if hasattr(nnfaq, part):
            delattr(nnfaq, part)


# --- help and usage errors -----------------------------------------------------------------------


def test_no_command_prints_the_help_and_exits_0(run):
    status, out, err = run()
    assert status == 0 and err == ""
    assert out.startswith("usage: nnfaq")
    for name in COMMANDS:
        assert re.search(rf"^\s+{name}\s+\S", out, re.MULTILINE), f"{name} missing from the help"


@pytest.mark.parametrize("command", [c for c in COMMANDS if c not in cli.PASSTHROUGH])
def test_every_command_has_help(run, command):
    status, out, _ = run(command, "--help")
    assert status == 0
    assert out.startswith(f"usage: nnfaq {command}")


BAD = [
    (["quiz", "-n", "0"], "expected a positive integer, got '0'"),
    (["quiz", "-n", "-3"], "expected a positive integer, got '-3'"),
    (["search", "x", "-n", "0"], "expected a positive integer"),
    (["quiz", "--seed", "abc"], "invalid int value"),
    (["quiz", "--level", "hard"], "invalid choice: 'hard'"),
    (["list", "--level", "hard"], "invalid choice: 'hard'"),
    (["list", "--part", "nope"], "invalid choice: 'nope'"),
    (["check", "--part", "nope"], "invalid choice: 'nope'"),
    (["show"], "required: ID"),
    (["show", "a", "b"], "unrecognized arguments: b"),
    (["list", "extra"], "unrecognized arguments: extra"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["search"], "type the words to look for"),
    (["search", ""], "type the words to look for"),
    (["search", "!!", "?"], "type the words to look for"),
]


@pytest.mark.parametrize(("argv", "says"), BAD, ids=[" ".join(a) or "empty" for a, _ in BAD])
def test_bad_input_gets_one_line_and_status_2(run, argv, says):
    status, out, err = run(*argv)
    assert status == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("nnfaq"), err
    assert says in err


@pytest.mark.parametrize("command", ["list", "quiz", "check"])
def test_unknown_topic_suggests_the_closest(run, command):
    topic = nnfaq.topic_names()[-1]
    status, _, err = run(command, "--topic", typo(topic) + "x")
    assert status == 2 and err.count("\n") == 1
    assert f"unknown topic {typo(topic) + 'x'!r}; did you mean" in err
    assert topic in err


@pytest.mark.parametrize("command", ["show", "check"])
def test_unknown_id_suggests_the_closest(run, command):
    q = QUESTIONS[len(QUESTIONS) // 2]
    wrong = q.id[:-1] + "-" + q.id[-1]  # 'dropout-train-vs-eval' -> 'dropout-train-vs-eva-l'
    status, out, err = run(command, wrong)
    assert status == 2 and out == "" and err.count("\n") == 1
    assert f"no question with id {wrong!r}" in err
    assert q.id in err.partition("did you mean")[2]
    assert "nnfaq list" in run(command, "qqqqqqqqqqqq")[2]  # nothing close: where to look


# --- list ----------------------------------------------------------------------------------------


def sections(out: str):
    """``[(part header, [(topic header, [question ids])])]`` of a listing."""
    parts = []
    for line in out.splitlines():
        if re.match(r"^\S.*\(\w+: \d+ questions?\)$", line):
            parts.append((line, []))
        elif re.match(r"^  \S.*\(\w+: \d+ questions?\)$", line):
            parts[-1][1].append((line, []))
        elif re.match(r"^    \S+  \[[a-z ]+\]$", line):
            parts[-1][1][-1][1].append(line.split()[0])
    return parts


def test_list_groups_every_question_by_part_then_topic(run):
    status, out, _ = run("list")
    assert status == 0
    expected = [(p, [t for t in p.topics if t.questions]) for p in nnfaq.parts() if p.questions]
    listed = sections(out)
    assert [header.split("  (")[0] for header, _ in listed] == [p.title for p, _ in expected]
    for (header, topics), (part, real) in zip(listed, expected, strict=True):
        assert header.endswith(f"({part.name}: {len(part.questions)} question{'s' * (len(part.questions) != 1)})")
        assert [t.strip().split("  (")[0] for t, _ in topics] == [t.title for t in real]
        assert [ids for _, ids in topics] == [[q.id for q in t.questions] for t in real]
    lines = out.splitlines()
    for q in QUESTIONS:  # each question with its level (or that it has none yet), then its text
        line = lines.index(f"    {q.id}  [{q.level or 'no level'}]")
        shown = flat(" ".join(lines[line + 1 : line + 4]))
        assert shown.startswith(flat(plain(q.text))), q.id


@pytest.mark.parametrize(
    "filters",
    [["--part", "alpha"], ["--part", "beta"], ["--level", "basic"], ["--topic", "one"], ["-p", "alpha", "-l", "basic"]],
)
def test_list_filters_by_part_level_and_topic(run, fake, filters):
    names = {"-p": "part", "--part": "part", "-l": "level", "--level": "level", "--topic": "topic"}
    given = {names[k]: v for k, v in zip(filters[::2], filters[1::2], strict=True)}
    status, out, _ = run("list", *filters)
    assert status == 0
    shown = [qid for _, topics in sections(out) for _, ids in topics for qid in ids]
    assert shown == [
        q.id for q in nnfaq.questions(given.get("topic"), part=given.get("part"), level=given.get("level"))
    ]
    assert shown


def test_list_says_which_answers_are_still_being_written(run, fake):
    out = run("list")[1]
    assert "    fake-unwritten  [no level]\n      Is a question without" in out
    assert (
        out.splitlines()[-1] == "Still being written: 1 without a level and 1 without a short answer (of 4 questions)."
    )
    assert "Still being written" not in run("list", "--part", "beta")[1]


def test_list_of_nothing_exits_1_and_says_why(run, fake):
    status, out, err = run("list", "--part", "beta", "--level", "basic")
    assert status == 1 and out == ""
    assert err == "nnfaq list: no question matches --part beta --level basic\n"
    err = run("list", "--part", "alpha", "--level", "advanced")[2]
    assert "(1 of 3 questions has no level yet)" in err


def test_one_question_reads_1_question_everywhere(run, fake):
    out = run("list")[1] + run("list", "--part", "beta")[1]
    out += run("quiz", "--part", "beta", stdin="\nn\n")[1] + run("check", "--part", "alpha", "--level", "basic")[1]
    assert "(beta: 1 question)" in out and "(two: 1 question)" in out
    assert not re.search(r"\b1 questions\b", out)


def test_no_real_listing_says_1_questions(run):
    for argv in (["list"], *(["list", "--topic", t.name] for t in nnfaq.topics()), ["quiz", "-n", "1"]):
        assert not re.search(r"\b1 questions\b", run(*argv, stdin="\nn\n")[1]), argv


# --- search --------------------------------------------------------------------------------------


def scrambled(q) -> list[str]:
    """The question's words backwards, the longest one misspelt."""
    words = cli._words(plain(q.text))  # without "what", "is", "the", ...
    longest = max(words, key=len)
    return [typo(w) if w == longest else w for w in reversed(words)]


def test_search_ranks_questions_near_the_top_for_their_scrambled_words():
    for q in QUESTIONS[::16]:  # a spread over the parts: one search takes a few tenths of a second
        ranked = [found.id for _, found in cli.search(" ".join(scrambled(q)))]
        assert q.id in ranked[:3], f"{scrambled(q)} ranked {ranked}"


def test_search_prints_ranked_ids_with_part_topic_and_level(run):
    q = QUESTIONS[-1]
    status, out, _ = run("search", *scrambled(q))
    assert status == 0
    ranked = re.findall(r"^\s*\d+\. (\S+)  \[(\w+)/(\w+), ([\w ]+)\]$", out, re.MULTILINE)
    assert q.id in [r[0] for r in ranked[:3]]
    found = next(r for r in ranked if r[0] == q.id)
    assert found[1:] == (q.part, q.topic, q.level or "no level")
    assert flat(plain(q.text)) in flat(out)
    assert len(re.findall(r"^\s*\d+\. ", run("search", "-n", "1", q.id)[1], re.MULTILINE)) == 1


def test_search_without_a_match_exits_1(run):
    status, out, err = run("search", "qqqqqqqqqqqq")
    assert status == 1 and out == ""
    assert "no question matches 'qqqqqqqqqqqq'" in err


# --- show ----------------------------------------------------------------------------------------


def prose_lines(out: str) -> list[str]:
    """The lines a reader reads as text: everything but the proof's code (indented 4 in its section)."""
    before, proof = out.split("\nProof  (", 1)
    proof, followups = proof.split("\nFollow-ups\n", 1)
    code = [line for line in proof.splitlines() if line.startswith("    ")]
    return [*before.splitlines(), *(line for line in proof.splitlines() if line not in code), *followups.splitlines()]


def test_show_prints_the_short_answer_first(run):
    for q in QUESTIONS:  # one test, not one per question: each test item costs the suite's reset
        shows_the_short_answer_first(q, *run("show", q.id))


def shows_the_short_answer_first(q, status, out, err):
    assert status == 0, q.id
    lines = out.splitlines()
    assert lines[0] == q.id
    assert flat(plain(q.text)) in flat(out.split("\n\n")[0])
    assert ("level " + q.level if q.level else "level not set yet") in out
    part = next(p for p in nnfaq.parts() if p.name == q.part)
    assert f"{part.title} › {next(t for t in part.topics if t.name == q.topic).title}" in out
    if q.short:
        assert flat(plain(q.short)) in flat(out.partition("Short answer\n")[2]), q.id
    else:  # not written yet: said so, and the deep answer stands in
        assert "Short answer: not written yet; the deep answer instead:" in out, q.id
        assert flat(plain(q.answer)) in flat(out), q.id
    assert lines[-1] == f"More: nnfaq show {q.id} --deep"
    assert ">>>" not in out, q.id


def test_show_deep_adds_answer_math_mistakes_proof_and_followups(run):
    for q in QUESTIONS:
        shows_everything_deep(q, *run("show", q.id, "--deep"))


def shows_everything_deep(q, status, out, err):
    assert status == 0, q.id
    assert flat(plain(q.short)) in flat(out) if q.short else "Short answer: not written yet\n" in out
    deep = out.partition("Deep answer\n")[2]
    assert flat(plain(q.answer)) in flat(deep)
    for latex in math_blocks(q.docstring.split("\nParameters\n")[0]):
        assert flat(math(latex, display=True)) in flat(out.partition("Math\n")[2])
    for mistake in q.mistakes:
        assert flat(plain(mistake.claim)) in flat(out)
        assert flat(plain(mistake.correction)) in flat(out)
    assert f"Proof  (run it: nnfaq check {q.id})\n  answered by {q.function}\n" in out
    # the proof verbatim: the same examples, with the same outputs, in source order
    proof = out.partition("\nProof  (")[2].partition("\nFollow-ups\n")[0]
    examples = [(e.source, e.want) for e in doctest.DocTestParser().get_examples(q.examples)]
    assert examples and examples == [(e.source, e.want) for e in doctest.DocTestParser().get_examples(proof)]
    followups = out.partition("Follow-ups\n")[2]
    known = {f.id: f for f in QUESTIONS}
    for fid in q.followups:  # a follow-up still being written says so
        text = plain(known[fid].text) if fid in known else "(no such question yet: it is being written)"
        assert flat(f"{fid} {text}") in flat(followups), q.id
    if not q.followups:
        assert followups.strip() == "none listed yet"
    # outside the code no rst markup and no LaTeX are left for the reader to decode
    for line in prose_lines(out):
        assert not re.search(r"``|:[a-z]+:`|\*\*|`_", line), line
        assert not LATEX.search(line), line


def test_show_on_a_known_question(run, fake):
    out = run("show", "fake-draws", "--deep")[1]
    head = out.split("\n\n")[0].splitlines()
    assert head == [
        "fake-draws",
        "Does the proof run seeded, on one thread, with torch, nn, F, np and the module's names?",
        "level basic · Alpha part › Topic one  (alpha/one)",
    ]
    assert "Short answer\n  Yes: seeded, on one thread, with torch, nn, F and np predefined.\n" in out
    assert "Yes, and its variance is 2/(fan_in+fan_out)." in out
    assert "Math\n    ∂L/∂w = √v̂ · Wᵀ\n" in out
    assert '"The proof runs α times unseeded."' in out
    assert "  The draw matches a fresh generator seeded with 0:\n" in out
    assert out.endswith(
        "Follow-ups\n"
        "  fake-again  Is torch reseeded and set back to one thread before each question?\n"
        "  fake-wrong  Does a wrong proof fail the check?\n"
    )
    out = run("show", "fake-unwritten")[1]
    assert "level not set yet · Alpha part › Topic one" in out
    assert "Short answer: not written yet; the deep answer instead:\n  It is: its deep answer stands in" in out


# --- math and rst as plain text ------------------------------------------------------------------

MATH = [
    (r"\frac{\partial L}{\partial w}", "∂L/∂w"),
    (r"\frac{m_i\,x_i}{1-p}", "(m_i x_i)/(1-p)"),
    (r"\frac12 e^2 + \tfrac{1}{4}", "½ e² + ¼"),
    (r"\sqrt{d_k}, \sqrt{\sigma^2 + \epsilon}, \sqrt[3]{x}", "√d_k, √(σ² + ϵ), ∛x"),
    (r"U(\pm 1/\sqrt{\text{fan\_in}}), \mu v, \forall i", "U(±1/√fan_in), μ v, ∀i"),
    (r"U(\pm 1/\sqrt{\text{fan\_in}}), \mu v, \forall i", "U(±1/√fan_in), μ v, ∀i"),
    (r"W^\top x_{t-1}^{(k)} + 10^{-6}", "Wᵀ x_(t-1)^(k) + 10⁻⁶"),
    (r"w_{y_i}, \beta_1^t, x_{ic}", "w_(y_i), β₁^t, x_ic"),
    (r"\text{fan\_in} \cdot \mathrm{Var}(w)", "fan_in · Var(w)"),
    (r"\log\mathrm{softmax}(x)_y, \log p, \log\frac{a}{b}", "log softmax(x)_y, log p, log(a/b)"),
    (r"\mathbb{E}[y] \in \mathbb{R}^{d}", "𝔼[y] ∈ ℝ^d"),
    (r"\left( \frac{a}{b} \right) \Big\lVert g \Big\rVert_2", "(a/b) ‖g‖₂"),
    (r"\hat y, \bar{v}, \vec x", "ŷ, v̄, x⃗"),
    (
        r"\ell(e) = \begin{cases} \tfrac12 e^2 & |e| \le \delta \\ \delta & \text{else} \end{cases}",
        "ℓ(e) = { ½ e², |e| ≤ δ; δ, else }",
    ),
    (r"\begin{pmatrix} a & b \\ c & d \end{pmatrix}", "[a, b; c, d]"),
    (r"\underbrace{W_2 W_1}_{W} x", "(W₂ W₁) x"),
    (r"\bar u \mathrel{+}= \bar v", "ū += v̄"),
    (r"a \implies b \iff c, \quad x \sim y \approx z", "a ⟹ b ⟺ c, x ∼ y ≈ z"),
    (r"\operatorname*{arg\,max}_j x_j, \arg\min_e L", "arg max_j x_j, arg min_e L"),
    (r"\frobnicate{x} y", "frobnicate x y"),  # unknown: its name, never dropped, never a backslash
    (r"a } b { c", "a b c"),  # unbalanced braces do not break it
]


@pytest.mark.parametrize(("latex", "text"), MATH, ids=[t for _, t in MATH])
def test_math_reads_as_unicode(latex, text):
    assert math(latex) == unicodedata.normalize("NFC", text)


def test_display_math_keeps_its_rows_on_separate_lines():
    latex = r"\begin{aligned} a &= b \\ c &= d \end{aligned}"
    assert math(latex, display=True) == "a = b\nc = d"
    assert math(latex) == "a = b; c = d"


def test_no_latex_reaches_the_terminal_for_any_question():
    for q in QUESTIONS:
        rst = [q.text, q.short, q.answer, *(m.claim for m in q.mistakes), *(m.correction for m in q.mistakes)]
        for text in [*map(plain, rst), *map(math, math_blocks(q.docstring.split("\nParameters\n")[0]))]:
            assert not LATEX.search(text), f"{q.id}: {text}"


@pytest.mark.parametrize(
    ("rst", "text"),
    [
        ("the ``F.dropout`` call", "the F.dropout call"),
        ("see :func:`eval_is_deterministic`", "see eval_is_deterministic()"),
        ("see :func:`~torch.nn.functional.dropout`", "see dropout()"),
        ("see :func:`torch.nn.functional.dropout()`", "see torch.nn.functional.dropout()"),
        ("the :class:`~torch.nn.Dropout` module", "the Dropout module"),
        ("the :class:`dropout layer <torch.nn.Dropout>`", "the dropout layer"),
        (":math:`\\lambda w` added", "λ w added"),
        ("**bold** and *emphasis*", "bold and emphasis"),
        ("the paper [1]_ says", "the paper [1] says"),
        ("`PyTorch <https://pytorch.org>`_ docs", "PyTorch (https://pytorch.org) docs"),
        ("a `default role` word", "a default role word"),
        ("x ** 2 and a * b", "x ** 2 and a * b"),
    ],
)
def test_plain_strips_rst_markup(rst, text):
    assert plain(rst) == text


def test_wrapping_keeps_long_words_whole_and_bullets_apart():
    assert wrap("a sparse_categorical_crossentropy b", 10) == ["a", "sparse_categorical_crossentropy", "b"]
    assert wrap("one two three", 9, head="- ") == ["- one two", "  three"]
    rst = "First\nline.\n\n- item one\n  goes on\n- item ``two``\n\n"
    rst += ".. math::\n    :label: eq\n\n    a = \\frac{b}{c}\n\nEnd."
    assert paragraphs(rst, 40, indent="  ") == [
        "  First line.",
        "",
        "  - item one goes on",
        "  - item two",
        "",
        "    a = b/c",
        "",
        "  End.",
    ]


# --- quiz ----------------------------------------------------------------------------------------


def asked(out: str) -> list[str]:
    """Ids of the questions the quiz asked, in order, from its "more: nnfaq show ID" lines."""
    return re.findall(r"^  more: nnfaq show (\S+) --deep$", out, re.MULTILINE)


def test_quiz_asks_reveals_marks_and_scores(run, fake, tmp_path):
    status, out, err = run("quiz", "-n", "2", "--part", "alpha", "--seed", "3", stdin="\ny\nmy answer\nn\n")
    assert status == 0 and err == ""
    ids = asked(out)
    assert len(ids) == 2 and len(set(ids)) == 2
    for number, qid in enumerate(ids, 1):
        q = nnfaq.get_question(qid)
        assert f"Question {number} of 2  [{q.level or 'no level'}, alpha/one]" in out
        assert flat(plain(q.short or q.answer)) in flat(out)  # revealed
    assert "Score: 1 of 2 right" in out
    assert f"To review: {ids[1]}\n  nnfaq show {ids[1]} --deep\n" in out
    assert "nnfaq quiz --review asks again the 1 question you last got wrong." in out
    assert json.loads(state_file(tmp_path).read_text())["review"] == [ids[1]]


def test_quiz_with_a_seed_is_reproducible(run):
    outputs = [run("quiz", "-n", "3", "--seed", "7", stdin="\ny\n" * 3)[1] for _ in range(2)]
    assert outputs[0] == outputs[1]
    assert len(asked(outputs[0])) == 3


def test_an_invalid_mark_says_what_is_accepted(run, fake):
    status, out, _ = run("quiz", "--part", "beta", stdin="\nmaybe\n\nYES\n")
    assert status == 0
    assert out.count("Did you get it right? [y/n, q stops]") == 3
    assert "'maybe' is not a mark: type y if you got it right, n if not, or q to stop." in out
    assert "'' is not a mark" in out
    assert "Score: 1 of 1 right" in out


@pytest.mark.parametrize(
    ("stdin", "score"),
    [("", "0 of 0"), ("\n", "0 of 0"), ("q\n", "0 of 0"), ("\ny\n", "1 of 1"), ("\nn\n\nquit\n", "0 of 1")],
)
def test_quiz_stops_cleanly_at_the_end_of_input_or_on_q(run, fake, stdin, score):
    status, out, err = run("quiz", "-n", "3", stdin=stdin)
    assert status == 0 and err == ""
    assert f"Score: {score} right (stopped after {score.split()[-1]} of 3 questions)" in out


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (["--level", "basic"], ["fake-draws"]),
        (["--part", "beta"], ["fake-wrong"]),
        (["--topic", "one"], ["fake-draws", "fake-again", "fake-unwritten"]),
        (["--part", "alpha", "--level", "intermediate"], ["fake-again"]),
    ],
)
def test_quiz_asks_only_the_chosen_questions_at_most_once(run, fake, filters, expected):
    out = run("quiz", *filters, "-n", "10", stdin="\nn\n" * 10)[1]
    assert sorted(asked(out)) == sorted(expected)
    assert f"Score: 0 of {len(expected)} right" in out


def test_quiz_of_nothing_exits_1(run, fake):
    status, out, err = run("quiz", "--part", "beta", "--level", "basic")
    assert status == 1 and out == ""
    assert err.startswith("nnfaq quiz: no question matches --part beta --level basic")


def test_quiz_without_a_short_answer_reveals_the_deep_one(run, fake):
    out = run("quiz", "--level", "basic", stdin="\ny\n")[1]
    assert "Short answer\n  Yes: seeded" in out
    out = run("quiz", "--topic", "one", "-n", "3", "--seed", "0", stdin="\ny\n" * 3)[1]
    assert "Short answer: not written yet; the deep answer instead:\n  It is: its deep answer stands in" in out


def test_quiz_review_asks_again_what_was_marked_wrong(run, fake, tmp_path):
    marks = {"fake-draws": "n", "fake-again": "y", "fake-unwritten": "n", "fake-wrong": "y"}
    order = asked(run("quiz", "-n", "4", "--seed", "1", stdin="\nn\n" * 4)[1])
    assert sorted(order) == sorted(marks)
    # the same seed asks in the same order: mark each as planned
    run("quiz", "-n", "4", "--seed", "1", stdin="".join(f"\n{marks[i]}\n" for i in order))
    assert sorted(json.loads(state_file(tmp_path).read_text())["review"]) == ["fake-draws", "fake-unwritten"]
    out = run("quiz", "--review", "--seed", "2", stdin="\ny\n\nn\n")[1]
    again = asked(out)
    assert sorted(again) == ["fake-draws", "fake-unwritten"]
    assert json.loads(state_file(tmp_path).read_text())["review"] == [again[1]]
    out = run("quiz", "--review", stdin="\ny\n")[1]
    assert asked(out) == [again[1]] and "Score: 1 of 1 right" in out
    status, out, err = run("quiz", "--review")
    assert status == 0 and err == ""
    assert out == "Nothing to review: no question you got wrong is waiting. Take a quiz: nnfaq quiz\n"


def test_quiz_review_filters_and_limits(run, fake, tmp_path):
    state_file(tmp_path).parent.mkdir()
    state_file(tmp_path).write_text(json.dumps({"version": 1, "review": ["fake-wrong", "gone-id", "fake-draws"]}))
    assert asked(run("quiz", "--review", "--part", "beta", stdin="\ny\n")[1]) == ["fake-wrong"]
    assert len(asked(run("quiz", "--review", "-n", "1", stdin="\nn\n")[1])) == 1
    assert "among the questions you chose" in run("quiz", "--review", "--part", "beta")[1]
    assert "gone-id" not in state_file(tmp_path).read_text()  # a question that no longer exists is dropped


def test_quiz_review_without_saved_state_is_a_fresh_start(run, fake, tmp_path):
    status, out, err = run("quiz", "--review")
    assert status == 0
    assert err == f"nnfaq quiz: no saved review list yet ({state_file(tmp_path)})\n"
    assert out.startswith("Nothing to review")
    assert run("quiz", "-n", "1", stdin="\ny\n")[2] == ""  # a first quiz need not say so


@pytest.mark.parametrize(
    "content", [b"{bad", b"[]", b'{"review": 3}', b'{"review": ["fake-draws", 1]}', b"\xff\xfe\x00", b""]
)
def test_a_corrupt_state_file_is_a_fresh_start(run, fake, tmp_path, content):
    state_file(tmp_path).parent.mkdir()
    state_file(tmp_path).write_bytes(content)
    status, out, err = run("quiz", "--review")
    assert status == 0
    assert err.count("\n") == 1 and err.endswith("; starting fresh\n")
    assert str(state_file(tmp_path)) in err
    assert out.startswith("Nothing to review")
    status, out, err = run("quiz", "--level", "basic", stdin="\nn\n")
    assert status == 0 and "starting fresh" in err
    assert json.loads(state_file(tmp_path).read_text()) == {"version": 1, "review": ["fake-draws"]}


def test_the_state_is_written_atomically(run, fake, tmp_path, monkeypatch):
    run("quiz", "--level", "basic", stdin="\nn\n")
    before = state_file(tmp_path).read_text()

    def fail(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cli.os, "replace", fail)
    status, out, err = run("quiz", "--level", "basic", stdin="\ny\n")
    assert status == 0 and "Score: 1 of 1 right" in out
    assert err == f"nnfaq quiz: could not save the review list to {state_file(tmp_path)}: No space left on device\n"
    assert state_file(tmp_path).read_text() == before  # the old state is whole
    assert sorted(p.name for p in state_file(tmp_path).parent.iterdir()) == ["quiz.json"]  # no temporary left


def test_an_unwritable_data_folder_does_not_crash_the_quiz(run, fake, tmp_path, monkeypatch):
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("NNFAQ_DATA_DIR", str(tmp_path / "a-file" / "nnfaq"))
    status, out, err = run("quiz", "--level", "basic", stdin="\nn\n")
    assert status == 0 and "Score: 0 of 1 right" in out
    assert err.startswith("nnfaq quiz: could not save the review list") and err.count("\n") == 1


def test_the_state_lives_in_the_user_data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cli._review_path() == str(tmp_path / "data" / "quiz.json")  # NNFAQ_DATA_DIR first
    monkeypatch.delenv("NNFAQ_DATA_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert cli._review_path() == str(tmp_path / "xdg" / "nnfaq" / "quiz.json")
    monkeypatch.setenv("XDG_DATA_HOME", "relative/is/ignored")
    assert cli._review_path() == str(tmp_path / ".local" / "share" / "nnfaq" / "quiz.json")
    monkeypatch.delenv("XDG_DATA_HOME")
    assert cli._review_path() == str(tmp_path / ".local" / "share" / "nnfaq" / "quiz.json")


# --- check ---------------------------------------------------------------------------------------


def test_check_reports_pass_and_fail_and_exits_1_on_a_failure(run, fake):
    status, out, _ = run("check")
    assert status == 1
    assert re.findall(r"^(PASS|FAIL)  (\S+)\s+\d+\.\d\d s$", out, re.MULTILINE) == [
        ("PASS", "fake-draws"),  # seeded, one thread, torch/nn/F/np and the module's own names
        ("PASS", "fake-again"),  # after fake-draws drew numbers and set 2 threads: reset again
        ("PASS", "fake-unwritten"),
        ("FAIL", "fake-wrong"),
    ]
    # the report points to the file and line of the failing example and shows both outputs
    assert re.search(r'two\.py", line \d+, in nnfaq\.beta\.two\.wrong', out)
    assert re.search(r"Expected:\s+3\s+Got:\s+2", out)
    assert out.splitlines()[-1].startswith("3 passed, 1 failed in ")


@pytest.mark.parametrize(
    ("argv", "status", "checked"),
    [
        (["fake-draws", "fake-again"], 0, ["fake-draws", "fake-again"]),
        (["--level", "basic"], 0, ["fake-draws"]),
        (["--part", "beta"], 1, ["fake-wrong"]),
        (["--topic", "one", "-l", "intermediate"], 0, ["fake-again"]),
        (["fake-draws", "fake-wrong", "--part", "alpha"], 0, ["fake-draws"]),
    ],
)
def test_check_runs_the_chosen_proofs(run, fake, argv, status, checked):
    code, out, _ = run("check", *argv)
    assert code == status
    assert re.findall(r"^(?:PASS|FAIL)  (\S+)", out, re.MULTILINE) == checked


def test_check_of_nothing_exits_1(run, fake):
    status, out, err = run("check", "fake-wrong", "--part", "alpha")
    assert status == 1 and out == ""
    assert err == "nnfaq check: none of the ids matches --part alpha\n"
    assert run("check", "--part", "beta", "--level", "basic")[0] == 1


def test_check_a_real_answer(run):
    q = QUESTIONS[0]
    status, out, _ = run("check", q.id)
    assert status == 0, out
    assert re.search(rf"^PASS  {re.escape(q.id)}\s+\d+\.\d\d s$", out, re.MULTILINE)
    assert out.splitlines()[-1].startswith("1 passed, 0 failed in ")


# --- exercise and judge: arguments handed over unchanged ------------------------------------------


class FakeJudge:
    def __init__(self):
        self.calls = []

    def exercise_main(self, argv):
        self.calls.append(("exercise", argv))
        return 3

    def judge_main(self, argv):
        self.calls.append(("judge", argv))
        if argv == ["--help"]:
            raise SystemExit(0)  # an argparse-based judge printing its help
        return 4


@pytest.mark.parametrize(
    "rest", [[], ["--help"], ["dropout-train-vs-eval"], ["ID", "my.py", "-n", "3", "--", "-x"], ["-h", "--list"]]
)
def test_exercise_and_judge_pass_their_arguments_through(run, monkeypatch, rest):
    judge = FakeJudge()
    monkeypatch.setitem(sys.modules, "nnfaq.judge.commands", judge)
    assert run("exercise", *rest)[0] == 3
    assert run("judge", *rest)[0] == (0 if rest == ["--help"] else 4)
    assert judge.calls == [("exercise", rest), ("judge", rest)]


def test_exercise_and_judge_without_the_judge_say_so(run, monkeypatch):
    monkeypatch.setitem(sys.modules, "nnfaq.judge.commands", None)  # importing it fails
    status, out, err = run("judge", "x.py")
    assert status == 1 and out == ""
    assert err == "nnfaq judge: the judge is not part of this installation yet\n"


def test_the_real_judge_answers_help(run):
    pytest.importorskip("nnfaq.judge.commands")
    assert run("judge", "--help")[0] == 0
    assert run("exercise", "--help")[0] == 0


# --- across the process boundary -----------------------------------------------------------------


def nnfaq_process(*args, env=None, **kwargs):
    """``python -m nnfaq ARGS`` in a subprocess; output captured unless ``stdout`` is given."""
    kwargs.setdefault("stdout", subprocess.PIPE)
    kwargs.setdefault("stderr", subprocess.PIPE)
    env = {**os.environ, "NO_COLOR": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "nnfaq", *args], text=True, timeout=60, env=env, **kwargs)


def test_python_m_and_the_console_script_print_what_main_prints(run):
    expected = run("list")[1]
    result = nnfaq_process("list")
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout == expected
    script = Path(sys.executable).with_name("nnfaq")
    if script.exists():
        done = subprocess.run([script, "list"], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and done.stdout == expected


def test_list_search_show_and_quiz_import_no_torch_numpy_or_judge(tmp_path):
    q = QUESTIONS[-1]
    program = f"""
import io, sys
from nnfaq import cli
sys.stdin = io.StringIO("\\ny\\n")
commands = ["list"], ["search", "batch", "norm"], ["show", {q.id!r}, "--deep"], ["quiz", "-n", "1"], ["quiz", "-r"]
for argv in commands:
    assert cli.main(argv) == 0, argv
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "numpy") or m.startswith("nnfaq.judge"))
print("HEAVY", heavy, file=sys.stderr)
"""
    result = subprocess.run(
        [sys.executable, "-c", program],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NNFAQ_DATA_DIR": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    assert "HEAVY []" in result.stderr


def test_quiz_reads_a_real_piped_stdin(tmp_path):
    result = nnfaq_process("quiz", "-n", "1", "--seed", "0", input="\ny\n", env={"NNFAQ_DATA_DIR": str(tmp_path)})
    assert result.returncode == 0 and result.stderr == ""
    assert "q stops: \n" in result.stdout  # the prompt's line is ended, as if the reader pressed Enter
    assert "Score: 1 of 1 right" in result.stdout


def test_a_closed_pipe_ends_quietly():
    read, write = os.pipe()
    os.close(read)  # the reader (`| head`) is gone before the first line
    with os.fdopen(write, "w") as stdout:
        result = nnfaq_process("list", stdout=stdout)
    assert result.returncode == 0
    assert result.stderr == ""


def test_a_terminal_without_unicode_gets_question_marks_not_a_crash():
    q = next((q for q in QUESTIONS if "\\" in "".join(math_blocks(q.docstring))), QUESTIONS[0])
    result = nnfaq_process("show", q.id, "--deep", env={"PYTHONIOENCODING": "ascii"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.isascii()
