"""Sphinx extension: the site's search lists the question a reader means first, opened at its heading.

Sphinx's search matches a query three ways: against index entries (scored 50-100, linked to their
anchor), section titles, and the words of whole pages (scored 5-15, linked to the top of the page).
A reader types "batchnorm", "BN" or "why scale attention", which no heading contains, so Sphinx
alone lists pages, the practice page and the cheat sheet (which hold every question) among them.
This extension uses Sphinx's two hooks for that:

- **Index entries at each question** (``q-<id>``): the id and the function name as phrases, the short
  phrases made of their words ("batch norm eval"), the ``A vs B`` pairs both ways round, the
  acronyms of the question text (KV, RoPE, GQA) and the synonyms of :data:`SYNONYMS` whose words the
  question uses (batch norm: batchnorm, BN, batch normalization). They are added once references are
  resolved, so they reach the search index but not the general index, whose entries stay the API's.
- **A search scorer** (``html_search_scorer``, written from the registry into the build folder): a
  page-wide hit on a topic page is pointed at the question whose words cover the query best; among
  hits on questions the best covered one comes first (its function's name, then its id, decide
  ties: "BN" is ``batch_norm``'s question); pages that gather every question (practice, cheat sheet,
  errata, the indexes) come after every answer.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

from docutils import nodes
from nnfaq_directives import REGISTRY_PAGES
from nnfaq_pages import GENERATED_DIR, plain
from sphinx import addnodes

import nnfaq

#: Pages that gather questions rather than answer one: listed after every answer.
AGGREGATE_PAGES = (*REGISTRY_PAGES, f"{GENERATED_DIR}/index", "exercises/index", "examples")
AGGREGATE_PATTERN = r"^(auto_examples/.*index|genindex|py-modindex|search)$"  # gallery indexes, Sphinx's
#: Words too common to index on their own or to count in a query ("vs" joins the two sides of an id).
_FILLER = "a an and are as at be by can do does for from how in into is it its of on or that the this to vs"
FILLER = frozenset(f"{_FILLER} what when where which who why with you your".split())
#: The words a query is matched by: "why scale attention" asks the "why" question, not the "how" one.
QUESTION_WORDS = frozenset({"how", "what", "when", "where", "which", "who", "why"})
#: Interview vocabulary: each group lists the spellings one thing goes by (the first is the one a
#: question id uses). A question whose id, function name or text uses one spelling is found by all.
SYNONYMS = (
    ("batch norm", "batchnorm", "bn", "batch normalization", "batch normalisation"),
    ("layer norm", "layernorm", "ln", "layer normalization"),
    ("group norm", "groupnorm", "gn", "group normalization"),
    ("instance norm", "instancenorm", "instance normalization"),
    ("rms norm", "rmsnorm", "root mean square norm"),
    ("kv cache", "kvcache", "key value cache"),
    ("grouped query attention", "gqa", "grouped query"),
    ("multi query attention", "mqa", "multi query"),
    ("multi head attention", "mha", "multihead attention"),
    ("multi head latent attention", "mla", "latent attention"),
    ("flash attention", "flashattention"),
    ("self attention", "intra attention"),
    ("cross entropy", "crossentropy", "ce loss", "log loss"),
    ("binary cross entropy", "bce", "bce loss"),
    ("mean squared error", "mse", "l2 loss", "squared error"),
    ("mean absolute error", "mae", "l1 loss", "absolute error"),
    ("kl divergence", "kl", "kullback leibler", "relative entropy"),
    ("weight decay", "l2 regularization", "l2 penalty"),
    ("learning rate", "lr", "step size"),
    ("sgd", "stochastic gradient descent"),
    ("gradient descent", "gd"),
    ("backpropagation", "backprop", "back propagation", "backward pass"),
    ("bptt", "backpropagation through time"),
    ("rnn", "recurrent neural network", "recurrent network"),
    ("lstm", "long short term memory"),
    ("gru", "gated recurrent unit"),
    ("cnn", "convolutional neural network", "convnet", "convolutional network"),
    ("conv", "convolution", "convolutional layer"),
    ("transposed conv", "transposed convolution", "deconvolution", "conv transpose", "upconvolution"),
    ("positional encoding", "positional embedding", "position embedding", "position encoding"),
    ("rotary positional embedding", "rope", "rotary embedding"),
    ("moe", "mixture of experts"),
    ("lora", "low rank adaptation"),
    ("qlora", "quantized lora"),
    ("dpo", "direct preference optimization"),
    ("grpo", "group relative policy optimization"),
    ("pca", "principal component analysis"),
    ("relu", "rectified linear unit"),
    ("gelu", "gaussian error linear unit"),
    ("swiglu", "swish glu", "glu", "gated linear unit"),
    ("xavier", "glorot"),
    ("he init", "kaiming"),
    ("fp16", "float16", "half precision"),
    ("bf16", "bfloat16", "brain float"),
    ("fp32", "float32", "single precision"),
    ("mixed precision", "amp", "automatic mixed precision"),
    ("loss scaling", "gradscaler", "grad scaler"),
    ("gradient checkpointing", "activation checkpointing", "activation recomputation"),
    ("gradient clipping", "clip grad norm", "clipping"),
    ("gradient accumulation", "accumulate gradients"),
    ("top p", "nucleus sampling", "nucleus"),
    ("top k", "topk"),
    ("speculative decoding", "speculative sampling", "assisted generation", "draft model"),
    ("knowledge distillation", "distillation", "kd", "teacher student"),
    ("contrastive loss", "infonce", "clip loss", "contrastive learning"),
    ("weight tying", "tied embeddings", "tie weights", "shared embeddings"),
    ("global average pooling", "gap"),
    ("im2col", "unfold"),
    ("nan", "not a number"),
    ("perplexity", "ppl"),
    ("quantization", "quantisation", "quantize", "int8"),
    ("eval", "evaluation", "inference"),
)
_MAX_SUBSEQUENCE = 3  # units in a phrase made from an id's words
_MAX_SPELLINGS = 3  # spellings of one unit tried in those phrases


def tokens(text: str) -> list[str]:
    """Lower-case words of a plain text (``clip_grad_norm_`` is clip, grad, norm)."""
    return re.findall(r"[a-z0-9]+", plain(text).lower().replace("_", " "))


_GROUPS = [tuple(tuple(tokens(s)) for s in group) for group in SYNONYMS]
_BY_FIRST: dict[str, list] = {}  # a spelling's first word -> (spelling, its group), in _GROUPS order
for _group in _GROUPS:
    for _spelling in _group:
        _BY_FIRST.setdefault(_spelling[0], []).append((_spelling, _group))


def units(words: list[str]) -> list[tuple[str, ...]]:
    """Words grouped into units: a synonym's words become one unit with all its spellings (longest
    match first); filler words are dropped; any other word is a unit of one spelling."""
    out, i = [], 0
    while i < len(words):
        best = max(
            ((len(s), g) for s, g in _BY_FIRST.get(words[i], ()) if tuple(words[i : i + len(s)]) == s),
            default=None,
            key=lambda m: m[0],
        )
        if best:
            out.append(tuple(" ".join(s) for s in best[1]))
            i += best[0]
        else:
            if words[i] not in FILLER:
                out.append((words[i],))
            i += 1
    return out


def acronyms(text: str) -> set[str]:
    """Acronyms and coined names in a question (KV, RoPE, ALiBi, NF4, fp16), lower-cased."""
    found = re.findall(r"[A-Za-z][A-Za-z0-9]+", plain(text))
    return {w.lower() for w in found if sum(c.isupper() for c in w) >= 2 or (any(c.isdigit() for c in w))}


def _phrases(us: list[tuple[str, ...]], shortest: int = 1) -> set[str]:
    """Ordered sub-sequences of ``shortest`` to three units, each unit in each of its first spellings."""
    out = set()
    for n in range(shortest, min(_MAX_SUBSEQUENCE, len(us)) + 1):
        for chosen in itertools.combinations(us, n):
            for spelling in itertools.product(*(u[:_MAX_SPELLINGS] for u in chosen)):
                out.add(" ".join(spelling))
    return out


def _function_words(q: nnfaq.Question) -> list[str]:
    return tokens(q.function.rpartition(".")[2])


def keywords(q: nnfaq.Question) -> list[str]:
    """The index entries of one question: what a reader may type to find it."""
    id_words, fn_words, text_words = q.id.split("-"), _function_words(q), tokens(q.text)
    found = {" ".join(id_words), " ".join(fn_words)} | acronyms(q.text)
    found |= _phrases(units(id_words)) | _phrases(units(fn_words), shortest=2)  # not "step" alone
    if "vs" in id_words:  # "adamw-vs-adam-l2": "adam vs adamw" as well as "adamw vs adam"
        cut = id_words.index("vs")
        left, right = units(id_words[:cut]), units(id_words[cut + 1 :])
        for a, b in itertools.product(_phrases(left[:2]), _phrases(right[:2])):
            found |= {f"{a} vs {b}", f"{b} vs {a}"}
    for unit in units([*id_words, ".", *fn_words, ".", *text_words]):
        if len(unit) > 1:  # a synonym the question uses: every spelling of it
            found |= set(unit)
    return sorted(k for k in found if len(k) >= 2 and k not in FILLER and not k.isdigit())


# --- the index entries ---------------------------------------------------------------------------


def _questions_by_anchor() -> dict[str, nnfaq.Question]:
    return {f"q-{q.id}": q for q in nnfaq.questions()}


def add_index_entries(app, doctree, docname: str) -> None:
    """At ``doctree-resolved``: an index node with the question's keywords in every ``q-<id>`` section.

    The general index was collected when the page was read, so these reach the search index only.
    """
    if not docname.startswith(f"{GENERATED_DIR}/"):
        return
    known = _questions_by_anchor()
    for section in doctree.findall(nodes.section):
        anchor = next((i for i in section["ids"] if i in known), None)
        if anchor:
            entries = [("single", k, anchor, "main", None) for k in keywords(known[anchor])]
            section.insert(0, addnodes.index(entries=entries))


def note_dependency(app, doctree) -> None:
    """A topic page is re-read (and re-indexed) when the keywords' rules in this file change."""
    if app.env.docname.startswith(f"{GENERATED_DIR}/"):
        app.env.note_dependency(__file__)


