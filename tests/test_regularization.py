"""nnfaq.regularization against PyTorch (forward and gradient, float64) and its claims."""

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from nnfaq.regularization import batch_norm, dropout, early_stopping, eval_is_deterministic, l2_penalty

SHAPES = [(7,), (4, 9), (2, 3, 5), (2, 3, 4, 5)]


# --- dropout -------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("p", [0.0, 0.1, 0.5, 0.9])
def test_dropout_matches_torch_forward_and_gradient(shape, p):
    x = torch.randn(shape, dtype=torch.float64)
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    g = torch.randn(shape, dtype=torch.float64)
    torch.manual_seed(1)
    ours = dropout(a, p=p)
    torch.manual_seed(1)
    ref = F.dropout(b, p=p)
    assert_close(ours, ref)
    ours.backward(g)
    ref.backward(g)
    assert_close(a.grad, b.grad)


def test_dropout_values_are_zero_or_scaled_and_mean_is_kept():
    x = torch.randn(1000, dtype=torch.float64)
    y = dropout(x, p=0.25)
    kept = y != 0
    assert_close(y[kept], x[kept] / 0.75)
    assert 0.65 < kept.double().mean() < 0.85
    ones = torch.ones(400_000, dtype=torch.float64)
    assert abs(dropout(ones, p=0.6).mean().item() - 1) < 0.01


def test_dropout_backward_is_mask_over_keep_probability_and_gradcheck():
    x = torch.randn(50, dtype=torch.float64, requires_grad=True)
    y = dropout(x, p=0.4)
    y.sum().backward()
    assert_close(x.grad, (y != 0).double() / 0.6)
    # the custom backward is the true derivative for a fixed mask (same seed before each call)

    def fixed_mask(t):
        torch.manual_seed(3)
        return dropout(t, p=0.4)

    assert torch.autograd.gradcheck(fixed_mask, (torch.randn(6, dtype=torch.float64, requires_grad=True),))


def test_dropout_eval_is_identity():
    x = torch.randn(3, 4)
    assert dropout(x, p=0.7, training=False) is x


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"p": 1.0}, ValueError, r"p must be in \[0, 1\)"),
        ({"p": -0.1}, ValueError, r"p must be in"),
        ({"p": float("nan")}, ValueError, r"p must be a number"),
        ({"p": "0.5"}, TypeError, r"p must be a real number"),
        ({"training": 1}, TypeError, r"training must be True or False"),
    ],
)
def test_dropout_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        dropout(torch.randn(3), **kwargs)


def test_dropout_rejects_non_float_input():
    with pytest.raises(TypeError, match="input must be a floating-point tensor"):
        dropout(torch.arange(3))
    with pytest.raises(TypeError, match="input must be a torch.Tensor"):
        dropout([1.0, 2.0])


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


# --- weight decay --------------------------------------------------------------------------------


@pytest.mark.parametrize("weight_decay", [0.0, 1e-3, 0.1])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_weight_decay_equals_l2_penalty_over_steps(weight_decay, momentum):
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 2, dtype=torch.float64)
    twin = torch.nn.Linear(4, 2, dtype=torch.float64)
    twin.load_state_dict(model.state_dict())
    x, y = torch.randn(16, 4, dtype=torch.float64), torch.randn(16, 2, dtype=torch.float64)
    ref_opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=momentum, weight_decay=weight_decay)
    our_opt = torch.optim.SGD(twin.parameters(), lr=0.05, momentum=momentum)
    for _ in range(10):
        ref_opt.zero_grad()
        F.mse_loss(model(x), y).backward()
        ref_opt.step()
        our_opt.zero_grad()
        (F.mse_loss(twin(x), y) + l2_penalty(twin.parameters(), weight_decay)).backward()
        our_opt.step()
    for ref, ours in zip(model.parameters(), twin.parameters()):
        assert_close(ours, ref)


def test_adam_weight_decay_is_not_adamw():
    w0 = torch.randn(5, dtype=torch.float64)
    a, b = w0.clone().requires_grad_(), w0.clone().requires_grad_()
    opt_a = torch.optim.Adam([a], lr=0.1, weight_decay=0.5)
    opt_b = torch.optim.AdamW([b], lr=0.1, weight_decay=0.5)
    for opt, w in ((opt_a, a), (opt_b, b)):
        w.sum().backward()
        opt.step()
    assert not torch.allclose(a, b)


def test_l2_penalty_value_and_bad_arguments():
    w = [torch.tensor([3.0, 4.0], dtype=torch.float64), torch.tensor([[1.0]], dtype=torch.float64)]
    assert l2_penalty(w, 0.2).item() == pytest.approx(0.5 * 0.2 * 26)
    with pytest.raises(ValueError, match="weight_decay must be in"):
        l2_penalty(w, -1.0)
    with pytest.raises(ValueError, match="parameters must contain at least one tensor"):
        l2_penalty([], 0.1)
    with pytest.raises(TypeError, match=r"parameters\[1\] must be a torch.Tensor"):
        l2_penalty([w[0], 3.0], 0.1)


# --- early stopping ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("losses", "patience", "min_delta", "expected"),
    [
        ([3, 2, 1], 1, 0.0, (2, 2)),
        ([1, 2, 3, 4], 2, 0.0, (0, 2)),
        ([1.0, 0.99, 0.98, 0.97], 2, 0.05, (0, 2)),
        ([5, 4, 4, 4, 3], 3, 0.0, (4, 4)),
        ([5, 4, 4, 4, 3], 2, 0.0, (1, 3)),
        ([2.0], 1, 0.0, (0, 0)),
    ],
)
def test_early_stopping(losses, patience, min_delta, expected):
    assert early_stopping(losses, patience, min_delta) == expected


def test_early_stopping_rejects_bad_arguments():
    with pytest.raises(ValueError, match="val_losses must contain at least one value"):
        early_stopping([])
    with pytest.raises(TypeError, match="val_losses must be a sequence"):
        early_stopping(3.0)
    with pytest.raises(ValueError, match=r"val_losses\[1\] must be a number"):
        early_stopping([1.0, float("nan")])
    with pytest.raises(ValueError, match="patience must be >= 1"):
        early_stopping([1.0], patience=0)
