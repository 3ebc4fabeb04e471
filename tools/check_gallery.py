"""Fail when a gallery example failed, did not run, or took longer than the budget.

Reads sphinx-gallery's JUnit file of the last build (examples executed in it) and the cached cost
of examples it skipped because they were unchanged, and compares every ``gallery/**/plot_*.py``
with both. Usage: ``python tools/check_gallery.py [HTML_DIR]``.
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "conf"))
import nnfaq_conf
from sphinx_gallery.utils import get_md5sum

ROOT = nnfaq_conf.ROOT
GALLERY = nnfaq_conf.SETTINGS["gallery"]


def example_times(html_dir: Path) -> tuple[dict[str, float], list[str]]:
    """Seconds per example (relative source path), and the problems found."""
    src = ROOT / GALLERY["examples_dir"]
    out = ROOT / "docs" / GALLERY["gallery_dir"]
    problems, times = [], {}
    ran = junit_cases(html_dir)
    for script in sorted(src.rglob("plot_*.py")):
        rel = script.relative_to(src).as_posix()
        case = ran.get(script.resolve())
        target = out / script.relative_to(src)
        if case is not None:
            if case.find("failure") is not None or case.find("skipped") is not None:
                problems.append(f"{rel}: failed or was skipped")
            times[rel] = float(case.get("time"))
            continue
        md5 = target.with_name(target.name + ".md5")
        cost = target.with_name(target.stem + ".cost.json")
        if not md5.exists() or md5.read_text().strip() != get_md5sum(script, mode="t"):
            problems.append(f"{rel}: did not run in this build and has no up-to-date result")
        elif cost.exists():
            times[rel] = float(json.loads(cost.read_text())["time"])
        else:
            problems.append(f"{rel}: no recorded run time")
    limit = float(GALLERY["max_seconds"])
    problems += [f"{rel}: took {t:.1f} s, over the {limit:g} s budget" for rel, t in times.items() if t > limit]
    return times, problems


def junit_cases(html_dir: Path) -> dict[Path, ET.Element]:
    """sphinx-gallery's JUnit record of the examples this build executed, by example path."""
    junit = html_dir / GALLERY["junit"]
    if not junit.exists():
        return {}
    return {(ROOT / "docs" / case.get("file")).resolve(): case for case in ET.parse(junit).getroot().iter("testcase")}


def ran_in_build(html_dir: Path) -> set[str]:
    """The examples (relative source paths) this build executed."""
    src = (ROOT / GALLERY["examples_dir"]).resolve()
    return {p.relative_to(src).as_posix() for p in junit_cases(html_dir) if p.is_relative_to(src)}


def main(argv: list[str]) -> int:
    html_dir = Path(argv[1]) if len(argv) > 1 else ROOT / "docs" / "_build" / "html"
    times, problems = example_times(html_dir)
    ran = ran_in_build(html_dir)
    # the news: the examples this build ran, slowest first; of the unchanged ones, only the summary
    for rel, t in sorted(times.items(), key=lambda kv: -kv[1]):
        if rel in ran:
            print(f"{t:7.2f} s  {rel}")
    if times:
        slowest = max(times, key=times.get)
        n_ran = len(ran & times.keys())
        fresh = "all run in this build" if n_ran == len(times) else f"{n_ran} run in this build, the others unchanged"
        print(
            f"{len(times)} examples checked ({fresh}); slowest {slowest} ({times[slowest]:.2f} s; "
            f"budget {float(GALLERY['max_seconds']):g} s), {sum(times.values()):.2f} s in all"
        )
    for p in problems:
        print(f"ERROR: {p}", file=sys.stderr)
    if not times and not problems:
        print("ERROR: no gallery examples found", file=sys.stderr)
        return 1
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
