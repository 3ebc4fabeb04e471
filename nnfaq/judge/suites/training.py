"""The checks of the training exercises: dropout, the normalizations and the optimizers.

Registered in :mod:`nnfaq.judge.suites` when it imports this module.
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
    seeded,
    seeds,
    shapes,
)
from nnfaq.judge.suites._base import _NOT_A_TENSOR, _close, _suite, _t

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
