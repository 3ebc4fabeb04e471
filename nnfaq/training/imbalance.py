"""Class imbalance

When one class is rare: class weights in cross-entropy and what they are equivalent to,
``pos_weight`` in binary cross-entropy and what it does to the predicted probabilities, and the
focal loss that down-weights the easy examples.
"""

from __future__ import annotations

import math

import torch

from nnfaq import _validate as check
from nnfaq._registry import question

__all__ = ["balanced_class_weights", "balanced_pos_weight", "sigmoid_focal_loss"]


def _labels(target, num_classes: int) -> torch.Tensor:
    check.tensor("target", target, min_ndim=1, floating=False)
    if target.is_floating_point() or target.is_complex() or target.dtype == torch.bool:
        raise TypeError(f"target must be an integer tensor of class indices, got dtype {target.dtype}")
    if target.numel() == 0 or bool((target < 0).any() | (target >= num_classes).any()):
        raise ValueError(f"target must be a non-empty tensor of class indices in [0, {num_classes})")
    return target


@question(
    "class-imbalance",
    level="intermediate",
    short=(
        "Weight the loss, resample, or change the loss. Balanced class weights N/(C n_c) make every class "
        "contribute equally: weighted cross-entropy becomes the mean over classes of each class's mean loss, the "
        "same as oversampling the rare classes to equal counts. Judge the result with per-class metrics, not "
        "accuracy, and remember weighting shifts the predicted probabilities."
    ),
    followups=("pos-weight", "focal-loss", "categorical-vs-sparse-cross-entropy"),
)
def balanced_class_weights(target: torch.Tensor, num_classes: int) -> torch.Tensor:
    r"""Class weights ``N / (C * n_c)``, scikit-learn's "balanced", for ``F.cross_entropy(weight=...)``.

    **How do you handle class imbalance in a classifier?**

    Three levers: weight the loss, resample the data, or change the loss (focal loss). With
    balanced weights :math:`w_c = N / (C\,n_c)` every class carries the same total weight, so the
    weighted mean cross-entropy is exactly the mean over classes of each class's mean loss, and it
    equals the plain loss on a dataset where every class is oversampled to the same count.
    Weighting changes what the model predicts, not only how fast it learns: the best constant
    prediction moves from the class frequencies to the uniform distribution, so probabilities are
    no longer calibrated to the true frequencies. Evaluate with per-class recall, precision or a
    PR curve: 99% accuracy is the trivial classifier's score when 1% is positive.

    .. math::

        w_c = \frac{N}{C\,n_c}, \qquad
        \frac{\sum_i w_{y_i}\,\ell_i}{\sum_i w_{y_i}} = \frac1C \sum_c \frac{1}{n_c}\sum_{i: y_i = c} \ell_i

    Parameters
    ----------
    target : torch.Tensor
        ``(N,)`` integer class indices (any shape; every entry counts).
    num_classes : int
        :math:`C \ge 1`; every class must occur in ``target``.

    Returns
    -------
    torch.Tensor
        ``(C,)`` float64 weights.

    See Also
    --------
    torch.nn.functional.cross_entropy, sklearn.utils.class_weight.compute_class_weight,
    torch.utils.data.WeightedRandomSampler

    Examples
    --------
    Equal to scikit-learn's "balanced" weights:

    >>> from sklearn.utils.class_weight import compute_class_weight
    >>> y = torch.tensor([0] * 90 + [1] * 9 + [2] * 3)
    >>> w = balanced_class_weights(y, 3)
    >>> np.allclose(w.numpy(), compute_class_weight("balanced", classes=np.arange(3), y=y.numpy()))
    True

    Weighted cross-entropy is the mean over classes of each class's mean loss:

    >>> _ = torch.manual_seed(0)
    >>> logits = torch.randn(102, 3, dtype=torch.float64)
    >>> per_example = F.cross_entropy(logits, y, reduction="none")
    >>> per_class = torch.stack([per_example[y == c].mean() for c in range(3)]).mean()
    >>> torch.allclose(F.cross_entropy(logits, y, weight=w), per_class)
    True

    And it is the plain loss after oversampling every class to 90 examples (the rare ones
    repeated 10 and 30 times):

    >>> idx = torch.cat([torch.arange(90), torch.arange(90, 99).repeat(10), torch.arange(99, 102).repeat(30)])
    >>> torch.bincount(y[idx]).tolist(), torch.allclose(F.cross_entropy(logits[idx], y[idx]), per_class)
    ([90, 90, 90], True)

    The best constant prediction moves from the frequencies (unweighted) to uniform (weighted):
    the gradient with respect to a constant logit vector vanishes there:

    >>> def grad_at(p, weight=None):
    ...     b = torch.log(p).repeat(102, 1).requires_grad_()
    ...     F.cross_entropy(b, y, weight=weight).backward()
    ...     return b.grad.sum(0).abs().max().item()
    >>> freq = torch.bincount(y).double() / 102
    >>> bool(grad_at(freq) < 1e-12), bool(grad_at(torch.full((3,), 1 / 3, dtype=torch.float64), w) < 1e-12)
    (True, True)
    """
    C = check.integer("num_classes", num_classes, low=1)
    y = _labels(target, C)
    n_c = torch.bincount(y.reshape(-1), minlength=C).double()  # (C,)
    if bool((n_c == 0).any()):
        missing = [c for c in range(C) if n_c[c] == 0]
        raise ValueError(f"target must contain every class to weight it; classes {missing} do not occur")
    # w_c = N / (C n_c)
    return y.numel() / (C * n_c)


