"""Each exercise's checks: its random inputs, its oracle, its claims, edge cases, bad input and known mistakes.

One function per exercise, registered under the exercise's id with ``@_suite(id)``; it returns the
:class:`~nnfaq.judge.checks.Suite` that :func:`nnfaq.judge.runner.run_checks` runs. The oracle is
PyTorch's operation where PyTorch has it, else the stated math written out here. The messages of
:class:`~nnfaq.judge.checks.Mistake` rows name the classic wrong versions, so that a learner who
makes one is told which.

Examples
--------
>>> s = suite("softmax")
>>> [c.kind for c in s.ordered()][:2]
['forward', 'gradient']
>>> sorted(SUITES) == sorted(e.id for e in EXERCISES)
True
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from hypothesis import assume
from hypothesis import strategies as st

from nnfaq.judge.checks import (
    F32,
    F64,
    Case,
    Failure,
    Mistake,
    Suite,
    call,
    compare,
    dtypes,
    expect,
    oracle_call,
    seeded,
    seeds,
    shapes,
)
from nnfaq.judge.exercises import EXERCISES

__all__ = ["SUITES", "suite"]

SUITES: dict = {}
INF = math.inf
_NOT_A_TENSOR = "input is a list, not a tensor"


def _suite(id: str):
    def register(fn):
        SUITES[id] = fn
        return fn

    return register


def suite(exercise_id: str) -> Suite:
    """The checks of exercise ``exercise_id``, built fresh."""
    return SUITES[exercise_id]()


def _t(values, dtype=F64) -> torch.Tensor:
    return torch.tensor(values, dtype=dtype)


def _grad(fn, x: torch.Tensor, **kwargs) -> tuple[torch.Tensor, torch.Tensor]:
    """The user's ``fn(x, **kwargs)`` and the gradient of its sum with respect to ``x``."""
    x = x.detach().clone().requires_grad_(True)
    y = call(fn, {"input": x, **kwargs})
    expect(isinstance(y, torch.Tensor) and y.requires_grad, "the output does not depend on the input through autograd")
    (g,) = torch.autograd.grad(y.sum(), x, allow_unused=True)
    return y.detach(), torch.zeros_like(x) if g is None else g


def _close(a, b, tol=1e-7) -> bool:
    return (
        isinstance(a, torch.Tensor)
        and a.shape == b.shape
        and bool(torch.allclose(a.double(), b.double(), rtol=tol, atol=tol))
    )


# --- activations ---------------------------------------------------------------------------------


@st.composite
def _x(draw, scale=3.0, min_dims=1, max_dims=3):
    return Case(input=seeded(draw(shapes(min_dims, max_dims)), draw(seeds), draw(dtypes), scale))


def _activation(name, oracle, oracle_name, big_message, big_hint, mistakes=()):
    s = Suite(name, oracle, oracle_name)
    s.forward(_x(), mistakes)
    s.gradient(_x(), mistakes=mistakes)
    s.edge(
        "inputs near -1000 and 1000",
        lambda: Case(input=_t([-1000.0, -50.0, 0.0, 50.0, 1000.0])),
        big_message,
        big_hint,
        grad=("input",),
    )
    s.refuse([(_NOT_A_TENSOR, lambda: Case(input=[0.0, 1.0]))])
    return s


_OVERFLOW = "the output and its gradient must stay finite for inputs near +-1000"


@_suite("sigmoid")
def _sigmoid():
    s = _activation(
        "sigmoid",
        torch.sigmoid,
        "torch.sigmoid",
        _OVERFLOW,
        "exp(-x) overflows to inf for x near -1000 and autograd then computes 0 * inf = NaN: use "
        "exp(x) / (1 + exp(x)) where x < 0 (both are exp(-|x|) forms)",
    )

    def derivative(fn):
        x = torch.linspace(-6, 6, 1201, dtype=F64)
        y, g = _grad(fn, x)
        expect(_close(g, y * (1 - y)), "the gradient must be sigma(x) (1 - sigma(x))")
        expect(
            abs(g.max().item() - 0.25) < 1e-9 and int(g.argmax()) == 600, "the largest derivative must be 1/4, at x = 0"
        )

    s.claim("the derivative is sigma (1 - sigma), at most 1/4 (at 0)", derivative)
    return s


@_suite("tanh")
def _tanh():
    s = _activation(
        "tanh",
        torch.tanh,
        "torch.tanh",
        _OVERFLOW,
        "exp(x) overflows for |x| > 710 and (e^x - e^-x) / (e^x + e^-x) becomes inf / inf: write it "
        "with exp(-2|x|), which is at most 1",
    )

    def derivative(fn):
        y, g = _grad(fn, _t([0.0, 3.0]))
        expect(_close(g, 1 - y**2), "the gradient must be 1 - tanh(x)^2")
        expect(
            abs(g[0].item() - 1) < 1e-12 and g[1].item() < 0.01,
            "tanh'(0) must be 1 (as good as ReLU's) and tanh'(3) below 0.01 (saturation)",
        )

    s.claim("tanh'(0) = 1 and tanh saturates: tanh'(3) < 0.01", derivative)
    return s


def _at_zero(slope):
    def check(fn, **kw):
        _, g = _grad(fn, _t([-1.0, 0.0, 1.0]), **kw)
        expect(
            _close(g, _t([slope, slope, 1.0])),
            f"the derivative at exactly 0 must be {slope:g}, PyTorch's convention (the gradient at -1, 0, 1 "
            f"must be {slope:g}, {slope:g}, 1; got {[round(v, 4) for v in g.tolist()]})",
            "compare with x > 0, not x >= 0: x.clamp(min=0) and x * (x >= 0) give 1 at 0, torch.maximum 0.5",
        )

    return check


@_suite("relu")
def _relu():
    s = _activation("relu", F.relu, "torch.nn.functional.relu", _OVERFLOW, None)
    s.claim("the derivative is 1 for x > 0 and 0 for x <= 0 (0 at exactly 0)", _at_zero(0.0))
    return s


@st.composite
def _leaky_cases(draw):
    case = draw(_x())
    case.args["negative_slope"] = draw(st.sampled_from([0.01, 0.2, 0.5, 2.0, -0.1]))
    return case


@_suite("leaky-relu")
def _leaky_relu():
    def as_max(input, negative_slope=0.01):
        return torch.maximum(input, negative_slope * input)

    wrong = [
        Mistake(
            as_max,
            "max(x, negative_slope * x) is leaky ReLU only when negative_slope <= 1",
            "use torch.where(x > 0, x, negative_slope * x)",
        )
    ]
    s = Suite("leaky_relu", F.leaky_relu, "torch.nn.functional.leaky_relu")
    s.forward(_leaky_cases(), wrong)
    s.gradient(_leaky_cases(), mistakes=wrong)
    s.claim(
        "the derivative at 0 is negative_slope, and the default slope is 0.01",
        lambda fn: (_at_zero(0.1)(fn, negative_slope=0.1), _at_zero(0.01)(fn)),
    )
    s.refuse([(_NOT_A_TENSOR, lambda: Case(input=[0.0, 1.0]))])
    return s


@_suite("gelu")
def _gelu():
    def tanh_form(input):
        return F.gelu(input, approximate="tanh")

    wrong = [
        Mistake(
            tanh_form,
            "this is GELU's tanh approximation (approximate='tanh', GPT-2's), not the exact x Phi(x)",
            "Phi(x) = (1 + erf(x / sqrt(2))) / 2",
        )
    ]
    s = _activation("gelu", F.gelu, "torch.nn.functional.gelu", _OVERFLOW, None, wrong)

    def derivative(fn):
        x = torch.linspace(-4, 4, 81, dtype=F64)
        _, g = _grad(fn, x)
        Phi, phi = 0.5 * (1 + torch.erf(x / math.sqrt(2))), torch.exp(-0.5 * x**2) / math.sqrt(2 * math.pi)
        expect(_close(g, Phi + x * phi), "the gradient must be Phi(x) + x phi(x)")

    s.claim("the derivative is Phi(x) + x phi(x)", derivative)
    return s


@_suite("silu")
def _silu():
    s = _activation(
        "silu",
        F.silu,
        "torch.nn.functional.silu",
        _OVERFLOW,
        "x / (1 + exp(-x)) has a NaN gradient at -1000 (0 * inf): use x * sigmoid(x) with a stable sigmoid",
    )

    def minimum(fn):
        x = torch.linspace(-3, 1, 40001, dtype=F64)
        y = call(fn, {"input": x})
        expect(
            isinstance(y, torch.Tensor) and abs(y.min().item() + 0.278464) < 1e-5,
            "SiLU's minimum must be about -0.2785 (it is not monotonic)",
        )
        expect(abs(x[y.argmin()].item() + 1.2785) < 1e-3, "SiLU's minimum must be at x near -1.2785")

    s.claim("not monotonic: the minimum is about -0.2785, near x = -1.278", minimum)
    return s


# --- softmax family ------------------------------------------------------------------------------


@st.composite
def _dim_cases(draw, max_side=5):
    shape = draw(shapes(1, 3, 1, max_side))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    return Case(input=seeded(shape, draw(seeds), draw(dtypes), 3.0), dim=dim)


_STABLE = "subtract the maximum along dim (keepdim=True) before exp: softmax(x) = softmax(x - max(x))"


def _dim_refusals(extra=None):
    cases = [
        (_NOT_A_TENSOR, lambda: Case(input=[0.0, 1.0], dim=0, **(extra or {}))),
        (
            "dim=2 for a 2-D input (out of range)",
            lambda: Case(input=torch.zeros(2, 3, dtype=F64), dim=2, **(extra or {})),
        ),
    ]
    return cases


