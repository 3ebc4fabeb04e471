"""A judgement: the user's file checked in a subprocess, one line per check, stopping at the first failure.

:func:`judge_file` is what ``nnfaq judge`` runs. It compiles the file (a syntax error is reported
without starting anything), then runs ``python -P -m nnfaq.judge._worker`` in a new process group,
in an empty temporary directory, with one torch thread. The worker imports torch (if the user's
file does), blocks the ``socket`` module, imports the user's file, checks the signature, imports
the judge's checks and hypothesis, then runs the exercise's checks (:func:`run_checks`), writing
one JSON event per line to a results file that this process reads while it runs, printing each
check's line as it arrives. The user's prints are captured and the first lines shown at the end.

Time limits: the user's code (its import and every check) has ``time_limit`` seconds in all and
at most ``check_limit`` per check, enforced inside the worker with ``SIGALRM`` (a Python-level
infinite loop is stopped and reported as such). A hang the alarm cannot interrupt (inside a C
call) is ended from outside: the whole process group is killed ``GRACE`` seconds after the
budget, the time the judge itself needs to import torch not counted. A crash (segmentation
fault, ``os._exit``) ends the worker without its ``done`` event, and is reported with the check
that was running and, for a fatal signal, the user's line from :mod:`faulthandler`.

Exit status of a judgement: 0 when every check passes, 1 when one fails or the file is broken.

Examples
--------
>>> from nnfaq.judge.exercises import get_exercise
>>> def softmax(x, dim):
...     pass
>>> print(check_signature(get_exercise("softmax"), softmax)[1])
softmax takes (x, dim) but the exercise asks for (input, dim): PyTorch's names, in PyTorch's order
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

__all__ = ["TimeLimit", "UserExit", "check_signature", "format_event", "judge_file", "run_checks"]

#: Seconds the user's code may run in all (its import and every check), and per check.
TIME_LIMIT = 20.0
CHECK_LIMIT = 10.0
#: Seconds the judge may take to start (import torch and hypothesis) before it is presumed hung.
STARTUP_LIMIT = 90.0
#: Seconds after the budget before the worker's process group is killed from outside.
GRACE = 3.0

_WIDTH = 11  # the kind column
_GENERIC = ("values", "gradients", "signature", "bad input")  # labels that only repeat the kind


class TimeLimit(BaseException):
    """The user's code ran out of time (raised by the worker's alarm; a BaseException so
    ``except Exception`` in user code cannot swallow it)."""


class UserExit(BaseException):
    """The user's code called ``sys.exit``."""


# --- the signature (no torch needed) -------------------------------------------------------------


def _expected(ex) -> list[tuple[str, bool, object]]:
    """The exercise's parameters: (name, has a default, default value or its source text)."""
    fn = ast.parse(f"def f({ex.signature}): pass").body[0]
    args = fn.args.args
    defaults = [None] * (len(args) - len(fn.args.defaults)) + list(fn.args.defaults)
    out = []
    for a, d in zip(args, defaults):
        if d is None:
            out.append((a.arg, False, None))
            continue
        try:
            out.append((a.arg, True, ast.literal_eval(d)))
        except ValueError:
            out.append((a.arg, True, ast.unparse(d)))
    return out


def _same_default(got, want) -> bool:
    if isinstance(want, str) and not isinstance(got, str):
        return repr(got) == want or getattr(got, "__name__", None) == want
    if isinstance(want, (tuple, list)):
        return isinstance(got, (tuple, list)) and list(got) == list(want)
    if isinstance(got, bool) or isinstance(want, bool):
        return type(got) is type(want) and got == want
    if isinstance(want, float):
        return isinstance(got, (int, float)) and got == want
    return type(got) is type(want) and got == want


