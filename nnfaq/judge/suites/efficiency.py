"""The checks of the efficiency exercises: LoRA and int8 quantization (see :mod:`nnfaq.judge.suites`)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from hypothesis import strategies as st

from nnfaq.judge.checks import (
    F64,
    Case,
    Failure,
    Mistake,
    Suite,
    call,
    compare,
    dtypes,
    expect,
    seeded,
    seeds,
    shapes,
)
from nnfaq.judge.suites._base import _close, _suite, _t

# --- efficiency ----------------------------------------------------------------------------------


def _lora(input, weight, lora_A, lora_B, alpha, bias=None, scale=None):
    r = lora_A.shape[0]
    s = alpha / r if scale is None else scale
    return F.linear(input, weight, bias) + s * F.linear(F.linear(input, lora_A), lora_B)


@st.composite
def _lora_cases(draw):
    lead = draw(st.lists(st.integers(1, 3), min_size=1, max_size=2))
    c_in, c_out, r = draw(st.integers(1, 5)), draw(st.integers(1, 5)), draw(st.integers(1, 3))
    seed, dtype = draw(seeds), draw(dtypes)
    return Case(
        input=seeded((*lead, c_in), seed, dtype),
        weight=seeded((c_out, c_in), seed + 1, dtype),
        lora_A=seeded((r, c_in), seed + 2, dtype),
        lora_B=seeded((c_out, r), seed + 3, dtype),
        alpha=draw(st.sampled_from([1.0, 8.0, 16.0])),
        bias=seeded((c_out,), seed + 4, dtype) if draw(st.booleans()) else None,
    )


@_suite("lora-linear")
def _lora_linear():
    wrong = [
        Mistake(
            lambda **a: _lora(**a, scale=a["alpha"]),
            "the update is scaled by alpha / r (r = lora_A.shape[0]), not by alpha",
        ),
        Mistake(lambda **a: _lora(**a, scale=1.0), "the update is scaled by alpha / r"),
    ]
    s = Suite("lora_linear", _lora, "the stated math")
    s.forward(_lora_cases(), wrong)
    s.gradient(_lora_cases(), wrt=("input", "lora_A", "lora_B"))

    def init(fn):
        x, W, b = seeded((4, 5), 58, F64), seeded((3, 5), 59, F64), seeded((3,), 60, F64)
        A = seeded((2, 5), 61, F64).requires_grad_(True)
        B = torch.zeros(3, 2, dtype=F64, requires_grad=True)
        y = call(fn, {"input": x, "weight": W, "lora_A": A, "lora_B": B, "alpha": 16.0, "bias": b})
        expect(_close(y, F.linear(x, W, b)), "with lora_B = 0 the layer must equal the base layer")
        gA, gB = torch.autograd.grad(y.sum(), (A, B), allow_unused=True)
        expect(gA is None or bool((gA == 0).all()), "with lora_B = 0, lora_A must get no gradient (B learns first)")
        expect(gB is not None and bool((gB != 0).any()), "with lora_B = 0, lora_B must get a gradient")

    def merge(fn):
        x, W, A, B = seeded((4, 5), 62, F64), seeded((3, 5), 63, F64), seeded((2, 5), 64, F64), seeded((3, 2), 65, F64)
        y = call(fn, {"input": x, "weight": W, "lora_A": A, "lora_B": B, "alpha": 8.0})
        expect(_close(y, F.linear(x, W + 4.0 * B @ A)), "merging W + (alpha / r) B A must give the same outputs")

    s.claim("with B = 0 it is the base layer and only B gets a gradient", init)
    s.claim("merging W + (alpha / r) B A gives the same outputs", merge)
    x, W = torch.ones(2, 5, dtype=F64), torch.ones(3, 5, dtype=F64)
    s.refuse(
        [
            (
                "lora_A with 4 input features for an input with 5",
                lambda: Case(
                    input=x, weight=W, lora_A=torch.ones(2, 4, dtype=F64), lora_B=torch.ones(3, 2, dtype=F64), alpha=1.0
                ),
            ),
            (
                "lora_B of rank 3 for lora_A of rank 2",
                lambda: Case(
                    input=x, weight=W, lora_A=torch.ones(2, 5, dtype=F64), lora_B=torch.ones(3, 3, dtype=F64), alpha=1.0
                ),
            ),
        ]
    )
    return s


def _slice_amax(input, dim):
    """max |x| over the whole tensor (dim None) or over every dimension but ``dim``: () or (C,)."""
    if dim is None:
        return input.abs().amax()
    others = [i for i in range(input.dim()) if i != dim % input.dim()]
    return input.abs().amax(dim=others) if others else input.abs()


def _absmax(input, dim=None, levels=127, truncate=False):
    """The stated math (``levels`` and ``truncate`` make two known mistakes); an all-zero slice gets scale 1."""
    amax = _slice_amax(input, dim)
    shape = [1] * input.dim()
    if dim is not None:
        shape[dim % input.dim()] = -1
    scale = torch.where(amax > 0, amax / levels, torch.ones_like(amax))  # () or (C,)
    r = input / scale.reshape(shape if dim is not None else ())
    q = (r.trunc() if truncate else torch.round(r)).clamp(-127, 127).to(torch.int8)
    return q, scale


@st.composite
def _quant_cases(draw):
    shape = draw(shapes(1, 3, 1, 5))
    dim = draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    return Case(input=seeded(shape, draw(seeds), draw(dtypes), draw(st.sampled_from([1.0, 100.0]))), dim=dim)


@_suite("int8-absmax-quantize")
def _quantize():
    def test(case, fn):
        out = call(fn, case.fresh())
        q_ref, s_ref = _absmax(**case.fresh())
        msg = compare(out, (q_ref, s_ref)) if not isinstance(out, tuple) or len(out) != 2 else None
        if msg:
            raise Failure(f"return a pair (q, scale); {msg}")
        q, scale = out
        if isinstance(scale, torch.Tensor) and scale.shape == s_ref.shape:
            # an all-zero slice may have any finite scale
            empty = _slice_amax(case.args["input"], case.args["dim"]) == 0
            scale = torch.where(empty & torch.isfinite(scale), s_ref.to(scale.dtype), scale)
        msg = compare(q, q_ref, "q") or compare(scale, s_ref, "scale")
        if msg:
            raise Failure(msg)

    def diagnose(case, fn):
        out = call(fn, case.fresh())
        for m in wrong:
            if compare(out, m.fn(**case.fresh())) is None:
                return Failure(m.message, m.hint)
        return None

    wrong = [
        Mistake(
            lambda input, dim=None: _absmax(input, dim, levels=128),
            "the scale is max|x| / 127: symmetric int8 uses -127..127, so that the largest magnitude maps to +-127",
        ),
        Mistake(
            lambda input, dim=None: _absmax(input, dim, truncate=True),
            "x / scale must be rounded to the nearest "
            "integer (torch.round), not truncated: .to(torch.int8) rounds toward 0",
        ),
    ]
    s = Suite("absmax_quantize", _absmax, "the stated math")

    s.searched(
        "forward",
        "values",
        _quant_cases(),
        test,
        30,
        "q and scale match the stated math on {n} random inputs",
        diagnose,
    )

    def round_trip(fn):
        x = seeded((6, 5), 66, F64, 3.0)
        for dim in (None, 0, -1):
            q, scale = call(fn, {"input": x, "dim": dim})
            sc = scale if dim is None else scale.reshape([-1, 1] if dim == 0 else [1, -1])
            err = (q.to(F64) * sc - x).abs()
            expect(bool((err <= sc / 2 + 1e-12).all()), "q * scale must be within scale / 2 of x")
            reduce = None if dim is None else (1 if dim == 0 else 0)
            top = q.abs().amax() if reduce is None else q.abs().amax(reduce)
            expect(bool((top == 127).all()), "the largest magnitude (of each slice) must map to +-127")

    s.claim("q * scale is within scale / 2 of x, and max |x| maps to 127", round_trip)

    def zeros(fn):
        x = torch.zeros(2, 3, dtype=F64)
        x[1] = _t([1.0, -2.0, 0.5])
        for dim in (None, 0):
            q, scale = call(fn, {"input": x if dim == 0 else torch.zeros(2, 3, dtype=F64), "dim": dim})
            expect(
                q.dtype == torch.int8 and bool(torch.isfinite(scale).all()),
                "an all-zero slice must not divide by 0: its scale must be finite",
            )
            expect(bool((q[0] == 0).all()), "an all-zero slice must quantize to 0")

    s.add("edge case", "an all-zero slice", zeros)
    s.refuse(
        [
            ("dim=2 for a 2-D input", lambda: Case(input=torch.ones(2, 3, dtype=F64), dim=2)),
            ("an integer input", lambda: Case(input=torch.ones(2, 3, dtype=torch.int64))),
        ]
    )
    return s
