"""Judging a file in a subprocess, and the two commands.

Every broken file (syntax error, import error, infinite loop, wrong signature, a crash, a hang the
alarm cannot stop, network use) is reported in one line with exit status 1, never with a traceback
of the judge. The judgements run once, all at the same time (``judged``); most of the files do not
import torch, so their subprocess starts in a fraction of a second. Two files do, and take the
whole path: a right answer (exit 0) and one that ends the process in the middle of a check.
"""

import io
import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

import pytest

from nnfaq.judge import commands, runner
from nnfaq.judge.exercises import EXERCISES, get_exercise
from nnfaq.judge.starter import starter

RIGHT = """\
# nnfaq exercise: softmax
import torch


def softmax(input, dim):
    print("judging me")
    if not isinstance(input, torch.Tensor):
        raise TypeError("input must be a tensor")
    if not -input.dim() <= dim < max(input.dim(), 1):
        raise ValueError(f"dim out of range: {dim}")
    e = torch.exp(input - input.amax(dim, keepdim=True))
    return e / e.sum(dim, keepdim=True)
"""

FILES = {
    # name: (source, time limit, the words of the one FAIL line)
    "right": (RIGHT, 20.0, None),
    "exit_in_check": (
        "# nnfaq exercise: softmax\nimport os\nimport torch\n\n\ndef softmax(input, dim):\n    os._exit(7)\n",
        20.0,
        "ended the judge's process with exit status 7 during the forward check",
    ),
    "syntax": (
        "# nnfaq exercise: softmax\ndef softmax(input, dim)\n    return input\n",
        20.0,
        "syntax error in syntax.py, line 2: expected ':'",
    ),
    "import_error": (
        "# nnfaq exercise: softmax\nimport numpyy\n",
        20.0,
        "could not be imported: ModuleNotFoundError: No module named 'numpyy' (line 2)",
    ),
    "loop": (
        "# nnfaq exercise: softmax\nwhile True:\n    pass\n",
        1.0,
        "importing loop.py did not finish within the time limit",
    ),
    "hang": (
        "# nnfaq exercise: softmax\nimport signal\n\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
        "while True:\n    pass\n",
        1.0,
        "did not finish within the 1 s time limit while importing it and was stopped",
    ),
    "signature": (
        "# nnfaq exercise: softmax\ndef softmax(x, axis=-1):\n    return x\n",
        20.0,
        "softmax takes (x, axis) but the exercise asks for (input, dim)",
    ),
    "missing": (
        "# nnfaq exercise: softmax\ndef soft_max(input, dim):\n    return input\n",
        20.0,
        "missing.py defines no function softmax (it defines soft_max)",
    ),
    "segfault": (
        "# nnfaq exercise: softmax\nimport ctypes\n\nctypes.string_at(0)\n",
        20.0,
        "crashed the judge's process with a segmentation fault (SIGSEGV) at line 4, in <module>",
    ),
    "exit_at_import": (
        "# nnfaq exercise: softmax\nimport os\n\nos._exit(3)\n",
        20.0,
        "ended the judge's process with exit status 3 while importing it",
    ),
    "network": (
        "# nnfaq exercise: softmax\nimport socket\n\nsocket.create_connection(('example.com', 80))\n",
        20.0,
        "network access is disabled",
    ),
}


@pytest.fixture(scope="module")
def judged(tmp_path_factory):
    """``name -> (exit status, printed text)`` for every file of FILES, judged concurrently."""
    folder = tmp_path_factory.mktemp("files")

    def one(name):
        source, limit, _ = FILES[name]
        path = folder / f"{name}.py"
        path.write_text(source)
        out = io.StringIO()
        return name, (
            runner.judge_file(str(path), "softmax", time_limit=limit, check_limit=limit, out=out),
            out.getvalue(),
        )

    with ThreadPoolExecutor(len(FILES)) as pool:
        return dict(pool.map(one, FILES))


def test_right_file_passes_end_to_end(judged):
    status, text = judged["right"]
    assert status == 0, text
    assert text.count("  ok    ") == 9 and "Passed: all 9 checks. softmax is correct." in text
    assert "(your code printed" in text and "| judging me" in text  # the user's prints are shown, not lost


@pytest.mark.parametrize("name", [n for n in FILES if n != "right"])
def test_broken_file_is_one_clear_line(judged, name):
    status, text = judged[name]
    fails = [line for line in text.splitlines() if line.startswith("  FAIL")]
    assert status == 1, text
    assert len(fails) == 1 and "Traceback" not in text and "nnfaq/judge" not in text, text
    assert FILES[name][2] in text, text


