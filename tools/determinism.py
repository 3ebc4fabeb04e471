"""Rerun every doctest and gallery script under several CPU set-ups; fail on any difference in outcome.

PyTorch's CPU results can change with the number of threads and with the instruction set it picks
(``ATEN_CPU_CAPABILITY``). A proof must not: for each set-up (threads 1 and 2, capability
``default`` and ``avx2`` where the CPU has it) and each repetition, this records

- every doctest's outcome (pytest, doctests of ``nnfaq/`` and ``docs/``), and
- every gallery script's exit status and printed output (run standalone, as a download runs),

and fails when any of them differs from the first run. Usage:
``python tools/determinism.py [--repeat N] [--threads 1 2] [--capabilities default avx2] [--no-gallery]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GALLERY = ROOT / "gallery"


def cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    return {f for line in text.splitlines() if line.startswith("flags") for f in line.split(":", 1)[1].split()}


def is_failing(outcome: str) -> bool:
    return not outcome.startswith(("passed", "exit 0\n"))


def doctest_outcomes(env: dict, tmp: Path) -> dict[str, str]:
    junit = tmp / "doctests.xml"
    cmd = [sys.executable, "-m", "pytest", "-q", "nnfaq", "docs", f"--junitxml={junit}", "-o", "junit_family=xunit2"]
    subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    outcomes = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        bad = case.find("failure") is not None or case.find("error") is not None
        outcomes[f"doctest {case.get('classname')}.{case.get('name')}"] = "failed" if bad else "passed"
    return outcomes


def gallery_outcomes(env: dict, tmp: Path) -> dict[str, str]:
    outcomes = {}
    for script in sorted(GALLERY.rglob("plot_*.py")):
        proc = subprocess.run([sys.executable, str(script)], cwd=tmp, env=env, capture_output=True, text=True)
        outcome = f"exit {proc.returncode}\n{proc.stdout}"
        outcomes[f"gallery {script.relative_to(GALLERY).as_posix()}"] = outcome
    return outcomes


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--capabilities", nargs="+", default=["default", "avx2"])
    parser.add_argument("--no-gallery", action="store_true", help="check the doctests only")
    args = parser.parse_args(argv)
    flags = cpu_flags()
    capabilities = [c for c in args.capabilities if c == "default" or c in flags]
    skipped = sorted(set(args.capabilities) - set(capabilities))
    if skipped:
        print(f"skipping capabilities this CPU lacks: {', '.join(skipped)}")
    reference: dict[str, str] | None = None
    differences = []
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        for threads in args.threads:
            for cap in capabilities:
                for rep in range(args.repeat):
                    env = {
                        **os.environ,
                        "ATEN_CPU_CAPABILITY": cap,
                        "NNFAQ_TORCH_THREADS": str(threads),
                        "OMP_NUM_THREADS": str(threads),
                        "MPLBACKEND": "Agg",
                    }
                    label = f"threads={threads} capability={cap} run={rep + 1}"
                    outcomes = doctest_outcomes(env, tmp)
                    if not args.no_gallery:
                        outcomes.update(gallery_outcomes(env, tmp))
                    failed = sum(map(is_failing, outcomes.values()))
                    print(f"{label}: {len(outcomes)} outcomes, {failed} failing", flush=True)
                    if reference is None:
                        reference = outcomes
                        continue
                    for key in sorted(reference.keys() | outcomes.keys()):
                        if reference.get(key) != outcomes.get(key):
                            differences.append(
                                {"setup": label, "item": key, "first": reference.get(key), "now": outcomes.get(key)}
                            )
    for d in differences:
        print(
            f"DIFFERENT under {d['setup']}: {d['item']}\n  first: {d['first']!r}\n  now:   {d['now']!r}",
            file=sys.stderr,
        )
    out = ROOT / "bench-results" / "determinism.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(differences, indent=2))
    failing = [k for k, v in (reference or {}).items() if is_failing(v)]
    for key in failing:
        print(f"FAILING in every set-up: {key}", file=sys.stderr)
    print(f"{len(differences)} differences, {len(failing)} failing items")
    return 1 if differences or failing or not reference else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
