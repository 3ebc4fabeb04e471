"""Output layers: sigmoid, softmax and their losses

Which activation ends a classifier and why the loss wants the values before it: softmax and its
relation to the sigmoid, the numerically stable log-softmax that ``CrossEntropyLoss`` computes
for you, sigmoid outputs with binary cross-entropy for multi-label problems, and why
``BCEWithLogitsLoss`` beats a sigmoid followed by ``BCELoss``.
"""

from __future__ import annotations

import math

import torch

from nnfaq import _reduction
from nnfaq import _validate as check
from nnfaq._registry import question

__all__ = ["binary_cross_entropy", "binary_cross_entropy_with_logits", "log_softmax", "softmax"]


def _dim(input: torch.Tensor, dim) -> int:
    dim = check.integer("dim", dim)
    if not -input.dim() <= dim < input.dim():
        raise ValueError(
            f"dim must be in [{-input.dim()}, {input.dim()}) for input of shape {tuple(input.shape)}, got {dim}"
        )
    if input.shape[dim] == 0:
        raise ValueError(f"input must have at least one entry along dim={dim}, got shape {tuple(input.shape)}")
    return dim


def _weight(name: str, w, input: torch.Tensor) -> torch.Tensor:
    """Check an optional weight tensor that must broadcast to ``input``'s shape (the output keeps that shape)."""
    check.tensor(name, w)
    try:
        fits = torch.broadcast_shapes(w.shape, input.shape) == input.shape
    except RuntimeError:
        fits = False
    if not fits:
        raise ValueError(f"{name} must broadcast to input's shape {tuple(input.shape)}, got shape {tuple(w.shape)}")
    return w


@question("sigmoid-vs-softmax")
def softmax(input: torch.Tensor, dim: int) -> torch.Tensor:
    r"""Numerically stable softmax along ``dim``: exponentiate, then divide by the sum.

    **When do you use a sigmoid and when a softmax in the output layer?**

    Use a softmax over ``C`` outputs when exactly one class is true (multi-class): the outputs form
    one probability distribution, so classes compete. Use one sigmoid per output when each label is
    a separate yes/no question (binary, or multi-label where several labels can be true at once).
    For two classes the two are the same model: a 2-way softmax equals the sigmoid of the logit
    difference. Either way, feed the *logits* to the loss, not the probabilities.

    .. math::

        \mathrm{softmax}(x)_i = \frac{e^{x_i - m}}{\sum_j e^{x_j - m}}, \quad m = \max_j x_j,
        \qquad \mathrm{softmax}(x_0, x_1)_1 = \sigma(x_1 - x_0)

    Parameters
    ----------
    input : torch.Tensor
        Logits of any shape ``(*)``, floating point.
    dim : int
        The class dimension, e.g. 1 for ``(B, C)``.

    Returns
    -------
    torch.Tensor
        Same shape as ``input``; non-negative, summing to 1 along ``dim``.

    See Also
    --------
    torch.nn.functional.softmax, torch.sigmoid, log_softmax

    Notes
    -----
    Subtracting the maximum changes nothing mathematically (softmax is shift invariant) but keeps
    every exponent at most 0, so ``exp`` cannot overflow. The naive formula returns NaN as soon as a
    logit exceeds about 709 in float64 (88 in float32).

    .. admonition:: Common mistake

        "Use sigmoid for binary classification and softmax for multi-class classification."

        Half true: the choice depends on whether the labels are mutually exclusive, not on how many
        there are. Multi-label problems with many classes need one sigmoid per label, because a
        softmax makes two true labels share one unit of probability; and for two classes a softmax
        is a sigmoid of the logit difference. The examples prove both.

    Examples
    --------
    Matches PyTorch, and every row is a probability distribution:

    >>> x = torch.randn(4, 3, dtype=torch.float64)
    >>> torch.allclose(softmax(x, dim=1), F.softmax(x, dim=1))
    True
    >>> torch.allclose(softmax(x, dim=1).sum(dim=1), torch.ones(4, dtype=torch.float64))
    True

    Two classes: the softmax is the sigmoid of the logit difference:

    >>> z = torch.randn(5, 2, dtype=torch.float64)
    >>> torch.allclose(softmax(z, dim=1)[:, 1], torch.sigmoid(z[:, 1] - z[:, 0]))
    True

    Two labels present at once: softmax splits the mass, sigmoids can say yes to both:

    >>> logits = torch.tensor([4.0, 4.0, -4.0], dtype=torch.float64)
    >>> [round(p, 3) for p in softmax(logits, dim=0).tolist()]
    [0.5, 0.5, 0.0]
    >>> [round(p, 3) for p in torch.sigmoid(logits).tolist()]
    [0.982, 0.982, 0.018]

    The naive formula overflows; the stable one does not:

    >>> big = torch.tensor([1000.0, 999.0], dtype=torch.float64)
    >>> bool((big.exp() / big.exp().sum()).isnan().all())
    True
    >>> [round(p, 4) for p in softmax(big, dim=0).tolist()]
    [0.7311, 0.2689]
    """
    check.tensor("input", input, min_ndim=1)
    dim = _dim(input, dim)
    # softmax(x) = softmax(x - m); no gradient flows through m because the result does not depend on it
    m = input.amax(dim, keepdim=True).detach()  # (*, 1, *)
    e = (input - m).exp()  # (*), every entry in (0, 1]
    return e / e.sum(dim, keepdim=True)


