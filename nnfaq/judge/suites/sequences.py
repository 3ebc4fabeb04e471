"""The checks of the sequences exercises: attention, positions and the recurrent cell.

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
from nnfaq.judge.suites._base import INF, _close, _suite

# --- attention -----------------------------------------------------------------------------------


@st.composite
def _sdpa_cases(draw, gqa=False, causal_only=False):
    lead = draw(st.lists(st.integers(1, 2), max_size=1))
    if gqa:
        hkv, g = draw(st.integers(1, 3)), draw(st.integers(1, 3))
        heads_q, heads_kv = [hkv * g], [hkv]
    else:
        heads_q = heads_kv = draw(st.lists(st.integers(1, 2), max_size=1))
    T, S, D, Dv = (draw(st.integers(1, 4)) for _ in range(4))
    seed, dtype = draw(seeds), draw(dtypes)
    kind = draw(st.sampled_from(["none", "bool", "float", "causal"]))
    args = dict(
        query=seeded((*lead, *heads_q, T, D), seed, dtype),
        key=seeded((*lead, *heads_kv, S, D), seed + 1, dtype),
        value=seeded((*lead, *heads_kv, S, Dv), seed + 2, dtype),
    )
    if kind == "bool":
        args["attn_mask"] = seeded((T, S), seed + 3, F64, low=0, high=1) > 0.3
        args["attn_mask"][:, 0] = True  # all-masked rows are the edge case's
    elif kind == "float":
        args["attn_mask"] = seeded((T, S), seed + 3, dtype)
    elif kind == "causal":
        args["is_causal"] = True
    if draw(st.booleans()):
        args["scale"] = draw(st.sampled_from([0.5, 2.0]))
    if gqa:
        args["enable_gqa"] = True
    return Case(**args)


def _sdpa_by_d(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False):
    scale = 1 / query.shape[-1] if scale is None else scale
    return F.scaled_dot_product_attention(
        query, key, value, attn_mask, 0.0, is_causal, scale=scale, enable_gqa=enable_gqa
    )


def _sdpa_inverted(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False):
    if attn_mask is not None and attn_mask.dtype == torch.bool:
        attn_mask = ~attn_mask
    return F.scaled_dot_product_attention(
        query, key, value, attn_mask, 0.0, is_causal, scale=scale, enable_gqa=enable_gqa
    )


def _sdpa_bottom_right(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False):
    if is_causal:
        T, S = query.shape[-2], key.shape[-2]
        attn_mask, is_causal = torch.ones(T, S, dtype=torch.bool).tril(S - T), False
    return F.scaled_dot_product_attention(
        query, key, value, attn_mask, 0.0, is_causal, scale=scale, enable_gqa=enable_gqa
    )


_SDPA_WRONG = [
    Mistake(
        _sdpa_by_d,
        "the scores are divided by D: divide by sqrt(D) (scale = 1 / sqrt(query.shape[-1])), which "
        "keeps their variance at 1 for unit-variance q and k",
    ),
    Mistake(
        _sdpa_inverted,
        "a bool attn_mask's True means 'may attend' in scaled_dot_product_attention (the "
        "opposite of nn.MultiheadAttention's masks)",
    ),
    Mistake(
        _sdpa_bottom_right,
        "is_causal masks with tril(ones(T, S)), aligned top-left as PyTorch does (query i "
        "sees keys 0..i), not bottom-right",
    ),
]


def _attention_claims(s: Suite, extra=None):
    extra = extra or {}

    def masked_keys(fn):
        q, k, v = seeded((2, 3, 4), 24, F64), seeded((2, 5, 4), 25, F64), seeded((2, 5, 3), 26, F64)
        keep = torch.tensor([True, False, True, True, False])
        a = call(fn, {"query": q, "key": k, "value": v, "attn_mask": keep, **extra})
        k2, v2 = k.clone(), v.clone()
        k2[:, ~keep], v2[:, ~keep] = 9.0, -9.0
        b = call(fn, {"query": q, "key": k2, "value": v2, "attn_mask": keep, **extra})
        expect(_close(a, b), "masked keys must get no weight: changing a masked key or value changed the output")

    def causal(fn):
        q, k, v = seeded((1, 5, 4), 27, F64), seeded((1, 5, 4), 28, F64), seeded((1, 5, 3), 29, F64)
        a = call(fn, {"query": q, "key": k, "value": v, "is_causal": True, **extra})
        q2, k2, v2 = q.clone(), k.clone(), v.clone()
        q2[:, 3:], k2[:, 3:], v2[:, 3:] = 1.0, 2.0, 3.0
        b = call(fn, {"query": q2, "key": k2, "value": v2, "is_causal": True, **extra})
        expect(_close(a[:, :3], b[:, :3]), "with is_causal=True, output t must not depend on tokens after t")
        expect(
            _close(a[:, 0], v[:, 0]),
            "with is_causal=True the first query sees only the first key: its output is the first value",
        )

    s.claim("masked keys get no weight", masked_keys)
    s.claim("causal: output t ignores later tokens", causal)


def _masked_row_edge(s: Suite, extra=None):
    def case():
        keep = torch.ones(3, 4, dtype=torch.bool)
        keep[1] = False
        return Case(
            query=seeded((1, 3, 2), 30, F64),
            key=seeded((1, 4, 2), 31, F64),
            value=seeded((1, 4, 2), 32, F64),
            attn_mask=keep,
            **(extra or {}),
        )

    s.edge(
        "a query whose keys are all masked",
        case,
        "a query whose keys are all masked must output zeros, as PyTorch returns, not NaN",
        "softmax of a row of -inf is 0/0: zero the rows where every score is -inf "
        "(torch.isneginf(s).all(-1, keepdim=True))",
        grad=("query", "key", "value"),
    )


@_suite("scaled-dot-product-attention")
def _sdpa():
    s = Suite(
        "scaled_dot_product_attention",
        F.scaled_dot_product_attention,
        "torch.nn.functional.scaled_dot_product_attention",
    )
    s.forward(_sdpa_cases(), _SDPA_WRONG)
    s.gradient(_sdpa_cases(), wrt=("query", "key", "value"))
    _attention_claims(s)
    _masked_row_edge(s)
    s.edge(
        "large scores",
        lambda: Case(
            query=seeded((2, 3), 33, F64, 100.0), key=seeded((4, 3), 34, F64, 100.0), value=seeded((4, 2), 35, F64)
        ),
        "large scores must not overflow",
        "use a stable softmax (torch.softmax, or subtract the row maximum)",
    )
    q = torch.ones(2, 3, dtype=F64)
    s.refuse(
        [
            (
                "a key of dimension 4 for queries of dimension 3",
                lambda: Case(query=q, key=torch.ones(2, 4, dtype=F64), value=q),
            ),
            ("a value with 3 rows for 2 keys", lambda: Case(query=q, key=q, value=torch.ones(3, 3, dtype=F64))),
            (
                "is_causal=True together with an attn_mask",
                lambda: Case(query=q, key=q, value=q, attn_mask=torch.ones(2, 2, dtype=torch.bool), is_causal=True),
            ),
        ]
    )
    return s


@st.composite
def _mha_cases(draw):
    H, D = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    d, T, S, B = H * D, draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 2))
    seed, dtype = draw(seeds), draw(dtypes)
    bias = draw(st.booleans())
    query = seeded((T, B, d), seed, dtype)
    self_attention = draw(st.booleans())
    if self_attention:
        key = value = query
        S = T
    else:
        key, value = seeded((S, B, d), seed + 1, dtype), seeded((S, B, d), seed + 2, dtype)
    kpm = None
    if draw(st.booleans()):
        kpm = seeded((B, S), seed + 3, F64, low=0, high=1) > 0.6
        kpm[:, 0] = False
    mask = draw(st.sampled_from(["none", "bool", "float"]))
    am = None
    if mask == "bool":
        am = seeded((T, S), seed + 4, F64, low=0, high=1) > 0.6
        am[:, 0] = False
    elif mask == "float":
        am = seeded((T, S), seed + 4, dtype)
    return Case(
        query=query,
        key=key,
        value=value,
        num_heads=H,
        in_proj_weight=seeded((3 * d, d), seed + 5, dtype, 0.5),
        in_proj_bias=seeded((3 * d,), seed + 6, dtype) if bias else None,
        out_proj_weight=seeded((d, d), seed + 7, dtype, 0.5),
        out_proj_bias=seeded((d,), seed + 8, dtype) if bias else None,
        key_padding_mask=kpm,
        attn_mask=am,
    )


def _mha_oracle(
    query,
    key,
    value,
    num_heads,
    in_proj_weight,
    in_proj_bias,
    out_proj_weight,
    out_proj_bias,
    key_padding_mask=None,
    attn_mask=None,
):
    return F.multi_head_attention_forward(
        query,
        key,
        value,
        query.shape[-1],
        num_heads,
        in_proj_weight,
        in_proj_bias,
        None,
        None,
        False,
        0.0,
        out_proj_weight,
        out_proj_bias,
        training=False,
        key_padding_mask=key_padding_mask,
        need_weights=True,
        attn_mask=attn_mask,
        average_attn_weights=True,
    )


def _mha_math(
    query,
    key,
    value,
    num_heads,
    in_proj_weight,
    in_proj_bias,
    out_proj_weight,
    out_proj_bias,
    key_padding_mask=None,
    attn_mask=None,
    scale_by_d=False,
    interleaved=False,
):
    T, B, d = query.shape
    S, H, D = key.shape[0], num_heads, d // num_heads
    wq, wk, wv = in_proj_weight.chunk(3)
    bq, bk, bv = (None, None, None) if in_proj_bias is None else in_proj_bias.chunk(3)

    def heads(x, w, b, n):
        y = F.linear(x, w, b)  # (n, B, d)
        return y.reshape(n, B, D, H).permute(1, 3, 0, 2) if interleaved else y.reshape(n, B, H, D).permute(1, 2, 0, 3)

    q, k, v = heads(query, wq, bq, T), heads(key, wk, bk, S), heads(value, wv, bv, S)  # (B, H, n, D)
    s = q @ k.transpose(-2, -1) / (d if scale_by_d else D) ** 0.5  # (B, H, T, S)
    if attn_mask is not None:
        s = s.masked_fill(attn_mask, -INF) if attn_mask.dtype == torch.bool else s + attn_mask
    if key_padding_mask is not None:
        s = s.masked_fill(key_padding_mask[:, None, None, :], -INF)
    a = torch.softmax(s, -1)
    o = a @ v  # (B, H, T, D)
    o = o.permute(2, 0, 3, 1).reshape(T, B, d) if interleaved else o.permute(2, 0, 1, 3).reshape(T, B, d)
    return F.linear(o, out_proj_weight, out_proj_bias), a.mean(1)


@_suite("multi-head-attention")
def _mha():
    wrong = [
        Mistake(
            lambda **a: _mha_math(**a, scale_by_d=True),
            "each head scales its scores by 1 / sqrt(D) with "
            "D = d / num_heads, the head's dimension, not by 1 / sqrt(d)",
        ),
        Mistake(
            lambda **a: _mha_math(**a, interleaved=True),
            "head h is the contiguous block of columns h D to "
            "(h + 1) D: reshape (T, B, d) to (T, B, H, D), not (T, B, D, H)",
        ),
    ]
    s = Suite("multi_head_attention", _mha_oracle, "torch.nn.functional.multi_head_attention_forward")
    s.forward(_mha_cases(), wrong)
    s.gradient(_mha_cases(), wrt=("query", "key", "value", "in_proj_weight", "out_proj_weight"), n=15)

    def weights(fn):
        case = Case(
            query=seeded((3, 2, 4), 39, F64),
            key=seeded((5, 2, 4), 40, F64),
            value=seeded((5, 2, 4), 41, F64),
            num_heads=2,
            in_proj_weight=seeded((12, 4), 42, F64),
            in_proj_bias=None,
            out_proj_weight=seeded((4, 4), 43, F64),
            out_proj_bias=None,
        )
        out = call(fn, case.fresh())
        expect(isinstance(out, tuple) and len(out) == 2, "return a pair (output, weights averaged over heads)")
        w = out[1]
        expect(
            isinstance(w, torch.Tensor) and w.shape == (2, 3, 5) and _close(w.sum(-1), torch.ones(2, 3, dtype=F64)),
            "the weights must have shape (B, T, S) and each row must sum to 1",
        )

    s.claim("the weights are (B, T, S), averaged over heads, rows summing to 1", weights)
    d4 = torch.ones(2, 1, 4, dtype=F64)
    s.refuse(
        [
            (
                "num_heads=3 for d=4 (must divide d)",
                lambda: Case(
                    query=d4,
                    key=d4,
                    value=d4,
                    num_heads=3,
                    in_proj_weight=torch.ones(12, 4, dtype=F64),
                    in_proj_bias=None,
                    out_proj_weight=torch.ones(4, 4, dtype=F64),
                    out_proj_bias=None,
                ),
            ),
            (
                "in_proj_weight of shape (8, 4) (must be (3d, d))",
                lambda: Case(
                    query=d4,
                    key=d4,
                    value=d4,
                    num_heads=2,
                    in_proj_weight=torch.ones(8, 4, dtype=F64),
                    in_proj_bias=None,
                    out_proj_weight=torch.ones(4, 4, dtype=F64),
                    out_proj_bias=None,
                ),
            ),
        ]
    )
    return s


# --- positions -----------------------------------------------------------------------------------


def _rope(x, positions=None, base=10000.0, half=False, per_feature=False):
    T, D = x.shape[-2:]
    pos = torch.arange(T) if positions is None else positions
    i = torch.arange(0, D, 2, dtype=F64)
    theta = base ** (-(i / 2 if per_feature else i) / D)  # (D/2,)
    angle = pos.to(F64)[:, None] * theta  # (T, D/2)
    cos, sin = torch.cos(angle).to(x.dtype), torch.sin(angle).to(x.dtype)
    if half:
        x1, x2 = x[..., : D // 2], x[..., D // 2 :]
        return torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), -1)
    x1, x2 = x[..., 0::2], x[..., 1::2]
    return torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), -1).flatten(-2)


def _rope_oracle(x, positions=None, base=10000.0):
    """The stated math: the pair (x_2i, x_2i+1) as a complex number times exp(i m theta_i)."""
    T, D = x.shape[-2:]
    pos = torch.arange(T) if positions is None else positions
    theta = base ** (-torch.arange(0, D, 2, dtype=F64) / D)
    turn = torch.polar(torch.ones(T, D // 2, dtype=F64), pos.to(F64)[:, None] * theta)  # (T, D/2)
    z = torch.view_as_complex(x.to(F64).reshape(*x.shape[:-1], D // 2, 2).contiguous()) * turn
    return torch.view_as_real(z).reshape(x.shape).to(x.dtype)


@st.composite
def _rope_cases(draw):
    lead = draw(st.lists(st.integers(1, 2), max_size=2))
    T, D = draw(st.integers(1, 5)), 2 * draw(st.integers(1, 4))
    seed = draw(seeds)
    args = dict(x=seeded((*lead, T, D), seed, draw(dtypes)))
    if draw(st.booleans()):
        args["positions"] = torch.randint(0, 1000, (T,), generator=torch.Generator().manual_seed(seed + 1))
    if draw(st.booleans()):
        args["base"] = 100.0
    return Case(**args)


@_suite("rotary-embedding")
def _rotary():
    wrong = [
        Mistake(
            lambda **a: _rope(**a, half=True),
            "you rotated the halves (x[..., :D/2], x[..., D/2:]) together, "
            "GPT-NeoX's rotate_half layout; this exercise pairs neighbours (x_2i, x_2i+1), as RoFormer",
        ),
        Mistake(
            lambda **a: _rope(**a, per_feature=True),
            "theta_i = base^(-2i / D), where i counts the pairs (0, 1, ..., D/2 - 1)",
        ),
    ]
    s = Suite("rotary_embedding", _rope_oracle, "the stated math (complex multiplication by exp(i m theta))")
    s.forward(_rope_cases(), wrong)
    s.gradient(_rope_cases(), wrt=("x",))

    def norms(fn):
        x = seeded((2, 6, 8), 44, F64)
        y = call(fn, {"x": x})
        expect(
            isinstance(y, torch.Tensor) and _close(y.norm(dim=-1), x.norm(dim=-1)),
            "rotations must keep each vector's norm",
        )
        expect(torch.equal(y[:, 0], x[:, 0]), "position 0 must be unchanged (a rotation by angle 0)")

    def relative(fn):
        q, k = seeded((1, 8), 45, F64), seeded((1, 8), 46, F64)

        def score(m, n):
            a = call(fn, {"x": q, "positions": torch.tensor([m])})
            b = call(fn, {"x": k, "positions": torch.tensor([n])})
            return (a * b).sum().item()

        expect(
            abs(score(2, 0) - score(9, 7)) < 1e-9 and abs(score(2, 0) - score(500, 498)) < 1e-9,
            "the score between a query at m and a key at n must depend on n - m only",
        )

    s.claim("norms are kept and position 0 is unchanged", norms)
    s.claim("the score depends only on the offset", relative)
    s.refuse(
        [
            ("an odd last dimension 3", lambda: Case(x=torch.ones(2, 3, dtype=F64))),
            (
                "positions of length 3 for 2 rows",
                lambda: Case(x=torch.ones(2, 4, dtype=F64), positions=torch.arange(3)),
            ),
        ]
    )
    return s


def _sinusoidal(T, d, base=10000.0, dtype=F64, concatenated=False, per_feature=False):
    t = torch.arange(T, dtype=F64)[:, None]
    i = torch.arange(0, d, 2, dtype=F64)
    omega = base ** (-(i / 2 if per_feature else i) / d)
    if concatenated:
        return torch.cat((torch.sin(t * omega), torch.cos(t * omega)), 1).to(dtype)
    pe = torch.empty(T, d, dtype=F64)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(t * omega), torch.cos(t * omega)
    return pe.to(dtype)


@st.composite
def _pe_cases(draw):
    return Case(
        T=draw(st.integers(1, 20)),
        d=2 * draw(st.integers(1, 8)),
        base=draw(st.sampled_from([10000.0, 100.0])),
        dtype=draw(dtypes),
    )


@_suite("sinusoidal-encoding")
def _sinusoidal_suite():
    wrong = [
        Mistake(
            lambda **a: _sinusoidal(**a, concatenated=True),
            "interleave the sines and cosines: PE[:, 0::2] = sin, PE[:, 1::2] = cos (not all sines, then all cosines)",
        ),
        Mistake(lambda **a: _sinusoidal(**a, per_feature=True), "omega_i = base^(-2i / d), where i counts the pairs"),
    ]
    s = Suite("sinusoidal_encoding", _sinusoidal, "the stated math")
    s.forward(_pe_cases(), wrong)

    def properties(fn):
        pe = call(fn, {"T": 50, "d": 16})
        expect(isinstance(pe, torch.Tensor) and pe.shape == (50, 16), "the encoding must have shape (T, d)")
        expect(bool((pe.abs() <= 1 + 1e-12).all()), "every value must lie in [-1, 1]")
        expect(_close(pe[0], torch.tensor([0.0, 1.0] * 8, dtype=pe.dtype)), "row 0 must be (0, 1, 0, 1, ...)")
        dots = (pe[:-3] * pe[3:]).sum(1)
        expect(_close(dots, dots[:1].expand_as(dots)), "PE_t . PE_{t+k} must depend on k only")

    s.claim("values in [-1, 1], row 0 = (0, 1, ...), dot products depend on the offset", properties)
    s.refuse(
        [
            ("an odd d=5", lambda: Case(T=4, d=5)),
            ("T=0", lambda: Case(T=0, d=4)),
            ("dtype=torch.int64", lambda: Case(T=4, d=4, dtype=torch.int64)),
        ]
    )
    return s


# --- recurrent -----------------------------------------------------------------------------------


@st.composite
def _lstm_cases(draw):
    B, C, Hd = draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    seed, dtype = draw(seeds), draw(dtypes)
    bias = draw(st.booleans())
    return Case(
        input=seeded((B, C), seed, dtype),
        hx=(seeded((B, Hd), seed + 1, dtype), seeded((B, Hd), seed + 2, dtype)),
        w_ih=seeded((4 * Hd, C), seed + 3, dtype),
        w_hh=seeded((4 * Hd, Hd), seed + 4, dtype),
        b_ih=seeded((4 * Hd,), seed + 5, dtype) if bias else None,
        b_hh=seeded((4 * Hd,), seed + 6, dtype) if bias else None,
    )


def _lstm_oracle(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    return tuple(torch.lstm_cell(input, tuple(hx), w_ih, w_hh, b_ih, b_hh))


def _lstm_math(input, hx, w_ih, w_hh, b_ih=None, b_hh=None, order="ifgo", h_tanh=True):
    h, c = hx
    z = F.linear(input, w_ih, b_ih) + F.linear(h, w_hh, b_hh)
    gates = dict(zip(order, z.chunk(4, 1)))
    i, f, g, o = torch.sigmoid(gates["i"]), torch.sigmoid(gates["f"]), torch.tanh(gates["g"]), torch.sigmoid(gates["o"])
    c2 = f * c + i * g
    return o * (torch.tanh(c2) if h_tanh else c2), c2


@_suite("lstm-cell")
def _lstm_cell():
    wrong = [
        Mistake(
            lambda **a: _lstm_math(**a, order="ifog"),
            "PyTorch's gate order is i, f, g, o (input, forget, cell, output), not i, f, o, g",
            "i, f, g, o = z.chunk(4, dim=1)",
        ),
        Mistake(
            lambda **a: _lstm_math(**a, order="fiog"),
            "PyTorch's gate order is i, f, g, o (input, forget, cell, output)",
            "i, f, g, o = z.chunk(4, dim=1)",
        ),
        Mistake(
            lambda **a: _lstm_math(**a, h_tanh=False),
            "h' = sigma(o) * tanh(c'): the new cell state goes through tanh before the output gate",
        ),
    ]
    s = Suite("lstm_cell", _lstm_oracle, "torch.nn.LSTMCell")
    s.forward(_lstm_cases(), wrong)
    s.gradient(_lstm_cases(), wrt=("input", "hx", "w_ih", "w_hh"))

    def carry(fn):
        B, C, Hd = 2, 3, 2
        c = seeded((B, Hd), 47, F64)
        b = torch.zeros(4 * Hd, dtype=F64)
        b[:Hd], b[Hd : 2 * Hd] = -60.0, 60.0  # input gate shut, forget gate open
        out = call(
            fn,
            {
                "input": seeded((B, C), 48, F64),
                "hx": (seeded((B, Hd), 49, F64), c),
                "w_ih": torch.zeros(4 * Hd, C, dtype=F64),
                "w_hh": torch.zeros(4 * Hd, Hd, dtype=F64),
                "b_ih": b,
                "b_hh": torch.zeros(4 * Hd, dtype=F64),
            },
        )
        expect(isinstance(out, tuple) and len(out) == 2, "return the pair (h', c')")
        expect(
            _close(out[1], c, 1e-12),
            "with the forget gate open and the input gate shut the cell state must pass unchanged: c' = c",
        )

    s.claim("forget gate open, input gate shut: c' = c", carry)
    x, hd = torch.ones(2, 3, dtype=F64), torch.zeros(2, 2, dtype=F64)
    s.refuse(
        [
            (
                "w_ih of shape (6, 3) (must be (4 Hd, C) = (8, 3))",
                lambda: Case(input=x, hx=(hd, hd), w_ih=torch.ones(6, 3, dtype=F64), w_hh=torch.ones(8, 2, dtype=F64)),
            ),
            (
                "hx is one tensor, not a pair (h, c)",
                lambda: Case(input=x, hx=hd, w_ih=torch.ones(8, 3, dtype=F64), w_hh=torch.ones(8, 2, dtype=F64)),
            ),
        ]
    )
    return s
