"""Output layers: sigmoid, softmax and their losses

Which activation ends a classifier and why the loss wants the values before it: softmax and its
relation to the sigmoid, the numerically stable log-softmax that ``CrossEntropyLoss`` computes
for you, sigmoid outputs with binary cross-entropy for multi-label problems, and why
``BCEWithLogitsLoss`` beats a sigmoid followed by ``BCELoss``.
"""

from __future__ import annotations

import torch

from nnfaq import _validate as check
from nnfaq._registry import question
from nnfaq.foundations import _reduction

__all__ = ["binary_cross_entropy", "binary_cross_entropy_with_logits", "log_softmax", "softmax"]

# PyTorch's binary_cross_entropy_backward divides by max(p (1 - p), EPSILON) (aten/src/ATen/native/Loss.cpp)
_EPSILON = 1e-12


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


@question(
    "sigmoid-vs-softmax",
    level="basic",
    short=(
        "A softmax over C outputs when exactly one class is true: the outputs form one distribution, so the "
        "classes compete. One sigmoid per output when each label is its own yes/no question, binary or "
        "multi-label. For two classes they are the same model: a 2-way softmax is the sigmoid of the logit "
        "difference. Either way, give the loss the logits."
    ),
    followups=("multi-label-output", "cross-entropy-takes-logits", "bce-with-logits"),
)
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
    m = input.amax(dim, keepdim=True).detach()  # 1 along dim
    e = (input - m).exp()  # every entry in (0, 1]
    return e / e.sum(dim, keepdim=True)


@question(
    "cross-entropy-takes-logits",
    level="basic",
    short=(
        "It applies log-softmax itself, as x - logsumexp(x), which is exact for any logits, while "
        "log(softmax(x)) rounds tiny probabilities to 0 and returns -inf. Passing probabilities applies softmax "
        "twice: a different loss that can never reach 0, with vanishing gradients for confident mistakes. So the "
        "last layer stays linear, and softmax only reports probabilities."
    ),
    followups=("softmax-cross-entropy-gradient", "sigmoid-vs-softmax", "bce-with-logits"),
)
def log_softmax(input: torch.Tensor, dim: int) -> torch.Tensor:
    r"""Log-softmax along ``dim`` with the log-sum-exp trick: :math:`x_i - \log\sum_j e^{x_j}`.

    **Why does PyTorch's CrossEntropyLoss take raw logits instead of probabilities?**

    Because it applies log-softmax itself, in one numerically stable step: :math:`\log p_i = x_i -
    \mathrm{logsumexp}(x)` is exact for any logits, while ``log(softmax(x))`` rounds tiny
    probabilities to 0 and returns ``-inf`` for a confidently wrong prediction. Passing
    probabilities applies softmax twice: the loss is a different, wrong number that can never reach
    0, and the second softmax's flat ends make the gradient of a confident mistake vanish. So the
    network's last layer is linear, and ``softmax`` is applied only when you need probabilities for
    reporting.

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

    And a confidently wrong logit gets almost no gradient through the extra softmax:

    >>> wrong = torch.tensor([[0.0, 10.0]], dtype=torch.float64, requires_grad=True)
    >>> (g_right,) = torch.autograd.grad(F.cross_entropy(wrong, t[:1]), wrong)
    >>> (g_twice,) = torch.autograd.grad(F.cross_entropy(wrong.softmax(dim=1), t[:1]), wrong)
    >>> round(g_right[0, 0].item(), 4), bool(g_twice.abs().max() < 1e-3)
    (-1.0, True)
    """
    check.tensor("input", input, min_ndim=1)
    dim = _dim(input, dim)
    m = input.amax(dim, keepdim=True).detach()  # 1 along dim; the shift cancels out of the result
    # logsumexp(x) = m + log(sum_j exp(x_j - m))
    lse = m + (input - m).exp().sum(dim, keepdim=True).log()  # 1 along dim
    return input - lse


class _BinaryCrossEntropy(torch.autograd.Function):
    """Element-wise BCE with PyTorch's two clamps: each log at -100, and p(1 - p) at 1e-12 in the backward."""

    @staticmethod
    def forward(ctx, p, y):
        ctx.save_for_backward(p, y)
        # l = -(y log p + (1 - y) log(1 - p)), each log clamped at -100 so that p = 0 or 1 stays finite
        return -(y * torch.log(p).clamp(min=-100) + (1 - y) * torch.log1p(-p).clamp(min=-100))

    @staticmethod
    def backward(ctx, grad):
        p, y = ctx.saved_tensors
        # dl/dp = (p - y) / (p (1 - p)), the denominator clamped at 1e-12 as in PyTorch's kernel
        grad_p = grad * (p - y) / (p * (1 - p)).clamp(min=_EPSILON)
        # dl/dy = log(1 - p) - log p = -logit(p)
        grad_y = -grad * torch.logit(p) if ctx.needs_input_grad[1] else None
        return grad_p, grad_y


