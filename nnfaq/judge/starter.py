"""Starter files: the function to write, its specification, and how to judge it.

A starter's first line records its exercise (``# nnfaq exercise: softmax``), so that
``nnfaq judge FILE`` knows what to check; the body raises ``NotImplementedError``. The docstring
holds the question practised, the task and the shapes, never the answer.

Examples
--------
>>> text = starter("softmax")
>>> text.splitlines()[0]
'# nnfaq exercise: softmax'
>>> "def softmax(input, dim):" in text and "raise NotImplementedError" in text
True
>>> exercise_id_of(text)
'softmax'
"""

from __future__ import annotations

import ast
import re
import textwrap

from nnfaq.judge.exercises import get_exercise

__all__ = ["MARKER", "exercise_id_of", "starter"]

#: The first-line comment that names a file's exercise.
MARKER = "# nnfaq exercise: "

_MARKER_RE = re.compile(r"^#\s*nnfaq exercise:\s*([A-Za-z0-9_-]+)\s*$")
_WIDTH = 96


def exercise_id_of(source: str) -> str | None:
    """The exercise id recorded in the first lines of ``source`` (its marker comment), or None."""
    for line in source.splitlines()[:5]:
        m = _MARKER_RE.match(line.strip())
        if m:
            return m.group(1)
    return None


def _wrap(text: str, indent: str) -> str:
    """``text`` filled to the width, never breaking inside a ````literal````."""
    text = re.sub(r"``.+?``", lambda m: m.group(0).replace(" ", "\0"), " ".join(text.split()))
    filled = textwrap.fill(text, _WIDTH, initial_indent=indent, subsequent_indent=indent, break_long_words=False)
    return filled.replace("\0", " ")


def _question_text(question_id: str) -> str | None:
    from nnfaq import get_question

    try:
        return get_question(question_id).text
    except (KeyError, SyntaxError, OSError, ValueError):  # no such question, or a topic module being edited
        return None


def _def_line(name: str, signature: str) -> list[str]:
    """``def name(signature):``, one parameter per line when it would be longer than the docstring's width."""
    line = f"def {name}({signature}):"
    if len(line) <= _WIDTH:
        return [line]
    args = ast.parse(f"def f({signature}): pass").body[0].args
    defaults = [None] * (len(args.args) - len(args.defaults)) + list(args.defaults)
    params = [a.arg + ("" if d is None else "=" + ast.unparse(d)) for a, d in zip(args.args, defaults)]
    return [f"def {name}(", *[f"    {p}," for p in params], "):"]


def starter(exercise_id: str) -> str:
    """The starter file of an exercise, as text.

    Parameters
    ----------
    exercise_id : str
        An id from :data:`nnfaq.judge.exercises.EXERCISES`.

    Returns
    -------
    str
        Python source: the marker comment, a module docstring saying how to judge the file, and the
        function's signature and docstring with a body that raises ``NotImplementedError``.

    Raises
    ------
    KeyError
        For an unknown id (the message suggests close ones).
    """
    ex = get_exercise(exercise_id)
    question = _question_text(ex.question)
    head = [f"{MARKER}{ex.id}", '"""' + f"{ex.title} (nnfaq exercise {ex.id!r}, {ex.level}, {ex.part}).", ""]
    if question:
        head += [_wrap(f"It practises the question: {question}", ""), f"(the answer: nnfaq show {ex.question})", ""]
    head += [
        f"Write the body of {ex.function} below, then judge it, offline:",
        "",
        f"    nnfaq judge {ex.filename}",
        "",
        _wrap(
            "The judge runs this file in a subprocess and checks, in order: the signature, the forward "
            f"values against {ex.oracle} on random inputs, the gradients, the concept's own claims, edge "
            "cases and bad input (which must raise ValueError or TypeError). It stops at the first "
            "failure, shows the smallest failing input and gives a hint.",
            "",
        ),
        '"""',
        "",
        "import torch",
        "",
        "",
        *_def_line(ex.function, ex.signature),
    ]
    doc = [f'    r"""{ex.title}.', "", _wrap(ex.task, "    "), "", "    Parameters", "    ----------"]
    for name, text in ex.parameters:
        doc += [f"    {name}", _wrap(text, "        ")]
    doc += ["", "    Returns", "    -------", _wrap(ex.returns, "    "), '    """']
    body = [f'    raise NotImplementedError("write the body of {ex.function}")', ""]
    return "\n".join(head + doc + body)