@_suite("softmax")
def _softmax():
    s = Suite("softmax", F.softmax, "torch.nn.functional.softmax")
    s.forward(_dim_cases())
    s.gradient(_dim_cases())

    def sums_to_one(fn):
        x = seeded((4, 6), 1, F64, 3.0)
        y = call(fn, {"input": x, "dim": 1})
        expect(
            isinstance(y, torch.Tensor) and _close(y.sum(1), torch.ones(4, dtype=F64)) and bool((y >= 0).all()),
            "the outputs must be non-negative and sum to 1 along dim",
        )

    def shift(fn):
        x = seeded((3, 5), 2, F64, 3.0)
        a, b = call(fn, {"input": x, "dim": -1}), call(fn, {"input": x + 50.0, "dim": -1})
        expect(_close(a, b), "adding the same constant to every logit of a row must not change its softmax")

    s.claim("each row is a distribution: non-negative, sums to 1", sums_to_one)
    s.claim("adding a constant to a row changes nothing", shift)
    s.edge(
        "logits near 1000",
        lambda: Case(input=_t([[1000.0, 999.0, 998.0]]), dim=-1),
        "outputs overflow for logits near 1000",
        _STABLE,
        grad=("input",),
    )
    s.edge(
        "logits near -1000",
        lambda: Case(input=_t([[-1000.0, -1001.0, -1002.0]]), dim=-1),
        "outputs underflow for logits near -1000 (0 / 0)",
        _STABLE,
    )
    s.edge(
        "a -inf logit (a masked entry)",
        lambda: Case(input=_t([[0.0, -INF, 1.0]]), dim=1),
        "a -inf logit must get probability 0 and the others a distribution",
        None,
    )
    s.refuse(_dim_refusals())
    return s


@_suite("log-softmax")
def _log_softmax():
    s = Suite("log_softmax", F.log_softmax, "torch.nn.functional.log_softmax")
    s.forward(_dim_cases())
    s.gradient(_dim_cases())

    def normalized(fn):
        x = seeded((4, 6), 1, F64, 3.0)
        y = call(fn, {"input": x, "dim": 1})
        expect(
            isinstance(y, torch.Tensor) and _close(y.exp().sum(1), torch.ones(4, dtype=F64)),
            "exp of the output must sum to 1 along dim",
        )

    s.claim("exp of the output sums to 1", normalized)
    s.edge(
        "a logit 1000 below the maximum",
        lambda: Case(input=_t([[0.0, -1000.0]]), dim=1),
        "log(softmax(x)) underflows: a logit 1000 below the maximum must give about -1000, not -inf",
        "compute x - m - log(sum(exp(x - m))) with m the row maximum; never take the log of a probability",
        grad=("input",),
    )
    s.edge(
        "logits near 1000",
        lambda: Case(input=_t([[1000.0, 999.0]]), dim=-1),
        "outputs overflow for logits near 1000",
        _STABLE,
    )
    s.refuse(_dim_refusals())
    return s


@st.composite
def _ce_index_cases(draw):
    B, C = draw(st.integers(1, 5)), draw(st.integers(2, 5))
    seed = draw(seeds)
    dtype = draw(dtypes)
    ignore = draw(st.sampled_from([-100, 0, 1]))
    g = torch.Generator().manual_seed(seed)
    target = torch.randint(0, C, (B,), generator=g)
    if ignore == -100:
        drop = torch.rand(B, generator=g) < 0.3
        target = target.masked_fill(drop, -100)
    target[0] = (ignore + 1) % C if ignore >= 0 else int(target[0].clamp(min=0))  # one counted target at least
    weight = None if draw(st.booleans()) else seeded((C,), seed + 1, dtype, low=0.2, high=2.0)
    return Case(
        input=seeded((B, C), seed, dtype, 3.0),
        target=target,
        weight=weight,
        ignore_index=ignore,
        reduction=draw(st.sampled_from(["mean", "sum", "none"])),
    )


def _ce_divided_by_batch(input, target, weight=None, ignore_index=-100, reduction="mean"):
    losses = F.cross_entropy(input, target, weight, ignore_index=ignore_index, reduction="none")
    return losses.sum() / input.shape[0] if reduction == "mean" else losses if reduction == "none" else losses.sum()


def _ce_divided_by_count(input, target, weight=None, ignore_index=-100, reduction="mean"):
    losses = F.cross_entropy(input, target, weight, ignore_index=ignore_index, reduction="none")
    count = (target != ignore_index).sum()
    return losses.sum() / count if reduction == "mean" else losses if reduction == "none" else losses.sum()


@_suite("cross-entropy")
def _cross_entropy():
    wrong = [
        Mistake(
            _ce_divided_by_count,
            "with class weights, 'mean' divides by the sum of the weights of the counted "
            "targets, weight[target].sum(), not by their number",
            "loss.sum() / weight[target][kept].sum()",
        ),
        Mistake(
            _ce_divided_by_batch,
            "'mean' must average over the counted targets only: ignored targets are "
            "left out of the denominator (and with weights, it divides by the sum of their weights)",
            "kept = target != ignore_index; divide by weight[target[kept]].sum() (or kept.sum() without weights)",
        ),
    ]
    s = Suite("cross_entropy", F.cross_entropy, "torch.nn.functional.cross_entropy")
    s.forward(_ce_index_cases(), wrong)
    s.gradient(_ce_index_cases())

    def ignored(fn):
        x, t = seeded((4, 3), 3, F64, 2.0), torch.tensor([0, -100, 2, -100])
        y = x.clone()
        y[1], y[3] = 50.0, -7.0
        a, b = call(fn, {"input": x, "target": t}), call(fn, {"input": y, "target": t})
        expect(_close(a, b), "ignored targets must contribute nothing: changing their logits changed the loss")

    s.claim("ignored targets contribute nothing", ignored)
    s.edge(
        "large logits",
        lambda: Case(input=_t([[1000.0, 0.0, -1000.0]]), target=torch.tensor([2])),
        "the loss must stay finite for large logits (here it is 2000)",
        "use a stable log-softmax: x - max - log(sum(exp(x - max)))",
        grad=("input",),
    )
    s.refuse(
        [
            (_NOT_A_TENSOR, lambda: Case(input=[[0.0, 1.0]], target=torch.tensor([0]))),
            (
                "a target index equal to C (out of range)",
                lambda: Case(input=torch.zeros(2, 3, dtype=F64), target=torch.tensor([0, 3])),
            ),
            (
                "an unknown reduction 'avg'",
                lambda: Case(input=torch.zeros(2, 3, dtype=F64), target=torch.tensor([0, 1]), reduction="avg"),
            ),
        ]
    )
    return s


@st.composite
def _ce_soft_cases(draw):
    B, C = draw(st.integers(1, 5)), draw(st.integers(2, 5))
    seed, dtype = draw(seeds), draw(dtypes)
    target = torch.softmax(seeded((B, C), seed + 2, F64, 2.0), 1).to(dtype)
    weight = None if draw(st.booleans()) else seeded((C,), seed + 1, dtype, low=0.2, high=2.0)
    return Case(
        input=seeded((B, C), seed, dtype, 3.0),
        target=target,
        weight=weight,
        reduction=draw(st.sampled_from(["mean", "sum", "none"])),
        label_smoothing=draw(st.sampled_from([0.0, 0.1, 0.3])),
    )


def _soft_by_weight_sum(input, target, weight=None, reduction="mean", label_smoothing=0.0):
    losses = F.cross_entropy(input, target, weight, reduction="none", label_smoothing=label_smoothing)
    if reduction == "mean" and weight is not None:
        return losses.sum() / (target * weight).sum()
    return F.cross_entropy(input, target, weight, reduction=reduction, label_smoothing=label_smoothing)


@_suite("cross-entropy-soft-targets")
def _cross_entropy_soft():
    wrong = [
        Mistake(
            _soft_by_weight_sum,
            "with probability targets, 'mean' divides by the batch size B even with "
            "weights (dividing by the weights is the rule for index targets only)",
        )
    ]
    s = Suite("cross_entropy", F.cross_entropy, "torch.nn.functional.cross_entropy")
    s.forward(_ce_soft_cases(), wrong)
    s.gradient(_ce_soft_cases(), wrt=("input", "target"))

    def one_hot(fn):
        x, t = seeded((4, 3), 3, F64, 2.0), torch.tensor([0, 1, 2, 1])
        a = call(fn, {"input": x, "target": F.one_hot(t, 3).to(F64)})
        expect(_close(a, F.cross_entropy(x, t)), "with one-hot targets it must equal the index version")

    def entropy(fn):
        t = torch.softmax(seeded((3, 4), 4, F64), 1)
        a = call(fn, {"input": t.log(), "target": t, "reduction": "none"})
        expect(
            _close(a, -(t * t.log()).sum(1)),
            "at logits = log(target) the loss must equal the target's entropy (its minimum is not 0)",
        )

    s.claim("with one-hot targets it equals the index version", one_hot)
    s.claim("its minimum, at logits = log target, is the target's entropy", entropy)
    s.edge(
        "large logits",
        lambda: Case(input=_t([[1000.0, 0.0, -1000.0]]), target=_t([[0.0, 0.5, 0.5]])),
        "the loss must stay finite for large logits",
        "use a stable log-softmax",
        grad=("input",),
    )
    s.refuse(
        [
            (_NOT_A_TENSOR, lambda: Case(input=[[0.0, 1.0]], target=_t([[0.0, 1.0]]))),
            (
                "a target of shape (2, 4) for input (2, 3)",
                lambda: Case(input=torch.zeros(2, 3, dtype=F64), target=torch.full((2, 4), 0.25, dtype=F64)),
            ),
        ]
    )
    return s


