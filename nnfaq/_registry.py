"""The question registry: every interview question, read from the concept functions' source.

A question is declared once, on the function that answers it::

    @question(
        "dropout-train-vs-eval",
        level="basic",
        short="In training, dropout zeroes each unit with probability p and scales the survivors ...",
        followups=("weight-decay-vs-l2", "batch-norm-train-vs-eval"),
    )
    def dropout(input, p=0.5, training=True):
        r'''Inverted dropout: ... (summary line)

        **Does dropout behave differently in training and evaluation?**

        The deep dive: the full answer, two to four sentences, then math, proof, notes.
        ...

``short`` is the 30-second answer a strong candidate says aloud (at most :data:`SHORT_MAX_WORDS`
words, correct on its own), ``level`` one of :data:`LEVELS`, ``followups`` the ids of the one to
three questions an interviewer asks next. They live in the decorator, not the docstring, so the
docstring stays valid numpydoc.

The registry reads the topic modules with :mod:`ast` instead of importing them, so listing and
searching questions never imports torch. Topics are grouped into parts: ``nnfaq/<part>/`` is a
subpackage whose ``__init__.py`` holds only the part's title, introduction and the tuple
``TOPICS`` of its topic modules, in site order; parts are listed in :data:`PARTS`.
"""

from __future__ import annotations

import os
import sys
from collections import namedtuple
from functools import cache

#: Part subpackages of :mod:`nnfaq`, in the order the site and the CLI show them.
PARTS: tuple[str, ...] = (
    "foundations",
    "training",
    "convnets",
    "sequences",
    "representations",
    "transformers",
    "efficiency",
    "post_training",
)

#: The levels a question can have, from easiest (as question banks tag [E]/[M]/[H]).
LEVELS: tuple[str, ...] = ("basic", "intermediate", "advanced")

#: The longest a 30-second answer may be, in words.
SHORT_MAX_WORDS = 60

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_PATTERNS: dict = {}


def _re(name: str):
    """The compiled pattern ``name``; ``re`` is imported on first use only (``nnfaq list`` starts without it)."""
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


class Mistake(namedtuple("Mistake", "claim correction")):
    """A wrong or half-true statement that circulates, and its correction.

    Parameters
    ----------
    claim : str
        The statement, as interview notes put it.
    correction : str
        What is true instead (rst), proven by the examples of the question it belongs to.

    Examples
    --------
    >>> all(m.claim and m.correction for q in questions() for m in q.mistakes)
    True
    """

    __slots__ = ()


class Question(namedtuple("Question", "id part topic function text short level followups answer docstring mistakes")):
    """One interview question and the concept function that answers it.

    Parameters
    ----------
    id : str
        Stable kebab-case id: the answer's anchor on the site (``#q-<id>``) and its name in the CLI.
    part, topic : str
        The part subpackage and topic module that answer it.
    function : str
        Fully qualified name of the concept function, e.g. ``"nnfaq.training.regularization.dropout"``.
    text : str
        The question.
    short : str
        The 30-second answer (rst inline markup), at most ``SHORT_MAX_WORDS`` (60) words.
    level : str
        One of :data:`LEVELS`.
    followups : tuple of str
        Ids of the questions an interviewer asks next.
    answer : str
        The deep answer's first paragraphs (rst).
    docstring : str
        The whole docstring, with the proof in its Examples section.
    mistakes : tuple of Mistake
        The wrong answers that circulate, corrected.

    Examples
    --------
    >>> q = get_question("dropout-train-vs-eval")
    >>> q.part, q.topic, q.function
    ('training', 'regularization', 'nnfaq.training.regularization.dropout')
    >>> q.level in LEVELS and 0 < len(q.short.split()) <= SHORT_MAX_WORDS
    True
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Question({self.id!r}: {self.text!r})"

    @property
    def examples(self) -> str:
        """The docstring's Examples section: the proof.

        Returns
        -------
        str

        Examples
        --------
        >>> ">>> " in get_question("dropout-train-vs-eval").examples
        True
        """
        return _section(self.docstring, "Examples")


class Topic(namedtuple("Topic", "name part title intro questions public kinds")):
    """A topic module of a part.

    Parameters
    ----------
    name, part : str
        The module's name and its part's, e.g. ``"regularization"`` in ``"training"``.
    title, intro : str
        The module docstring's first line and the paragraph after it.
    questions : tuple of Question
        Its questions, in source order.
    public : tuple of str
        Its ``__all__``.
    kinds : tuple of (str, str)
        What each name of ``public`` is, from its top-level definition: ``"class"``, ``"function"``
        or ``"data"``.

    Examples
    --------
    >>> t = topics("training")[0]
    >>> t.module == f"nnfaq.training.{t.name}" and all(q.topic == t.name for q in t.questions)
    True
    """

    __slots__ = ()

    def __repr__(self) -> str:
        n = len(self.questions)
        return f"Topic({self.name!r}: {self.title!r}, {n} question{'' if n == 1 else 's'})"

    @property
    def module(self) -> str:
        return f"nnfaq.{self.part}.{self.name}"


class Part(namedtuple("Part", "name title intro topics")):
    """A part subpackage: a group of topics with a title and an introduction.

    Parameters
    ----------
    name : str
        The subpackage, one of :data:`PARTS`.
    title, intro : str
        Its ``__init__`` docstring's first line and the paragraph after it.
    topics : tuple of Topic
        Its topics, in the order of its ``TOPICS``.

    Examples
    --------
    >>> [p.name for p in parts()] == list(PARTS)
    True
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Part({self.name!r}: {self.title!r}, {len(self.topics)} topics)"

    @property
    def module(self) -> str:
        return f"nnfaq.{self.name}"

    @property
    def questions(self) -> tuple[Question, ...]:
        return tuple(q for t in self.topics for q in t.questions)


