"""Search as a reader types it: the answering question comes first, linked to its ``#q-<id>`` heading,
and the pages that gather every question (practice, cheat sheet, errata, the indexes) come after every
answer. docs/_ext/nnfaq_search.py adds the index entries and the scorer this relies on.
"""

from __future__ import annotations

import urllib.parse

import pytest

#: What a reader types, and the question that answers it.
QUERIES = {
    "batch norm eval": "batch-norm-train-vs-eval",
    "batchnorm": "batch-norm-train-vs-eval",
    "BN": "batch-norm-train-vs-eval",
    "why scale attention": "why-scale-dot-product",
    "dropout backward": "dropout-train-vs-eval",
    "weight decay": "weight-decay-vs-l2",
    "kv cache": "kv-cache-size",
    "lora": "lora",
    "vanishing gradient": "vanishing-gradients",
    "label smoothing": "label-smoothing",
    "adam vs adamw": "adamw-vs-adam-l2",
    "flash attention": "flash-attention-exact",
    "layernorm vs rmsnorm": "rms-norm-vs-layer-norm",
    "GQA": "grouped-query-attention",
    "rope": "rotary-positional-embedding",
    "nucleus sampling": "top-p-sampling",
    "xavier vs he": "xavier-vs-he-init",
    "dead relu": "dying-relu",
}
#: Pages that list every question: never above an answer.
AGGREGATE = ("index.html", "practice.html", "cheatsheet.html", "errata.html", "exercises/index.html")

RESULTS_JS = """
() => Array.from(document.querySelectorAll("#search-results ul.search > li > a"))
        .map(a => ({href: a.getAttribute("href"), text: a.textContent.trim()}))
"""


@pytest.fixture(scope="module")
def search_tab(context):
    page = context.new_page()
    yield page
    page.close()


def search(page, base_url: str, query: str) -> list[dict]:
    page.goto(base_url + "search.html?q=" + urllib.parse.quote(query))
    # Sphinx's search sets this title when every result is listed (Search is a const: not on window)
    page.wait_for_function("() => typeof Search === 'object' && Search.title?.innerText === 'Search Results'")
    return page.evaluate(RESULTS_JS)


def test_queries_cover_existing_questions(site):
    from built_site import anchors_of

    missing = []
    for qid in set(QUERIES.values()):
        if not any(f"q-{qid}" in anchors_of(p) for p in (site / "topics").glob("*.html")):
            missing.append(qid)
    assert not missing, f"the queries expect questions no topic page has: {missing}"


@pytest.mark.parametrize("query", QUERIES)
def test_search_lists_the_answer_first(search_tab, base_url, query):
    results = search(search_tab, base_url, query)
    assert results, f"{query!r} finds nothing"
    first = results[0]["href"]
    listing = "\n".join(f"  {r['href']}  {r['text'][:80]}" for r in results[:5])
    assert first.startswith("topics/") and first.endswith(f"#q-{QUERIES[query]}"), (
        f"{query!r}: first result is {first}, not the question {QUERIES[query]}:\n{listing}"
    )
    answers = [i for i, r in enumerate(results) if r["href"].startswith("topics/") and "#q-" in r["href"]]
    gathered = [i for i, r in enumerate(results) if r["href"].split("#")[0] in AGGREGATE]
    assert not gathered or min(gathered) > max(answers), (
        f"{query!r}: a page of every question ranks above an answer:\n{listing}"
    )
