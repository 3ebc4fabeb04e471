"""The question registry: every interview question, read from the concept functions' source.

A question is declared once, on the function that answers it::

    @question("dropout-train-vs-eval")
    def dropout(input, p=0.5, training=True):
        r'''Inverted dropout: ... (summary line)

        **Does dropout behave differently in training and evaluation?**

        Plain answer, two to four sentences.
        ...

The registry reads the topic modules with :mod:`ast` instead of importing them, so listing and
searching questions never imports torch. The topic is the module; topics are listed in
:data:`TOPICS`, in the order the site shows them.
"""

from __future__ import annotations

import os
import sys

# Kept import-light on purpose (no re, collections, dataclasses, pathlib, typing, ast or json at
# import time; they load only when the sources are parsed): ``nnfaq list`` must start about as fast
# as Python itself.

#: Topic modules of :mod:`nnfaq`, in the order the site and the CLI show them.
TOPICS: tuple[str, ...] = (
    "regularization",
    "train_eval",
    "backprop",
    "initialization",
    "gradients",
    "residual",
    "output_layers",
    "classification_losses",
    "regression_losses",
    "optimizers",
    "convolution",
    "resampling",
    "conv_arithmetic",
    "attention",
    "attention_variants",
    "positional_encoding",
    "transfer",
    "representations",
    "sizing",
)

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_PATTERNS: dict = {}


def _re(name: str):
    """The compiled pattern ``name``; ``re`` is imported on first use only."""
    if not _PATTERNS:
        import re

        _PATTERNS.update(
            id=re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$"),
            question=re.compile(r"^\*\*(?P<text>[^*].*\?)\*\*$", re.DOTALL),
            section=re.compile(r"^\S.*\n-{3,}\s*$", re.MULTILINE),
            mistake=re.compile(r"^( *)\.\. admonition:: Common mistake\n((?:\1 +\S.*\n|\s*\n)+)", re.MULTILINE),
            paragraph=re.compile(r"\n\s*\n"),
        )
    return _PATTERNS[name]


def _record(name: str, fields: str):
    """A small immutable tuple type with named fields (collections.namedtuple costs start-up time)."""
    names = tuple(fields.split())

    # written out like namedtuple's, so the signature names the fields: Question(id, topic, ...)
    args = ", ".join(names)
    scope: dict = {}
    exec(f"def __new__(cls, {args}):\n    return tuple.__new__(cls, ({args},))", scope)
    __new__ = scope["__new__"]

    def __repr__(self):
        return f"{name}({', '.join(f'{n}={v!r}' for n, v in zip(names, self))})"

    def _asdict(self):
        return dict(zip(names, self))

    namespace = {"__slots__": (), "__new__": __new__, "__repr__": __repr__, "_asdict": _asdict, "_fields": names}
    namespace.update({n: property(lambda self, i=i: self[i]) for i, n in enumerate(names)})
    return type(name, (tuple,), namespace)


class Mistake(_record("Mistake", "claim correction")):
    """A wrong or half-true statement that circulates (``claim``), and its ``correction``."""

    __slots__ = ()


class Question(_record("Question", "id topic function text answer docstring mistakes")):
    """One interview question and the concept function that answers it.

    Fields: ``id`` (stable, kebab-case), ``topic`` (module name), ``function`` (fully qualified
    name, e.g. ``"nnfaq.regularization.dropout"``), ``text`` (the question), ``answer`` (the plain
    answer, rst), ``docstring`` (the whole docstring) and ``mistakes`` (tuple of :class:`Mistake`).
    """

    __slots__ = ()

    @property
    def examples(self) -> str:
        """The docstring's Examples section: the proof."""
        return _section(self.docstring, "Examples")


class Topic(_record("Topic", "name title intro questions public")):
    """A topic module: ``name``, ``title``, ``intro``, its ``questions`` and ``public`` names."""

    __slots__ = ()

    @property
    def module(self) -> str:
        return f"nnfaq.{self.name}"


def question(id: str):
    """Mark the decorated function as the answer to the question in its docstring.

    The id is stable (it names the answer's anchor on the site and in the CLI); kebab-case.
    """
    if not isinstance(id, str) or not _re("id").match(id):
        raise ValueError(f"id must be a kebab-case string such as 'dropout-train-vs-eval', got {id!r}")

    def mark(fn):
        fn.__nnfaq_question__ = id
        return fn

    return mark


def topics() -> tuple[Topic, ...]:
    """Every topic, in site order, each with its questions in source order."""
    return _load()


def questions(topic: str | None = None) -> tuple[Question, ...]:
    """Every question in a stable order: by topic (see :data:`TOPICS`), then by source position."""
    if topic is not None and topic not in TOPICS:
        raise ValueError(f"topic must be one of {', '.join(TOPICS)}; got {topic!r}")
    return tuple(q for t in _load() if topic in (None, t.name) for q in t.questions)


def get_question(id: str) -> Question:
    """The question with this id; KeyError if there is none."""
    for q in questions():
        if q.id == id:
            return q
    raise KeyError(id)


_LOADED: list = []


