"""Plain text from the registry's reStructuredText, for the terminal and the docs' plain-text places.

:func:`plain` turns inline markup into text a reader need not decode (roles, literals, emphasis,
links, ``:math:``); :func:`math` turns LaTeX math into readable Unicode (``\\frac{\\partial L}{\\partial
w}`` reads ``∂L/∂w``, ``W^\\top`` reads ``Wᵀ``); :func:`math_blocks` finds the ``.. math::``
directives of a docstring; :func:`wrap` and :func:`paragraphs` re-wrap prose with :mod:`textwrap`.
Nothing here imports more than :mod:`re`, :mod:`textwrap` (when text is wrapped) and (for math)
:mod:`unicodedata`.
"""

from __future__ import annotations

import re

__all__ = ["math", "math_blocks", "paragraphs", "plain", "wrap"]


# --- rst inline markup ---------------------------------------------------------------------------

# Patterns are strings: re compiles each on first use and keeps it, so a command pays only for
# the ones it uses (``nnfaq list`` never reads math).
_LINK = r"`([^`<]+?)\s*<([^>]+)>`__?"  # `title <https://...>`_
_MATH_ROLE = r":math:`([^`]+)`"
_ROLE = r":(?:py:)?([a-z]+):`([^`]+)`"
_LITERAL = r"(?s)``(.+?)``"
_STRONG = r"(?s)\*\*(\S(?:.*?\S)?)\*\*"
_EMPHASIS = r"(?s)(?<![\w*])\*(\S(?:.*?\S)?)\*(?![\w*])"
_CITATION = r"(\[\w+\])_(?!\w)"  # [1]_
_DEFAULT_ROLE = r"(?<![\w`])`([^`]+)`_?(?![\w`])"  # `default role`, `named link`_
_TITLED_TARGET = r"(.+?)\s*<(.+)>"


def plain(text: str) -> str:
    """reStructuredText inline markup turned into plain terminal text.

    ``:func:`~a.b.f``` becomes ``f()``, ``:math:`x``` becomes readable Unicode (:func:`math`),
    double back-quoted literals and ``**bold**`` lose their markers, links keep their text and show
    the address.

    >>> plain("use :func:`~torch.nn.functional.dropout` with ``training=self.training``")
    'use dropout() with training=self.training'
    >>> plain(r"a variance of :math:`2/(\\text{fan\\_in}+\\text{fan\\_out})`")
    'a variance of 2/(fan_in+fan_out)'
    """
    for mark, pattern, replacement in _INLINE:
        if mark in text:  # most texts have no markup, or only ``literals``
            text = re.sub(pattern, replacement, text)
    return text.replace("\\ ", "")


def _math_role(match: re.Match) -> str:
    return math(match[1])


def _role_name(match: re.Match) -> str:
    role, target = match[1], match[2]
    titled = re.fullmatch(_TITLED_TARGET, target)
    if titled:
        return titled[1]
    callable_role = role in ("func", "meth")
    if callable_role:
        target = target.removesuffix("()")
    name = target[1:].rpartition(".")[2] if target.startswith("~") else target
    return name + "()" if callable_role else name


#: (a character every match contains, pattern, replacement), in the order they apply
_INLINE = (
    ("<", _LINK, r"\1 (\2)"),
    (":math:", _MATH_ROLE, _math_role),
    (":`", _ROLE, _role_name),
    ("``", _LITERAL, r"\1"),
    ("**", _STRONG, r"\1"),
    ("*", _EMPHASIS, r"\1"),
    ("]_", _CITATION, r"\1"),
    ("`", _DEFAULT_ROLE, r"\1"),
)


# --- LaTeX math ----------------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    return text.split()


def _table(text: str) -> dict[str, str]:
    """``"alpha α beta β"`` as ``{"alpha": "α", "beta": "β"}``."""
    items = text.split()
    return dict(zip(items[::2], items[1::2], strict=True))


