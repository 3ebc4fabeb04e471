"""Fixtures of the browser checks: the built site served on 127.0.0.1, and one headless Chromium.

The site is ``docs/_build/html`` (or ``$NNFAQ_HTML``), served by ``http.server`` in a thread on a free
port. Chromium is Debian's (``[browser] chromium`` in conf/settings.toml, or ``$NNFAQ_CHROMIUM``):
Playwright never downloads a browser. Every request to a host other than the local server is aborted
and recorded, so the checks run offline and see exactly what a user without network would see.

One browser, one context and one tab visit every page once; the per-page tests read the cached visit.
The visit also runs axe-core (``axe-playwright-python`` ships it) with the WCAG 2.1 A and AA rules:
every rule on the whole page, except colour contrast, the one rule whose cost grows with every line
of text (seconds a page). It is run on one element of each look: the first visible element with a
combination of text colour, font size and weight, and backgrounds behind it that no earlier page
showed. So every colour pair of the site is checked once, on the first page that shows it.
"""

from __future__ import annotations

import functools
import os
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "conf"))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # for `from built_site import ...`
import nnfaq_conf
from built_site import HTML, site_pages

os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
from playwright.sync_api import sync_playwright

try:  # axe-core, as the PyPI package ships it (the `browser` dependency group)
    from axe_playwright_python.base import AXE_FILE_PATH
except ImportError:
    AXE_FILE_PATH = None

SETTINGS = nnfaq_conf.SETTINGS["browser"]
CHROMIUM = os.environ.get("NNFAQ_CHROMIUM", SETTINGS["chromium"])
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

# Run in the page after "load": lazy images made eager and awaited, MathJax's first typeset awaited,
# then everything the checks need is read in one round trip.
COLLECT_JS = """
async () => {
  const imgs = Array.from(document.images);
  for (const img of imgs) if (img.loading === "lazy") img.loading = "eager";
  await Promise.all(imgs.map(img => img.complete ? null : new Promise(done => {
    img.addEventListener("load", done); img.addEventListener("error", done); setTimeout(done, 5000);
  })));
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  const skip = "PRE,CODE,SCRIPT,STYLE,TEXTAREA,MJX-CONTAINER";
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, {
    acceptNode: n => n.parentElement.closest(skip) ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT,
  });
  const rawTex = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const m = n.data.match(/\\\\\\(|\\\\\\[|\\$\\$|\\\\begin\\{/);
    if (m) rawTex.push(n.data.trim().slice(0, 80));
  }
  const math = Array.from(document.querySelectorAll(".math"));
  const lineLengths = el => el.textContent.split("\\n").map(line => line.length);
  const monospace = document.createElement("canvas").getContext("2d");
  return {
    // each question of a topic page, from its heading to its implementation
    questions: Array.from(document.querySelectorAll("section[id^='q-']")).map(section => {
      const id = section.id.slice(2);
      const card = section.querySelector(":scope > .sd-card.nnfaq-answer");
      const first = Array.from(section.children).find(el => !el.matches("h1, h2, h3, span:empty"));
      const impl = section.querySelector(":scope > details.nnfaq-implementation");
      const proof = card && card.querySelector("a[href^='#proof-']");
      const source = card && Array.from(card.querySelectorAll("a")).find(a => a.textContent.trim() === "Source");
      const after = (a, b) => !!(a && b && (a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING));
      return {
        id: id,
        cardFirst: !!card && first === card,
        badge: card && card.querySelector(".sd-badge") ? card.querySelector(".sd-badge").textContent.trim() : null,
        short: card ? card.innerText.trim() : "",
        proof: proof ? proof.getAttribute("href") : null,
        proofTarget: proof ? !!section.querySelector(`[id='${proof.getAttribute("href").slice(1)}']`) : false,
        source: source ? source.href : null,
        deepDive: !!impl && Array.from(section.children).some(el => after(card, el) && after(el, impl)),
        implementation: impl ? {afterCard: after(card, impl), open: impl.open,
                                signature: !!impl.querySelector("dl.py > dt.sig")} : null,
      };
    }),
    // code blocks a reader sees: do they scroll sideways, and how many characters fit on a line?
    pre: Array.from(document.querySelectorAll("pre")).filter(pre => pre.checkVisibility()).map(pre => {
      const style = getComputedStyle(pre);
      monospace.font = `${style.fontSize} ${style.fontFamily}`;
      const inner = pre.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
      return {scrollWidth: pre.scrollWidth, clientWidth: pre.clientWidth, longest: Math.max(...lineLengths(pre)),
              fits: Math.floor(inner / monospace.measureText("0").width),
              doctest: !!pre.closest("div.doctest"), text: pre.textContent.slice(0, 60)};
    }),
    images: imgs.map(i => ({src: i.currentSrc || i.src, alt: (i.getAttribute("alt") || "").trim(),
                            width: i.naturalWidth})),
    links: Array.from(document.querySelectorAll("a[href], link[rel~=icon][href]")).map(a => a.href),
    math: math.length,
    mathUnrendered: math.filter(m => !m.querySelector("mjx-container"))
                        .map(m => m.textContent.trim().slice(0, 80)),
    mathErrors: Array.from(document.querySelectorAll("mjx-merror")).map(m => m.textContent.slice(0, 80)),
    rawTex: rawTex,
  };
}
"""


