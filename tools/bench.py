"""Time what a user waits for: the docs build, the examples, the tests, the CLI; fail when a budget is broken.

Run by ``nox -s bench``. The work tree (tracked and untracked files, not ignored ones) is copied to a
temporary folder, so the benchmark never disturbs ``docs/_build``; the copy's ``.nox`` is a link to this
tree's, so ``nox`` there uses the shared environment ``.nox/nnfaq`` and skips pip, as it does here. Every
command runs as a user runs it, bytecode allowed (no ``PYTHONDONTWRITEBYTECODE``), with the copy's
``nnfaq`` imported (Sphinx's conf.py puts the tree first on ``sys.path``; the other commands get
``PYTHONPATH``; both are checked). ``runs`` times (conf/settings.toml ``[bench]``), in phases:

docs     ``nox -s docs``, the whole command (nox's start-up, the stamp check, sphinx-build, the gallery
         check): in a fresh checkout (every example executed), again with nothing changed (also split into
         its parts), and after editing one example
gallery  every example run standalone, as a downloaded script runs (``tools/run_gallery.py``)
tests    the pytest phase of ``nox -s tests``: the whole ``pytest`` run, in the shared environment
cli      ``nnfaq list`` against a bare ``python -c pass``: warm, best of ``cli_repeat``

Medians (wall time, and the CPU time of the command and its children, which a busy machine inflates
less) go to ``bench-results/bench.md`` and ``bench.json``, with a table for the README's Performance
section, and are compared with the budgets.

Usage: ``python tools/bench.py [--runs N] [--only PHASE ...] [--examples PATTERN ...] [--exclude-examples
PATTERN ...] [--keep] [--nox CMD]``; from nox: ``nox -s bench -- --runs 1 --only docs``. ``--examples`` limits
the standalone runs; ``--exclude-examples`` deletes examples from the copy (one that fails in the work tree).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import resource
import shlex
import shutil
import signal
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
HTML = "docs/_build/html"
PHASES = ("docs", "gallery", "tests", "cli")
EXAMPLE_SECONDS = float(GALLERY["max_seconds"])
# what the noxfile knows and the bench needs: the sessions' variables, the shared environment and its stamp
NOXFILE_QUERY = """
import json, noxfile as n
print(json.dumps({"env": n.ENV, "shared": str(n.SHARED), "stamp": n._stamp(n._requirements(*n.SHARED_GROUPS))}))
"""


# --- running and timing ------------------------------------------------------------------------------


def timed(cmd: list[str], cwd: Path, env: dict, log: Path) -> tuple[dict, str]:
    """Run ``cmd``; its wall and CPU seconds (the command and its children), whether it succeeded, its output."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    with log.open("a", encoding="utf-8") as out:
        out.write(f"\n$ {shlex.join(cmd)}   # {wall:.2f} s wall, {cpu:.2f} s CPU, exit {proc.returncode}\n")
        out.write(proc.stdout)
    return {"wall": wall, "cpu": cpu, "ok": proc.returncode == 0}, proc.stdout


def startup(cmds: dict[str, list[str]], cwd: Path, env: dict, repeat: int) -> dict[str, dict]:
    """Start-up as a user sees it, bytecode caches allowed and warm: the best of ``repeat`` runs of each
    command (wall and CPU seconds), the commands taking turns so that both meet the same load."""
    best = {name: {"wall": float("inf"), "cpu": float("inf")} for name in cmds}
    for i in range(repeat + 1):  # the first round writes the caches
        for name, cmd in cmds.items():
            before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
            subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, check=True)
            wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
            if i:
                best[name] = {"wall": min(best[name]["wall"], wall), "cpu": min(best[name]["cpu"], cpu)}
    return best


def nox_commands(output: str) -> list[list[str]]:
    """The commands a nox session ran, as its log shows them (``nox > /abs/program args``)."""
    found = []
    for match in re.finditer(r"^nox > (/\S+)(.*)$", output, re.MULTILINE):
        if Path(match.group(1)).is_file():
            found.append([match.group(1), *shlex.split(match.group(2))])
    return found


