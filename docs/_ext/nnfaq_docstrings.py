"""Sphinx extension: a concept function's autodoc entry is its implementation only.

On a topic page the question is the heading, the answer card and the deep dive (answer, math,
notes, references, proof) come first, written from the registry (docs/_ext/nnfaq_pages.py); the
function's autodoc entry, folded under them, keeps only the summary line and the implementation
sections (Parameters, Returns, See Also, ...), so nothing is shown twice. It runs after numpydoc,
so numpydoc validates the whole docstring and this keeps numpydoc's rendering of those sections.
"""

from __future__ import annotations

import re

# numpydoc's output: the implementation sections are field lists and a seealso block; the deep-dive
# sections are rubrics (Notes, References, Examples) and, in LaTeX builds, an ``only`` block
_IMPLEMENTATION = re.compile(r"^(:(Parameters|Returns|Yields|Raises|Warns|Other Parameters):|\.\. seealso::)")
_DEEP = re.compile(r"^(\.\. rubric:: |\.\. only:: |\.\. \[)")


def implementation_only(app, what, name, obj, options, lines) -> None:
    if not getattr(obj, "__nnfaq_question__", None):
        return
    summary_end = next((i for i, line in enumerate(lines) if not line.strip()), len(lines))
    kept = [*lines[:summary_end], ""]
    start = next((i for i, line in enumerate(lines) if _IMPLEMENTATION.match(line)), None)
    if start is not None:
        end = next((i for i in range(start, len(lines)) if _DEEP.match(lines[i])), len(lines))
        kept += lines[start:end]
    lines[:] = kept


def setup(app):
    app.setup_extension("numpydoc")
    app.connect("autodoc-process-docstring", implementation_only, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
