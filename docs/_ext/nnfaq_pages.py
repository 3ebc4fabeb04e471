"""Sphinx extension: the pages written from the question registry as files, before Sphinx reads sources.

- ``topics/<topic>.md`` for every topic: each question is a heading (label ``q-<id>``) that opens
  with its answer card (level, the 30-second answer, follow-ups, links to the proof and the source),
  then the deep dive (the docstring's answer, math, notes, references and the executed examples),
  then the implementation (signature, parameters, returns) folded, then the gallery examples using it.
- ``topics/index.md``: one toctree per part, with the part as caption.
- ``topics/<old>.md`` for topics that were split: a short page whose anchors lead to the new homes.
- ``examples.md``, and the ``GALLERY_HEADER.rst`` of every gallery part and topic folder, from the
  part and topic titles (written once, in the package).

Files are rewritten only when their text changes, so an unchanged build re-reads nothing.
"""

from __future__ import annotations

import re
from pathlib import Path

import nnfaq

GENERATED_DIR = "topics"
#: Topic modules that were split in two: their pages stay, pointing to the new topics.
MOVED = {"gradients": ("activations", "gradient_flow"), "representations": ("autoencoders", "embeddings")}
LEVEL_BADGE = {"basic": "bdg-success", "intermediate": "bdg-primary", "advanced": "bdg-danger"}
#: numpydoc sections that stay in the folded implementation part; the rest is the deep dive.
IMPLEMENTATION_SECTIONS = ("Parameters", "Returns", "Yields", "Raises", "Warns", "See Also")
_SECTION = re.compile(r"^(?P<name>[A-Z][A-Za-z ]+)\n-{3,}[ \t]*$", re.MULTILINE)


# --- text helpers --------------------------------------------------------------------------------


def plain(text: str) -> str:
    from nnfaq._text import plain as _plain  # rst inline markup to plain text, shared with the CLI

    return _plain(text)


def myst_heading(text: str) -> str:
    return re.sub(r"``(.+?)``", r"`\1`", text)


def ref(q: nnfaq.Question, title: str | None = None) -> str:
    title = plain(title if title is not None else q.text).replace("<", r"\<")
    return f":ref:`{title} <q-{q.id}>`"


def indent(text: str, n: int) -> str:
    pad = " " * n
    return "\n".join(pad + line if line.strip() else "" for line in text.splitlines())


def plain_rst(text: str) -> str:
    """Plain text (a 30-second answer, a hint) as rst: ``|x|`` is an absolute value, not a substitution."""
    parts = re.split(r"(``.+?``)", text)
    return "".join(p if p.startswith("``") else p.replace("|", "\\|") for p in parts)


def level_badge(level: str) -> str:
    return f":{LEVEL_BADGE.get(level, 'bdg-secondary')}:`{level or 'unrated'}`"


def item_classes(q: nnfaq.Question) -> str:
    """The classes the filters of the landing and practice pages select on."""
    return f"nnfaq-item nnfaq-part-{q.part} nnfaq-level-{q.level or 'unrated'}"


def split_sections(doc: str) -> tuple[str, dict[str, str]]:
    """A numpydoc docstring as (the text before the first section, {section name: body})."""
    matches = list(_SECTION.finditer(doc))
    head = doc[: matches[0].start()] if matches else doc
    sections = {}
    for m, nxt in zip(matches, [*matches[1:], None]):
        sections[m["name"].strip()] = doc[m.end() : nxt.start() if nxt else len(doc)].strip("\n")
    return head, sections


def _footnotes(text: str, qid: str) -> str:
    """numpydoc's ``[1]`` references as footnotes local to this question (a page holds several)."""
    text = re.sub(r"^(\s*)\.\. \[(\d+)\]", rf"\1.. [#{qid}-\2]", text, flags=re.MULTILINE)
    return re.sub(r"\[(\d+)\]_", rf"[#{qid}-\1]_", text)


