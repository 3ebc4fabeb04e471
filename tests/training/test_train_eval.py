"""nnfaq.train_eval against PyTorch (forward and gradient, float64) and its claims."""

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from nnfaq.train_eval import batch_norm, eval_is_deterministic

# --- batch norm ----------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(8, 3), (6, 3, 5), (4, 3, 5, 5), (2, 3, 2, 3, 4)])
@pytest.mark.parametrize("affine", [False, True])
@pytest.mark.parametrize("momentum", [0.1, 0.5, 1.0])
def test_batch_norm_training_matches_torch(shape, affine, momentum):
    x = torch.randn(shape, dtype=torch.float64) * 2 + 1
    C = shape[1]
    w = torch.randn(C, dtype=torch.float64) if affine else None
    b = torch.randn(C, dtype=torch.float64) if affine else None
    rm, rv = torch.randn(C, dtype=torch.float64), torch.rand(C, dtype=torch.float64) + 0.5
    rm_ref, rv_ref = rm.clone(), rv.clone()
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    ours = batch_norm(xa, rm, rv, w, b, training=True, momentum=momentum)
    ref = F.batch_norm(xb, rm_ref, rv_ref, w, b, training=True, momentum=momentum)
    assert_close(ours, ref)
    assert_close(rm, rm_ref)
    assert_close(rv, rv_ref)
    g = torch.randn(shape, dtype=torch.float64)
    ours.backward(g)
    ref.backward(g)
    assert_close(xa.grad, xb.grad)


@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5, 5)])
def test_batch_norm_eval_matches_torch_and_keeps_running_stats(shape):
    x = torch.randn(shape, dtype=torch.float64)
    C = shape[1]
    rm, rv = torch.randn(C, dtype=torch.float64), torch.rand(C, dtype=torch.float64) + 0.5
    before = rm.clone(), rv.clone()
    w, b = torch.randn(C, dtype=torch.float64), torch.randn(C, dtype=torch.float64)
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    ours = batch_norm(xa, rm, rv, w, b, training=False)
    ref = F.batch_norm(xb, rm, rv, w, b, training=False)
    assert_close(ours, ref)
    assert_close(rm, before[0])
    assert_close(rv, before[1])
    ours.sum().backward()
    ref.sum().backward()
    assert_close(xa.grad, xb.grad)


def test_batch_norm_eval_is_not_disabled_and_is_per_example():
    x = torch.randn(8, 3, dtype=torch.float64) + 5
    rm, rv = torch.full((3,), 5.0, dtype=torch.float64), torch.full((3,), 4.0, dtype=torch.float64)
    out = batch_norm(x, rm, rv, training=False)
    assert not torch.allclose(out, x)
    # in eval mode one example's output does not depend on the rest of the batch
    assert_close(batch_norm(x[:1], rm, rv, training=False), out[:1])


def test_batch_norm_matches_module_in_both_modes():
    bn = torch.nn.BatchNorm1d(4, dtype=torch.float64)
    rm, rv = torch.zeros(4, dtype=torch.float64), torch.ones(4, dtype=torch.float64)
    for _ in range(3):
        x = torch.randn(10, 4, dtype=torch.float64) * 3
        assert_close(batch_norm(x, rm, rv, bn.weight, bn.bias, training=True), bn.train()(x))
    x = torch.randn(10, 4, dtype=torch.float64)
    assert_close(batch_norm(x, rm, rv, bn.weight, bn.bias, training=False), bn.eval()(x))


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((torch.randn(4), None, None), {"training": True}, ValueError, "input must have at least 2 dimensions"),
        ((torch.randn(4, 3), torch.zeros(2), torch.ones(3)), {}, ValueError, r"running_mean must have shape \(3,\)"),
        ((torch.randn(4, 3), torch.zeros(3), torch.ones(3, 1)), {}, ValueError, "running_var must have 1 dimensions"),
        ((torch.randn(4, 3), None, None), {}, ValueError, "running_mean and running_var are required"),
        ((torch.randn(1, 3), None, None), {"training": True}, ValueError, "more than 1 value per channel"),
        ((torch.randn(4, 3), None, None), {"training": True, "momentum": 2.0}, ValueError, "momentum must be in"),
        ((torch.randn(4, 3), None, None), {"training": True, "eps": 0.0}, ValueError, "eps must be in"),
        ((torch.randn(4, 3), torch.zeros(3), -torch.ones(3)), {}, ValueError, "running_var must be non-negative"),
    ],
)
def test_batch_norm_rejects_bad_arguments(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        batch_norm(*args, **kwargs)


def test_batch_norm_weight_shape_is_checked():
    with pytest.raises(ValueError, match=r"weight must have shape \(3,\)"):
        batch_norm(torch.randn(4, 3), None, None, torch.ones(4), training=True)


# --- nn vs functional ----------------------------------------------------------------------------


class _FunctionalDropout(torch.nn.Module):
    def __init__(self, pass_mode: bool):
        super().__init__()
        self.fc = torch.nn.Linear(6, 6)
        self.pass_mode = pass_mode

    def forward(self, x):
        if self.pass_mode:
            return F.dropout(self.fc(x), 0.5, training=self.training)
        return F.dropout(self.fc(x), 0.5)


def test_functional_dropout_without_mode_keeps_dropping_in_eval():
    x = torch.randn(5, 6)
    assert not eval_is_deterministic(_FunctionalDropout(pass_mode=False), x)
    assert eval_is_deterministic(_FunctionalDropout(pass_mode=True), x)
    assert eval_is_deterministic(torch.nn.Sequential(torch.nn.Linear(6, 6), torch.nn.Dropout(0.5)), x)


def test_eval_is_deterministic_restores_mode():
    net = torch.nn.Dropout()
    net.train()
    eval_is_deterministic(net, torch.randn(3))
    assert net.training
    net.eval()
    eval_is_deterministic(net, torch.randn(3))
    assert not net.training


def test_eval_is_deterministic_rejects_bad_arguments():
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        eval_is_deterministic(lambda t: t, torch.randn(3))
    with pytest.raises(ValueError, match="trials must be >= 2"):
        eval_is_deterministic(torch.nn.Identity(), torch.randn(3), trials=1)