@question("cross-entropy-takes-logits")
def log_softmax(input: torch.Tensor, dim: int) -> torch.Tensor:
    r"""Log-softmax along ``dim`` with the log-sum-exp trick: :math:`x_i - \log\sum_j e^{x_j}`.

    **Why does PyTorch's CrossEntropyLoss take raw logits instead of probabilities?**

    Because it applies log-softmax itself, in one numerically stable step: :math:`\log p_i = x_i -
    \mathrm{logsumexp}(x)` is exact for any logits, while ``log(softmax(x))`` rounds tiny
    probabilities to 0 and returns ``-inf`` for a confidently wrong prediction. Passing
    probabilities applies softmax twice: the loss is a different, wrong number that can never reach
    0, and its gradients shrink. So the network's last layer is linear, and ``softmax`` is applied
    only when you need probabilities for reporting.

    .. math::

        \log\mathrm{softmax}(x)_i = x_i - m - \log\sum_j e^{x_j - m}, \qquad m = \max_j x_j

    Parameters
    ----------
    input : torch.Tensor
        Logits of any shape ``(*)``, floating point.
    dim : int
        The class dimension.

    Returns
    -------
    torch.Tensor
        Same shape as ``input``: log-probabilities, all at most 0.

    See Also
    --------
    torch.nn.functional.log_softmax, torch.logsumexp, torch.nn.CrossEntropyLoss

    Examples
    --------
    Matches PyTorch:

    >>> x = torch.randn(4, 5, dtype=torch.float64)
    >>> torch.allclose(log_softmax(x, dim=1), F.log_softmax(x, dim=1))
    True

    A confidently wrong logit: the stable form is exact, log of softmax gives ``-inf``:

    >>> z = torch.tensor([0.0, 800.0], dtype=torch.float64)
    >>> log_softmax(z, dim=0)[0].item()
    -800.0
    >>> torch.log(z.softmax(dim=0))[0].item()
    -inf

    ``F.cross_entropy`` is the mean of ``-log_softmax`` at the true class:

    >>> t = torch.tensor([0, 1, 2, 3])
    >>> right = F.cross_entropy(x, t)
    >>> torch.allclose(right, -log_softmax(x, dim=1)[torch.arange(4), t].mean())
    True

    Feeding it probabilities gives a different loss, which even a perfect one-hot prediction cannot
    bring below :math:`\log(1 + (C-1)/e)`:

    >>> torch.allclose(right, F.cross_entropy(x.softmax(dim=1), t))
    False
    >>> perfect = torch.eye(5, dtype=torch.float64)[:4]
    >>> round(F.cross_entropy(perfect, t).item(), 4), round(float(np.log(1 + 4 / np.e)), 4)
    (0.9048, 0.9048)
    """
    check.tensor("input", input, min_ndim=1)
    dim = _dim(input, dim)
    m = input.amax(dim, keepdim=True).detach()  # (*, 1, *), the shift cancels out of the result
    # logsumexp(x) = m + log(sum_j exp(x_j - m))
    lse = m + (input - m).exp().sum(dim, keepdim=True).log()  # (*, 1, *)
    return input - lse


