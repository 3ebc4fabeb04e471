"""The ``nnfaq`` command: list, search, show, quiz and check the interview questions; exercise and judge.

Everything it prints comes from the question registry (:mod:`nnfaq._registry`), which reads the
topic modules' source, so ``list``, ``search``, ``show`` and ``quiz`` never import torch. Only
``check`` imports the topic modules, to run the doctests that prove each answer, in the state
:mod:`nnfaq._repro` defines. ``exercise`` and ``judge`` hand their arguments to
:mod:`nnfaq.judge.commands` unchanged.

Exit status: 0 on success; 1 when ``check`` finds a failing proof, ``search`` finds nothing or the
filters select no question; 2 on a usage error (an unknown option, id, topic, part or level, a bad
``-n``, an empty search). ``nnfaq`` alone prints the help and exits with 0.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys

from nnfaq import _registry, _repro, _text
from nnfaq._text import plain  # docs/_ext/nnfaq_sphinx.py imports plain from here; its home is _text

__all__ = ["check", "main", "plain", "search"]

#: Subcommands whose arguments belong to :mod:`nnfaq.judge.commands`.
PASSTHROUGH = {"exercise": "exercise_main", "judge": "judge_main"}

_STOPWORD_TEXT = (  # words that do not count in a search query
    "a an and are as at be by can do does for from how i in is it its of on or the this to what when which why "
    "with you your"
)
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())


class UsageError(Exception):
    """A mistake in the command line (unknown id, empty search): reported on one line, exit status 2."""


class NothingSelected(Exception):
    """The filters select no question: reported on one line, exit status 1."""


# --- entry point ---------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run the ``nnfaq`` command line; return the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = _parse(argv)
    except SystemExit as stop:  # --help, or a usage error argparse has already reported
        return stop.code if isinstance(stop.code, int) else 0
    if args is None:
        return 0
    _replace_unencodable(sys.stdout)
    try:
        status = args.run(args)
        sys.stdout.flush()  # inside the try: a closed pipe is reported here, not at exit
        return status
    except UsageError as error:
        print(f"nnfaq {args.command}: {error}", file=sys.stderr)
        return 2
    except NothingSelected as error:
        print(f"nnfaq {args.command}: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # `nnfaq list | head`: the reader went away; stop quietly, as cat and grep do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130


def _replace_unencodable(stream) -> None:
    """On a terminal that cannot show Unicode (``PYTHONIOENCODING=ascii``), print ``?`` for a symbol
    instead of failing."""
    encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "").replace("_", "")
    if encoding != "utf8" and hasattr(stream, "reconfigure"):
        stream.reconfigure(errors="replace")


def _parse(argv: list[str]):
    """The parsed arguments; None once ``nnfaq`` alone has printed the help.

    A run names its command first, so only that command's parser is built (argparse spends about a
    millisecond on each parser), and ``exercise`` and ``judge`` take every argument as it is. The
    parser of all the commands answers ``nnfaq``, ``nnfaq --help`` and an unknown command.
    """
    name = argv[0] if argv else None
    if name in PASSTHROUGH:
        return argparse.Namespace(command=name, rest=argv[1:], run=_cmd_passthrough)
    if name in _COMMANDS:
        return _command_parser(name).parse_args(argv[1:])
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return None
    return args


def _columns(fallback: int = 80) -> int:
    """The terminal's width as ``shutil.get_terminal_size`` finds it ($COLUMNS, then stdout), without
    importing shutil (and the compression modules it imports): milliseconds of every command's start-up."""
    try:
        return int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        pass
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or fallback
    except (AttributeError, ValueError, OSError):
        return fallback


class _Formatter(argparse.HelpFormatter):
    """argparse's help layout, told the width (argparse would import shutil to find it)."""

    def __init__(self, prog: str, **kwargs) -> None:
        kwargs.setdefault("width", _columns() - 2)  # argparse keeps two columns free
        super().__init__(prog, **kwargs)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: what was wrong and where the usage is."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        self.exit(2, f"{self.prog}: {message} (see '{self.prog} --help')\n")