@st.composite
def _ce_grad_cases(draw):
    B, C = draw(st.integers(1, 5)), draw(st.integers(2, 5))
    seed = draw(seeds)
    target = torch.randint(0, C, (B,), generator=torch.Generator().manual_seed(seed))
    return Case(input=seeded((B, C), seed, draw(dtypes), 3.0), target=target)


def _autograd_ce(input, target):
    x = input.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(F.cross_entropy(x, target), x)
    return g


@_suite("cross-entropy-grad")
def _cross_entropy_grad():
    def per_example(input, target):
        return _autograd_ce(input, target) * input.shape[0]

    wrong = [Mistake(per_example, "the loss is the mean over the batch: divide p - y by the batch size B")]
    s = Suite("cross_entropy_grad", _autograd_ce, "autograd of torch.nn.functional.cross_entropy")
    s.forward(_ce_grad_cases(), wrong)

    def rows(fn):
        x, t = seeded((5, 4), 5, F64, 3.0), torch.tensor([0, 1, 2, 3, 0])
        g = call(fn, {"input": x, "target": t})
        expect(
            isinstance(g, torch.Tensor) and g.shape == (5, 4) and _close(g.sum(1), torch.zeros(5, dtype=F64)),
            "each row of the gradient must sum to 0 (probabilities minus a one-hot)",
        )
        expect(bool((g.abs() <= 1 / 5 + 1e-12).all()), "every entry must lie in [-1/B, 1/B]")

    s.claim("each row sums to 0 and every entry lies in [-1/B, 1/B]", rows)
    s.edge(
        "large logits",
        lambda: Case(input=_t([[1000.0, 0.0, -1000.0]]), target=torch.tensor([1])),
        "the gradient must stay finite for large logits (here it is [1, -1, 0])",
        _STABLE,
    )
    s.refuse(
        [
            (_NOT_A_TENSOR, lambda: Case(input=[[0.0, 1.0]], target=torch.tensor([0]))),
            (
                "a target index equal to C (out of range)",
                lambda: Case(input=torch.zeros(2, 3, dtype=F64), target=torch.tensor([0, 3])),
            ),
        ]
    )
    return s


@st.composite
def _bce_cases(draw):
    shape = draw(shapes(1, 3))
    seed, dtype = draw(seeds), draw(dtypes)
    weight = draw(st.sampled_from([None, "full", "last"]))
    pos = draw(st.booleans())
    w = {None: None, "full": shape, "last": shape[-1:]}[weight]
    return Case(
        input=seeded(shape, seed, dtype, 3.0),
        target=seeded(shape, seed + 1, dtype, low=0.0, high=1.0),
        weight=None if w is None else seeded(w, seed + 2, dtype, low=0.2, high=2.0),
        reduction=draw(st.sampled_from(["mean", "sum", "none"])),
        pos_weight=seeded(shape[-1:], seed + 3, dtype, low=0.5, high=3.0) if pos else None,
    )


@_suite("bce-with-logits")
def _bce_with_logits():
    s = Suite(
        "binary_cross_entropy_with_logits",
        F.binary_cross_entropy_with_logits,
        "torch.nn.functional.binary_cross_entropy_with_logits",
    )
    s.forward(_bce_cases())
    s.gradient(_bce_cases())

    def gradient(fn):
        x, y = seeded((6,), 6, F64, 3.0), seeded((6,), 7, F64, low=0.0, high=1.0)
        xl = x.clone().requires_grad_(True)
        loss = call(fn, {"input": xl, "target": y, "reduction": "sum"})
        (g,) = torch.autograd.grad(loss, xl)
        expect(_close(g, torch.sigmoid(x) - y), "the gradient of the summed loss must be sigma(x) - y")

    s.claim("the gradient is sigma(x) - y", gradient)
    s.edge(
        "logits near -1000 and 1000",
        lambda: Case(input=_t([1000.0, -1000.0, 1000.0]), target=_t([0.0, 1.0, 1.0]), reduction="none"),
        "the loss must stay finite for large logits (about 1000 when wrong, 0 when right)",
        "log sigma(x) = -softplus(-x), log(1 - sigma(x)) = -softplus(x), softplus(z) = max(z, 0) + log1p(exp(-|z|))",
        grad=("input",),
    )
    s.refuse(
        [
            (_NOT_A_TENSOR, lambda: Case(input=[0.0, 1.0], target=_t([0.0, 1.0]))),
            ("a target of shape (3,) for input (2,)", lambda: Case(input=_t([0.0, 1.0]), target=_t([0.0, 1.0, 1.0]))),
        ]
    )
    return s


@st.composite
def _regression_cases(draw):
    shape = draw(shapes(1, 3))
    seed, dtype = draw(seeds), draw(dtypes)
    return Case(
        input=seeded(shape, seed, dtype, 2.0),
        target=seeded(shape, seed + 1, dtype, 2.0),
        reduction=draw(st.sampled_from(["mean", "sum", "none"])),
        delta=draw(st.sampled_from([1.0, 0.5, 2.0])),
    )


@_suite("huber-loss")
def _huber():
    def smooth_l1(input, target, reduction="mean", delta=1.0):
        return F.smooth_l1_loss(input, target, reduction=reduction, beta=delta)

    wrong = [
        Mistake(
            smooth_l1,
            "this is smooth_l1_loss (Huber divided by delta); Huber's pieces are e^2 / 2 and delta (e - delta / 2)",
        )
    ]
    s = Suite("huber_loss", F.huber_loss, "torch.nn.functional.huber_loss")
    s.forward(_regression_cases(), wrong)
    s.gradient(_regression_cases(), mistakes=wrong)

    def clipped(fn):
        x = _t([-3.0, -0.5, 0.2, 2.5])
        xl = x.clone().requires_grad_(True)
        loss = call(fn, {"input": xl, "target": torch.zeros(4, dtype=F64), "reduction": "sum", "delta": 1.0})
        (g,) = torch.autograd.grad(loss, xl)
        expect(_close(g, x.clamp(-1, 1)), "the gradient must be the error clipped to [-delta, delta]")

    s.claim("the gradient is the error clipped to [-delta, delta]", clipped)
    s.refuse(
        [
            (_NOT_A_TENSOR, lambda: Case(input=[0.0, 1.0], target=_t([0.0, 1.0]))),
            ("delta=-1.0 (must be > 0)", lambda: Case(input=_t([0.0, 1.0]), target=_t([0.0, 1.0]), delta=-1.0)),
            ("an unknown reduction 'avg'", lambda: Case(input=_t([0.0, 1.0]), target=_t([0.0, 1.0]), reduction="avg")),
        ]
    )
    return s


@st.composite
def _kl_cases(draw):
    B, C = (
        draw(
            st.integers(1, 4),
        ),
        draw(st.integers(2, 5)),
    )
    seed, dtype = draw(seeds), draw(dtypes)
    log_target = draw(st.booleans())
    p = torch.softmax(seeded((B, C), seed + 1, F64, 2.0), 1)
    if not log_target and draw(st.booleans()):
        p[:, 0] = 0.0
        p = p / p.sum(1, keepdim=True)
    target = (p.log() if log_target else p).to(dtype)
    return Case(
        input=torch.log_softmax(seeded((B, C), seed, F64, 2.0), 1).to(dtype),
        target=target,
        reduction=draw(st.sampled_from(["mean", "batchmean", "sum", "none"])),
        log_target=log_target,
    )


@_suite("kl-div")
def _kl_div():
    def batchmean_by_numel(input, target, reduction="mean", log_target=False):
        r = "mean" if reduction == "batchmean" else reduction
        return F.kl_div(input, target, reduction=r, log_target=log_target)

    def reversed_order(input, target, reduction="mean", log_target=False):
        p = target.exp() if log_target else target
        q = input.exp()
        out = q * (input - (p.log()))
        return {"none": out, "sum": out.sum(), "mean": out.mean(), "batchmean": out.sum() / input.shape[0]}[reduction]

    wrong = [
        Mistake(
            batchmean_by_numel,
            "'batchmean' divides the sum by the batch size input.size(0), not by the number "
            "of elements (that is 'mean')",
        ),
        Mistake(
            reversed_order,
            "the order is reversed: kl_div(input, target) is KL(target || exp(input)) = "
            "sum target (log target - input)",
        ),
    ]
    s = Suite("kl_div", F.kl_div, "torch.nn.functional.kl_div")
    s.forward(_kl_cases(), wrong)
    s.gradient(_kl_cases())

    def zero_at_equal(fn):
        p = torch.softmax(seeded((3, 4), 8, F64), 1)
        out = call(fn, {"input": p.log(), "target": p, "reduction": "sum"})
        expect(isinstance(out, torch.Tensor) and abs(out.item()) < 1e-12, "KL(p || p) must be 0")

    s.claim("KL(p || p) = 0", zero_at_equal)
    s.edge(
        "a target probability of exactly 0",
        lambda: Case(input=torch.log(_t([[0.5, 0.5]])), target=_t([[0.0, 1.0]]), reduction="none"),
        "0 log 0 must count as 0, not NaN",
        "torch.xlogy(target, target) - target * input",
    )
    s.refuse(
        [
            (_NOT_A_TENSOR, lambda: Case(input=[[0.0, 1.0]], target=_t([[0.5, 0.5]]))),
            (
                "an unknown reduction 'avg'",
                lambda: Case(input=_t([[-0.7, -0.7]]), target=_t([[0.5, 0.5]]), reduction="avg"),
            ),
        ]
    )
    return s


