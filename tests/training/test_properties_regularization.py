"""Property-based tests for nnfaq.regularization: random valid input agrees with PyTorch (or the stated invariant),
random invalid input raises ValueError/TypeError naming the argument (issue 10)."""

import math

import torch
import torch.nn.functional as F
from helpers import int_dtypes, not_a_bool, not_a_number, not_a_tensor, not_an_int, rejects, small_shapes
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.testing import assert_close

from nnfaq.regularization import dropout, early_stopping, l2_penalty

D64 = torch.float64
seeds = st.integers(0, 2**16)


# --- dropout -------------------------------------------------------------------------------------


@settings(max_examples=30)
@given(shape=small_shapes, p=st.floats(0.0, 0.95), seed=seeds)
def test_dropout_matches_torch_forward_and_gradient(shape, p, seed):
    x = torch.randn(shape, dtype=D64)
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    torch.manual_seed(seed)
    ours = dropout(a, p=p)
    torch.manual_seed(seed)
    ref = F.dropout(b, p=p)
    assert_close(ours, ref)
    g = torch.randn(shape, dtype=D64)
    ours.backward(g)
    ref.backward(g)
    assert_close(a.grad, b.grad)
    assert torch.equal(dropout(x, p=p, training=False), x)


@given(p=st.one_of(st.floats(max_value=0.0, exclude_max=True), st.floats(min_value=1.0), st.just(math.nan)))
def test_dropout_rejects_out_of_range_p(p):
    rejects("p", dropout, torch.randn(3), p=p)


@given(
    case=st.one_of(
        st.tuples(st.just("input"), not_a_tensor),
        st.tuples(st.just("p"), not_a_number),
        st.tuples(st.just("training"), not_a_bool),
    )
)
def test_dropout_rejects_wrong_types(case):
    name, bad = case
    kwargs = {"input": torch.randn(2, 3), "p": 0.5, "training": True, name: bad}
    rejects(name, dropout, **kwargs)


@given(shape=small_shapes, dtype=int_dtypes)
def test_dropout_rejects_integer_input(shape, dtype):
    rejects("input", dropout, torch.zeros(shape, dtype=dtype))


# --- l2_penalty ----------------------------------------------------------------------------------


@settings(max_examples=30)
@given(param_shapes=st.lists(small_shapes, min_size=1, max_size=3), wd=st.floats(0.0, 10.0), lr=st.floats(0.001, 1.0))
def test_l2_penalty_value_gradient_and_sgd_weight_decay(param_shapes, wd, lr):
    ws = [torch.randn(s, dtype=D64, requires_grad=True) for s in param_shapes]
    penalty = l2_penalty(ws, wd)
    assert penalty.shape == ()
    assert_close(penalty, 0.5 * wd * sum((w.detach() ** 2).sum() for w in ws))
    penalty.backward()
    for w in ws:
        assert_close(w.grad, wd * w.detach())
    # one SGD step with weight_decay = one plain SGD step on the penalty (zero data loss)
    sgd = [w.detach().clone().requires_grad_() for w in ws]
    opt = torch.optim.SGD(sgd, lr=lr, weight_decay=wd)
    sum((w * 0).sum() for w in sgd).backward()
    opt.step()
    for w, step in zip(ws, sgd):
        assert_close(step, w.detach() - lr * w.grad)


@given(
    case=st.one_of(
        st.tuples(st.just("weight_decay"), st.one_of(not_a_number, st.floats(max_value=0, exclude_max=True))),
        st.tuples(st.just("weight_decay"), st.just(math.nan)),
        st.tuples(st.just("parameters"), st.one_of(st.none(), st.integers(), st.floats(), st.text(max_size=3))),
        st.tuples(st.just("parameters"), st.just([])),
        st.tuples(st.just("parameters[1]"), st.one_of(not_a_tensor, int_dtypes)),
    )
)
def test_l2_penalty_rejects_bad_arguments(case):
    name, bad = case
    if name == "weight_decay":
        rejects(name, l2_penalty, [torch.randn(3)], bad)
    elif name == "parameters":
        rejects(name, l2_penalty, bad, 0.1)
    else:
        second = torch.zeros(2, dtype=bad) if isinstance(bad, torch.dtype) else bad
        rejects(name, l2_penalty, [torch.randn(3), second], 0.1)


# --- early_stopping ------------------------------------------------------------------------------

losses = st.lists(st.floats(-10, 10, allow_nan=False), min_size=1, max_size=20)


@settings(max_examples=40)
@given(val=losses, patience=st.integers(1, 6), min_delta=st.one_of(st.just(0.0), st.floats(0.0, 1.0)))
def test_early_stopping_invariants(val, patience, min_delta):
    best, stop = early_stopping(val, patience=patience, min_delta=min_delta)
    assert 0 <= best <= stop <= len(val) - 1
    # it stops exactly when `patience` epochs passed without improvement, or at the end
    assert stop - best <= patience
    assert stop == len(val) - 1 or stop - best == patience
    # no epoch after the kept one (up to the stop) beats it by more than min_delta
    assert all(v >= val[best] - min_delta for v in val[best + 1 : stop + 1])
    if min_delta == 0:
        assert val[best] == min(val[: stop + 1])
        assert best == val.index(val[best])  # the first epoch that reached the minimum
    # a 1-D tensor of losses gives the same decision
    assert early_stopping(torch.tensor(val, dtype=D64), patience, min_delta) == (best, stop)


@given(
    case=st.one_of(
        st.tuples(st.just("val_losses"), st.one_of(st.none(), st.integers(), st.floats(), st.text(max_size=3))),
        st.tuples(st.just("val_losses"), st.sampled_from([[], (), torch.tensor(1.0), torch.zeros(2, 2)])),
        st.tuples(st.just("val_losses[1]"), st.one_of(not_a_number, st.just(math.nan))),
        st.tuples(st.just("patience"), st.one_of(not_an_int, st.integers(max_value=0))),
        st.tuples(st.just("min_delta"), st.one_of(not_a_number, st.floats(max_value=0, exclude_max=True))),
    )
)
def test_early_stopping_rejects_bad_arguments(case):
    name, bad = case
    if name == "val_losses":
        rejects(name, early_stopping, bad)
    elif name == "val_losses[1]":
        rejects(name, early_stopping, [1.0, bad, 0.5])
    else:
        rejects(name, early_stopping, [1.0, 0.5], **{name: bad})
