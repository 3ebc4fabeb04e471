"""``sphinx-build``, then the gallery check, ending without Python's shutdown: what ``nox -s docs`` runs.

Usage: ``python tools/sphinx_build.py [--check-gallery] [sphinx-build arguments]``. The arguments, the
output and the exit status are sphinx-build's; with ``--check-gallery``, a build that succeeded is
followed by tools/check_gallery.py's check of its output folder, in the same process (a second
process would import Sphinx again), and its status is the check's.

After a build that ran examples, the interpreter's shutdown (tearing down torch's and matplotlib's
modules and libtorch's C++ statics) takes about a second, longer than a build with nothing to do.
Once Sphinx and the check have returned, every file they wrote is closed and the exit handlers have
run, so the process ends there (``os._exit``).
"""

from __future__ import annotations

import atexit
import os
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    from sphinx.cmd.build import get_parser
    from sphinx.cmd.build import main as sphinx_build

    check = argv[:1] == ["--check-gallery"]
    argv = argv[1:] if check else argv
    status = sphinx_build(argv)
    if status or not check:
        return status
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import check_gallery

    return check_gallery.main(["check_gallery.py", str(get_parser().parse_args(argv).outputdir)])


if __name__ == "__main__":
    try:
        status = main(sys.argv[1:])
    except SystemExit as stop:  # sphinx-build's --help and --version
        status = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    atexit._run_exitfuncs()  # logging, matplotlib and the rest of what registered to run at exit
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