# --- gradients and initialization ----------------------------------------------------------------


class _Params:
    """A list of parameters with gradients (some None), rebuilt fresh for every call; passed as a list,
    a generator or a single tensor."""

    def __init__(self, shapes_, seed, scale, none, form):
        self.shapes, self.seed, self.scale, self.none, self.form = shapes_, seed, scale, none, form

    def build(self):
        out = []
        for i, shape in enumerate(self.shapes):
            p = seeded(shape, self.seed + i, F64).requires_grad_(True)
            p.grad = None if i in self.none else seeded(shape, self.seed + 100 + i, F64, self.scale)
            out.append(p)
        return out

    def arg(self, params):
        return {"list": params, "generator": (p for p in params), "tensor": params[0]}[self.form]

    def __repr__(self):
        grads = ", ".join("None" if i in self.none else str(tuple(s)) for i, s in enumerate(self.shapes))
        return f"a {self.form} of {len(self.shapes)} tensors with gradients of shapes {grads}"


@st.composite
def _clip_cases(draw):
    n = draw(st.integers(1, 3))
    form = (
        draw(st.sampled_from(["list", "generator", "tensor"]))
        if n == 1
        else draw(st.sampled_from(["list", "generator"]))
    )
    none = {n - 1} if n > 1 and draw(st.booleans()) else set()
    params = _Params(
        [draw(shapes(1, 2, 1, 4)) for _ in range(n)], draw(seeds), draw(st.sampled_from([0.1, 1.0, 5.0])), none, form
    )
    return Case(
        parameters=params,
        max_norm=draw(st.sampled_from([0.5, 1.0, 3.0])),
        norm_type=draw(st.sampled_from([2.0, 1.0, INF])),
    )


def _clip_run(fn, case: Case, user: bool = True):
    a = case.args
    params = a["parameters"].build()
    args = {"parameters": a["parameters"].arg(params), "max_norm": a["max_norm"], "norm_type": a["norm_type"]}
    out = call(fn, args) if user else oracle_call(fn, args)
    return out, [p.grad for p in params]


def _per_parameter(parameters, max_norm, norm_type=2.0):
    params = [parameters] if isinstance(parameters, torch.Tensor) else list(parameters)
    norms = [torch.linalg.vector_norm(p.grad, norm_type) for p in params if p.grad is not None]
    for p in params:
        if p.grad is not None:
            torch.nn.utils.clip_grad_norm_([p], max_norm, norm_type)
    return torch.linalg.vector_norm(torch.stack(norms), norm_type)


def _always_scale(parameters, max_norm, norm_type=2.0):
    params = [parameters] if isinstance(parameters, torch.Tensor) else list(parameters)
    grads = [p.grad for p in params if p.grad is not None]
    total = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g, norm_type) for g in grads]), norm_type)
    for g in grads:
        g.mul_(max_norm / (total + 1e-6))
    return total


def _norm_after(parameters, max_norm, norm_type=2.0):
    params = [parameters] if isinstance(parameters, torch.Tensor) else list(parameters)
    torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type)
    grads = [p.grad for p in params if p.grad is not None]
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g, norm_type) for g in grads]), norm_type)


@_suite("clip-grad-norm")
def _clip_grad_norm():
    wrong = [
        Mistake(
            _per_parameter,
            "each gradient was clipped by its own norm: clip by the global norm of all gradients "
            "together, with one scale for all (the direction of the whole update is kept)",
        ),
        Mistake(
            _always_scale,
            "gradients whose total norm is already below max_norm must be left unchanged (the "
            "scale is min(1, max_norm / norm))",
        ),
        Mistake(_norm_after, "return the total norm before clipping (the number to log), not after"),
    ]
    s = Suite("clip_grad_norm_", torch.nn.utils.clip_grad_norm_, "torch.nn.utils.clip_grad_norm_")

    def test(case, fn):
        ours = _clip_run(fn, case)
        ref = _clip_run(torch.nn.utils.clip_grad_norm_, case, user=False)
        msg = compare(ours[0], ref[0], "the returned total norm") or compare(ours[1], ref[1], "the gradients")
        if msg:
            raise Failure(msg)

    def diagnose(case, fn):
        ours = _clip_run(fn, case)
        for m in wrong:
            if compare(ours, _clip_run(m.fn, case, user=False)) is None:
                return Failure(m.message, m.hint)
        return None

    s.searched(
        "forward",
        "values",
        _clip_cases(),
        test,
        30,
        "matches torch.nn.utils.clip_grad_norm_ on {n} random inputs (norm and gradients)",
        diagnose,
    )

    def bounded(fn):
        params = _Params([(3, 4), (5,)], 9, 10.0, set(), "list")
        ps = params.build()
        call(fn, {"parameters": ps, "max_norm": 1.0})
        total = torch.linalg.vector_norm(torch.cat([p.grad.flatten() for p in ps]))
        expect(
            total.item() <= 1.0 + 1e-6,
            f"after clipping the total norm must be at most max_norm (got {total.item():.4g})",
        )
        before = params.build()
        cos = F.cosine_similarity(
            torch.cat([p.grad.flatten() for p in ps]), torch.cat([p.grad.flatten() for p in before]), dim=0
        )
        expect(cos.item() > 1 - 1e-12, "clipping must keep the direction of the whole gradient")

    s.claim("after clipping the norm is at most max_norm and the direction is kept", bounded)
    s.refuse([("parameters is an int", lambda: Case(parameters=3, max_norm=1.0))])
    return s


_KAIMING_SHAPES = [(256, 128), (128, 256), (64, 32, 3, 3), (32, 64, 5, 5)]


def _gain(nonlinearity, a):
    return {"relu": math.sqrt(2.0), "leaky_relu": math.sqrt(2.0 / (1 + a * a)), "linear": 1.0, "tanh": 5.0 / 3}[
        nonlinearity
    ]


def _fans(shape):
    k = math.prod(shape[2:])
    return shape[1] * k, shape[0] * k


@_suite("kaiming-uniform")
def _kaiming():
    s = Suite("kaiming_uniform_", torch.nn.init.kaiming_uniform_, "torch.nn.init.kaiming_uniform_")
    options = [
        (shape, a, mode, nl)
        for shape in _KAIMING_SHAPES
        for a, mode, nl in [
            (0.0, "fan_in", "relu"),
            (math.sqrt(5), "fan_in", "leaky_relu"),
            (0.1, "fan_out", "leaky_relu"),
            (0.0, "fan_in", "linear"),
            (0.0, "fan_out", "tanh"),
        ]
    ]

    def one(fn, shape, a, mode, nl):
        t = torch.empty(shape, dtype=F64)
        case = Case(tensor=t, a=a, mode=mode, nonlinearity=nl)
        where = f"tensor of shape {shape}, a={a:.4g}, mode={mode!r}, nonlinearity={nl!r}"
        out = call(fn, {"tensor": t, "a": a, "mode": mode, "nonlinearity": nl})
        expect(out is t, "kaiming_uniform_ must fill the tensor in place and return that same tensor", None, where)
        fan_in, fan_out = _fans(shape)
        fan = fan_in if mode == "fan_in" else fan_out
        b = _gain(nl, a) * math.sqrt(3.0 / fan)
        top, std = t.abs().max().item(), t.std().item()
        if top > b * (1 + 1e-9) or top < 0.99 * b or abs(std / (b / math.sqrt(3)) - 1) > 0.03:
            other = fan_out if mode == "fan_in" else fan_in
            ratio = top / b
            if abs(ratio - 1 / math.sqrt(3)) < 0.02:
                raise Failure(
                    "the bound is the standard deviation: for U(-b, b) the std is b / sqrt(3), so "
                    "b = gain * sqrt(3 / fan)",
                    None,
                    where,
                )
            if other != fan and abs(ratio - math.sqrt(fan / other)) < 0.02:
                raise Failure(
                    f"the fan is wrong: {mode} is C_{'in' if mode == 'fan_in' else 'out'} * prod(K) = "
                    f"{fan} here, got what {other} gives",
                    "fan_in = shape[1] * prod(shape[2:]), fan_out = shape[0] * prod(shape[2:])",
                    where,
                )
            if top > b * (1 + 1e-9):
                raise Failure(
                    f"values reach {top:.4g}, beyond the bound b = gain sqrt(3 / fan) = {b:.4g}: draw from U(-b, b)",
                    None,
                    where,
                )
            raise Failure(
                f"the values' largest magnitude is {top:.4g} and their std {std:.4g}; expected the bound "
                f"{b:.4g} and std {b / math.sqrt(3):.4g} (Var = gain^2 / fan)",
                None,
                where,
            )
        del case

    def forward(fn):
        for opts in options:
            one(fn, *opts)
        return f"bound and variance match gain^2 / fan on {len(options)} shapes and options (statistics)"

    s.add("forward", "values", forward)

    def relu_variance(fn):
        t = torch.empty(512, 256, dtype=F64)
        call(fn, {"tensor": t, "nonlinearity": "relu"})
        expect(abs(t.var().item() * 256 / 2 - 1) < 0.03, "with ReLU the variance must be 2 / fan_in (He et al.)")

    s.claim("for ReLU, Var(w) = 2 / fan_in", relu_variance)
    s.refuse(
        [
            ("a 1-D tensor (no fan_in)", lambda: Case(tensor=torch.empty(5, dtype=F64))),
            ("mode='fan_avg'", lambda: Case(tensor=torch.empty(4, 3, dtype=F64), mode="fan_avg")),
        ]
    )
    return s