def keep_index_entries(app) -> list:
    """At ``html-collect-pages`` (before the search index is written): the index entries of the pages
    this build did not write, from the index the last build wrote.

    Sphinx keeps them only for the pages it writes (sphinx-doc/sphinx#12599: the environment is saved
    before the pages are written, when the entries are collected), so an incremental build would drop
    every question's keywords, and the API's entries, from the pages it did not change.
    """
    indexer = getattr(app.builder, "indexer", None)
    if indexer is None:
        return []
    kept: dict[str, set] = {}
    for q in nnfaq.questions():  # the questions' keywords come from the registry, whatever the old index holds
        kept.setdefault(f"{GENERATED_DIR}/{q.topic}", set()).update((k, f"q-{q.id}", "main") for k in keywords(q))
    path = Path(app.outdir, getattr(app.builder, "searchindex_filename", "searchindex.js"))
    try:
        text = path.read_text(encoding="utf-8")
        old = json.loads(text[text.index("(") + 1 : text.rindex(")")])
        for entry, found in old["indexentries"].items():
            for file, anchor, main in found:
                kept.setdefault(old["docnames"][file], set()).add((entry, anchor, "main" if main else ""))
    except (OSError, ValueError, KeyError, IndexError):
        pass  # no index yet, or another format: the registry's keywords are kept all the same
    for docname, found in kept.items():
        if docname in app.env.all_docs and docname not in indexer._index_entries:  # not written this time
            indexer._index_entries[docname] = sorted(found)
    return []