def _parser() -> _Parser:
    """The parser of ``nnfaq`` with every command."""
    parser = _Parser(
        prog="nnfaq",
        description="Neural-network interview questions, answered and proven by code you can run.",
        epilog="Run 'nnfaq COMMAND --help' for the options of a command.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (summary, arguments) in _COMMANDS.items():
        arguments(sub.add_parser(name, help=summary, add_help=name not in PASSTHROUGH))
    return parser


def _command_parser(name: str) -> _Parser:
    """The parser of one command, the same as its part of :func:`_parser`."""
    cmd = _Parser(prog=f"nnfaq {name}")
    cmd.set_defaults(command=name)
    _COMMANDS[name][1](cmd)
    return cmd


def _filters(cmd: _Parser, what: str) -> None:
    cmd.add_argument("--part", "-p", choices=_registry.PARTS, metavar="PART", help=f"only {what} of this part")
    cmd.add_argument("--level", "-l", choices=_registry.LEVELS, metavar="LEVEL", help=f"only {what} of this level")
    cmd.add_argument("--topic", "-t", type=_topic, metavar="TOPIC", help=f"only {what} of this topic")


def _list_arguments(cmd: _Parser) -> None:
    levels, parts = ", ".join(_registry.LEVELS), ", ".join(_registry.PARTS)
    cmd.description = (
        f"List every question with its id and level, grouped by part and topic. Levels: {levels}. Parts: {parts}."
    )
    cmd.set_defaults(run=_cmd_list)
    _filters(cmd, "the questions")


def _search_arguments(cmd: _Parser) -> None:
    cmd.description = "Rank the questions and answers that match TEXT; typos and word order do not matter."
    cmd.set_defaults(run=_cmd_search)
    cmd.add_argument("text", nargs="*", metavar="TEXT", help="words to look for, e.g. batch norm eval")
    cmd.add_argument("-n", type=_positive_int, default=10, metavar="N", help="show at most N matches (default 10)")


def _show_arguments(cmd: _Parser) -> None:
    cmd.description = (
        "Show a question, its level, part and topic, and the 30-second answer; --deep adds the deep answer, "
        "its math, the common mistakes it corrects, the proof (doctests) and the follow-up questions."
    )
    cmd.set_defaults(run=_cmd_show)
    cmd.add_argument("id", metavar="ID", help="question id, as shown by 'nnfaq list'")
    cmd.add_argument("--deep", "-d", action="store_true", help="add the deep answer, proof and follow-ups")


def _quiz_arguments(cmd: _Parser) -> None:
    cmd.description = (
        "Ask questions one at a time: think of your answer (or type it), press Enter to reveal the 30-second "
        "answer, then mark yourself right (y) or wrong (n); q stops. Ends with a score and the ids to review. "
        "The questions you get wrong are saved (in $NNFAQ_DATA_DIR, else $XDG_DATA_HOME/nnfaq or "
        "~/.local/share/nnfaq) until you get them right: --review asks them again. Reads standard input, so "
        "it can be driven by a pipe; it stops cleanly at the end of input."
    )
    cmd.set_defaults(run=_cmd_quiz)
    _filters(cmd, "questions")
    cmd.add_argument("-n", type=_positive_int, metavar="N", help="number of questions (default 5; --review: all)")
    cmd.add_argument("--review", "-r", action="store_true", help="ask again the questions you last got wrong")
    cmd.add_argument("--seed", type=int, metavar="S", help="seed for the question order (default: random)")


def _check_arguments(cmd: _Parser) -> None:
    cmd.description = (
        "Run the doctests that prove each answer (all answers by default) with the standard doctest module "
        f"({' | '.join(_repro.DOCTEST_OPTIONFLAGS)}); torch, nn, F and np are predefined, and torch is put in "
        f"the documented state (seed {_repro.SEED}, {_repro.THREADS} thread) before each question. Exits with "
        "status 1 if any proof fails."
    )
    cmd.set_defaults(run=_cmd_check)
    cmd.add_argument("ids", nargs="*", metavar="ID", help="question ids (default: every question)")
    _filters(cmd, "the questions")
    cmd.add_argument("--verbose", "-v", action="store_true", help="show every example as it runs")


def _passthrough_arguments(cmd: _Parser) -> None:
    """None: every argument, --help included, goes to nnfaq.judge.commands."""
    cmd.set_defaults(run=_cmd_passthrough, rest=[])


#: Each command: its one-line summary (in ``nnfaq --help``) and what adds its arguments.
_COMMANDS = {
    "list": ("list every question with its id and level, by part and topic", _list_arguments),
    "search": ("find questions by words, forgiving typos and word order", _search_arguments),
    "show": ("show a question and its 30-second answer (--deep: the proof too)", _show_arguments),
    "quiz": ("be asked questions, reveal the answers, mark yourself", _quiz_arguments),
    "check": ("run the proofs (doctests) of the answers", _check_arguments),
    "exercise": ("write a starter file to implement an answer yourself", _passthrough_arguments),
    "judge": ("judge your implementation against PyTorch, offline", _passthrough_arguments),
}


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _topic(name: str) -> str:
    names = _registry.topic_names()
    if name in names:
        return name
    raise argparse.ArgumentTypeError(f"unknown topic {name!r}; {_closest(name, names, 'topics')}")


def _closest(word: str, names, kind: str) -> str:
    import difflib

    close = difflib.get_close_matches(word, names, n=3, cutoff=0.5)
    close += [n for n in names if word.lower() in n and n not in close][: 3 - len(close)]
    return f"did you mean {', '.join(close)}?" if close else f"'nnfaq list' shows the {kind}"


# --- selecting questions -------------------------------------------------------------------------


def _selected(args) -> tuple[_registry.Question, ...]:
    """The questions the filters select; NothingSelected (status 1) if none."""
    chosen = _registry.questions(args.topic, part=args.part, level=args.level)
    if not chosen:
        raise NothingSelected(_nothing_message(args))
    return chosen


def _nothing_message(args) -> str:
    given = [f"--{name} {value}" for name in ("part", "topic", "level") if (value := getattr(args, name))]
    message = f"no question matches {' '.join(given)}"
    if args.level:
        pool = _registry.questions(args.topic, part=args.part)
        unset = sum(not q.level for q in pool)
        if unset:
            message += f" ({unset} of {_count(len(pool), 'question')} {'has' if unset == 1 else 'have'} no level yet)"
    return message


def _count(n: int, noun: str) -> str:
    """``1 question``, ``2 questions``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _level(q: _registry.Question) -> str:
    return q.level or "no level"


def _question(qid: str) -> _registry.Question:
    try:
        return _registry.get_question(qid)
    except KeyError as error:
        raise UsageError(error.args[0]) from None


# --- list ----------------------------------------------------------------------------------------


def _cmd_list(args) -> int:
    chosen = {q.id for q in _selected(args)}
    out = _Out()
    first = True
    for part in _registry.parts():
        topics = [(t, [q for q in t.questions if q.id in chosen]) for t in part.topics]
        topics = [(t, qs) for t, qs in topics if qs]
        if not topics:
            continue
        if not first:
            out.line()
        first = False
        n = sum(len(qs) for _, qs in topics)
        out.line(out.bold(part.title) + f"  ({part.name}: {_count(n, 'question')})")
        for topic, qs in topics:
            out.line()
            out.line("  " + out.bold(topic.title) + f"  ({topic.name}: {_count(len(qs), 'question')})")
            for q in qs:  # the id and level, then the question across the whole width
                out.line(f"    {q.id}  [{_level(q)}]")
                out.wrap(q.text, head="      ")
    _missing_note(out, [q for q in _registry.questions() if q.id in chosen])
    return 0


def _missing_note(out: _Out, questions) -> None:
    """Say how many questions still lack a level or a short answer: they are being written."""
    missing = [
        (sum(not q.level for q in questions), "a level"),
        (sum(not q.short for q in questions), "a short answer"),
    ]
    said = [f"{n} without {what}" for n, what in missing if n]
    if said:
        out.line()
        out.line(f"Still being written: {' and '.join(said)} (of {_count(len(questions), 'question')}).")


# --- search --------------------------------------------------------------------------------------


def _cmd_search(args) -> int:
    query = " ".join(args.text)
    if not _find_words(query.lower()):
        raise UsageError("type the words to look for, e.g. nnfaq search batch norm eval")
    ranked = search(query)[: args.n]
    if not ranked:
        print(f"nnfaq search: no question matches {query!r}; see 'nnfaq list'", file=sys.stderr)
        return 1
    out = _Out()
    for rank, (_, q) in enumerate(ranked, 1):
        out.line(f"{rank:>2}. " + out.bold(q.id) + f"  [{q.part}/{q.topic}, {_level(q)}]")
        out.wrap(q.text, head="    ")
    return 0


def search(query: str) -> list[tuple[float, _registry.Question]]:
    """Questions matching ``query``, best first, as ``(score, question)`` pairs.

    Every query word is compared with the words of each question (its id and text count most, then
    its short answer and summary line, its answer and common mistakes, then its topic) by
    :class:`difflib.SequenceMatcher` similarity, so a typo or another word order still matches. A
    question's score is the mean, over query words, of the best weighted similarity; questions that
    match no query word are left out.
    """
    import difflib

    fields = _search_index(_registry.parts())
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


@functools.lru_cache(maxsize=1)
def _search_index(registry) -> dict[str, list[tuple[float, set[str]]]]:
    """Each question's weighted word sets, computed once per registry (``registry`` is ``parts()``)."""
    index = {}
    for part in registry:
        for topic in part.topics:
            for q in topic.questions:
                fields = [
                    (1.0, f"{q.id} {q.text}"),
                    (0.8, f"{q.short} {q.docstring.partition(chr(10))[0]} {q.function.rpartition('.')[2]}"),
                    (0.7, q.answer),
                    (0.6, " ".join(m.claim for m in q.mistakes)),
                    (0.5, f"{topic.name} {topic.title}"),
                ]
                index[q.id] = [(weight, _vocabulary(plain(text), pairs=weight == 1.0)) for weight, text in fields]
    return index


def _vocabulary(text: str, pairs: bool = False) -> set[str]:
    import itertools

    raw = _find_words(text.lower())
    words = {w for w in raw if w not in _STOPWORDS}
    if pairs:  # "batch-norm" is also "batchnorm": index neighbouring words joined as well
        words.update(a + b for a, b in itertools.pairwise(raw))
    return words


def _find_words(text: str) -> list[str]:
    import re

    return re.findall(r"[a-z0-9]+", text)


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
        elif 8 * min(m, n) >= 3 * (m + n):  # real_quick_ratio() >= 0.75: else even equal letters fall short
            matcher.set_seq1(candidate)
            if matcher.quick_ratio() >= 0.75:
                ratio = matcher.ratio()
                if ratio >= 0.75:
                    similar[candidate] = ratio
    return similar


# --- show ----------------------------------------------------------------------------------------


def _cmd_show(args) -> int:
    q = _question(args.id)
    out = _Out()
    _heading(out, q)
    out.line()
    if q.short:
        out.line(out.bold("Short answer"))
        out.paragraphs(q.short, indent="  ")
    elif args.deep:
        out.line(out.bold("Short answer") + ": not written yet")
    else:
        out.line(out.bold("Short answer") + ": not written yet; the deep answer instead:")
        out.paragraphs(q.answer, indent="  ")
    if args.deep:
        _deep(out, q)
    else:
        out.line()
        out.line(f"More: nnfaq show {q.id} --deep")
    return 0


def _heading(out: _Out, q: _registry.Question) -> None:
    part = next(p for p in _registry.parts() if p.name == q.part)
    topic = next(t for t in part.topics if t.name == q.topic)
    out.line(out.bold(q.id))
    out.wrap(q.text)
    level = f"level {q.level}" if q.level else "level not set yet"
    out.line(f"{level} · {part.title} › {topic.title}  ({q.part}/{q.topic})")


def _deep(out: _Out, q: _registry.Question) -> None:
    out.line()
    out.line(out.bold("Deep answer"))
    out.paragraphs(q.answer, indent="  ")
    blocks = _text.math_blocks(q.docstring.split("\nParameters\n")[0])
    if blocks:
        out.line()
        out.line(out.bold("Math"))
        for latex in blocks:
            for line in _text.math(latex, display=True).splitlines():
                out.wrap(line, head="    ", indent="      ")
    for mistake in q.mistakes:
        out.line()
        out.line(out.bold("Common mistake"))
        out.paragraphs(mistake.claim, indent="  ")
        out.line()
        out.paragraphs(mistake.correction, indent="  ")
    out.line()
    out.line(out.bold("Proof") + f"  (run it: nnfaq check {q.id})")
    out.line(f"  answered by {q.function}")
    out.examples(q.examples)
    out.line()
    out.line(out.bold("Follow-ups"))
    if not q.followups:
        out.line("  none listed yet")
    width = max((len(f) for f in q.followups), default=0)
    known = {f.id: f for f in _registry.questions()}
    for fid in q.followups:
        text = known[fid].text if fid in known else "(no such question yet: it is being written)"
        out.wrap(text, head=f"  {fid:<{width}}  ")


# --- quiz ----------------------------------------------------------------------------------------

_MARKS = {"y": "y", "yes": "y", "n": "n", "no": "n", "q": "q", "quit": "q"}


def _cmd_quiz(args) -> int:
    import random

    pool = _selected(args)
    path = _review_path()
    review, problem, missing = _load_review(path)
    if problem and not missing:
        print(f"nnfaq quiz: {problem}; starting fresh", file=sys.stderr)
    elif problem and args.review:  # a first quiz has no saved list: no need to say so
        print(f"nnfaq quiz: {problem}", file=sys.stderr)
    if args.review:
        pending = set(review)
        pool = [q for q in pool if q.id in pending]
        if not pool:
            among = " among the questions you chose" if _filtered(args) else ""
            print(f"Nothing to review: no question you got wrong is waiting{among}. Take a quiz: nnfaq quiz")
            return 0
    n = args.n or (len(pool) if args.review else 5)
    order = random.Random(args.seed).sample(list(pool), min(n, len(pool)))
    out = _Out()
    right, wrong = [], []
    saved = list(review)
    try:
        for number, q in enumerate(order, 1):
            mark = _ask_one(out, q, number, len(order))
            if mark is None:
                break
            (right if mark == "y" else wrong).append(q)
            saved = [i for i in saved if i != q.id] + ([q.id] if mark == "n" else [])
    finally:
        if saved != review:
            _save_review(path, saved)
    asked = len(right) + len(wrong)
    stopped = "" if asked == len(order) else f" (stopped after {asked} of {_count(len(order), 'question')})"
    if stopped:
        out.line()
    out.line(out.bold(f"Score: {len(right)} of {asked} right") + stopped)
    if wrong:
        out.line("To review: " + ", ".join(q.id for q in wrong))
        for q in wrong:
            out.line(f"  nnfaq show {q.id} --deep")
    if saved:
        out.line(f"nnfaq quiz --review asks again the {_count(len(saved), 'question')} you last got wrong.")
    return 0


def _filtered(args) -> bool:
    return any((args.part, args.level, args.topic))


def _ask_one(out: _Out, q: _registry.Question, number: int, total: int) -> str | None:
    """Ask one question; the reader's mark, "y" or "n", or None to stop."""
    out.line(out.bold(f"Question {number} of {total}") + f"  [{_level(q)}, {q.part}/{q.topic}]")
    out.wrap(q.text, head="  ")
    if _ask("Think of your answer (or type it), then press Enter to reveal it; q stops: ") in (None, "q"):
        return None
    if q.short:
        out.line(out.bold("Short answer"))
        out.paragraphs(q.short, indent="  ")
    else:
        out.line(out.bold("Short answer") + ": not written yet; the deep answer instead:")
        out.paragraphs(q.answer, indent="  ")
    out.line(f"  more: nnfaq show {q.id} --deep")
    while True:
        answer = _ask("Did you get it right? [y/n, q stops] ")
        if answer is None:
            return None
        if answer in _MARKS:
            out.line()
            return None if _MARKS[answer] == "q" else _MARKS[answer]
        out.line(f"  {answer!r} is not a mark: type y if you got it right, n if not, or q to stop.")


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


def _review_path() -> str:
    """``quiz.json`` in ``$NNFAQ_DATA_DIR``, else ``$XDG_DATA_HOME/nnfaq``, else ``~/.local/share/nnfaq``."""
    folder = os.environ.get("NNFAQ_DATA_DIR")
    if not folder:
        xdg = os.environ.get("XDG_DATA_HOME", "")
        base = xdg if os.path.isabs(xdg) else os.path.join(os.path.expanduser("~"), ".local", "share")
        folder = os.path.join(base, "nnfaq")
    return os.path.join(folder, "quiz.json")


def _load_review(path: str) -> tuple[list[str], str, bool]:
    """The saved ids to review, what went wrong reading them ("" if nothing) and whether the file is missing."""
    import json

    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (FileNotFoundError, NotADirectoryError):
        return [], f"no saved review list yet ({path})", True
    except (OSError, ValueError) as error:  # ValueError: bad JSON or bad UTF-8
        return [], f"cannot read the saved review list {path} ({type(error).__name__})", False
    ids = data.get("review") if isinstance(data, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        return [], f"the saved review list {path} is not in nnfaq's format", False
    known = {q.id for q in _registry.questions()}
    return [i for i in dict.fromkeys(ids) if i in known], "", False


def _save_review(path: str, ids: list[str]) -> None:
    """Write the ids atomically (a temporary file in the same folder, then :func:`os.replace`)."""
    import json
    import tempfile

    folder = os.path.dirname(path)
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".quiz-", suffix=".json", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"version": 1, "review": ids}, f, indent=1)
                f.write("\n")
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as error:
        print(f"nnfaq quiz: could not save the review list to {path}: {error.strerror or error}", file=sys.stderr)