def check_signature(ex, fn) -> tuple[bool, str, str | None]:
    """``(ok, line, hint)``: whether ``fn`` has the exercise's parameters (names, order, defaults).

    Extra parameters are allowed after or between them if they have defaults; the parameters
    listed in ``ex.free_defaults`` may have any default.
    """
    want = _expected(ex)
    names = [n for n, _, _ in want]
    asked = f"{ex.function}({ex.signature})"
    if not callable(fn):
        return False, f"{ex.function} is a {type(fn).__name__}, not a function", None
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return False, f"{ex.function} has no readable signature", None
    kinds = inspect.Parameter
    if any(p.kind in (kinds.VAR_POSITIONAL, kinds.VAR_KEYWORD) for p in params):
        return False, f"{ex.function} takes *args or **kwargs; write the parameters out: {asked}", None
    if any(p.kind == kinds.POSITIONAL_ONLY for p in params):
        return False, f"{ex.function} has positional-only parameters; the judge calls by name: {asked}", None
    got = [p.name for p in params]
    pos = [got.index(n) for n in names if n in got]
    if len(pos) < len(names) or pos != sorted(pos):
        return (
            False,
            f"{ex.function} takes ({', '.join(got)}) but the exercise asks for ({', '.join(names)}): PyTorch's "
            "names, in PyTorch's order",
            "copy the signature from the starter (`nnfaq exercise " + ex.id + " -o FILE`)",
        )
    by_name = {p.name: p for p in params}
    for name, has_default, default in want:
        p = by_name[name]
        if not has_default and p.default is not kinds.empty:
            return False, f"parameter {name} must be required (no default), as in {asked}", None
        if has_default and p.default is kinds.empty:
            return False, f"parameter {name} needs its default, as in {asked}", None
        if has_default and name not in ex.free_defaults and not _same_default(p.default, default):
            shown = default if isinstance(default, str) and not isinstance(p.default, str) else repr(default)
            return False, f"parameter {name} has default {p.default!r}, expected {shown} (PyTorch's)", None
    for p in params:
        if p.name not in names and p.default is kinds.empty:
            return False, f"extra parameter {p.name} has no default: the judge would not pass it", None
    return True, asked, None


# --- the checks, in process ----------------------------------------------------------------------


class _Alarm:
    """``SIGALRM`` after ``seconds`` raises :class:`TimeLimit` (no-op for None or off the main thread)."""

    def __init__(self, seconds: float | None):
        self.seconds = seconds

    def __enter__(self):
        self.old = None
        if self.seconds is not None and hasattr(signal, "setitimer"):
            self.old = signal.signal(signal.SIGALRM, self._raise)
            signal.setitimer(signal.ITIMER_REAL, max(self.seconds, 0.01))
        return self

    @staticmethod
    def _raise(signum, frame):
        raise TimeLimit()

    def __exit__(self, *exc):
        if self.old is not None:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.old)
        return False


class Budget:
    """The user's time: ``total`` seconds in all, at most ``per_check`` per check (None: unlimited)."""

    def __init__(self, total: float | None = None, per_check: float | None = None):
        self.total, self.per_check, self.used = total, per_check, 0.0
        self.last = None  # the limit of the last run

    def limit(self) -> float | None:
        if self.total is None:
            return self.per_check
        left = self.total - self.used
        return left if self.per_check is None else min(left, self.per_check)

    def run(self, fn, *args):
        t0 = time.perf_counter()
        self.last = self.limit()
        try:
            with _Alarm(self.last):
                return fn(*args)
        finally:
            self.used += time.perf_counter() - t0


def _timeout_message(what: str, budget: Budget) -> str:
    rules = []
    if budget.per_check is not None:
        rules.append(f"{budget.per_check:g} s per check")
    if budget.total is not None:
        rules.append(f"{budget.total:g} s in all")
    return (
        f"{what} did not finish within {budget.last or 0:.3g} s (the judge allows {' and '.join(rules)}): an "
        "infinite loop, or a Python loop over every element that is far too slow?"
    )


