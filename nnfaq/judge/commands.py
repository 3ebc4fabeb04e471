"""The two commands: ``nnfaq exercise`` (list exercises, write a starter) and ``nnfaq judge`` (judge a file).

:func:`exercise_main` and :func:`judge_main` take the arguments after the command's name and
return the exit status: 0 on success (every check passed), 1 when a judgement fails, 2 for a bad
command (unknown exercise, part or level, a missing file, a starter that would overwrite a file).
Neither imports torch, except the judgement's own subprocess.

Examples
--------
>>> exercise_main(["--list", "--part", "convnets"])
conv2d      intermediate  convnets  2-D convolution from scratch
max-pool2d  intermediate  convnets  Max pooling with indices
0
>>> exercise_main(["--list", "--level", "expert"])
nnfaq exercise: unknown level 'expert'; choose from basic, intermediate, advanced
2
"""

from __future__ import annotations

import argparse
import os
import sys

__all__ = ["exercise_main", "judge_main"]


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error with exit status 2 by raising, not exiting."""

    def error(self, message):
        raise _Usage(message)


class _Usage(Exception):
    pass


def _usage(prog: str, message: str) -> int:
    print(f"{prog}: {message}", file=sys.stderr if prog == "nnfaq judge" else sys.stdout)
    return 2


def _run(parser: argparse.ArgumentParser, argv, body) -> int:
    try:
        args = parser.parse_args(argv)
    except _Usage as exc:
        parser.print_usage(sys.stderr)
        print(f"{parser.prog}: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    return body(args)


# --- nnfaq exercise ------------------------------------------------------------------------------


def _exercise_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="nnfaq exercise",
        description="Write the starter file of a coding exercise, or list the exercises.",
        epilog="Then write the function's body and run: nnfaq judge FILE",
    )
    p.add_argument("id", nargs="?", help="the exercise to start (see --list)")
    p.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="where to write the starter ('-' prints it); default "
        "the exercise's file name, e.g. softmax.py, in the current directory",
    )
    p.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    p.add_argument("--hints", action="store_true", help="print the exercise's hints instead of writing a starter")
    p.add_argument("--list", action="store_true", help="list the exercises")
    p.add_argument("--part", help="with --list: only this part")
    p.add_argument("--level", help="with --list: only this level (basic, intermediate, advanced)")
    return p


def exercise_main(argv: list[str]) -> int:
    """``nnfaq exercise ID [-o FILE] [--force]``, ``nnfaq exercise ID --hints`` or
    ``nnfaq exercise --list [--part P] [--level L]``; return the exit status."""
    return _run(_exercise_parser(), argv, _exercise)


def _exercise(args) -> int:
    from nnfaq import LEVELS, PARTS
    from nnfaq.judge.exercises import exercises, get_exercise

    prog = "nnfaq exercise"
    if args.list:
        if args.id or args.output or args.hints:
            return _usage(prog, "--list takes no exercise id, -o or --hints")
        if args.part is not None and args.part not in PARTS:
            return _usage(prog, f"unknown part {args.part!r}; choose from {', '.join(PARTS)}")
        if args.level is not None and args.level not in LEVELS:
            return _usage(prog, f"unknown level {args.level!r}; choose from {', '.join(LEVELS)}")
        rows = [(e.id, e.level, e.part, e.title) for e in exercises(args.part, args.level)]
        if not rows:
            print("no exercise matches")
            return 0
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        for r in rows:
            print("  ".join(c.ljust(w) for c, w in zip(r[:3], widths)) + "  " + r[3])
        return 0
    if args.part or args.level:
        return _usage(prog, "--part and --level go with --list")
    if not args.id:
        return _usage(prog, "give an exercise id (nnfaq exercise softmax) or --list")
    try:
        ex = get_exercise(args.id)
    except KeyError as exc:
        return _usage(prog, exc.args[0])
    if args.hints:
        for i, hint in enumerate(ex.hints, 1):
            print(f"hint {i}: {hint}")
        return 0
    from nnfaq.judge.starter import starter

    text = starter(ex.id)
    if args.output == "-":
        sys.stdout.write(text)
        return 0
    path = args.output or ex.filename
    if os.path.exists(path) and not args.force:
        return _usage(prog, f"{path} exists; pass --force to overwrite it, or -o to write elsewhere")
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as exc:
        return _usage(prog, f"cannot write {path}: {exc.strerror}")
    print(f"wrote {path}: write the body of {ex.function}, then run: nnfaq judge {path}")
    return 0


# --- nnfaq judge ---------------------------------------------------------------------------------


def _judge_parser() -> argparse.ArgumentParser:
    from nnfaq.judge.runner import TIME_LIMIT

    p = _Parser(
        prog="nnfaq judge",
        usage="nnfaq judge [-h] [--time-limit SECONDS] [ID] FILE",
        description="Judge your solution of an exercise, offline: signature, values against PyTorch, gradients, "
        "the concept's claims, edge cases and bad input, stopping at the first failure.",
        epilog="Exit status: 0 every check passed, 1 a check failed (or the file is broken), 2 a bad command.",
    )
    p.add_argument(
        "args",
        nargs="+",
        metavar="[ID] FILE",
        help="the file to judge, optionally after the exercise "
        "id (by default the id in the file's first line, '# nnfaq exercise: ID')",
    )
    p.add_argument(
        "--time-limit",
        type=float,
        default=TIME_LIMIT,
        metavar="SECONDS",
        help=f"time your code may take in all (default {TIME_LIMIT:g})",
    )
    return p


def judge_main(argv: list[str]) -> int:
    """``nnfaq judge FILE`` or ``nnfaq judge ID FILE``; return the exit status."""
    return _run(_judge_parser(), argv, _judge)


def _judge(args) -> int:
    from nnfaq.judge.exercises import get_exercise
    from nnfaq.judge.runner import CHECK_LIMIT, judge_file
    from nnfaq.judge.starter import exercise_id_of

    prog = "nnfaq judge"
    if len(args.args) > 2:
        return _usage(prog, "give FILE, or ID FILE")
    *given, path = args.args
    if not (args.time_limit > 0):
        return _usage(prog, f"--time-limit must be positive, got {args.time_limit:g}")
    if not os.path.isfile(path):
        return _usage(prog, f"no such file: {path}")
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            head = f.read(4096)
    except OSError as exc:
        return _usage(prog, f"cannot read {path}: {exc.strerror}")
    exercise_id = given[0] if given else exercise_id_of(head)
    if exercise_id is None:
        return _usage(
            prog,
            f"{path} does not say which exercise it solves: give the id (nnfaq judge ID {path}) "
            "or start the file with '# nnfaq exercise: ID'",
        )
    try:
        get_exercise(exercise_id)
    except KeyError as exc:
        return _usage(prog, exc.args[0])
    return judge_file(path, exercise_id, time_limit=args.time_limit, check_limit=min(CHECK_LIMIT, args.time_limit))
