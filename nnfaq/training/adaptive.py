"""Adaptive optimizers

Adagrad and RMSprop from scratch, step for step equal to ``torch.optim``: a learning rate per
parameter from the history of its squared gradients, why Adagrad's rate decays forever, how
RMSprop's moving average fixes it, and how Adam completes RMSprop with momentum and bias
correction.
"""

from __future__ import annotations

import math

import torch

from nnfaq import _validate as check
from nnfaq._registry import question

__all__ = ["adagrad_step", "rmsprop_step"]

_INF = math.inf


def _check_step(param, grad, state: dict, buffers: tuple[str, ...]) -> None:
    check.tensor("param", param)
    check.tensor("grad", grad)
    check.same_shape("grad", grad, param.shape, "the shape of param")
    check.same_dtype("param", param, grad=grad)
    if not isinstance(state, dict):
        raise TypeError(f"state must be a dict (empty before the first step), got {type(state).__name__}")
    if "step" in state:
        check.integer("state['step']", state["step"], low=1)
    for key in buffers:
        if key in state:
            check.tensor(f"state[{key!r}]", state[key])
            check.same_shape(f"state[{key!r}]", state[key], param.shape, "the shape of param")


def _nonneg(name, value) -> float:
    return check.number(name, value, low=0.0, high=_INF, high_open=True)


@question(
    "adagrad",
    level="intermediate",
    short=(
        "Adagrad divides each parameter's step by the root of the sum of its past squared gradients. Rarely "
        "updated parameters, such as rare words' embeddings, keep large steps; frequent ones get small steps. The "
        "sum only grows, so under a constant gradient the effective learning rate decays like 1/sqrt(t) and "
        "training can stall; RMSprop and Adam use moving averages instead."
    ),
    followups=("rmsprop", "adam-vs-sgd"),
)
def adagrad_step(
    param: torch.Tensor,
    grad: torch.Tensor,
    state: dict,
    lr: float = 1e-2,
    lr_decay: float = 0.0,
    weight_decay: float = 0.0,
    initial_accumulator_value: float = 0.0,
    eps: float = 1e-10,
) -> torch.Tensor:
    r"""One step of Adagrad, exactly as ``torch.optim.Adagrad``; returns the new ``param``.

    **What does Adagrad do, and why does its learning rate keep shrinking?**

    Adagrad keeps, for every parameter, the sum of its squared gradients so far and divides the
    step by its square root. A parameter whose gradients have been large or frequent takes small
    steps; one that is rarely updated (a rare word's embedding, a sparse feature) keeps large
    ones, which is what Duchi et al. designed it for. Because the sum never shrinks, the effective
    learning rate decays for ever, like :math:`\eta/\sqrt{t}` under a constant gradient, and on
    long non-convex runs training can stall; RMSprop and Adam replace the sum by a moving average.

    .. math::

        G \leftarrow G + g^2, \qquad
        \theta \leftarrow \theta - \frac{\eta}{1 + (t-1)\,d}\,\frac{g}{\sqrt{G} + \epsilon}

    Parameters
    ----------
    param, grad : torch.Tensor
        :math:`\theta` and its gradient :math:`g`, same shape ``(*)`` and dtype.
    state : dict
        Empty before the first step; holds ``step`` and ``sum`` :math:`G` afterwards (updated).
    lr : float, default 1e-2
        :math:`\eta \ge 0`.
    lr_decay : float, default 0.0
        :math:`d \ge 0`.
    weight_decay : float, default 0.0
        An L2 term :math:`\lambda\theta` added to ``grad``.
    initial_accumulator_value : float, default 0.0
        The starting value of :math:`G`, at least 0.
    eps : float, default 1e-10
        :math:`\epsilon \ge 0`.

    Returns
    -------
    torch.Tensor
        The updated parameter.

    See Also
    --------
    torch.optim.Adagrad, rmsprop_step

    References
    ----------
    .. [1] J. Duchi, E. Hazan and Y. Singer, "Adaptive Subgradient Methods for Online Learning and
       Stochastic Optimization", JMLR 12, 2011.

    Examples
    --------
    Follows ``torch.optim.Adagrad`` step for step:

    >>> A = torch.tensor([1.0, 25.0], dtype=torch.float64)
    >>> ref = torch.ones(2, dtype=torch.float64, requires_grad=True)
    >>> opt = torch.optim.Adagrad([ref], lr=0.5, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.1)
    >>> w, state = torch.ones(2, dtype=torch.float64), {}
    >>> for _ in range(50):
    ...     opt.zero_grad(); (0.5 * A * ref**2).sum().backward(); opt.step()
    ...     w = adagrad_step(w, A * w, state, lr=0.5, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.1)
    >>> torch.allclose(w, ref.detach())
    True

    Under a constant gradient the t-th step is :math:`\eta/\sqrt{t}`, whatever the gradient's size:

    >>> w, state, steps = torch.zeros(2, dtype=torch.float64), {}, []
    >>> for t in range(100):
    ...     new = adagrad_step(w, torch.tensor([1e-3, 1e3], dtype=torch.float64), state, lr=1.0)
    ...     steps.append((w - new).tolist()); w = new
    >>> [round(s, 4) for s in steps[0]], [round(s, 4) for s in steps[99]]
    ([1.0, 1.0], [0.1, 0.1])

    A parameter that gets a gradient only every 10th step takes ten times fewer steps of the
    decaying size, so after 100 steps its step is :math:`\sqrt{10}` times larger than the frequent
    one's:

    >>> w, state = torch.zeros(2, dtype=torch.float64), {}
    >>> for t in range(100):
    ...     g = torch.tensor([1.0, 1.0 if t % 10 == 9 else 0.0], dtype=torch.float64)
    ...     new = adagrad_step(w, g, state, lr=1.0); last = (w - new).tolist(); w = new
    >>> round(last[1] / last[0], 4) == round(math.sqrt(10), 4)
    True
    """
    _check_step(param, grad, state, ("sum",))
    lr = _nonneg("lr", lr)
    d = _nonneg("lr_decay", lr_decay)
    wd = _nonneg("weight_decay", weight_decay)
    init = _nonneg("initial_accumulator_value", initial_accumulator_value)
    eps = _nonneg("eps", eps)
    with torch.no_grad():
        t = state.get("step", 0) + 1
        g = grad + wd * param if wd else grad  # (*), L2 term
        # G <- G + g^2: the sum of every squared gradient so far
        G = state.get("sum", torch.full_like(param, init)) + g * g  # (*)
        state.update(step=t, sum=G)
        clr = lr / (1 + (t - 1) * d)
        return param - clr * g / (G.sqrt() + eps)