@question(
    "pos-weight",
    level="intermediate",
    short=(
        "BCEWithLogitsLoss's pos_weight multiplies only the loss of positive targets, per label: pos_weight = k "
        "is the same as repeating every positive example k times. Set to n_negative / n_positive it balances "
        "the two classes, so the best constant prediction becomes 0.5 instead of the positive rate; the outputs "
        "are then no longer calibrated probabilities."
    ),
    followups=("class-imbalance", "focal-loss", "bce-with-logits"),
)
def balanced_pos_weight(target: torch.Tensor) -> torch.Tensor:
    r"""``n_negative / n_positive`` for each label column, the ``pos_weight`` that balances binary cross-entropy.

    **What does pos_weight do in BCEWithLogitsLoss, and how do you choose it?**

    ``pos_weight`` multiplies the loss term of the positive targets only, separately for every
    label (column): :math:`\ell = -[k\,y \log\sigma(x) + (1-y)\log(1-\sigma(x))]`. An integer
    :math:`k` is exactly the same as repeating each positive example :math:`k` times. The usual
    choice, :math:`k = n_{\text{neg}}/n_{\text{pos}}`, gives both classes the same total weight,
    so missing a rare positive costs as much as the many negatives together. The price is
    calibration: the best constant prediction becomes :math:`\sigma(x) = k\,n_{\text{pos}} /
    (k\,n_{\text{pos}} + n_{\text{neg}})`, 0.5 with the balanced choice, instead of the positive
    rate, so thresholds and probabilities must be read accordingly. ``weight``, by contrast,
    scales each element's whole loss.

    .. math::

        k_j = \frac{\#\{i: y_{ij} = 0\}}{\#\{i: y_{ij} = 1\}}

    Parameters
    ----------
    target : torch.Tensor
        ``(N,)`` or ``(N, L)`` binary targets (0 or 1, any dtype).

    Returns
    -------
    torch.Tensor
        ``()`` or ``(L,)`` float64, one weight per label.

    See Also
    --------
    torch.nn.BCEWithLogitsLoss, torch.nn.functional.binary_cross_entropy_with_logits, balanced_class_weights

    Examples
    --------
    >>> y = torch.tensor([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0], [0.0, 1.0], [0.0, 0.0]])
    >>> balanced_pos_weight(y).tolist()
    [4.0, 1.5]

    ``pos_weight = 3`` is the same as repeating every positive three times:

    >>> _ = torch.manual_seed(0)
    >>> x, t = torch.randn(50, dtype=torch.float64), (torch.rand(50) < 0.2).double()
    >>> k = torch.tensor(3.0, dtype=torch.float64)
    >>> weighted = F.binary_cross_entropy_with_logits(x, t, pos_weight=k, reduction="sum")
    >>> rep = torch.where(t == 1, 3, 1)
    >>> x_rep, t_rep = x.repeat_interleave(rep), t.repeat_interleave(rep)
    >>> repeated = F.binary_cross_entropy_with_logits(x_rep, t_rep, reduction="sum")
    >>> torch.allclose(weighted, repeated)
    True

    With the balanced weight the best constant probability is 0.5, not the positive rate:

    >>> def grad_at(p, pos_weight=None):
    ...     logit = torch.full_like(t, math.log(p / (1 - p))).requires_grad_()
    ...     F.binary_cross_entropy_with_logits(logit, t, pos_weight=pos_weight).backward()
    ...     return logit.grad.sum().abs().item()
    >>> rate = t.mean().item()
    >>> bool(grad_at(rate) < 1e-12), bool(grad_at(0.5, balanced_pos_weight(t)) < 1e-12)
    (True, True)
    """
    check.tensor("target", target, ndim=(1, 2), floating=False)
    t = target.double()
    if bool(((t != 0) & (t != 1)).any()):
        raise ValueError("target must contain only 0 and 1")
    pos = t.sum(0)  # (L,)
    if bool((pos == 0).any()):
        raise ValueError("target must have at least one positive in every label to weight it")
    # n_neg / n_pos per label
    return (t.shape[0] - pos) / pos


