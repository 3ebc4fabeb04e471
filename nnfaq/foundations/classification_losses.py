"""Cross-entropy and the classification loss

What a loss function is, and the one almost every classifier uses: negative log-likelihood and
cross-entropy with class-index or probability targets (the "sparse" vs "categorical" question),
``ignore_index`` and ``reduction``, the gradient :math:`p - y` that makes it train well, and label
smoothing.
"""

from __future__ import annotations

import torch

from nnfaq import _validate as check
from nnfaq._registry import question
from nnfaq.foundations import _reduction

__all__ = ["cross_entropy", "cross_entropy_grad", "nll_loss", "smooth_one_hot"]


def _class_dim(input: torch.Tensor) -> int:
    """PyTorch's layout: ``(C,)`` unbatched, else ``(B, C, *)`` with classes on dimension 1."""
    cdim = 0 if input.dim() == 1 else 1
    if input.shape[cdim] == 0:
        raise ValueError(f"input must have at least one class along dimension {cdim}, got shape {tuple(input.shape)}")
    return cdim


def _integer_target(target) -> None:
    check.tensor("target", target, floating=False)
    if target.is_floating_point() or target.is_complex() or target.dtype == torch.bool:
        raise TypeError(f"target must hold integer class indices, got dtype {target.dtype}")


def _check_indices(target, input: torch.Tensor, ignore_index: int) -> torch.Tensor:
    """Check class-index targets against ``input`` and return the mask of the counted ones."""
    _integer_target(target)
    cdim = _class_dim(input)
    C = input.shape[cdim]
    shape = input.shape[:cdim] + input.shape[cdim + 1 :]
    check.same_shape("target", target, shape, "input's shape without the class dimension")
    valid = target != ignore_index  # (B, *)
    if bool(((target < 0) | (target >= C))[valid].any()):
        raise ValueError(f"target must contain class indices in [0, {C}) or ignore_index={ignore_index}")
    return valid


def _nll(logp, target, valid, weight, cdim):
    """Per-element negative log-likelihood ``-w[y] logp[y]`` and the weights ``w[y]`` (0 where ignored)."""
    safe = target.where(valid, torch.zeros_like(target)).long()  # (B, *), ignored -> class 0
    picked = logp.gather(cdim, safe.unsqueeze(cdim)).squeeze(cdim)  # (B, *)
    w = (weight[safe] if weight is not None else torch.ones_like(picked)) * valid  # (B, *)
    return -w * picked, w


