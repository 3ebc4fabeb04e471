"""Optimizers and learning rate

How the weights move once the gradient is known: what the learning rate does on the simplest
loss, SGD with momentum and Nesterov momentum, Adam and why its step size does not depend on the
gradient's scale, and AdamW's decoupled weight decay. Each step function reproduces
``torch.optim`` exactly, step after step.
"""

from __future__ import annotations

import math

import torch

from nnfaq import _validate as check
from nnfaq._registry import question

__all__ = ["adam_step", "adamw_step", "gradient_descent", "sgd_step"]


_INF = math.inf


def _param_grad(param, grad, state, buffers: tuple[str, ...] = ()) -> None:
    check.tensor("param", param)
    check.tensor("grad", grad)
    check.same_shape("grad", grad, param.shape, "the shape of param")
    if grad.dtype != param.dtype:
        raise TypeError(f"grad must have param's dtype {param.dtype}, got {grad.dtype}")
    if not isinstance(state, dict):
        raise TypeError(f"state must be a dict (empty before the first step), got {type(state).__name__}")
    # a state dict kept from another parameter (or edited by hand) must not reach torch
    for key in buffers:
        if key in state and key == "step":
            check.integer("state['step']", state["step"], low=1)
        elif key in state:
            check.tensor(f"state[{key!r}]", state[key])
            check.same_shape(f"state[{key!r}]", state[key], param.shape, "the shape of param")


def _betas(betas) -> tuple[float, float]:
    if not isinstance(betas, tuple | list) or len(betas) != 2:
        raise TypeError(f"betas must be a pair of floats, got {betas!r}")
    b1 = check.number("betas[0]", betas[0], low=0.0, high=1.0, high_open=True)
    b2 = check.number("betas[1]", betas[1], low=0.0, high=1.0, high_open=True)
    return b1, b2


@question(
    "learning-rate-too-high-or-low",
    level="basic",
    short=(
        "Too low, and the loss falls steadily but slowly. Too high, and every step overshoots the minimum: "
        "the weights oscillate and, past a threshold, the loss grows every step until it is inf or NaN. On "
        "a quadratic, gradient descent converges only for a learning rate below 2 divided by the largest "
        "curvature. Hence learning-rate sweeps, warm-up and decay."
    ),
    followups=("momentum", "adam-vs-sgd"),
)
def gradient_descent(w0: float, lr: float, steps: int, curvature: float = 2.0) -> torch.Tensor:
    r"""Gradient descent on :math:`f(w) = \frac{a}{2} w^2` (``a = 2``: :math:`f = w^2`); the path of ``w``.

    **What happens when the learning rate is too high or too low?**

    Too low, and the loss falls steadily but needlessly slowly. Too high, and each step overshoots
    the minimum: the weights oscillate, and above a threshold the oscillation grows every step
    until the loss explodes to ``inf``/NaN. On :math:`f(w) = w^2` one step multiplies :math:`w` by
    :math:`1 - 2\eta`, so descent converges for :math:`\eta < 1` (in a single step at
    :math:`\eta = 0.5`) and diverges for :math:`\eta > 1`; in general the limit is
    :math:`\eta < 2/\lambda_{\max}`, the largest curvature of the loss. Hence learning-rate sweeps,
    warm-up and decay schedules.

    .. math::

        w_{t+1} = w_t - \eta\, a\, w_t = (1 - \eta a)\, w_t, \qquad
        |1 - \eta a| < 1 \iff 0 < \eta < 2/a

    Parameters
    ----------
    w0 : float
        Starting point.
    lr : float
        Learning rate :math:`\eta \ge 0`.
    steps : int
        Number of steps, at least 1.
    curvature : float, default 2.0
        :math:`a = f''(w) > 0`.

    Returns
    -------
    torch.Tensor
        ``(steps + 1,)`` float64: :math:`w_0, \dots, w_{steps}`.

    See Also
    --------
    torch.optim.SGD, torch.optim.lr_scheduler

    Notes
    -----
    .. admonition:: Common mistake

        "A larger learning rate always trains faster."

        Only up to :math:`2/\lambda_{\max}`. On :math:`w^2`, 0.5 reaches the minimum in one step,
        0.9 needs many oscillating steps, and 1.1 diverges; the examples show all three.

    Examples
    --------
    Matches ``torch.optim.SGD`` on :math:`w^2`:

    >>> w = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    >>> opt = torch.optim.SGD([w], lr=0.1)
    >>> for _ in range(20):
    ...     opt.zero_grad(); (w**2).backward(); opt.step()
    >>> torch.allclose(gradient_descent(1.0, lr=0.1, steps=20)[-1], w.detach())
    True

    Too low, right, oscillating, too high: :math:`|w|` after 20 steps:

    >>> [round(abs(gradient_descent(1.0, lr, 20)[-1].item()), 4) for lr in (0.01, 0.5, 0.9, 1.1)]
    [0.6676, 0.0, 0.0115, 38.3376]

    Above 1 the loss grows at every step:

    >>> bool((gradient_descent(1.0, 1.1, 20).pow(2).diff() > 0).all())
    True
    """
    w0 = check.number("w0", w0, low=-_INF, low_open=True, high=_INF, high_open=True)
    lr = check.number("lr", lr, low=0.0, high=_INF, high_open=True)
    steps = check.integer("steps", steps, low=1)
    a = check.number("curvature", curvature, low=0.0, low_open=True, high=_INF, high_open=True)
    w = torch.empty(steps + 1, dtype=torch.float64)
    w[0] = w0
    for t in range(steps):
        # grad f(w) = a w, so w <- w - lr a w
        w[t + 1] = w[t] - lr * a * w[t]
    return w


