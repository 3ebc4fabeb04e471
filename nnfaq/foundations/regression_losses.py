"""Regression losses and KL divergence

Losses on real-valued errors and between distributions: mean squared error and why it is the
wrong loss for a classifier, L1 and its robustness to outliers, the Huber loss between them, and
KL divergence with PyTorch's easily misread ``kl_div`` argument convention.
"""

from __future__ import annotations

import math

import torch

from nnfaq import _validate as check
from nnfaq._registry import question
from nnfaq.foundations import _reduction

__all__ = ["huber_loss", "kl_div", "l1_loss", "mse_loss"]


def _pair(input, target, reduction: str, reductions: tuple[str, ...] = _reduction.REDUCTIONS) -> None:
    check.tensor("input", input)
    check.tensor("target", target)
    check.same_shape("target", target, input.shape, "the shape of input")
    check.choice("reduction", reduction, reductions)


@question(
    "cross-entropy-vs-mse",
    level="basic",
    short=(
        "Because of the gradient at the logit. Behind a sigmoid, MSE's gradient is 2 (p - y) p (1 - p), which "
        "vanishes when the output saturates on the wrong side, so learning stalls where the model is most wrong; "
        "cross-entropy's is p - y. Cross-entropy is the likelihood of a categorical output; MSE assumes Gaussian "
        "noise, right for regression."
    ),
    followups=("softmax-cross-entropy-gradient", "bce-with-logits", "l1-vs-l2-loss"),
)
def mse_loss(input: torch.Tensor, target: torch.Tensor, *, reduction: str = "mean") -> torch.Tensor:
    r"""Mean squared error :math:`\frac1n\sum_i (x_i - y_i)^2`.

    **Why use cross-entropy rather than mean squared error for classification?**

    Because of the gradient at the logit. Behind a sigmoid, MSE's gradient is
    :math:`2(p - y)\,p(1 - p)`: when the output saturates on the wrong side, :math:`p(1-p) \approx 0`
    and learning stalls exactly where the model is most wrong. Cross-entropy's gradient is
    :math:`p - y`, close to :math:`\pm 1` there. Cross-entropy is also the negative log-likelihood
    of a Bernoulli or categorical output (and convex in the logits of a linear model), whereas MSE
    is the likelihood of Gaussian noise, the right assumption for regression targets.

    .. math::

        L = \frac1n\sum_i (x_i - y_i)^2, \qquad
        \frac{\partial}{\partial z}\bigl(\sigma(z) - y\bigr)^2 = 2\,(\sigma(z) - y)\,\sigma(z)\,(1 - \sigma(z))

    Parameters
    ----------
    input, target : torch.Tensor
        Predictions and targets of the same shape ``(*)``.
    reduction : {'mean', 'sum', 'none'}, default 'mean'
        Average, sum, or keep the element-wise losses.

    Returns
    -------
    torch.Tensor
        A scalar, or shape ``(*)`` if ``reduction='none'``.

    See Also
    --------
    torch.nn.functional.mse_loss, torch.nn.MSELoss

    Examples
    --------
    Matches PyTorch:

    >>> x, y = torch.randn(3, 4, dtype=torch.float64), torch.randn(3, 4, dtype=torch.float64)
    >>> torch.allclose(mse_loss(x, y), F.mse_loss(x, y))
    True

    A confidently wrong logit (target 1, logit -10): MSE's gradient has all but vanished,
    cross-entropy's is close to -1:

    >>> one = torch.ones(1, dtype=torch.float64)
    >>> z = torch.tensor([-10.0], dtype=torch.float64, requires_grad=True)
    >>> (g_mse,) = torch.autograd.grad(mse_loss(torch.sigmoid(z), one), z)
    >>> (g_ce,) = torch.autograd.grad(F.binary_cross_entropy_with_logits(z, one), z)
    >>> f"{g_mse.item():.1e}", round(g_ce.item(), 4)
    ('-9.1e-05', -1.0)
    """
    _pair(input, target, reduction)
    # e_i = x_i - y_i, loss e_i^2
    return _reduction.reduce((input - target).pow(2), reduction)


