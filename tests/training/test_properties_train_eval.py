"""Property-based tests for nnfaq.train_eval: random valid input agrees with PyTorch (or the stated invariant),
random invalid input raises ValueError/TypeError naming the argument (issue 10)."""

import itertools
import math

import torch
import torch.nn.functional as F
from helpers import int_dtypes, not_a_bool, not_a_number, not_a_tensor, not_an_int, rejects, small_shapes
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.testing import assert_close

from nnfaq.train_eval import batch_norm, eval_is_deterministic

D64 = torch.float64
seeds = st.integers(0, 2**16)


# --- batch_norm ----------------------------------------------------------------------------------


@settings(max_examples=30)
@given(
    B=st.integers(1, 4),
    C=st.integers(1, 4),
    rest=st.lists(st.integers(1, 3), max_size=2),
    training=st.booleans(),
    affine=st.booleans(),
    stats=st.booleans(),
    momentum=st.floats(0.0, 1.0),
    eps=st.floats(1e-6, 1.0),
)
def test_batch_norm_matches_torch_forward_gradient_and_running_stats(
    B, C, rest, training, affine, stats, momentum, eps
):
    shape = (B, C, *rest)
    if training and math.prod(shape) // C < 2:
        shape = (B + 1, C, *rest)
    stats = stats or not training  # eval mode needs running statistics
    x = 1 + 2 * torch.randn(shape, dtype=D64)
    rm = torch.randn(C, dtype=D64) if stats else None
    rv = torch.rand(C, dtype=D64) + 0.1 if stats else None
    w, b = (torch.randn(C, dtype=D64), torch.randn(C, dtype=D64)) if affine else (None, None)
    leaves = [t.clone().requires_grad_() if t is not None else None for t in (x, w, b)]
    refs = [t.clone().requires_grad_() if t is not None else None for t in (x, w, b)]
    rm_ref, rv_ref = (rm.clone(), rv.clone()) if stats else (None, None)
    ours = batch_norm(leaves[0], rm, rv, leaves[1], leaves[2], training=training, momentum=momentum, eps=eps)
    ref = F.batch_norm(refs[0], rm_ref, rv_ref, refs[1], refs[2], training=training, momentum=momentum, eps=eps)
    assert_close(ours, ref)
    if stats:
        assert_close(rm, rm_ref)
        assert_close(rv, rv_ref)
    g = torch.randn(shape, dtype=D64)
    ours.backward(g)
    ref.backward(g)
    for mine, theirs in zip(leaves, refs):
        if mine is not None:
            assert_close(mine.grad, theirs.grad)


def _bn_call(name, bad):
    """A batch_norm call that is valid except for the argument ``name``, set to ``bad``."""
    x = torch.randn(4, 3, 2, dtype=D64)
    kwargs = {
        "input": x,
        "running_mean": torch.zeros(3, dtype=D64),
        "running_var": torch.ones(3, dtype=D64),
        "weight": torch.ones(3, dtype=D64),
        "bias": torch.zeros(3, dtype=D64),
        "training": False,
        "momentum": 0.1,
        "eps": 1e-5,
    }
    kwargs[name] = bad
    return kwargs


C_TENSORS = ("running_mean", "running_var", "weight", "bias")


bad_stat_value = st.sampled_from([("running_var", -1.0), ("running_var", math.nan), ("running_var", math.inf)])
bad_stat_value |= st.sampled_from([("running_mean", math.nan), ("running_mean", -math.inf)])


@given(
    case=st.one_of(
        st.tuples(st.just("input"), not_a_tensor),
        st.tuples(st.just("input"), small_shapes.filter(lambda s: len(s) < 2).map(lambda s: torch.randn(s, dtype=D64))),
        st.tuples(st.sampled_from(C_TENSORS), not_a_tensor.filter(lambda v: v is not None)),
        st.tuples(
            st.sampled_from(C_TENSORS), small_shapes.filter(lambda s: s != (3,)).map(lambda s: torch.ones(s, dtype=D64))
        ),
        bad_stat_value.map(lambda c: (c[0], torch.tensor([1.0, c[1], 1.0], dtype=D64))),
        st.tuples(st.just("training"), not_a_bool),
        st.tuples(st.just("momentum"), st.one_of(not_a_number, st.floats().filter(lambda m: not 0 <= m <= 1))),
        st.tuples(st.just("eps"), st.one_of(not_a_number, st.floats().filter(lambda e: not e > 0))),
    )
)
def test_batch_norm_rejects_bad_arguments(case):
    name, bad = case
    rejects(name, batch_norm, **_bn_call(name, bad))