def deep_dive(q: nnfaq.Question) -> str:
    """The rst of the deep dive: the docstring without its summary, question and implementation sections."""
    head, sections = split_sections(q.docstring)
    paragraphs = re.split(r"\n\s*\n", head.strip(), maxsplit=2)
    out = [paragraphs[2] if len(paragraphs) > 2 else ""]
    for name, body in sections.items():
        if name in IMPLEMENTATION_SECTIONS:
            continue
        if name == "Examples":
            out += [f".. _proof-{q.id}:", ""]
        out += [f".. rubric:: {'Proof' if name == 'Examples' else name}", "", body]
    return _footnotes("\n\n".join(out), q.id)


def source_link(q: nnfaq.Question, depth: int = 1) -> str:
    """The viewcode page of the function's source, relative to a page ``depth`` folders down."""
    module, _, name = q.function.rpartition(".")
    # a trailing underscore (clip_grad_norm_) would end the rst link target: escape it
    return f"{'../' * depth}_modules/{module.replace('.', '/')}.html#{name}".replace("_", "\\_")


def answer_card(q: nnfaq.Question) -> list[str]:
    part = next(p for p in nnfaq.parts() if p.name == q.part)
    topic = next(t for t in part.topics if t.name == q.topic)
    lines = [".. card::", f"   :class-card: nnfaq-answer nnfaq-level-{q.level or 'unrated'}", ""]
    lines += [f"   {level_badge(q.level)} {part.title} › {topic.title}", ""]
    lines += [indent(f"**In 30 seconds:** {plain_rst(q.short)}" if q.short else q.answer, 3), ""]
    links = [f":ref:`Proof <proof-{q.id}>`", f"`Source <{source_link(q)}>`__"]
    if q.followups:
        known = {other.id: other for other in nnfaq.questions()}
        # a follow-up that names no question stays a reference to its label: -n -W fails the build on it
        followups = [ref(known[i]) if i in known else f":ref:`{i} <q-{i}>`" for i in q.followups]
        links.append("Next: " + " · ".join(followups))
    lines += ["   " + " · ".join(links), ""]
    return lines


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
        out += [f"(q-{q.id})=", f"## {myst_heading(q.text)}", ""]
        out += ["```{eval-rst}", *answer_card(q), deep_dive(q), ""]
        out += [f".. dropdown:: Implementation: ``{name}``", "   :class-container: nnfaq-implementation", ""]
        out += [indent("\n".join(_autodoc(topic, name)), 3), "```", ""]
        # a trailing underscore (clip_grad_norm_) would make the heading an rst reference: escape it
        shown = name[:-1] + "\\_" if name.endswith("_") else name
        heading = f"   :add-heading: Gallery examples using {shown}"
        out += ["```{eval-rst}", f".. minigallery:: {q.function}", heading, "```", ""]
    others = [n for n in topic.public if n not in answered]
    if others:
        out += ["## Other objects in this module", ""]
        for name in others:
            out += ["```{eval-rst}", *_autodoc(topic, name), "```", ""]
    return "\n".join(out)


def _autodoc(topic: nnfaq.Topic, name: str) -> list[str]:
    """The autodoc directive for a function, a class (with its public methods) or data of the topic.

    What the name is comes from the registry, which read it from the module's source: the pages are
    generated at every build, and importing the topics would import torch (seconds) into a build with
    nothing to do.
    """
    qualified, kind = f"{topic.module}.{name}", dict(topic.kinds).get(name)
    if kind is None:
        raise ValueError(f"{qualified}: {name} is not in {topic.module}.__all__")
    if kind == "class":
        return [f".. autoclass:: {qualified}", "   :members:"]
    return [f".. auto{kind}:: {qualified}"]


def topics_index() -> str:
    lines = ["# Topics", "", "Every answer, by part. Each topic page opens every question with its 30-second", ""]
    lines[-1:] = ["answer, then the proof.", ""]
    for part in nnfaq.parts():
        if part.topics:
            lines += ["```{toctree}", f":caption: {part.title}", ":maxdepth: 1", ""]
            lines += [t.name for t in part.topics]
            lines += ["```", ""]
    return "\n".join(lines)


