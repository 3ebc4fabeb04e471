"""Property-based tests for nnfaq.sizing: random widths and depths build the MLP a hand-written chain of
``F.linear``/``F.relu`` computes, and ``fit`` is full-batch Adam on cross-entropy for random small networks, data
and options; random invalid input raises ValueError/TypeError naming the argument, without training (issue 10)."""

import copy
import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from helpers import int_dtypes, not_a_number, not_a_tensor, not_an_int, rejects
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.testing import assert_close

from nnfaq.sizing import fit, mlp

D64 = torch.float64
label_dtypes = st.sampled_from([torch.int64, torch.int32, torch.uint8])
widths = st.lists(st.integers(1, 5), max_size=3)


# --- mlp -------------------------------------------------------------------------------------------


@settings(max_examples=40)
@given(
    example=st.lists(st.integers(1, 3), min_size=1, max_size=3),
    hidden=widths,
    container=st.sampled_from([list, tuple, iter]),
    out=st.integers(1, 5),
    dtype=st.sampled_from([None, torch.float32, torch.float64]),
    B=st.integers(1, 4),
)
def test_mlp_is_the_hand_written_chain_forward_and_gradient(example, hidden, container, out, dtype, B):
    in_features = math.prod(example)
    net = mlp(in_features, container(hidden), out, dtype=dtype)
    sizes = [in_features, *hidden, out]
    linears = [m for m in net if isinstance(m, nn.Linear)]
    assert len(linears) == len(hidden) + 1
    assert [(m.in_features, m.out_features) for m in linears] == list(itertools.pairwise(sizes))
    assert sum(p.numel() for p in net.parameters()) == sum((a + 1) * b for a, b in itertools.pairwise(sizes))
    assert all(p.dtype == (dtype or torch.get_default_dtype()) for p in net.parameters())
    net = net.double()
    x = torch.randn(B, *example, dtype=D64)
    ours = net(x)
    h = x.flatten(1)
    for i, lin in enumerate(linears):
        h = F.linear(h, lin.weight, lin.bias)
        h = F.relu(h) if i < len(hidden) else h
    assert ours.shape == (B, out)
    assert_close(ours, h)
    g = torch.randn(B, out, dtype=D64)
    params = list(net.parameters())
    assert_close(torch.autograd.grad(ours, params, g), torch.autograd.grad(h, params, g))


@given(
    case=st.one_of(
        st.tuples(st.just("in_features"), st.one_of(not_an_int, st.integers(max_value=0))),
        st.tuples(st.just("out_features"), st.one_of(not_an_int, st.integers(max_value=0))),
        st.tuples(st.just("hidden"), st.one_of(st.none(), st.integers(), st.floats())),
        st.tuples(st.just("hidden"), st.lists(st.one_of(not_an_int, st.integers(max_value=0)), min_size=1)),
        st.tuples(st.just("hidden"), widths.flatmap(lambda w: st.tuples(st.just(w), st.integers(-3, 0)))),
        st.tuples(
            st.just("dtype"),
            st.one_of(
                st.text(max_size=3),
                st.integers(),
                st.sampled_from([torch.int64, torch.bool, torch.complex64, float, "float32"]),
            ),
        ),
    )
)
def test_mlp_rejects_bad_arguments(case):
    name, bad = case
    if name == "hidden" and isinstance(bad, tuple):  # valid widths with one bad width inserted
        bad = [*bad[0], bad[1], *bad[0]]
    kwargs = {"in_features": 3, "hidden": [2], "out_features": 2, "dtype": None, name: bad}
    rejects(name, mlp, **kwargs)


# --- fit -------------------------------------------------------------------------------------------


@st.composite
def problems(draw):
    """A small random classifier (an MLP, maybe with batch norm and a frozen layer), data and options."""
    C, K, B = draw(st.integers(1, 4)), draw(st.integers(2, 4)), draw(st.integers(2, 6))
    hidden = draw(st.lists(st.integers(1, 4), max_size=2))
    net = mlp(C, hidden, K, dtype=D64)
    if hidden and draw(st.booleans()):
        net.insert(2, nn.BatchNorm1d(hidden[0], dtype=D64))
    linears = [m for m in net if isinstance(m, nn.Linear)]
    if len(linears) > 1 and draw(st.booleans()):
        linears[0].requires_grad_(False)
    x = torch.randn(B, C, dtype=D64)
    y = torch.randint(0, K, (B,)).to(draw(label_dtypes))
    val = (torch.randn(3, C, dtype=D64), torch.randint(0, K, (3,))) if draw(st.booleans()) else (None, None)
    return net, x, y, val