def find_nox(given: str | None) -> list[str]:
    """The nox that runs this bench (its parent process), else --nox, $NNFAQ_NOX or the nox on PATH."""
    if given or os.environ.get("NNFAQ_NOX"):
        return shlex.split(given or os.environ["NNFAQ_NOX"])
    cmdline = Path(f"/proc/{os.getppid()}/cmdline")
    if cmdline.exists():
        argv = cmdline.read_bytes().decode().split("\0")
        for i, arg in enumerate(argv):
            if Path(arg).name == "nox" and Path(arg).is_file():
                return argv[: i + 1]
            if arg == "-m" and argv[i + 1 : i + 2] == ["nox"]:
                return argv[: i + 2]
    if shutil.which("nox"):
        return [shutil.which("nox")]
    sys.exit("ERROR: no nox found: run `nox -s bench`, or pass --nox /path/to/nox")


def nox_python(nox: list[str]) -> str:
    """The interpreter nox runs in (it imports the noxfile)."""
    if Path(nox[0]).name.startswith("python"):
        return nox[0]
    first = Path(nox[0]).read_text(encoding="utf-8", errors="replace").splitlines()[0]
    return shlex.split(first[2:])[0] if first.startswith("#!") else sys.executable


# --- the copy ------------------------------------------------------------------------------------------


def tree_files(tree: Path) -> set[str]:
    """Files of a checkout (relative paths), bytecode and generated output excluded; never inside .nox."""
    files = set()
    for dirpath, dirnames, filenames in os.walk(tree):
        dirnames[:] = [d for d in dirnames if not (dirpath == str(tree) and d == ".nox")]
        files.update(os.path.relpath(os.path.join(dirpath, f), tree) for f in filenames)
    return files


def clean(tree: Path, checkout: set[str]) -> None:
    """Back to a fresh checkout: every file the copy did not start with is removed (pages, builds, bytecode)."""
    for rel in tree_files(tree) - checkout:
        (tree / rel).unlink()
    for dirpath, _, _ in sorted(os.walk(tree), key=lambda entry: -len(entry[0])):
        if dirpath != str(tree) and not os.path.islink(dirpath) and ".nox" not in Path(dirpath).parts:
            with contextlib.suppress(OSError):  # not empty: a folder of the checkout
                os.rmdir(dirpath)


def sphinx_imported(tree: Path) -> set[str] | None:
    """The Python files the last build depends on (read from its pickled environment), None without one."""
    import pickle

    pickled = tree / HTML / ".doctrees" / "environment.pickle"
    if not pickled.exists():  # Sphinx deletes it after a failed build
        return None
    sys.path[:0] = [str(tree / "docs" / "_ext")]  # the extensions' classes, to unpickle their data
    with pickled.open("rb") as f:
        env = pickle.load(f)
    paths = {os.path.normpath(os.fspath(path)) for deps in env.dependencies.values() for path in deps}
    return {path for path in paths if path.endswith(".py")}


def html_mtimes(tree: Path) -> dict[str, int]:
    html = tree / HTML
    return {str(p.relative_to(html)): p.stat().st_mtime_ns for p in html.rglob("*") if p.is_file()}


def pytest_breakdown(junit: Path, top: int = 10) -> dict:
    """Where a pytest run's time went, from its JUnit report: the session, the tests' sum, the slowest
    modules (or doctested modules) and tests (setup, call and teardown together)."""
    import xml.etree.ElementTree as ET

    root = ET.parse(junit).getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    cases = [(c.get("classname", ""), c.get("name", ""), float(c.get("time", 0))) for c in suite.iter("testcase")]
    modules: dict[str, list] = {}
    for classname, _, seconds in cases:
        module = ".".join(part for part in classname.split(".") if not part[:1].isupper())  # no test class
        modules.setdefault(module, [0.0, 0])
        modules[module][0] += seconds
        modules[module][1] += 1
    return {
        "session": float(suite.get("time", 0)),
        "tests": sum(seconds for *_, seconds in cases),
        "count": len(cases),
        "modules": sorted(([name, *v] for name, v in modules.items()), key=lambda row: -row[1])[:top],
        "slowest": sorted(([f"{c}::{n}", t] for c, n, t in cases), key=lambda row: -row[1])[:top],
    }


