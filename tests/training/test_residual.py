"""nnfaq.training.residual: the residual block against autograd (float64, values and gradients), the networks it
builds and the Adam loop, the claims of the answer (for other seeds too, and only at the budget they are stated
for), and the refusals specific to it (the shared ones are rows of tests/training/contract.py)."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import gen, rejects, seeds, sizes
from hypothesis import given
from hypothesis import strategies as st
from torch.testing import assert_close

from nnfaq.training.residual import HE_2015, deep_mlp, fit, residual_block

F64 = torch.float64


def _branch(kind, C):
    return {
        "tanh": lambda: torch.nn.Tanh(),
        "linear": lambda: torch.nn.Linear(C, C, dtype=F64),
        "mlp": lambda: torch.nn.Sequential(
            torch.nn.Linear(C, 3, dtype=F64), torch.nn.ReLU(), torch.nn.Linear(3, C, dtype=F64)
        ),
    }[kind]()


def _task(seed, n=64):
    """The regression of the gallery: sin(3 x1) cos(3 x2) on n points of [-1, 1]^2."""
    x = torch.rand(n, 2, generator=gen(seed)) * 2 - 1
    return x, torch.sin(3 * x[:, :1]) * torch.cos(3 * x[:, 1:])


# --- parity with autograd ------------------------------------------------------------------------


@given(
    shape=st.lists(sizes, min_size=1, max_size=4).map(tuple),
    kind=st.sampled_from(["tanh", "linear", "mlp"]),
    seed=seeds,
)
def test_residual_block_value_and_gradients_match_x_plus_branch(shape, kind, seed):
    torch.manual_seed(seed)
    branch = _branch(kind, shape[-1])  # acts on the last dimension
    x = torch.randn(shape, generator=gen(seed), dtype=F64, requires_grad=True)
    g = torch.randn(shape, generator=gen(seed + 1), dtype=F64)
    params = [x, *branch.parameters()]
    ours = residual_block(x, branch)
    ref = x + branch(x)
    assert ours.shape == x.shape and ours.dtype == F64
    assert_close(ours, ref)
    for a, b in zip(torch.autograd.grad(ours, params, g), torch.autograd.grad(ref, params, g)):
        assert_close(a, b)


@pytest.mark.parametrize("kind", ["tanh", "linear", "mlp"])
def test_the_block_jacobian_is_identity_plus_the_branch_jacobian(kind):
    branch = _branch(kind, 5)
    v = torch.randn(5, dtype=F64)
    ours = torch.autograd.functional.jacobian(lambda t: residual_block(t, branch), v)
    assert_close(ours, torch.eye(5, dtype=F64) + torch.autograd.functional.jacobian(branch, v))


@given(
    C=sizes,
    O=sizes,
    B=st.integers(2, 5),
    steps=st.integers(1, 3),
    lr=st.floats(1e-4, 0.1),
    residual=st.booleans(),
    batch_norm=st.booleans(),
    seed=seeds,
)
def test_fit_is_the_documented_adam_loop(C, O, B, steps, lr, residual, batch_norm, seed):
    torch.manual_seed(seed)
    net = deep_mlp(C, 3, O, 2, residual=residual, batch_norm=batch_norm).double()
    twin = deep_mlp(C, 3, O, 2, residual=residual, batch_norm=batch_norm).double()
    twin.load_state_dict(net.state_dict())
    x, y = torch.randn(B, C, generator=gen(seed), dtype=F64), torch.randn(B, O, generator=gen(seed + 1), dtype=F64)
    net.eval()  # fit switches to training mode
    losses = fit(net, x, y, steps=steps, lr=lr)
    assert net.training and len(losses) == steps and all(isinstance(v, float) for v in losses)
    opt = torch.optim.Adam(twin.parameters(), lr=lr)
    for step in range(steps):
        opt.zero_grad()
        loss = F.mse_loss(twin(x), y)
        loss.backward()
        opt.step()
        assert losses[step] == pytest.approx(loss.item(), rel=1e-10, abs=1e-12)
    for a, b in zip(net.state_dict().values(), twin.state_dict().values()):
        assert_close(a, b)


# --- claims: structure ---------------------------------------------------------------------------


@given(
    C=sizes,
    H=sizes,
    O=sizes,
    depth=st.integers(1, 4),
    activation=st.sampled_from(["relu", "tanh", "sigmoid"]),
    residual=st.booleans(),
    batch_norm=st.booleans(),
    zero_init_residual=st.booleans(),
    seed=seeds,
)
def test_deep_mlp_structure_and_identity_start(
    C, H, O, depth, activation, residual, batch_norm, zero_init_residual, seed
):
    torch.manual_seed(seed)
    net = deep_mlp(C, H, O, depth, activation, residual, batch_norm, zero_init_residual)
    assert isinstance(net, torch.nn.Sequential) and len(net) == depth + 2
    linears = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linears) == depth + 2 and all(not m.bias.any() for m in linears)  # biases start at 0
    n_params = C * H + H + depth * (H * H + H + (2 * H if batch_norm else 0)) + H * O + O
    assert sum(p.numel() for p in net.parameters()) == n_params  # residual or plain: the same parameters
    x = torch.randn(3, C, generator=gen(seed))
    assert net(x).shape == (3, O)
    if residual and zero_init_residual:  # every block starts as the identity
        assert torch.equal(net[1:-1](net[0](x)), net[0](x))
    elif residual:
        assert all(block.branch[-1].weight.any() for block in net[1:-1])


@pytest.mark.parametrize("seed", range(3))
def test_a_deeper_residual_net_with_zero_branches_is_exactly_the_shallower_one(seed):
    torch.manual_seed(seed)
    deep = deep_mlp(2, 8, 1, depth=12, residual=True, zero_init_residual=False)
    for block in deep[4:-1]:
        torch.nn.init.zeros_(block.branch[-1].weight)
    x, _ = _task(seed)
    assert torch.equal(deep(x), torch.nn.Sequential(deep[0], *deep[1:4], deep[-1])(x))


def test_identity_blocks_pass_the_gradient_unchanged_through_any_depth():
    net = deep_mlp(3, 8, 2, depth=10, residual=True).double()
    h = torch.randn(5, 8, dtype=F64, requires_grad=True)
    g = torch.randn(5, 8, dtype=F64)
    (d,) = torch.autograd.grad(net[1:-1](h), h, g)
    assert torch.equal(d, g)


# --- claims: gradients and training at a fixed budget --------------------------------------------


@pytest.mark.parametrize("seed", range(4))
def test_a_deep_plain_network_with_batch_norm_has_growing_not_vanishing_gradients_at_init(seed):
    x, y = _task(seed)
    torch.manual_seed(seed)
    plain = deep_mlp(2, 16, 1, depth=30, batch_norm=True)
    F.mse_loss(plain(x), y).backward()
    # checked while writing for 30 seeds: the ratio is 11 to 1200
    assert plain[0].weight.grad.norm() > 5 * plain[-1].weight.grad.norm()


@pytest.mark.parametrize("seed", range(2))
def test_at_a_small_fixed_budget_the_residual_network_trains_faster_than_the_plain_one(seed):
    """Same data, width, depth, batch norm, initialization seed, learning rate and 40 Adam steps: the residual
    network's training loss ends at least twice lower (checked while writing for seeds 0-9: 3.9 to 46 times). The
    plain one is slower, not stuck: its loss still falls. (With several hundred steps this toy's plain network
    catches up; that is the stated limit of the toy, not tested here: too slow.)"""
    x, y = _task(seed)
    runs = []
    for residual in (False, True):
        torch.manual_seed(seed)
        runs.append(fit(deep_mlp(2, 16, 1, depth=30, residual=residual, batch_norm=True), x, y, steps=40))
    plain, res = runs
    assert plain[-1] > 2 * res[-1]
    assert plain[-1] < plain[0] / 1.5


def test_the_published_numbers_show_degradation_its_cure_and_depth_that_hurts():
    top1, cifar = HE_2015["imagenet_top1_error"], HE_2015["cifar10_test_error"]
    assert top1["plain-34"] > top1["plain-18"] and top1["resnet-34"] < top1["resnet-18"]
    assert top1["resnet-34"] < top1["plain-34"]
    assert cifar["resnet-1202"] > cifar["resnet-110"]


# --- bad input (the shared refusals are rows of tests/training/contract.py) ----------------------


@pytest.mark.parametrize(
    "branch",
    [None, "branch", 1.0, lambda t: t.sum(), lambda t: t[..., :1].repeat(2, *([1] * (t.dim() - 1))), lambda t: 3],
)
def test_residual_block_refuses_branches_that_are_not_callable_or_change_the_shape(branch):
    rejects("branch", residual_block, torch.ones(3, 4, dtype=F64), branch)


def test_residual_block_refuses_a_zero_dimensional_input():
    rejects("input", residual_block, torch.tensor(1.0), torch.nn.Identity())


@pytest.mark.parametrize("model", [None, "net", torch.tanh, np.ones(2)])
def test_fit_needs_a_module(model):
    rejects("model", fit, model, torch.ones(4, 2), torch.ones(4, 1))


def _fit_args(**changes):
    args = dict(
        model=torch.nn.Linear(2, 1, dtype=F64), input=torch.ones(4, 2, dtype=F64), target=torch.ones(4, 1, dtype=F64)
    )
    return {**args, "steps": 2, **changes}


@pytest.mark.parametrize(
    ("name", "bad"),
    [
        ("input", torch.full((4, 2), math.nan, dtype=F64)),
        ("input", torch.ones(4, dtype=F64)),
        ("input", torch.ones(0, 2, dtype=F64)),
        ("target", torch.full((4, 1), math.inf, dtype=F64)),
        ("target", torch.ones(5, 1, dtype=F64)),  # rows that are not input's
        ("target", torch.ones(4, 1, dtype=torch.float32)),  # not input's dtype
        ("target", torch.ones(4, 3, dtype=F64)),  # mse_loss would broadcast a (4, 1) output against it
    ],
)
def test_fit_refuses_bad_data_before_any_update(name, bad):
    args = _fit_args(**{name: bad})
    before = args["model"].weight.detach().clone()
    rejects(name, fit, **args)
    assert torch.equal(args["model"].weight, before)


def test_fit_refuses_data_of_another_dtype_than_the_model():
    rejects("input", fit, **_fit_args(input=torch.ones(4, 2), target=torch.ones(4, 1)))