@question(
    "multi-label-output",
    level="basic",
    short=(
        "One output per label, a sigmoid on each, and binary cross-entropy per output against a 0/1 target "
        "vector; in practice BCEWithLogitsLoss on the logits. Each label is its own yes/no question, so several "
        "probabilities can be near 1 at once, where a softmax would make them compete. At inference, threshold "
        "each probability: 0.5, or tuned per label."
    ),
    followups=("sigmoid-vs-softmax", "bce-with-logits", "categorical-vs-sparse-cross-entropy"),
)
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
    Like PyTorch, the logs are clamped at -100, so a probability of exactly 0 or 1 gives a finite
    loss, and the backward pass is PyTorch's: :math:`\partial\ell/\partial p = w\,(p - y) /
    \max(p(1-p), 10^{-12})`. Those two clamps are why the logits version is preferred (see
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

    At probabilities of 0 and 1, and near them, loss and gradient are PyTorch's clamped ones:

    >>> p = torch.tensor([0.0, 1e-15, 0.5, 1.0], dtype=torch.float64, requires_grad=True)
    >>> y = torch.tensor([1.0, 1.0, 0.0, 1.0], dtype=torch.float64)
    >>> ours, ref = binary_cross_entropy(p, y, reduction="none"), F.binary_cross_entropy(p, y, reduction="none")
    >>> torch.equal(ours, ref), ours[0].item()
    (True, 100.0)
    >>> g = torch.ones(4, dtype=torch.float64)
    >>> torch.allclose(*(torch.autograd.grad(loss, p, g)[0] for loss in (ours, ref)))
    True
    """
    check.tensor("input", input)
    check.tensor("target", target)
    check.same_shape("target", target, input.shape, "the shape of input")
    check.choice("reduction", reduction, _reduction.REDUCTIONS)
    check.probabilities("input", input)
    check.probabilities("target", target)
    loss = _BinaryCrossEntropy.apply(input, target)  # input's shape
    if weight is not None:
        loss = loss * _weight("weight", weight, input)
    return _reduction.reduce(loss, reduction)


@question(
    "bce-with-logits",
    level="advanced",
    short=(
        "Same loss in exact arithmetic, but the sigmoid rounds first. In float32 sigmoid(x) is exactly 1 from x "
        "near 17, so a wrong negative example gets BCELoss's clamped 100 and zero gradient; its backward clamp "
        "also fades a wrong positive's gradient from x near -28. The logits form, (1 - y) x + softplus(-x), stays "
        "exact."
    ),
    followups=("cross-entropy-takes-logits", "multi-label-output", "cross-entropy-vs-mse"),
)
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

    Mathematically they are the same loss, but numerically they are not, and the two sides of the
    sigmoid fail differently. In float32 :math:`\sigma(x)` rounds to exactly 1 from
    :math:`x \approx 16.6`, but to exactly 0 only below :math:`x \approx -88.7` (floats are far finer
    near 0 than near 1). So for a negative example (:math:`y = 0`) with a large logit, ``BCELoss``
    takes :math:`\log(1 - 1)`, clamps it at -100 and returns 100 with a zero gradient: from
    :math:`x \approx 17` on, a confidently wrong prediction stops learning. For a positive example
    with a very negative logit the loss stays exact down to -88, but the gradient fades much earlier:
    ``BCELoss``'s backward divides by :math:`\max(p(1-p), 10^{-12})`, so through the sigmoid it is
    about :math:`10^{12} e^{x}` once :math:`x < -27.6` (:math:`4 \cdot 10^{-6}` at -40). Written in
    terms of the logit, the loss is :math:`(1-y)x + \mathrm{softplus}(-x)`, exact for any ``x``, and
    its gradient is :math:`\sigma(x) - y`, which never vanishes for a wrong prediction.
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

        Only in exact arithmetic. In float32, a negative example with logit 20 gets the clamped
        loss 100 (instead of 20) and a zero gradient, and a positive example with logit -40 keeps
        its exact loss 40 but gets a gradient below :math:`10^{-5}`; the logits form returns the
        exact loss and a gradient of :math:`\pm 1` on both sides. The examples show each case.

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

    In float32 the sigmoid rounds to 1 between 16 and 17, but to 0 only between -88 and -89:

    >>> s = torch.sigmoid(torch.tensor([16.0, 17.0, -88.0, -89.0]))
    >>> bool(s[0] < 1), bool(s[1] == 1), bool(s[2] > 0), bool(s[3] == 0)
    (True, True, True, True)

    Loss and gradient, float32, of PyTorch's sigmoid + ``BCELoss`` and of the logits form:

    >>> def loss_and_grad(loss_fn, logit, label):
    ...     x = torch.tensor([logit], requires_grad=True)
    ...     loss = loss_fn(x, torch.tensor([label]))
    ...     loss.backward()
    ...     return round(loss.item(), 4), x.grad.item()
    >>> def sigmoid_bce(x, y):
    ...     return F.binary_cross_entropy(torch.sigmoid(x), y)

    A negative example with logit 20: the clamped loss and no gradient, against the exact loss and
    a gradient of 1:

    >>> loss_and_grad(sigmoid_bce, 20.0, 0.0), loss_and_grad(binary_cross_entropy_with_logits, 20.0, 0.0)
    ((100.0, 0.0), (20.0, 1.0))

    A positive example with logit -40: both losses are exact, but the clamped gradient has faded:

    >>> loss, grad = loss_and_grad(sigmoid_bce, -40.0, 1.0)
    >>> loss, bool(-1e-5 < grad < 0), loss_and_grad(binary_cross_entropy_with_logits, -40.0, 1.0)
    (40.0, True, (40.0, -1.0))
    """
    check.tensor("input", input)
    check.tensor("target", target)
    check.same_shape("target", target, input.shape, "the shape of input")
    check.choice("reduction", reduction, _reduction.REDUCTIONS)
    check.probabilities("target", target)
    # softplus(-x) = log(e^0 + e^-x); logaddexp never overflows and its gradient is exactly -sigmoid(-x)
    softplus_neg = torch.logaddexp(torch.zeros_like(input), -input)  # input's shape
    if pos_weight is None:
        loss = (1 - target) * input + softplus_neg  # input's shape
    else:
        _weight("pos_weight", pos_weight, input)
        loss = (1 - target) * input + (1 + (pos_weight - 1) * target) * softplus_neg  # input's shape
    if weight is not None:
        loss = loss * _weight("weight", weight, input)
    return _reduction.reduce(loss, reduction)