def run_checks(ex, fn, emit, budget: Budget | None = None) -> bool:
    """Check ``fn`` against exercise ``ex`` in this process; ``emit(event)`` receives one dict per line.

    Returns True if every check passes. Stops at the first failure. The events are those
    :func:`format_event` prints.
    """
    budget = budget or Budget()
    ok, line, hint = check_signature(ex, fn)
    if not ok:
        emit({"type": "fail", "kind": "signature", "label": "signature", "message": line, "hint": hint})
        emit({"type": "done", "ok": False, "passed": 0})
        return False
    emit({"type": "pass", "kind": "signature", "label": "signature", "detail": line})
    from nnfaq.judge import suites
    from nnfaq.judge.checks import Failure

    checks = suites.suite(ex.id).ordered()
    emit({"type": "ready", "total": len(checks) + 1})
    passed = 1
    for check in checks:
        head = {"kind": check.kind, "label": check.label}
        emit({"type": "start", **head})
        _reset_torch()
        try:
            detail = budget.run(check.run, fn)
        except Failure as f:
            emit(
                {"type": "fail", **head, "message": f.message, "hint": f.hint, "input": f.input, "smallest": f.smallest}
            )
            emit({"type": "done", "ok": False, "passed": passed})
            return False
        except TimeLimit:
            emit({"type": "fail", **head, "message": _timeout_message(ex.function, budget), "hint": None})
            emit({"type": "done", "ok": False, "passed": passed})
            return False
        except UserExit as exc:
            emit(
                {
                    "type": "fail",
                    **head,
                    "message": f"{ex.function} {exc.args[0]}: the judge's process would end",
                    "hint": "return a value or raise an exception; never exit",
                }
            )
            emit({"type": "done", "ok": False, "passed": passed})
            return False
        except Exception as exc:  # a bug of the judge, not of the user's code (which `call` wraps)
            msg = f"internal error of the judge in this check ({type(exc).__name__}: {exc}); please report it"
            emit({"type": "fail", **head, "message": msg, "hint": None})
            emit({"type": "done", "ok": False, "passed": passed})
            return False
        passed += 1
        emit({"type": "pass", **head, "detail": detail})
    emit({"type": "done", "ok": True, "passed": passed})
    return True


def _reset_torch() -> None:
    import torch

    torch.default_generator.manual_seed(0)  # the CPU generator: torch.manual_seed also queues it for GPUs
    torch.set_grad_enabled(True)


# --- printing ------------------------------------------------------------------------------------


def format_event(event: dict) -> list[str]:
    """The lines a judgement prints for one event (none for bookkeeping events)."""
    t = event["type"]
    if t == "pass":
        return [f"  ok    {event['kind']:<{_WIDTH}}{event.get('detail') or event['label']}"]
    if t == "fail":
        label = "" if event["label"] in _GENERIC else event["label"]
        lines = [f"  FAIL  {event['kind']:<{_WIDTH}}{label}".rstrip()]
        pad = " " * 8
        lines.append(pad + event["message"])
        if event.get("input"):
            lines.append(pad + ("smallest failing input: " if event.get("smallest") else "input: ") + event["input"])
        if event.get("hint"):
            lines.append(pad + f"hint: {event['hint']}")
        return lines
    if t == "error":
        return [f"  FAIL  {event['message']}"]
    return []


# --- the subprocess ------------------------------------------------------------------------------


def _signal_name(code: int) -> str:
    try:
        name = signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"
    what = {
        "SIGSEGV": "a segmentation fault",
        "SIGABRT": "an abort",
        "SIGBUS": "a bus error",
        "SIGFPE": "a floating-point exception",
        "SIGKILL": "being killed",
        "SIGILL": "an illegal instruction",
    }
    return f"{what.get(name, name)} ({name})"


def _user_lines(output: str, path: str) -> str:
    """'line N, in fn' of the user's deepest frame in a faulthandler dump, or ''."""
    import re

    hits = re.findall(rf'File "{re.escape(path)}", line (\d+) in (\S+)', output)
    return f" at line {hits[0][0]}, in {hits[0][1]}" if hits else ""


def _syntax_error(path: str, source: str) -> str | None:
    try:
        compile(source, path, "exec")
    except SyntaxError as exc:
        line = (exc.text or "").strip()
        where = f", line {exc.lineno}" if exc.lineno else ""
        shown = f": {line}" if line else ""
        return f"syntax error in {os.path.basename(path)}{where}: {exc.msg}{shown}"
    except ValueError as exc:  # null bytes
        return f"{os.path.basename(path)} is not Python source: {exc}"
    return None