def question(id: str, *, level: str | None = None, short: str | None = None, followups=()):
    """Mark the decorated function as the answer to the question in its docstring.

    The registry reads the arguments from source (they must be literals); the decorator only
    checks them and marks the function.

    Parameters
    ----------
    id : str
        Stable kebab-case id: it names the answer's anchor on the site and in the CLI.
    level : {"basic", "intermediate", "advanced"}
        How hard the question is.
    short : str
        The 30-second answer: what a strong candidate says aloud, correct on its own.
    followups : tuple of str, default ()
        Ids of the one to three questions an interviewer asks next.

    Returns
    -------
    callable
        The decorator, which returns the function unchanged but for ``__nnfaq_question__``.

    Examples
    --------
    >>> @question("what-is-two", level="basic", short="Two.")
    ... def two():
    ...     return 2
    >>> two.__nnfaq_question__, two()
    ('what-is-two', 2)
    """
    if not isinstance(id, str) or not _re("id").match(id):
        raise ValueError(f"id must be a kebab-case string such as 'dropout-train-vs-eval', got {id!r}")
    if level is not None and level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}; got {level!r}")
    if short is not None and not isinstance(short, str):
        raise TypeError(f"short must be a string, got {type(short).__name__}")
    if isinstance(followups, str) or not all(isinstance(f, str) for f in followups):
        raise TypeError(f"followups must be a tuple of question ids, got {followups!r}")

    def mark(fn):
        fn.__nnfaq_question__ = id
        return fn

    return mark


def parts() -> tuple[Part, ...]:
    """Every part, in site order, each with its topics.

    Returns
    -------
    tuple of Part

    Examples
    --------
    >>> all(t.part == p.name for p in parts() for t in p.topics)
    True
    """
    return _load()


def topics(part: str | None = None) -> tuple[Topic, ...]:
    """Every topic, in site order, each with its questions in source order.

    Parameters
    ----------
    part : str, optional
        Only the topics of this part (one of :data:`PARTS`).

    Returns
    -------
    tuple of Topic

    Examples
    --------
    >>> {t.part for t in topics("convnets")}
    {'convnets'}
    """
    if part is not None and part not in PARTS:
        raise ValueError(f"part must be one of {', '.join(PARTS)}; got {part!r}")
    return tuple(t for p in _load() if part in (None, p.name) for t in p.topics)


def topic_names() -> tuple[str, ...]:
    """The names of every topic module, in site order.

    Returns
    -------
    tuple of str

    Examples
    --------
    >>> topic_names() == tuple(t.name for t in topics())
    True
    """
    return tuple(t.name for t in topics())


def questions(topic: str | None = None, *, part: str | None = None, level: str | None = None) -> tuple[Question, ...]:
    """Every question in a stable order: by part, topic, then source position.

    Parameters
    ----------
    topic : str, optional
        Only this topic's questions.
    part : str, optional
        Only this part's questions.
    level : str, optional
        Only the questions of this level (one of :data:`LEVELS`).

    Returns
    -------
    tuple of Question

    Examples
    --------
    >>> basic = questions(level="basic")
    >>> 0 < len(basic) < len(questions()) and all(q.level == "basic" for q in basic)
    True
    """
    names = topic_names()
    if topic is not None and topic not in names:
        raise ValueError(f"topic must be one of {', '.join(names)}; got {topic!r}")
    if level is not None and level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}; got {level!r}")
    return tuple(q for t in topics(part) if topic in (None, t.name) for q in t.questions if level in (None, q.level))