def _weighted_mean(loss: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """``sum(loss) / sum(w)``; when every target is ignored that is 0/0: NaN, with a zero gradient, as in PyTorch."""
    total = w.sum()
    if bool(total == 0):
        # the gradient of loss.sum() is 0 here (every w is 0), so one all-ignored batch cannot poison the weights
        return loss.sum() * 0 + float("nan")
    return loss.sum() / total


def _check_weight(weight, C: int):
    if weight is not None:
        check.tensor("weight", weight, ndim=1)
        check.same_shape("weight", weight, (C,), "one weight per class")
    return weight


@question(
    "loss-function",
    level="basic",
    short=(
        "The loss scores one prediction against its target; training minimizes its average over the data, "
        "plus any regularization, so it must be differentiable in the weights. The principled choice is the "
        "negative log-likelihood of the target under the predicted distribution: categorical gives "
        "cross-entropy, Bernoulli binary cross-entropy, a fixed-variance Gaussian mean squared error. Accuracy "
        "is a metric, not a loss."
    ),
    followups=("categorical-vs-sparse-cross-entropy", "cross-entropy-vs-mse", "softmax-cross-entropy-gradient"),
)
def nll_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor | None = None,
    *,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Negative log-likelihood: minus the log-probability given to the true class, averaged.

    **What is the loss function of a neural network model?**

    The loss :math:`\ell(f(x_i), y_i)` scores one prediction against its target; training minimizes
    its average over the data (plus any regularization), so it must be differentiable in the
    weights. The principled choice is the negative log-likelihood of the targets under the distribution the network
    predicts: a categorical distribution gives cross-entropy (``nll_loss`` of ``log_softmax``),
    a Bernoulli gives binary cross-entropy, and a Gaussian of fixed variance gives mean squared
    error up to constants. The metric you report (accuracy, F1) is often not differentiable and
    is not the loss.

    .. math::

        \ell_i = -w_{y_i}\,\log p_{i, y_i}, \qquad
        L = \frac{\sum_i \ell_i}{\sum_i w_{y_i}} \quad (\text{reduction='mean'})

    Parameters
    ----------
    input : torch.Tensor
        Log-probabilities ``(B, C)``, ``(B, C, *)`` or ``(C,)``.
    target : torch.Tensor
        Integer class indices in ``[0, C)``, shape ``(B,)``, ``(B, *)`` or ``()``.
    weight : torch.Tensor, optional
        ``(C,)`` weight per class.
    ignore_index : int, default -100
        Targets equal to this contribute nothing, neither to the sum nor to the mean's denominator.
    reduction : {'mean', 'sum', 'none'}, default 'mean'
        Weighted mean, sum, or keep the losses ``(B, *)``.

    Returns
    -------
    torch.Tensor
        A scalar, or ``(B, *)`` if ``reduction='none'``.

    See Also
    --------
    torch.nn.functional.nll_loss, torch.nn.NLLLoss, cross_entropy

    Notes
    -----
    .. admonition:: Common mistake

        "Cost function and loss function are synonymous."

        They are often used interchangeably, but where a distinction is made the loss scores one
        example (``reduction='none'`` returns one per example) and the cost, or objective, is what
        the optimizer minimizes: the mean loss over the data plus regularization terms such as
        :math:`\frac{\lambda}{2}\lVert w\rVert^2`. They have different gradients: the last example
        shows that SGD with ``weight_decay`` steps down the cost, not the mean loss.

    Examples
    --------
    Matches PyTorch, with class weights and an ignored target:

    >>> logp = torch.randn(5, 4, dtype=torch.float64).log_softmax(dim=1)
    >>> y = torch.tensor([0, 3, -100, 1, 3])
    >>> w = torch.tensor([1.0, 2.0, 0.5, 1.0], dtype=torch.float64)
    >>> torch.allclose(nll_loss(logp, y, w), F.nll_loss(logp, y, w))
    True

    Cross-entropy is exactly NLL of the log-softmax:

    >>> x = torch.randn(5, 4, dtype=torch.float64)
    >>> y = torch.tensor([0, 3, 2, 1, 3])
    >>> torch.allclose(F.cross_entropy(x, y), nll_loss(x.log_softmax(dim=1), y))
    True

    Mean squared error is the NLL of a unit-variance Gaussian, up to a factor 1/2 and a constant:

    >>> pred, t = torch.randn(8, dtype=torch.float64), torch.randn(8, dtype=torch.float64)
    >>> gauss = F.gaussian_nll_loss(pred, t, torch.ones(8, dtype=torch.float64), full=True)
    >>> torch.allclose(gauss, 0.5 * F.mse_loss(pred, t) + 0.5 * np.log(2 * np.pi))
    True

    The loss is one number per example; the cost adds the regularization, and one SGD step with
    ``weight_decay=0.1`` is a step down the cost :math:`\bar\ell + 0.05\,\lVert W\rVert^2`:

    >>> model = nn.Linear(4, 3, bias=False, dtype=torch.float64)
    >>> x, y = torch.randn(5, 4, dtype=torch.float64), torch.tensor([0, 2, 1, 1, 0])
    >>> losses = nll_loss(model(x).log_softmax(dim=1), y, reduction="none")
    >>> tuple(losses.shape)
    (5,)
    >>> cost = losses.mean() + 0.1 / 2 * model.weight.pow(2).sum()
    >>> (g_cost,) = torch.autograd.grad(cost, model.weight, retain_graph=True)
    >>> (g_loss,) = torch.autograd.grad(losses.mean(), model.weight)
    >>> w0 = model.weight.detach().clone()
    >>> opt = torch.optim.SGD(model.parameters(), lr=0.5, weight_decay=0.1)
    >>> F.cross_entropy(model(x), y).backward(); opt.step()
    >>> torch.allclose(model.weight, w0 - 0.5 * g_cost), torch.allclose(model.weight, w0 - 0.5 * g_loss)
    (True, False)
    """
    check.tensor("input", input, min_ndim=1)
    check.choice("reduction", reduction, _reduction.REDUCTIONS)
    ignore_index = check.integer("ignore_index", ignore_index)
    cdim = _class_dim(input)
    weight = _check_weight(weight, input.shape[cdim])
    valid = _check_indices(target, input, ignore_index)
    loss, w = _nll(input, target, valid, weight, cdim)  # (B, *)
    if reduction == "none":
        return loss
    return _weighted_mean(loss, w) if reduction == "mean" else loss.sum()


@question(
    "categorical-vs-sparse-cross-entropy",
    level="basic",
    short=(
        "None in the loss: both are minus the log-softmax at the true class, averaged over the batch. Only the "
        "target differs: categorical takes a one-hot or probability row per example, shape (B, C); sparse takes "
        "the integer class index, shape (B,), counted from 0. PyTorch's cross_entropy takes both. Use indices "
        "for hard labels, probabilities for soft ones."
    ),
    followups=("loss-function", "label-smoothing", "softmax-cross-entropy-gradient"),
)
def cross_entropy(
    input: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor | None = None,
    *,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    r"""Softmax cross-entropy from logits, with class-index or class-probability targets.

    **What is the difference between categorical_crossentropy and sparse_categorical_crossentropy?**

    None in the loss: both compute :math:`-\log\mathrm{softmax}(x)_y`, averaged over the batch.
    Only the target format differs: "categorical" takes a one-hot (or any probability) row per
    example, shape ``(B, C)``; "sparse" takes the integer class index, shape ``(B,)``, counted from
    0. PyTorch has one function for both: integer targets are indices, floating targets of the
    input's shape are probabilities. Use indices for hard labels (no one-hot tensor ``C`` times
    larger), probabilities for soft labels (label smoothing, mixup, distillation).

    .. math::

        \ell_i = -\sum_c w_c\, q_{ic} \log\mathrm{softmax}(x_i)_c, \qquad
        q_{ic} = (1 - \varepsilon)\,y_{ic} + \varepsilon / C

    Parameters
    ----------
    input : torch.Tensor
        Logits ``(B, C)``, ``(B, C, *)`` or ``(C,)``; not probabilities.
    target : torch.Tensor
        Either integer class indices ``(B,)``/``(B, *)`` in ``[0, C)``, or probabilities of
        ``input``'s shape whose values along the class dimension sum to 1.
    weight : torch.Tensor, optional
        ``(C,)`` weight per class.
    ignore_index : int, default -100
        Index targets equal to this are skipped (index targets only).
    reduction : {'mean', 'sum', 'none'}, default 'mean'
        Mean (weighted by the target classes' weights, for index targets), sum, or ``(B, *)``.
    label_smoothing : float, default 0.0
        :math:`\varepsilon \in [0, 1]`: mix the target with the uniform distribution.

    Returns
    -------
    torch.Tensor
        A scalar, or ``(B, *)`` if ``reduction='none'``.

    See Also
    --------
    torch.nn.functional.cross_entropy, torch.nn.CrossEntropyLoss, nll_loss

    Notes
    -----
    .. admonition:: Common mistake

        "categorical_crossentropy produces a one-hot array and sparse_categorical_crossentropy
        produces a category index such as [1], [2], [3]; use the sparse one when classes are
        mutually exclusive."

        Neither produces the array: it is the *target* you pass in, and both return the same loss
        (the examples check index and one-hot targets give equal values). Both assume mutually
        exclusive classes. Indices start at 0, so three classes are 0, 1, 2: index 3 is out of
        range, as the last example shows.

    Examples
    --------
    Matches PyTorch with index and probability targets, and with every option:

    >>> x = torch.randn(6, 3, dtype=torch.float64)
    >>> y = torch.tensor([0, 2, 1, 1, 0, 2])
    >>> torch.allclose(cross_entropy(x, y), F.cross_entropy(x, y))
    True
    >>> y2 = torch.tensor([0, 2, -100, 1, 0, 2])
    >>> opts = dict(ignore_index=-100, reduction="sum", label_smoothing=0.1)
    >>> torch.allclose(cross_entropy(x, y2, **opts), F.cross_entropy(x, y2, **opts))
    True

    "Sparse" (indices) and "categorical" (one-hot) give the same loss:

    >>> onehot = F.one_hot(y, num_classes=3).double()
    >>> torch.allclose(cross_entropy(x, onehot), cross_entropy(x, y))
    True

    Class indices start at 0; an index equal to ``C`` is an error:

    >>> cross_entropy(x[:3], torch.tensor([1, 2, 3]))
    Traceback (most recent call last):
        ...
    ValueError: target must contain class indices in [0, 3) or ignore_index=-100
    """
    check.tensor("input", input, min_ndim=1)
    check.choice("reduction", reduction, _reduction.REDUCTIONS)
    ignore_index = check.integer("ignore_index", ignore_index)
    eps = check.number("label_smoothing", label_smoothing, low=0.0, high=1.0)
    cdim = _class_dim(input)
    C = input.shape[cdim]
    weight = _check_weight(weight, C)
    wshape = [C if d == cdim else 1 for d in range(input.dim())]  # broadcast (C,) along the class dim
    # log softmax(x)_c = x_c - logsumexp(x), the stable form (see nnfaq.foundations.output_layers.log_softmax)
    logp = input - torch.logsumexp(input, cdim, keepdim=True)  # (B, C, *)
    if isinstance(target, torch.Tensor) and target.is_floating_point():
        check.same_shape("target", target, input.shape, "probability targets have input's shape")
        check.probabilities("target", target)
        if not torch.allclose(target.sum(cdim), torch.ones((), dtype=target.dtype), atol=1e-4):
            raise ValueError(f"target probabilities must sum to 1 along dimension {cdim}")
        # q = (1 - eps) y + eps / C, then -sum_c w_c q_c log p_c
        q = target * (1 - eps) + eps / C  # (B, C, *)
        wq = q * weight.reshape(wshape) if weight is not None else q
        loss = -(wq * logp).sum(cdim)  # (B, *)
        return _reduction.reduce(loss, reduction)
    valid = _check_indices(target, input, ignore_index)  # (B, *)
    nll, w = _nll(logp, target, valid, weight, cdim)  # (B, *)
    # the uniform part of the smoothed target: -sum_c w_c log p_c, zero where ignored
    wlogp = logp * weight.reshape(wshape) if weight is not None else logp
    smooth = -wlogp.sum(cdim) * valid  # (B, *)
    loss = (1 - eps) * nll + (eps / C) * smooth  # (B, *)
    if reduction == "none":
        return loss
    return _weighted_mean(loss, w) if reduction == "mean" else loss.sum()


@question(
    "softmax-cross-entropy-gradient",
    level="intermediate",
    short=(
        "Predicted probabilities minus the one-hot target, p - y, divided by the batch size for a mean. The "
        "softmax Jacobian and the log's 1/p cancel, leaving a gradient in [-1, 1] that sums to 0 over the classes "
        "and is largest when the model is confidently wrong. Correct but unsure predictions still get a large "
        "one."
    ),
    followups=("cross-entropy-vs-mse", "label-smoothing", "mlp-backward-by-hand"),
)
def cross_entropy_grad(input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""The gradient of mean softmax cross-entropy with respect to the logits: :math:`(p - y)/B`.

    **What is the gradient of the softmax cross-entropy loss with respect to the logits?**

    Predicted probabilities minus the one-hot target: :math:`\partial \ell / \partial x = p - y`
    (divided by the batch size for a mean). The softmax Jacobian and the log's :math:`1/p` cancel,
    leaving a gradient that is bounded in :math:`[-1, 1]`, sums to 0 over the classes, and is
    largest exactly when the model is confidently wrong, so learning never stalls on mistakes.
    It is also why the output layer and the loss are fused: the combined backward pass is one
    subtraction.

    .. math::

        p = \mathrm{softmax}(x), \qquad
        \frac{\partial}{\partial x_{ic}} \frac{1}{B}\sum_k -\log p_{k, y_k} = \frac{p_{ic} - [c = y_i]}{B}

    Parameters
    ----------
    input : torch.Tensor
        Logits ``(B, C)``.
    target : torch.Tensor
        Integer class indices ``(B,)`` in ``[0, C)``.

    Returns
    -------
    torch.Tensor
        ``(B, C)``, the gradient of ``cross_entropy(input, target)`` (mean reduction).

    See Also
    --------
    torch.nn.functional.cross_entropy, torch.autograd.grad

    Notes
    -----
    .. admonition:: Common mistake

        "If the answer was right, the features that led to it are positively affected, and vice
        versa."

        What moves the weights is the loss, not whether the arg-max was right: the gradient is
        :math:`p - y`. A correct but unsure prediction (true class 0.41, still the largest) gets
        :math:`-0.59` on its true logit, not far from a wrong one's :math:`-0.89`; only a correct,
        confident one gets almost nothing. Right or wrong, every example pushes its true logit up
        and the others down, in proportion to how unsure it was. The last example compares the
        three.

    Examples
    --------
    Equals autograd's gradient of PyTorch's cross-entropy:

    >>> x = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
    >>> y = torch.tensor([1, 0, 4, 2])
    >>> (ref,) = torch.autograd.grad(F.cross_entropy(x, y), x)
    >>> torch.allclose(cross_entropy_grad(x, y), ref)
    True

    Each row sums to 0, and a confidently wrong prediction gets a gradient of about -1 on the true
    class (per example, before averaging):

    >>> torch.allclose(ref.sum(dim=1), torch.zeros(4, dtype=torch.float64))
    True
    >>> wrong = torch.tensor([[10.0, -10.0]], dtype=torch.float64)
    >>> round(cross_entropy_grad(wrong, torch.tensor([1]))[0, 1].item(), 4)
    -1.0

    Right but unsure, right and confident, wrong: all three have class 0 as the target; the first
    two predict it, and only the confident one gets almost no gradient:

    >>> logits = torch.tensor([[0.5, 0.2, 0.1], [8.0, 0.0, 0.0], [0.0, 2.0, 0.0]], dtype=torch.float64)
    >>> logits.argmax(dim=1).tolist()
    [0, 0, 1]
    >>> [round(3 * g, 4) for g in cross_entropy_grad(logits, torch.tensor([0, 0, 0]))[:, 0].tolist()]
    [-0.5853, -0.0007, -0.8935]
    """
    check.tensor("input", input, ndim=2)
    _class_dim(input)
    B, C = input.shape
    _check_indices(target, input, ignore_index=-100)
    if bool((target == -100).any()):
        raise ValueError(f"target must contain class indices in [0, {C})")
    with torch.no_grad():
        p = (input - torch.logsumexp(input, 1, keepdim=True)).exp()  # (B, C), softmax
        y = torch.zeros_like(p).scatter_(1, target.long().unsqueeze(1), 1.0)  # (B, C), one-hot
        return (p - y) / B


@question(
    "label-smoothing",
    level="intermediate",
    short=(
        "Replace the one-hot target by 1 - eps + eps/C on the true class and eps/C elsewhere. With hard targets "
        "cross-entropy keeps rewarding larger logits; with smoothed ones its optimum is a finite logit gap, "
        "where the model's confidence is 1 - eps + eps/C, not 1. That regularizes, and often but not always "
        "improves calibration."
    ),
    followups=("categorical-vs-sparse-cross-entropy", "softmax-cross-entropy-gradient", "prevent-overfitting"),
)
def smooth_one_hot(target: torch.Tensor, num_classes: int, label_smoothing: float = 0.1) -> torch.Tensor:
    r"""One-hot targets mixed with the uniform distribution: :math:`(1-\varepsilon)\,y + \varepsilon/C`.

    **What is label smoothing and why does it help?**

    It replaces the one-hot target by :math:`1 - \varepsilon + \varepsilon/C` on the true class and
    :math:`\varepsilon/C` on every other class. With hard targets the cross-entropy keeps falling
    as the true logit grows, so the model is pushed towards infinitely confident, over-large
    logits; with smoothed targets the loss has a minimum at a finite logit gap
    :math:`\log(1 + (1 - \varepsilon)C/\varepsilon)`, where the predicted probability of the true
    class is :math:`1 - \varepsilon + \varepsilon/C`. It acts as a regularizer, and it often improves
    the calibration of over-confident networks (Müller et al.), but that is an empirical finding, not
    a guarantee: cross-entropy with hard labels is a proper scoring rule, minimized by the true class
    probabilities, while the smoothed loss is minimized by :math:`(1 - \varepsilon)\,p +
    \varepsilon/C`, so a model that was calibrated becomes under-confident.
    ``cross_entropy(x, y, label_smoothing=ε)`` equals cross-entropy against these targets.

    .. math::

        q_c = (1 - \varepsilon)\,[c = y] + \frac{\varepsilon}{C}, \qquad
        \Delta^\star = \log\frac{1 - \varepsilon + \varepsilon/C}{\varepsilon/C}

    Parameters
    ----------
    target : torch.Tensor
        Integer class indices ``(B,)`` or ``(B, *)`` in ``[0, num_classes)``.
    num_classes : int
        ``C``, at least 2.
    label_smoothing : float, default 0.1
        :math:`\varepsilon \in [0, 1]`.

    Returns
    -------
    torch.Tensor
        ``(B, C)`` (or ``(B, *, C)``) float64 probabilities, each row summing to 1.

    See Also
    --------
    torch.nn.functional.one_hot, torch.nn.CrossEntropyLoss

    References
    ----------
    .. [1] C. Szegedy et al., "Rethinking the Inception Architecture for Computer Vision",
       CVPR 2016, section 7.
    .. [2] R. Müller, S. Kornblith and G. Hinton, "When Does Label Smoothing Help?", NeurIPS 2019.

    Examples
    --------
    ``label_smoothing`` in PyTorch's cross-entropy is cross-entropy against these targets:

    >>> x = torch.randn(6, 4, dtype=torch.float64)
    >>> y = torch.tensor([0, 3, 2, 1, 1, 0])
    >>> q = smooth_one_hot(y, 4, 0.1)
    >>> torch.allclose(F.cross_entropy(x, y, label_smoothing=0.1), F.cross_entropy(x, q))
    True

    With hard targets the loss keeps falling as the true logit grows; with smoothing it is
    smallest at the finite gap :math:`\log(1 + 0.9 \cdot 10 / 0.1) = \log 91`:

    >>> gap = torch.linspace(0, 12, 1201, dtype=torch.float64)
    >>> logits = torch.zeros(1201, 10, dtype=torch.float64)
    >>> logits[:, 0] = gap
    >>> y0 = torch.zeros(1201, dtype=torch.long)
    >>> hard = F.cross_entropy(logits, y0, reduction="none")
    >>> soft = F.cross_entropy(logits, y0, reduction="none", label_smoothing=0.1)
    >>> bool((hard.diff() < 0).all())
    True
    >>> bool(abs(gap[soft.argmin()] - np.log(91)) <= 0.01)  # within one step of the grid
    True

    At that optimum the softmax equals the smoothed target (the gradient :math:`p - q` is zero), so
    the model's confidence is :math:`1 - 0.1 + 0.1/10 = 0.91`, never 1:

    >>> z = smooth_one_hot(torch.tensor([0]), 10, 0.1).log().requires_grad_()  # logits log q
    >>> (g,) = torch.autograd.grad(F.cross_entropy(z, torch.tensor([0]), label_smoothing=0.1), z)
    >>> delta = (z[0, 0] - z[0, 1]).item()
    >>> bool(g.abs().max() < 1e-15), round(z.softmax(dim=1)[0, 0].item(), 4), bool(abs(delta - np.log(91)) < 1e-12)
    (True, 0.91, True)

    Calibration is not guaranteed. If the true class has probability 0.97 (label noise), the hard
    loss's optimum predicts 0.97, calibrated; the smoothed loss's predicts 0.898, under-confident
    (the gradient of the expected loss is zero at each):

    >>> p = torch.tensor([0.97, 0.01, 0.01, 0.01], dtype=torch.float64)
    >>> def expected_loss(z, eps):  # E_{y ~ p} of the (smoothed) cross-entropy at logits z
    ...     return F.cross_entropy(z.expand(4, 4), torch.arange(4), reduction="none", label_smoothing=eps) @ p
    >>> for eps in (0.0, 0.1):
    ...     z = ((1 - eps) * p + eps / 4).log().requires_grad_()
    ...     (g,) = torch.autograd.grad(expected_loss(z, eps), z)
    ...     print(bool(g.abs().max() < 1e-12), round(z.softmax(dim=0)[0].item(), 4))
    True 0.97
    True 0.898
    """
    num_classes = check.integer("num_classes", num_classes, low=2)
    eps = check.number("label_smoothing", label_smoothing, low=0.0, high=1.0)
    _integer_target(target)
    if bool(((target < 0) | (target >= num_classes)).any()):
        raise ValueError(f"target must contain class indices in [0, {num_classes})")
    y = torch.nn.functional.one_hot(target.long(), num_classes).double()  # (B, *, C)
    return (1 - eps) * y + eps / num_classes
