"""Property tests for nnfaq.backprop: random expression trees on the scalar engine, random MLP sizes and random
training steps agree with torch.autograd (float64, values and gradients); random invalid input raises
ValueError/TypeError naming the argument."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import rejects, seeds, sizes
from hypothesis import example, given, settings
from hypothesis import strategies as st
from torch.testing import assert_close

from nnfaq.backprop import Value, mlp_backward, train_step

F64 = torch.float64

leaf_values = st.floats(-3, 3, allow_nan=False)
not_numbers = st.sampled_from([None, "1.0", [1.0], True, np.ones(2), torch.tensor(1.0)])
not_tensors = st.sampled_from([None, 1.0, [[1.0]], "x", np.ones((2, 2))])


# --- Value: random expression trees against torch.autograd --------------------------------------

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
    if op == "log":
        return a > 0.05
    if op == "exp":
        return a < 5
    if op == "relu":
        return abs(a) > 1e-6
    if op == "pow":
        return (k.is_integer() or a > 0.05) and (k >= 0 or abs(a) > 0.1)
    if op == "div":
        return abs(b) > 0.1
    if op == "rdiv":
        return abs(a) > 0.1
    return True


@st.composite
def expression_trees(draw):
    leaves = draw(st.lists(leaf_values, min_size=1, max_size=4))
    program = draw(
        st.lists(
            st.tuples(
                st.sampled_from(UNARY + BINARY),
                st.integers(0, 100),
                st.integers(0, 100),
                st.sampled_from([2.0, 3.0, -1.0, 0.5, 1.5, -2.0, 0.0]),
            ),
            min_size=1,
            max_size=20,
        )
    )
    return leaves, program


@settings(max_examples=40)
@given(tree=expression_trees())
def test_value_matches_torch_autograd_on_random_expression_trees(tree):
    leaves, program = tree
    ours = [Value(v) for v in leaves]
    ref = [torch.tensor(v, dtype=F64, requires_grad=True) for v in leaves]
    nodes = list(zip(ours, ref))
    for op, i, j, k in program:
        (a, at), (b, bt) = nodes[i % len(nodes)], nodes[j % len(nodes)]
        if not _allowed(op, a.data, b.data, k):
            continue
        new = _apply(op, a, b, k), _apply(op, at, bt, k)
        if math.isfinite(new[0].data) and abs(new[0].data) < 1e4:
            nodes.append(new)
    out, out_ref = nodes[-1]
    for v, t in nodes[:-1]:  # every node reaches the output, so every path (and reuse) is exercised
        out, out_ref = out + v * 0.1, out_ref + t * 0.1
    out.backward()
    out_ref.backward()
    data_before = [v.data for v in ours]
    assert out.data == pytest.approx(out_ref.item(), rel=1e-10, abs=1e-10)
    assert_close(
        torch.tensor([v.grad for v in ours], dtype=F64), torch.stack([t.grad for t in ref]), rtol=1e-8, atol=1e-10
    )
    # backward computes gradients only; a second one accumulates exactly
    first = [v.grad for v in ours]
    out.backward()
    assert [v.data for v in ours] == data_before
    assert [v.grad for v in ours] == pytest.approx([2 * g for g in first], rel=1e-12, abs=1e-12)


@given(x=st.floats(-800, 800), op=st.sampled_from(["exp", "tanh", "sigmoid", "relu"]))
def test_unary_ops_match_torch_over_the_whole_range_without_overflow(x, op):
    v = Value(x)
    y = getattr(v, op)()
    y.backward()
    t = torch.tensor(x, dtype=F64, requires_grad=True)
    yt = getattr(t, op)()
    yt.backward()
    assert y.data == pytest.approx(yt.item(), rel=1e-12, abs=1e-300) or (math.isinf(y.data) and yt.isinf())
    assert v.grad == pytest.approx(t.grad.item(), rel=1e-9, abs=1e-300) or (math.isinf(v.grad) and t.grad.isinf())


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


@given(a=leaf_values, bad=not_numbers, op=st.sampled_from(["add", "sub", "mul", "div", "radd", "rmul"]))
def test_value_arithmetic_rejects_non_numbers_naming_other(a, bad, op):
    if isinstance(bad, (np.ndarray, torch.Tensor)) and op in ("radd", "rmul"):
        return  # the array's own operator runs first; that is numpy's/torch's business
    rejects("other", _apply, op, Value(a), bad, bad)


@given(bad=not_numbers | st.just(math.nan))
def test_value_rejects_bad_data(bad):
    rejects("data", Value, bad)


@given(a=leaf_values, bad=not_numbers | st.just(math.nan) | st.builds(Value, leaf_values))
def test_pow_rejects_bad_exponents(a, bad):
    rejects("exponent", lambda: Value(a) ** bad)


@given(a=st.floats(-100, 0))
def test_log_rejects_non_positive_input(a):
    with pytest.raises(ValueError, match="log needs a positive input"):
        Value(a).log()


# --- mlp_backward ---------------------------------------------------------------------------------


@settings(max_examples=40)
@given(B=sizes, C=sizes, H=sizes, O=sizes, seed=seeds)
def test_mlp_backward_matches_autograd_for_random_sizes(B, C, H, O, seed):
    g = torch.Generator().manual_seed(seed)
    x, y = torch.randn(B, C, generator=g, dtype=F64), torch.randn(B, O, generator=g, dtype=F64)
    params = [torch.randn(s, generator=g, dtype=F64, requires_grad=True) for s in [(H, C), (H,), (O, H), (O,)]]
    loss, *ours = mlp_backward(x, *params, y)
    ref_loss = F.mse_loss(F.linear(F.relu(F.linear(x, params[0], params[1])), params[2], params[3]), y)
    ref = torch.autograd.grad(ref_loss, params)
    assert_close(loss, ref_loss.detach())
    for a, b, p in zip(ours, ref, params):
        assert a.shape == p.shape and not a.requires_grad
        assert_close(a, b)


def _mlp_args(B=3, C=2, H=4, O=2):
    return dict(
        input=torch.ones(B, C, dtype=F64),
        W1=torch.ones(H, C, dtype=F64),
        b1=torch.ones(H, dtype=F64),
        W2=torch.ones(O, H, dtype=F64),
        b2=torch.ones(O, dtype=F64),
        target=torch.ones(B, O, dtype=F64),
    )


NAMES = ["input", "W1", "b1", "W2", "b2", "target"]


@given(which=st.sampled_from(NAMES), bad=not_tensors)
def test_mlp_backward_rejects_non_tensors(which, bad):
    rejects(which, mlp_backward, **{**_mlp_args(), which: bad})


@given(which=st.sampled_from(NAMES), dtype=st.sampled_from([torch.int64, torch.bool, torch.float32]))
def test_mlp_backward_rejects_other_dtypes(which, dtype):
    args = _mlp_args()
    args[which] = args[which].to(dtype)
    if which == "input" and dtype == torch.float32:
        which = "W1"  # every other tensor must then match input's dtype; the first checked is named
    rejects(which, mlp_backward, **args)


@given(which=st.sampled_from(NAMES), extra=st.integers(1, 3), B=sizes, C=sizes, H=sizes, O=sizes)
def test_mlp_backward_rejects_wrong_rank_and_mismatched_sizes(which, extra, B, C, H, O):
    args = _mlp_args(B, C, H, O)
    shape = list(args[which].shape)
    wrong_rank = torch.ones(*shape, extra, dtype=F64)
    rejects(which, mlp_backward, **{**args, which: wrong_rank})
    if which != "input":  # input fixes B and C; every other size is checked against it and W1, W2
        shape[-1] += extra
        rejects(which, mlp_backward, **{**args, which: torch.ones(shape, dtype=F64)})


# --- train_step -----------------------------------------------------------------------------------


@settings(max_examples=25)
@given(
    B=sizes,
    C=sizes,
    O=sizes,
    seed=seeds,
    lr=st.floats(0, 0.5),
    zero_grad=st.booleans(),
    steps=st.integers(1, 3),
)
def test_train_step_matches_a_manual_loop(B, C, O, seed, lr, zero_grad, steps):
    g = torch.Generator().manual_seed(seed)
    x, y = torch.randn(B, C, generator=g, dtype=F64), torch.randn(B, O, generator=g, dtype=F64)
    ours = torch.nn.Linear(C, O, dtype=F64)
    ref = torch.nn.Linear(C, O, dtype=F64)
    ref.load_state_dict(ours.state_dict())
    opt, ref_opt = torch.optim.SGD(ours.parameters(), lr=lr), torch.optim.SGD(ref.parameters(), lr=lr)
    for _ in range(steps):
        if zero_grad:
            ref_opt.zero_grad()
        ref_loss = F.mse_loss(ref(x), y)
        ref_loss.backward()
        ref_opt.step()
        loss = train_step(ours, F.mse_loss, opt, x, y, zero_grad=zero_grad)
        assert isinstance(loss, float)
        assert loss == pytest.approx(ref_loss.item(), rel=1e-12, abs=1e-12)
    for p, q in zip(ours.parameters(), ref.parameters()):
        assert_close(p, q)
        assert_close(p.grad, q.grad)


def _step_args():
    model = torch.nn.Linear(2, 1, dtype=F64)
    return dict(
        model=model,
        loss_fn=F.mse_loss,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        input=torch.ones(3, 2, dtype=F64),
        target=torch.ones(3, 1, dtype=F64),
    )


@given(
    which=st.sampled_from(["model", "loss_fn", "optimizer", "input", "target", "zero_grad"]),
    bad=st.sampled_from([None, 1, "x", [1.0]]),
)
def test_train_step_rejects_wrong_kinds(which, bad):
    rejects(which, train_step, **{**_step_args(), which: bad})


@given(dtype=st.sampled_from([torch.float32, torch.float16, torch.bfloat16]))
def test_train_step_rejects_input_of_another_dtype_than_the_model(dtype):
    args = _step_args()
    weight = args["model"].weight.detach().clone()
    rejects("input", train_step, **{**args, "input": args["input"].to(dtype)})
    assert torch.equal(args["model"].weight, weight)  # refused before any step
