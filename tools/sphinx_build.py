"""``sphinx-build``, ending without Python's shutdown: what ``nox -s docs`` and the browser session run.

Usage: ``python tools/sphinx_build.py [sphinx-build arguments]``; the arguments, the output and the exit
status are sphinx-build's. After a build that ran examples, the interpreter's shutdown (tearing down
torch's and matplotlib's modules and libtorch's C++ statics) takes about a second, longer than a build
with nothing to do. Once Sphinx has returned, every file it wrote is closed and the exit handlers
have run, so the process ends there (``os._exit``) with the build's status.
"""

from __future__ import annotations

import atexit
import os
import sys


def main(argv: list[str]) -> int:
    from sphinx.cmd.build import main as sphinx_build

    return sphinx_build(argv)


if __name__ == "__main__":
    try:
        status = main(sys.argv[1:])
    except SystemExit as stop:  # sphinx-build's --help and --version
        status = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    atexit._run_exitfuncs()  # logging, matplotlib and the rest of what registered to run at exit
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
