"""The ``nnfaq`` command: list, search, show, check and quiz the interview questions.

Everything it prints comes from the question registry (:mod:`nnfaq._registry`), which reads the
topic modules' source, so ``list``, ``search``, ``show`` and ``quiz`` never import torch. Only
``check`` imports the topic modules, to run the doctests that prove each answer.

Exit status: 0 on success, 1 when ``check`` finds a failing proof (or ``search`` finds nothing),
2 on a usage error such as an unknown question id or topic.
"""

from __future__ import annotations

import itertools
import os
import sys

from nnfaq import _registry

#: Doctest option flags of ``nnfaq check``: plain doctest, no pytest-only flags such as NUMBER.
CHECK_OPTIONFLAGS = ("NORMALIZE_WHITESPACE", "ELLIPSIS")
#: Seed and thread count set before every question's doctests (as conftest.py does for pytest).
CHECK_SEED = 0
CHECK_THREADS = 1

_STOPWORDS = frozenset(
    {
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "how",
        "i",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "the",
        "this",
        "to",
        "what",
        "when",
        "which",
        "why",
        "with",
        "you",
        "your",
    }
)


def _find_words(text: str) -> list[str]:
    import re  # imported on first use: list and show start without it when they can

    return re.findall(r"[a-z0-9]+", text)


class UsageError(Exception):
    """A mistake in the command line (unknown id or topic): reported with exit status 2."""


