"""The checks of the transformers exercises: grouped-query attention, KV-cache decoding, online softmax, top-p.

Registered in :mod:`nnfaq.judge.suites` when it imports this module.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from hypothesis import strategies as st

from nnfaq.judge.checks import (
    F64,
    Case,
    Mistake,
    Suite,
    call,
    dtypes,
    expect,
    seeded,
    seeds,
)
from nnfaq.judge.suites._base import _NOT_A_TENSOR, INF, _close, _suite, _t
from nnfaq.judge.suites.foundations import _dim_cases
from nnfaq.judge.suites.sequences import _SDPA_WRONG, _masked_row_edge, _sdpa_cases


def _gqa_tiled(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False):
    if enable_gqa and key.shape[-3] != query.shape[-3]:
        g = query.shape[-3] // key.shape[-3]
        reps = [1] * key.dim()
        reps[-3] = g
        key, value = key.repeat(*reps), value.repeat(*reps)
    return F.scaled_dot_product_attention(query, key, value, attn_mask, 0.0, is_causal, scale=scale)


@_suite("grouped-query-attention")
def _gqa():
    wrong = [
        Mistake(
            _gqa_tiled,
            "the key/value heads are tiled in the wrong order: query head h must use key head "
            "h // g (g = H / Hkv consecutive query heads per group), as repeat_interleave gives; .repeat "
            "cycles through the heads (h % Hkv)",
            "key.repeat_interleave(g, dim=-3)",
        ),
        *_SDPA_WRONG,
    ]
    s = Suite(
        "scaled_dot_product_attention",
        F.scaled_dot_product_attention,
        "torch.nn.functional.scaled_dot_product_attention(enable_gqa=True)",
    )
    s.forward(_sdpa_cases(gqa=True), wrong)
    s.gradient(_sdpa_cases(gqa=True), wrt=("query", "key", "value"))

    def mqa(fn):
        q, k, v = seeded((1, 4, 3, 2), 36, F64), seeded((1, 1, 5, 2), 37, F64), seeded((1, 1, 5, 2), 38, F64)
        out = call(fn, {"query": q, "key": k, "value": v, "enable_gqa": True})
        ref = F.scaled_dot_product_attention(q, k.expand(1, 4, 5, 2), v.expand(1, 4, 5, 2))
        expect(
            _close(out, ref),
            "with one key/value head (multi-query attention) every query head must attend over that same head",
        )

    s.claim("with one key/value head it is multi-query attention", mqa)
    _masked_row_edge(s, {"enable_gqa": True})
    s.refuse(
        [
            (
                "3 query heads for 2 key heads",
                lambda: Case(
                    query=torch.ones(1, 3, 2, 2, dtype=F64),
                    key=torch.ones(1, 2, 2, 2, dtype=F64),
                    value=torch.ones(1, 2, 2, 2, dtype=F64),
                    enable_gqa=True,
                ),
            ),
            (
                "4 query heads for 2 key heads with enable_gqa=False",
                lambda: Case(
                    query=torch.ones(1, 4, 2, 2, dtype=F64),
                    key=torch.ones(1, 2, 2, 2, dtype=F64),
                    value=torch.ones(1, 2, 2, 2, dtype=F64),
                ),
            ),
        ]
    )
    return s


# --- transformers --------------------------------------------------------------------------------


@st.composite
def _bhtd_cases(draw):
    B, H, T, D = draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 6)), draw(st.integers(1, 4))
    seed, dtype = draw(seeds), draw(dtypes)
    return Case(
        query=seeded((B, H, T, D), seed, dtype),
        key=seeded((B, H, T, D), seed + 1, dtype),
        value=seeded((B, H, T, D), seed + 2, dtype),
    )


def _causal_sdpa(query, key, value):
    return F.scaled_dot_product_attention(query, key, value, is_causal=True)


@_suite("kv-cache-decoding")
def _kv_cache():
    def full(query, key, value):
        return F.scaled_dot_product_attention(query, key, value)

    wrong = [
        Mistake(
            full,
            "every query attended to every key: at step t the cache holds only keys 0..t, so the output must be causal",
            "append key t and value t to the cache before attending with query t",
        )
    ]
    s = Suite("decode_with_cache", _causal_sdpa, "torch.nn.functional.scaled_dot_product_attention(is_causal=True)")
    s.forward(_bhtd_cases(), wrong)
    s.gradient(_bhtd_cases(), wrt=("query", "key", "value"))

    def past_only(fn):
        q, k, v = (seeded((1, 2, 6, 3), 51 + i, F64) for i in range(3))
        a = call(fn, {"query": q, "key": k, "value": v})
        q2, k2, v2 = q.clone(), k.clone(), v.clone()
        q2[..., 4:, :], k2[..., 4:, :], v2[..., 4:, :] = 5.0, -5.0, 7.0
        b = call(fn, {"query": q2, "key": k2, "value": v2})
        expect(_close(a[..., :4, :], b[..., :4, :]), "output t must never depend on tokens after t")
        expect(_close(a[..., 0, :], v[..., 0, :]), "the first token sees only itself: its output is its value")

    def prefix(fn):
        q, k, v = (seeded((1, 1, 5, 2), 54 + i, F64) for i in range(3))
        a = call(fn, {"query": q, "key": k, "value": v})
        b = call(fn, {"query": q[..., :3, :], "key": k[..., :3, :], "value": v[..., :3, :]})
        expect(
            _close(a[..., :3, :], b), "decoding the first 3 tokens must give the first 3 outputs of the whole sequence"
        )

    s.claim("output t depends on tokens 0..t only", past_only)
    s.claim("decoding a prefix gives the prefix of the outputs", prefix)
    x = torch.ones(1, 1, 3, 2, dtype=F64)
    s.refuse(
        [
            (_NOT_A_TENSOR, lambda: Case(query=[[1.0]], key=x, value=x)),
            (
                "a key with 4 tokens for 3 queries",
                lambda: Case(query=x, key=torch.ones(1, 1, 4, 2, dtype=F64), value=x),
            ),
        ]
    )
    return s


@st.composite
def _online_cases(draw):
    case = draw(_dim_cases(max_side=9))
    case.args["block_size"] = draw(st.integers(1, 5))
    return case


@_suite("online-softmax")
def _online_softmax():
    def oracle(input, dim=-1, block_size=4):
        return F.softmax(input, dim)

    s = Suite("online_softmax", oracle, "torch.nn.functional.softmax")
    s.forward(_online_cases())
    s.gradient(_online_cases(), n=15)

    def blocks(fn):
        x = seeded((3, 7), 57, F64, 3.0)
        outs = [call(fn, {"input": x, "dim": -1, "block_size": b}) for b in (1, 2, 3, 7, 12)]
        expect(
            all(_close(o, F.softmax(x, -1)) for o in outs),
            "every block size (1, 2, 3, 7 and 12 for a row of 7) must give exactly the softmax",
        )

    s.claim("every block size gives the same, exact softmax", blocks)
    s.edge(
        "logits near 1000",
        lambda: Case(input=_t([[1000.0, 999.0, 998.0, 1001.0, 997.0]]), dim=-1, block_size=2),
        "outputs overflow for logits near 1000",
        "keep a running maximum m and exponentiate x - m",
    )
    s.edge(
        "a first block of -inf",
        lambda: Case(input=_t([[-INF, -INF, 0.0, 1.0, 2.0]]), dim=-1, block_size=2),
        "while every value seen so far is -inf the running maximum is -inf, and exp(-inf - (-inf)) is NaN",
        "rescale by exp(m_old - m_new) only when m_old is finite (else the old sum is 0)",
    )
    s.refuse(
        [
            ("block_size=0", lambda: Case(input=torch.ones(2, 3, dtype=F64), dim=-1, block_size=0)),
            ("dim=2 for a 2-D input", lambda: Case(input=torch.ones(2, 3, dtype=F64), dim=2, block_size=2)),
        ]
    )
    return s


def _top_p(logits, p, strict=False):
    probs = torch.softmax(logits.to(F64), -1)
    sorted_p, order = probs.sort(-1, descending=True)
    before = sorted_p.cumsum(-1) - sorted_p
    keep_sorted = sorted_p.cumsum(-1) <= p if strict else before < p
    keep = torch.zeros_like(keep_sorted).scatter(-1, order, keep_sorted)
    return logits.masked_fill(~keep, -INF)


def _clear_of(logits, p, margin=1e-6) -> bool:
    probs = torch.softmax(logits.to(F64), -1)
    sorted_p, _ = probs.sort(-1, descending=True)
    sums = torch.cat([torch.zeros_like(sorted_p[..., :1]), sorted_p.cumsum(-1)], -1)
    return bool(((sums - p).abs() > margin).all()) and bool((probs > 1e-9).all())


@st.composite
def _top_p_cases(draw):
    lead = draw(st.lists(st.integers(1, 3), max_size=2))
    V = draw(st.integers(1, 8))
    logits = seeded((*lead, V), draw(seeds), draw(dtypes), 2.0)
    return Case(logits=logits, p=draw(st.sampled_from([0.05, 0.3, 0.5, 0.8, 0.95, 1.0])))


@_suite("top-p-filter")
def _top_p_filter():
    def probabilities(logits, p):
        kept = _top_p(logits, p)
        return torch.softmax(kept, -1)

    wrong = [
        Mistake(
            lambda logits, p: _top_p(logits, p, strict=True),
            "keep the token that crosses p: a token is kept "
            "when the mass of the tokens before it is below p (at least one token is always kept)",
            "keep where cumsum - prob < p, not cumsum <= p",
        ),
        Mistake(probabilities, "return the logits (kept ones unchanged, the others -inf), not probabilities"),
    ]
    s = Suite("top_p_filter", _top_p, "the stated rule")
    s.forward(_top_p_cases().filter(lambda c: _clear_of(c.args["logits"], c.args["p"])), wrong)

    def nucleus(fn):
        logits = torch.log(_t([0.5, 0.3, 0.15, 0.05]))
        kept = [torch.isfinite(call(fn, {"logits": logits, "p": p})).tolist() for p in (0.4, 0.7, 0.9, 1.0)]
        expect(
            kept
            == [
                [True, False, False, False],
                [True, True, False, False],
                [True, True, True, False],
                [True, True, True, True],
            ],
            "for probabilities (0.5, 0.3, 0.15, 0.05), p = 0.4, 0.7, 0.9, 1 must keep 1, 2, 3 and 4 tokens "
            f"(got {[sum(k) for k in kept]})",
        )

    s.claim("the smallest set reaching p, the crossing token included", nucleus)
    s.refuse(
        [
            ("p=0", lambda: Case(logits=torch.zeros(4, dtype=F64), p=0.0)),
            ("p=1.5", lambda: Case(logits=torch.zeros(4, dtype=F64), p=1.5)),
            ("logits is a list", lambda: Case(logits=[0.0, 1.0], p=0.5)),
        ]
    )
    return s
