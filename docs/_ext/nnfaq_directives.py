"""Sphinx extension: directives that write registry content into the hand-written pages.

``{nnfaq-questions}`` (landing page, by part, filterable), ``{nnfaq-practice}`` (answers folded,
filterable), ``{nnfaq-cheatsheet}`` (every 30-second answer on one printable page),
``{nnfaq-errata}`` and ``{nnfaq-api}``. Links to answers are ``:ref:`` references to ``q-<id>``
labels: with ``-n -W`` a missing answer fails the build. The registry's digest is kept in the
environment, so these pages are re-read when, and only when, the registry changed.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from nnfaq_pages import indent, item_classes, level_badge, plain_rst, ref

import nnfaq

LIB_MODULES = ("datasets",)  # shared, non-topic modules documented on the API page when present


def filters_html() -> str:
    """The part and level selectors (docs/_static/nnfaq-filter.js does the filtering)."""
    parts = "".join(f'<option value="{p.name}">{p.title}</option>' for p in nnfaq.parts() if p.topics)
    levels = "".join(f'<option value="{lvl}">{lvl}</option>' for lvl in nnfaq.LEVELS)
    return (
        '<form class="nnfaq-filters" role="search" aria-label="Filter the questions">'
        f'<label>Part <select data-filter="part"><option value="">all parts</option>{parts}</select></label> '
        f'<label>Level <select data-filter="level"><option value="">all levels</option>{levels}</select></label> '
        '<output class="nnfaq-count" aria-live="polite"></output></form>'
    )


def _raw(html: str) -> list[str]:
    return [".. raw:: html", "", indent(html, 3), ""]


def questions_rst() -> str:
    """Landing page: every question grouped by part and topic, each linking to its answer."""
    qs = nnfaq.questions()
    fixed = sum(len(q.mistakes) for q in qs)
    n_topics = len(nnfaq.topics())
    out = [f"**{len(qs)} questions in {n_topics} topics, {fixed} common wrong answers corrected.**", ""]
    out += _raw(filters_html())
    for part in nnfaq.parts():
        if not part.topics:
            continue
        out += [f".. container:: nnfaq-group nnfaq-part-{part.name}", ""]
        out += [f"   .. rubric:: {part.title}", "      :heading-level: 2", ""]
        out += ["   .. grid:: 1 1 2 2", "      :gutter: 3", ""]
        for t in part.topics:
            out += [
                f"      .. grid-item-card:: {t.title}",
                f"         :link: topic-{t.name}",
                "         :link-type: ref",
            ]
            out += ["         :class-card: nnfaq-group", ""]
            for q in t.questions:
                out += [f"         .. container:: {item_classes(q)}", ""]
                out += [f"            {level_badge(q.level)} {ref(q)}", ""]
    return "\n".join(out)


def practice_rst() -> str:
    """Practice page: each question with its 30-second answer folded until clicked."""
    out = _raw(filters_html())
    for part in nnfaq.parts():
        if not part.topics:
            continue
        out += [f".. container:: nnfaq-group nnfaq-part-{part.name}", ""]
        out += [f"   .. rubric:: {part.title}", "      :heading-level: 2", ""]
        for t in part.topics:
            out += [f"   .. currentmodule:: {t.module}", ""]
            for q in t.questions:
                title = f"{q.text} ({q.level})" if q.level else q.text
                out += [f"   .. dropdown:: {title}", f"      :name: practice-{q.id}", "      :icon: question"]
                out += [f"      :class-container: {item_classes(q)}", ""]
                out += [indent(plain_rst(q.short) if q.short else q.answer, 6), ""]
                out += [f"      Proof: {ref(q, 'the full answer with its executed proof')}", ""]
    return "\n".join(out)


def cheatsheet_rst() -> str:
    """Every 30-second answer on one page, grouped by part; prints to a few A4 pages."""
    out = []
    for part in nnfaq.parts():
        if not part.topics:
            continue
        out += [part.title, "-" * len(part.title), ""]
        for t in part.topics:
            out += [f".. currentmodule:: {t.module}", ""]
            for q in t.questions:
                out += [".. container:: nnfaq-cheat", ""]
                out += [f"   {ref(q)} {level_badge(q.level)}", ""]  # a :ref: in **bold** stays raw text: bold by CSS
                out += [indent(plain_rst(q.short) if q.short else q.answer, 3), ""]
    return "\n".join(out)


def errata_rst() -> str:
    """Errata page: wrong or half-true statements that circulate, corrected, linked to the proof."""
    out = []
    for q in nnfaq.questions():
        module = q.function.rpartition(".")[0]
        for m in q.mistakes:
            out += [f".. currentmodule:: {module}", "", ".. card::", "   :class-card: nnfaq-erratum", ""]
            # the answer's numbered references ([1]_) live on its topic page, not here
            correction = re.sub(r"\s*\[\d+\]_", "", m.correction)
            out += [f"   **They say:** {m.claim}", "", "   **In fact:**", "", indent(correction, 3), ""]
            out += [f"   **Proof:** {ref(q)}", ""]
    return "\n".join(out)


def api_rst() -> str:
    """API reference: tables of every public function, linking to their entries."""
    registry = ("parts", "topics", "questions", "get_question", "question", "Part", "Topic", "Question")
    out = ["Question registry", "-----------------", "", ".. currentmodule:: nnfaq", "", ".. autosummary::", ""]
    out += [f"   {name}" for name in registry]
    out.append("")
    for t in nnfaq.topics():
        heading = f":mod:`{t.module}`: {t.title}"
        out += [heading, "-" * len(heading), "", f".. currentmodule:: {t.module}", "", ".. autosummary::", ""]
        out += [f"   {name}" for name in t.public]
        out.append("")
    pkg = Path(nnfaq.__file__).parent
    for name in LIB_MODULES:
        if (pkg / f"{name}.py").exists():
            heading = f":mod:`nnfaq.{name}`"
            out += [heading, "-" * len(heading), "", f".. automodule:: nnfaq.{name}", "   :members:", ""]
    out += ["Registry objects", "----------------", "", ".. currentmodule:: nnfaq", ""]
    out += [".. autodata:: PARTS", "", ".. autodata:: LEVELS", ""]
    for name in ("parts", "topics", "topic_names", "questions", "get_question", "question"):
        out += [f".. autofunction:: {name}", ""]
    for name in ("Part", "Topic", "Question", "Mistake"):
        out += [f".. autoclass:: {name}", "   :members:", "   :no-undoc-members:", ""]
    return "\n".join(out)


def _directive(make):
    # Sphinx and docutils are imported here so the page generators above can be tested without them
    from docutils import nodes
    from docutils.parsers.rst import Directive
    from docutils.statemachine import StringList
    from sphinx.util.nodes import nested_parse_with_titles

    class Generated(Directive):
        has_content = False

        def run(self):
            lines = StringList(make().splitlines(), source=f"<nnfaq:{make.__name__}>")
            node = nodes.container()
            nested_parse_with_titles(self.state, lines, node)
            return node.children

    return Generated


DIRECTIVES = {
    "nnfaq-questions": questions_rst,
    "nnfaq-practice": practice_rst,
    "nnfaq-cheatsheet": cheatsheet_rst,
    "nnfaq-errata": errata_rst,
    "nnfaq-api": api_rst,
}
REGISTRY_PAGES = ("index", "practice", "cheatsheet", "errata", "api")


def registry_outdated(app, env, added, changed, removed):
    """Re-read the pages written from the registry whenever the registry's content changed."""
    digest = hashlib.sha256(repr([tuple(q) for q in nnfaq.questions()]).encode()).hexdigest()
    if getattr(env, "nnfaq_registry_digest", None) == digest:
        return []
    env.nnfaq_registry_digest = digest
    return [name for name in REGISTRY_PAGES if name in env.found_docs]


def setup(app):
    app.connect("env-get-outdated", registry_outdated)
    for name, make in DIRECTIVES.items():
        app.add_directive(name, _directive(make))
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": nnfaq.__version__}
