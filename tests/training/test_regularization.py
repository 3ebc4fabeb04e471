"""nnfaq.regularization against PyTorch (forward and gradient, float64) and its claims."""

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from nnfaq.regularization import dropout, early_stopping, l2_penalty

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