@question("multi-label-output")
def binary_cross_entropy(
    input: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None, *, reduction: str = "mean"
) -> torch.Tensor:
    r"""Binary cross-entropy between probabilities ``input`` and targets in ``[0, 1]``, element-wise.

    **How do you build the output layer and loss for multi-label classification?**

    Give the network one output per label, put a sigmoid on each, and train with binary
    cross-entropy on each output against a 0/1 target vector (``BCEWithLogitsLoss`` on the logits in
    practice). Each label is an independent yes/no question, so the probabilities need not sum to
    1 and several can be near 1 at once; a softmax would force the labels to compete. At inference,
    threshold each probability (0.5 by default, or tuned per label).

    .. math::

        \ell_i = -w_i\,\bigl[y_i \log p_i + (1 - y_i) \log(1 - p_i)\bigr],
        \qquad \log(\cdot) \text{ clamped at } -100

    Parameters
    ----------
    input : torch.Tensor
        Probabilities in ``[0, 1]``, any shape ``(*)``, e.g. ``(B, C)`` for ``C`` labels.
    target : torch.Tensor
        Same shape as ``input``, values in ``[0, 1]``.
    weight : torch.Tensor, optional
        Rescales each element's loss; broadcast to ``input``'s shape.
    reduction : {'mean', 'sum', 'none'}, default 'mean'
        Average, sum, or keep the element-wise losses.

    Returns
    -------
    torch.Tensor
        A scalar, or shape ``(*)`` if ``reduction='none'``.

    See Also
    --------
    torch.nn.functional.binary_cross_entropy, torch.nn.BCELoss, binary_cross_entropy_with_logits

    Notes
    -----
    The logs are clamped at -100, as PyTorch does, so a probability of exactly 0 or 1 gives a
    finite loss; that clamp is why the logits version is preferred (see
    :func:`binary_cross_entropy_with_logits`).

    Examples
    --------
    Matches PyTorch on a batch of 4 examples with 3 labels each:

    >>> p = torch.rand(4, 3, dtype=torch.float64)
    >>> y = torch.randint(0, 2, (4, 3)).double()
    >>> torch.allclose(binary_cross_entropy(p, y), F.binary_cross_entropy(p, y))
    True

    An example with two true labels: sigmoids reach a loss near 0, a softmax cannot go below
    :math:`\log 2` because the two labels share one unit of probability:

    >>> y = torch.tensor([[1.0, 1.0, 0.0]], dtype=torch.float64)
    >>> logits = torch.tensor([[8.0, 8.0, -8.0]], dtype=torch.float64)
    >>> round(binary_cross_entropy(torch.sigmoid(logits), y).item(), 4)
    0.0003
    >>> round(F.cross_entropy(logits, y / y.sum()).item(), 4)
    0.6931
    """
    check.tensor("input", input)
    check.tensor("target", target)
    check.same_shape("target", target, input.shape, "the shape of input")
    check.choice("reduction", reduction, _reduction.REDUCTIONS)
    check.probabilities("input", input)
    check.probabilities("target", target)
    # PyTorch clamps each log at -100 so that p = 0 or 1 gives a finite loss; clamping the argument at
    # e^-100 instead gives the same value and a zero (not NaN) gradient where the clamp is active
    floor = math.exp(-100)
    log_p = torch.log(input.clamp(min=floor))  # (*)
    log_1mp = torch.log((1 - input).clamp(min=floor))  # (*)
    loss = -(target * log_p + (1 - target) * log_1mp)  # (*)
    if weight is not None:
        loss = loss * _weight("weight", weight, input)
    return _reduction.reduce(loss, reduction)