def judge_file(
    path: str, exercise_id: str, *, time_limit: float = TIME_LIMIT, check_limit: float = CHECK_LIMIT, out=None
) -> int:
    """Judge the file at ``path`` as exercise ``exercise_id`` in a subprocess; print the lines; return 0 or 1."""
    from nnfaq.judge.exercises import get_exercise

    out = out or sys.stdout
    ex = get_exercise(exercise_id)
    path = os.path.abspath(path)
    name = os.path.basename(path)

    def say(line=""):
        print(line, file=out, flush=True)

    say(f"nnfaq judge: {name} as exercise {ex.id}: {ex.function}({ex.signature})")
    with open(path, encoding="utf-8", errors="replace") as f:
        source = f.read()
    problem = _syntax_error(path, source)
    if problem:
        say(f"  FAIL  {problem}")
        say("Failed: fix the syntax error and judge again.")
        return 1
    with tempfile.TemporaryDirectory(prefix="nnfaq-judge-") as tmp:
        results, output = os.path.join(tmp, "results.jsonl"), os.path.join(tmp, "output.txt")
        events = _run_worker(ex, path, tmp, results, output, time_limit, check_limit, say)
        with open(output, encoding="utf-8", errors="replace") as f:
            captured = f.read()
    done = next((e for e in events if e["type"] == "done"), None)
    total = next((e["total"] for e in events if e["type"] == "ready"), None)
    if done is None:
        say(f"  FAIL  {_crash_message(events, captured, path, name, time_limit)}")
        say("Failed: the file did not survive the judgement.")
        return 1
    _show_output(captured, say)
    if done["ok"]:
        say(f"Passed: all {done['passed']} checks. {ex.function} is correct.")
        return 0
    fail = next(e for e in events if e["type"] in ("fail", "error"))
    of = f" of {total}" if total else ""
    if not fail.get("kind"):
        say("Failed: the file could not be judged; fix it and judge again.")
        return 1
    what = f"the {fail['kind']} check" + ("" if fail["label"] in _GENERIC else f' "{fail["label"]}"')
    say(f"Failed at {what} ({done['passed']}{of} checks passed); fix it and judge again.")
    return 1


def _crash_message(events, captured, path, name, time_limit) -> str:
    exit_event = next((e for e in events if e["type"] == "exit"), None)
    starts = [e for e in events if e["type"] in ("start", "loading")]
    if not starts or starts[-1]["type"] == "loading":
        during = "while importing it"
    else:
        last = starts[-1]
        during = f"during the {last['kind']} check" + ("" if last["label"] in _GENERIC else f' "{last["label"]}"')
    code = exit_event["code"] if exit_event else None
    if exit_event and exit_event.get("killed"):
        return (
            f"{name} did not finish within the {time_limit:g} s time limit {during} and was stopped: an "
            "infinite loop the judge's alarm could not interrupt (inside a C call, or with SIGALRM ignored)?"
        )
    if code is not None and code < 0:
        return f"{name} crashed the judge's process with {_signal_name(code)}{_user_lines(captured, path)} {during}"
    return f"{name} ended the judge's process with exit status {code} {during} (os._exit, or a crash in C code?)"


def _show_output(captured: str, say) -> None:
    lines = [ln for ln in captured.splitlines() if ln.strip()]
    if lines:
        say(f"  (your code printed {len(lines)} line{'s' if len(lines) != 1 else ''}; the first ones:)")
        for ln in lines[:10]:
            say(f"  | {ln[:200]}")


def _run_worker(ex, path, tmp, results, output, time_limit, check_limit, say) -> list[dict]:
    import nnfaq

    root = os.path.dirname(os.path.dirname(os.path.abspath(nnfaq.__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1", PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-P", "-m", "nnfaq.judge._worker", ex.id, path, results, str(time_limit), str(check_limit)]
    open(results, "w").close()
    events: list[dict] = []
    with open(output, "wb") as sink:
        proc = subprocess.Popen(
            cmd,
            cwd=tmp,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        # until the user's code starts ("loading") the judge is importing torch; from then on, and again once
        # the judge's own checks are imported ("ready"), the user's budget and a grace period remain
        deadline = time.monotonic() + STARTUP_LIMIT + time_limit
        offset = 0
        try:
            while True:
                code = proc.poll()
                seen = len(events)
                offset = _read_events(results, offset, events, say)
                if any(e["type"] in ("loading", "ready") for e in events[seen:]):
                    deadline = time.monotonic() + time_limit + GRACE
                if code is not None:
                    offset = _read_events(results, offset, events, say)
                    if not any(e["type"] == "done" for e in events):
                        events.append({"type": "exit", "code": code})
                    break
                if time.monotonic() > deadline:
                    _kill(proc)
                    events.append({"type": "exit", "code": proc.returncode, "killed": True})
                    break
                time.sleep(0.02)
        except BaseException:
            _kill(proc)
            raise
    return events


def _kill(proc) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _read_events(results: str, offset: int, events: list, say) -> int:
    with open(results, "rb") as f:
        f.seek(offset)
        data = f.read()
    end = data.rfind(b"\n") + 1
    for raw in data[:end].splitlines():
        try:
            event = json.loads(raw)
        except ValueError:
            continue
        events.append(event)
        for line in format_event(event):
            say(line)
    return offset + end
