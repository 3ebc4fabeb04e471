"""The gallery's scripts, read as files: in their part and topic, titled by a question, runnable as downloads."""

import ast
from pathlib import Path

import pytest

import nnfaq

GALLERY = Path(__file__).resolve().parents[1] / "gallery"
SCRIPTS = sorted(GALLERY.rglob("plot_*.py"))
NEEDS = 'pip install "nnfaq[examples]"'


def test_every_script_lives_in_a_topic_folder_of_its_part():
    assert SCRIPTS
    topics = {(t.part, t.name) for t in nnfaq.topics()}
    for script in SCRIPTS:
        part, topic = script.relative_to(GALLERY).parts[:2]
        assert (part, topic) in topics, f"{script.relative_to(GALLERY)}: not under gallery/<part>/<topic>/"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.relative_to(GALLERY).as_posix())
def test_script_is_titled_by_a_question_says_what_it_needs_and_shows_its_figures(script):
    source = script.read_text(encoding="utf-8")
    tree = ast.parse(source)
    doc = ast.get_docstring(tree) or ""
    title = doc.splitlines()[0] if doc else ""
    assert "?" in title, f"the title is the question it answers: {title!r}"
    assert NEEDS in doc, f"the header says what a download needs: {NEEDS}"
    last = tree.body[-1]
    shows = isinstance(last, ast.Expr) and ast.unparse(last.value) == "plt.show()"
    assert shows, "ends with plt.show(), so a downloaded script opens its figures"