@question(
    "focal-loss",
    level="advanced",
    short=(
        "Focal loss multiplies binary cross-entropy by (1 - p_t)^gamma, p_t being the probability of the true "
        "class, and optionally by a class weight alpha. Confident examples are down-weighted, 100-fold at "
        "p_t = 0.9 with gamma = 2, so a detector's many easy negatives stop swamping the few hard examples. "
        "With gamma = 0 and no alpha it is plain BCE."
    ),
    followups=("class-imbalance", "pos-weight", "bce-with-logits"),
)
def sigmoid_focal_loss(
    inputs: torch.Tensor,
    targets: torch.Tensor,
    alpha: float = 0.25,
    gamma: float = 2.0,
    reduction: str = "none",
) -> torch.Tensor:
    r"""The focal loss of Lin et al., with torchvision's signature (``torchvision.ops.sigmoid_focal_loss``).

    **What is the focal loss, and why does it help with class imbalance?**

    The focal loss multiplies binary cross-entropy by :math:`(1 - p_t)^\gamma`, where :math:`p_t`
    is the probability the model gives the true class. Confidently correct examples
    (:math:`p_t \to 1`) are down-weighted almost to nothing, hard ones keep nearly their full
    loss. In dense detection a few hundred thousand anchors are easy background; with plain
    cross-entropy their small losses add up and dominate the gradient, with the focal loss the few
    hard examples do. :math:`\alpha_t` adds a class weight (0.25 for the positives in the paper,
    which, with :math:`\gamma = 2`, down-weights the positives: the focusing term already favours
    them). With :math:`\gamma = 0` and no :math:`\alpha` it is plain binary cross-entropy.

    .. math::

        p = \sigma(x), \quad p_t = \begin{cases} p & y = 1 \\ 1 - p & y = 0 \end{cases}, \qquad
        \mathrm{FL} = -\alpha_t\,(1 - p_t)^\gamma \log p_t, \quad
        \alpha_t = \begin{cases} \alpha & y = 1 \\ 1 - \alpha & y = 0 \end{cases}

    Parameters
    ----------
    inputs : torch.Tensor
        Logits :math:`x`, any shape.
    targets : torch.Tensor
        Same shape, binary (or soft) targets in ``[0, 1]``.
    alpha : float, default 0.25
        :math:`\alpha \in [0, 1]`; a negative value means no class weight (torchvision's convention).
    gamma : float, default 2.0
        :math:`\gamma \ge 0`, the focusing parameter.
    reduction : {"none", "mean", "sum"}, default "none"

    Returns
    -------
    torch.Tensor
        The loss per element (``"none"``) or reduced.

    See Also
    --------
    torch.nn.functional.binary_cross_entropy_with_logits, balanced_pos_weight

    Notes
    -----
    torchvision is not a dependency; the examples check the formula directly and against binary
    cross-entropy. :math:`\log p_t` is taken from ``binary_cross_entropy_with_logits``, which is
    stable for large logits, as torchvision does.

    References
    ----------
    .. [1] T.-Y. Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017.

    Examples
    --------
    With ``gamma = 0`` and no ``alpha`` it is binary cross-entropy:

    >>> _ = torch.manual_seed(0)
    >>> x = 3 * torch.randn(6, 5, dtype=torch.float64)
    >>> y = (torch.rand(6, 5) < 0.3).double()
    >>> bce = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    >>> torch.allclose(sigmoid_focal_loss(x, y, alpha=-1, gamma=0), bce)
    True

    And it is the paper's formula, written out:

    >>> p = torch.sigmoid(x)
    >>> p_t, a_t = torch.where(y == 1, p, 1 - p), torch.where(y == 1, 0.25, 0.75)
    >>> torch.allclose(sigmoid_focal_loss(x, y), -a_t * (1 - p_t) ** 2 * torch.log(p_t))
    True

    Easy examples are down-weighted by :math:`(1-p_t)^\gamma`: 100 times at :math:`p_t = 0.9`,
    barely at :math:`p_t = 0.1`:

    >>> easy, hard = torch.tensor([math.log(9.0)]), torch.tensor([-math.log(9.0)])  # p = 0.9 and p = 0.1
    >>> one = torch.ones(1)
    >>> ratio = lambda z: (sigmoid_focal_loss(z, one, alpha=-1) / F.binary_cross_entropy_with_logits(z, one)).item()
    >>> round(ratio(easy), 4), round(ratio(hard), 4)
    (0.01, 0.81)

    On 10,000 easy negatives and 10 hard positives, the easy ones carry most of the cross-entropy
    and little of the focal loss:

    >>> z = torch.cat([torch.full((10_000,), -4.0), torch.full((10,), -1.0)])
    >>> t = torch.cat([torch.zeros(10_000), torch.ones(10)])
    >>> share = lambda loss: (loss[:10_000].sum() / loss.sum()).item()
    >>> bce = F.binary_cross_entropy_with_logits(z, t, reduction="none")
    >>> bool(share(bce) > 0.9), bool(share(sigmoid_focal_loss(z, t, alpha=-1)) < 0.1)
    (True, True)
    """
    check.tensor("inputs", inputs)
    check.tensor("targets", targets)
    check.same_shape("targets", targets, inputs.shape, "the shape of inputs")
    check.probabilities("targets", targets)
    alpha = check.number("alpha", alpha, low=-math.inf, high=1.0)
    gamma = check.number("gamma", gamma, low=0.0, high=math.inf, high_open=True)
    reduction = check.choice("reduction", reduction, ("none", "mean", "sum"))
    p = torch.sigmoid(inputs)
    # -log p_t, stably from the logits
    ce = torch.nn.functional.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    if reduction == "mean":
        return loss.mean()
    return loss.sum() if reduction == "sum" else loss