@question(
    "momentum",
    level="intermediate",
    short=(
        "Momentum keeps a velocity, v = mu*v + g, and steps along it. Gradients that keep their direction add "
        "up: under a constant gradient the step grows to lr*g/(1-mu), ten times plain SGD's for mu = 0.9. "
        "Gradients that flip sign cancel, damping zig-zags. Nesterov corrects with the gradient at the "
        "look-ahead point; PyTorch steps along g + mu*v."
    ),
    followups=("adam-vs-sgd", "learning-rate-too-high-or-low"),
)
def sgd_step(
    param: torch.Tensor,
    grad: torch.Tensor,
    state: dict,
    lr: float = 1e-3,
    momentum: float = 0.0,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
) -> torch.Tensor:
    r"""One step of SGD with momentum, exactly as ``torch.optim.SGD``; returns the new ``param``.

    **What is momentum in gradient descent, and what does Nesterov momentum change?**

    Momentum keeps a velocity, a decaying sum of past gradients :math:`v \leftarrow \mu v + g`, and
    steps along it. Components that point the same way step after step add up: under a constant
    gradient the step tends to :math:`\eta g/(1-\mu)`, ten times plain SGD's for :math:`\mu = 0.9`.
    Components that flip sign every step cancel down to :math:`\eta g/(1+\mu)`, so the optimizer
    speeds along shallow valleys and damps the zig-zag across steep ones. Nesterov momentum
    corrects with the gradient at the look-ahead point; PyTorch's form steps along
    :math:`g + \mu v`, which reacts sooner when the velocity overshoots.

    .. math::

        g \leftarrow g + \lambda\theta, \qquad
        v \leftarrow \mu v + (1 - \tau) g \ (v_1 = g), \qquad
        \theta \leftarrow \theta - \eta\,\begin{cases} g + \mu v & \text{Nesterov} \\ v & \text{else} \end{cases}

    With :math:`\lambda = \tau = 0` and a constant gradient the velocity is a geometric series (Nesterov's
    step :math:`g + \mu v_t` has the same limit):

    .. math::

        v_t = \sum_{k=0}^{t-1} \mu^k g = \frac{1 - \mu^t}{1 - \mu}\, g \;\to\; \frac{g}{1 - \mu},
        \qquad
        g_t = (-1)^t g: \ |v_t| \to \frac{|g|}{1 + \mu}

    Parameters
    ----------
    param, grad : torch.Tensor
        :math:`\theta` and its gradient :math:`g`, same shape ``(*)`` and dtype.
    state : dict
        Empty before the first step; holds ``"momentum_buffer"`` :math:`v` afterwards (updated).
    lr : float, default 1e-3
        :math:`\eta`.
    momentum : float, default 0.0
        :math:`\mu \in [0, 1)`.
    dampening : float, default 0.0
        :math:`\tau \in [0, 1]`.
    weight_decay : float, default 0.0
        :math:`\lambda`, an L2 term added to the gradient.
    nesterov : bool, default False
        Nesterov momentum; needs ``momentum > 0`` and ``dampening == 0``.

    Returns
    -------
    torch.Tensor
        The updated parameter, same shape as ``param``.

    See Also
    --------
    torch.optim.SGD

    References
    ----------
    .. [1] I. Sutskever et al., "On the importance of initialization and momentum in deep
       learning", ICML 2013.

    Examples
    --------
    Follows ``torch.optim.SGD`` step for step on :math:`f(\theta) = \frac12(\theta_1^2 + 25\theta_2^2)`:

    >>> A = torch.tensor([1.0, 25.0], dtype=torch.float64)
    >>> ref = torch.ones(2, dtype=torch.float64, requires_grad=True)
    >>> opt = torch.optim.SGD([ref], lr=0.03, momentum=0.9, nesterov=True, weight_decay=0.01)
    >>> w, state = torch.ones(2, dtype=torch.float64), {}
    >>> for _ in range(50):
    ...     opt.zero_grad(); (0.5 * A * ref**2).sum().backward(); opt.step()
    ...     w = sgd_step(w, A * w, state, lr=0.03, momentum=0.9, nesterov=True, weight_decay=0.01)
    >>> torch.allclose(w, ref.detach())
    True

    With the same learning rate, momentum gets far lower on this ill-conditioned loss in 50 steps:

    >>> def run(mu):
    ...     w, s = torch.ones(2, dtype=torch.float64), {}
    ...     for _ in range(50):
    ...         w = sgd_step(w, A * w, s, lr=0.03, momentum=mu)
    ...     return (0.5 * A * w**2).sum().item()
    >>> bool(run(0.7) < 1e-3 * run(0.0))
    True

    Under a constant gradient the step grows from ``lr * g`` to ``lr * g / (1 - mu)``, with or
    without Nesterov; a gradient that flips sign every step is damped to ``lr * g / (1 + mu)``:

    >>> def last_step(nesterov=False, flip=False, mu=0.9, lr=0.1):
    ...     w, s = torch.zeros(1, dtype=torch.float64), {}
    ...     for t in range(300):
    ...         g = torch.full((1,), (-1.0) ** t if flip else 1.0, dtype=torch.float64)
    ...         w, before = sgd_step(w, g, s, lr=lr, momentum=mu, nesterov=nesterov), w
    ...     return abs((before - w).item())
    >>> round(last_step(), 4), round(last_step(nesterov=True), 4), round(0.1 / (1 - 0.9), 4)
    (1.0, 1.0, 1.0)
    >>> round(last_step(flip=True), 4), round(0.1 / (1 + 0.9), 4)
    (0.0526, 0.0526)
    """
    _param_grad(param, grad, state, ("momentum_buffer",))
    lr = check.number("lr", lr, low=0.0, high=_INF, high_open=True)
    mu = check.number("momentum", momentum, low=0.0, high=1.0, high_open=True)
    tau = check.number("dampening", dampening, low=0.0, high=1.0)
    wd = check.number("weight_decay", weight_decay, low=0.0, high=_INF, high_open=True)
    if check.flag("nesterov", nesterov) and (mu == 0 or tau != 0):
        raise ValueError("nesterov=True requires momentum > 0 and dampening == 0")
    with torch.no_grad():
        g = grad + wd * param if wd else grad  # (*), L2 term
        if mu:
            v = state.get("momentum_buffer")
            # the first step initializes the buffer with the gradient itself, undampened
            v = g.clone() if v is None else mu * v + (1 - tau) * g  # (*)
            state["momentum_buffer"] = v
            g = g + mu * v if nesterov else v
        return param - lr * g