# --- the scorer ----------------------------------------------------------------------------------

SCORER_JS = r"""
// nnfaq's search scorer (written by docs/_ext/nnfaq_search.py): see that file's docstring.
const NNFAQ_SEARCH = __DATA__;
var Scorer = {
  // Sphinx's default weights
  objNameMatch: 11, objPartialMatch: 6, objPrio: {0: 15, 1: 5, 2: -5}, objPrioDefault: 0,
  title: 15, partialTitle: 7, term: 5, partialTerm: 2,
  _query: null,
  _words() {
    if (this._query === null) {
      const q = new URLSearchParams(window.location.search).get("q") || "";
      this._query = q.toLowerCase().split(/[^\p{L}\p{N}]+/u)
        .filter((w) => w && !NNFAQ_SEARCH.filler.includes(w));  // not Sphinx's stopwords: they hold "why"
    }
    return this._query;
  },
  // "scale" finds "scaled", "eval" finds "evaluation", "grad" finds "gradients"
  _same: (a, b) => a === b || (a.length >= 4 && b.length >= 4 && (a.startsWith(b) || b.startsWith(a))),
  _has(words, w) { return words.some((k) => this._same(k, w)); },
  // the share of a question's units (each a list of spellings) that the query names
  _units(units, query) {
    if (!units.length) return 0;
    const named = units.filter((u) => u.some((s) => s.split(" ").every((w) => this._has(query, w))));
    return named.length / units.length;
  },
  _relevance(q, query) {
    if (!query.length) return 0;
    const covered = query.filter((w) => this._has(q.words, w)).length / query.length;
    if (!covered) return 0;
    return 30 * covered + 8 * this._units(q.fn, query) + 6 * this._units(q.id, query) - q.rank / 1000;
  },
  score(result) {
    const [docname, , anchor, , score] = result;
    if (NNFAQ_SEARCH.aggregate.includes(docname) || new RegExp(NNFAQ_SEARCH.aggregatePattern).test(docname))
      return score - 1000;
    const questions = NNFAQ_SEARCH.pages[docname];
    if (!questions) return score;
    const query = this._words();
    let q = anchor.startsWith("#q-") ? questions.find((c) => "#" + c.anchor === anchor) : undefined;
    if (!q && (anchor === "" || result[6] === "text")) {
      // a hit on the whole page: the question on it that the query names best
      const ranked = questions.map((c) => [this._relevance(c, query), c]).sort((a, b) => b[0] - a[0]);
      if (!ranked.length || ranked[0][0] <= 0) return score;
      q = ranked[0][1];
      result[2] = "#" + q.anchor;
    }
    if (!q) return score;
    result[1] = q.title;  // the question, not the page: the same hit found twice is then listed once
    return score + this._relevance(q, query);
  },
};
"""