def _load() -> tuple[Topic, ...]:
    """The parsed registry, computed once per process (``_load.cache_clear()`` forgets it)."""
    if _LOADED:
        return _LOADED[0]
    paths = [os.path.join(_PACKAGE_DIR, f"{name}.py") for name in (*TOPICS, "_registry")]
    stamp = _stamp(paths)
    result = _read_cache(stamp) if stamp else None
    if result is None:
        result = tuple(_parse_topic(name) for name in TOPICS)
        if stamp:
            _write_cache(stamp, result)
    ids = [q.id for t in result for q in t.questions]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise RuntimeError(f"question ids must be unique; repeated: {', '.join(duplicated)}")
    _LOADED.append(result)
    return result


_load.cache_clear = _LOADED.clear


# The parsed registry is cached like bytecode, in nnfaq/__pycache__, with the size and
# modification time of every topic module and of this file; it is used only while they are
# unchanged, and silently skipped when the folder is not writable. Like bytecode it is not written
# under PYTHONDONTWRITEBYTECODE (or -B); NNFAQ_NO_CACHE=1 ignores it altogether.


def _cache_file() -> str:
    return os.path.join(_PACKAGE_DIR, "__pycache__", "nnfaq-registry.marshal")


def _stamp(paths: list[str]) -> str | None:
    if os.environ.get("NNFAQ_NO_CACHE"):
        return None
    try:
        files = "|".join(f"{p}:{s.st_mtime_ns}:{s.st_size}" for p in paths for s in [os.stat(p)])
    except OSError:
        return None
    return f"{sys.version}|{files}"  # marshal's format may change between Python versions


def _read_cache(stamp: str) -> tuple[Topic, ...] | None:
    import marshal

    try:
        with open(_cache_file(), "rb") as f:
            saved_stamp, data = marshal.load(f)
        if saved_stamp != stamp:
            return None
        return tuple(
            Topic(name, title, intro, tuple(Question(*q[:-1], tuple(Mistake(*m) for m in q[-1])) for q in qs), public)
            for name, title, intro, qs, public in data
        )
    except (OSError, ValueError, EOFError, TypeError):
        return None


def _write_cache(stamp: str, topics: tuple[Topic, ...]) -> None:
    if sys.dont_write_bytecode:  # PYTHONDONTWRITEBYTECODE / -B: the user asked for no cache files
        return
    import marshal

    data = tuple(
        (t.name, t.title, t.intro, tuple((*q[:-1], tuple(tuple(m) for m in q.mistakes)) for q in t.questions), t.public)
        for t in topics
    )
    path = _cache_file()
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            marshal.dump((stamp, data), f)
        os.replace(tmp, path)
    except OSError:
        pass


def _parse_topic(name: str) -> Topic:
    import ast

    path = os.path.join(_PACKAGE_DIR, f"{name}.py")
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), filename=path)
    module_doc = ast.get_docstring(tree) or ""
    title, _, intro = module_doc.partition("\n")
    if not title.strip():
        raise RuntimeError(f"{path}: the module docstring's first line must be the topic title")
    found = []
    for node in tree.body:
        qid = _question_id(node)
        if qid is not None:
            found.append(_parse_question(qid, name, node, path))
    return Topic(name, title.strip(), intro.strip(), tuple(found), _public_names(tree))


def _question_id(node) -> str | None:
    import ast

    if not isinstance(node, ast.FunctionDef | ast.ClassDef):
        return None
    for deco in node.decorator_list:
        if isinstance(deco, ast.Call) and getattr(deco.func, "id", None) == "question":
            arg = deco.args[0] if deco.args else None
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                return arg.value
            raise RuntimeError(f"line {deco.lineno}: @question needs the id as a string literal")
    return None


def _parse_question(qid: str, topic: str, node, path: str) -> Question:
    import ast

    where = f"{os.path.basename(path)}:{node.lineno} ({node.name})"
    doc = ast.get_docstring(node) or ""
    paragraphs = _paragraphs(doc.split("\nParameters\n")[0])
    # paragraph 0 is the summary line, paragraph 1 the bold question, then the answer
    match = _re("question").match(paragraphs[1]) if len(paragraphs) > 2 else None
    if match is None:
        raise RuntimeError(f"{where}: after the summary line the docstring needs the question as **...?**")
    answer = []
    for para in paragraphs[2:]:
        if para.startswith(".. ") or _re("section").match(para):
            break
        answer.append(para)
    if not answer:
        raise RuntimeError(f"{where}: the question needs a plain answer right after it")
    text = " ".join(match["text"].split())
    return Question(qid, topic, f"nnfaq.{topic}.{node.name}", text, "\n\n".join(answer), doc, _mistakes(doc))


def _mistakes(doc: str) -> tuple[Mistake, ...]:
    import textwrap

    found = []
    for m in _re("mistake").finditer(doc + "\n"):
        paras = _paragraphs(textwrap.dedent(m[2]))
        if len(paras) < 2:
            raise RuntimeError("a 'Common mistake' admonition needs the claim, then the correction")
        found.append(Mistake(" ".join(paras[0].split()), "\n\n".join(paras[1:])))
    return tuple(found)


def _public_names(tree) -> tuple[str, ...]:
    import ast

    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            return tuple(ast.literal_eval(node.value))
    return ()


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in _re("paragraph").split(text.strip()) if p.strip()]


def _section(doc: str, name: str) -> str:
    import re

    match = re.search(rf"^{name}\n-+\n(.*?)(?=^\S.*\n-{{3,}}\n|\Z)", doc, re.MULTILINE | re.DOTALL)
    return match[1].strip() if match else ""
