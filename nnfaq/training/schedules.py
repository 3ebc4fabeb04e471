"""Learning-rate schedules

Step decay, cosine annealing and linear warmup as closed formulas that give PyTorch's schedulers'
values step for step, why a decaying learning rate ends at a lower loss than a constant one, and
why adaptive optimizers like Adam want a warmup.
"""

from __future__ import annotations

import math

from nnfaq import _validate as check
from nnfaq._registry import question

__all__ = ["cosine_annealing_lr", "linear_lr", "step_lr"]

_INF = math.inf


def _base(base_lr, epoch) -> tuple[float, int]:
    base_lr = check.number("base_lr", base_lr, low=0.0, high=_INF, high_open=True)
    epoch = check.integer("epoch", epoch, low=0)
    return base_lr, epoch


def step_lr(base_lr: float, epoch: int, step_size: int, gamma: float = 0.1) -> float:
    r"""The learning rate of step decay at ``epoch``, as ``torch.optim.lr_scheduler.StepLR`` gives it.

    Multiply the learning rate by ``gamma`` every ``step_size`` epochs: the schedule of the
    original ResNet (divide by 10 at fixed epochs).

    .. math::

        \eta_t = \eta_0\,\gamma^{\lfloor t / s \rfloor}

    Parameters
    ----------
    base_lr : float
        :math:`\eta_0 \ge 0`, the optimizer's initial learning rate.
    epoch : int
        :math:`t \ge 0`, the number of ``scheduler.step()`` calls so far.
    step_size : int
        :math:`s \ge 1`.
    gamma : float, default 0.1
        The factor, in ``[0, inf)`` (PyTorch accepts any; above 1 it grows).

    Returns
    -------
    float
        :math:`\eta_t`.

    See Also
    --------
    torch.optim.lr_scheduler.StepLR, torch.optim.lr_scheduler.MultiStepLR

    Examples
    --------
    >>> [step_lr(0.1, t, step_size=3, gamma=0.5) for t in range(7)]
    [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025]
    >>> opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    >>> sched = torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
    >>> torch_lrs = []
    >>> for _ in range(10):
    ...     torch_lrs.append(opt.param_groups[0]["lr"]); opt.step(); sched.step()
    >>> all(math.isclose(a, step_lr(0.1, t, 3, 0.5)) for t, a in enumerate(torch_lrs))
    True
    """
    base_lr, epoch = _base(base_lr, epoch)
    step_size = check.integer("step_size", step_size, low=1)
    gamma = check.number("gamma", gamma, low=0.0, high=_INF, high_open=True)
    # eta_0 * gamma^(t // s)
    return base_lr * gamma ** (epoch // step_size)


@question(
    "learning-rate-schedules",
    level="intermediate",
    short=(
        "With a constant learning rate SGD stalls at a noise floor proportional to the rate, so schedules start "
        "large and shrink it. Step decay divides it by 10 at fixed epochs; cosine annealing lowers it smoothly to a "
        "minimum over T_max steps, with no milestones to tune. On a noisy quadratic both end several times lower."
    ),
    followups=("why-learning-rate-warmup", "learning-rate-too-high-or-low", "momentum"),
)
def cosine_annealing_lr(base_lr: float, epoch: int, T_max: int, eta_min: float = 0.0) -> float:
    r"""The learning rate of cosine annealing at ``epoch``, as ``torch.optim.lr_scheduler.CosineAnnealingLR``.

    **Why decay the learning rate, and how do step decay and cosine annealing differ?**

    Stochastic gradients are noisy, so with a constant learning rate SGD does not converge: it
    bounces around the minimum at a loss proportional to the learning rate. Starting large makes
    fast progress, shrinking later lowers that noise floor. Step decay multiplies the rate by a
    factor (often 0.1) at chosen epochs; cosine annealing lowers it smoothly from the base value
    to :math:`\eta_{\min}` over :math:`T_{\max}` steps, so there are no milestones to tune and the
    run spends its last steps at tiny rates. Either, at the same budget, ends far below a constant
    rate on a noisy quadratic (below); which one is best for a real model is an empirical matter.

    .. math::

        \eta_t = \eta_{\min} + \tfrac12(\eta_0 - \eta_{\min})\left(1 + \cos\frac{\pi t}{T_{\max}}\right)

    Parameters
    ----------
    base_lr : float
        :math:`\eta_0 \ge 0`.
    epoch : int
        :math:`t \ge 0` (scheduler steps so far; past :math:`T_{\max}` the cosine rises again,
        as PyTorch's does).
    T_max : int
        :math:`T_{\max} \ge 1`, the half period.
    eta_min : float, default 0.0
        :math:`\eta_{\min} \ge 0`.

    Returns
    -------
    float
        :math:`\eta_t`.

    See Also
    --------
    torch.optim.lr_scheduler.CosineAnnealingLR, step_lr, linear_lr

    Notes
    -----
    PyTorch computes the schedule recursively from the previous value (so it can be chained);
    the values equal this closed form to rounding, as the examples check.
    ``CosineAnnealingWarmRestarts`` (SGDR) jumps back to :math:`\eta_0` instead of rising.

    References
    ----------
    .. [1] I. Loshchilov and F. Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts",
       ICLR 2017.
    .. [2] K. He et al., "Deep Residual Learning for Image Recognition", CVPR 2016 (step decay).

    Examples
    --------
    Equal to PyTorch's scheduler at every step, past ``T_max`` too:

    >>> opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    >>> sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10, eta_min=0.01)
    >>> torch_lrs = []
    >>> for _ in range(25):
    ...     torch_lrs.append(opt.param_groups[0]["lr"]); opt.step(); sched.step()
    >>> all(math.isclose(a, cosine_annealing_lr(0.1, t, 10, 0.01)) for t, a in enumerate(torch_lrs))
    True
    >>> cosine_annealing_lr(0.1, 0, 10), cosine_annealing_lr(0.1, 5, 10), cosine_annealing_lr(0.1, 10, 10)
    (0.1, 0.05, 0.0)

    Why decay: SGD on :math:`\frac12 w^2` with unit gradient noise (2000 independent
    coordinates). A constant rate of 0.1 stalls at its noise floor; cosine annealing and step
    decay from the same rate, for the same 200 steps, end several times lower:

    >>> _ = torch.manual_seed(0)
    >>> def final_loss(lrs):
    ...     w = torch.ones(2000, dtype=torch.float64)
    ...     for lr in lrs:
    ...         w = w - lr * (w + torch.randn(2000, dtype=torch.float64))  # noisy gradient of w^2 / 2
    ...     return (0.5 * w**2).mean().item()
    >>> constant = final_loss([0.1] * 200)
    >>> cosine = final_loss([cosine_annealing_lr(0.1, t, 200) for t in range(200)])
    >>> step = final_loss([step_lr(0.1, t, 100, 0.1) for t in range(200)])
    >>> bool(cosine < 0.3 * constant), bool(step < 0.3 * constant)
    (True, True)

    The constant rate's floor is the stationary variance of :math:`w \leftarrow (1-\eta) w - \eta\xi`,
    :math:`\frac{\eta^2}{1 - (1-\eta)^2}`, halved, proportional to :math:`\eta`:

    >>> floor = 0.5 * 0.1**2 / (1 - 0.9**2)
    >>> bool(abs(constant - floor) < 0.1 * floor)
    True
    """
    base_lr, epoch = _base(base_lr, epoch)
    T_max = check.integer("T_max", T_max, low=1)
    eta_min = check.number("eta_min", eta_min, low=0.0, high=_INF, high_open=True)
    # eta_min + (eta_0 - eta_min) (1 + cos(pi t / T_max)) / 2
    return eta_min + 0.5 * (base_lr - eta_min) * (1 + math.cos(math.pi * epoch / T_max))


@question(
    "why-learning-rate-warmup",
    level="advanced",
    short=(
        "Warmup raises the learning rate linearly from a small value over the first steps. Adam's first updates "
        "are the largest it makes, about lr in every coordinate even for pure-noise gradients, because its "
        "second-moment estimate rests on a handful of samples. Warmup keeps those unreliable early steps small; "
        "post-norm transformers and large batches need it most."
    ),
    followups=("learning-rate-schedules", "adam-vs-sgd", "pre-norm-vs-post-norm"),
)
def linear_lr(
    base_lr: float,
    epoch: int,
    start_factor: float = 1.0 / 3,
    end_factor: float = 1.0,
    total_iters: int = 5,
) -> float:
    r"""The learning rate of linear warmup (or decay) at ``epoch``, as ``torch.optim.lr_scheduler.LinearLR``.

    **Why does learning-rate warmup help, especially with adaptive optimizers like Adam?**

    Warmup starts the learning rate at a fraction of its value and raises it linearly over the
    first steps. Adam divides each coordinate's momentum by the root of its second-moment
    estimate, and in the first steps that estimate rests on a handful of gradients: the first
    update is exactly ``lr`` times the gradient's sign in every coordinate, and for noisy gradients
    the early updates are several times larger than later ones, when the statistics are least
    reliable (Liu et al. analyse this variance and propose RAdam). Warmup keeps those steps small
    until the moment estimates settle. It also matters when the early gradients are large for
    other reasons: post-norm transformers (Xiong et al.) and very large batches with the linear
    scaling rule (Goyal et al.).

    .. math::

        \eta_t = \eta_0 \left(s + (e - s)\,\frac{\min(t, n)}{n}\right)

    with start factor :math:`s`, end factor :math:`e` and :math:`n` = ``total_iters``.

    Parameters
    ----------
    base_lr : float
        :math:`\eta_0 \ge 0`.
    epoch : int
        :math:`t \ge 0`.
    start_factor : float, default 1/3
        :math:`s \in (0, 1]`.
    end_factor : float, default 1.0
        :math:`e \in [0, 1]`.
    total_iters : int, default 5
        :math:`n \ge 1`, the warmup length; the factor stays at :math:`e` afterwards.

    Returns
    -------
    float
        :math:`\eta_t`.

    See Also
    --------
    torch.optim.lr_scheduler.LinearLR, torch.optim.lr_scheduler.SequentialLR, cosine_annealing_lr

    References
    ----------
    .. [1] L. Liu et al., "On the Variance of the Adaptive Learning Rate and Beyond", ICLR 2020.
    .. [2] P. Goyal et al., "Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour",
       arXiv:1706.02677, 2017.
    .. [3] R. Xiong et al., "On Layer Normalization in the Transformer Architecture", ICML 2020.

    Examples
    --------
    Equal to PyTorch's ``LinearLR`` at every step:

    >>> opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    >>> sched = torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.25, total_iters=4)
    >>> torch_lrs = []
    >>> for _ in range(8):
    ...     torch_lrs.append(opt.param_groups[0]["lr"]); opt.step(); sched.step()
    >>> all(math.isclose(a, linear_lr(0.1, t, 0.25, 1.0, 4)) for t, a in enumerate(torch_lrs))
    True
    >>> [round(linear_lr(0.1, t, 0.25, 1.0, 4), 4) for t in range(6)]
    [0.025, 0.0438, 0.0625, 0.0813, 0.1, 0.1]

    Why Adam wants it: with pure-noise gradients (no signal at all) Adam's first update is the full
    ``lr`` in every coordinate, and its updates shrink to about a quarter of that as the moment
    estimates fill in:

    >>> _ = torch.manual_seed(0)
    >>> p = nn.Parameter(torch.zeros(10_000, dtype=torch.float64))
    >>> adam = torch.optim.Adam([p], lr=1.0)
    >>> sizes = []
    >>> for _ in range(100):
    ...     before = p.detach().clone(); p.grad = torch.randn_like(p); adam.step()
    ...     sizes.append((p.detach() - before).abs().mean().item())
    >>> round(sizes[0], 4), bool(sizes[99] < 0.25 * sizes[0])
    (1.0, True)

    With a 100-step linear warmup the step sizes grow instead, and the largest comes after the
    estimates have settled:

    >>> warm = [linear_lr(1.0, t, 0.01, 1.0, 100) * s for t, s in enumerate(sizes)]
    >>> bool(warm[0] < 0.02), max(range(100), key=warm.__getitem__) > 50
    (True, True)
    """
    base_lr, epoch = _base(base_lr, epoch)
    s = check.number("start_factor", start_factor, low=0.0, high=1.0, low_open=True)
    e = check.number("end_factor", end_factor, low=0.0, high=1.0)
    n = check.integer("total_iters", total_iters, low=1)
    # eta_0 (s + (e - s) min(t, n) / n)
    return base_lr * (s + (e - s) * min(epoch, n) / n)
