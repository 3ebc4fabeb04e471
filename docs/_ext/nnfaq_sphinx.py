"""Sphinx extension: the site's pages that come from the question registry.

- ``topics/<topic>.md`` is generated for every topic module (each question a heading, its docstring
  with the proof, and the gallery examples that use it); ``topics/index.md`` lists them.
- ``{nnfaq-questions}`` (landing page), ``{nnfaq-practice}``, ``{nnfaq-errata}`` and ``{nnfaq-api}``
  are directives that write their content from the registry, so no question is typed twice.
- Links from these pages to answers are ``:ref:`` references to ``q-<id>`` labels: with
  ``-n -W`` a missing answer fails the build.
"""

from __future__ import annotations

import hashlib
import importlib
import re
from pathlib import Path

import nnfaq
from nnfaq.cli import plain  # rst inline markup to plain text, shared with the CLI

GENERATED_DIR = "topics"
LIB_MODULES = ("datasets",)  # shared, non-topic modules documented on the API page when present


def reset_example_state(gallery_conf, fname):
    """sphinx-gallery ``reset_modules`` hook: seed, one thread, defaults, fresh matplotlib style."""
    import nnfaq_conf

    nnfaq_conf.reset_state()


# --- text helpers --------------------------------------------------------------------------------


def _myst_heading(text: str) -> str:
    return re.sub(r"``(.+?)``", r"`\1`", text)


def _ref(q: nnfaq.Question, title: str | None = None) -> str:
    title = plain(title if title is not None else q.text).replace("<", r"\<")
    return f":ref:`{title} <q-{q.id}>`"


def _indent(text: str, n: int) -> str:
    pad = " " * n
    return "\n".join(pad + line if line.strip() else "" for line in text.splitlines())


# --- generated topic pages -----------------------------------------------------------------------


def topic_page(topic: nnfaq.Topic) -> str:
    """MyST source of one topic page."""
    out = [f"(topic-{topic.name})=", f"# {topic.title}", ""]
    out += ["```{eval-rst}", f".. module:: {topic.module}", "", topic.intro, "```", ""]
    out += ["```{contents} Questions", ":local:", ":depth: 1", ":backlinks: none", "```", ""]
    answered = set()
    for q in topic.questions:
        name = q.function.rpartition(".")[2]
        answered.add(name)
        out += [f"(q-{q.id})=", f"## {_myst_heading(q.text)}", ""]
        out += ["```{eval-rst}", *_autodoc(q.function), "```", ""]
        # a trailing underscore (clip_grad_norm_) would make the heading an rst reference: escape it
        shown = name[:-1] + "\\_" if name.endswith("_") else name
        heading = f"   :add-heading: Gallery examples using {shown}"
        out += ["```{eval-rst}", f".. minigallery:: {q.function}", heading, "```", ""]
    others = [n for n in topic.public if n not in answered]
    if others:
        out += ["## Other objects in this module", ""]
        for name in others:
            out += ["```{eval-rst}", *_autodoc(f"{topic.module}.{name}"), "```", ""]
    return "\n".join(out)


def _autodoc(qualified: str) -> list[str]:
    """The autodoc directive for a function, a class (with its public methods) or data."""
    module, _, name = qualified.rpartition(".")
    obj = getattr(importlib.import_module(module), name)
    if isinstance(obj, type):
        return [f".. autoclass:: {qualified}", "   :members:"]
    return [f".. {'autofunction' if callable(obj) else 'autodata'}:: {qualified}"]


def topics_index() -> str:
    lines = ["# Topics", "", "```{toctree}", ":maxdepth: 2", ""]
    lines += [t.name for t in nnfaq.topics()]
    return "\n".join([*lines, "```", ""])


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def generate_pages(app) -> None:
    out_dir = Path(app.srcdir) / GENERATED_DIR
    out_dir.mkdir(exist_ok=True)
    wanted = {"index.md": topics_index()}
    wanted.update({f"{t.name}.md": topic_page(t) for t in nnfaq.topics()})
    for stale in out_dir.glob("*.md"):
        if stale.name not in wanted:
            stale.unlink()
    for name, text in wanted.items():
        _write_if_changed(out_dir / name, text)


# --- directives ----------------------------------------------------------------------------------


