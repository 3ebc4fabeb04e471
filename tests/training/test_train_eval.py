"""nnfaq.training.train_eval: parity with PyTorch (forward, gradients and running statistics, float64), the claims its
answers make (for other seeds too), and the refusals specific to it (the shared ones are rows of
tests/training/contract.py)."""

import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from helpers import gen, leaves, rejects
from hypothesis import given
from hypothesis import strategies as st
from torch.testing import assert_close

from nnfaq.training.train_eval import batch_norm, eval_is_deterministic

F64 = torch.float64


# --- parity with PyTorch -------------------------------------------------------------------------


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
def test_batch_norm_matches_torch_forward_gradients_and_running_stats(
    B, C, rest, training, affine, stats, momentum, eps
):
    shape = (B, C, *rest)
    if training and math.prod(shape) // C < 2:
        shape = (B + 1, C, *rest)
    stats = stats or not training  # eval mode needs running statistics
    x = 1 + 2 * torch.randn(shape, dtype=F64)
    rm = torch.randn(C, dtype=F64) if stats else None
    rv = torch.rand(C, dtype=F64) + 0.1 if stats else None
    w, b = (torch.randn(C, dtype=F64), torch.randn(C, dtype=F64)) if affine else (None, None)
    ours_in = leaves(*(t for t in (x, w, b) if t is not None))
    ref_in = leaves(*(t for t in (x, w, b) if t is not None))
    wb = lambda ts: (ts[1], ts[2]) if affine else (None, None)  # noqa: E731
    rm_ref, rv_ref = (rm.clone(), rv.clone()) if stats else (None, None)
    ours = batch_norm(ours_in[0], rm, rv, *wb(ours_in), training=training, momentum=momentum, eps=eps)
    ref = F.batch_norm(ref_in[0], rm_ref, rv_ref, *wb(ref_in), training=training, momentum=momentum, eps=eps)
    assert_close(ours, ref)
    if stats:
        assert_close(rm, rm_ref)
        assert_close(rv, rv_ref)
    g = torch.randn(shape, dtype=F64)
    ours.backward(g)
    ref.backward(g)
    for a, r in zip(ours_in, ref_in):
        assert_close(a.grad, r.grad)


def test_batch_norm_matches_the_module_in_both_modes():
    bn = torch.nn.BatchNorm1d(4, dtype=F64)
    rm, rv = torch.zeros(4, dtype=F64), torch.ones(4, dtype=F64)
    for _ in range(3):
        x = torch.randn(10, 4, dtype=F64) * 3
        assert_close(batch_norm(x, rm, rv, bn.weight, bn.bias, training=True), bn.train()(x))
    assert_close(rm, bn.running_mean)
    assert_close(rv, bn.running_var)
    x = torch.randn(10, 4, dtype=F64)
    assert_close(batch_norm(x, rm, rv, bn.weight, bn.bias, training=False), bn.eval()(x))


# --- claims --------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(3))
def test_eval_mode_is_not_disabled_and_treats_each_example_alone(seed):
    x = torch.randn(8, 3, generator=gen(seed), dtype=F64) + 5
    rm, rv = torch.full((3,), 5.0, dtype=F64), torch.full((3,), 4.0, dtype=F64)
    out = batch_norm(x, rm, rv, training=False)
    assert not torch.allclose(out, x)
    assert_close(out, (x - 5) / math.sqrt(4 + 1e-5))
    # in eval mode one example's output does not depend on the rest of the batch; in training it does
    assert_close(batch_norm(x[:1], rm, rv, training=False), out[:1])
    alone = batch_norm(x[:2], rm.clone(), rv.clone(), training=True)[:1]
    assert not torch.allclose(alone, batch_norm(x, rm.clone(), rv.clone(), training=True)[:1])


@pytest.mark.parametrize("seed", range(3))
def test_batch_norm_uses_no_labels_forward_passes_alone_set_the_running_statistics(seed):
    g = gen(seed)
    rm, rv = torch.zeros(4, dtype=F64), torch.ones(4, dtype=F64)
    with torch.no_grad():  # no loss, no labels, no backward pass
        for _ in range(60):
            batch_norm(3 + 2 * torch.randn(64, 4, generator=g, dtype=F64), rm, rv, training=True)
    assert bool((rm - 3).abs().max() < 0.25) and bool((rv - 4).abs().max() < 1.0)


def test_functional_defaults_are_opposite_pitfalls():
    # F.dropout defaults to training=True: it drops even when the caller meant evaluation
    assert bool((F.dropout(torch.ones(1000)) == 0).any())
    # F.batch_norm defaults to training=False: running statistics never move, no batch normalization
    x = 5 + torch.randn(16, 3)
    rm, rv = torch.zeros(3), torch.ones(3)
    assert torch.equal(F.batch_norm(x, rm, rv), batch_norm(x, rm, rv))  # ours has the same default
    assert torch.equal(rm, torch.zeros(3)) and torch.equal(rv, torch.ones(3))
    assert_close(F.batch_norm(x, rm, rv), x / math.sqrt(1 + 1e-5))