# axe-core in the page: the WCAG 2.1 A/AA rules but colour contrast on the whole page, then colour
# contrast on the elements whose look (colour, size, weight, backgrounds) no earlier page showed.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE_JS = """
async ({tags, seen}) => {
  const known = new Set(seen);
  const owners = new Set();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) if (n.data.trim()) owners.add(n.parentElement);
  const backgrounds = el => {
    const layers = [];
    for (let a = el; a; a = a.parentElement) {
      const s = getComputedStyle(a);
      if (s.backgroundColor !== "rgba(0, 0, 0, 0)" || s.backgroundImage !== "none" || s.opacity !== "1")
        layers.push(`${s.backgroundColor} ${s.backgroundImage} ${s.opacity}`);
      if (s.backgroundColor.startsWith("rgb(") && s.backgroundImage === "none") break;  // opaque: nothing shows through
    }
    return layers.join(" < ");
  };
  const fresh = [], looks = [];
  for (const el of owners) {
    if (!el.checkVisibility({opacityProperty: true, visibilityProperty: true})) continue;
    const s = getComputedStyle(el);
    const look = [s.color, s.fontSize, s.fontWeight, s.textShadow, backgrounds(el)].join(" | ");
    if (known.has(look)) continue;
    known.add(look); fresh.push(el); looks.push(look);
  }
  // preload: false: axe would re-fetch the stylesheets and resolve their @import against the page (a 404)
  const only = rules => ({runOnly: {type: "rule", values: rules}, resultTypes: ["violations"], preload: false});
  const rest = await axe.run(document, {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"],
                                        rules: {"color-contrast": {enabled: false}}, preload: false});
  const contrast = fresh.length ? await axe.run({include: fresh}, only(["color-contrast"])) : {violations: []};
  const serious = [...rest.violations, ...contrast.violations].filter(v => ["serious", "critical"].includes(v.impact));
  return {looks: looks, violations: serious.map(v => ({
    id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => ({
      target: n.target.join(" "), html: n.html.slice(0, 200), why: (n.failureSummary || "").slice(0, 300)})),
  }))};
}
"""


AXE_RUNS = {"pages": 0, "seconds": 0.0, "looks": 0}


def pytest_terminal_summary(terminalreporter) -> None:
    """What axe cost, said once at the end (the budget: well under two minutes for the whole site)."""
    if AXE_RUNS["pages"]:
        terminalreporter.write_line(
            f"axe-core: {AXE_RUNS['pages']} pages in {AXE_RUNS['seconds']:.0f} s, "
            f"colour contrast checked on {AXE_RUNS['looks']} distinct looks"
        )


def pytest_sessionstart(session: pytest.Session) -> None:
    """What the checks need, said once, before any runs (not once per check)."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.exit(f"no Chromium at {CHROMIUM}: apt-get install chromium, or set NNFAQ_CHROMIUM", returncode=1)
    if AXE_FILE_PATH is None:
        pytest.exit("no axe-core: pip install -c conf/constraints.txt axe-playwright-python", returncode=1)
    if not (HTML / "index.html").exists():
        pytest.exit(f"no built site at {HTML}: run `nox -s docs` (or `nox -s browser`, which builds it)", returncode=1)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "page_path" in metafunc.fixturenames:
        pages = site_pages() if (HTML / "index.html").exists() else []
        metafunc.parametrize("page_path", pages or ["<no site built>"])