def scorer_data() -> dict:
    pages: dict[str, list] = {}
    for rank, q in enumerate(nnfaq.questions()):
        words = set(tokens(q.text)) | set(_function_words(q)) | set(q.id.split("-"))
        words |= {w for k in keywords(q) for w in k.split()}
        pages.setdefault(f"{GENERATED_DIR}/{q.topic}", []).append(
            {
                "anchor": f"q-{q.id}",
                "title": plain(q.text),
                "words": sorted(words - (FILLER - QUESTION_WORDS)),
                "fn": [list(u) for u in units(_function_words(q))],
                "id": [list(u) for u in units(q.id.split("-"))],
                "rank": rank,
            }
        )
    return {
        "pages": pages,
        "aggregate": list(AGGREGATE_PAGES),
        "aggregatePattern": AGGREGATE_PATTERN,
        "filler": sorted(FILLER - QUESTION_WORDS),
    }


def scorer_js() -> str:
    return SCORER_JS.replace("__DATA__", json.dumps(scorer_data(), sort_keys=True, separators=(",", ":")))


def write_scorer(app) -> None:
    """At ``builder-inited``: the scorer, from the registry, in the doctree folder; Sphinx reads the
    file named by ``html_search_scorer`` when it writes the search index (relative to the current
    directory, so an absolute path is set here and conf.py keeps none)."""
    if not hasattr(app.builder, "search") or app.config.html_search_scorer:
        return
    path = Path(app.doctreedir) / "nnfaq_search_scorer.js"
    text = scorer_js()
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    app.config.html_search_scorer = str(path)


def setup(app):
    app.connect("builder-inited", write_scorer)
    app.connect("doctree-read", note_dependency)
    app.connect("doctree-resolved", add_index_entries)
    app.connect("html-collect-pages", keep_index_entries)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
