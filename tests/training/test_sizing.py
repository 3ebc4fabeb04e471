"""nnfaq.training.sizing: parity with PyTorch (the MLP against a hand-written chain, ``fit`` against torch.optim.Adam,
float64), the claims its answers make (for other seeds too), and the refusals specific to it (the shared ones are
rows of tests/training/contract.py)."""

import copy
import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from helpers import gen, rejects
from hypothesis import given
from hypothesis import strategies as st
from torch import nn
from torch.testing import assert_close

from nnfaq.training.sizing import fit, mlp

F64 = torch.float64
widths = st.lists(st.integers(1, 5), max_size=3)


# --- parity with PyTorch -------------------------------------------------------------------------


@given(
    example=st.lists(st.integers(1, 3), min_size=1, max_size=3),
    hidden=widths,
    container=st.sampled_from([list, tuple, iter]),
    out=st.integers(1, 5),
    dtype=st.sampled_from([None, torch.float32, F64]),
    B=st.integers(1, 4),
)
def test_mlp_is_the_hand_written_chain_forward_and_gradient(example, hidden, container, out, dtype, B):
    in_features = math.prod(example)
    net = mlp(in_features, container(hidden), out, dtype=dtype)
    sizes = [in_features, *hidden, out]
    linears = [m for m in net if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == list(itertools.pairwise(sizes))
    assert sum(p.numel() for p in net.parameters()) == sum((a + 1) * b for a, b in itertools.pairwise(sizes))
    assert all(p.dtype == (dtype or torch.get_default_dtype()) for p in net.parameters())
    net = net.double()
    x = torch.randn(B, *example, dtype=F64)
    ours = net(x)
    ref = x.flatten(1)
    for i, lin in enumerate(linears):
        ref = F.linear(ref, lin.weight, lin.bias)
        ref = F.relu(ref) if i < len(hidden) else ref
    assert ours.shape == (B, out)
    assert_close(ours, ref)
    g = torch.randn(B, out, dtype=F64)
    params = list(net.parameters())
    assert_close(torch.autograd.grad(ours, params, g), torch.autograd.grad(ref, params, g))


@st.composite
def problems(draw):
    """A small random classifier (an MLP, maybe with batch norm and a frozen layer), data and options."""
    C, K, B = draw(st.integers(1, 4)), draw(st.integers(2, 4)), draw(st.integers(2, 6))
    hidden = draw(st.lists(st.integers(1, 4), max_size=2))
    net = mlp(C, hidden, K, dtype=F64)
    if hidden and draw(st.booleans()):
        net.insert(2, nn.BatchNorm1d(hidden[0], dtype=F64))
    linears = [m for m in net if isinstance(m, nn.Linear)]
    if len(linears) > 1 and draw(st.booleans()):
        linears[0].requires_grad_(False)
    x = torch.randn(B, C, dtype=F64)
    y = torch.randint(0, K, (B,)).to(draw(st.sampled_from([torch.int64, torch.int32, torch.uint8])))
    val = (torch.randn(3, C, dtype=F64), torch.randint(0, K, (3,))) if draw(st.booleans()) else (None, None)
    return net, x, y, val


@given(problem=problems(), steps=st.integers(1, 3), lr=st.floats(1e-3, 0.5), weight_decay=st.floats(0.0, 1.0))
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
    assert not ours.training  # left in evaluation mode
    ref.eval()
    with torch.no_grad():
        assert result.train_accuracy == (ref(x).argmax(1) == y).double().mean().item()
        if x_val is None:
            assert math.isnan(result.val_accuracy)
        else:
            assert result.val_accuracy == (ref(x_val).argmax(1) == y_val).double().mean().item()


# --- claims --------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2])
def test_a_wide_network_memorizes_random_labels_a_narrow_one_cannot(seed):
    """The docstring's claim, for other seeds (checked while writing for seeds 0-14)."""
    g = gen(seed)
    x, x_val = torch.randn(100, 20, generator=g, dtype=F64), torch.randn(200, 20, generator=g, dtype=F64)
    y, y_val = torch.randint(0, 10, (100,), generator=g), torch.randint(0, 10, (200,), generator=g)
    torch.manual_seed(seed)
    wide = fit(mlp(20, [256], 10, dtype=F64), x, y, x_val, y_val, steps=100)
    assert wide.train_accuracy == 1.0
    assert wide.val_accuracy < 0.25  # chance is 0.1
    assert fit(mlp(20, [2], 10, dtype=F64), x, y, steps=100).train_accuracy < 0.5


@pytest.mark.parametrize("seed", range(3))
def test_a_circular_conv_is_translation_equivariant_a_dense_layer_is_not(seed):
    torch.manual_seed(seed)
    conv = nn.Conv2d(1, 8, 3, padding=1, padding_mode="circular", dtype=F64)
    dense = nn.Linear(64, 8 * 64, dtype=F64)
    image = torch.randn(2, 1, 8, 8, generator=gen(seed), dtype=F64)
    as_image = lambda t: dense(t.flatten(1)).view(2, 8, 8, 8)  # noqa: E731
    for shift, dim in ((1, -1), (3, -2)):
        rolled = torch.roll(image, shifts=shift, dims=dim)
        assert_close(conv(rolled), torch.roll(conv(image), shifts=shift, dims=dim))
        assert not torch.allclose(as_image(rolled), torch.roll(as_image(image), shifts=shift, dims=dim), atol=1e-6)
    assert sum(p.numel() for p in conv.parameters()) * 100 < sum(p.numel() for p in dense.parameters())


# --- bad input (the shared refusals are rows of tests/training/contract.py) ----------------------


@pytest.mark.parametrize("hidden", [None, 4, 2.5, [4, 0], [2.5], ["3"], [True]])
def test_mlp_refuses_hidden_widths_that_are_not_positive_ints(hidden):
    rejects("hidden" if hidden != [4, 0] else "hidden[i]", mlp, 3, hidden, 2)


@pytest.mark.parametrize("dtype", [torch.int64, torch.bool, torch.complex64, float, "float32"])
def test_mlp_refuses_a_dtype_that_is_not_floating_point(dtype):
    rejects("dtype", mlp, 3, [2], 2, dtype=dtype)


def _fit_call(**changes):
    net = mlp(4, [3], 3)
    call = {"model": net, "x_train": torch.randn(6, 4), "y_train": torch.tensor([0, 1, 2, 0, 1, 2]), "steps": 2}
    return net, {**call, **changes}


@pytest.mark.parametrize(
    ("name", "bad"),
    [
        ("model", "net"),
        ("model", torch.relu),
        ("x_train", torch.randn(6)),  # no feature dimension
        ("x_train", torch.randn(0, 4)),
        ("x_train", torch.full((6, 4), math.nan)),
        ("x_train", torch.randn(6, 5)),  # features the model lacks
        ("x_train", torch.randn(6, 4, dtype=F64)),  # the model is float32
        ("y_train", torch.zeros(6)),  # float labels
        ("y_train", torch.zeros(6, dtype=torch.bool)),
        ("y_train", torch.zeros(6, 1, dtype=torch.int64)),
        ("y_train", torch.zeros(5, dtype=torch.int64)),  # not one per example
        ("y_train", torch.tensor([0, 1, 3, 0, 1, 2])),  # class 3 of a 3-class model
        ("y_train", torch.tensor([0, 1, -1, 0, 1, 2])),
        ("x_val", torch.randn(6, 4)),  # without y_val
    ],
)
def test_fit_refuses_bad_data_before_training(name, bad):
    net, call = _fit_call(**{name: bad})
    before = [p.detach().clone() for p in net.parameters()]
    rejects(name, fit, **call)
    assert all(torch.equal(p, b) for p, b in zip(net.parameters(), before))  # nothing was trained


def test_fit_refuses_a_model_with_nothing_to_train_or_no_logits():
    net, call = _fit_call()
    net.requires_grad_(False)
    rejects("model", fit, **call)
    _, call = _fit_call()
    rejects("model", fit, **{**call, "model": nn.Sequential(mlp(4, [3], 3), nn.Flatten(0))})  # (B K,): not (B, K)