def _adam(param, grad, state, lr, betas, eps, l2):
    """Adam's moment updates and step; ``l2`` is added to the gradient (Adam's weight_decay)."""
    b1, b2 = betas
    g = grad + l2 * param if l2 else grad  # (*)
    t = state.get("step", 0) + 1
    m = state.get("exp_avg", torch.zeros_like(param))  # (*)
    v = state.get("exp_avg_sq", torch.zeros_like(param))  # (*)
    # m <- b1 m + (1 - b1) g ;  v <- b2 v + (1 - b2) g^2
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    state.update(step=t, exp_avg=m, exp_avg_sq=v)
    # bias correction: m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t)
    denom = (v / (1 - b2**t)).sqrt() + eps  # (*)
    return param - lr * (m / (1 - b1**t)) / denom


@question(
    "adam-vs-sgd",
    level="intermediate",
    short=(
        "Adam keeps per-parameter moving averages of the gradient and its square and steps by their "
        "bias-corrected ratio, so each step is about lr whatever the gradient's scale; the first is exactly "
        "lr times its sign. SGD with momentum stores one buffer instead of two, steps in proportion to the "
        "gradient, and well tuned often matches Adam on image classifiers."
    ),
    followups=("adamw-vs-adam-l2", "momentum"),
)
def adam_step(
    param: torch.Tensor,
    grad: torch.Tensor,
    state: dict,
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
) -> torch.Tensor:
    r"""One step of Adam, exactly as ``torch.optim.Adam``; returns the new ``param``.

    **How does Adam differ from SGD, and when would you choose each?**

    Adam keeps two moving averages per parameter, of the gradient (momentum) and of its square, and
    steps by their bias-corrected ratio. Each parameter thus gets its own step of roughly ``lr``
    whatever the scale of its gradient: the first step is ``lr`` times the gradient's sign (for
    gradients well above ``eps``), and multiplying the loss by a constant leaves the whole path
    unchanged. That makes it robust to badly scaled parameters; its decoupled-decay variant AdamW
    (:func:`adamw_step`) is the usual choice for transformers (LLaMA, for one, was trained with
    it [2]_). SGD with momentum stores one buffer instead of two and its step follows the
    gradient's size; well tuned, it has been reported to match or beat adaptive methods' test
    accuracy on image classifiers [3]_, an empirical finding rather than a rule.

    .. math::

        m \leftarrow \beta_1 m + (1-\beta_1) g, \quad
        v \leftarrow \beta_2 v + (1-\beta_2) g^2, \quad
        \theta \leftarrow \theta - \eta\,\frac{m / (1 - \beta_1^t)}{\sqrt{v / (1 - \beta_2^t)} + \epsilon}

    Parameters
    ----------
    param, grad : torch.Tensor
        :math:`\theta` and its gradient :math:`g`, same shape ``(*)`` and dtype.
    state : dict
        Empty before the first step; holds ``step``, ``exp_avg`` and ``exp_avg_sq`` (updated).
    lr : float, default 1e-3
        :math:`\eta`.
    betas : tuple of float, default (0.9, 0.999)
        :math:`(\beta_1, \beta_2)`, each in ``[0, 1)``.
    eps : float, default 1e-8
        :math:`\epsilon > 0`.
    weight_decay : float, default 0.0
        An L2 term :math:`\lambda\theta` added to ``grad`` *before* the moments (not AdamW).

    Returns
    -------
    torch.Tensor
        The updated parameter, same shape as ``param``.

    See Also
    --------
    torch.optim.Adam, adamw_step, sgd_step

    References
    ----------
    .. [1] D. P. Kingma and J. Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015.
    .. [2] H. Touvron et al., "LLaMA: Open and Efficient Foundation Language Models", 2023, Sec. 2.2
       (AdamW, betas (0.9, 0.95), weight decay 0.1).
    .. [3] A. C. Wilson et al., "The Marginal Value of Adaptive Gradient Methods in Machine
       Learning", NeurIPS 2017.

    Examples
    --------
    Follows ``torch.optim.Adam`` step for step:

    >>> A = torch.tensor([1.0, 25.0], dtype=torch.float64)
    >>> ref = torch.ones(2, dtype=torch.float64, requires_grad=True)
    >>> opt = torch.optim.Adam([ref], lr=0.05, weight_decay=0.1)
    >>> w, state = torch.ones(2, dtype=torch.float64), {}
    >>> for _ in range(50):
    ...     opt.zero_grad(); (0.5 * A * ref**2).sum().backward(); opt.step()
    ...     w = adam_step(w, A * w, state, lr=0.05, weight_decay=0.1)
    >>> torch.allclose(w, ref.detach())
    True

    The first step has size ``lr`` whether the gradient is 0.001 or 1000:

    >>> g = torch.tensor([1e-3, -1e3], dtype=torch.float64)
    >>> step = adam_step(torch.zeros(2, dtype=torch.float64), g, {}, lr=0.01)
    >>> [round(s, 6) for s in step.tolist()]
    [-0.01, 0.01]

    SGD's first step, by contrast, is ``lr`` times the gradient itself:

    >>> [round(s, 6) for s in sgd_step(torch.zeros(2, dtype=torch.float64), g, {}, lr=0.01).tolist()]
    [-1e-05, 10.0]

    Scaling the loss by 1000 leaves Adam's path unchanged (SGD's steps would be 1000 times larger):

    >>> def run(scale):
    ...     w, s = torch.ones(2, dtype=torch.float64), {}
    ...     for _ in range(30):
    ...         w = adam_step(w, scale * A * w, s, lr=0.05)
    ...     return w
    >>> torch.allclose(run(1.0), run(1000.0), atol=1e-6)
    True
    """
    _param_grad(param, grad, state, ("exp_avg", "exp_avg_sq", "step"))
    lr = check.number("lr", lr, low=0.0, high=_INF, high_open=True)
    eps = check.number("eps", eps, low=0.0, low_open=True, high=_INF, high_open=True)
    wd = check.number("weight_decay", weight_decay, low=0.0, high=_INF, high_open=True)
    with torch.no_grad():
        return _adam(param, grad, state, lr, _betas(betas), eps, wd)


