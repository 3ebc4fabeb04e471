"""Architecture and network size

How to choose a network's family, depth and width: let the structure of the data pick the family, start
from a small baseline, and let validation accuracy (not training accuracy) decide how big to grow, because a
large enough network fits anything, even random labels.
"""

from __future__ import annotations

import itertools
import math
from typing import NamedTuple

import torch

from nnfaq import _validate as check
from nnfaq._registry import question

__all__ = ["fit", "mlp"]


class FitResult(NamedTuple):
    """Accuracies after training (``val_accuracy`` is nan without validation data) and the loss per step."""

    train_accuracy: float
    val_accuracy: float
    losses: list[float]


@question(
    "choosing-an-architecture",
    level="basic",
    short=(
        "From the structure of the data, then a baseline, then validation. Convolutions for images, where "
        "nearby pixels matter and a pattern means the same anywhere; attention or recurrence for sequences; "
        "an MLP or gradient-boosted trees for tabular features. Start from a published or small architecture, "
        "beat a trivial baseline, then change one thing at a time."
    ),
    followups=("number-of-layers-and-neurons", "why-convolutions", "prevent-overfitting"),
)
def mlp(in_features: int, hidden=(), out_features: int = 10, dtype: torch.dtype | None = None) -> torch.nn.Sequential:
    r"""A multilayer perceptron: ``Flatten``, then ``Linear + ReLU`` for each width in ``hidden``, then ``Linear``.

    **When building a neural network model, how do you decide what should be the architecture of your
    model?**

    From the structure of the data, then a baseline, then validation. The family encodes what you know:
    convolutions for images (nearby pixels matter, a pattern means the same anywhere), recurrence or
    attention for sequences, an MLP (or gradient-boosted trees) for tabular features. Start from a published
    architecture for that kind of data, or a small one you can train in minutes, beat a trivial baseline,
    then change one thing at a time and keep what improves the validation score.

    .. math::

        h_0 = x, \qquad h_l = \mathrm{ReLU}(W_l h_{l-1} + b_l), \qquad y = W_{L+1} h_L + b_{L+1}, \qquad
        \#\text{params} = \sum_l (n_{l-1} + 1)\, n_l

    Parameters
    ----------
    in_features : int
        Number of input features (the input is flattened from dimension 1 on).
    hidden : sequence of int, default ()
        Width of each hidden layer; its length is the depth. Empty for a linear model.
    out_features : int, default 10
        Number of outputs (classes).
    dtype : torch.dtype, optional
        Parameter dtype; the default dtype if None.

    Returns
    -------
    torch.nn.Sequential
        ``(B, *) -> (B, out_features)``.

    See Also
    --------
    torch.nn.Linear, torch.nn.Conv2d

    Examples
    --------
    The parameter count is :math:`\sum_l (n_{l-1} + 1)\,n_l`:

    >>> net = mlp(64, [32, 16], 10)
    >>> sum(p.numel() for p in net.parameters()), (64 + 1) * 32 + (32 + 1) * 16 + (16 + 1) * 10
    (2778, 2778)
    >>> net(torch.randn(5, 1, 8, 8)).shape
    torch.Size([5, 10])

    What the architecture assumes matters. A convolution shares its weights across positions, so it needs
    100 times fewer parameters than a dense layer with the same outputs, and shifting the image shifts its
    output (translation equivariance, here with circular padding), which a dense layer does not do:

    >>> conv = nn.Conv2d(1, 8, 3, padding=1, padding_mode="circular")
    >>> dense = nn.Linear(64, 8 * 64)
    >>> sum(p.numel() for p in conv.parameters()), sum(p.numel() for p in dense.parameters())
    (80, 33280)
    >>> image = torch.randn(1, 1, 8, 8)
    >>> shift = lambda t: torch.roll(t, shifts=2, dims=-1)
    >>> torch.allclose(conv(shift(image)), shift(conv(image)), atol=1e-6)
    True
    >>> as_image = lambda t: dense(t.flatten(1)).view(1, 8, 8, 8)
    >>> torch.allclose(as_image(shift(image)), shift(as_image(image)), atol=1e-6)
    False
    """
    in_features = check.integer("in_features", in_features, low=1)
    out_features = check.integer("out_features", out_features, low=1)
    try:
        widths = [check.integer("hidden[i]", h, low=1) for h in hidden]
    except TypeError as error:
        raise TypeError(f"hidden must be a sequence of positive ints, got {hidden!r}") from error
    if dtype is not None and (not isinstance(dtype, torch.dtype) or not dtype.is_floating_point):
        raise TypeError(f"dtype must be a floating-point torch.dtype or None, got {dtype!r}")
    layers: list[torch.nn.Module] = [torch.nn.Flatten()]
    sizes = [in_features, *widths]
    for n_in, n_out in itertools.pairwise(sizes):
        layers += [torch.nn.Linear(n_in, n_out, dtype=dtype), torch.nn.ReLU()]
    layers.append(torch.nn.Linear(sizes[-1], out_features, dtype=dtype))
    return torch.nn.Sequential(*layers)


