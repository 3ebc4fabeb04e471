"""nnfaq.residual: the residual block's gradient, the networks it builds, and the degradation problem."""

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from nnfaq.residual import deep_mlp, fit, residual_block


@pytest.mark.parametrize("shape", [(4, 8), (2, 8, 5), (2, 8, 3, 3)])
def test_residual_block_value_and_gradient(shape):
    branch = torch.nn.Tanh()
    x = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    g = torch.randn(shape, dtype=torch.float64)
    ours = residual_block(x, branch)
    ref = x + torch.tanh(x)
    assert_close(ours, ref)
    (d_ours,) = torch.autograd.grad(ours, x, g)
    (d_ref,) = torch.autograd.grad(ref, x, g)
    assert_close(d_ours, d_ref)
    assert_close(d_ours, g * (2 - torch.tanh(x) ** 2))  # (I + dF/dx)^T g


def test_zero_last_layer_makes_input_gradient_exactly_the_output_gradient():
    torch.manual_seed(0)
    net = deep_mlp(3, 8, 2, depth=10, residual=True).double()
    h = torch.randn(5, 8, dtype=torch.float64, requires_grad=True)
    g = torch.randn(5, 8, dtype=torch.float64)
    blocks = net[1:-1]
    (d,) = torch.autograd.grad(blocks(h), h, g)
    assert torch.equal(d, g)
    assert torch.equal(blocks(h), h)


def test_plain_and_residual_have_the_same_parameters_and_structure():
    for bn in (False, True):
        plain = deep_mlp(2, 16, 1, depth=5, batch_norm=bn)
        res = deep_mlp(2, 16, 1, depth=5, residual=True, batch_norm=bn)
        assert len(plain) == len(res) == 7
        assert sum(p.numel() for p in plain.parameters()) == sum(p.numel() for p in res.parameters())


def test_zero_init_residual_false_keeps_random_branches():
    torch.manual_seed(0)
    res = deep_mlp(2, 8, 1, depth=3, residual=True, zero_init_residual=False)
    assert all(bool(block.branch[-1].weight.abs().sum() > 0) for block in res[1:-1])


def test_residual_gradients_have_equal_norms_through_depth_at_init():
    torch.manual_seed(0)
    net = deep_mlp(2, 16, 1, depth=20, residual=True)
    x = torch.randn(32, 2)
    net(x).pow(2).mean().backward()
    # every zero-initialized branch's last layer sees the same input-side gradient: the identity path
    norms = torch.stack([block.branch[-1].weight.grad.norm() for block in net[1:-1]])
    assert bool(norms.min() > 0)
    assert_close(norms, norms[:1].expand_as(norms), rtol=1e-5, atol=0)


def _task(seed):
    torch.manual_seed(seed)
    x = torch.rand(64, 2) * 2 - 1
    return x, torch.sin(3 * x[:, :1]) * torch.cos(3 * x[:, 1:])


def test_degradation_deep_plain_trains_worse_without_vanishing_gradients_residual_does_not():
    x, y = _task(0)
    torch.manual_seed(0)
    deep_plain = deep_mlp(2, 16, 1, depth=30, batch_norm=True)
    F.mse_loss(deep_plain(x), y).backward()
    # no vanishing gradient: the first layer's gradient is not smaller than the last one's
    assert deep_plain[0].weight.grad.norm() > deep_plain[-1].weight.grad.norm()
    deep_plain.zero_grad()
    torch.manual_seed(0)
    shallow = fit(deep_mlp(2, 16, 1, depth=3, batch_norm=True), x, y, steps=100)[-1]
    deep = fit(deep_plain, x, y, steps=100)[-1]
    torch.manual_seed(0)
    deep_res = fit(deep_mlp(2, 16, 1, depth=30, residual=True, batch_norm=True), x, y, steps=100)[-1]
    # training (not test) loss: the deeper plain network is worse, so it is not overfitting
    assert deep > 5 * shallow
    assert deep > 5 * deep_res


def test_fit_matches_a_manual_adam_loop():
    x, y = _task(1)
    torch.manual_seed(2)
    net = deep_mlp(2, 4, 1, depth=2)
    twin = deep_mlp(2, 4, 1, depth=2)
    twin.load_state_dict(net.state_dict())
    ours = fit(net, x, y, steps=5, lr=0.01)
    opt = torch.optim.Adam(twin.parameters(), lr=0.01)
    for step in range(5):
        opt.zero_grad()
        loss = F.mse_loss(twin(x), y)
        loss.backward()
        opt.step()
        assert ours[step] == pytest.approx(loss.item())


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: deep_mlp(2, 16, 1, depth=0), ValueError, "depth must be >= 1"),
        (lambda: deep_mlp(0, 16, 1, depth=2), ValueError, "in_features must be >= 1"),
        (lambda: deep_mlp(2, 16, 1, depth=2, activation="gelu"), ValueError, "activation must be one of"),
        (lambda: deep_mlp(2, 16, 1, depth=2, residual=1), TypeError, "residual must be True or False"),
        (lambda: residual_block(torch.randn(3, 4), "branch"), TypeError, "branch must be callable"),
        (
            lambda: residual_block(torch.randn(3, 4), torch.nn.Linear(4, 2)),
            ValueError,
            r"branch must return .* \(3, 4\)",
        ),
        (lambda: residual_block([1.0], torch.nn.Identity()), TypeError, "input must be a torch.Tensor"),
        (
            lambda: fit(torch.nn.Linear(2, 1), torch.randn(4, 2), torch.randn(3, 1)),
            ValueError,
            "target must have shape",
        ),
        (
            lambda: fit(torch.nn.Linear(2, 1), torch.randn(4, 2), torch.randn(4, 1), steps=0),
            ValueError,
            "steps must be",
        ),
        (lambda: fit("net", torch.randn(4, 2), torch.randn(4, 1)), TypeError, "model must be a torch.nn.Module"),
    ],
)
def test_bad_input_names_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()
