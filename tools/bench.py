"""Time the build, the examples, the tests and the CLI start-up; fail when a budget is broken.

Run by ``nox -s bench``. The work tree (tracked and untracked files, not ignored ones) is copied to a
temporary folder, so the benchmark's clean builds never disturb the site in ``docs/_build``. In that
copy, ``runs`` times (conf/settings.toml ``[bench]``): a clean build with every example executed, a
rebuild with nothing changed, and a rebuild after editing one example; then the pytest phase of the
tests, and ``python -m nnfaq list`` against a bare ``python -c pass``. Medians are printed as a table,
written to ``bench-results/bench.md`` (and ``bench.json``), and compared with the budgets.

Usage: ``python tools/bench.py [--runs N] [--keep]`` (``--keep`` leaves the copy in place).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "conf"), str(ROOT / "tools")]
import nnfaq_conf  # noqa: E402

GALLERY = nnfaq_conf.SETTINGS["gallery"]
BENCH = nnfaq_conf.SETTINGS["bench"]
GENERATED = ["docs/_build", f"docs/{GALLERY['gallery_dir']}", "docs/gen_modules", "docs/generated", "docs/topics"]
HTML = "docs/_build/html"
# the docs session's build, less -W: warnings fail `nox -s docs`; here only the time counts
SPHINX = [sys.executable, "-m", "sphinx", "-n", "--keep-going", "-q", "-b", "html", "docs", HTML]


def timed(cmd: list[str], cwd: Path, log: Path, check: bool = True) -> float:
    """Run ``cmd`` in ``cwd``, output appended to ``log``; its wall time in seconds (negative if it failed
    and ``check`` is false; the benchmark stops if it failed and ``check`` is true)."""
    start = time.perf_counter()
    with log.open("a") as out:
        out.write(f"\n$ {' '.join(cmd)}\n")
        out.flush()
        proc = subprocess.run(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - start
    if proc.returncode and check:
        sys.exit(f"ERROR: `{' '.join(cmd)}` failed (exit {proc.returncode}); see {log}")
    return -seconds if proc.returncode else seconds


def clean(tree: Path) -> None:
    """Back to a fresh checkout: no generated pages, gallery output, build or bytecode."""
    for rel in GENERATED:
        shutil.rmtree(tree / rel, ignore_errors=True)
    for cache in tree.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)


def worker(tree: Path, runs: int, log: Path) -> dict:
    """Measure inside ``tree`` (this script's own copy): every number, per run."""
    from check_gallery import example_times  # this copy's, reading this copy's gallery output

    touched = tree / GALLERY["examples_dir"] / BENCH["touched_example"]
    original = touched.read_text(encoding="utf-8")
    res: dict = {"clean": [], "no_change": [], "one_example": [], "examples": {}, "pytest": [], "cli": [], "bare": []}
    for run in range(runs):
        clean(tree)
        res["clean"].append(timed(SPHINX, tree, log))
        times, problems = example_times(tree / HTML)
        if problems:
            sys.exit("ERROR: " + "; ".join(problems))
        for rel, seconds in times.items():
            res["examples"].setdefault(rel, []).append(seconds)
        res["no_change"].append(timed(SPHINX, tree, log))
        touched.write_text(original + f"\n# bench edit {run}: one example changed\n", encoding="utf-8")
        res["one_example"].append(timed(SPHINX, tree, log))
        touched.write_text(original, encoding="utf-8")
        print(f"run {run + 1}/{runs}: builds {res['clean'][-1]:.1f} / {res['no_change'][-1]:.1f} / "
              f"{res['one_example'][-1]:.1f} s", flush=True)  # fmt: skip
    for _ in range(runs):  # a failing test still gives a time; the report says the tests failed
        seconds = timed([sys.executable, "-m", "pytest", "-q"], tree, log, check=False)
        res["pytest_failed"] = res.get("pytest_failed", False) or seconds < 0
        res["pytest"].append(abs(seconds))
    for _ in range(runs):
        res["cli"].append(startup([sys.executable, "-m", "nnfaq", "list"], tree))
        res["bare"].append(startup([sys.executable, "-c", "pass"], tree))
    return res


def startup(cmd: list[str], cwd: Path, repeat: int = 15) -> float:
    """Start-up time as a user sees it: bytecode caches allowed and warm, best of ``repeat`` runs."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    best = float("inf")
    for _ in range(repeat + 1):  # the first run writes the caches
        start = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, check=True)
        best = min(best, time.perf_counter() - start)
    return best


def machine() -> str:
    model = platform.processor() or "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        models = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if "model name" in line]
        model = models[0] if models else model
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return (
        f"{os.cpu_count()} cores, {model}, Python {platform.python_version()}, {platform.system()}; "
        f"load average (1/5/15 min) at the end: {load}"
    )


def report(res: dict, runs: int) -> tuple[str, list[str]]:
    """The Markdown tables, and the budgets broken."""
    broken: list[str] = []

    def row(what: str, values: list[float], budget: float | None) -> str:
        m = statistics.median(values)
        verdict = "" if budget is None else ("ok" if m <= budget else "**over budget**")
        if budget is not None and m > budget:
            broken.append(f"{what}: {m:.1f} s, over the {budget:g} s budget")
        each = ", ".join(f"{v:.2f}" for v in values)
        return f"| {what} | {m:.2f} | {each} | {'' if budget is None else f'≤ {budget:g}'} | {verdict} |"

    head = "| {} | median (s) | each run (s) | budget (s) | |\n| --- | ---: | --- | --- | --- |"
    totals = [sum(v[i] for v in res["examples"].values()) for i in range(runs)]
    failed = " (some tests FAILED)" if res.get("pytest_failed") else ""
    lines = [
        f"Medians of {runs} runs on {machine()}.",
        "",
        head.format("measure"),
        row("clean build, every example executed", res["clean"], BENCH["clean_build_seconds"]),
        row("rebuild, nothing changed", res["no_change"], BENCH["no_change_rebuild_seconds"]),
        row(
            f"rebuild after editing `{BENCH['touched_example']}`",
            res["one_example"],
            BENCH["one_example_rebuild_seconds"],
        ),
        row(f"all {len(res['examples'])} examples, summed (sphinx-gallery's times)", totals, None),
        row(f"pytest phase of the tests{failed}", res["pytest"], None),
        row("`python -m nnfaq list` start-up (best of 15, warm)", res["cli"], None),
        row("bare `python -c pass` start-up (best of 15, warm)", res["bare"], None),
        row(
            "`nnfaq list` / bare start-up (ratio, not seconds)", [c / b for c, b in zip(res["cli"], res["bare"])], None
        ),
        "",
        head.format("example"),
    ]
    by_time = sorted(res["examples"].items(), key=lambda kv: -statistics.median(kv[1]))
    lines += [row(f"`{rel}`", values, float(GALLERY["max_seconds"])) for rel, values in by_time]
    return "\n".join(lines), broken


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=int(BENCH["runs"]))
    parser.add_argument("--keep", action="store_true", help="leave the temporary copy of the tree in place")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)  # internal: measure here, write JSON
    args = parser.parse_args()
    out = ROOT / BENCH["output"]
    out.mkdir(exist_ok=True)
    log = Path(os.environ.get("NNFAQ_BENCH_LOG", out / "bench.log"))
    if args.worker:
        args.worker.write_text(json.dumps(worker(ROOT, args.runs, log)))
        return 0

    log.write_text("")
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    tmp = Path(tempfile.mkdtemp(prefix="nnfaq-bench-"))
    tree = tmp / "nnfaq"
    try:
        for rel in filter(None, files):
            src = ROOT / rel
            if src.is_file():
                (tree / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, tree / rel)
        print(f"benchmarking a copy of the work tree in {tree} ({args.runs} runs); log: {log}", flush=True)
        env = {**os.environ, "PYTHONPATH": str(tree)}  # the copy's nnfaq, not the editable install's
        result = tmp / "result.json"
        cmd = [sys.executable, str(tree / "tools/bench.py"), "--runs", str(args.runs), "--worker", str(result)]
        subprocess.run(cmd, cwd=tree, env={**env, "NNFAQ_BENCH_LOG": str(log)}, check=True)
        res = json.loads(result.read_text())
    finally:
        if args.keep:
            print(f"the copy is kept in {tree}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    text, broken = report(res, args.runs)
    (out / "bench.md").write_text(text + "\n", encoding="utf-8")
    (out / "bench.json").write_text(json.dumps(res, indent=1) + "\n", encoding="utf-8")
    print(text)
    print(f"\nwritten to {out / 'bench.md'}")
    for b in broken:
        print(f"ERROR: budget broken: {b}", file=sys.stderr)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