def get_question(id: str) -> Question:
    """The question with this id.

    Parameters
    ----------
    id : str
        A question id, as ``nnfaq list`` shows them.

    Returns
    -------
    Question

    Raises
    ------
    KeyError
        If there is none; the message suggests the closest ids.

    Examples
    --------
    >>> get_question("dropout-train-vs-eval").text.startswith("How does dropout")
    True
    >>> try:
    ...     get_question("dropout-train-eval")
    ... except KeyError as error:
    ...     message = error.args[0]
    >>> message.startswith("no question with id 'dropout-train-eval'; did you mean dropout-train-vs-eval")
    True
    """
    everything = questions()
    for q in everything:
        if q.id == id:
            return q
    import difflib

    close = difflib.get_close_matches(str(id), [q.id for q in everything], n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else "; `nnfaq list` shows every id"
    raise KeyError(f"no question with id {id!r}{hint}")


def _load() -> tuple[Part, ...]:
    """The parsed registry, computed once per process (``_load.cache_clear()`` forgets it)."""
    return _load_cached(_PACKAGE_DIR, PARTS)


def _check(result: tuple[Part, ...]) -> None:
    ids = [q.id for p in result for q in p.questions]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise RuntimeError(f"question ids must be unique; repeated: {', '.join(duplicated)}")
    # follow-up ids are checked by the tests and the site build (a :ref: to a missing answer fails it)


@cache
def _load_cached(package_dir: str, part_names: tuple[str, ...]) -> tuple[Part, ...]:
    part_files = [os.path.join(package_dir, name, "__init__.py") for name in part_names]
    stamp = _stamp([*part_files, os.path.abspath(__file__)])
    result = _read_cache(stamp, package_dir) if stamp else None
    if result is None:
        # the topic files' stamp is taken before they are read: a file edited while the registry is
        # parsed then no longer matches the cache, which is parsed again next time
        topic_stamp = _stamp(_listed_topic_files(package_dir, part_names)) if stamp else None
        result = tuple(_parse_part(package_dir, name) for name in part_names)
        if stamp and topic_stamp:
            _write_cache(stamp, topic_stamp, package_dir, result)
    _check(result)
    return result


_load.cache_clear = _load_cached.cache_clear


# The parsed registry is cached like bytecode, in nnfaq/__pycache__: parsing forty modules with ast
# costs more than Python's own start-up, and ``nnfaq list`` must start within 3x a bare Python.
# The cache holds the size and modification time of every module it read and is used only while
# they are unchanged. Like bytecode it is not written under PYTHONDONTWRITEBYTECODE (or -B);
# NNFAQ_NO_CACHE=1 ignores it altogether.


def _cache_file(package_dir: str) -> str:
    return os.path.join(package_dir, "__pycache__", "nnfaq-registry.marshal")


def _stamp(paths: list[str]) -> str | None:
    if os.environ.get("NNFAQ_NO_CACHE"):
        return None
    try:
        files = "|".join(f"{p}:{s.st_mtime_ns}:{s.st_size}" for p in paths for s in [os.stat(p)])
    except OSError:
        return None
    return f"{sys.version}|{files}"  # marshal's format may change between Python versions


def _topic_files(result: tuple[Part, ...], package_dir: str) -> list[str]:
    return [os.path.join(package_dir, p.name, f"{t.name}.py") for p in result for t in p.topics]


def _read_cache(stamp: str, package_dir: str) -> tuple[Part, ...] | None:
    import marshal

    try:
        with open(_cache_file(package_dir), "rb") as f:
            # loads of the whole file: marshal.load(f) reads the file object once per object (3 ms more)
            saved_stamp, topic_stamp, data = marshal.loads(f.read())
        if saved_stamp != stamp:
            return None
        result = tuple(
            Part(
                name,
                title,
                intro,
                tuple(
                    Topic(*t[:4], tuple(Question(*q[:-1], tuple(Mistake(*m) for m in q[-1])) for q in t[4]), *t[5:])
                    for t in ts
                ),
            )
            for name, title, intro, ts in data
        )
        if _stamp(_topic_files(result, package_dir)) != topic_stamp:
            return None
        return result
    except (OSError, ValueError, EOFError, TypeError):
        return None


def _listed_topic_files(package_dir: str, part_names: tuple[str, ...]) -> list[str]:
    """The topic modules the parts' TOPICS name (their __init__ files only are read)."""
    files = []
    for name in part_names:
        tree, _, _ = _read_module(os.path.join(package_dir, name, "__init__.py"))
        files += [os.path.join(package_dir, name, f"{topic}.py") for topic in _assigned(tree, "TOPICS") or ()]
    return files


def _write_cache(stamp: str, topic_stamp: str, package_dir: str, result: tuple[Part, ...]) -> None:
    if sys.dont_write_bytecode:  # PYTHONDONTWRITEBYTECODE / -B: the user asked for no cache files
        return
    import marshal

    data = tuple(
        (
            p.name,
            p.title,
            p.intro,
            tuple(
                (*t[:4], tuple((*q[:-1], tuple(tuple(m) for m in q.mistakes)) for q in t.questions), t.public, t.kinds)
                for t in p.topics
            ),
        )
        for p in result
    )
    path = _cache_file(package_dir)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            marshal.dump((stamp, topic_stamp, data), f)
        os.replace(tmp, path)
    except OSError:
        pass


def _read_module(path: str):
    import ast

    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), filename=path)
    doc = ast.get_docstring(tree) or ""
    title, _, intro = doc.partition("\n")
    if not title.strip():
        raise RuntimeError(f"{path}: the module docstring's first line must be the title")
    return tree, title.strip(), intro.strip()