# --- training ------------------------------------------------------------------------------------


@st.composite
def _dropout_cases(draw):
    shape = draw(shapes(1, 3, 1, 6))
    return Case(input=seeded(shape, draw(seeds), draw(dtypes), 2.0), p=draw(st.sampled_from([0.1, 0.5, 0.8])))


@_suite("dropout")
def _dropout():
    s = Suite("dropout", None, "")

    def structure(case, fn):
        x, p = case.args["input"], case.args["p"]
        y = call(fn, case.fresh())
        msg = (
            compare(y, x, "the output")
            if not isinstance(y, torch.Tensor) or y.shape != x.shape or (y.dtype != x.dtype)
            else None
        )
        if msg:
            raise Failure(msg)
        kept = y != 0
        if bool(kept.any()):
            if _close(y[kept], x[kept], 1e-5):
                raise Failure(
                    "the survivors are not scaled: multiply the kept elements by 1 / (1 - p) (inverted "
                    "dropout), so that the expected output equals the input",
                    "return input * mask / (1 - p)",
                )
            if _close(y[kept], x[kept] * (1 - p), 1e-5):
                raise Failure("the survivors are multiplied by 1 - p: divide by 1 - p instead (inverted dropout)")
            msg = compare(y[kept], (x / (1 - p))[kept], "a kept element")
            if msg:
                raise Failure(f"every output must be 0 or input / (1 - p); {msg}")

    s.searched(
        "forward",
        "values",
        _dropout_cases(),
        structure,
        30,
        "every output is 0 or input / (1 - p) on {n} random inputs",
    )

    def fraction(fn):
        for p in (0.2, 0.7):
            y = call(fn, {"input": torch.ones(100_000, dtype=F64), "p": p})
            dropped = (y == 0).double().mean().item()
            if abs(dropped - (1 - p)) < 0.01:
                raise Failure(
                    f"a fraction {dropped:.3f} was dropped with p={p}: p is the probability of dropping, "
                    "so keep each element with probability 1 - p"
                )
            expect(abs(dropped - p) < 0.01, f"with p={p} about a fraction p must be dropped; got {dropped:.3f}")

    def mean(fn):
        y = call(fn, {"input": torch.full((100_000,), 2.0, dtype=F64), "p": 0.5})
        expect(
            abs(y.mean().item() - 2.0) < 0.04, f"the mean must be kept: E[y] = x (got {y.mean().item():.4f} for x = 2)"
        )

    def eval_identity(fn):
        x = seeded((4, 5), 3, F64)
        y = call(fn, {"input": x, "p": 0.5, "training": False})
        expect(
            isinstance(y, torch.Tensor) and torch.equal(y, x),
            "in evaluation (training=False) the output must be the input, unchanged",
            "if not training: return input",
        )
        y0 = call(fn, {"input": x, "p": 0.0})
        expect(isinstance(y0, torch.Tensor) and torch.equal(y0, x), "p = 0 must return the input unchanged")

    def gradient(fn):
        x = seeded((2000,), 4, F64).requires_grad_(True)
        y = call(fn, {"input": x, "p": 0.4})
        expect(y.requires_grad, "the output does not depend on the input through autograd")
        (g,) = torch.autograd.grad(y.sum(), x)
        mask = (y.detach() != 0).double()
        expect(
            _close(g, mask / 0.6),
            "the gradient must be mask / (1 - p): dropped elements get 0, kept ones 1 / (1 - p)",
            "reuse the forward pass's mask; do not draw a new one",
        )

    def fresh_mask(fn):
        x = torch.ones(1000, dtype=F64)
        a, b = call(fn, {"input": x}), call(fn, {"input": x})
        expect(not torch.equal(a, b), "two calls must draw two different masks (do not seed inside dropout)")

    s.claim("a fraction p of the elements is dropped", fraction)
    s.claim("the mean is kept: E[output] = input", mean)
    s.claim("identity in evaluation and for p = 0", eval_identity)
    s.claim("the gradient is mask / (1 - p)", gradient)
    s.claim("every call draws a new mask", fresh_mask)
    s.refuse(
        [
            (_NOT_A_TENSOR, lambda: Case(input=[1.0, 2.0])),
            ("p=1.5 (a probability must lie in [0, 1))", lambda: Case(input=torch.ones(3, dtype=F64), p=1.5)),
            ("p=-0.1", lambda: Case(input=torch.ones(3, dtype=F64), p=-0.1)),
            ("training='yes' (not a bool)", lambda: Case(input=torch.ones(3, dtype=F64), training="yes")),
        ]
    )
    return s


@st.composite
def _bn_cases(draw, training=None):
    B, C = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    spatial = draw(st.lists(st.integers(1, 3), max_size=2))
    train = draw(st.booleans()) if training is None else training
    if train and B * math.prod(spatial) < 2:
        B = 2
    seed, dtype = draw(seeds), draw(dtypes)
    affine = draw(st.booleans())
    return Case(
        input=seeded((B, C, *spatial), seed, dtype, 2.0) + 1.0,
        running_mean=seeded((C,), seed + 1, dtype),
        running_var=seeded((C,), seed + 2, dtype, low=0.5, high=2.0),
        weight=seeded((C,), seed + 3, dtype) if affine else None,
        bias=seeded((C,), seed + 4, dtype) if affine else None,
        training=train,
        momentum=draw(st.sampled_from([0.1, 0.5])),
        eps=draw(st.sampled_from([1e-5, 1e-3])),
    )


def _bn_unbiased_output(
    input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5
):
    if not training:
        return F.batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    dims = [d for d in range(input.dim()) if d != 1]
    shape = [1, -1] + [1] * (input.dim() - 2)
    mu, var = input.mean(dims), input.var(dims, unbiased=True)
    y = (input - mu.view(shape)) / torch.sqrt(var.view(shape) + eps)
    return y * (1 if weight is None else weight.view(shape)) + (0 if bias is None else bias.view(shape))


def _bn_batch_stats_in_eval(
    input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5
):
    dims = [d for d in range(input.dim()) if d != 1]
    shape = [1, -1] + [1] * (input.dim() - 2)
    mu, var = input.mean(dims), input.var(dims, unbiased=False)
    y = (input - mu.view(shape)) / torch.sqrt(var.view(shape) + eps)
    return y * (1 if weight is None else weight.view(shape)) + (0 if bias is None else bias.view(shape))


def _bn_running_in_train(
    input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5
):
    return F.batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)


@_suite("batch-norm")
def _batch_norm():
    wrong = [
        Mistake(
            _bn_unbiased_output,
            "in training the output must use the biased batch variance (divide by n, "
            "var(unbiased=False)); only the running estimate uses n - 1",
        ),
        Mistake(
            _bn_batch_stats_in_eval,
            "in evaluation (training=False) normalize with running_mean and "
            "running_var, not with the batch's statistics",
            "the output of one example must not depend on the rest of the batch in eval mode",
        ),
        Mistake(
            _bn_running_in_train,
            "in training normalize with the batch's own mean and variance, not the running statistics",
        ),
    ]
    s = Suite("batch_norm", F.batch_norm, "torch.nn.functional.batch_norm")
    s.forward(_bn_cases(), wrong)
    s.gradient(_bn_cases(), wrt=("input", "weight", "bias"))

    def updates(fn):
        x = seeded((4, 3, 2), 5, F64, 2.0) + 1.0
        rm, rv = torch.zeros(3, dtype=F64), torch.ones(3, dtype=F64)
        rm0, rv0 = rm.clone(), rv.clone()
        call(fn, {"input": x, "running_mean": rm, "running_var": rv, "training": True, "momentum": 0.3})
        mu, n = x.mean((0, 2)), 8
        biased, unbiased = x.var((0, 2), unbiased=False), x.var((0, 2), unbiased=True)
        expect(
            not torch.equal(rm, rm0) or not torch.equal(rv, rv0),
            "running_mean and running_var must be updated in place in training (the tensors passed in)",
            "running_mean.mul_(1 - momentum).add_(momentum * mu) under torch.no_grad(); rebinding the name "
            "changes nothing outside",
        )
        if _close(rm, 0.3 * rm0 + 0.7 * mu):
            raise Failure(
                "momentum is the weight of the new batch value: running = (1 - momentum) running + momentum batch_stat"
            )
        expect(_close(rm, 0.7 * rm0 + 0.3 * mu), "running_mean must become (1 - momentum) running_mean + momentum mean")
        if _close(rv, 0.7 * rv0 + 0.3 * biased):
            raise Failure(
                "the running variance must use the unbiased batch variance (divide by n - 1, "
                "var(unbiased=True)); the output uses the biased one",
                f"here n = {n}: multiply the biased variance by n / (n - 1)",
            )
        expect(
            _close(rv, 0.7 * rv0 + 0.3 * unbiased),
            "running_var must become (1 - momentum) running_var + momentum * unbiased batch variance",
        )

    def eval_fixed(fn):
        x = seeded((5, 3), 6, F64, 2.0)
        rm, rv = seeded((3,), 7, F64), seeded((3,), 8, F64, low=0.5, high=2.0)
        rm0, rv0 = rm.clone(), rv.clone()
        full = call(fn, {"input": x, "running_mean": rm, "running_var": rv})
        one = call(fn, {"input": x[:1], "running_mean": rm, "running_var": rv})
        expect(torch.equal(rm, rm0) and torch.equal(rv, rv0), "evaluation must not change the running statistics")
        expect(_close(full[:1], one), "in evaluation an example's output must not depend on the rest of the batch")

    s.claim("training updates the running statistics (the variance unbiased)", updates)
    s.claim("evaluation uses and keeps the running statistics", eval_fixed)
    s.edge(
        "a batch of one in evaluation",
        lambda: Case(input=_t([[1.0, 2.0, 3.0]]), running_mean=_t([0.5, 1.0, 0.0]), running_var=_t([1.0, 4.0, 0.25])),
        "evaluation mode must work on a batch of one",
        None,
        grad=("input",),
    )
    s.edge(
        "training with one example but several positions",
        lambda: Case(
            input=seeded((1, 2, 3), 9, F64),
            running_mean=torch.zeros(2, dtype=F64),
            running_var=torch.ones(2, dtype=F64),
            training=True,
        ),
        "training needs more than one value per channel, not more than one example",
        None,
    )
    s.refuse(
        [
            (
                "training with one value per channel (batch of one, no spatial dims)",
                lambda: Case(
                    input=_t([[1.0, 2.0]]),
                    running_mean=torch.zeros(2, dtype=F64),
                    running_var=torch.ones(2, dtype=F64),
                    training=True,
                ),
            ),
            (
                "a 1-D input",
                lambda: Case(
                    input=_t([1.0, 2.0]), running_mean=torch.zeros(2, dtype=F64), running_var=torch.ones(2, dtype=F64)
                ),
            ),
            (
                "running_mean of 3 channels for an input of 2",
                lambda: Case(
                    input=torch.ones(4, 2, dtype=F64),
                    running_mean=torch.zeros(3, dtype=F64),
                    running_var=torch.ones(3, dtype=F64),
                ),
            ),
        ]
    )
    return s