# --- check ---------------------------------------------------------------------------------------


def _cmd_check(args) -> int:
    if args.ids:
        selected = [_question(i) for i in args.ids]
        chosen = {q.id for q in _registry.questions(args.topic, part=args.part, level=args.level)}
        selected = [q for q in selected if q.id in chosen]
        if not selected:
            raise NothingSelected(_nothing_message(args).replace("no question", "none of the ids", 1))
    else:
        selected = list(_selected(args))
    results = check(selected, verbose=args.verbose)
    failed = [q for q, ok, _, _ in results if not ok]
    total = sum(seconds for _, _, seconds, _ in results)
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed in {total:.2f} s")
    return 1 if failed else 0


def check(selected, *, verbose: bool = False, stream=None) -> list[tuple[_registry.Question, bool, float, str]]:
    """Run each question's doctests; print a PASS/FAIL line per question and return the results.

    Each question starts from :func:`nnfaq._repro.reset` with :func:`nnfaq._repro.doctest_namespace`
    and :func:`nnfaq._repro.doctest_flags`, as pytest and Sphinx do. Each result is ``(question,
    passed, seconds, report)``. A question whose module does not import, or whose docstring has no
    examples, fails: a proof that does not run proves nothing.
    """
    import doctest
    import importlib
    import io
    import textwrap
    import time

    stream = sys.stdout if stream is None else stream
    flags = _repro.doctest_flags()
    namespace = _repro.doctest_namespace()
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
            # the finder gives the file and line numbers that failure reports point to
            tests = finder.find(fn, q.function, module=module, globs={**vars(module), **namespace})
            if not tests or not tests[0].examples:
                report.write(f"{q.function} has no doctest examples: nothing proves the answer\n")
                ok = False
            else:
                runner = doctest.DocTestRunner(verbose=verbose, optionflags=flags)
                _repro.reset()
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