class _Functional(torch.nn.Module):
    """Calls F.dropout, passing its mode or not."""

    def __init__(self, width, p, pass_mode):
        super().__init__()
        self.fc, self.p, self.pass_mode = torch.nn.Linear(width, width), p, pass_mode

    def forward(self, x):
        if self.pass_mode:
            return F.dropout(self.fc(x), p=self.p, training=self.training)
        return F.dropout(self.fc(x), p=self.p)


@given(width=st.integers(4, 8), p=st.floats(0.3, 0.9), was_training=st.booleans())
def test_functional_dropout_without_its_mode_keeps_dropping_in_eval(width, p, was_training):
    x = torch.randn(8, width)
    forgetful = _Functional(width, p, pass_mode=False).train(was_training)
    assert not eval_is_deterministic(forgetful, x)
    assert forgetful.training == was_training  # the mode is restored
    assert eval_is_deterministic(_Functional(width, p, pass_mode=True).train(was_training), x)


def _net(widths, dropouts, batchnorm):
    layers = []
    for i, (w_in, w_out) in enumerate(itertools.pairwise(widths)):
        layers.append(torch.nn.Linear(w_in, w_out))
        if batchnorm and i == 0:
            layers.append(torch.nn.BatchNorm1d(w_out))
        if dropouts[i] > 0:
            layers.append(torch.nn.Dropout(dropouts[i]))
    return torch.nn.Sequential(*layers)


@given(
    widths=st.lists(st.integers(1, 5), min_size=2, max_size=4),
    dropouts=st.lists(st.floats(0.0, 0.9), min_size=3, max_size=3),
    batchnorm=st.booleans(),
    was_training=st.booleans(),
    trials=st.integers(2, 4),
)
def test_modules_follow_eval_and_the_mode_is_restored(widths, dropouts, batchnorm, was_training, trials):
    net = _net(widths, dropouts, batchnorm).train(was_training)
    assert eval_is_deterministic(net, torch.randn(3, widths[0]), trials=trials)
    assert all(m.training == was_training for m in net.modules())


@pytest.mark.parametrize("seed", range(3))
def test_the_mode_is_about_behaviour_not_learnable_parameters(seed):
    x = torch.randn(6, 5, generator=gen(seed))
    torch.manual_seed(seed)
    lin = torch.nn.Linear(5, 5)
    assert sum(p.numel() for p in lin.parameters()) > 0 and torch.equal(lin.train()(x), lin.eval()(x))
    drop = torch.nn.Dropout(0.5)
    assert not list(drop.parameters()) and not torch.equal(drop.train()(x), drop.eval()(x))
    bn = torch.nn.BatchNorm1d(5).requires_grad_(False)  # frozen parameters: the mode still matters
    assert {n for n, _ in bn.named_buffers()} == {"running_mean", "running_var", "num_batches_tracked"}
    assert not torch.allclose(bn.train()(x), bn.eval()(x))


def test_eval_does_not_turn_off_autograd():
    net = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Dropout())
    assert net.eval()(torch.randn(2, 3)).requires_grad
    with torch.no_grad():
        assert not net(torch.randn(2, 3)).requires_grad


# --- bad input (the shared refusals are rows of tests/training/contract.py) ----------------------


def _bn_call(**changes):
    call = {
        "input": torch.randn(4, 3, 2, dtype=F64),
        "running_mean": torch.zeros(3, dtype=F64),
        "running_var": torch.ones(3, dtype=F64),
        "weight": torch.ones(3, dtype=F64),
        "bias": torch.zeros(3, dtype=F64),
    }
    return {**call, **changes}


@pytest.mark.parametrize("name", ["running_mean", "running_var", "weight", "bias"])
@pytest.mark.parametrize(
    "bad", ["x", [1.0, 1.0, 1.0], torch.ones(2), torch.ones(3, 1), torch.zeros(3, dtype=torch.int64)]
)
def test_batch_norm_refuses_channel_tensors_of_the_wrong_kind_or_shape(name, bad):
    rejects(name, batch_norm, **_bn_call(**{name: bad}))


@pytest.mark.parametrize(
    ("name", "value"), [("running_var", -1.0), ("running_var", math.nan), ("running_mean", math.inf)]
)
def test_batch_norm_refuses_bad_running_statistics(name, value):
    rejects(name, batch_norm, **_bn_call(**{name: torch.tensor([1.0, value, 1.0], dtype=F64)}))


def test_batch_norm_needs_two_values_per_channel_in_training_and_statistics_in_eval():
    rejects("input", batch_norm, torch.randn(4), None, None, training=True)
    rejects("input", batch_norm, torch.randn(1, 3, 1, dtype=F64), None, None, training=True)
    rejects("running_mean", batch_norm, torch.randn(2, 3, dtype=F64), None, torch.ones(3, dtype=F64))


@pytest.mark.parametrize("model", [None, torch.tanh, "net", torch.randn(2)])
def test_eval_is_deterministic_needs_a_module(model):
    rejects("model", eval_is_deterministic, model, torch.randn(1, 2))