@st.composite
def _norm_cases(draw, rms=False):
    batch = draw(st.lists(st.integers(1, 3), min_size=1, max_size=2))
    norm = draw(st.lists(st.integers(1, 4), min_size=1, max_size=2))
    seed, dtype = draw(seeds), draw(dtypes)
    x = seeded((*batch, *norm), seed, dtype, 2.0) + 0.5
    if not rms and dtype == F32:
        # float32 layer norm is ill-conditioned on a group of (nearly) equal values: x - mean cancels to its
        # rounding error, which the gradient divides by var + eps. Any float32 implementation, PyTorch's too,
        # is then off by more than float32's tolerance (2e-4 on a group of two values 0.07 apart); float64
        # cases keep such groups, and one element alone (variance 0)
        assume(bool((x.var(_dims(norm), unbiased=False) >= 0.0625).all()))
    affine = draw(st.booleans())
    ns = norm[0] if len(norm) == 1 and draw(st.booleans()) else tuple(norm)
    args = dict(
        input=x,
        normalized_shape=ns,
        weight=seeded(norm, seed + 1, dtype) if affine else None,
    )
    if rms:
        args["eps"] = draw(st.sampled_from([None, 1e-6, 1e-3]))
    else:
        args["bias"] = seeded(norm, seed + 2, dtype) if affine else None
        args["eps"] = draw(st.sampled_from([1e-5, 1e-3]))
    return Case(**args)


def _dims(ns):
    return tuple(range(-(1 if isinstance(ns, int) else len(ns)), 0))