# --- the phases ----------------------------------------------------------------------------------------


def worker(tree: Path, ctx: dict, args: argparse.Namespace, log: Path) -> dict:
    """Measure inside ``tree`` (this script's own copy): every number, per run."""
    from check_gallery import example_times  # this copy's, reading this copy's gallery output

    shared = Path(ctx["shared"])
    bins = {str(shared / "bin"), str(tree / ".nox" / "nnfaq" / "bin")}
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p not in bins)
    dropped = {"PYTHONDONTWRITEBYTECODE", "VIRTUAL_ENV", "PYTHONPATH", *ctx["env"]}
    # a user's shell: none of what this bench's own nox session set, bytecode allowed
    user = {k: v for k, v in os.environ.items() if k not in dropped and not k.startswith("NOX")} | {"PATH": path}
    here = {**user, "PYTHONPATH": str(tree)}  # the copy's nnfaq, as an editable install of the copy gives it
    session = {**ctx["env"], "PATH": f"{tree / '.nox/nnfaq/bin'}{os.pathsep}{path}", "VIRTUAL_ENV": str(shared)}
    python, nox = str(shared / "bin" / "python"), ctx["nox"]
    imported = subprocess.run(
        [python, "-c", "import nnfaq; print(nnfaq.__file__)"],
        env=here,
        cwd=tree.parent,  # not the tree itself, which `python -c` would put first on sys.path
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not imported.startswith(f"{tree}/"):
        sys.exit(f"ERROR: the commands in the copy import nnfaq from {imported}, not from the copy")
    checkout = tree_files(tree)
    res: dict = {"runs": args.runs, "phases": args.only, "examples_built": {}, "examples_standalone": {}}

    def add(key: str, value: dict) -> None:
        res.setdefault(key, []).append(value)

    examples = tree / GALLERY["examples_dir"]
    touched = examples / BENCH["touched_example"]
    if not touched.exists():  # deleted by --exclude-examples: another one is edited
        touched = min(examples.rglob("plot_*.py"))
    res["touched"] = touched.relative_to(examples).as_posix()
    original = touched.read_text(encoding="utf-8")
    check = [python, "tools/check_gallery.py", str(tree / HTML)]

    def docs() -> tuple[dict, str]:
        """``nox -s docs``, the whole command; when sphinx-build failed (-W), the gallery check that follows it
        did not run: that is timed alone and added, so that the time is the one of a passing build."""
        m, out = timed([*nox, "-s", "docs"], tree, user, log)
        if not m["ok"] and "examples checked" not in out:  # the check's summary line
            extra, _ = timed(check, tree, {**user, **session}, log)
            m |= {"wall": m["wall"] + extra["wall"], "cpu": m["cpu"] + extra["cpu"], "check_added": True}
        return m, out

    for run in range(args.runs if "docs" in args.only else 0):
        clean(tree, checkout)
        m, _ = docs()
        m["environment_kept"] = (tree / HTML / ".doctrees" / "environment.pickle").exists()
        add("docs_clean", m)
        times, problems = example_times(tree / HTML)
        res.setdefault("example_problems", []).extend(problems)
        for rel, seconds in times.items():
            res["examples_built"].setdefault(rel, []).append({"wall": seconds})
        before = html_mtimes(tree)
        m, out = docs()
        after = html_mtimes(tree)
        m["written"] = sorted(rel for rel, t in after.items() if before.get(rel) != t)
        add("docs_no_change", m)
        files = sphinx_imported(tree) if res.get("sphinx_imported") is None else None
        if files is not None:  # the first build that left an environment: whose nnfaq did it document?
            ours = sorted(f for f in files if f.startswith(f"{tree}{os.sep}nnfaq{os.sep}"))
            elsewhere = (f"{ctx['origin']}{os.sep}nnfaq{os.sep}", f"site-packages{os.sep}nnfaq{os.sep}")
            others = sorted(f for f in files if f.startswith(elsewhere[0]) or elsewhere[1] in f)
            if others or not ours:
                sys.exit(f"ERROR: the build in the copy documented another nnfaq than the copy's: {others[:3]}")
            res["sphinx_imported"] = [os.path.relpath(f, tree) for f in ours]
        parts = res.setdefault("docs_no_change_parts", {})
        for cmd in nox_commands(out) or [check]:  # what the session ran, each alone
            name = next((Path(a).name for a in cmd[1:] if a.endswith(".py")), Path(cmd[0]).name)
            parts.setdefault(f"`{name}` alone", []).append(timed(cmd, tree, {**user, **session}, log)[0])
        nox_alone = timed([*nox, "--list"], tree, user, log)[0]
        parts.setdefault("nox's start-up and the noxfile (`nox --list`)", []).append(nox_alone)
        touched.write_text(original + f"\n# bench edit {run}: one example changed\n", encoding="utf-8")
        add("docs_one_example", docs()[0])
        touched.write_text(original, encoding="utf-8")
        print(
            f"run {run + 1}/{args.runs}: nox -s docs clean / no change / one example: "
            + " / ".join(f"{res[k][-1]['wall']:.1f}" for k in ("docs_clean", "docs_no_change", "docs_one_example"))
            + " s",
            flush=True,
        )
    for run in range(args.runs if "gallery" in args.only else 0):
        report = tree / "bench-gallery.json"
        cmd = [python, "tools/run_gallery.py", *args.examples, "--json", str(report)]
        m, _ = timed(cmd, tree, here, log)
        for rel, result in json.loads(report.read_text()).items():
            res["examples_standalone"].setdefault(rel, []).append({"wall": result["seconds"], "cpu": result["cpu"]})
            if result["status"] != "ok":
                res.setdefault("example_problems", []).append(f"{rel}: {result['status']} standalone")
        print(f"run {run + 1}/{args.runs}: every example standalone: {m['wall']:.1f} s", flush=True)
    for run in range(args.runs if "tests" in args.only else 0):
        # as `nox -s tests` runs it; the JUnit report (written at the end) says where the time went
        junit = tree / "bench-pytest.xml"
        m, out = timed(
            [str(tree / ".nox/nnfaq/bin/pytest"), *nnfaq_conf.PYTEST_WORKERS, f"--junit-xml={junit}"],
            tree,
            {**here, **session},
            log,
        )
        add("pytest", m)
        res["pytest_summary"] = (re.findall(r"^=+ (.* in [\d.]+s.*?) =+$", out, re.MULTILINE) or [""])[-1]
        res["pytest_breakdown"] = pytest_breakdown(junit) if junit.exists() else {}
        print(f"run {run + 1}/{args.runs}: pytest {res['pytest'][-1]['wall']:.1f} s", flush=True)
    repeat = int(BENCH["cli_repeat"])
    for _ in range(args.runs if "cli" in args.only else 0):
        cmds = {"cli": [str(shared / "bin" / "nnfaq"), "list"], "bare": [python, "-c", "pass"]}
        for name, best in startup(cmds, tree, here, repeat).items():
            add(name, best)
    res["example_problems"] = sorted(set(res.get("example_problems", [])))
    return res


# --- the report ----------------------------------------------------------------------------------------


def machine(load_before: str) -> str:
    model = platform.processor() or "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        models = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if "model name" in line]
        model = models[0] if models else model
    return (
        f"{os.cpu_count()} cores, {model}, Python {platform.python_version()}, {platform.system()}; "
        f"load average (1/5/15 min) at the start {load_before}, at the end {load()}"
    )


def load() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"


def med(values: list[float]) -> float:
    return statistics.median(values)


def report(res: dict, load_before: str) -> tuple[str, str, list[str]]:
    """The bench's Markdown tables, the README's, and the budgets broken."""
    broken: list[str] = []
    rows, readme = [], []
    runs = res["runs"]

    def row(what, runs, budget=None, unit="s", strict=False, short=None, counted=True):
        """A row of the bench's table (and of the README's if ``short``); a broken budget is noted if ``counted``."""
        m = med([r["wall"] for r in runs])
        over = budget is not None and (m >= budget if strict else m > budget)
        if over and counted:
            broken.append(f"{short or what}: {m:.2f} {unit}, over the {budget:g} {unit} budget by {m - budget:.2f}")
        limit = "" if budget is None else f"{'<' if strict else '≤'} {budget:g} {unit}"
        verdict = "" if budget is None else ("**over budget**" if over else "ok")
        if not all(r.get("ok", True) for r in runs):
            verdict += " (the command FAILED: see bench.log)"
        cpu = f"{med([r['cpu'] for r in runs]):.2f}" if all("cpu" in r for r in runs) else ""
        each = ", ".join(f"{r['wall']:.2f}" for r in runs)
        rows.append(f"| {what} | {m:.2f} {unit} | {cpu} | {each} | {limit} | {verdict} |")
        if short:
            shown = f"{m:.0f} s" if unit == "s" and m >= 10 else f"{m:.2f} {unit}"
            readme.append(f"| {short} | {shown} | {'under' if strict else 'at most'} {budget:g} {unit} |")

    if "docs_clean" in res:
        row(
            "`nox -s docs` in a fresh checkout, every example executed",
            res["docs_clean"],
            BENCH["clean_build_seconds"],
            short="`nox -s docs` in a fresh clone, every example run",
        )
        row(
            "`nox -s docs` again, nothing changed",
            res["docs_no_change"],
            BENCH["no_change_rebuild_seconds"],
            strict=True,
            short="`nox -s docs` again, nothing changed",
        )
        for name, part in res.get("docs_no_change_parts", {}).items():
            row(f"&nbsp;&nbsp;of which {name}", part)
        row(
            f"`nox -s docs` after editing `{res['touched']}`",
            res["docs_one_example"],
            BENCH["one_example_rebuild_seconds"],
            strict=True,
            short="`nox -s docs` after editing one example",
        )
    built, alone = res["examples_built"], res["examples_standalone"]
    for name, times, short in (
        ("standalone, as a reader runs it", alone, "slowest example, run standalone as a reader runs it"),
        ("in the build (sphinx-gallery's time)", built, None),
    ):
        if times:
            slowest = max(times, key=lambda rel: med([r["wall"] for r in times[rel]]))
            short = short and f"{short} (`{Path(slowest).name}`)"  # every example is counted in its own table
            row(f"slowest example {name}: `{slowest}`", times[slowest], EXAMPLE_SECONDS, short=short, counted=False)
            total = [{"wall": sum(r[i]["wall"] for r in times.values())} for i in range(len(times[slowest]))]
            row(f"all {len(times)} examples {name}, summed", total)
    if "pytest" in res:
        row(
            "`pytest` in the shared environment (the pytest phase of `nox -s tests`), whole run",
            res["pytest"],
            BENCH["tests_seconds"],
            short="`nox -s tests`, its pytest phase",
        )
    if "cli" in res:
        repeat, ratio = BENCH["cli_repeat"], float(BENCH["cli_startup_ratio"])
        for name, label in (("cli", "`nnfaq list` start-up"), ("bare", "bare `python -c pass`")):
            ms = [{k: 1000 * r[k] for k in ("wall", "cpu")} for r in res[name]]
            row(f"{label} (best of {repeat}, warm)", ms, unit="ms")
        ratios = [{k: c[k] / b[k] for k in ("wall", "cpu")} for c, b in zip(res["cli"], res["bare"])]
        row("`nnfaq list` / bare `python -c pass`", ratios, ratio, unit="x")
        cli, bare = med([r["wall"] for r in res["cli"]]), med([r["wall"] for r in res["bare"]])
        readme.append(
            f"| `nnfaq list` start-up, warm | {1000 * cli:.0f} ms, {med([r['wall'] for r in ratios]):.1f}x a bare "
            f"`python -c pass` ({1000 * bare:.0f} ms) | at most {ratio:g}x |"
        )
    lines = [
        f"Medians of {runs} run{'s' * (runs > 1)} ({', '.join(res['phases'])}) on {machine(load_before)}.",
        "Wall times against the budgets. CPU: the CPU time of the command and its children, in the median's unit "
        "(a busy machine inflates it less than the wall time).",
        "",
        "| measure | median | CPU | each run | budget | |",
        "| --- | ---: | ---: | --- | --- | --- |",
        *rows,
    ]
    notes = []
    if res.get("excluded"):
        notes.append(
            "Examples deleted from the copy (`--exclude-examples`): " + ", ".join(f"`{e}`" for e in res["excluded"])
        )
    builds = [r for key in ("docs_clean", "docs_no_change", "docs_one_example") for r in res.get(key, [])]
    if any(r.get("check_added") for r in builds):
        notes.append(
            "A `nox -s docs` marked FAILED stopped at sphinx-build (a warning, with -W): the gallery check "
            "it skipped was timed alone and added to its time."
        )
    if not all(r.get("environment_kept", True) for r in res.get("docs_clean", [])):
        notes.append(
            "A clean build raised an error, and Sphinx deleted its environment: the build after it read "
            "every page again, so it was no no-change build."
        )
    if "docs_clean" in res:
        verified = res.get("sphinx_imported")
        notes.append(
            f"Sphinx documented the copy's nnfaq ({len(verified)} modules, checked in its environment)."
            if verified
            else "Not verified which nnfaq Sphinx imported: no build left an environment."
        )
    lines += ["", *[f"- {note}" for note in notes]] if notes else []
    if "docs_no_change" in res:
        written = sorted({rel for r in res["docs_no_change"] for rel in r["written"]})
        pages = [w for w in written if w.endswith(".html")]
        shown = ", ".join(f"`{w}`" for w in pages) or "none"
        lines += ["", f"The no-change build rewrote {len(written)} files of the site, {len(pages)} pages: {shown}."]
    if built or alone:
        lines += [
            "",
            "| example | standalone | CPU (s) | sphinx-gallery | budget | |",
            "| --- | ---: | ---: | ---: | --- | --- |",
        ]

        def worst(rel: str) -> float:
            return max(med([r["wall"] for r in times.get(rel, [{"wall": 0}])]) for times in (alone, built))

        for rel in sorted(set(built) | set(alone), key=lambda rel: -worst(rel)):
            seconds = worst(rel)
            over = seconds > EXAMPLE_SECONDS
            cells = [
                f"{med([r[k] for r in d[rel]]):.2f}" if rel in d else ""
                for d, k in ((alone, "wall"), (alone, "cpu"), (built, "wall"))
            ]
            lines.append(
                f"| `{rel}` | {' | '.join(cells)} | ≤ {EXAMPLE_SECONDS:g} s | {'**over budget**' if over else 'ok'} |"
            )
            if over:
                excess = seconds - EXAMPLE_SECONDS
                broken.append(f"example {rel}: {seconds:.2f} s, over the {EXAMPLE_SECONDS:g} s budget by {excess:.2f}")
    if res.get("pytest_breakdown"):
        bd = res["pytest_breakdown"]
        lines += [
            "",
            f"pytest, last run: {res['pytest_summary']}; its {bd['count']} tests take {bd['tests']:.0f} s of the "
            f"{bd['session']:.0f} s session (the rest: collection and start-up). The slowest modules and tests "
            "(setup, call and teardown):",
            "",
            *[f"- {seconds:.1f} s, {count} tests: `{name}`" for name, seconds, count in bd["modules"]],
            "",
            *[f"- {seconds:.1f} s: `{name}`" for name, seconds in bd["slowest"]],
        ]
    if res.get("example_problems"):
        lines += ["", "Example problems:", "", *[f"- {problem}" for problem in res["example_problems"]]]
    readme_text = "\n".join(
        [
            f"Measured by `nox -s bench` (median of {runs} run{'s' * (runs > 1)}, {os.cpu_count()} cores, load average "
            f"{load()} at the end):",
            "",
            "| what you wait for | time | budget |",
            "| --- | ---: | ---: |",
            *readme,
        ]
    )
    lines += ["", "For the README's Performance section:", "", readme_text]
    return "\n".join(lines), readme_text, list(dict.fromkeys(broken))


# --- main ----------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=int(BENCH["runs"]))
    parser.add_argument("--only", nargs="+", choices=PHASES, default=list(PHASES), help="measure these phases")
    parser.add_argument(
        "--examples",
        nargs="+",
        default=[],
        metavar="PATTERN",
        help="run only these examples standalone (substrings of their paths)",
    )
    parser.add_argument(
        "--exclude-examples",
        nargs="+",
        default=[],
        metavar="PATTERN",
        help="delete these examples from the copy first (say, one that fails in the work tree)",
    )
    parser.add_argument("--keep", action="store_true", help="leave the temporary copy of the tree in place")
    parser.add_argument("--nox", help="the nox command (default: the nox running this bench, or nox on PATH)")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)  # internal: measure here, write JSON
    parser.add_argument("--context", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    out = ROOT / BENCH["output"]
    log = Path(os.environ.get("NNFAQ_BENCH_LOG", out / "bench.log"))
    if args.worker:
        args.worker.write_text(json.dumps(worker(ROOT, json.loads(args.context.read_text()), args, log)))
        return 0

    load_before = load()
    nox = find_nox(args.nox)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    query = subprocess.run([nox_python(nox), "-c", NOXFILE_QUERY], cwd=ROOT, env=env, capture_output=True, text=True)
    if query.returncode:
        sys.exit(f"ERROR: cannot read the noxfile with {nox_python(nox)}:\n{query.stderr[-2000:]}")
    ctx = {**json.loads(query.stdout), "nox": nox, "origin": str(ROOT)}
    stamp = Path(ctx["shared"]) / "nnfaq-install.stamp"
    if not stamp.exists() or stamp.read_text() != ctx["stamp"]:  # nox in the copy would pip install from the copy
        sys.exit(f"ERROR: {ctx['shared']} is not up to date with the pins: run `nox -s docs` (or `nox -s bench`)")
    out.mkdir(exist_ok=True)
    log.write_text("")
    files = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    tmp = Path(tempfile.mkdtemp(prefix="nnfaq-bench-"))
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))  # still remove the copy
    tree = tmp / "nnfaq"
    try:
        for rel in filter(None, files):
            src = ROOT / rel
            if src.is_file():
                (tree / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, tree / rel)
        (tree / ".nox").symlink_to(ROOT / ".nox", target_is_directory=True)  # the shared environment, no pip
        examples = tree / GALLERY["examples_dir"]
        excluded = [s for s in sorted(examples.rglob("plot_*.py")) if any(p in str(s) for p in args.exclude_examples)]
        for script in excluded:
            script.unlink()
        print(
            f"benchmarking a copy of the work tree in {tree} ({args.runs} runs, {' '.join(args.only)}) with "
            f"{shlex.join(nox)}; log: {log}",
            flush=True,
        )
        (tmp / "context.json").write_text(json.dumps(ctx))
        result = tmp / "result.json"
        cmd = [
            sys.executable,
            str(tree / "tools/bench.py"),
            "--runs",
            str(args.runs),
            "--only",
            *args.only,
            "--worker",
            str(result),
            "--context",
            str(tmp / "context.json"),
        ]
        if args.examples:
            cmd += ["--examples", *args.examples]
        subprocess.run(cmd, cwd=tree, env={**env, "NNFAQ_BENCH_LOG": str(log)}, check=True)
        res = json.loads(result.read_text())
        res["excluded"] = [script.relative_to(examples).as_posix() for script in excluded]
    finally:
        if args.keep:
            print(f"the copy is kept in {tree}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    text, readme, broken = report(res, load_before)
    (out / "bench.md").write_text(text + "\n", encoding="utf-8")
    (out / "bench.json").write_text(json.dumps(res, indent=1) + "\n", encoding="utf-8")
    print(text.split("\nFor the README")[0])
    print(f"\nwritten to {out / 'bench.md'}; for the README's Performance section:\n\n{readme}\n")
    for b in broken:
        print(f"ERROR: budget broken: {b}", file=sys.stderr)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