# --- entry point ---------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run the ``nnfaq`` command line; return the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = _fast_args(argv) or _parser().parse_args(argv)
    try:
        status = args.run(args)
        sys.stdout.flush()  # inside the try: a closed pipe is reported here, not at exit
        return status
    except UsageError as error:
        print(f"nnfaq {args.command}: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # `nnfaq list | head`: the reader went away; stop quietly, as cat and grep do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130


def _fast_args(argv: list[str]):
    """The parsed arguments of the plain forms of ``list``, ``search`` and ``show``, without argparse.

    argparse alone costs most of a bare Python start-up; these commands must start about as fast
    as Python itself. Anything else (options, ``--help``, mistakes) goes to the full parser, and a
    test checks that both parsers agree on every form handled here.
    """
    from types import SimpleNamespace

    command, rest = (argv[0], argv[1:]) if argv else (None, [])
    if command == "list" and not rest:
        return SimpleNamespace(command="list", topic=None, run=_cmd_list)
    if command == "list" and len(rest) == 2 and rest[0] in ("--topic", "-t") and not rest[1].startswith("-"):
        return SimpleNamespace(command="list", topic=rest[1], run=_cmd_list)
    if any(a.startswith("-") for a in rest):
        return None
    if command == "show" and len(rest) == 1:
        return SimpleNamespace(command="show", id=rest[0], run=_cmd_show)
    if command == "search" and rest:
        return SimpleNamespace(command="search", text=rest, n=10, run=_cmd_search)
    return None


def _parser():
    import argparse

    parser = argparse.ArgumentParser(
        prog="nnfaq",
        description="Neural-network interview questions, answered and proven by code you can run.",
        epilog="Run 'nnfaq COMMAND --help' for the options of a command.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    cmd = commands.add_parser("list", help="list every question with its id, grouped by topic")
    cmd.description = "List every question with its id, grouped by topic."
    cmd.add_argument("--topic", "-t", metavar="T", help="only this topic (a name shown by 'nnfaq list')")
    cmd.set_defaults(run=_cmd_list)

    cmd = commands.add_parser("search", help="find questions by words, forgiving typos and word order")
    cmd.description = "Rank the questions and answers that match TEXT; typos and word order do not matter."
    cmd.add_argument("text", nargs="+", metavar="TEXT", help="words to look for")
    cmd.add_argument("-n", type=_positive_int, default=10, metavar="N", help="show at most N matches (default 10)")
    cmd.set_defaults(run=_cmd_search)

    cmd = commands.add_parser("show", help="show a question, its answer and the proof code")
    cmd.description = "Show a question, its answer, the common mistakes it corrects, and the proof (doctests)."
    cmd.add_argument("id", metavar="ID", help="question id, as shown by 'nnfaq list'")
    cmd.set_defaults(run=_cmd_show)

    cmd = commands.add_parser("check", help="run the proofs (doctests) of the answers")
    cmd.description = (
        "Run the doctests that prove each answer (all answers by default) with the standard doctest "
        f"module ({' | '.join(CHECK_OPTIONFLAGS)}); torch, nn, F and np are predefined, and torch is "
        f"seeded with {CHECK_SEED} on {CHECK_THREADS} thread before each question. Exits with status 1 "
        "if any proof fails."
    )
    cmd.add_argument("ids", nargs="*", metavar="ID", help="question ids (default: every question)")
    cmd.add_argument("--topic", "-t", metavar="T", help="only the questions of this topic")
    cmd.add_argument("--verbose", "-v", action="store_true", help="show every example as it runs")
    cmd.set_defaults(run=_cmd_check)

    cmd = commands.add_parser("quiz", help="be asked questions, reveal the answers, mark yourself")
    cmd.description = (
        "Ask questions one at a time: think of your answer, press Enter to reveal the model answer, "
        "then mark yourself right (y) or wrong (n); q quits. Ends with a summary. Reads answers from "
        "standard input, so it can be driven by a pipe; it stops cleanly at end of input."
    )
    cmd.add_argument("--topic", "-t", metavar="T", help="only questions of this topic")
    cmd.add_argument("-n", type=_positive_int, default=5, metavar="N", help="number of questions (default 5)")
    cmd.add_argument("--seed", type=int, metavar="S", help="seed for the question order (default: random)")
    cmd.set_defaults(run=_cmd_quiz)
    return parser


def _positive_int(text: str) -> int:
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


# --- list ----------------------------------------------------------------------------------------


def _cmd_list(args) -> int:
    out = _Out()
    for i, topic in enumerate(_topics(args.topic)):
        if i:
            out.line()
        out.line(out.bold(topic.title) + f"  [{topic.name}, {len(topic.questions)} questions]")
        width = max((len(q.id) for q in topic.questions), default=0)
        for q in topic.questions:
            out.hanging(f"  {q.id:<{width}}  ", q.text)
    return 0


# --- search --------------------------------------------------------------------------------------


def _cmd_search(args) -> int:
    query = " ".join(args.text)
    ranked = search(query)[: args.n]
    if not ranked:
        print(f"no question matches {query!r}; see 'nnfaq list'", file=sys.stderr)
        return 1
    out = _Out()
    for rank, (_, q) in enumerate(ranked, 1):
        out.line(f"{rank:>2}. " + out.bold(q.id) + f"  [{q.topic}]")
        out.hanging("    ", q.text)
    return 0


def search(query: str) -> list[tuple[float, _registry.Question]]:
    """Questions matching ``query``, best first, as ``(score, question)`` pairs.

    Every query word is compared with the words of each question (its id and text count most, then
    its summary line, answer and common mistakes, then its topic) by :class:`difflib.SequenceMatcher`
    similarity, so a typo or another word order still matches. A question's score is the mean, over
    query words, of the best weighted similarity; questions that match no query word are left out.
    """
    import difflib

    fields = {q.id: _search_fields(q) for q in _registry.questions()}
    vocabulary = {w for fs in fields.values() for _, words in fs for w in words}
    words = _words(query) or _find_words(query.lower())
    if not words:
        return []
    similar = [_similar_words(w, vocabulary, difflib) for w in words]
    ranked = []
    for q in _registry.questions():
        best = [
            max(weight * max((r for w, r in sim.items() if w in fw), default=0.0) for weight, fw in fields[q.id])
            for sim in similar
        ]
        if not any(best):
            continue
        # word order only breaks ties: the whole query against the question text
        phrase = difflib.SequenceMatcher(None, query.lower(), q.text.lower()).ratio()
        ranked.append((sum(best) / len(best) + 0.05 * phrase, q))
    ranked.sort(key=lambda pair: -pair[0])
    # a far weaker match is noise next to a strong one
    return [(score, q) for score, q in ranked if score >= 0.4 * ranked[0][0]] if ranked else []


def _search_fields(q: _registry.Question) -> list[tuple[float, set[str]]]:
    topic = next(t for t in _registry.topics() if t.name == q.topic)
    summary = q.docstring.partition("\n")[0]
    mistakes = " ".join(m.claim for m in q.mistakes)
    fields = [
        (1.0, f"{q.id} {q.text}"),
        (0.8, f"{summary} {q.function.rpartition('.')[2]}"),
        (0.7, q.answer),
        (0.6, mistakes),
        (0.5, f"{topic.name} {topic.title}"),
    ]
    return [(weight, _vocabulary(plain(text), pairs=weight == 1.0)) for weight, text in fields]


def _vocabulary(text: str, pairs: bool = False) -> set[str]:
    raw = _find_words(text.lower())
    words = {w for w in raw if w not in _STOPWORDS}
    if pairs:  # "batch-norm" is also "batchnorm": index neighbouring words joined as well
        words.update(a + b for a, b in itertools.pairwise(raw))
    return words


def _words(text: str) -> list[str]:
    return [w for w in _find_words(text.lower()) if w not in _STOPWORDS]


def _similar_words(word: str, vocabulary: set[str], difflib) -> dict[str, float]:
    """Vocabulary words like ``word``, with their similarity in (0, 1]."""
    matcher = difflib.SequenceMatcher()
    matcher.set_seq2(word)
    similar = {}
    n = len(word)
    for candidate in vocabulary:
        m = len(candidate)
        if candidate == word:
            similar[candidate] = 1.0
        elif len(word) >= 3 and candidate.startswith(word):
            similar[candidate] = 0.9  # a prefix: "norm" finds "normalization"
        elif 8 * min(m, n) >= 3 * (m + n):  # else even equal letters could not reach 0.75
            matcher.set_seq1(candidate)
            if matcher.real_quick_ratio() >= 0.75 and matcher.quick_ratio() >= 0.75:
                ratio = matcher.ratio()
                if ratio >= 0.75:
                    similar[candidate] = ratio
    return similar


# --- show ----------------------------------------------------------------------------------------


def _cmd_show(args) -> int:
    q = _question(args.id)
    topic = next(t for t in _registry.topics() if t.name == q.topic)
    out = _Out()
    out.line(out.bold(q.id) + f"  [{topic.name}: {topic.title}]")
    out.line(f"answered by {q.function}")
    out.line()
    out.paragraphs(out.bold(q.text), indent="")
    out.line()
    out.line(out.bold("Answer"))
    out.paragraphs(q.answer)
    for mistake in q.mistakes:
        out.line()
        out.line(out.bold("Common mistake"))
        out.paragraphs(mistake.claim)
        out.line()
        out.paragraphs(mistake.correction)
    out.line()
    out.line(out.bold("Proof") + f"  (run it: nnfaq check {q.id})")
    out.examples(q.examples)
    return 0


def plain(text: str) -> str:
    """reStructuredText inline markup turned into plain terminal text.

    ``:func:`~a.b.f``` becomes ``f()``, ``:math:`x``` becomes ``x``, double back-quoted literals and
    ``**bold**`` lose their markers, links keep their text and show the address.

    >>> plain("use :func:`~torch.nn.functional.dropout` with ``training=self.training``")
    'use dropout() with training=self.training'
    """
    if not any(c in text for c in "`*_\\"):
        return text
    literal_only = text.replace("``", "")
    if not any(c in literal_only for c in "`*\\") and "]_" not in literal_only:
        return literal_only  # only ``literals``: no regular expressions needed
    import re

    text = re.sub(r"`([^`<]+?)\s*<([^>]+)>`__?", r"\1 (\2)", text)  # `title <https://...>`_
    text = re.sub(r":(?:py:)?(?:func|meth):`(~?[^`]+?)(?:\(\))?`", _role_name, text)
    text = re.sub(r":(?:py:)?[a-z]+:`([^`]+)`", _role_name, text)
    text = re.sub(r"``(.+?)``", r"\1", text, flags=re.DOTALL)
    text = re.sub(r"\*\*(\S(?:.*?\S)?)\*\*", r"\1", text, flags=re.DOTALL)
    text = re.sub(r"(?<![\w*])\*(\S(?:.*?\S)?)\*(?![\w*])", r"\1", text, flags=re.DOTALL)
    text = re.sub(r"(\[\w+\])_(?!\w)", r"\1", text)  # citations [1]_
    text = re.sub(r"(?<![\w`])`([^`]+)`_?(?![\w`])", r"\1", text)  # default role, named links
    return text.replace("\\ ", "")


def _role_name(match) -> str:
    import re

    whole, target = match[0], match[1]
    title = re.fullmatch(r"(.+?)\s*<(.+)>", target)
    if title:
        return title[1]
    name = target.lstrip("~").rpartition(".")[2] if target.startswith("~") else target
    return name + "()" if re.match(r":(?:py:)?(?:func|meth):", whole) else name


# --- check ---------------------------------------------------------------------------------------


def _cmd_check(args) -> int:
    if args.ids:
        selected = [_question(i) for i in args.ids]
        if args.topic is not None:
            _topics(args.topic)
            selected = [q for q in selected if q.topic == args.topic]
    else:
        selected = [q for t in _topics(args.topic) for q in t.questions]
    results = check(selected, verbose=args.verbose)
    failed = [q for q, ok, _, _ in results if not ok]
    total = sum(seconds for _, _, seconds, _ in results)
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed in {total:.2f} s")
    return 1 if failed else 0


def check(selected, *, verbose: bool = False, stream=None) -> list[tuple[_registry.Question, bool, float, str]]:
    """Run each question's doctests; print a PASS/FAIL line per question and return the results.

    Each result is ``(question, passed, seconds, report)``. A question whose module does not import,
    or whose docstring has no examples, fails: a proof that does not run proves nothing.
    """
    import doctest
    import importlib
    import io
    import textwrap
    import time

    import numpy as np
    import torch

    stream = sys.stdout if stream is None else stream
    flags = 0
    for name in CHECK_OPTIONFLAGS:
        flags |= doctest.OPTIONFLAGS_BY_NAME[name]
    finder = doctest.DocTestFinder(recurse=False)
    width = max((len(q.id) for q in selected), default=0)
    results = []
    for q in selected:
        module_name, _, fn_name = q.function.rpartition(".")
        report = io.StringIO()
        seconds = 0.0
        try:
            module = importlib.import_module(module_name)
            fn = getattr(module, fn_name)
        except Exception as error:  # a broken topic module fails its questions, the others still run
            report.write(f"cannot import {q.function}: {type(error).__name__}: {error}\n")
            ok = False
        else:
            globs = {**vars(module), "torch": torch, "nn": torch.nn, "F": torch.nn.functional, "np": np}
            # the finder gives the file and line numbers that failure reports point to
            tests = finder.find(fn, q.function, module=module, globs=globs)
            if not tests or not tests[0].examples:
                report.write(f"{q.function} has no doctest examples: nothing proves the answer\n")
                ok = False
            else:
                runner = doctest.DocTestRunner(verbose=verbose, optionflags=flags)
                _reset_torch(torch)
                start = time.perf_counter()
                runner.run(tests[0], out=report.write)
                seconds = time.perf_counter() - start
                ok = runner.failures == 0
        status = "PASS" if ok else "FAIL"
        print(f"{status}  {q.id:<{width}}  {seconds:6.2f} s", file=stream, flush=True)
        if not ok or verbose:
            print(textwrap.indent(report.getvalue().rstrip(), "    "), file=stream, flush=True)
        results.append((q, ok, seconds, report.getvalue()))
    return results


def _reset_torch(torch) -> None:
    """The documented starting state of every proof (what conftest.py does before each doctest)."""
    torch.manual_seed(CHECK_SEED)
    torch.set_num_threads(CHECK_THREADS)
    torch.set_default_dtype(torch.float32)
    torch.set_grad_enabled(True)


# --- quiz ----------------------------------------------------------------------------------------


def _cmd_quiz(args) -> int:
    import random

    pool = [q for t in _topics(args.topic) for q in t.questions]
    order = random.Random(args.seed).sample(pool, min(args.n, len(pool)))
    out = _Out()
    right, wrong = [], []
    for number, q in enumerate(order, 1):
        out.line(out.bold(f"Question {number} of {len(order)}") + f"  [{q.topic}]")
        out.paragraphs(q.text)
        if _ask("Think of your answer, then press Enter to reveal it (q quits) ") in (None, "q"):
            break
        out.line(out.bold("Answer"))
        out.paragraphs(q.answer)
        out.line(f"  proof: nnfaq show {q.id}")
        mark = _ask_choice("Did you get it right? [y/n, q quits] ", ("y", "n", "q"))
        out.line()
        if mark in (None, "q"):
            break
        (right if mark == "y" else wrong).append(q)
    asked = len(right) + len(wrong)
    out.line()
    stopped = "" if asked == len(order) else f" (stopped after {asked} of {len(order)} questions)"
    out.line(out.bold(f"Score: {len(right)} of {asked} right") + stopped)
    for q in wrong:
        out.line(f"  review: nnfaq show {q.id}")
    return 0


def _ask(prompt: str) -> str | None:
    """One line from the reader, lower-cased and stripped; None at end of input."""
    try:
        answer = input(prompt)
    except EOFError:
        print()
        return None
    if not sys.stdin.isatty():
        print()  # piped input is not echoed: end the prompt's line
    return answer.strip().lower()


def _ask_choice(prompt: str, choices: tuple[str, ...]) -> str | None:
    while True:
        answer = _ask(prompt)
        if answer is None:
            return None
        if answer[:1] in choices:
            return answer[:1]


# --- shared --------------------------------------------------------------------------------------


def _topics(name: str | None):
    """All topics, or the one named; UsageError with the closest names if there is none."""
    topics = _registry.topics()
    if name is None:
        return topics
    for topic in topics:
        if topic.name == name:
            return (topic,)
    raise UsageError(f"unknown topic {name!r}. {_closest(name, [t.name for t in topics], 'topics')}")


def _question(qid: str) -> _registry.Question:
    try:
        return _registry.get_question(qid)
    except KeyError:
        ids = [q.id for q in _registry.questions()]
        raise UsageError(f"unknown question id {qid!r}. {_closest(qid, ids, 'ids')}") from None


def _closest(word: str, names: list[str], kind: str) -> str:
    import difflib

    close = difflib.get_close_matches(word, names, n=5, cutoff=0.5)
    close += [n for n in names if word.lower() in n and n not in close][: 5 - len(close)]
    if close:
        return "Closest matches: " + ", ".join(close)
    return f"No close match; see 'nnfaq list' for all {kind}"


class _Out:
    """Terminal output: wrapped to the terminal width, bold only when writing to a terminal."""

    def __init__(self) -> None:
        tty = sys.stdout.isatty()
        self.color = tty and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"
        try:
            columns = os.get_terminal_size(sys.stdout.fileno()).columns if tty else 100
        except OSError:
            columns = 100
        self.width = max(40, min(columns, 100))

    def bold(self, text: str) -> str:
        return f"\033[1m{text}\033[0m" if self.color else text

    def line(self, text: str = "") -> None:
        print(text)

    def hanging(self, head: str, text: str) -> None:
        """``head`` then ``text`` wrapped, continuation lines aligned under the text."""
        wrapped = _wrap(plain(text), self.width - len(head)) or [""]
        print(head + wrapped[0])
        for rest in wrapped[1:]:
            print(" " * len(head) + rest)

    def paragraphs(self, text: str, indent: str = "  ") -> None:
        """Re-wrap rst prose paragraph by paragraph; bullet items stay separate."""
        import re
        import textwrap

        for i, para in enumerate(re.split(r"\n\s*\n", textwrap.dedent(text).strip())):
            if i:
                print()
            for item in re.split(r"\n(?=\s*(?:[-*+]|\d+\.) )", para):
                bullet = re.match(r"\s*((?:[-*+]|\d+\.) )", item)
                head = bullet[1] if bullet else ""
                body = " ".join(item[bullet.end() if bullet else 0 :].split())
                for j, line in enumerate(
                    textwrap.wrap(plain(body), self.width - len(indent) - len(head), break_on_hyphens=False)
                ):
                    print(indent + (head if j == 0 else " " * len(head)) + line)

    def examples(self, text: str) -> None:
        """The Examples section: prose re-wrapped, doctest blocks verbatim."""
        import re
        import textwrap

        for block in re.split(r"\n\s*\n", textwrap.dedent(text).strip()):
            print()
            if block.lstrip().startswith(">>>"):
                print(textwrap.indent(block, "    "))
            else:
                self.paragraphs(block)


def _wrap(text: str, width: int) -> list[str]:
    """Greedy word wrap, as ``textwrap.wrap`` does, without importing ``re``; a word longer than the
    line (an id, a long function name) is kept whole instead of being cut."""
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines
