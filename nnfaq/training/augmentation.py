"""Data augmentation

What augmentation does to the data a model is trained on: it replaces each example by the set of
its transformed copies, so a model fitted to the augmented data becomes invariant to the
transformations, and input noise acts as a penalty on the weights (ridge, for a linear model).
Both are shown offline on small exact problems.
"""

from __future__ import annotations

import torch

from nnfaq import _validate as check
from nnfaq._registry import question

__all__ = ["augment"]


@question(
    "data-augmentation",
    level="intermediate",
    short=(
        "Augmentation trains on transformed copies of each example with the same label, so the model fits the "
        "data mixed over the transformations and is pushed towards invariance to them, exactly for least squares "
        "with flips. Input noise acts as a weight penalty: for linear least squares, Gaussian noise of variance "
        "s^2 is ridge with lambda = N s^2."
    ),
    followups=("prevent-overfitting", "weight-decay-vs-l2", "why-convolutions"),
)
def augment(input: torch.Tensor, target: torch.Tensor, transforms) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The augmented dataset: every transform applied to every example, each copy keeping its target.

    **What does data augmentation do to the training data, and to the model trained on it?**

    Augmentation replaces each training example :math:`(x, y)` by copies :math:`(t(x), y)` for
    transformations :math:`t` the label should not depend on (flips, crops, colour jitter, noise),
    so the model is fitted to a different distribution: the data averaged over the
    transformations. Two consequences can be proven on small problems. A model fitted to the
    augmented set is pushed towards invariance: if the set of transformations is a group (a flip
    and the identity), least squares gives weights that are themselves invariant, so
    predictions of :math:`x` and :math:`t(x)` are identical. And random input noise acts as
    regularization: for linear least squares, adding Gaussian noise of variance :math:`\sigma^2`
    to the inputs is, in expectation, ridge regression with :math:`\lambda = N\sigma^2` (Bishop
    1995). A transformation that changes the label (flipping a "b" into a "d") teaches the wrong
    invariance.

    .. math::

        \mathbb{E}_{\epsilon}\,\lVert y - (X + \epsilon) w \rVert^2 = \lVert y - Xw\rVert^2 + N\sigma^2\lVert w\rVert^2,
        \qquad \epsilon_{ij} \sim \mathcal N(0, \sigma^2)

    Parameters
    ----------
    input : torch.Tensor
        ``(N, *)`` examples.
    target : torch.Tensor
        ``(N, *)`` their targets.
    transforms : sequence of callable
        Each maps the whole ``(N, *)`` batch to a batch of the same shape; include the identity
        (``lambda x: x``) to keep the originals.

    Returns
    -------
    input, target : torch.Tensor
        ``(len(transforms) * N, *)``: the copies, transform by transform.

    See Also
    --------
    torch.flip, torch.roll

    References
    ----------
    .. [1] C. M. Bishop, "Training with Noise is Equivalent to Tikhonov Regularization", Neural
       Computation 7, 1995.
    .. [2] P. Simard, D. Steinkraus and J. Platt, "Best Practices for Convolutional Neural Networks
       Applied to Visual Document Analysis", ICDAR 2003.

    Examples
    --------
    Images of 1 x 6 pixels, fitted by least squares with and without horizontal flips:

    >>> _ = torch.manual_seed(0)
    >>> x, y = torch.randn(20, 6, dtype=torch.float64), torch.randn(20, 1, dtype=torch.float64)
    >>> flip = lambda t: t.flip(-1)
    >>> xa, ya = augment(x, y, [lambda t: t, flip])
    >>> xa.shape, torch.equal(ya[:20], ya[20:])
    (torch.Size([40, 6]), True)

    The weights fitted to the augmented data are mirror-symmetric, so every image and its mirror
    get the same prediction; fitted to the originals they are not:

    >>> w_aug = torch.linalg.lstsq(xa, ya).solution
    >>> w = torch.linalg.lstsq(x, y).solution
    >>> torch.allclose(w_aug, w_aug.flip(0))
    True
    >>> torch.allclose(flip(x) @ w_aug, x @ w_aug)
    True
    >>> torch.allclose(flip(x) @ w, x @ w)
    False

    Noise augmentation is ridge regression: least squares on many noisy copies approaches the
    ridge solution with :math:`\lambda = N\sigma^2` (the expected loss above is exact; the copies
    are a Monte Carlo estimate of it):

    >>> sigma, copies = 0.5, 2000
    >>> noisy = [lambda t: t + sigma * torch.randn_like(t) for _ in range(copies)]
    >>> xn, yn = augment(x, y, noisy)
    >>> w_noise = torch.linalg.lstsq(xn, yn).solution
    >>> w_ridge = torch.linalg.solve(x.T @ x + 20 * sigma**2 * torch.eye(6, dtype=torch.float64), x.T @ y)
    >>> bool((w_noise - w_ridge).norm() < 0.05 * w_ridge.norm()), bool((w_noise - w).norm() > 0.1 * w.norm())
    (True, True)
    """
    check.tensor("input", input, min_ndim=1, floating=False)
    check.tensor("target", target, min_ndim=1, floating=False)
    if target.shape[0] != input.shape[0]:
        raise ValueError(f"target must have the {input.shape[0]} examples of input, got shape {tuple(target.shape)}")
    transforms = list(transforms) if isinstance(transforms, list | tuple) else None
    if not transforms or not all(callable(t) for t in transforms):
        raise TypeError("transforms must be a non-empty list or tuple of callables")
    copies = []
    for t in transforms:
        # (t(x), y): the label does not change
        out = t(input)
        if not isinstance(out, torch.Tensor) or out.shape != input.shape:
            raise ValueError(f"transforms must keep the batch's shape {tuple(input.shape)}")
        copies.append(out)
    return torch.cat(copies), target.repeat(len(transforms), *[1] * (target.dim() - 1))