@question(
    "l1-vs-l2-loss",
    level="basic",
    short=(
        "L2 squares the errors: large errors dominate, the best constant prediction is the mean, and the gradient "
        "grows with the error. L1 takes absolute values: the best constant is the median, so outliers pull it far "
        "less, and the gradient has size 1 whatever the error. Use L2 for Gaussian-like noise, L1 or Huber when "
        "targets have outliers."
    ),
    followups=("huber-loss", "cross-entropy-vs-mse"),
)
def l1_loss(input: torch.Tensor, target: torch.Tensor, *, reduction: str = "mean") -> torch.Tensor:
    r"""Mean absolute error :math:`\frac1n\sum_i |x_i - y_i|`.

    **What is the difference between the L1 (MAE) and the L2 (MSE) loss?**

    L2 squares the errors: large errors dominate, the best constant prediction is the mean, and the
    gradient grows with the error. L1 takes absolute values: every error counts in proportion, the
    best constant prediction is the median, so outliers pull it much less, and the gradient is
    :math:`\pm 1` whatever the error's size (undefined at 0, where PyTorch uses 0). Use L2 for
    Gaussian-like noise, L1 (or Huber) when the targets contain outliers.

    .. math::

        L = \frac1n\sum_i |x_i - y_i|, \qquad \frac{\partial L}{\partial x_i} = \frac{\mathrm{sign}(x_i - y_i)}{n}

    Parameters
    ----------
    input, target : torch.Tensor
        Predictions and targets of the same shape ``(*)``.
    reduction : {'mean', 'sum', 'none'}, default 'mean'
        Average, sum, or keep the element-wise losses.

    Returns
    -------
    torch.Tensor
        A scalar, or shape ``(*)`` if ``reduction='none'``.

    See Also
    --------
    torch.nn.functional.l1_loss, torch.nn.L1Loss, mse_loss, huber_loss

    Examples
    --------
    Matches PyTorch:

    >>> x, y = torch.randn(3, 4, dtype=torch.float64), torch.randn(3, 4, dtype=torch.float64)
    >>> torch.allclose(l1_loss(x, y), F.l1_loss(x, y))
    True

    The best constant prediction for targets with an outlier: L1 picks the median, MSE the mean:

    >>> y = torch.tensor([1.0, 2.0, 3.0, 4.0, 100.0], dtype=torch.float64)
    >>> c = torch.arange(0.0, 101.0, dtype=torch.float64)
    >>> l1 = torch.stack([l1_loss(ci.expand(5), y) for ci in c])
    >>> l2 = torch.stack([mse_loss(ci.expand(5), y) for ci in c])
    >>> c[l1.argmin()].item(), y.median().item(), c[l2.argmin()].item(), y.mean().item()
    (3.0, 3.0, 22.0, 22.0)

    The L1 gradient has the same size for a small and a huge error:

    >>> e = torch.tensor([0.1, 50.0], dtype=torch.float64, requires_grad=True)
    >>> l1_loss(e, torch.zeros(2, dtype=torch.float64), reduction="sum").backward()
    >>> e.grad.tolist()
    [1.0, 1.0]
    """
    _pair(input, target, reduction)
    return _reduction.reduce((input - target).abs(), reduction)