@question("bce-with-logits")
def binary_cross_entropy_with_logits(
    input: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor | None = None,
    *,
    reduction: str = "mean",
    pos_weight: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""Binary cross-entropy computed from logits, without ever forming :math:`\sigma(x)`.

    **Why use BCEWithLogitsLoss instead of a sigmoid followed by BCELoss?**

    Mathematically they are the same loss, but numerically they are not: once :math:`\sigma(x)`
    rounds to exactly 0 or 1 (around :math:`|x| > 17` in float32), ``BCELoss`` clamps the log at
    -100 and its gradient becomes 0, so a confidently wrong prediction stops learning. Written in
    terms of the logit, the loss is :math:`(1-y)x + \mathrm{softplus}(-x)`, exact for any ``x``,
    and its gradient is :math:`\sigma(x) - y`, which never vanishes for a wrong prediction.
    ``pos_weight`` (weight of positive examples) is a further reason, for imbalanced labels.

    .. math::

        \ell = (1 - y)\,x + \bigl(1 + (w_+ - 1)\,y\bigr)\,\mathrm{softplus}(-x),
        \qquad \mathrm{softplus}(-x) = \log(1 + e^{-|x|}) + \max(-x, 0)

    Parameters
    ----------
    input : torch.Tensor
        Logits, any shape ``(*)``.
    target : torch.Tensor
        Same shape as ``input``, values in ``[0, 1]``.
    weight : torch.Tensor, optional
        Rescales each element's loss; broadcast to ``input``'s shape.
    reduction : {'mean', 'sum', 'none'}, default 'mean'
        Average, sum, or keep the element-wise losses.
    pos_weight : torch.Tensor, optional
        :math:`w_+`, weight of the positive term, broadcast along the last dimension (one per label).

    Returns
    -------
    torch.Tensor
        A scalar, or shape ``(*)`` if ``reduction='none'``.

    See Also
    --------
    torch.nn.functional.binary_cross_entropy_with_logits, torch.nn.BCEWithLogitsLoss

    Notes
    -----
    .. admonition:: Common mistake

        "A sigmoid followed by BCELoss is the same as BCEWithLogitsLoss."

        Only in exact arithmetic. At a saturated wrong logit the sigmoid rounds to 0, BCELoss
        clamps the loss at 100 and passes back a zero gradient, while the logits form returns the
        exact loss and a gradient of -1; the examples show both.

    Examples
    --------
    Matches PyTorch, with and without ``pos_weight``:

    >>> x = 3 * torch.randn(4, 3, dtype=torch.float64)
    >>> y = torch.randint(0, 2, (4, 3)).double()
    >>> torch.allclose(binary_cross_entropy_with_logits(x, y), F.binary_cross_entropy_with_logits(x, y))
    True
    >>> pw = torch.tensor([1.0, 2.0, 5.0], dtype=torch.float64)
    >>> ours = binary_cross_entropy_with_logits(x, y, pos_weight=pw)
    >>> torch.allclose(ours, F.binary_cross_entropy_with_logits(x, y, pos_weight=pw))
    True

    A confidently wrong logit: sigmoid + BCE clamps the loss at 100 and its gradient vanishes; the
    logits form is exact (the loss is 800) and its gradient is :math:`\sigma(x) - y = -1`:

    >>> one = torch.ones(1, dtype=torch.float64)
    >>> a = torch.tensor([-800.0], dtype=torch.float64, requires_grad=True)
    >>> clamped = F.binary_cross_entropy(torch.sigmoid(a), one)
    >>> clamped.backward()
    >>> clamped.item(), a.grad.abs().item()
    (100.0, 0.0)
    >>> b = torch.tensor([-800.0], dtype=torch.float64, requires_grad=True)
    >>> exact = binary_cross_entropy_with_logits(b, one)
    >>> exact.backward()
    >>> exact.item(), b.grad.item()
    (800.0, -1.0)
    """
    check.tensor("input", input)
    check.tensor("target", target)
    check.same_shape("target", target, input.shape, "the shape of input")
    check.choice("reduction", reduction, _reduction.REDUCTIONS)
    check.probabilities("target", target)
    # softplus(-x) = log(e^0 + e^-x); logaddexp never overflows and its gradient is exactly -sigmoid(-x)
    softplus_neg = torch.logaddexp(torch.zeros_like(input), -input)  # (*)
    if pos_weight is None:
        loss = (1 - target) * input + softplus_neg  # (*)
    else:
        _weight("pos_weight", pos_weight, input)
        loss = (1 - target) * input + (1 + (pos_weight - 1) * target) * softplus_neg  # (*)
    if weight is not None:
        loss = loss * _weight("weight", weight, input)
    return _reduction.reduce(loss, reduction)
