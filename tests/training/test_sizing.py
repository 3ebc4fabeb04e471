"""nnfaq.sizing against PyTorch (layers, loss, optimizer) and the claims its answers make."""

import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from nnfaq.sizing import fit, mlp


@pytest.mark.parametrize("hidden", [(), (7,), (5, 4), (3, 3, 3)])
def test_mlp_matches_a_hand_built_sequential_and_counts_parameters(hidden):
    ours = mlp(12, hidden, 4, dtype=torch.float64)
    sizes = [12, *hidden, 4]
    assert sum(p.numel() for p in ours.parameters()) == sum((a + 1) * b for a, b in itertools.pairwise(sizes))
    linears = [m for m in ours if isinstance(m, torch.nn.Linear)]
    assert len(linears) == len(hidden) + 1
    x = torch.randn(6, 3, 4, dtype=torch.float64)
    h = x.flatten(1)
    for i, lin in enumerate(linears):
        h = F.linear(h, lin.weight, lin.bias)
        if i < len(hidden):
            h = F.relu(h)
    assert_close(ours(x), h)


def test_conv_is_translation_equivariant_and_smaller_than_a_dense_layer():
    conv = torch.nn.Conv2d(1, 8, 3, padding=1, padding_mode="circular", dtype=torch.float64)
    image = torch.randn(2, 1, 8, 8, dtype=torch.float64)
    for shift in (1, 3):
        rolled = torch.roll(image, shifts=shift, dims=-2)
        assert_close(conv(rolled), torch.roll(conv(image), shifts=shift, dims=-2))
    assert sum(p.numel() for p in conv.parameters()) * 100 < 64 * 8 * 64


def test_fit_is_full_batch_adam_on_cross_entropy():
    torch.manual_seed(0)
    x, y = torch.randn(30, 5, dtype=torch.float64), torch.randint(0, 3, (30,))
    ours = mlp(5, [8], 3, dtype=torch.float64)
    ref = mlp(5, [8], 3, dtype=torch.float64)
    ref.load_state_dict(ours.state_dict())
    result = fit(ours, x, y, steps=5, lr=0.05, weight_decay=0.01)
    opt = torch.optim.Adam(ref.parameters(), lr=0.05, weight_decay=0.01)
    ref_losses = []
    for _ in range(5):
        opt.zero_grad()
        loss = F.cross_entropy(ref(x), y)
        loss.backward()
        opt.step()
        ref_losses.append(loss.item())
    assert result.losses == pytest.approx(ref_losses)
    for a, b in zip(ours.parameters(), ref.parameters()):
        assert_close(a, b)
    assert result.train_accuracy == (ref(x).argmax(1) == y).double().mean().item()
    assert math.isnan(result.val_accuracy)


def test_fit_trains_only_trainable_parameters_and_leaves_eval_mode():
    net = mlp(4, [6], 2)
    net[1].requires_grad_(False)
    frozen = net[1].weight.detach().clone()
    fit(net, torch.randn(10, 4), torch.randint(0, 2, (10,)), steps=3)
    assert torch.equal(net[1].weight, frozen)
    assert not net.training


def test_a_wide_network_memorizes_random_labels_and_a_narrow_one_cannot():
    torch.manual_seed(1)
    x, x_val = torch.randn(100, 20, dtype=torch.float64), torch.randn(200, 20, dtype=torch.float64)
    y, y_val = torch.randint(0, 10, (100,)), torch.randint(0, 10, (200,))
    wide = fit(mlp(20, [256], 10, dtype=torch.float64), x, y, x_val, y_val, steps=150)
    assert wide.train_accuracy == 1.0
    assert wide.val_accuracy < 0.25  # chance is 0.1
    narrow = fit(mlp(20, [2], 10, dtype=torch.float64), x, y, steps=150)
    assert narrow.train_accuracy < 0.5


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"in_features": 0}, ValueError, "in_features must be >= 1"),
        ({"out_features": 0}, ValueError, "out_features must be >= 1"),
        ({"hidden": [4, 0]}, ValueError, r"hidden\[i\] must be >= 1"),
        ({"hidden": 4}, TypeError, "hidden must be a sequence of positive ints"),
        ({"hidden": [2.5]}, TypeError, "hidden must be a sequence of positive ints"),
        ({"dtype": torch.int32}, TypeError, "dtype must be a floating-point torch.dtype"),
    ],
)
def test_mlp_rejects_bad_arguments(kwargs, error, match):
    args = {"in_features": 4, "hidden": (), "out_features": 2, **kwargs}
    with pytest.raises(error, match=match):
        mlp(**args)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"model": "net"}, TypeError, "model must be a torch.nn.Module"),
        ({"x_train": torch.randn(6)}, ValueError, "x_train must have at least 2 dimensions"),
        ({"y_train": torch.zeros(6)}, TypeError, "y_train must hold integer class labels"),
        ({"y_train": torch.zeros(5, dtype=torch.int64)}, ValueError, r"y_train must have one label per example \(6\)"),
        ({"x_val": torch.randn(3, 4)}, ValueError, "x_val and y_val must be given together"),
        ({"steps": 0}, ValueError, "steps must be >= 1"),
        ({"lr": 0.0}, ValueError, "lr must be in"),
        ({"weight_decay": -1.0}, ValueError, "weight_decay must be in"),
    ],
)
def test_fit_rejects_bad_arguments(kwargs, error, match):
    args = {"model": mlp(4, (), 2), "x_train": torch.randn(6, 4), "y_train": torch.zeros(6, dtype=torch.int64)}
    args.update(kwargs)
    with pytest.raises(error, match=match):
        fit(**args)


def test_fit_rejects_a_fully_frozen_model():
    net = mlp(4, (), 2).requires_grad_(False)
    with pytest.raises(ValueError, match="model must have at least one trainable parameter"):
        fit(net, torch.randn(6, 4), torch.zeros(6, dtype=torch.int64))
