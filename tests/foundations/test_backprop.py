"""nnfaq.foundations.backprop: the scalar engine, the hand-written MLP backward and the training step.

Parity with torch.autograd (values and gradients, float64), the claims of the answers, and the refusals
specific to these functions (the shared ones are rows of tests/foundations/contract.py).
"""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import gen, rejects, seeds, sizes
from hypothesis import example, given, settings
from hypothesis import strategies as st
from torch.testing import assert_close

from nnfaq.foundations.backprop import Value, mlp_backward, train_step

F64 = torch.float64

# --- parity: the scalar engine against torch.autograd --------------------------------------------

UNARY = ["exp", "log", "tanh", "sigmoid", "relu", "neg", "pow"]
BINARY = ["add", "sub", "mul", "div", "radd", "rsub", "rmul", "rdiv"]


def _apply(op, a, b, k):
    """One operation, the same on Value and on tensors: unary ops use ``a`` (and ``k``), binary ``a``, ``b``."""
    return {
        "exp": lambda: a.exp(),
        "log": lambda: a.log(),
        "tanh": lambda: a.tanh(),
        "sigmoid": lambda: a.sigmoid(),
        "relu": lambda: a.relu(),
        "neg": lambda: -a,
        "pow": lambda: a**k,
        "add": lambda: a + b,
        "sub": lambda: a - b,
        "mul": lambda: a * b,
        "div": lambda: a / b,
        "radd": lambda: k + a,
        "rsub": lambda: k - a,
        "rmul": lambda: k * a,
        "rdiv": lambda: k / a,
    }[op]()


def _allowed(op, a, b, k):
    """Keep the tree inside each operation's domain, away from kinks and overflow, so gradients compare."""
    return {
        "log": a > 0.05,
        "exp": a < 5,
        "relu": abs(a) > 1e-6,
        "pow": (k.is_integer() or a > 0.05) and (k >= 0 or abs(a) > 0.1),
        "div": abs(b) > 0.1,
        "rdiv": abs(a) > 0.1,
    }.get(op, True)


program = st.lists(
    st.tuples(
        st.sampled_from(UNARY + BINARY),
        st.integers(0, 100),
        st.integers(0, 100),
        st.sampled_from([2.0, 3.0, -1.0, 0.5, 1.5, -2.0, 0.0]),
    ),
    min_size=1,
    max_size=20,
)


@given(leaf_values=st.lists(st.floats(-3, 3), min_size=1, max_size=4), program=program)
def test_engine_matches_autograd_on_random_expressions_and_only_computes_gradients(leaf_values, program):
    ours = [Value(v) for v in leaf_values]
    ref = [torch.tensor(v, dtype=F64, requires_grad=True) for v in leaf_values]
    nodes = list(zip(ours, ref))
    for op, i, j, k in program:
        (a, at), (b, bt) = nodes[i % len(nodes)], nodes[j % len(nodes)]
        if _allowed(op, a.data, b.data, k):
            new = _apply(op, a, b, k), _apply(op, at, bt, k)
            if math.isfinite(new[0].data) and abs(new[0].data) < 1e4:
                nodes.append(new)
    out, out_ref = nodes[-1]
    for v, t in nodes[:-1]:  # every node reaches the output, so every path (and reuse) is exercised
        out, out_ref = out + v * 0.1, out_ref + t * 0.1
    data = [v.data for v, _ in nodes]
    out.backward()
    out_ref.backward()
    assert out.data == pytest.approx(out_ref.item(), rel=1e-10, abs=1e-10)
    first = torch.tensor([v.grad for v in ours], dtype=F64)
    assert_close(first, torch.stack([t.grad for t in ref]), rtol=1e-8, atol=1e-10)
    # backward changed no value anywhere in the graph; a second one accumulates exactly
    assert [v.data for v, _ in nodes] == data
    out.backward()
    assert_close(torch.tensor([v.grad for v in ours], dtype=F64), 2 * first, rtol=1e-12, atol=1e-12)


@settings(max_examples=15)
@given(x=st.floats(-800, 800) | st.just(0.0), op=st.sampled_from(["exp", "tanh", "sigmoid", "relu"]))
def test_unary_ops_match_torch_over_the_whole_range_without_overflow(x, op):
    v = Value(x)
    y = getattr(v, op)()
    y.backward()
    t = torch.tensor(x, dtype=F64, requires_grad=True)
    yt = getattr(t, op)()
    yt.backward()
    assert y.data == pytest.approx(yt.item(), rel=1e-12, abs=1e-300) or (math.isinf(y.data) and yt.isinf())
    assert v.grad == pytest.approx(t.grad.item(), rel=1e-9, abs=1e-300) or (math.isinf(v.grad) and t.grad.isinf())