def _ln_unbiased(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    d = _dims(normalized_shape)
    y = (input - input.mean(d, keepdim=True)) / torch.sqrt(input.var(d, unbiased=True, keepdim=True) + eps)
    return y * (1 if weight is None else weight) + (0 if bias is None else bias)


def _ln_eps_outside(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    d = _dims(normalized_shape)
    y = (input - input.mean(d, keepdim=True)) / (input.var(d, unbiased=False, keepdim=True).sqrt() + eps)
    return y * (1 if weight is None else weight) + (0 if bias is None else bias)


@_suite("layer-norm")
def _layer_norm():
    wrong = [
        Mistake(
            _ln_unbiased,
            "layer norm uses the biased variance (divide by the number of elements, "
            "var(unbiased=False)), not the unbiased one",
        ),
        Mistake(_ln_eps_outside, "eps goes inside the square root: (x - mu) / sqrt(var + eps)"),
    ]

    def oracle(input, normalized_shape, weight=None, bias=None, eps=1e-5):
        ns = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        return F.layer_norm(input, ns, weight, bias, eps)

    s = Suite("layer_norm", oracle, "torch.nn.functional.layer_norm")
    s.forward(_norm_cases(), wrong)
    s.gradient(_norm_cases(), wrt=("input", "weight", "bias"))

    def normalized(fn):
        x = seeded((4, 6), 10, F64, 3.0) + 2.0
        y = call(fn, {"input": x, "normalized_shape": (6,)})
        expect(
            isinstance(y, torch.Tensor)
            and y.mean(1).abs().max().item() < 1e-12
            and (y.var(1, unbiased=False) - 1).abs().max().item() < 1e-4,
            "each row of the output must have mean 0 and (biased) variance 1",
        )

    def invariant(fn):
        x = seeded((3, 5), 11, F64)
        a = call(fn, {"input": x, "normalized_shape": 5, "eps": 1e-12})
        b = call(fn, {"input": 10 * x + 7, "normalized_shape": 5, "eps": 1e-12})
        expect(_close(a, b, 1e-6), "scaling a row by a positive number and shifting it must not change its output")

    s.claim("each row has mean 0 and variance 1", normalized)
    s.claim("scaling and shifting a row changes nothing", invariant)
    s.edge(
        "a constant row",
        lambda: Case(input=torch.ones(2, 4, dtype=F64), normalized_shape=(4,)),
        "a constant row must give 0 (eps keeps the division finite), not NaN",
        "divide by sqrt(var + eps)",
    )
    s.refuse(
        [
            (_NOT_A_TENSOR, lambda: Case(input=[[1.0, 2.0]], normalized_shape=(2,))),
            (
                "normalized_shape (5,) for an input of shape (2, 4)",
                lambda: Case(input=torch.ones(2, 4, dtype=F64), normalized_shape=(5,)),
            ),
        ]
    )
    return s


def _rms_centered(input, normalized_shape, weight=None, eps=None):
    d = _dims(normalized_shape)
    return F.rms_norm(
        input - input.mean(d, keepdim=True),
        normalized_shape if not isinstance(normalized_shape, int) else (normalized_shape,),
        weight,
        eps,
    )


@_suite("rms-norm")
def _rms_norm():
    def oracle(input, normalized_shape, weight=None, eps=None):
        ns = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        return F.rms_norm(input, ns, weight, eps)

    wrong = [
        Mistake(
            _rms_centered,
            "RMSNorm does not subtract the mean (that is layer norm): divide x itself by sqrt(mean(x^2) + eps)",
        )
    ]
    s = Suite("rms_norm", oracle, "torch.nn.functional.rms_norm")
    s.forward(_norm_cases(rms=True), wrong)
    s.gradient(_norm_cases(rms=True), wrt=("input", "weight"))

    def unit_rms(fn):
        x = seeded((4, 6), 12, F64, 3.0)
        y = call(fn, {"input": x, "normalized_shape": (6,)})
        expect(
            isinstance(y, torch.Tensor) and (y.pow(2).mean(1) - 1).abs().max().item() < 1e-9,
            "each row of the output must have root mean square 1",
        )

    def shift(fn):
        x = seeded((3, 5), 13, F64)
        a = call(fn, {"input": x, "normalized_shape": (5,)})
        b = call(fn, {"input": 3 * x, "normalized_shape": (5,)})
        c = call(fn, {"input": x + 1, "normalized_shape": (5,)})
        expect(_close(a, b, 1e-9), "scaling a row must not change its output")
        expect(not _close(a, c, 1e-3), "shifting a row must change its output: RMSNorm does not subtract the mean")

    s.claim("each row has root mean square 1", unit_rms)
    s.claim("scaling a row changes nothing, shifting it does", shift)
    s.edge(
        "tiny values with eps=None",
        lambda: Case(input=_t([[1e-4, -1e-4, 2e-4]]), normalized_shape=(3,)),
        "eps=None means torch.finfo(input.dtype).eps, not a fixed 1e-5 or 1e-6",
        "eps = torch.finfo(input.dtype).eps if eps is None else eps",
    )
    s.edge(
        "a zero row",
        lambda: Case(input=torch.zeros(2, 3, dtype=F64), normalized_shape=(3,)),
        "a zero row must give 0, not NaN",
        "add eps inside the square root",
    )
    s.refuse(
        [
            (_NOT_A_TENSOR, lambda: Case(input=[[1.0, 2.0]], normalized_shape=(2,))),
            (
                "normalized_shape (5,) for an input of shape (2, 4)",
                lambda: Case(input=torch.ones(2, 4, dtype=F64), normalized_shape=(5,)),
            ),
        ]
    )
    return s


# --- optimizers ----------------------------------------------------------------------------------


class _Steps:
    """A parameter and the gradients of a few consecutive steps."""

    def __init__(self, shape, seed, n, dtype):
        self.param = seeded(shape, seed, dtype)
        self.grads = [seeded(shape, seed + 1 + i, dtype) for i in range(n)]

    def __repr__(self):
        dtype = str(self.param.dtype).replace("torch.", "")
        return f"a parameter of shape {tuple(self.param.shape)} ({dtype}) and {len(self.grads)} gradients"


def _torch_steps(opt_cls, steps: _Steps, **opts):
    """The parameters after each step of ``opt_cls``, through torch's functional form when it has the expected
    signature (the optimizer classes import ``torch._dynamo`` on first use: 2 s), else through the class."""
    try:
        return _functional_steps(opt_cls, steps, **opts)
    except (TypeError, ImportError, AttributeError):
        pass
    p = steps.param.clone().requires_grad_(True)
    opt = opt_cls([p], **opts)
    out = []
    for g in steps.grads:
        p.grad = g.clone()
        opt.step()
        out.append(p.detach().clone())
    return out


def _functional_steps(opt_cls, steps: _Steps, lr=1e-3, **opts):
    p, out = steps.param.clone(), []
    if opt_cls is torch.optim.SGD:
        from torch.optim.sgd import sgd

        buffers = [None]
        for g in steps.grads:
            sgd([p], [g.clone()], buffers, foreach=False, lr=lr, maximize=False, **opts)
            out.append(p.clone())
        return out
    from torch.optim.adam import adam
    from torch.optim.adamw import adamw

    fn = {torch.optim.Adam: adam, torch.optim.AdamW: adamw}[opt_cls]
    (b1, b2), m, v, t = opts.pop("betas"), torch.zeros_like(p), torch.zeros_like(p), torch.tensor(0.0)
    for g in steps.grads:
        fn(
            [p],
            [g.clone()],
            [m],
            [v],
            [],
            [t],
            foreach=False,
            amsgrad=False,
            beta1=b1,
            beta2=b2,
            lr=lr,
            maximize=False,
            **opts,
        )
        out.append(p.clone())
    return out


def _user_steps(fn, steps: _Steps, **opts):
    state, p, out = {}, steps.param.clone(), []
    for g in steps.grads:
        p = call(fn, {"param": p, "grad": g.clone(), "state": state, **opts})
        if not isinstance(p, torch.Tensor):
            raise Failure(f"the step returned a {type(p).__name__}; return the updated parameter tensor")
        p = p.detach().clone()
        out.append(p)
    return out


def _math_steps(steps: _Steps, step):
    """Steps of an optimizer written as ``step(p, g, state) -> p`` (for the known mistakes)."""
    state, p, out = {}, steps.param.clone(), []
    for g in steps.grads:
        p = step(p, g, state)
        out.append(p.clone())
    return out


def _optimizer_forward(s: Suite, opt_cls, cases, wrong):
    def test(case: Case, fn):
        steps, opts = case.args["steps"], {k: v for k, v in case.args.items() if k != "steps"}
        ours = _user_steps(fn, steps, **opts)
        ref = _torch_steps(opt_cls, steps, **opts)
        for k, (o, r) in enumerate(zip(ours, ref), 1):
            msg = compare(o, r, f"the parameter after step {k}")
            if msg:
                raise Failure(msg)

    def diagnose(case: Case, fn):
        steps, opts = case.args["steps"], {k: v for k, v in case.args.items() if k != "steps"}
        ours = _user_steps(fn, steps, **opts)
        for m in wrong:
            if all(compare(a, b) is None for a, b in zip(ours, _math_steps(steps, m.fn(**opts)))):
                return Failure(m.message, m.hint)
        return None

    s.searched(
        "forward", "values", cases, test, 30, f"matches {s.oracle_name} step after step on {{n}} random runs", diagnose
    )


@st.composite
def _sgd_cases(draw):
    mu = draw(st.sampled_from([0.0, 0.5, 0.9]))
    tau = draw(st.sampled_from([0.0, 0.3])) if mu else 0.0
    nesterov = bool(mu) and tau == 0 and draw(st.booleans())
    return Case(
        steps=_Steps(draw(shapes(1, 2, 1, 4)), draw(seeds), draw(st.integers(1, 4)), draw(dtypes)),
        lr=draw(st.sampled_from([0.1, 0.01])),
        momentum=mu,
        dampening=tau,
        weight_decay=draw(st.sampled_from([0.0, 0.1])),
        nesterov=nesterov,
    )


def _sgd_math(
    lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, first_dampened=False, nesterov_plain=False
):
    def step(p, g, state):
        g = g + weight_decay * p
        if momentum:
            v = state.get("v")
            v = (
                (1 - dampening) * g
                if v is None and first_dampened
                else g
                if v is None
                else (momentum * v + (1 - dampening) * g)
            )
            state["v"] = v
            g = g + momentum * v if nesterov and not nesterov_plain else v
        return p - lr * g

    return step


@_suite("sgd-momentum")
def _sgd():
    wrong = [
        Mistake(
            lambda **o: _sgd_math(**o, first_dampened=True),
            "the first step initializes the velocity with the "
            "gradient itself, undampened (v = g), as PyTorch does; dampening applies from the second step",
        ),
        Mistake(
            lambda **o: _sgd_math(**o, nesterov_plain=True), "with nesterov=True the step is g + momentum * v, not v"
        ),
        Mistake(
            lambda **o: _sgd_math(**{**o, "weight_decay": 0.0}),
            "weight_decay adds weight_decay * param to the gradient before the momentum update",
        ),
    ]
    s = Suite("sgd_step", None, "torch.optim.SGD")
    _optimizer_forward(s, torch.optim.SGD, _sgd_cases(), wrong)

    def accumulates(fn):
        steps = _Steps((3,), 14, 4, F64)
        steps.grads = [torch.ones(3, dtype=F64)] * 4
        ps = [steps.param, *_user_steps(fn, steps, lr=0.1, momentum=0.5)]
        sizes = [(ps[k] - ps[k + 1]).abs().max().item() for k in range(4)]
        expect(
            all(abs(sz - 0.1 * (1 - 0.5 ** (k + 1)) / 0.5) < 1e-9 for k, sz in enumerate(sizes)),
            "with a constant gradient the k-th step must be lr (1 - mu^k) / (1 - mu): the velocity keeps its "
            "history in state between calls",
            "store the velocity in state['momentum_buffer']",
        )

    s.claim("with a constant gradient the steps grow to lr / (1 - momentum)", accumulates)
    p = torch.ones(2, dtype=F64)
    s.refuse(
        [
            ("lr=-0.1", lambda: Case(param=p, grad=p, state={}, lr=-0.1)),
            ("momentum=-0.5", lambda: Case(param=p, grad=p, state={}, momentum=-0.5)),
            ("nesterov=True with momentum=0", lambda: Case(param=p, grad=p, state={}, nesterov=True)),
            (
                "a gradient of shape (3,) for a parameter of shape (2,)",
                lambda: Case(param=p, grad=torch.ones(3, dtype=F64), state={}),
            ),
        ]
    )
    return s


def _adam_math(
    lr=1e-3,
    betas=(0.9, 0.999),
    eps=1e-8,
    weight_decay=0.0,
    decoupled=False,
    correct=True,
    eps_inside=False,
    l2=False,
    decay_after=False,
    decay_unscaled=False,
):
    b1, b2 = betas

    def step(p, g, state):
        if l2 or (weight_decay and not decoupled):
            g = g + weight_decay * p
        t = state.get("t", 0) + 1
        m = b1 * state.get("m", torch.zeros_like(p)) + (1 - b1) * g
        v = b2 * state.get("v", torch.zeros_like(p)) + (1 - b2) * g * g
        state.update(t=t, m=m, v=v)
        mh, vh = (m / (1 - b1**t), v / (1 - b2**t)) if correct else (m, v)
        u = lr * mh / ((vh + eps).sqrt() if eps_inside else vh.sqrt() + eps)
        if decoupled and not l2:
            shrink = 1 - (weight_decay if decay_unscaled else lr * weight_decay)
            return (p - u) * shrink if decay_after else p * shrink - u
        return p - u

    return step


@st.composite
def _adam_cases(draw, decays=(0.0, 0.1)):
    return Case(
        steps=_Steps(draw(shapes(1, 2, 1, 4)), draw(seeds), draw(st.integers(1, 4)), draw(dtypes)),
        lr=draw(st.sampled_from([0.1, 0.01])),
        betas=draw(st.sampled_from([(0.9, 0.999), (0.5, 0.9)])),
        eps=draw(st.sampled_from([1e-8, 1e-3])),
        weight_decay=draw(st.sampled_from(decays)),
    )


def _adam_refusals():
    p = torch.ones(2, dtype=F64)
    return [
        ("lr=-0.1", lambda: Case(param=p, grad=p, state={}, lr=-0.1)),
        ("betas=(1.0, 0.999) (each must be in [0, 1))", lambda: Case(param=p, grad=p, state={}, betas=(1.0, 0.999))),
        ("eps=-1e-8", lambda: Case(param=p, grad=p, state={}, eps=-1e-8)),
        (
            "a gradient of shape (3,) for a parameter of shape (2,)",
            lambda: Case(param=p, grad=torch.ones(3, dtype=F64), state={}),
        ),
    ]


def _first_step(fn):
    for scale in (1e-3, 1e3):
        steps = _Steps((4,), 15, 1, F64)
        steps.grads = [steps.grads[0] * scale]
        (p1,) = _user_steps(fn, steps, lr=0.01)
        expect(
            _close((steps.param - p1).abs(), torch.full((4,), 0.01, dtype=F64), 1e-4),
            f"the first step must have size lr in every coordinate, whatever the gradient's scale (here x{scale:g})",
        )


@_suite("adam")
def _adam():
    wrong = [
        Mistake(
            lambda **o: _adam_math(**o, correct=False),
            "the bias corrections are missing: divide m by "
            "1 - beta1^t and v by 1 - beta2^t (t counts the steps from 1)",
        ),
        Mistake(
            lambda **o: _adam_math(**o, eps_inside=True),
            "eps goes outside the square root: m_hat / (sqrt(v_hat) + eps)",
        ),
        Mistake(
            lambda **o: _adam_math(**o, decoupled=True),
            "Adam's weight_decay is an L2 term added to the "
            "gradient before the moments; decaying the weight directly is AdamW",
        ),
    ]
    s = Suite("adam_step", None, "torch.optim.Adam")
    _optimizer_forward(s, torch.optim.Adam, _adam_cases(), wrong)
    s.claim("the first step has size lr whatever the gradient's scale", _first_step)
    s.refuse(_adam_refusals())
    return s


@_suite("adamw")
def _adamw():
    wrong = [
        Mistake(
            lambda **o: _adam_math(**o, decoupled=True, l2=True),
            "you added weight_decay * param to the "
            "gradient: that is Adam's L2 regularization. AdamW decays the weight directly, param *= 1 - lr * "
            "weight_decay, and takes the Adam step from grad alone",
        ),
        Mistake(
            lambda **o: _adam_math(**o, decoupled=True, decay_after=True),
            "decay the parameter before the Adam update: param * (1 - lr weight_decay) - update, as PyTorch does",
        ),
        Mistake(
            lambda **o: _adam_math(**o, decoupled=True, decay_unscaled=True),
            "the decay is scaled by the learning rate: param *= 1 - lr * weight_decay",
        ),
        Mistake(
            lambda **o: _adam_math(**o, decoupled=True, correct=False),
            "the bias corrections are missing: divide m by 1 - beta1^t and v by 1 - beta2^t",
        ),
    ]
    s = Suite("adamw_step", None, "torch.optim.AdamW")
    _optimizer_forward(s, torch.optim.AdamW, _adam_cases(decays=(0.01, 0.1, 0.5)), wrong)

    def decoupled(fn):
        steps = _Steps((2,), 16, 1, F64)
        steps.param, steps.grads = _t([10.0, 0.1]), [torch.zeros(2, dtype=F64)]
        (p1,) = _user_steps(fn, steps, lr=0.1, weight_decay=0.1)
        expect(
            _close(p1, _t([9.9, 0.099])),
            "with a zero gradient every weight must shrink by the same factor "
            "1 - lr * weight_decay (here 10 -> 9.9 and 0.1 -> 0.099)",
        )

    s.claim("with no gradient every weight shrinks by 1 - lr * weight_decay", decoupled)
    s.claim(
        "the first step has size lr whatever the gradient's scale (weight_decay=0)",
        lambda fn: _first_step(lambda **a: fn(**a, weight_decay=0.0)),
    )
    s.refuse(_adam_refusals())
    return s


# --- convnets ------------------------------------------------------------------------------------


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


@st.composite
def _conv_cases(draw):
    groups = draw(st.sampled_from([1, 1, 2]))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride, padding, dilation = (
        (draw(st.integers(1, 2)), draw(st.integers(1, 2))),
        (draw(st.integers(0, 2)), draw(st.integers(0, 2))),
        (draw(st.integers(1, 2)), draw(st.integers(1, 2))),
    )
    as_int = draw(st.booleans())
    if as_int:
        k, stride, padding, dilation = (k[0], k[0]), (stride[0],) * 2, (padding[0],) * 2, (dilation[0],) * 2
    size = [max(draw(st.integers(1, 6)), dilation[i] * (k[i] - 1) + 1 - 2 * padding[i]) for i in range(2)]
    seed, dtype = draw(seeds), draw(dtypes)

    def opt(v):
        return v[0] if as_int else v

    return Case(
        input=seeded((draw(st.integers(1, 2)), c_in, *size), seed, dtype),
        weight=seeded((c_out, c_in // groups, *k), seed + 1, dtype),
        bias=seeded((c_out,), seed + 2, dtype) if draw(st.booleans()) else None,
        stride=opt(stride),
        padding=opt(padding),
        dilation=opt(dilation),
        groups=groups,
    )


@_suite("conv2d")
def _conv2d():
    def flipped(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
        return F.conv2d(input, weight.flip(-1, -2), bias, stride, padding, dilation, groups)

    wrong = [Mistake(flipped, "the kernel is flipped: conv2d is a cross-correlation, the kernel is used as it is")]
    s = Suite("conv2d", F.conv2d, "torch.nn.functional.conv2d")
    s.forward(_conv_cases(), wrong)
    s.gradient(_conv_cases(), wrt=("input", "weight", "bias"))

    def shift(fn):
        x, w = seeded((1, 1, 8, 8), 17, F64), seeded((1, 1, 3, 3), 18, F64)
        a = call(fn, {"input": x, "weight": w})
        b = call(fn, {"input": torch.roll(x, (1, 2), (2, 3)), "weight": w})
        expect(
            _close(b[..., 1:, 2:], a[..., :-1, :-2]),
            "shifting the input must shift the output by as much (translation equivariance)",
        )

    s.claim("shifting the input shifts the output", shift)
    s.edge(
        "a 1x1 kernel",
        lambda: Case(input=seeded((2, 3, 4, 5), 19, F64), weight=seeded((2, 3, 1, 1), 20, F64)),
        "a 1x1 convolution is a matrix product at every pixel",
        None,
        grad=("input", "weight"),
    )
    s.edge(
        "a kernel as large as the padded input",
        lambda: Case(input=seeded((1, 2, 3, 3), 21, F64), weight=seeded((1, 2, 5, 5), 22, F64), padding=1),
        "a kernel as large as the padded input gives a 1x1 output",
        None,
    )
    s.refuse(
        [
            (_NOT_A_TENSOR, lambda: Case(input=[[1.0]], weight=torch.ones(1, 1, 1, 1, dtype=F64))),
            (
                "a weight with 2 input channels for an input with 3",
                lambda: Case(input=torch.ones(1, 3, 4, 4, dtype=F64), weight=torch.ones(1, 2, 3, 3, dtype=F64)),
            ),
            (
                "groups=2 for 3 input channels",
                lambda: Case(
                    input=torch.ones(1, 3, 4, 4, dtype=F64), weight=torch.ones(2, 1, 3, 3, dtype=F64), groups=2
                ),
            ),
        ]
    )
    return s


@st.composite
def _pool_cases(draw, negative=False):
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = draw(st.sampled_from([None, 1, 2, (1, 2)]))
    padding = (draw(st.integers(0, k[0] // 2)), draw(st.integers(0, k[1] // 2)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    size = [max(draw(st.integers(1, 7)), dilation[i] * (k[i] - 1) + 1 - 2 * padding[i]) for i in range(2)]
    seed, dtype = draw(seeds), draw(dtypes)
    x = seeded((draw(st.integers(1, 2)), draw(st.integers(1, 2)), *size), seed, dtype)
    as_int = k[0] == k[1] and padding[0] == padding[1] and dilation[0] == dilation[1] and draw(st.booleans())
    return Case(
        input=x - 3 if negative else x,
        kernel_size=k[0] if as_int else k,
        stride=stride,
        padding=padding[0] if as_int else padding,
        dilation=dilation[0] if as_int else dilation,
        ceil_mode=draw(st.booleans()),
        return_indices=draw(st.booleans()),
    )


@_suite("max-pool2d")
def _max_pool2d():
    def zero_padded(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
        p = _pair(padding)
        x = F.pad(input, (p[1], p[1], p[0], p[0]), value=0.0)
        out = F.max_pool2d(x, kernel_size, stride, 0, dilation, ceil_mode, return_indices)
        return out

    def stride_one(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
        return F.max_pool2d(
            input, kernel_size, 1 if stride is None else stride, padding, dilation, ceil_mode, return_indices
        )

    wrong = [
        Mistake(
            zero_padded,
            "padding must be -inf, not zeros: an all-negative window next to the border pooled to 0",
            "pad with float('-inf'): F.pad(input, pads, value=float('-inf'))",
        ),
        Mistake(stride_one, "stride=None means stride = kernel_size (non-overlapping windows), not 1"),
    ]
    s = Suite("max_pool2d", F.max_pool2d, "torch.nn.functional.max_pool2d")
    # no window may lie entirely in the padding (PyTorch would return -inf there)
    cases = _pool_cases().filter(
        lambda c: bool(torch.isfinite(F.max_pool2d(**{**c.args, "return_indices": False})).all())
    )
    s.forward(cases, wrong)
    s.gradient(cases)

    def to_max(fn):
        x = _t([[[[1.0, 3.0], [2.0, 0.0]]]]).requires_grad_(True)
        y = call(fn, {"input": x, "kernel_size": 2})
        (g,) = torch.autograd.grad(y.sum(), x)
        expect(g.flatten().tolist() == [0.0, 1.0, 0.0, 0.0], "the whole gradient of a window must go to its maximum")

    s.claim("the gradient of each window goes to its maximum only", to_max)
    s.edge(
        "an all-negative input with padding",
        lambda: Case(
            input=-1 - seeded((1, 1, 4, 4), 23, F64, low=0, high=1),
            kernel_size=3,
            stride=2,
            padding=1,
            return_indices=True,
        ),
        "padding must be -inf, not zeros: an all-negative input must not pool to 0",
        "pad with float('-inf'): F.pad(input, pads, value=float('-inf'))",
    )
    s.refuse(
        [
            (_NOT_A_TENSOR, lambda: Case(input=[[1.0]], kernel_size=1)),
            (
                "padding=2 for kernel_size=3 (more than half the kernel)",
                lambda: Case(input=torch.ones(1, 1, 5, 5, dtype=F64), kernel_size=3, padding=2),
            ),
            ("kernel_size=0", lambda: Case(input=torch.ones(1, 1, 5, 5, dtype=F64), kernel_size=0)),
        ]
    )
    return s


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


assert set(SUITES) == {e.id for e in EXERCISES}, sorted(set(SUITES) ^ {e.id for e in EXERCISES})
