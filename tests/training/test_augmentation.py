"""nnfaq.training.augmentation: the augmented set's layout, invariance from flips, noise as ridge, refusals."""

import pytest
import torch
from helpers import gen, rejects
from torch.testing import assert_close

from nnfaq.training.augmentation import augment

F64 = torch.float64


def test_layout_and_targets():
    x, y = torch.arange(6.0).reshape(3, 2), torch.tensor([0, 1, 2])
    xa, ya = augment(x, y, [lambda t: t, lambda t: -t])
    assert_close(xa, torch.cat([x, -x]))
    assert ya.tolist() == [0, 1, 2, 0, 1, 2]
    xb, yb = augment(x, y[:, None].float(), (lambda t: t + 1,))
    assert xb.shape == (3, 2) and yb.shape == (3, 1)


@pytest.mark.parametrize("seed", range(5))
def test_flip_augmentation_gives_mirror_symmetric_least_squares(seed):
    x = torch.randn(30, 8, generator=gen(seed), dtype=F64)
    y = torch.randn(30, 2, generator=gen(seed + 1), dtype=F64)
    xa, ya = augment(x, y, [lambda t: t, lambda t: t.flip(-1)])
    w = torch.linalg.lstsq(xa, ya).solution
    assert_close(w, w.flip(0))
    z = torch.randn(5, 8, generator=gen(seed + 2), dtype=F64)
    assert_close(z.flip(-1) @ w, z @ w)


@pytest.mark.parametrize("seed", range(3))
def test_the_expected_noisy_loss_is_the_ridge_loss(seed):
    # E ||y - (X + E) w||^2 = ||y - X w||^2 + N sigma^2 ||w||^2, estimated by many noisy copies
    g = gen(seed)
    x, y, w = (
        torch.randn(10, 3, generator=g, dtype=F64),
        torch.randn(10, 1, generator=g, dtype=F64),
        torch.randn(3, 1, generator=g, dtype=F64),
    )
    sigma = 0.7
    xn, yn = augment(x, y, [lambda t: t + sigma * torch.randn(t.shape, generator=g, dtype=F64) for _ in range(4000)])
    mc = ((yn - xn @ w) ** 2).sum().item() / 4000
    exact = ((y - x @ w) ** 2).sum().item() + 10 * sigma**2 * (w**2).sum().item()
    assert abs(mc - exact) < 0.03 * exact


@pytest.mark.parametrize(
    ("fn", "name"),
    [
        (lambda: augment(torch.zeros(3, 2), torch.zeros(2), [lambda t: t]), "target"),
        (lambda: augment(torch.zeros(3, 2), torch.zeros(3), []), "transforms"),
        (lambda: augment(torch.zeros(3, 2), torch.zeros(3), lambda t: t), "transforms"),
        (lambda: augment(torch.zeros(3, 2), torch.zeros(3), [lambda t: t[:2]]), "transforms"),
        (lambda: augment([1.0], torch.zeros(1), [lambda t: t]), "input"),
    ],
)
def test_rejects_bad_arguments(fn, name):
    rejects(name, fn)