@settings(max_examples=15)
@given(
    a=st.sampled_from([0.0, -0.0, 1e200, -1e200, 1e-200]) | st.floats(-10, 10),
    k=st.sampled_from([-3.0, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.0]),
)
@example(a=-0.0, k=-0.5)
def test_pow_follows_ieee_like_torch_at_zero_and_overflow(a, k):
    t = torch.tensor(a, dtype=F64, requires_grad=True)
    if a < 0 and not k.is_integer():  # torch: nan; ours refuses, naming the exponent
        rejects("exponent", lambda: Value(a) ** k)
        return
    v = Value(a)
    y = v**k
    y.backward()
    (t**k).backward()
    if a == 0 and math.copysign(1, a) < 0 and k == -0.5:
        # the one place torch leaves IEEE: it computes x ** -0.5 as rsqrt(x), -inf at -0.0; IEEE pow gives +inf
        assert y.data == math.inf and (t**k).item() == -math.inf
        assert_close(torch.tensor(v.grad, dtype=F64), t.grad)
        return
    assert_close(torch.tensor(y.data, dtype=F64), (t**k).detach(), equal_nan=True)
    assert_close(torch.tensor(v.grad, dtype=F64), t.grad, equal_nan=True)


def test_deep_graphs_do_not_hit_the_recursion_limit():
    x = Value(1.0)
    y = x
    for _ in range(1500):  # deeper than Python's default recursion limit of 1000
        y = y * 1.0
    y.backward()
    assert x.grad == 1.0


# --- parity: the hand-written MLP backward -------------------------------------------------------


@settings(max_examples=20)
@given(B=sizes, C=sizes, H=sizes, O=sizes, seed=seeds)
def test_mlp_backward_matches_autograd(B, C, H, O, seed):
    g = gen(seed)
    x, y = torch.randn(B, C, generator=g, dtype=F64), torch.randn(B, O, generator=g, dtype=F64)
    params = [torch.randn(s, generator=g, dtype=F64, requires_grad=True) for s in [(H, C), (H,), (O, H), (O,)]]
    ours_loss, *ours = mlp_backward(x, *params, y)
    ref_loss = F.mse_loss(F.linear(F.relu(F.linear(x, params[0], params[1])), params[2], params[3]), y)
    ref = torch.autograd.grad(ref_loss, params)
    assert_close(ours_loss, ref_loss.detach())
    for a, b, p in zip(ours, ref, params):
        assert a.shape == p.shape and not a.requires_grad
        assert_close(a, b)


# --- claims --------------------------------------------------------------------------------------


@settings(max_examples=15)
@given(a=st.floats(-2, 2), b=st.floats(0.1, 2))
def test_a_small_step_against_the_gradient_lowers_the_output(a, b):
    x, w = Value(a), Value(b)
    y = (x * w).tanh() + (x - w) ** 2
    y.backward()
    if x.grad**2 + w.grad**2 < 1e-6:
        return  # at a stationary point there is no descent direction
    for v in (x, w):
        v.data -= 1e-3 * v.grad
    assert ((x * w).tanh() + (x - w) ** 2).data < y.data


@settings(max_examples=15)
@given(B=sizes, C=sizes, O=sizes, seed=seeds)
def test_a_linear_layers_backward_is_two_products_of_the_forwards_size(B, C, O, seed):
    g = gen(seed)
    W = torch.randn(O, C, generator=g, dtype=F64, requires_grad=True)
    h = torch.randn(B, C, generator=g, dtype=F64, requires_grad=True)
    grad_out = torch.randn(B, O, generator=g, dtype=F64)
    dh, dW = torch.autograd.grad(F.linear(h, W), (h, W), grad_out)
    # (B, O)(O, C) and (O, B)(B, C): each 2 B C O FLOPs, the forward (B, C)(C, O)'s count
    assert_close(dh, grad_out @ W.detach())
    assert_close(dW, grad_out.T @ h.detach())


def _model_and_data(seed=0):
    g = gen(seed)
    torch.manual_seed(seed)
    model = torch.nn.Linear(3, 2, dtype=F64)
    return model, torch.randn(16, 3, generator=g, dtype=F64), torch.randn(16, 2, generator=g, dtype=F64)


def test_backward_fills_grad_and_only_step_changes_the_weights():
    model, x, y = _model_and_data()
    before = [p.detach().clone() for p in model.parameters()]
    F.mse_loss(model(x), y).backward()
    for p, b in zip(model.parameters(), before):
        assert bool(p.grad.abs().sum() > 0) and torch.equal(p, b)
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    for p, b in zip(model.parameters(), before):
        assert_close(p.detach(), b - 0.1 * p.grad)