@settings(max_examples=30)
@given(
    problem=problems(),
    steps=st.integers(1, 3),
    lr=st.floats(1e-3, 0.5),
    weight_decay=st.one_of(st.just(0.0), st.floats(0.0, 1.0)),
)
def test_fit_is_full_batch_adam_on_cross_entropy(problem, steps, lr, weight_decay):
    ours, x, y, (x_val, y_val) = problem
    ref = copy.deepcopy(ours)
    frozen = [p.detach().clone() for p in ours.parameters() if not p.requires_grad]
    result = fit(ours, x, y, x_val, y_val, steps=steps, lr=lr, weight_decay=weight_decay)
    opt = torch.optim.Adam([p for p in ref.parameters() if p.requires_grad], lr=lr, weight_decay=weight_decay)
    ref.train()
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(ref(x), y.long())
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert result.losses == pytest.approx(losses, rel=1e-12, abs=1e-12)
    assert_close(list(ours.parameters()), list(ref.parameters()))
    assert_close(list(ours.buffers()), list(ref.buffers()))  # batch-norm statistics: the checks did not run it
    assert all(torch.equal(p, f) for p, f in zip((p for p in ours.parameters() if not p.requires_grad), frozen))
    assert not ours.training
    ref.eval()
    with torch.no_grad():
        assert result.train_accuracy == (ref(x).argmax(1) == y).double().mean().item()
        if x_val is None:
            assert math.isnan(result.val_accuracy)
        else:
            assert result.val_accuracy == (ref(x_val).argmax(1) == y_val).double().mean().item()
    assert 0 <= result.train_accuracy <= 1


def _fit_cases():
    tensors_not_matrices = st.lists(st.integers(1, 3), max_size=1).map(lambda s: torch.randn(s))
    non_finite = st.sampled_from([math.nan, math.inf, -math.inf]).map(
        lambda v: torch.randn(6, 4).index_fill_(1, torch.tensor([2]), v)
    )
    bad_x = st.one_of(
        not_a_tensor,
        tensors_not_matrices,
        int_dtypes.map(lambda d: torch.ones(6, 4, dtype=d)),
        non_finite,
        st.just(torch.randn(0, 4)),
        st.integers(1, 6).filter(lambda n: n != 4).map(lambda n: torch.randn(6, n)),  # features the model lacks
        st.just(torch.randn(6, 4, dtype=D64)),  # the model is float32
    )
    bad_y = st.one_of(
        not_a_tensor,
        st.sampled_from([torch.float32, torch.bool, torch.complex64]).map(lambda d: torch.zeros(6, dtype=d)),
        st.just(torch.zeros(6, 1, dtype=torch.int64)),
        st.integers(0, 9).filter(lambda n: n != 6).map(lambda n: torch.zeros(n, dtype=torch.int64)),
        st.one_of(st.integers(3, 9), st.integers(-5, -1)).map(lambda v: torch.tensor([0, 1, v, 0, 1, 2])),
    )
    return st.one_of(
        st.tuples(st.just("model"), st.one_of(not_a_tensor, st.just(torch.relu), st.just("frozen"), st.just("1-D"))),
        st.tuples(st.just("x_train"), bad_x),
        st.tuples(st.just("y_train"), bad_y),
        st.tuples(st.just("x_val"), bad_x.filter(lambda v: v is not None)),
        st.tuples(st.just("y_val"), bad_y.filter(lambda v: v is not None)),
        st.tuples(st.just("x_val"), st.just("alone")),
        st.tuples(st.just("steps"), st.one_of(not_an_int, st.integers(max_value=0))),
        st.tuples(
            st.just("lr"), st.one_of(not_a_number, st.floats(max_value=0.0), st.sampled_from([math.nan, math.inf]))
        ),
        st.tuples(
            st.just("weight_decay"),
            st.one_of(not_a_number, st.floats(max_value=0.0, exclude_max=True), st.sampled_from([math.nan, math.inf])),
        ),
    )


@given(case=_fit_cases())
def test_fit_rejects_bad_arguments_before_training(case):
    name, bad = case
    net = mlp(4, [3], 3)
    kwargs = {"model": net, "x_train": torch.randn(6, 4), "y_train": torch.tensor([0, 1, 2, 0, 1, 2]), "steps": 2}
    if name in ("x_val", "y_val"):
        kwargs |= {"x_val": torch.randn(6, 4), "y_val": torch.tensor([2, 1, 0, 0, 1, 2])}
    if bad == "frozen":
        net.requires_grad_(False)
    elif bad == "1-D":
        kwargs["model"] = nn.Sequential(net, nn.Flatten(0))  # (B, K) -> (B K,): not logits per example
    elif bad == "alone":
        del kwargs["y_val"]
    else:
        kwargs[name] = bad
    before = [p.detach().clone() for p in net.parameters()]
    rejects(name, fit, **kwargs)
    assert all(torch.equal(p, b) for p, b in zip(net.parameters(), before))  # nothing was trained