# --- exercise and judge --------------------------------------------------------------------------


def _cmd_passthrough(args) -> int:
    import importlib

    try:
        commands = importlib.import_module("nnfaq.judge.commands")
    except ModuleNotFoundError as error:
        if error.name not in ("nnfaq.judge", "nnfaq.judge.commands"):
            raise
        print(f"nnfaq {args.command}: the judge is not part of this installation yet", file=sys.stderr)
        return 1
    try:
        return getattr(commands, PASSTHROUGH[args.command])(list(args.rest))
    except SystemExit as stop:  # an argparse-based judge printing its help or a usage error
        return stop.code if isinstance(stop.code, int) else 0 if stop.code is None else 1


# --- output --------------------------------------------------------------------------------------


class _Out:
    """Terminal output: wrapped to the terminal width (at most 100 columns), bold only on a terminal."""

    def __init__(self) -> None:
        tty = sys.stdout.isatty()
        self.color = tty and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"
        if tty:
            self.width = max(40, min(_columns(100), 100))
        else:
            self.width = 100

    def bold(self, text: str) -> str:
        return f"\033[1m{text}\033[0m" if self.color else text

    def line(self, text: str = "") -> None:
        print(text)

    def wrap(self, rst: str, head: str = "", indent: str | None = None) -> None:
        """``head`` then the plain text of ``rst`` wrapped, later lines under the text (or at ``indent``)."""
        for line in _text.wrap(plain(rst), self.width, head=head, indent=indent):
            print(line)

    def paragraphs(self, rst: str, indent: str = "") -> None:
        for line in _text.paragraphs(rst, self.width, indent=indent):
            print(line)

    def examples(self, text: str) -> None:
        """The Examples section: prose re-wrapped, doctest blocks verbatim."""
        import re
        import textwrap

        for block in re.split(r"\n\s*\n", textwrap.dedent(text).strip()):
            print()
            if block.lstrip().startswith(">>>"):
                print(textwrap.indent(block, "    "))
            else:
                self.paragraphs(block, indent="  ")