@question(
    "adamw-vs-adam-l2",
    level="intermediate",
    short=(
        "Adam's weight_decay adds lambda*w to the gradient, so the decay passes through the adaptive "
        "normalization: weights with large gradients are barely decayed. AdamW decouples it: every step "
        "multiplies each weight by 1 - lr*lambda, whatever the gradient's scale, then takes a plain Adam "
        "step on the data gradient. For plain SGD the two are the same."
    ),
    followups=("weight-decay-vs-l2", "adam-vs-sgd"),
)
def adamw_step(
    param: torch.Tensor,
    grad: torch.Tensor,
    state: dict,
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 1e-2,
) -> torch.Tensor:
    r"""One step of AdamW, exactly as ``torch.optim.AdamW``; returns the new ``param``.

    **What is the difference between AdamW and Adam with L2 regularization (weight_decay)?**

    ``Adam(weight_decay=λ)`` adds :math:`\lambda\theta` to the gradient, so the decay goes through
    the adaptive normalization: it is divided by :math:`\sqrt{\hat v}`, weights with large
    gradients are barely decayed, and a weight with no data gradient moves by about ``lr`` whatever
    its size. AdamW decouples the two: it multiplies every weight by :math:`1 - \eta\lambda` and
    then takes a plain Adam step, so all weights shrink at the same relative rate whatever the scale
    of the gradient, as weight decay intends; with L2 inside Adam the decay a weight gets depends on
    its gradient's scale (both proven below). For SGD the two are identical. Loshchilov and Hutter
    also found AdamW to generalize better than Adam with L2 on their image-classification
    benchmarks and its best ``weight_decay`` to depend less on ``lr`` [1]_: experimental results,
    not guarantees.

    .. math::

        \theta \leftarrow (1 - \eta\lambda)\,\theta, \qquad
        \theta \leftarrow \theta - \eta\,\frac{\hat m}{\sqrt{\hat v} + \epsilon}
        \quad (\hat m, \hat v \text{ from } g \text{ alone})

    Parameters
    ----------
    param, grad : torch.Tensor
        :math:`\theta` and its data gradient :math:`g` (no L2 term), same shape ``(*)`` and dtype.
    state : dict
        Empty before the first step; holds ``step``, ``exp_avg`` and ``exp_avg_sq`` (updated).
    lr : float, default 1e-3
        :math:`\eta`.
    betas : tuple of float, default (0.9, 0.999)
        :math:`(\beta_1, \beta_2)`, each in ``[0, 1)``.
    eps : float, default 1e-8
        :math:`\epsilon > 0`.
    weight_decay : float, default 1e-2
        :math:`\lambda \ge 0`, the decoupled decay (PyTorch's AdamW default).

    Returns
    -------
    torch.Tensor
        The updated parameter, same shape as ``param``.

    See Also
    --------
    torch.optim.AdamW, adam_step

    Notes
    -----
    .. admonition:: Common mistake

        "Adam with ``weight_decay`` is weight decay, the same as AdamW."

        Adam's ``weight_decay`` is an L2 gradient term that the adaptive denominator rescales; one
        step already differs from AdamW, and with no data gradient Adam moves a weight of 10 and
        one of 0.1 by the same amount while AdamW shrinks both by 1%, as the examples show.

    References
    ----------
    .. [1] I. Loshchilov and F. Hutter, "Decoupled Weight Decay Regularization", ICLR 2019.

    Examples
    --------
    Follows ``torch.optim.AdamW`` step for step:

    >>> A = torch.tensor([1.0, 25.0], dtype=torch.float64)
    >>> ref = torch.ones(2, dtype=torch.float64, requires_grad=True)
    >>> opt = torch.optim.AdamW([ref], lr=0.05, weight_decay=0.1)
    >>> w, state = torch.ones(2, dtype=torch.float64), {}
    >>> for _ in range(50):
    ...     opt.zero_grad(); (0.5 * A * ref**2).sum().backward(); opt.step()
    ...     w = adamw_step(w, A * w, state, lr=0.05, weight_decay=0.1)
    >>> torch.allclose(w, ref.detach())
    True

    One step from the same point differs from Adam with ``weight_decay``:

    >>> w0, g = torch.tensor([10.0, 0.1], dtype=torch.float64), torch.tensor([0.5, 0.5], dtype=torch.float64)
    >>> torch.allclose(adamw_step(w0, g, {}, lr=0.1, weight_decay=0.1), adam_step(w0, g, {}, lr=0.1, weight_decay=0.1))
    False

    With no data gradient, AdamW shrinks each weight by the factor :math:`1 - \eta\lambda = 0.99`;
    Adam's L2 moves both by ``lr`` and wipes out the small one:

    >>> zero = torch.zeros(2, dtype=torch.float64)
    >>> decoupled = adamw_step(w0, zero, {}, lr=0.1, weight_decay=0.1)
    >>> coupled = adam_step(w0, zero, {}, lr=0.1, weight_decay=0.1)
    >>> torch.allclose(decoupled, 0.99 * w0), torch.allclose(w0 - coupled, torch.full((2,), 0.1, dtype=torch.float64))
    (True, True)
    >>> [round(x, 4) for x in decoupled.tolist()], [round(x, 4) for x in coupled.tolist()]
    ([9.9, 0.099], [9.9, 0.0])

    The decoupled decay does not depend on the gradient's scale; L2 inside Adam does. Here the data
    gradient only flips sign (noise around a minimum), times ``scale``: after 100 steps AdamW has
    shrunk the weight by the same amount at every scale, while Adam's L2 decays it strongly when the
    gradient is small and hardly at all when it is large:

    >>> def after_100_steps(step, scale):
    ...     w, s = torch.ones(1, dtype=torch.float64), {}
    ...     for t in range(100):
    ...         g = torch.full((1,), scale * (-1.0) ** t, dtype=torch.float64)
    ...         w = step(w, g, s, lr=0.01, weight_decay=0.1)
    ...     return round(w.item(), 4)
    >>> [after_100_steps(adamw_step, scale) for scale in (0.01, 1.0, 100.0)]
    [0.8888, 0.8888, 0.8888]
    >>> [after_100_steps(adam_step, scale) for scale in (0.01, 1.0, 100.0)]
    [0.2295, 0.8898, 0.9814]
    """
    _param_grad(param, grad, state, ("exp_avg", "exp_avg_sq", "step"))
    lr = check.number("lr", lr, low=0.0, high=_INF, high_open=True)
    eps = check.number("eps", eps, low=0.0, low_open=True, high=_INF, high_open=True)
    wd = check.number("weight_decay", weight_decay, low=0.0, high=_INF, high_open=True)
    with torch.no_grad():
        # decoupled decay: theta <- (1 - lr * lambda) theta, outside the adaptive step
        return _adam(param * (1 - lr * wd), grad, state, lr, _betas(betas), eps, 0.0)