@dataclass
class Visit:
    """What one page load did and showed."""

    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)
    data: dict = field(default_factory=dict)


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="session")
def site() -> Path:
    return HTML


@pytest.fixture(scope="session")
def base_url(site: Path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def context(browser, base_url):
    """One browser context; requests leaving the local server are aborted and recorded."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 800},
        permissions=["clipboard-read", "clipboard-write"],
        base_url=base_url,
        service_workers="block",
    )
    context.foreign_requests = []
    local = re.escape(base_url)

    def abort(route):
        context.foreign_requests.append(route.request.url)
        route.abort()

    context.route(re.compile(rf"^(?!{local})[a-z]+://"), abort)
    yield context
    context.close()


@pytest.fixture(scope="session")
def visit(context, base_url):
    """``visit(path)``: load one page in the shared tab (once) and return its :class:`Visit`."""
    page = context.new_page()
    current: list[Visit] = []
    pending: set = set()  # requests in flight

    def failed(request):
        pending.discard(request)
        # net::ERR_ABORTED is a cancellation (a late favicon or font request of a page the checks have left),
        # not a failure: a missing file shows up as an HTTP 404 response, a refused one as another error
        if request.failure != "net::ERR_ABORTED":
            current[-1].failed_requests.append(f"{request.url}: {request.failure}")

    page.on("request", lambda r: pending.add(r))
    page.on("requestfinished", lambda r: pending.discard(r))
    page.on("requestfailed", failed)
    page.on("console", lambda m: m.type == "error" and current[-1].console_errors.append(f"{m.text} ({m.location})"))
    page.on("pageerror", lambda e: current[-1].console_errors.append(f"uncaught: {e}"))
    page.on("response", lambda r: r.status >= 400 and current[-1].failed_requests.append(f"{r.url}: HTTP {r.status}"))
    cache: dict[str, Visit] = {}
    looks: list[str] = []  # every look whose colour contrast axe has checked

    def load(path: str) -> Visit:
        if path not in cache:
            current.append(Visit())
            start = len(context.foreign_requests)
            page.goto(base_url + path, wait_until="load")
            current[-1].data = page.evaluate(COLLECT_JS)
            axe_start = time.perf_counter()
            page.add_script_tag(path=str(AXE_FILE_PATH))
            axe = page.evaluate(AXE_JS, {"tags": AXE_TAGS, "seen": looks})
            looks.extend(axe["looks"])
            AXE_RUNS.update(pages=AXE_RUNS["pages"] + 1, seconds=AXE_RUNS["seconds"] + time.perf_counter() - axe_start)
            AXE_RUNS["looks"] = len(looks)
            current[-1].data["axe"] = axe["violations"]
            # let late requests (fonts MathJax asks for, the favicon) finish before leaving the page,
            # so that navigating away does not cancel them and a real failure is not mistaken for one
            for _ in range(100):
                if not pending:
                    break
                page.wait_for_timeout(50)
            current[-1].foreign_requests = context.foreign_requests[start:]
            cache[path] = current[-1]
        return cache[path]

    yield load
    page.close()