def _accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return (model(x).argmax(dim=1) == y).double().mean().item()


def _labels(name: str, y, x: torch.Tensor) -> torch.Tensor:
    check.tensor(name, y, ndim=1, floating=False)
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise TypeError(f"{name} must hold integer class labels, got dtype {y.dtype}")
    if len(y) != len(x):
        raise ValueError(f"{name} must have one label per example ({len(x)}), got {len(y)}")
    return y.long()  # cross_entropy takes int64 class indices


def _examples(name: str, x) -> torch.Tensor:
    check.tensor(name, x, min_ndim=2, finite=True)
    if len(x) == 0:
        raise ValueError(f"{name} must have at least one example, got shape {tuple(x.shape)}")
    return x


def _check_fits(model: torch.nn.Module, names: tuple[str, str], x: torch.Tensor, y: torch.Tensor) -> None:
    """One forward pass in evaluation mode without gradient: ``model`` must take ``x`` and give ``(B, K)`` logits,
    and every label of ``y`` must be one of the ``K`` classes."""
    modes = [(m, m.training) for m in model.modules()]
    try:
        with torch.no_grad():
            logits = model.eval()(x)
    except (RuntimeError, TypeError, ValueError, IndexError) as error:
        raise ValueError(f"{names[0]} does not fit model (shape or dtype): {error}") from error
    finally:
        for m, training in modes:  # each layer's own mode back, as it was
            m.training = training
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point() or logits.shape[:1] != x.shape[:1]:
        raise ValueError(f"model must map {names[0]} (B, *) to floating-point (B, K) logits")
    if logits.dim() != 2 or logits.shape[1] == 0:
        raise ValueError(f"model must map {names[0]} to (B, K) logits, got shape {tuple(logits.shape)}")
    K = logits.shape[1]
    if int(y.min()) < 0 or int(y.max()) >= K:
        raise ValueError(f"{names[1]} must hold class labels in [0, {K}) (the model's {K} outputs)")