@question(
    "huber-loss",
    level="basic",
    short=(
        "Half the squared error for errors up to delta, delta (|e| - delta / 2) beyond, joined smoothly. Its "
        "gradient is the error clipped to [-delta, delta]: smooth near the optimum like MSE, yet an outlier "
        "contributes at most delta, like L1. Use it for regression with occasional outliers, such as "
        "bounding boxes or value targets in reinforcement learning."
    ),
    followups=("l1-vs-l2-loss", "gradient-clipping"),
)
def huber_loss(input: torch.Tensor, target: torch.Tensor, reduction: str = "mean", delta: float = 1.0) -> torch.Tensor:
    r"""Huber loss: quadratic for errors up to ``delta``, linear beyond.

    **What is the Huber loss and when would you use it?**

    It is MSE for small errors and L1 for large ones: :math:`\frac12 e^2` when :math:`|e| \le
    \delta`, :math:`\delta(|e| - \frac12\delta)` beyond, joined smoothly. Its gradient is the error
    clipped to :math:`[-\delta, \delta]`, so it is smooth near the optimum like MSE, yet an outlier
    cannot contribute more than :math:`\delta`, like L1. Use it for regression with occasional
    outliers (bounding-box regression, value targets in reinforcement learning); ``delta`` sets
    where an error counts as an outlier.

    .. math::

        \ell(e) = \begin{cases} \tfrac12 e^2 & |e| \le \delta \\
        \delta\,(|e| - \tfrac12\delta) & |e| > \delta \end{cases}, \qquad
        \ell'(e) = \mathrm{clamp}(e, -\delta, \delta)

    Parameters
    ----------
    input, target : torch.Tensor
        Predictions and targets of the same shape ``(*)``.
    reduction : {'mean', 'sum', 'none'}, default 'mean'
        Average, sum, or keep the element-wise losses.
    delta : float, default 1.0
        Where the loss turns from quadratic to linear; positive and finite.

    Returns
    -------
    torch.Tensor
        A scalar, or shape ``(*)`` if ``reduction='none'``.

    See Also
    --------
    torch.nn.functional.huber_loss, torch.nn.functional.smooth_l1_loss

    Notes
    -----
    ``smooth_l1_loss`` with ``beta`` is the Huber loss divided by ``beta``: the same shape, a
    different scale of the linear part.

    Examples
    --------
    Matches PyTorch, and is ``delta`` times the smooth L1 loss:

    >>> x, y = 3 * torch.randn(50, dtype=torch.float64), torch.randn(50, dtype=torch.float64)
    >>> torch.allclose(huber_loss(x, y, delta=2.0), F.huber_loss(x, y, delta=2.0))
    True
    >>> torch.allclose(huber_loss(x, y, delta=2.0), 2.0 * F.smooth_l1_loss(x, y, beta=2.0))
    True

    Its gradient is the error clipped to ``[-delta, delta]``:

    >>> e = torch.tensor([-10.0, -0.5, 0.3, 4.0], dtype=torch.float64, requires_grad=True)
    >>> huber_loss(e, torch.zeros(4, dtype=torch.float64), reduction="sum").backward()
    >>> e.grad.tolist()
    [-1.0, -0.5, 0.3, 1.0]
    """
    _pair(input, target, reduction)
    # an infinite delta would make the unused linear branch's gradient inf * 0 = NaN
    delta = check.number("delta", delta, low=0.0, low_open=True, high=math.inf, high_open=True)
    e = input - target  # input's shape
    a = e.abs()  # input's shape
    loss = torch.where(a <= delta, 0.5 * e.pow(2), delta * (a - 0.5 * delta))  # input's shape
    return _reduction.reduce(loss, reduction)


