"""The checks of the representations exercises: the embedding (see :mod:`nnfaq.judge.suites`)."""

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
    shapes,
)
from nnfaq.judge.suites._base import _close, _suite, _t

# --- embeddings ----------------------------------------------------------------------------------


@st.composite
def _embedding_cases(draw):
    V, C = draw(st.integers(1, 6)), draw(st.integers(1, 4))
    seed = draw(seeds)
    index = torch.randint(0, V, tuple(draw(shapes(1, 2, 1, 4))), generator=torch.Generator().manual_seed(seed))
    pad = draw(st.sampled_from([None, 0, -1]))
    return Case(input=index, weight=seeded((V, C), seed + 1, draw(dtypes)), padding_idx=pad)


@_suite("embedding")
def _embedding():
    def zeroed(input, weight, padding_idx=None):
        out = F.embedding(input, weight, padding_idx)
        if padding_idx is not None:
            out = out.masked_fill((input == padding_idx % weight.shape[0])[..., None], 0.0)
        return out

    def no_padding(input, weight, padding_idx=None):
        return F.embedding(input, weight)

    s = Suite("embedding", F.embedding, "torch.nn.functional.embedding")
    s.forward(
        _embedding_cases(),
        [
            Mistake(
                zeroed,
                "padding_idx does not zero the output: the lookup returns the row as it is; only its gradient stays 0",
            )
        ],
    )
    s.gradient(
        _embedding_cases(),
        wrt=("weight",),
        mistakes=[
            Mistake(
                no_padding,
                "the padding_idx row must get no gradient (a negative padding_idx counts from the end)",
                "out = torch.where(mask, weight[input].detach(), weight[input]), "
                "mask = (input == padding_idx)[..., None]",
            )
        ],
    )

    def one_hot(fn):
        idx, w = torch.tensor([[0, 2, 2], [1, 0, 3]]), seeded((4, 3), 50, F64)
        out = call(fn, {"input": idx, "weight": w})
        expect(_close(out, F.one_hot(idx, 4).to(F64) @ w), "a lookup must equal one-hot vectors times weight")

    s.claim("it equals one_hot(input) @ weight", one_hot)
    w = torch.ones(4, 2, dtype=F64)
    s.refuse(
        [
            ("an index equal to V (out of range)", lambda: Case(input=torch.tensor([0, 4]), weight=w)),
            ("float indices", lambda: Case(input=_t([0.0, 1.0]), weight=w)),
            ("padding_idx=4 for 4 rows", lambda: Case(input=torch.tensor([0, 1]), weight=w, padding_idx=4)),
        ]
    )
    return s