@pytest.mark.parametrize("chunks", [2, 4, 8])
def test_micro_batch_gradients_accumulate_to_the_whole_batchs(chunks):
    model, x, y = _model_and_data(chunks)
    for xb, yb in zip(x.chunk(chunks), y.chunk(chunks)):
        (F.mse_loss(model(xb), yb) / chunks).backward()
    ours = [p.grad.clone() for p in model.parameters()]
    ref = torch.autograd.grad(F.mse_loss(model(x), y), list(model.parameters()))
    for o, r in zip(ours, ref):
        assert_close(o, r)


@settings(max_examples=15)
@given(seed=seeds, lr=st.floats(0, 0.5), momentum=st.sampled_from([0.0, 0.9]), zero_grad=st.booleans())
def test_train_step_is_the_documented_loop(seed, lr, momentum, zero_grad):
    ours, x, y = _model_and_data(seed)
    ref = torch.nn.Linear(3, 2, dtype=F64)
    ref.load_state_dict(ours.state_dict())
    opt = torch.optim.SGD(ours.parameters(), lr=lr, momentum=momentum)
    ref_opt = torch.optim.SGD(ref.parameters(), lr=lr, momentum=momentum)
    for _ in range(3):
        loss = train_step(ours, F.mse_loss, opt, x, y, zero_grad=zero_grad)
        if zero_grad:
            ref_opt.zero_grad()
        ref_loss = F.mse_loss(ref(x), y)
        ref_loss.backward()
        ref_opt.step()
        assert isinstance(loss, float) and loss == pytest.approx(ref_loss.item(), rel=1e-12, abs=1e-12)
    for p, q in zip(ours.parameters(), ref.parameters()):
        assert_close(p, q)
        assert_close(p.grad, q.grad)


# --- bad input -----------------------------------------------------------------------------------

not_numbers = [None, "1.0", [1.0], True, np.ones(2), torch.tensor(1.0)]


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "radd", "rmul"])
def test_value_arithmetic_refuses_non_numbers_naming_other(op):
    for bad in not_numbers:
        if isinstance(bad, np.ndarray | torch.Tensor) and op in ("radd", "rmul"):
            continue  # the array's own operator runs first; that is numpy's/torch's business
        rejects("other", _apply, op, Value(1.5), bad, bad)


def test_pow_and_log_refuse_what_has_no_real_value():
    for bad in [*not_numbers, math.nan, Value(2.0)]:
        rejects("exponent", lambda b=bad: Value(2.0) ** b)
    rejects("exponent", lambda: Value(-2.0) ** 0.5)
    for a in (0.0, -1.0):
        with pytest.raises(ValueError, match="log needs a positive input"):
            Value(a).log()


@pytest.mark.parametrize(
    ("which", "shape", "match"),
    [
        ("input", (8,), "input must have 2 dimensions"),
        ("W1", (5, 4), r"W1 must have shape \(5, 3\)"),
        ("b1", (4,), r"b1 must have shape \(5,\)"),
        ("W2", (2, 4), r"W2 must have shape \(2, 5\)"),
        ("b2", (3,), r"b2 must have shape \(2,\)"),
        ("target", (7, 2), r"target must have shape \(8, 2\)"),
    ],
)
def test_mlp_backward_refuses_mismatched_shapes(which, shape, match):
    names = ["input", "W1", "b1", "W2", "b2", "target"]
    args = dict(zip(names, (torch.ones(s, dtype=F64) for s in [(8, 3), (5, 3), (5,), (2, 5), (2,), (8, 2)])))
    args[which] = torch.ones(shape, dtype=F64)
    with pytest.raises(ValueError, match=match):
        mlp_backward(**args)


def test_mlp_backward_refuses_tensors_of_another_dtype_than_input():
    args = [torch.ones(s, dtype=F64) for s in [(3, 2), (4, 2), (4,), (1, 4), (1,), (3, 1)]]
    for i, name in enumerate(["W1", "b1", "W2", "b2", "target"], start=1):
        rejects(name, mlp_backward, *args[:i], args[i].float(), *args[i + 1 :])


def test_train_step_refuses_what_is_not_a_model_loss_or_optimizer_and_a_foreign_dtype():
    model, x, y = _model_and_data()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for which, bad in [("model", lambda t: t), ("loss_fn", "mse"), ("optimizer", None), ("model", None)]:
        args = {"model": model, "loss_fn": F.mse_loss, "optimizer": opt, "input": x, "target": y, which: bad}
        rejects(which, train_step, **args)
    weight = model.weight.detach().clone()
    rejects("input", train_step, model, F.mse_loss, opt, x.float(), y)
    assert torch.equal(model.weight, weight)  # refused before any step