def questions_rst() -> str:
    """Landing page: every question grouped by topic, each linking to its answer."""
    qs = nnfaq.questions()
    fixed = sum(len(q.mistakes) for q in qs)
    out = [
        f"**{len(qs)} questions in {len(nnfaq.topics())} topics, {fixed} common wrong answers corrected.**",
        "",
        ".. grid:: 1 1 2 2",
        "   :gutter: 3",
        "",
    ]
    for t in nnfaq.topics():
        out += [f"   .. grid-item-card:: {t.title}", f"      :link: topic-{t.name}", "      :link-type: ref", ""]
        out += [f"      - {_ref(q)}" for q in t.questions]
        out.append("")
    return "\n".join(out)


def practice_rst() -> str:
    """Practice page: each question with its answer collapsed until clicked."""
    out = []
    for t in nnfaq.topics():
        out += [t.title, "-" * len(t.title), "", f".. currentmodule:: {t.module}", ""]
        for q in t.questions:
            out += [f".. dropdown:: {q.text}", f"   :name: practice-{q.id}", "   :icon: question", ""]
            out += [_indent(q.answer, 3), "", f"   Proof: {_ref(q, 'the answer with its executed proof')}", ""]
    return "\n".join(out)


def errata_rst() -> str:
    """Errata page: wrong or half-true statements that circulate, corrected, linked to the proof."""
    out = []
    for q in nnfaq.questions():
        for m in q.mistakes:
            out += [f".. currentmodule:: nnfaq.{q.topic}", "", ".. card::", "   :class-card: nnfaq-erratum", ""]
            out += [f"   **They say:** {m.claim}", "", "   **In fact:**", "", _indent(m.correction, 3), ""]
            out += [f"   **Proof:** {_ref(q)}", ""]
    return "\n".join(out)


def api_rst() -> str:
    """API reference: tables of every public function, linking to their entries."""
    out = ["Question registry", "-----------------", "", ".. currentmodule:: nnfaq", "", ".. autosummary::", ""]
    out += [f"   {name}" for name in ("questions", "topics", "get_question", "question", "Question", "Topic")]
    out.append("")
    for t in nnfaq.topics():
        heading = f":mod:`nnfaq.{t.name}`: {t.title}"
        out += [heading, "-" * len(heading), "", f".. currentmodule:: {t.module}", "", ".. autosummary::", ""]
        out += [f"   {name}" for name in t.public]
        out.append("")
    pkg = Path(nnfaq.__file__).parent
    for name in LIB_MODULES:
        if (pkg / f"{name}.py").exists():
            heading = f":mod:`nnfaq.{name}`"
            out += [heading, "-" * len(heading), "", f".. automodule:: nnfaq.{name}", "   :members:", ""]
    out += ["Registry objects", "----------------", "", ".. currentmodule:: nnfaq", "", ".. autodata:: TOPICS", ""]
    for name in ("questions", "topics", "get_question", "question"):
        out += [f".. autofunction:: {name}", ""]
    for name in ("Question", "Topic", "Mistake"):
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


# --- docstrings ----------------------------------------------------------------------------------

_BOLD_QUESTION = re.compile(r"^\*\*[^*].*\?\*\*$", re.DOTALL)


def strip_question(app, what, name, obj, options, lines) -> None:
    """Drop the bold question paragraph from rendered docstrings: the page heading shows it."""
    if not getattr(obj, "__nnfaq_question__", None):
        return
    paras, start = [], 0
    for i, line in enumerate([*lines, ""]):
        if not line.strip():
            if i > start:
                paras.append((start, i))
            start = i + 1
    for a, b in paras[1:2]:
        if _BOLD_QUESTION.match(" ".join(lines[a:b]).strip()):
            del lines[a : b + 1]


REGISTRY_PAGES = ("index", "practice", "errata", "api")


def registry_outdated(app, env, added, changed, removed):
    """Re-read the pages written from the registry whenever the registry's content changed."""
    digest = hashlib.sha256(repr(nnfaq.topics()).encode()).hexdigest()
    if getattr(env, "nnfaq_registry_digest", None) == digest:
        return []
    env.nnfaq_registry_digest = digest
    return [name for name in REGISTRY_PAGES if name in env.found_docs]


def setup(app):
    app.connect("builder-inited", generate_pages)
    app.connect("env-get-outdated", registry_outdated)
    app.connect("autodoc-process-docstring", strip_question, priority=400)
    for name, make in (
        ("nnfaq-questions", questions_rst),
        ("nnfaq-practice", practice_rst),
        ("nnfaq-errata", errata_rst),
        ("nnfaq-api", api_rst),
    ):
        app.add_directive(name, _directive(make))
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": nnfaq.__version__}