@question(
    "number-of-layers-and-neurons",
    level="intermediate",
    short=(
        "There is no formula: decide empirically, with the validation set as judge. Grow the network until "
        "it fits the training set, then choose size, regularization and training length by validation score. "
        "Training accuracy proves capacity, not learning: a wide enough network memorizes even random labels "
        "while its validation accuracy stays at chance."
    ),
    followups=("prevent-overfitting", "choosing-an-architecture", "dropout-train-vs-eval"),
)
def fit(
    model: torch.nn.Module,
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    x_val: torch.Tensor | None = None,
    y_val: torch.Tensor | None = None,
    steps: int = 200,
    lr: float = 1e-2,
    weight_decay: float = 0.0,
) -> FitResult:
    r"""Train a classifier full-batch with Adam on cross-entropy; return train and validation accuracy.

    **How do we decide the number of hidden layers and neurons that should be used?**

    There is no formula: it is decided empirically, with the validation set as judge. Grow the network
    until it fits the training set (training accuracy high: it no longer underfits), then choose the size,
    regularization and training length with the best validation accuracy. Fitting the training data proves
    capacity, not learning: a large enough network memorizes even random labels, so a big gap between
    training and validation accuracy means overfitting, not a good model.

    .. math::

        \min_\theta \frac{1}{B}\sum_b -\log \operatorname{softmax}(f_\theta(x_b))_{y_b}, \qquad
        \text{accuracy} = \frac{1}{B}\sum_b [\operatorname{argmax} f_\theta(x_b) = y_b]

    Parameters
    ----------
    model : torch.nn.Module
        Maps ``(B, *)`` to ``(B, K)`` logits; trained in place (only parameters with ``requires_grad``).
    x_train, y_train : torch.Tensor
        ``(B, *)`` inputs and ``(B,)`` integer labels in ``[0, K)``.
    x_val, y_val : torch.Tensor, optional
        Validation data, same layout; both or neither.
    steps : int, default 200
        Number of full-batch Adam steps.
    lr : float, default 1e-2
        Learning rate, positive.
    weight_decay : float, default 0.0
        L2 penalty of Adam, non-negative.

    Returns
    -------
    FitResult
        ``(train_accuracy, val_accuracy, losses)``; ``val_accuracy`` is nan without validation data.

    See Also
    --------
    mlp, torch.optim.Adam, torch.nn.functional.cross_entropy

    Notes
    -----
    The model is left in evaluation mode; accuracies are measured in evaluation mode.

    .. admonition:: Common mistake

        "Pick the number of neurons with a rule of thumb (between the input and output sizes); once the
        network reaches 100% training accuracy it has learned the task."

        Rules of thumb ignore how much data there is and how noisy it is, and training accuracy measures
        capacity, not learning. The examples fit random labels perfectly with a wide network while its
        validation accuracy stays at chance, and show that a too-narrow network cannot fit them at all.

    References
    ----------
    .. [1] C. Zhang et al., "Understanding deep learning requires rethinking generalization", ICLR 2017.

    Examples
    --------
    The first loss is the cross-entropy PyTorch computes for the untrained model:

    >>> x, x_val = torch.randn(100, 20, dtype=torch.float64), torch.randn(100, 20, dtype=torch.float64)
    >>> y, y_val = torch.randint(0, 10, (100,)), torch.randint(0, 10, (100,))   # random labels
    >>> wide = mlp(20, [256], 10, dtype=torch.float64)
    >>> first = F.cross_entropy(wide(x), y).item()
    >>> result = fit(wide, x, y, x_val, y_val, steps=100)
    >>> math.isclose(result.losses[0], first)
    True

    A wide network memorizes 100 random labels; on new data it is at chance (10% for 10 classes):

    >>> result.train_accuracy
    1.0
    >>> result.val_accuracy < 0.3
    True

    Capacity is what memorizes: a network with 2 hidden units cannot:

    >>> fit(mlp(20, [2], 10, dtype=torch.float64), x, y, steps=100).train_accuracy < 0.5
    True
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    _examples("x_train", x_train)
    y_train = _labels("y_train", y_train, x_train)
    if (x_val is None) != (y_val is None):
        raise ValueError("x_val and y_val must be given together")
    if x_val is not None:
        _examples("x_val", x_val)
        y_val = _labels("y_val", y_val, x_val)
    steps = check.integer("steps", steps, low=1)
    lr = check.number("lr", lr, low=0.0, high=math.inf, low_open=True, high_open=True)
    weight_decay = check.number("weight_decay", weight_decay, low=0.0, high=math.inf, high_open=True)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model must have at least one trainable parameter")
    _check_fits(model, ("x_train", "y_train"), x_train, y_train)
    if x_val is not None:
        _check_fits(model, ("x_val", "y_val"), x_val, y_val)
    opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    losses = []
    model.train()
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x_train), y_train)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    val = _accuracy(model, x_val, y_val) if x_val is not None else math.nan
    return FitResult(_accuracy(model, x_train, y_train), val, losses)
