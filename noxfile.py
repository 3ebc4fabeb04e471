"""Every task of nnfaq is a nox session; versions come from conf/constraints.txt.

nox                      lint, tests and docs
nox -s tests             doctests of nnfaq/ and docs/, and tests/
nox -s docs              the site, every example executed (unchanged ones come from the cache)
nox -s docs -- --no-examples   prose only: examples are not run
nox -s docs-live         rebuild and reload in the browser while editing
nox -s lint              ruff check and ruff format --check
nox -s gallery           every gallery script run standalone, as a reader would, with its time
nox -s determinism       every proof and example rerun under other thread counts and CPU capabilities
nox -s browser           the built site checked in headless Chromium, offline; screenshots
nox -s bench             build, example, test and CLI times against their budgets (bench-results/)
"""

from __future__ import annotations

import sys
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "conf"))
import nnfaq_conf  # noqa: E402

PYPROJECT = nox.project.load_toml(ROOT / "pyproject.toml")
CONSTRAINTS = str(nnfaq_conf.CONSTRAINTS)
HTML = ROOT / "docs" / "_build" / "html"
# torch's CPU wheel for 2.13.0 is found by pip, not uv: keep nox's default virtualenv backend
nox.options.default_venv_backend = "virtualenv"
nox.options.sessions = ["lint", "tests", "docs"]
nox.options.reuse_existing_virtualenvs = True
ENV = {"PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg"}


def install(session: nox.Session, *groups: str, project: bool = True) -> None:
    """Install dependency groups (and nnfaq itself, editable) pinned by conf/constraints.txt."""
    requirements = [r for g in groups for r in nox.project.dependency_groups(PYPROJECT, g)]
    session.install("-c", CONSTRAINTS, *requirements, *(["-e", "."] if project else []))


def build_site(session: nox.Session, *extra: str, examples: bool = True) -> None:
    """sphinx-build -W -n --keep-going; with examples, then fail on any that failed, did not run or was slow."""
    prose_only = [] if examples else ["-D", "plot_gallery=0"]
    session.run(
        "sphinx-build", "-W", "-n", "--keep-going", "-b", "html", "docs", str(HTML), *prose_only, *extra, env=ENV
    )
    if examples:
        session.run("python", "tools/check_gallery.py", str(HTML), env=ENV)


@nox.session
def tests(session: nox.Session) -> None:
    """Doctests of every answer and of the MyST pages, plus the unit and property tests."""
    install(session, "test")
    session.run("pytest", *session.posargs, env=ENV)


@nox.session
def docs(session: nox.Session) -> None:
    """Build the site with -W -n --keep-going; then fail on any example that failed, did not run or was slow."""
    install(session, "docs")
    no_examples = "--no-examples" in session.posargs
    extra = [a for a in session.posargs if a != "--no-examples"]
    build_site(session, *extra, examples=not no_examples)
    session.log(f"The site is built: open {HTML / 'index.html'}")


@nox.session(name="docs-live")
def docs_live(session: nox.Session) -> None:
    """Serve the site on 127.0.0.1:8000 and rebuild on every change (generated folders ignored)."""
    install(session, "live")
    ignore = ["docs/_build", "docs/auto_examples", "docs/gen_modules", "docs/topics", "docs/sg_execution_times.rst"]
    session.run(
        "sphinx-autobuild", "docs", str(HTML), "--host", "127.0.0.1", "--port", "8000",
        "--watch", "nnfaq", "--watch", "gallery",
        *[arg for path in ignore for arg in ("--ignore", str(ROOT / path))],
        "-n", "--keep-going", *session.posargs, env=ENV,
    )  # fmt: skip


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over the whole repository."""
    install(session, "lint", project=False)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def gallery(session: nox.Session) -> None:
    """Run every gallery script standalone (no Sphinx), as a downloaded script runs; report each time."""
    install(session, "docs")
    session.run("python", "tools/run_gallery.py", *session.posargs, env=ENV)


@nox.session
def determinism(session: nox.Session) -> None:
    """Rerun every doctest and gallery script under threads 1/2 and CPU capability default/avx2, 3 times each."""
    install(session, "test", "docs")
    session.run("python", "tools/determinism.py", *session.posargs, env=ENV)


@nox.session
def browser(session: nox.Session) -> None:
    """The site in headless Chromium, offline: every page's console, requests, images, links and math;
    search, copy button, gallery thumbnails; screenshots in docs/_build/screenshots.

    Builds the site first (incremental: a fresh build is reused); ``-- --no-build`` skips that.
    Other arguments go to pytest. Chromium is Debian's (/usr/bin/chromium); Playwright downloads nothing.
    """
    install(session, "docs", "test", "browser")
    if "--no-build" not in session.posargs:
        build_site(session)
    args = [a for a in session.posargs if a != "--no-build"]
    # the browser tests only: no doctest collection, and tests/browser is not ignored when named
    opts = "addopts=--import-mode=importlib -p no:cacheprovider --strict-markers"
    session.run("pytest", "-o", opts, "tests/browser", *args, env={**ENV, "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1"})


@nox.session
def bench(session: nox.Session) -> None:
    """Medians of 3 runs, in a copy of the tree: clean, no-change and one-example builds, each example, the
    tests, the CLI's start-up; table in bench-results/bench.md; fails when a budget ([bench]) is broken."""
    install(session, "docs", "test")
    session.run("python", "tools/bench.py", *session.posargs, env=ENV)