_GREEK = (
    "alpha α beta β gamma γ delta δ epsilon ϵ varepsilon ε zeta ζ eta η theta θ vartheta ϑ iota ι kappa κ "
    "lambda λ mu μ nu ν xi ξ pi π varpi ϖ rho ρ varrho ϱ sigma σ varsigma ς tau τ upsilon υ phi ϕ varphi φ "
    "chi χ psi ψ omega ω Gamma Γ Delta Δ Theta Θ Lambda Λ Xi Ξ Pi Π Sigma Σ Upsilon Υ Phi Φ Psi Ψ Omega Ω"
)
_ORDINARY = (
    "partial ∂ nabla ∇ sum ∑ prod ∏ coprod ∐ int ∫ oint ∮ infty ∞ ell ℓ hbar ℏ forall ∀ exists ∃ neg ¬ "
    "emptyset ∅ varnothing ∅ pm ± mp ∓ top ⊤ bot ⊥ prime ′ star ⋆ ast ∗ dots … ldots … cdots ⋯ vdots ⋮ "
    "ddots ⋱ Vert ‖ vert | langle ⟨ rangle ⟩ lfloor ⌊ rfloor ⌋ lceil ⌈ "
    "rceil ⌉ lbrace { rbrace } backslash ∖ angle ∠ triangle △ Box □ checkmark ✓ dagger † aleph ℵ Re ℜ Im ℑ"
)
_RELATIONS = (
    "le ≤ leq ≤ ge ≥ geq ≥ ne ≠ neq ≠ approx ≈ sim ∼ simeq ≃ cong ≅ equiv ≡ propto ∝ ll ≪ gg ≫ "
    "leftarrow ← gets ← rightarrow → to → Leftarrow ⇐ Rightarrow ⇒ leftrightarrow ↔ Leftrightarrow ⇔ "
    "implies ⟹ impliedby ⟸ iff ⟺ mapsto ↦ longrightarrow ⟶ longleftarrow ⟵ uparrow ↑ downarrow ↓ "
    "in ∈ notin ∉ ni ∋ subset ⊂ subseteq ⊆ supset ⊃ supseteq ⊇ cup ∪ cap ∩ setminus ∖ wedge ∧ land ∧ "
    "vee ∨ lor ∨ cdot · times × div ÷ odot ⊙ otimes ⊗ oplus ⊕ circ ∘ bullet • mid | parallel ∥ perp ⊥ bmod mod "
    "coloneqq ≔ triangleq ≜ prec ≺ succ ≻ models ⊨ vdash ⊢"
)
_FUNCTIONS = (
    "log ln lg exp sin cos tan cot sec csc sinh cosh tanh coth arcsin arccos arctan max min sup inf lim "
    "liminf limsup arg det dim ker hom deg gcd Pr"
)
_IGNORED = (
    "left right big Big bigg Bigg bigl bigr Bigl Bigr biggl biggr Biggl Biggr middle displaystyle textstyle "
    "scriptstyle scriptscriptstyle limits nolimits nonumber notag relax strut"
)
_SPACES = {",": " ", ":": " ", ";": " ", " ": " ", ">": " ", "!": "", "quad": " ", "qquad": " "}
_ESCAPED = {"{": "{", "}": "}", "_": "_", "%": "%", "#": "#", "&": "&", "$": "$", "|": "‖"}
#: styles whose argument is text (spaces kept) or math set in another face (read as math)
_TEXT_STYLES = frozenset(_words("text textrm textit textbf texttt textsf textnormal emph mbox hbox"))
_MATH_STYLES = frozenset(
    _words(
        "mathrm mathit mathbf mathsf mathtt mathcal mathscr mathfrak boldsymbol bm operatorname mathop "
        "mathrel mathbin mathord mathnormal"
    )
)
_ACCENTS = {
    "hat": "\u0302",
    "widehat": "\u0302",
    "bar": "\u0304",
    "overline": "\u0305",
    "tilde": "\u0303",
    "widetilde": "\u0303",
    "dot": "\u0307",
    "ddot": "\u0308",
    "vec": "\u20d7",
    "check": "\u030c",
    "breve": "\u0306",
    "acute": "\u0301",
    "grave": "\u0300",
}
_BLACKBOARD = {"R": "ℝ", "N": "ℕ", "Z": "ℤ", "Q": "ℚ", "C": "ℂ", "E": "𝔼", "P": "ℙ", "1": "𝟙"}
_VULGAR = {("1", "2"): "½", ("1", "3"): "⅓", ("2", "3"): "⅔", ("1", "4"): "¼", ("3", "4"): "¾"}
_SUPERSCRIPT = dict(zip("0123456789+-=()niT⊤*⋆∗′'", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱᵀᵀ***′′", strict=True))
_SUBSCRIPT = dict(zip("0123456789+-=()", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎", strict=True))
_MATRICES = frozenset(_words("matrix pmatrix bmatrix Bmatrix vmatrix Vmatrix smallmatrix array"))

_TOKEN = r"(?s)\\[A-Za-z]+\*?|\\.|\s+|."
# a piece that needs no parentheses as a numerator, denominator or script: one word, one
# bracketed group, a root of either
_ATOMIC = r"[\w.′'*∂∇√ℓ∞\u0300-\u036f\u20d7]+"
_CELL, _ROW = "\x01", "\x02"  # & and \\ while an environment is read
# opening and closing bars, told apart until the tidy pass drops the blank inside them
_DELIMITERS = {"lVert": "\x03", "rVert": "\x04", "lvert": "\x05", "rvert": "\x06"}
_BARS = str.maketrans("\x03\x04\x05\x06", "‖‖||")
_OPENING, _CLOSING = re.escape("([⟨⌊⌈\x03\x05"), re.escape(")]⟩⌋⌉\x04\x06")  # for [...] in patterns
#: commands after which TeX's rule (spaces after a control word do not count) is kept: prefix
#: operators and layout commands; after a Greek letter the source's blank is kept, as it reads
_EATS_SPACE = frozenset({"partial", "nabla", "pm", "mp", "neg", "forall", "exists"})
_SCRIPT_CHARS = frozenset("⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱᵀ′₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎")
_SYMBOLS = {**_table(_GREEK), **_table(_ORDINARY)}
_RELATION_SYMBOLS = _table(_RELATIONS)
_FUNCTION_NAMES = frozenset(_words(_FUNCTIONS))
_IGNORED_NAMES = frozenset(_words(_IGNORED))


def math(latex: str, display: bool = False) -> str:
    r"""LaTeX math as readable Unicode plain text (no backslash commands left).

    Greek letters and operators become their symbols, ``\frac{a}{b}`` becomes ``a/b`` (with
    parentheses where the parts need them), ``\sqrt{x}`` becomes ``√x``, digit scripts and ``\top``
    become Unicode scripts, other scripts stay ``x_i`` and ``x^(k+1)``, ``\text{...}`` keeps its
    words, and sizing commands disappear. An unknown command is kept as its name, never dropped.
    With ``display``, the rows of ``aligned`` (and of the top level) go on separate lines.

    >>> math(r"\frac{\partial L}{\partial w}")
    '∂L/∂w'
    >>> math(r"y_i = \frac{m_i\,x_i}{1-p}, \qquad \mathbb{E}[y_i] = x_i")
    'y_i = (m_i x_i)/(1-p), 𝔼[y_i] = x_i'
    >>> math(r"\mathrm{Var}(w) = \tfrac{1}{2}\,\text{fan\_in}^{-1} \le W^\top W")
    'Var(w) = ½ fan_in⁻¹ ≤ Wᵀ W'
    """
    text = _Reader(latex).read()
    row = "\n" if display else "; "
    text = text.replace(_CELL, " ").replace(_ROW, row)
    lines = [_tidy(line) for line in text.split("\n")]
    import unicodedata

    return unicodedata.normalize("NFC", "\n".join(line for line in lines if line))  # y + hat is ŷ


def _tidy(text: str) -> str:
    text = " ".join(text.split())
    text = re.sub(f"(?<=[{_OPENING}]) ", "", text)  # no blank inside brackets
    text = re.sub(f" (?=[{_CLOSING},;])", "", text)
    text = re.sub(r" ([+\-*/:]) = ", r" \1= ", text)  # \mathrel{+}= reads +=
    return text.translate(_BARS)


_GROUP = f"[{_OPENING}][^{_OPENING}{_CLOSING}]*[{_CLOSING}]"


def _atomic(text: str) -> bool:
    """One operand: a word, with any brackets, scripts and roots (``∂W_(j,:)``, ``σ(z)``, ``‖w‖²``)."""
    while True:  # bracketed groups, innermost first, count as one letter
        text, n = re.subn(_GROUP, "x", text)
        if not n:
            break
    return bool(re.fullmatch(_ATOMIC, text.replace("√", "")))


def _wrapped(text: str) -> str:
    return text if not text or _atomic(text) else f"({text})"


def _needs_space(after: str, following: str) -> bool:
    if following in _SCRIPT_CHARS:
        return False
    if after in ("word", "script"):
        return following.isalnum() or (after == "word" and following in "∑∏∫∂∇√")
    if after == "fraction":
        return not following.isspace() and following not in "),;]}=+-/^_·!.'′"
    return False


def _script(content: str, sup: bool) -> str:
    content = re.sub(r"\s*=\s*", "=", content.strip())
    table = _SUPERSCRIPT if sup else _SUBSCRIPT
    if content and all(c in table for c in content):
        return "".join(table[c] for c in content)
    nested = "_" in content or "^" in content  # w_(y_i), not w_y_i
    return ("^" if sup else "_") + (f"({content})" if nested else _wrapped(content))


class _Reader:
    """A small recursive reader of LaTeX math: one pass over the tokens, building text."""

    def __init__(self, latex: str) -> None:
        self.tokens = re.findall(_TOKEN, latex)
        self.i = 0

    def read(self) -> str:
        return self.sequence(until=None)

    def peek(self) -> str:
        return self.tokens[self.i] if self.i < len(self.tokens) else ""

    def take(self) -> str:
        token = self.peek()
        self.i += 1
        return token

    def skip_space(self) -> None:
        while self.peek().isspace():
            self.i += 1

    def sequence(self, until: str | None = "}") -> str:
        """Text up to ``until`` (not taken), or to an ``\\end``, or to the end (``until=None``)."""
        out: list[str] = []
        after = ""  # "word" after a function name (log x), "fraction" after a fraction (1/B x)
        while self.i < len(self.tokens):
            token = self.peek()
            if until is not None and token in (until, "\\end"):
                break
            self.i += 1
            start = self.i
            piece, kind = self.token(token)
            name = token[1:]
            if self.i == start and (kind == "word" or name in _EATS_SPACE or name in _IGNORED_NAMES):
                self.skip_space()
            if after == "word" and kind == "fraction":
                piece = f"({piece})"  # log((1 - ε)/ε), not log(1 - ε)/ε
            elif piece and out and not out[-1][-1:].isspace() and _needs_space(after, piece[0]):
                out.append(" ")
            out.append(piece)
            after = kind or (after if not piece else "")
        return "".join(out)

    def token(self, token: str) -> tuple[str, str]:
        """The text of one token (reading its arguments) and its kind: "word", "fraction" or ""."""
        if token == "{":
            inner = self.sequence()
            if self.peek() == "}":
                self.take()
            return inner, ""
        if token == "}":
            return "", ""  # unbalanced: ignore it
        if token in ("_", "^"):
            script = _script(self.argument(), sup=token == "^")
            return script, "script" if script[:1] in "_^" else ""
        if token in ("=", "<", ">"):
            return f" {token} ", ""
        if token == "&":
            return _CELL, ""
        if token == "~" or token.isspace():
            return " ", ""
        if not token.startswith("\\"):
            return token, ""
        return self.command(token[1:])

    def command(self, name: str) -> tuple[str, str]:
        if name == "\\":
            return _ROW, ""
        if name in _SPACES:
            return _SPACES[name], ""
        if name in _ESCAPED:
            return _ESCAPED[name], ""
        if name in _DELIMITERS:
            return _DELIMITERS[name], ""
        if name in _SYMBOLS:
            return _SYMBOLS[name], ""
        if name in _RELATION_SYMBOLS:
            return f" {_RELATION_SYMBOLS[name]} ", ""
        if name in _FUNCTION_NAMES:
            return name, "word"
        if name in _IGNORED_NAMES:
            if name in ("left", "right", "middle"):
                self.skip_space()
                if self.peek() == ".":
                    self.take()  # \left. is an invisible delimiter
            return "", ""
        base = name.rstrip("*")
        if base in _TEXT_STYLES:
            return self.text_argument(), ""
        if base in _MATH_STYLES:
            inner = self.argument()
            return inner, "word" if base == "operatorname" else ""
        if base == "mathbb":
            inner = self.argument()
            return "".join(_BLACKBOARD.get(c, c) for c in inner), ""
        if base in _ACCENTS:
            inner = self.argument()
            return "".join(c + _ACCENTS[base] if c.isalnum() else c for c in inner), ""
        if base in ("frac", "dfrac", "tfrac", "cfrac"):
            num, den = self.argument(), self.argument()
            return _VULGAR.get((num, den)) or f"{_wrapped(num)}/{_wrapped(den)}", "fraction"
        if base == "binom":
            n, k = self.argument(), self.argument()
            return f"C({n}, {k})", ""
        if base == "sqrt":
            degree = self.optional()
            root = {"": "√", "3": "∛", "4": "∜"}.get(degree, f"{degree}√")
            return root + _wrapped(self.argument()), ""
        if base in ("underbrace", "overbrace"):
            inner = self.argument()
            self.skip_space()
            if self.peek() in ("_", "^"):  # the brace's label names the part; the part is what matters
                self.take()
                self.argument()
            return _wrapped(inner), ""
        if base in ("label", "tag", "hspace", "vspace", "phantom", "hphantom", "vphantom"):
            self.argument()
            return "", ""
        if base == "begin":
            return self.environment(self.text_argument()), ""
        if base == "end":
            self.text_argument()
            return "", ""
        return base, "word"  # unknown: its name, as a word

    def argument(self) -> str:
        """One argument: a braced group, one command (with its own arguments) or one character."""
        self.skip_space()
        token = self.take()
        if not token:
            return ""
        if token.startswith("\\") and token[1:2].isalpha():
            piece = self.token(token)[0]
            return piece.strip() if piece.strip() else piece
        return self.token(token)[0]

    def optional(self) -> str:
        self.skip_space()
        if self.peek() != "[":
            return ""
        self.take()
        inside = self.sequence(until="]")
        if self.peek() == "]":
            self.take()
        return inside

    def text_argument(self) -> str:
        """A braced argument read as text: spaces kept, ``\\_`` and friends unescaped, ``$...$`` as math."""
        self.skip_space()
        if self.peek() != "{":
            return self.take()
        self.take()
        out, depth = [], 0
        while self.i < len(self.tokens):
            token = self.take()
            if token == "{":
                depth += 1
            elif token == "}":
                if depth == 0:
                    break
                depth -= 1
            elif token.startswith("\\") and len(token) > 1:
                out.append(self.command(token[1:])[0])
            else:
                out.append(token)
        return "".join(out)

    def environment(self, name: str) -> str:
        body = self.sequence()
        if self.peek() == "\\end":
            self.take()
            self.text_argument()
        rows = [row.split(_CELL) for row in body.split(_ROW)]
        rows = [[" ".join(cell.split()) for cell in row] for row in rows if "".join(row).strip()]
        if name.rstrip("*") == "cases":
            return "{ " + "; ".join(", ".join(c for c in row if c) for row in rows) + " }"
        if name.rstrip("*") in _MATRICES:
            return "[" + "; ".join(", ".join(row) for row in rows) + "]"
        return _ROW.join(" ".join(row) for row in rows)  # aligned, gathered, split: one row a line


# --- math blocks and wrapping --------------------------------------------------------------------

_MATH_BLOCK = r"(?m)^( *)\.\. math::[^\n]*\n((?:\1 +\S.*\n|[ \t]*\n)+)"
_BLANK = r"\n\s*\n"
_BULLET = r"\n(?=\s*(?:[-*+]|\d+\.) )"
_BULLET_HEAD = r"\s*((?:[-*+]|\d+\.) )"


_DISPLAY = "\x00"  # marks the rows of a rendered math block among the paragraphs


def _math_paragraph(match: re.Match) -> str:
    rows = math(_block_latex(match), display=True).splitlines()
    return "\n\n" + "\n".join(_DISPLAY + row for row in rows) + "\n\n"


def _block_latex(match: re.Match) -> str:
    import textwrap  # imported when used: most commands never wrap text

    body = textwrap.dedent(match[2]).strip()
    return "\n".join(line for line in body.splitlines() if not re.match(r":\w+:", line)).strip()


def math_blocks(rst: str) -> list[str]:
    """The LaTeX of each ``.. math::`` directive in ``rst``, in order (options such as ``:label:`` left out).

    >>> math_blocks(".. math::\\n\\n    y = x W^\\\\top + b\\n\\nAfter.")
    ['y = x W^\\\\top + b']
    """
    return [_block_latex(match) for match in re.finditer(_MATH_BLOCK, rst + "\n")]


def wrap(text: str, width: int, head: str = "", indent: str | None = None) -> list[str]:
    """``text`` (its blanks collapsed) wrapped to ``width`` columns after ``head``; later lines start
    with ``indent`` (blanks as wide as ``head`` unless given). A word longer than a line is kept whole."""
    text = " ".join(text.split())
    if len(head) + len(text) <= width:
        return [(head + text).rstrip()]  # most lines fit: no need to wrap
    import textwrap

    indent = " " * len(head) if indent is None else indent
    return textwrap.wrap(
        text,
        width,
        initial_indent=head,
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    ) or [head.rstrip()]


def paragraphs(rst: str, width: int, indent: str = "") -> list[str]:
    """rst prose as plain lines re-wrapped to ``width``: paragraphs separated by a blank line, bullet
    items kept apart with their continuation lines under the text, a ``.. math::`` block as
    :func:`math` rows indented under the text."""
    import textwrap

    rst = re.sub(_MATH_BLOCK, _math_paragraph, textwrap.dedent(rst).strip() + "\n")
    lines: list[str] = []
    for i, para in enumerate(re.split(_BLANK, rst.strip())):
        if i:
            lines.append("")
        if para.startswith(_DISPLAY):
            lines += [indent + "  " + row for row in para.replace(_DISPLAY, "").splitlines()]
            continue
        for item in re.split(_BULLET, para):
            bullet = re.match(_BULLET_HEAD, item)
            head = bullet[1] if bullet else ""
            body = plain(" ".join(item[bullet.end() if bullet else 0 :].split()))
            lines += wrap(body, width, head=indent + head)
    return lines