def test_judge_runs_offline_in_its_own_process_group(judged):
    # the worker is started with -P (no script dir on sys.path) in an empty directory
    cmd = [sys.executable, "-P", "-c", "import sys; print(sys.flags.safe_path)"]
    assert subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip() == "True"
    assert "network access is disabled" in judged["network"][1]


# --- the commands --------------------------------------------------------------------------------


def test_exercise_writes_a_starter(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert commands.exercise_main(["layer-norm"]) == 0
    assert (tmp_path / "layer_norm.py").read_text() == starter("layer-norm")
    assert "nnfaq judge layer_norm.py" in capsys.readouterr().out
    assert commands.exercise_main(["layer-norm"]) == 2  # exists
    assert "--force" in capsys.readouterr().out
    assert commands.exercise_main(["layer-norm", "--force", "-o", "ln.py"]) == 0
    assert commands.exercise_main(["softmax", "-o", "-"]) == 0
    assert capsys.readouterr().out.endswith(starter("softmax"))
    assert commands.exercise_main(["softmax", "--hints"]) == 0
    assert capsys.readouterr().out.startswith("hint 1: ")


def test_exercise_lists(capsys):
    assert commands.exercise_main(["--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == [e.id for e in EXERCISES]
    assert commands.exercise_main(["--list", "--level", "advanced", "--part", "transformers"]) == 0
    ids = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert ids and all(get_exercise(i).level == "advanced" and get_exercise(i).part == "transformers" for i in ids)


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        ([], "give an exercise id"),
        (["softmx"], "did you mean softmax"),
        (["--list", "--part", "nope"], "unknown part 'nope'"),
        (["--list", "--level", "hard"], "unknown level 'hard'"),
        (["softmax", "--level", "basic"], "go with --list"),
        (["--list", "softmax"], "--list takes no exercise id"),
        (["--bogus"], "unrecognized arguments"),
    ],
)
def test_exercise_bad_command_exits_2(argv, words, capsys):
    assert commands.exercise_main(argv) == 2
    captured = capsys.readouterr()
    assert words in captured.out + captured.err


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        ([], "required"),
        (["nope.py"], "no such file: nope.py"),
        (["softmx", "{file}"], "did you mean softmax"),
        (["{plain}"], "does not say which exercise"),
        (["a", "b", "{file}"], "give FILE, or ID FILE"),
        (["--time-limit", "0", "{file}"], "--time-limit must be positive"),
        (["--time-limit", "x", "{file}"], "invalid float value"),
    ],
)
def test_judge_bad_command_exits_2(argv, words, tmp_path, capsys):
    (tmp_path / "s.py").write_text(starter("softmax"))
    (tmp_path / "plain.py").write_text("def softmax(input, dim):\n    pass\n")
    argv = [a.format(file=tmp_path / "s.py", plain=tmp_path / "plain.py") for a in argv]
    assert commands.judge_main(argv) == 2
    captured = capsys.readouterr()
    assert words in captured.out + captured.err


def test_help_exits_0(capsys):
    assert commands.judge_main(["--help"]) == 0 and commands.exercise_main(["-h"]) == 0
    assert "Exit status" in capsys.readouterr().out


def test_syntax_error_needs_no_subprocess(tmp_path, monkeypatch):
    path = tmp_path / "s.py"
    path.write_text("# nnfaq exercise: relu\ndef relu(input:\n")
    monkeypatch.setattr(runner.subprocess, "Popen", None)  # would fail if called
    out = io.StringIO()
    assert runner.judge_file(str(path), "relu", out=out) == 1
    assert "FAIL  syntax error in s.py, line 2" in out.getvalue()


def test_module_entry_point_and_torch_free_imports():
    code = textwrap.dedent(
        """
        import sys
        import nnfaq.judge, nnfaq.judge.exercises, nnfaq.judge.starter, nnfaq.judge.commands, nnfaq.judge.runner
        from nnfaq.judge.commands import exercise_main
        exercise_main(["--list", "--part", "convnets"])
        print("torch" in sys.modules)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-1] == "False" and out.startswith("conv2d")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    done = subprocess.run(
        [sys.executable, "-m", "nnfaq.judge", "exercise", "--list", "--level", "nope"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 2 and "unknown level" in done.stdout + done.stderr
    done = subprocess.run([sys.executable, "-m", "nnfaq.judge", "bogus"], capture_output=True, text=True, env=env)
    assert done.returncode == 2 and "usage" in done.stderr
