"""Property tests for nnfaq.residual: random residual blocks agree with ``x + F(x)`` under autograd (float64,
value and gradients), random networks have the documented structure and start as the identity, ``fit`` is the
documented Adam loop; random invalid input raises ValueError/TypeError naming the argument."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import gen, rejects, seeds, sizes
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.testing import assert_close

from nnfaq.residual import deep_mlp, fit, residual_block

F64 = torch.float64

not_tensors = st.sampled_from([None, 1.0, [[1.0, 2.0]], "x", np.ones((2, 2))])


# --- residual_block -------------------------------------------------------------------------------


def _branch(kind, C):
    return {
        "tanh": lambda: torch.nn.Tanh(),
        "linear": lambda: torch.nn.Linear(C, C, dtype=F64),
        "mlp": lambda: torch.nn.Sequential(
            torch.nn.Linear(C, 3, dtype=F64), torch.nn.ReLU(), torch.nn.Linear(3, C, dtype=F64)
        ),
    }[kind]()


@given(
    shape=st.lists(sizes, min_size=1, max_size=4).map(tuple),
    kind=st.sampled_from(["tanh", "linear", "mlp"]),
    seed=seeds,
)
def test_residual_block_value_and_gradients_match_autograd(shape, kind, seed):
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


@given(shape=st.lists(sizes, min_size=1, max_size=4).map(tuple), seed=seeds)
def test_a_zero_branch_is_the_identity_and_passes_the_gradient_unchanged(shape, seed):
    branch = torch.nn.Linear(shape[-1], shape[-1], dtype=F64)
    torch.nn.init.zeros_(branch.weight)
    torch.nn.init.zeros_(branch.bias)
    x = torch.randn(shape, generator=gen(seed), dtype=F64, requires_grad=True)
    g = torch.randn(shape, generator=gen(seed + 1), dtype=F64)
    y = residual_block(x, branch)
    assert torch.equal(y, x)
    (d,) = torch.autograd.grad(y, x, g)
    assert torch.equal(d, g)


@given(
    input=not_tensors
    | st.sampled_from([torch.tensor(1.0), torch.ones(2, 2, dtype=torch.int64), torch.ones(2, dtype=torch.bool)])
)
def test_residual_block_rejects_bad_inputs(input):
    rejects("input", residual_block, input, torch.nn.Identity())


@given(
    shape=st.lists(sizes, min_size=1, max_size=3).map(tuple),
    branch=st.sampled_from(
        [None, "branch", 1.0, lambda t: t.sum(), lambda t: t[..., :1].repeat(2, *([1] * (t.dim() - 1))), lambda t: 3]
    ),
)
def test_residual_block_rejects_branches_that_are_not_callable_or_change_the_shape(shape, branch):
    x = torch.ones(shape, dtype=F64)
    if callable(branch) and branch(x) is not None and getattr(branch(x), "shape", None) == x.shape:
        return
    rejects("branch", residual_block, x, branch)


# --- deep_mlp -------------------------------------------------------------------------------------


@settings(max_examples=30)
@given(
    C=sizes,
    H=sizes,
    O=sizes,
    depth=st.integers(1, 4),
    activation=st.sampled_from(["relu", "tanh", "sigmoid"]),
    residual=st.booleans(),
    batch_norm=st.booleans(),
    zero_init_residual=st.booleans(),
    B=st.integers(2, 5),
    seed=seeds,
)
def test_deep_mlp_structure_and_identity_start(
    C, H, O, depth, activation, residual, batch_norm, zero_init_residual, B, seed
):
    torch.manual_seed(seed)
    net = deep_mlp(C, H, O, depth, activation, residual, batch_norm, zero_init_residual)
    assert isinstance(net, torch.nn.Sequential) and len(net) == depth + 2
    linears = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linears) == depth + 2
    assert all(p.dtype == torch.float32 for p in net.parameters())
    assert all(not m.bias.any() for m in linears)  # biases start at 0
    n_params = C * H + H + depth * (H * H + H + (2 * H if batch_norm else 0)) + H * O + O
    assert sum(p.numel() for p in net.parameters()) == n_params  # residual or plain: the same parameters
    x = torch.randn(B, C, generator=gen(seed))
    y = net(x)
    assert y.shape == (B, O)
    if residual:
        middle = net[1:-1](net[0](x))
        if zero_init_residual:  # every block starts as the identity
            assert torch.equal(middle, net[0](x))
            assert torch.equal(y, net[-1](net[0](x)))
        else:
            assert all(block.branch[-1].weight.any() for block in net[1:-1])


@given(
    which=st.sampled_from(["in_features", "hidden_features", "out_features", "depth"]),
    bad=st.sampled_from([0, -1, True, 2.0, "3", None]),
)
def test_deep_mlp_rejects_bad_sizes(which, bad):
    args = dict(in_features=2, hidden_features=3, out_features=1, depth=2)
    rejects(which, deep_mlp, **{**args, which: bad})


@given(
    which=st.sampled_from(["activation", "residual", "batch_norm", "zero_init_residual"]),
    bad=st.sampled_from([None, 1, 0, "True", "gelu", "ReLU"]),
)
def test_deep_mlp_rejects_bad_options(which, bad):
    rejects(which, deep_mlp, 2, 3, 1, 2, **{which: bad})


# --- fit ------------------------------------------------------------------------------------------


@settings(max_examples=25)
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
    g = gen(seed)
    x, y = torch.randn(B, C, generator=g, dtype=F64), torch.randn(B, O, generator=g, dtype=F64)
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


def _fit_args():
    return dict(
        model=torch.nn.Linear(2, 1, dtype=F64),
        input=torch.ones(4, 2, dtype=F64),
        target=torch.ones(4, 1, dtype=F64),
        steps=2,
        lr=0.01,
    )


@given(
    which=st.sampled_from(["model", "input", "target", "steps", "lr"]),
    bad=not_tensors | st.sampled_from([True, 0, -1, math.nan, math.inf, 1.5, torch.ones(4, dtype=F64)]),
)
def test_fit_rejects_bad_arguments(which, bad):
    if which == "lr" and type(bad) is float and 0 < bad < math.inf:
        return  # valid
    args = _fit_args()
    before = args["model"].weight.detach().clone()
    rejects(which, fit, **{**args, which: bad})
    assert torch.equal(args["model"].weight, before)  # refused before any update


@given(
    which=st.sampled_from(["input", "target"]),
    bad=st.sampled_from(["nan", "inf", "rows", "int", "empty", "float32"]),
)
def test_fit_rejects_bad_data(which, bad):
    args = _fit_args()
    t = args[which]
    t = {
        "nan": t.clone().fill_(math.nan),
        "inf": t.clone().fill_(math.inf),
        "rows": torch.ones(5, t.shape[1], dtype=F64),
        "int": t.long(),
        "empty": t[:0],
        "float32": t.float(),
    }[bad]
    if bad in ("rows", "float32"):
        which = "target"  # target is checked against input's rows and dtype, before the model's dtype
    rejects(which, fit, **{**args, which: t})


@given(O=st.integers(2, 5), dtype=st.sampled_from([torch.float32, torch.bfloat16]))
def test_fit_rejects_targets_that_the_output_would_broadcast_against_and_other_dtypes(O, dtype):
    args = _fit_args()
    before = args["model"].weight.detach().clone()
    # a (B, 1) output against a (B, O) target: mse_loss would broadcast, a silently wrong loss
    rejects("target", fit, **{**args, "target": torch.ones(4, O, dtype=F64)})
    assert torch.equal(args["model"].weight, before)
    rejects("input", fit, **{**args, "input": args["input"].to(dtype), "target": args["target"].to(dtype)})
