"""The checks of the foundations exercises: activations, the softmax family and losses, gradients, initialization.

Registered in :mod:`nnfaq.judge.suites` when it imports this module.
"""

from __future__ import annotations

import math

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
    oracle_call,
    seeded,
    seeds,
    shapes,
)
from nnfaq.judge.suites._base import _NOT_A_TENSOR, INF, _close, _grad, _suite, _t

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