@question(
    "rmsprop",
    level="intermediate",
    short=(
        "RMSprop divides each step by the root of a moving average of squared gradients instead of Adagrad's "
        "growing sum, so the effective learning rate stops decaying: under a constant gradient the step tends to "
        "lr. Adam is RMSprop plus momentum plus bias correction; without the correction RMSprop's first steps "
        "are too large, ten times lr with alpha = 0.99."
    ),
    followups=("adagrad", "adam-vs-sgd", "why-learning-rate-warmup"),
)
def rmsprop_step(
    param: torch.Tensor,
    grad: torch.Tensor,
    state: dict,
    lr: float = 1e-2,
    alpha: float = 0.99,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    centered: bool = False,
) -> torch.Tensor:
    r"""One step of RMSprop, exactly as ``torch.optim.RMSprop``; returns the new ``param``.

    **How does RMSprop differ from Adagrad, and how is Adam related to it?**

    RMSprop keeps an exponential moving average of each parameter's squared gradient and divides
    the step by its root: like Adagrad it gives every parameter its own scale, but old gradients
    are forgotten, so the effective learning rate adapts up and down instead of decaying for
    ever; under a constant gradient the step tends to ``lr``. Adam is RMSprop with two additions:
    a moving average of the gradient itself (momentum) in the numerator, and bias correction of
    both averages. Without the correction RMSprop's first steps are too large: the average starts
    at zero, so the first step is :math:`1/\sqrt{1-\alpha}` times ``lr``, ten times with
    :math:`\alpha = 0.99`.

    .. math::

        v \leftarrow \alpha v + (1-\alpha) g^2, \qquad
        \theta \leftarrow \theta - \eta\,\frac{g}{\sqrt{v} + \epsilon}
        \quad \Big(\text{centered: } \sqrt{v - \bar g^2}, \ \bar g \leftarrow \alpha \bar g + (1-\alpha) g\Big)

    Parameters
    ----------
    param, grad : torch.Tensor
        :math:`\theta` and its gradient :math:`g`, same shape ``(*)`` and dtype.
    state : dict
        Empty before the first step; holds ``step``, ``square_avg`` (and ``momentum_buffer``,
        ``grad_avg`` when used) afterwards (updated).
    lr : float, default 1e-2
        :math:`\eta \ge 0`.
    alpha : float, default 0.99
        The smoothing constant :math:`\alpha \in [0, 1]`.
    eps : float, default 1e-8
        :math:`\epsilon \ge 0`, added to the root.
    weight_decay : float, default 0.0
        An L2 term :math:`\lambda\theta` added to ``grad``.
    momentum : float, default 0.0
        :math:`\mu \ge 0`; the buffer accumulates the normalized gradient,
        :math:`b \leftarrow \mu b + g/(\sqrt v + \epsilon)`, and the step is :math:`\eta b`.
    centered : bool, default False
        Divide by an estimate of the gradient's standard deviation instead of its root mean square.

    Returns
    -------
    torch.Tensor
        The updated parameter.

    See Also
    --------
    torch.optim.RMSprop, adagrad_step, torch.optim.Adam

    References
    ----------
    .. [1] T. Tieleman and G. Hinton, Lecture 6.5 "rmsprop", Neural Networks for Machine Learning
       (Coursera), 2012.
    .. [2] A. Graves, "Generating Sequences With Recurrent Neural Networks", arXiv:1308.0850, 2013
       (the centered form).

    Examples
    --------
    Follows ``torch.optim.RMSprop`` step for step, with every option:

    >>> A = torch.tensor([1.0, 25.0], dtype=torch.float64)
    >>> for kw in ({}, {"momentum": 0.9, "centered": True, "weight_decay": 0.1}):
    ...     ref = torch.ones(2, dtype=torch.float64, requires_grad=True)
    ...     opt = torch.optim.RMSprop([ref], lr=0.01, **kw)
    ...     w, state = torch.ones(2, dtype=torch.float64), {}
    ...     for _ in range(50):
    ...         opt.zero_grad(); (0.5 * A * ref**2).sum().backward(); opt.step()
    ...         w = rmsprop_step(w, A * w, state, lr=0.01, **kw)
    ...     print(torch.allclose(w, ref.detach()))
    True
    True

    Under a constant gradient the step does not decay: it starts at ``10 lr`` (no bias
    correction, :math:`1/\sqrt{1 - 0.99}`) and tends to ``lr``:

    >>> w, state, steps = torch.zeros(1, dtype=torch.float64), {}, []
    >>> for t in range(2000):
    ...     new = rmsprop_step(w, torch.ones(1, dtype=torch.float64), state, lr=1.0, eps=0.0)
    ...     steps.append((w - new).item()); w = new
    >>> round(steps[0], 4), round(steps[1999], 4)
    (10.0, 1.0)

    Adam with :math:`\beta_1 = 0` (no momentum) is RMSprop with the bias correction: at every step
    its update is RMSprop's times :math:`\sqrt{1 - \alpha^t}`:

    >>> _ = torch.manual_seed(0)
    >>> grads = torch.randn(20, 3, dtype=torch.float64)
    >>> p = nn.Parameter(torch.zeros(3, dtype=torch.float64))
    >>> adam = torch.optim.Adam([p], lr=0.1, betas=(0.0, 0.99), eps=0.0)
    >>> w, state, same = torch.zeros(3, dtype=torch.float64), {}, []
    >>> for t, g in enumerate(grads, start=1):
    ...     before = p.detach().clone(); p.grad = g.clone(); adam.step()
    ...     new = rmsprop_step(w, g, state, lr=0.1, alpha=0.99, eps=0.0)
    ...     same.append(torch.allclose(p.detach() - before, (new - w) * math.sqrt(1 - 0.99**t))); w = new
    >>> all(same)
    True
    """
    _check_step(param, grad, state, ("square_avg", "momentum_buffer", "grad_avg"))
    lr = _nonneg("lr", lr)
    alpha = check.number("alpha", alpha, low=0.0, high=1.0)
    eps = _nonneg("eps", eps)
    wd = _nonneg("weight_decay", weight_decay)
    mu = _nonneg("momentum", momentum)
    centered = check.flag("centered", centered)
    with torch.no_grad():
        g = grad + wd * param if wd else grad  # (*), L2 term
        # v <- alpha v + (1 - alpha) g^2
        v = alpha * state.get("square_avg", torch.zeros_like(param)) + (1 - alpha) * g * g  # (*)
        state.update(step=state.get("step", 0) + 1, square_avg=v)
        if centered:
            g_bar = alpha * state.get("grad_avg", torch.zeros_like(param)) + (1 - alpha) * g  # (*)
            state["grad_avg"] = g_bar
            denom = (v - g_bar * g_bar).sqrt() + eps  # (*), the gradient's standard deviation
        else:
            denom = v.sqrt() + eps  # (*), its root mean square
        if mu:
            b = mu * state.get("momentum_buffer", torch.zeros_like(param)) + g / denom  # (*)
            state["momentum_buffer"] = b
            return param - lr * b
        return param - lr * g / denom
