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

Every session but lint shares one environment, ``.nox/nnfaq`` (torch is installed once, about
1.6 GB with everything the site and the tests need). It is installed again only when the pins or the
dependency lists change: a stamp of both sits in the environment, as a lock file's hash would.
"""

from __future__ import annotations

import hashlib
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "conf"))
import nnfaq_conf  # noqa: E402

PYPROJECT = nox.project.load_toml(ROOT / "pyproject.toml")
CONSTRAINTS = nnfaq_conf.CONSTRAINTS
HTML = ROOT / "docs" / "_build" / "html"
SHARED = ROOT / ".nox" / "nnfaq"
SHARED_GROUPS = ("test", "docs", "live", "browser")
# torch's CPU wheel for 2.13.0 is found by pip, not uv: nox's default virtualenv backend, and pip
nox.options.default_venv_backend = "virtualenv"
nox.options.sessions = ["lint", "tests", "docs"]
nox.options.reuse_existing_virtualenvs = True
ENV = {"PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
# nox looks for uv although no session uses it: not news to a reader of the log
logging.getLogger("nox").addFilter(lambda record: "uv binary not found" not in record.getMessage())
CHROMIUM = os.environ.get("NNFAQ_CHROMIUM", nnfaq_conf.SETTINGS["browser"]["chromium"])


def _requested_sessions() -> list[str]:
    """The sessions named on the command line (or NOXSESSION), to check what they need before any runs."""
    names, args = os.environ.get("NOXSESSION", "").split(","), sys.argv[1:]
    for i, arg in enumerate(args):
        if arg in ("-s", "-e", "--session", "--sessions"):
            for name in args[i + 1 :]:
                if name.startswith("-"):
                    break
                names.append(name)
    return [n for n in names if n]


if "browser" in _requested_sessions() and not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
    sys.exit(f"nox: the browser session needs Chromium at {CHROMIUM}: apt-get install chromium, or set NNFAQ_CHROMIUM")


def _requirements(*groups: str) -> list[str]:
    deps = [r for g in groups for r in nox.project.dependency_groups(PYPROJECT, g)]
    return sorted(set(deps))


def _stamp(requirements: list[str]) -> str:
    project = PYPROJECT["project"]
    text = "\n".join(
        [
            sys.version,
            CONSTRAINTS.read_text(),
            *requirements,
            *project["dependencies"],
            str(project.get("optional-dependencies")),
        ]
    )
    return hashlib.sha256(text.encode()).hexdigest()


def shared(session: nox.Session) -> dict:
    """The shared environment, (re)installed only when pins or dependency lists changed; its env vars."""
    bin_dir = SHARED / ("Scripts" if os.name == "nt" else "bin")
    python = bin_dir / "python"
    requirements = _requirements(*SHARED_GROUPS)
    stamp_file, stamp = SHARED / "nnfaq-install.stamp", _stamp(requirements)
    if not python.exists():
        session.run(sys.executable, "-m", "venv", str(SHARED), external=True)
    if not stamp_file.exists() or stamp_file.read_text() != stamp:
        pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", "-c", str(CONSTRAINTS)]
        session.run(*pip, *requirements, "-e", f"{ROOT}[examples]", external=True)
        stamp_file.write_text(stamp)
    else:
        session.log(f"{SHARED.relative_to(ROOT)}: pins unchanged since it was installed, nothing to install")
    return {**ENV, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "VIRTUAL_ENV": str(SHARED)}


def run(session: nox.Session, env: dict, program: str, *args: str) -> None:
    """Run a program of the shared environment (found in its bin folder, not on the caller's PATH)."""
    path = Path(env["VIRTUAL_ENV"]) / ("Scripts" if os.name == "nt" else "bin") / program
    session.run(str(path) if path.exists() else program, *args, env=env, external=True)


def build_site(session: nox.Session, env: dict, *extra: str, examples: bool = True) -> None:
    """sphinx-build -W -n --keep-going; with examples, then fail on any that failed, did not run or was slow.

    Both run in one process, tools/sphinx_build.py, which also skips the second of interpreter shutdown."""
    sphinx = ["-W", "-n", "--keep-going", "-q", "-b", "html", "docs", str(HTML)]
    if examples:
        run(session, env, "python", "tools/sphinx_build.py", "--check-gallery", *sphinx, *extra)
    else:
        run(session, env, "python", "tools/sphinx_build.py", *sphinx, "-D", "plot_gallery=0", *extra)


@nox.session(venv_backend="none")
def tests(session: nox.Session) -> None:
    """Doctests of every answer and of the MyST pages, plus the unit and property tests, on every core
    (pytest-xdist; ``-- -n 0`` runs them in one process)."""
    run(session, shared(session), "pytest", *nnfaq_conf.PYTEST_WORKERS, *session.posargs)


@nox.session(venv_backend="none")
def docs(session: nox.Session) -> None:
    """Build the site with -W -n --keep-going; then fail on any example that failed, did not run or was slow."""
    env = shared(session)
    no_examples = "--no-examples" in session.posargs
    extra = [a for a in session.posargs if a != "--no-examples"]
    build_site(session, env, *extra, examples=not no_examples)
    session.log(f"The site is built. Serve it with: python3 -m http.server -d {HTML.relative_to(ROOT)} 8000")
    session.log("then open http://127.0.0.1:8000 (opened from disk, search and downloads are limited by the browser)")


@nox.session(name="docs-live", venv_backend="none")
def docs_live(session: nox.Session) -> None:
    """Serve the site on 127.0.0.1:8000 and rebuild on every change (generated folders ignored)."""
    env = shared(session)
    generated = [
        "docs/_build",
        "docs/auto_examples",
        "docs/gen_modules",
        "docs/topics",
        "docs/examples.md",
        "docs/sg_execution_times.rst",
    ]
    cmd = [
        "sphinx-autobuild", "docs", str(HTML), "--host", "127.0.0.1", "--port", "8000",
        "--watch", "nnfaq", "--watch", "gallery", "--re-ignore", r".*GALLERY_HEADER\.rst$",
        *[arg for path in generated for arg in ("--ignore", str(ROOT / path))],
        "-q", "-n", "--keep-going", *session.posargs,  # -q: warnings and errors only, no MyST settings dump
    ]  # fmt: skip
    session.log(" ".join(cmd))
    # run the server as our child and stop it with us: SIGTERM or Ctrl-C to nox ends sphinx-autobuild too
    cmd[0] = str(SHARED / "bin" / cmd[0])
    child = subprocess.Popen(cmd, env={**os.environ, **env}, cwd=ROOT)

    def stop(signum, frame):
        child.terminate()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if child.wait() not in (0, -signal.SIGTERM, -signal.SIGINT):
        session.error("sphinx-autobuild failed")


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over the whole repository."""
    requirements = _requirements("lint")
    stamp_file, stamp = Path(session.virtualenv.location) / "nnfaq-install.stamp", _stamp(requirements)
    if not stamp_file.exists() or stamp_file.read_text() != stamp:
        session.install("-c", str(CONSTRAINTS), *requirements)
        stamp_file.write_text(stamp)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(venv_backend="none")
def gallery(session: nox.Session) -> None:
    """Run every gallery script standalone (no Sphinx), as a downloaded script runs; report each time."""
    run(session, shared(session), "python", "tools/run_gallery.py", *session.posargs)


@nox.session(venv_backend="none")
def determinism(session: nox.Session) -> None:
    """Rerun every doctest and gallery script under threads 1/2 and CPU capability default/avx2, 3 times each."""
    run(session, shared(session), "python", "tools/determinism.py", *session.posargs)


@nox.session(venv_backend="none")
def browser(session: nox.Session) -> None:
    """The site in headless Chromium, offline: every page's console, requests, images, links, math and
    accessibility (axe-core); search, filters, copy button, gallery thumbnails; screenshots in
    docs/_build/screenshots.

    Builds the site first (incremental: a fresh build is reused); ``-- --no-build`` skips that.
    Other arguments go to pytest. Chromium is Debian's (/usr/bin/chromium); Playwright downloads nothing.
    """
    env = shared(session)
    if "--no-build" not in session.posargs:
        build_site(session, env)
    args = [a for a in session.posargs if a != "--no-build"]
    # the browser tests only: no doctest collection, and tests/browser is not ignored when named
    opts = "addopts=--import-mode=importlib -p no:cacheprovider --strict-markers"
    run(session, {**env, "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1"}, "pytest", "-o", opts, "tests/browser", *args)


@nox.session(venv_backend="none")
def bench(session: nox.Session) -> None:
    """Medians of 3 runs, in a copy of the tree: clean, no-change and one-example builds, each example, the
    tests, the CLI's start-up; table in bench-results/bench.md; fails when a budget ([bench]) is broken."""
    run(session, shared(session), "python", "tools/bench.py", *session.posargs)
