"""Sphinx extension: the exercise pages, written from the judge's exercise table before Sphinx reads sources.

- ``exercises/index.md``: every exercise by part, with its level, filterable by part and level.
- ``exercises/<id>.md``: the task, the function's parameters, the question it practises, the
  starter file to download, the command that judges it, the hints folded one by one, and the
  reference solution folded until opened.
- ``exercises/starters/<file>.py``: the starter files, the same text ``nnfaq exercise ID`` writes.

Files are rewritten only when their text changes.
"""

from __future__ import annotations

from pathlib import Path

from nnfaq_directives import filters_html
from nnfaq_pages import indent, level_badge, plain_rst, write_if_changed

import nnfaq

OUT_DIR = "exercises"


def _exercises():
    from nnfaq.judge.exercises import exercises

    return exercises()


def _classes(ex) -> str:
    return f"nnfaq-item nnfaq-part-{ex.part} nnfaq-level-{ex.level}"


def index_page() -> str:
    out = ["(exercises)=", "# Exercises", ""]
    out += ["Write the function yourself, then let the judge check it on your machine, offline: the signature,"]
    out += ["values and gradients against PyTorch on random inputs, the concept's own claims, edge cases and"]
    out += ["bad input. It stops at the first failure and says what failed, on the smallest input, with a hint.", ""]
    out += ["```bash", "nnfaq exercise softmax        # writes softmax.py: the signature, the task, no answer"]
    out += ["nnfaq judge softmax.py         # exit status 0 when every check passes", "```", ""]
    out += ["```{eval-rst}", ".. raw:: html", "", indent(filters_html(), 3), ""]
    by_part = {}
    for ex in _exercises():
        by_part.setdefault(ex.part, []).append(ex)
    for part in nnfaq.parts():
        if part.name not in by_part:
            continue
        out += [f".. container:: nnfaq-group nnfaq-part-{part.name}", ""]
        out += [f"   .. rubric:: {part.title}", "      :heading-level: 2", ""]
        for ex in by_part[part.name]:
            out += [f"   .. container:: {_classes(ex)}", ""]
            out += [f"      {level_badge(ex.level)} :doc:`{ex.title} <{ex.id}>` (``{ex.function}``)", ""]
    out += ["```", "", "```{toctree}", ":hidden:", ""]
    out += [ex.id for ex in _exercises()]
    return "\n".join([*out, "```", ""])


def exercise_page(ex) -> str:
    out = [f"(exercise-{ex.id})=", f"# Exercise: {ex.title}", "", "```{eval-rst}"]
    out += [f"{level_badge(ex.level)} Practises :ref:`q-{ex.question}`.", ""]
    out += [plain_rst(ex.task), ""]
    out += [".. rubric:: What to write", "", f"``{ex.function}({ex.signature})``", ""]
    for name, description in ex.parameters:
        out += [f"- ``{name}``: {plain_rst(description)}"]
    out += ["", f"Returns: {plain_rst(ex.returns)}", ""]
    out += [".. rubric:: Start and judge", ""]
    out += [f":download:`Download the starter file <starters/{ex.filename}>`, or write it with", ""]
    out += [".. code-block:: bash", "", f"   nnfaq exercise {ex.id}", f"   {ex.judge_command}", ""]
    for i, hint in enumerate(ex.hints, 1):
        out += [f".. dropdown:: Hint {i}", "   :icon: light-bulb", "", indent(plain_rst(hint), 3), ""]
    if ex.solution:
        module, _, name = ex.solution.rpartition(".")
        source = "/../" + module.replace(".", "/") + ".py"
        out += [".. dropdown:: Reference solution", "   :icon: eye", "", f"   nnfaq's ``{name}``:", ""]
        out += [f"   .. literalinclude:: {source}", f"      :pyobject: {name}", "      :language: python", ""]
    return "\n".join([*out, "```", ""])


def generate(app) -> None:
    from nnfaq.judge.starter import starter

    out_dir = Path(app.srcdir) / OUT_DIR
    wanted = {out_dir / "index.md": index_page()}
    for ex in _exercises():
        wanted[out_dir / f"{ex.id}.md"] = exercise_page(ex)
        wanted[out_dir / "starters" / ex.filename] = starter(ex.id)
    for stale in [*out_dir.glob("*.md"), *out_dir.glob("starters/*.py")]:
        if stale not in wanted:
            stale.unlink()
    for path, text in wanted.items():
        write_if_changed(path, text)


def setup(app):
    app.connect("builder-inited", generate)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": nnfaq.__version__}