def moved_page(old: str, new: tuple[str, ...]) -> str:
    """The page at an old topic's address: its questions' anchors, each pointing to the new home."""
    topics = [t for t in nnfaq.topics() if t.name in new]
    titles = " and ".join(f"[{t.title}](topic-{t.name})" for t in topics)
    out = ["---", "orphan: true", "---", "", f"# This topic has moved: {old.replace('_', ' ')}", ""]
    out += [f"Its questions are now answered in {titles}:", ""]
    for t in topics:
        for q in t.questions:
            out += [f'- <span id="q-{q.id}"></span>{{ref}}`{plain(q.text)} <q-{q.id}>`']
    return "\n".join([*out, ""])


# --- the gallery's headers, from the registry ----------------------------------------------------


def gallery_files(gallery_root: Path) -> dict[Path, str]:
    """Every part and topic folder's GALLERY_HEADER.rst (title and introduction from the package)."""
    wanted = {}
    for part in nnfaq.parts():
        if not (gallery_root / part.name).is_dir():
            continue
        wanted[gallery_root / part.name / "GALLERY_HEADER.rst"] = _rst_title(part.title, "=") + part.intro + "\n"
        for topic in part.topics:
            if (gallery_root / part.name / topic.name).is_dir():
                # the intro's :func: roles are relative to the topic module
                text = _rst_title(topic.title, "-") + f".. currentmodule:: {topic.module}\n\n" + topic.intro
                text += f"\n\nThe answers: :ref:`topic-{topic.name}`.\n"
                wanted[gallery_root / part.name / topic.name / "GALLERY_HEADER.rst"] = text
    return wanted


def _rst_title(title: str, mark: str) -> str:
    return f"{title}\n{mark * len(title)}\n\n"


def examples_index(gallery_dir: str, parts_with_examples: list[str]) -> str:
    lines = ["# Gallery", "", "Illustrated answers: each example runs on a CPU in seconds, from a fixed seed, and"]
    lines += ["can be downloaded as a Python script or a Jupyter notebook to rerun it yourself", ""]
    lines[-2] += ' (`pip install "nnfaq[examples]"`).'
    lines += ["```{toctree}", ":maxdepth: 2", ""]
    lines += [f"{gallery_dir}/{p}/index" for p in parts_with_examples]
    return "\n".join([*lines, "```", ""])


def gallery_order(path: str) -> int:
    """sphinx-gallery's ``subsection_order``: a part's topic folders in the order of its ``TOPICS``.

    Named in conf.py by its dotted path, so the configuration pickles to the same text every build.
    """
    names = nnfaq.topic_names()
    name = Path(path).name
    return names.index(name) if name in names else len(names)


def parts_with_examples(gallery_root: Path) -> list[str]:
    return [p for p in nnfaq.PARTS if any((gallery_root / p).glob("*/plot_*.py"))]


# --- writing ---------------------------------------------------------------------------------------


def write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def generate_pages(app, config=None) -> None:
    src = Path(app.srcdir)
    out_dir = src / GENERATED_DIR
    wanted = {"index.md": topics_index()}
    wanted.update({f"{t.name}.md": topic_page(t) for t in nnfaq.topics()})
    wanted.update({f"{old}.md": moved_page(old, new) for old, new in MOVED.items()})
    out_dir.mkdir(exist_ok=True)
    for stale in out_dir.glob("*.md"):
        if stale.name not in wanted:
            stale.unlink()
    for name, text in wanted.items():
        write_if_changed(out_dir / name, text)


def generate_gallery_headers(app, config) -> None:
    """At config-inited, before sphinx-gallery reads its folders at builder-inited."""
    gallery = Path(app.srcdir).parent / "gallery"
    for path, text in gallery_files(gallery).items():
        write_if_changed(path, text)
    gallery_dir = config.sphinx_gallery_conf["gallery_dirs"][0].split("/")[0]
    write_if_changed(Path(app.srcdir) / "examples.md", examples_index(gallery_dir, parts_with_examples(gallery)))


def setup(app):
    app.connect("config-inited", generate_gallery_headers)
    app.connect("builder-inited", generate_pages)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": nnfaq.__version__}
