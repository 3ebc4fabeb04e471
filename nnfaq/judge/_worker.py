"""The judge's subprocess: ``python -P -m nnfaq.judge._worker ID FILE RESULTS TIME_LIMIT CHECK_LIMIT``.

Started by :func:`nnfaq.judge.runner.judge_file`, never by hand. It imports torch if the user's
file does (so that torch's own import time is not charged to the user), blocks the network,
imports the user's file, runs :func:`nnfaq.judge.runner.run_checks` (which checks the signature,
then imports the judge's checks and hypothesis) and appends one JSON event per line to ``RESULTS``
(flushed at once, so that after a crash the judge knows which check was running).
The user's prints and any fatal-error dump go to this process's stdout and stderr, which the
judge captures.
"""

from __future__ import annotations

import faulthandler
import importlib.util
import json
import os
import re
import sys
import traceback

_IMPORTS_TORCH = re.compile(r"^\s*(?:import|from)\s+torch\b", re.MULTILINE)


def _block_network() -> None:
    """Make every socket operation fail: the judgement runs offline."""
    import socket

    def refuse(*args, **kwargs):
        raise OSError("network access is disabled while nnfaq judges a file")

    class _NoSocket(socket.socket):
        def __init__(self, *args, **kwargs):
            refuse()

    socket.socket = _NoSocket
    for name in (
        "create_connection",
        "create_server",
        "getaddrinfo",
        "gethostbyname",
        "gethostbyname_ex",
        "gethostbyaddr",
        "socketpair",
        "fromfd",
    ):
        setattr(socket, name, refuse)


def _where(exc: BaseException, path: str) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == path]
    return f" (line {frames[-1].lineno})" if frames else ""


def _load(path: str, emit, budget):
    """The user's module, or None after emitting why it could not be imported."""
    from nnfaq.judge.runner import TimeLimit

    name = os.path.basename(path)
    spec = importlib.util.spec_from_file_location("nnfaq_solution", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["nnfaq_solution"] = module
    emit({"type": "loading"})
    try:
        budget.run(spec.loader.exec_module, module)
    except TimeLimit:
        emit(
            {
                "type": "error",
                "message": f"importing {name} did not finish within the time limit: an infinite "
                "loop at the top level of the file?",
            }
        )
        return None
    except SystemExit as exc:
        emit({"type": "error", "message": f"{name} called sys.exit({exc.code!r}) while being imported"})
        return None
    except SyntaxError as exc:
        emit({"type": "error", "message": f"syntax error in {name}, line {exc.lineno}: {exc.msg}"})
        return None
    except ImportError as exc:
        emit(
            {
                "type": "error",
                "message": f"{name} could not be imported: {type(exc).__name__}: {exc}{_where(exc, path)}",
            }
        )
        return None
    except Exception as exc:
        text = str(exc).splitlines()[0] if str(exc) else ""
        emit({"type": "error", "message": f"importing {name} raised {type(exc).__name__}: {text}{_where(exc, path)}"})
        return None
    return module


def main(argv: list[str]) -> int:
    exercise_id, path, results, time_limit, check_limit = argv
    with open(results, "a", encoding="utf-8") as out:
        return _judge(exercise_id, path, out, float(time_limit), float(check_limit))


def _judge(exercise_id, path, out, time_limit, check_limit) -> int:
    def emit(event: dict) -> None:
        out.write(json.dumps(event) + "\n")
        out.flush()

    faulthandler.enable()
    from nnfaq.judge.exercises import get_exercise
    from nnfaq.judge.runner import Budget, run_checks

    ex = get_exercise(exercise_id)
    with open(path, encoding="utf-8", errors="replace") as f:
        if _IMPORTS_TORCH.search(f.read()):
            import torch  # noqa: F401  (torch's own import time is not charged to the user's code)
    _block_network()
    budget = Budget(time_limit, check_limit)
    module = _load(path, emit, budget)
    if module is None:
        emit({"type": "done", "ok": False, "passed": 0})
        return 0
    if not hasattr(module, ex.function):
        defined = sorted(
            n
            for n, v in vars(module).items()
            if callable(v) and not n.startswith("_") and getattr(v, "__module__", None) == "nnfaq_solution"
        )
        also = f" (it defines {', '.join(defined)})" if defined else ""
        emit(
            {
                "type": "fail",
                "kind": "signature",
                "label": "signature",
                "message": f"{os.path.basename(path)} defines no function {ex.function}{also}",
                "hint": f"the exercise asks for {ex.function}({ex.signature})",
            }
        )
        emit({"type": "done", "ok": False, "passed": 0})
        return 0
    run_checks(ex, getattr(module, ex.function), emit, budget)
    return 0


if __name__ == "__main__":
    status = main(sys.argv[1:])
    # the results file is written and closed: end without Python's shutdown, which after torch's import
    # tears down its modules and libtorch's C++ statics (half a second of every judgement) for nothing
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
