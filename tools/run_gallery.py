"""Run every gallery script standalone, as a reader's download runs, and report each one's time.

Each script runs in a fresh interpreter (``MPLBACKEND=Agg``, no Sphinx, working directory = a
temporary folder). Fails when a script raises or takes longer than the gallery budget.
Usage: ``python tools/run_gallery.py [PATTERN ...]`` (substrings of the paths to run).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "conf"))
import nnfaq_conf

GALLERY = nnfaq_conf.ROOT / nnfaq_conf.SETTINGS["gallery"]["examples_dir"]
LIMIT = float(nnfaq_conf.SETTINGS["gallery"]["max_seconds"])


def main(patterns: list[str]) -> int:
    scripts = sorted(GALLERY.rglob("plot_*.py"))
    scripts = [s for s in scripts if not patterns or any(p in str(s) for p in patterns)]
    if not scripts:
        print("ERROR: no gallery scripts matched", file=sys.stderr)
        return 1
    env = {**os.environ, "MPLBACKEND": "Agg"}
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        for script in scripts:
            start = time.perf_counter()
            proc = subprocess.run([sys.executable, str(script)], cwd=tmp, env=env, capture_output=True, text=True)
            seconds = time.perf_counter() - start
            rel = script.relative_to(GALLERY).as_posix()
            status = "ok" if proc.returncode == 0 else "FAILED"
            if proc.returncode == 0 and seconds > LIMIT:
                status = f"SLOW (> {LIMIT:g} s)"
            print(f"{seconds:7.2f} s  {status:8s} {rel}", flush=True)
            if status != "ok":
                failures.append(rel)
                sys.stderr.write(proc.stderr[-3000:])
    print(f"{len(scripts) - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
