"""Batch size

Gradient descent, stochastic and mini-batch gradient descent as one algorithm with three batch
sizes; the exact variance of a mini-batch gradient (the noise falls as 1/B), the linear scaling
rule that follows from it, and what is only folklore about batch size and generalization.
"""

from __future__ import annotations

import torch

from nnfaq import _validate as check
from nnfaq._registry import question

__all__ = ["minibatch_gradient_variance", "minibatch_gradients"]


def _flat_grad(model: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.grad.reshape(-1) for p in model.parameters() if p.grad is not None])  # (P,)


@question(
    "gd-vs-sgd-vs-minibatch",
    level="basic",
    short=(
        "All three step along the gradient of the mean loss over a batch; only the batch differs. Gradient "
        "descent uses the whole dataset: exact, one expensive step per epoch. Stochastic gradient descent uses one "
        "example: cheap, noisy steps. Mini-batch uses B examples: an unbiased estimate of the "
        "full gradient, almost as fast as one example on vectorized hardware."
    ),
    followups=("batch-size-gradient-noise", "learning-rate-too-high-or-low", "momentum"),
)
def minibatch_gradients(
    model: torch.nn.Module,
    loss_fn,
    input: torch.Tensor,
    target: torch.Tensor,
    batch_size: int,
) -> torch.Tensor:
    r"""The gradient of the mean loss on each consecutive mini-batch of one epoch, flattened.

    **What is the difference between gradient descent, stochastic gradient descent and mini-batch
    gradient descent?**

    They are the same update, :math:`\theta \leftarrow \theta - \eta\,\nabla_\theta \frac1B\sum_{i\in
    \text{batch}} \ell_i`, with three batch sizes. Gradient descent uses the whole training set
    (:math:`B = N`): the exact gradient, one expensive step per epoch. Stochastic gradient descent
    uses one example (:math:`B = 1`): :math:`N` cheap, very noisy steps per epoch. Mini-batch
    gradient descent, what "SGD" means in practice, uses :math:`1 < B < N`: each batch gradient is
    an unbiased estimate of the full one (over an epoch the batch gradients average to it exactly),
    its noise falls as :math:`1/B`, and a batch of :math:`B` costs little more wall-clock time than
    one example on vectorized hardware.

    .. math::

        g_k = \nabla_\theta \frac{1}{|b_k|}\sum_{i \in b_k} \ell_i(\theta), \qquad
        \frac{1}{N}\sum_k |b_k|\, g_k = \nabla_\theta \frac1N\sum_{i=1}^N \ell_i(\theta)

    Parameters
    ----------
    model : torch.nn.Module
        Evaluated at its current parameters; its ``.grad`` fields are overwritten.
    loss_fn : callable
        ``loss_fn(output, target)`` returning the *mean* loss of a batch.
    input, target : torch.Tensor
        ``(N, *)`` examples and their targets, in the order the batches take them.
    batch_size : int
        :math:`B \ge 1`; the last batch is smaller when ``B`` does not divide ``N``.

    Returns
    -------
    torch.Tensor
        ``(ceil(N / B), P)``: one flattened gradient of all ``P`` parameters per batch.

    See Also
    --------
    torch.utils.data.DataLoader, minibatch_gradient_variance

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1)).double()
    >>> x, y = torch.randn(12, 3, dtype=torch.float64), torch.randn(12, 1, dtype=torch.float64)
    >>> full = minibatch_gradients(model, F.mse_loss, x, y, batch_size=12)
    >>> full.shape
    torch.Size([1, 41])

    The batch gradients of an epoch average to the full gradient, for every batch size that
    divides ``N`` (stochastic, ``B = 1``, included):

    >>> all(torch.allclose(minibatch_gradients(model, F.mse_loss, x, y, B).mean(0), full[0]) for B in (1, 3, 4, 6))
    True

    Smaller batches: more steps per epoch, and each one further from the full gradient:

    >>> spread = [(minibatch_gradients(model, F.mse_loss, x, y, B) - full).norm(dim=1).mean().item() for B in (1, 3, 6)]
    >>> len(minibatch_gradients(model, F.mse_loss, x, y, 1)), spread[0] > spread[1] > spread[2]
    (12, True)
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable, got {type(loss_fn).__name__}")
    check.tensor("input", input, min_ndim=1, floating=False)
    check.tensor("target", target, min_ndim=1, floating=False)
    N = input.shape[0]
    if target.shape[0] != N or N == 0:
        raise ValueError(f"target must have as many examples as input ({N} > 0), got shape {tuple(target.shape)}")
    B = check.integer("batch_size", batch_size, low=1)
    grads = []
    for start in range(0, N, B):
        model.zero_grad(set_to_none=True)
        # the mean loss of this batch, differentiated: one step's gradient
        loss_fn(model(input[start : start + B]), target[start : start + B]).backward()
        grads.append(_flat_grad(model))
    model.zero_grad(set_to_none=True)
    return torch.stack(grads)  # (num_batches, P)


@question(
    "batch-size-gradient-noise",
    level="intermediate",
    short=(
        "A mini-batch gradient is the mean of B per-example gradients, so its variance is the per-example "
        "variance over B (times (N-B)/(N-1) without replacement). Doubling the batch halves the noise, so the "
        "linear scaling rule doubles the learning rate, keeping the noise per epoch; it holds while the rate stays "
        "small. That small batches generalize better is an empirical, disputed claim."
    ),
    followups=("gd-vs-sgd-vs-minibatch", "why-learning-rate-warmup", "learning-rate-schedules"),
)
def minibatch_gradient_variance(per_example_grads: torch.Tensor, batch_size: int, replacement: bool = True) -> float:
    r"""The exact variance (trace of the covariance) of a mini-batch mean gradient drawn from ``per_example_grads``.

    **How does the batch size change the gradient noise, and how should the learning rate change with it?**

    A mini-batch gradient is the mean of :math:`B` per-example gradients, so its covariance is the
    per-example covariance divided by :math:`B` (times the finite-population factor
    :math:`\frac{N-B}{N-1}` when the batch is drawn without replacement, which makes a batch of all
    :math:`N` exact). Doubling the batch halves the noise of each step but also halves the number
    of steps per epoch. The linear scaling rule follows: with :math:`k` times the batch, take
    :math:`k` times the learning rate; one step then moves as far in expectation as :math:`k` small
    steps (to first order, while the gradient changes little across them) with the same noise
    variance per epoch. It breaks down when the rate becomes too large for the curvature (Goyal et
    al. needed warmup and found a limit near 8k images), beyond a "critical batch size" (McCandlish
    et al.).

    .. math::

        \operatorname{tr}\operatorname{Cov}[\bar g_B] = \frac{1}{B}\operatorname{tr}\Sigma \ \
        \text{(with replacement)}, \qquad
        \frac{1}{B}\,\frac{N-B}{N-1}\operatorname{tr}\Sigma \ \ \text{(without)}, \qquad
        \Sigma = \frac1N \sum_i (g_i - \bar g)(g_i - \bar g)^\top

    Parameters
    ----------
    per_example_grads : torch.Tensor
        ``(N, P)``: the gradient of each example's loss, flattened.
    batch_size : int
        :math:`1 \le B` (and :math:`B \le N` without replacement).
    replacement : bool, default True
        Whether the batch's examples are drawn with replacement.

    Returns
    -------
    float
        :math:`E\lVert \bar g_B - \bar g\rVert^2`, the expected squared distance from the full gradient.

    See Also
    --------
    minibatch_gradients

    Notes
    -----
    What is folklore: that small batches generalize better because their noise finds "flat"
    minima (Keskar et al. 2017). The evidence is mixed; with the learning rate scaled and enough
    steps, large batches often reach the same test accuracy (Goyal et al. 2017; Hoffer et al.
    2017; Shallue et al. 2019), and flatness can be changed by reparameterizing a network without
    changing its function (Dinh et al. 2017). Nothing here proves or refutes it; what is proven
    is the :math:`1/B` noise and the scaling argument.

    References
    ----------
    .. [1] P. Goyal et al., "Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour",
       arXiv:1706.02677, 2017.
    .. [2] S. McCandlish et al., "An Empirical Model of Large-Batch Training", arXiv:1812.06162, 2018.
    .. [3] N. S. Keskar et al., "On Large-Batch Training for Deep Learning: Generalization Gap and
       Sharp Minima", ICLR 2017.
    .. [4] C. J. Shallue et al., "Measuring the Effects of Data Parallelism on Neural Network
       Training", JMLR 20, 2019.

    Examples
    --------
    Checked exactly by enumerating every batch of 3 out of 8 (without replacement) and every
    ordered draw of 2 (with replacement):

    >>> import itertools, math
    >>> _ = torch.manual_seed(0)
    >>> g = torch.randn(8, 5, dtype=torch.float64)
    >>> def exact(batches):
    ...     means = torch.stack([g[list(b)].mean(0) for b in batches])
    ...     return ((means - g.mean(0)) ** 2).sum(1).mean().item()
    >>> math.isclose(exact(itertools.combinations(range(8), 3)), minibatch_gradient_variance(g, 3, replacement=False))
    True
    >>> math.isclose(exact(itertools.product(range(8), repeat=2)), minibatch_gradient_variance(g, 2))
    True

    The noise falls as :math:`1/B`; a batch of the whole set drawn without replacement has none:

    >>> [round(minibatch_gradient_variance(g, 1) / minibatch_gradient_variance(g, B), 6) for B in (1, 2, 4, 8)]
    [1.0, 2.0, 4.0, 8.0]
    >>> minibatch_gradient_variance(g, 8, replacement=False)
    0.0

    The linear scaling rule: ``k`` steps of batch ``B`` with rate ``lr`` and one step of batch
    ``kB`` with rate ``k lr`` move the same distance in expectation with the same noise variance:

    >>> lr, B, k = 0.1, 2, 4
    >>> small = k * lr**2 * minibatch_gradient_variance(g, B)  # k independent noisy steps
    >>> large = (k * lr) ** 2 * minibatch_gradient_variance(g, k * B)
    >>> math.isclose(small, large)
    True
    """
    check.tensor("per_example_grads", per_example_grads, ndim=2)
    N = per_example_grads.shape[0]
    if N < 1:
        raise ValueError("per_example_grads must hold at least one example")
    B = check.integer("batch_size", batch_size, low=1)
    replacement = check.flag("replacement", replacement)
    if not replacement and B > N:
        raise ValueError(f"batch_size must be at most the {N} examples when drawing without replacement, got {B}")
    g = per_example_grads
    # tr(Sigma): the mean squared distance of an example's gradient from the full gradient
    trace = ((g - g.mean(0)) ** 2).sum(1).mean().item()
    if replacement:
        return trace / B
    return 0.0 if N == 1 else trace / B * (N - B) / (N - 1)