def _parse_part(package_dir: str, name: str) -> Part:
    import ast

    path = os.path.join(package_dir, name, "__init__.py")
    tree, title, intro = _read_module(path)
    names = _assigned(tree, "TOPICS")
    if names is None:
        raise RuntimeError(f"{path}: a part needs TOPICS, the tuple of its topic modules")
    for node in tree.body[1:]:
        if not (isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "TOPICS"):
            raise RuntimeError(f"{path}:{node.lineno}: a part's __init__ holds only its docstring and TOPICS")
    return Part(name, title, intro, tuple(_parse_topic(package_dir, name, topic) for topic in names))


def _parse_topic(package_dir: str, part: str, name: str) -> Topic:
    path = os.path.join(package_dir, part, f"{name}.py")
    tree, title, intro = _read_module(path)
    found = []
    for node in tree.body:
        deco = _question_decorator(node)
        if deco is not None:
            found.append(_parse_question(deco, part, name, node, path))
    public = tuple(_assigned(tree, "__all__") or ())
    defined = _top_level_kinds(tree)
    missing = [n for n in public if n not in defined]
    if missing:
        raise RuntimeError(f"{path}: __all__ names {', '.join(missing)}, which the module does not define")
    return Topic(name, part, title, intro, tuple(found), public, tuple((n, defined[n]) for n in public))


def _top_level_kinds(tree) -> dict[str, str]:
    """``name -> "class"/"function"/"data"`` for a module's top-level definitions."""
    import ast

    kinds = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            kinds[node.name] = "class"
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            kinds[node.name] = "function"
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                if isinstance(target, ast.Name):
                    kinds[target.id] = "data"
    return kinds


def _question_decorator(node):
    import ast

    if not isinstance(node, ast.FunctionDef | ast.ClassDef):
        return None
    for deco in node.decorator_list:
        if isinstance(deco, ast.Call) and getattr(deco.func, "id", None) == "question":
            return deco
    return None


def _parse_question(deco, part: str, topic: str, node, path: str) -> Question:
    import ast

    where = f"{os.path.basename(path)}:{node.lineno} ({node.name})"
    try:
        qid = ast.literal_eval(deco.args[0])
        options = {k.arg: ast.literal_eval(k.value) for k in deco.keywords}
    except (IndexError, ValueError) as error:
        raise RuntimeError(f"{where}: @question takes literals only (the id, level, short, followups)") from error
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
    short = " ".join(str(options.get("short") or "").split())
    return Question(
        qid,
        part,
        topic,
        f"nnfaq.{part}.{topic}.{node.name}",
        text,
        short,
        options.get("level") or "",
        tuple(options.get("followups") or ()),
        "\n\n".join(answer),
        doc,
        _mistakes(doc),
    )


def _mistakes(doc: str) -> tuple[Mistake, ...]:
    import textwrap

    found = []
    for m in _re("mistake").finditer(doc + "\n"):
        paras = _paragraphs(textwrap.dedent(m[2]))
        if len(paras) < 2:
            raise RuntimeError("a 'Common mistake' admonition needs the claim, then the correction")
        found.append(Mistake(" ".join(paras[0].split()), "\n\n".join(paras[1:])))
    return tuple(found)


def _assigned(tree, name: str):
    import ast

    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return tuple(ast.literal_eval(node.value))
    return None


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in _re("paragraph").split(text.strip()) if p.strip()]


def _section(doc: str, name: str) -> str:
    import re

    match = re.search(rf"^{name}\n-+\n(.*?)(?=^\S.*\n-{{3,}}\n|\Z)", doc, re.MULTILINE | re.DOTALL)
    return match[1].strip() if match else ""
