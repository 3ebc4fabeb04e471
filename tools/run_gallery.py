"""Run every gallery script standalone, as a reader's download runs, and report each one's time.

Each script runs in a fresh interpreter (``MPLBACKEND=Agg``, no Sphinx, working directory = a
temporary folder). Fails when a script raises or takes longer than the gallery budget.
Usage: ``python tools/run_gallery.py [PATTERN ...] [--json FILE]`` (substrings of the paths to run;
``--json`` also writes each script's wall and CPU seconds and status, for the bench).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "conf"))
import nnfaq_conf

GALLERY = nnfaq_conf.ROOT / nnfaq_conf.SETTINGS["gallery"]["examples_dir"]
LIMIT = float(nnfaq_conf.SETTINGS["gallery"]["max_seconds"])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("patterns", nargs="*", metavar="PATTERN", help="run only the scripts whose path has one")
    parser.add_argument("--json", type=Path, help="write {script: {seconds, cpu, status}} to this file")
    args = parser.parse_args(argv)
    scripts = sorted(GALLERY.rglob("plot_*.py"))
    scripts = [s for s in scripts if not args.patterns or any(p in str(s) for p in args.patterns)]
    if not scripts:
        print("ERROR: no gallery scripts matched", file=sys.stderr)
        return 1
    env = {**os.environ, "MPLBACKEND": "Agg"}
    failures, results = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for script in scripts:
            start, used = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
            proc = subprocess.run([sys.executable, str(script)], cwd=tmp, env=env, capture_output=True, text=True)
            seconds, now = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = now.ru_utime + now.ru_stime - used.ru_utime - used.ru_stime
            rel = script.relative_to(GALLERY).as_posix()
            status = "ok" if proc.returncode == 0 else "FAILED"
            if proc.returncode == 0 and seconds > LIMIT:
                status = f"SLOW (> {LIMIT:g} s)"
            print(f"{seconds:7.2f} s  {status:8s} {rel}", flush=True)
            results[rel] = {"seconds": seconds, "cpu": cpu, "status": status}
            if status != "ok":
                failures.append(rel)
                sys.stderr.write(proc.stderr[-3000:])
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    print(f"{len(scripts) - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