@question(
    "kl-divergence",
    level="intermediate",
    short=(
        "KL(p || q), the sum of p log(p / q), is how much worse a code built for q does on data from p: "
        "non-negative, zero only when q = p, not symmetric. Cross-entropy is H(p) + KL(p || q), so for fixed "
        "targets both have the same gradients. PyTorch's kl_div takes log-probabilities first, the target second; "
        "use reduction='batchmean'."
    ),
    followups=("loss-function", "label-smoothing", "cross-entropy-vs-mse"),
)
def kl_div(
    input: torch.Tensor, target: torch.Tensor, *, reduction: str = "mean", log_target: bool = False
) -> torch.Tensor:
    r"""KL divergence :math:`\mathrm{KL}(\text{target} \,\|\, \exp(\text{input}))`, PyTorch's convention.

    **What is the KL divergence, and how does it relate to cross-entropy?**

    :math:`\mathrm{KL}(p\,\|\,q) = \sum_c p_c \log(p_c / q_c)` measures how much worse a code built
    for :math:`q` does on data from :math:`p`; it is non-negative, zero only when :math:`q = p`,
    and not symmetric. Cross-entropy is :math:`H(p, q) = H(p) + \mathrm{KL}(p\,\|\,q)`: for fixed
    targets :math:`p` the entropy :math:`H(p)` is a constant, so minimizing cross-entropy and
    minimizing KL give the same gradients (and equal values for one-hot targets, where
    :math:`H(p) = 0`). ``F.kl_div`` takes the model's *log*-probabilities first and the target
    second, and needs ``reduction='batchmean'`` for the textbook value.

    .. math::

        \mathrm{KL}(p\,\|\,q) = \sum_c p_c\,(\log p_c - \log q_c), \qquad
        \text{input} = \log q, \ \text{target} = p

    Parameters
    ----------
    input : torch.Tensor
        Log-probabilities :math:`\log q`, shape ``(B, C)`` or ``(*)``; all at most 0.
    target : torch.Tensor
        Same shape: probabilities :math:`p` (or :math:`\log p` if ``log_target``).
    reduction : {'mean', 'batchmean', 'sum', 'none'}, default 'mean'
        ``'batchmean'`` divides the sum by the batch size ``B`` (the true KL per example);
        ``'mean'`` divides by the number of elements ``B*C``, as PyTorch does.
    log_target : bool, default False
        Whether ``target`` holds log-probabilities.

    Returns
    -------
    torch.Tensor
        A scalar, or shape ``(*)`` if ``reduction='none'``.

    See Also
    --------
    torch.nn.functional.kl_div, torch.nn.KLDivLoss

    Notes
    -----
    .. admonition:: Common mistake

        "``F.kl_div(p, q)`` computes KL(p || q), with the arguments in the order of the formula."

        The first argument is the model's log-probabilities :math:`\log q` and the second the
        target :math:`p`; the result is :math:`\mathrm{KL}(p\,\|\,q)`. Passing probabilities
        instead of log-probabilities silently gives a wrong number, even a negative one, which no KL
        can be (this function refuses it); and the default ``reduction='mean'`` is smaller than the
        KL by the number of classes. The examples prove both.

    Examples
    --------
    Matches PyTorch and the textbook formula with ``reduction='batchmean'``:

    >>> p = torch.randn(4, 5, dtype=torch.float64).softmax(dim=1)
    >>> q = torch.randn(4, 5, dtype=torch.float64).softmax(dim=1)
    >>> ours = kl_div(q.log(), p, reduction="batchmean")
    >>> torch.allclose(ours, F.kl_div(q.log(), p, reduction="batchmean"))
    True
    >>> torch.allclose(ours, (p * (p.log() - q.log())).sum(dim=1).mean())
    True

    ``'mean'`` divides by all 20 elements, not by the 4 examples:

    >>> torch.allclose(kl_div(q.log(), p) * 5, ours)
    True

    Cross-entropy equals entropy plus KL, and it is not symmetric:

    >>> ce = -(p * q.log()).sum(dim=1).mean()
    >>> entropy = -(p * p.log()).sum(dim=1).mean()
    >>> torch.allclose(ce, entropy + ours)
    True
    >>> torch.allclose(ours, kl_div(p.log(), q, reduction="batchmean"))
    False

    For fixed targets, cross-entropy and KL have the same gradient with respect to the logits:

    >>> x = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
    >>> (g_ce,) = torch.autograd.grad(F.cross_entropy(x, p), x)
    >>> (g_kl,) = torch.autograd.grad(kl_div(x.log_softmax(dim=1), p, reduction="batchmean"), x)
    >>> torch.allclose(g_ce, g_kl)
    True

    Probabilities in place of log-probabilities: PyTorch returns a negative "KL" without a word,
    this function refuses:

    >>> bool(F.kl_div(q, p, reduction="batchmean") < 0)
    True
    >>> kl_div(q, p, reduction="batchmean")
    Traceback (most recent call last):
        ...
    ValueError: input must contain log-probabilities (all <= 0, no NaN); pass log(q), not q
    """
    _pair(input, target, reduction, (*_reduction.REDUCTIONS, "batchmean"))
    check.flag("log_target", log_target)
    if not bool((input <= 0).all()):  # also refuses NaN
        raise ValueError("input must contain log-probabilities (all <= 0, no NaN); pass log(q), not q")
    if log_target:
        if not bool((target <= 0).all()):
            raise ValueError("target must contain log-probabilities (all <= 0, no NaN) when log_target=True")
        # p (log p - log q)
        loss = target.exp() * (target - input)  # input's shape
    else:
        check.probabilities("target", target)
        # p log p - p log q, with 0 log 0 = 0
        loss = torch.xlogy(target, target) - target * input  # input's shape
    if reduction == "batchmean":
        return loss.sum() / (input.shape[0] if input.dim() else 1)
    return _reduction.reduce(loss, reduction)