@given(shape=small_shapes.filter(lambda s: len(s) >= 2), dtype=int_dtypes, name=st.sampled_from(("input", *C_TENSORS)))
def test_batch_norm_rejects_integer_tensors(shape, dtype, name):
    kwargs = _bn_call(name, torch.zeros(3, dtype=dtype))
    if name == "input":
        kwargs["input"] = torch.zeros((shape[0], 3, *shape[2:]), dtype=dtype)
    rejects(name, batch_norm, **kwargs)


@given(C=st.integers(1, 4), rest=st.lists(st.just(1), max_size=2))
def test_batch_norm_rejects_one_value_per_channel_in_training_and_missing_stats_in_eval(C, rest):
    x = torch.randn(1, C, *rest, dtype=D64)
    rejects("input", batch_norm, x, None, None, training=True)
    rejects("running_mean", batch_norm, torch.randn(2, C, dtype=D64), None, torch.ones(C, dtype=D64))


# --- eval_is_deterministic -----------------------------------------------------------------------


def _net(widths, dropouts, batchnorm):
    layers = []
    for i, (w_in, w_out) in enumerate(itertools.pairwise(widths)):
        layers.append(torch.nn.Linear(w_in, w_out))
        if batchnorm and i == 0:
            layers.append(torch.nn.BatchNorm1d(w_out))
        if dropouts[i] > 0:
            layers.append(torch.nn.Dropout(dropouts[i]))
    return torch.nn.Sequential(*layers)


class _Forgetful(torch.nn.Module):
    """Calls F.dropout without passing its mode, so it keeps dropping in eval mode."""

    def __init__(self, width, p):
        super().__init__()
        self.fc, self.p = torch.nn.Linear(width, width), p

    def forward(self, x):
        return F.dropout(self.fc(x), p=self.p)


@settings(max_examples=25)
@given(
    widths=st.lists(st.integers(1, 5), min_size=2, max_size=4),
    dropouts=st.lists(st.floats(0.0, 0.9), min_size=3, max_size=3),
    batchnorm=st.booleans(),
    was_training=st.booleans(),
    B=st.integers(2, 4),
    trials=st.integers(2, 4),
)
def test_eval_is_deterministic_for_modules_and_restores_the_mode(widths, dropouts, batchnorm, was_training, B, trials):
    net = _net(widths, dropouts, batchnorm).train(was_training)
    assert eval_is_deterministic(net, torch.randn(B, widths[0]), trials=trials)
    assert all(m.training == was_training for m in net.modules())


@settings(max_examples=20)
@given(width=st.integers(4, 8), p=st.floats(0.3, 0.9), was_training=st.booleans())
def test_eval_is_not_deterministic_when_functional_dropout_forgets_the_mode(width, p, was_training):
    net = _Forgetful(width, p).train(was_training)
    assert not eval_is_deterministic(net, torch.randn(8, width), trials=3)
    assert net.training == was_training


@given(
    case=st.one_of(
        st.tuples(st.just("model"), st.one_of(not_a_tensor, st.just(torch.tanh)), st.just(None), st.just(3)),
        st.tuples(st.just("input"), st.just(None), not_a_tensor, st.just(3)),
        st.tuples(st.just("trials"), st.just(None), st.just(None), st.one_of(not_an_int, st.integers(max_value=1))),
    )
)
def test_eval_is_deterministic_rejects_bad_arguments(case):
    name, model, x, trials = case
    model = torch.nn.Linear(2, 2) if name != "model" else model
    x = torch.randn(1, 2) if name != "input" else x
    rejects(name, eval_is_deterministic, model, x, trials=trials)
