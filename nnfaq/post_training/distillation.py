"""Knowledge distillation

Training a small student to match a large teacher's softened output distribution: the
temperature-scaled KL divergence, why it is multiplied by :math:`T^2`, what happens as the
temperature grows (logit matching), and which ``F.kl_div`` reduction gives the true KL.
"""

from __future__ import annotations

import math

import torch

from nnfaq import _validate as check
from nnfaq._registry import question

__all__ = ["distillation_loss"]

_REDUCTIONS = ("batchmean", "sum", "mean", "none")


@question(
    "knowledge-distillation",
    level="intermediate",
    short=(
        "The student learns to match the teacher's softened probabilities: both logits are divided by a "
        "temperature T above 1, and the loss is the KL divergence from teacher to student. Softening exposes "
        "which wrong classes the teacher finds similar. That KL's gradient shrinks like 1/T^2, so the loss is "
        "multiplied by T^2 to keep its weight."
    ),
    followups=("kl-divergence", "label-smoothing", "softmax-cross-entropy-gradient"),
)
def distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    temperature: float = 2.0,
    reduction: str = "batchmean",
) -> torch.Tensor:
    r"""Hinton's soft-target loss :math:`T^2\,\mathrm{KL}(\mathrm{softmax}(t/T) \,\|\, \mathrm{softmax}(s/T))`.

    **How does knowledge distillation work, and why is the soft-target loss multiplied by T^2?**

    The teacher's probabilities carry more than its top class: which wrong classes it finds close
    ("dark knowledge"). Dividing both networks' logits by a temperature :math:`T > 1` softens the
    distributions so that these small probabilities matter, and the student minimizes the KL
    divergence from the teacher's softened distribution to its own, usually together with the
    ordinary cross-entropy on the true labels. The gradient of the softened KL with respect to the
    student's logits is :math:`(q - p)/T`, and :math:`q - p` itself shrinks like :math:`1/T`, so the
    gradient falls as :math:`1/T^2`; multiplying by :math:`T^2` keeps the soft loss's weight
    unchanged when :math:`T` is tuned. At high :math:`T` the scaled gradient tends to the
    difference of the centred logits over the number of classes: distillation becomes logit matching.

    .. math::

        p = \mathrm{softmax}(t / T), \quad q = \mathrm{softmax}(s / T), \qquad
        L = T^2 \sum_c p_c \log \frac{p_c}{q_c}, \qquad
        \frac{\partial L}{\partial s} = T\,(q - p) \xrightarrow{T \to \infty} \frac{(s - \bar s) - (t - \bar t)}{C}

    Parameters
    ----------
    student_logits : torch.Tensor
        ``(B, C)`` logits :math:`s`.
    teacher_logits : torch.Tensor
        ``(B, C)`` logits :math:`t`; no gradient flows into them (they are detached).
    temperature : float, default 2.0
        :math:`T > 0`.
    reduction : {'batchmean', 'sum', 'mean', 'none'}, default 'batchmean'
        As in ``F.kl_div``: ``'batchmean'`` sums over classes and averages over the batch, the true
        KL per example; ``'mean'`` divides the sum by ``B * C``, which is ``C`` times too small;
        ``'none'`` returns the ``(B, C)`` terms.

    Returns
    -------
    torch.Tensor
        A scalar, or ``(B, C)`` for ``reduction='none'``.

    See Also
    --------
    torch.nn.functional.kl_div, torch.nn.functional.log_softmax

    Notes
    -----
    The full objective of Hinton et al. is
    :math:`\alpha\, \mathrm{CE}(s, y) + (1 - \alpha)\, T^2\, \mathrm{KL}`; the :math:`T^2` lets
    :math:`\alpha` be tuned independently of :math:`T`. PyTorch warns that ``F.kl_div``'s
    ``'mean'`` will change to mean ``'batchmean'`` in a future release.

    .. admonition:: Common mistake

        "The T^2 factor is an arbitrary loss weight."

        It undoes the :math:`1/T^2` that the temperature puts into the gradient; without it the soft
        loss's influence would change fourfold each time :math:`T` is doubled. The examples measure
        both.

    References
    ----------
    .. [1] G. Hinton, O. Vinyals and J. Dean, "Distilling the Knowledge in a Neural Network",
       arXiv:1503.02531, 2015, sections 2 and 2.1.

    Examples
    --------
    Matches ``F.kl_div`` on the softened distributions, times :math:`T^2`, and ``'batchmean'`` is the
    textbook KL averaged over the batch:

    >>> s, t = torch.randn(8, 10, dtype=torch.float64), torch.randn(8, 10, dtype=torch.float64)
    >>> T = 4.0
    >>> ref = F.kl_div(F.log_softmax(s / T, -1), F.softmax(t / T, -1), reduction="batchmean") * T**2
    >>> torch.allclose(distillation_loss(s, t, T), ref)
    True
    >>> p, q = F.softmax(t / T, -1), F.softmax(s / T, -1)
    >>> torch.allclose(distillation_loss(s, t, T), T**2 * (p * (p / q).log()).sum(-1).mean())
    True

    ``'mean'`` divides by all 80 elements, ``C = 10`` times less than the KL:

    >>> torch.allclose(distillation_loss(s, t, T, reduction="mean") * 10, distillation_loss(s, t, T))
    True

    Without :math:`T^2` the gradient falls about fourfold when :math:`T` doubles; with it, it stays
    within 5%:

    >>> def grad_norm(T, scaled=True):
    ...     x = s.clone().requires_grad_()
    ...     loss = distillation_loss(x, t, T) / (1 if scaled else T**2)
    ...     return torch.autograd.grad(loss, x)[0].norm().item()
    >>> 3.8 < grad_norm(10.0, scaled=False) / grad_norm(20.0, scaled=False) < 4.2
    True
    >>> abs(grad_norm(10.0) / grad_norm(20.0) - 1) < 0.05
    True

    At high temperature the scaled gradient is logit matching, :math:`((s - \bar s) - (t - \bar t)) / (C B)`:

    >>> x = s.clone().requires_grad_()
    >>> g = torch.autograd.grad(distillation_loss(x, t, 100.0), x)[0]
    >>> centred = (s - s.mean(-1, keepdim=True)) - (t - t.mean(-1, keepdim=True))
    >>> bool((g - centred / 10 / 8).norm() < 0.02 * (centred / 10 / 8).norm())
    True
    """
    check.tensor("student_logits", student_logits, ndim=2)
    check.tensor("teacher_logits", teacher_logits, ndim=2)
    check.same_shape("teacher_logits", teacher_logits, student_logits.shape, "the shape of student_logits")
    check.same_dtype("student_logits", student_logits, teacher_logits=teacher_logits)
    T = check.number("temperature", temperature, low=0.0, low_open=True, high=math.inf, high_open=True)
    check.choice("reduction", reduction, _REDUCTIONS)
    # softened log-probabilities: log softmax(z / T) = z / T - logsumexp(z / T)
    log_q = student_logits / T - (student_logits / T).logsumexp(dim=-1, keepdim=True)  # (B, C)
    log_p = (teacher_logits / T - (teacher_logits / T).logsumexp(dim=-1, keepdim=True)).detach()  # (B, C)
    # KL terms p (log p - log q), times T^2 to undo the 1/T^2 of the gradient
    terms = T**2 * log_p.exp() * (log_p - log_q)  # (B, C)
    if reduction == "batchmean":
        return terms.sum() / student_logits.shape[0]
    if reduction == "sum":
        return terms.sum()
    return terms.mean() if reduction == "mean" else terms
