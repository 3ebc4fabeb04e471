"""Gradient flow

How to see vanishing gradients layer by layer, why gradients explode (products of Jacobians over
depth or time, worst in recurrent networks) and how gradient clipping bounds them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch

from nnfaq import _validate as check
from nnfaq._registry import question

__all__ = ["clip_grad_norm_", "grad_norms", "unrolled_gradient"]


@question(
    "vanishing-gradients",
    level="intermediate",
    short=(
        "Backpropagation multiplies the gradient by one Jacobian per layer, the activation's slope times the "
        "weights; when those factors are below one it shrinks geometrically towards the input, and the first "
        "layers stop learning. Detect it by logging each layer's gradient norm after backward(). Cures: ReLU "
        "with He initialization, normalization layers, residual connections."
    ),
    followups=("exploding-gradients", "xavier-vs-he-init", "deep-residual-learning"),
)
def grad_norms(model: torch.nn.Module) -> dict[str, float]:
    r"""The L2 norm of the gradient of every weight matrix of ``model``, in registration order.

    **What is the vanishing gradient problem, and how do you detect it?**

    Backpropagation multiplies the gradient by one Jacobian per layer, :math:`\mathrm{diag}(f'(z_l))
    \,W_l`, so its norm is at most the output gradient's times :math:`\prod_l \max|f'|\cdot\lVert
    W_l\rVert_2`. When those factors are below one (saturated sigmoids, whose slope never exceeds
    1/4; weights too small for the activation) the gradient shrinks geometrically with depth, and
    the first layers barely learn while the last ones do. You see it by logging the gradient norm of
    each layer after ``backward()``: norms that fall by orders of magnitude towards the input.
    Cures: ReLU-like activations with He initialization (which makes each factor about one),
    normalization layers and residual connections.

    .. math::

        \frac{\partial L}{\partial h_0} = \frac{\partial L}{\partial h_n}
        \prod_{l=n}^{1} \frac{\partial h_l}{\partial h_{l-1}}, \qquad
        \frac{\partial h_l}{\partial h_{l-1}} = \mathrm{diag}(f'(z_l))\,W_l, \qquad
        \Big\lVert\frac{\partial L}{\partial h_0}\Big\rVert \le
        \Big\lVert\frac{\partial L}{\partial h_n}\Big\rVert \prod_{l=1}^{n} \max|f'|\,\lVert W_l\rVert_2

    Parameters
    ----------
    model : torch.nn.Module
        A model after ``backward()``.

    Returns
    -------
    dict of str to float
        ``{parameter name: ||grad||_2}`` for every parameter with at least 2 dimensions that has
        a gradient.

    See Also
    --------
    torch.linalg.vector_norm, torch.nn.Module.named_parameters

    Examples
    --------
    A 10-layer sigmoid network's first layer gets a gradient thousands of times smaller than its
    last; with ReLU and He initialization it does not. ReLU alone is no cure: with PyTorch's default
    initialization, whose weights are too small for ReLU, the gradients vanish too:

    >>> def deep(act, init=None):
    ...     layers = [m for _ in range(10) for m in (nn.Linear(64, 64, dtype=torch.float64), act())]
    ...     for m in layers[::2]:
    ...         if init:
    ...             _ = nn.init.kaiming_normal_(m.weight, nonlinearity=init)
    ...     return nn.Sequential(*layers)
    >>> x = torch.randn(128, 64, dtype=torch.float64)
    >>> ratios = {}
    >>> for name, net in [("sigmoid", deep(nn.Sigmoid, "sigmoid")), ("relu", deep(nn.ReLU, "relu")),
    ...                   ("relu, default init", deep(nn.ReLU))]:
    ...     net(x).pow(2).mean().backward()
    ...     norms = list(grad_norms(net).values())  # first layer first
    ...     ratios[name] = norms[0] / norms[-1]
    >>> len(norms), bool(ratios["sigmoid"] < 1e-3), bool(0.1 < ratios["relu"] < 10)
    (10, True, True)
    >>> bool(ratios["relu, default init"] < 1e-2)
    True

    The bound, with the weights in it: the gradient reaching the input is at most the output
    gradient times, per layer, the activation's largest slope (1/4 for the sigmoid) times the
    weight's spectral norm:

    >>> net = deep(nn.Sigmoid, "sigmoid")
    >>> h0 = x.clone().requires_grad_(True)
    >>> out = net(h0)
    >>> g = torch.randn_like(out)  # dL/dh_n
    >>> (g0,) = torch.autograd.grad(out, h0, g)
    >>> bound = g.norm() * math.prod(0.25 * torch.linalg.matrix_norm(m.weight, 2).item() for m in net[::2])
    >>> bool(g0.norm() <= bound)
    True
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return {
        name: torch.linalg.vector_norm(p.grad).item()
        for name, p in model.named_parameters()
        if p.grad is not None and p.dim() >= 2
    }


@question(
    "exploding-gradients",
    level="intermediate",
    short=(
        "Backpropagation multiplies one Jacobian per layer or time step; factors above one make the product grow "
        "geometrically, and one update can throw the weights away. An RNN reuses its matrix W at every step, "
        "so the gradient through n steps scales like W to the n, exploding when the spectral radius exceeds 1. "
        "Remedies: clipping, orthogonal initialization, lower learning rates."
    ),
    followups=("gradient-clipping", "vanishing-gradients", "init-scale-deep-networks"),
)
def unrolled_gradient(weight, steps: int, nonlinearity: str | None = None) -> torch.Tensor:
    r"""Norm of the gradient reaching each hidden state of the recurrence ``h_t = f(W h_{t-1})``.

    **Why do gradients explode, and why do recurrent networks suffer the most?**

    The gradient reaching layer (or time step) :math:`t` is a product of one Jacobian per layer
    between :math:`t` and the loss. If those factors are larger than one, the product grows
    geometrically, and one update can throw the weights far away (loss spikes, ``inf``, ``nan``).
    In a recurrent network it is the same matrix :math:`W` at every step, so the gradient
    through :math:`n` steps scales like :math:`W^n`: it explodes when its spectral radius is above 1
    and vanishes below 1, and the longer the sequence, the more extreme. Remedies: gradient
    clipping (:func:`clip_grad_norm_`), an orthogonal initialization of :math:`W` (spectral radius
    1: the linear recurrence keeps the gradient's norm at any length) and a smaller learning rate.
    Gated cells (LSTM, GRU) are the remedy for the opposite problem, vanishing gradients: their
    additive cell path carries the gradient across many steps. They do not stop explosions, which is
    why LSTMs are trained with clipping too.

    .. math::

        h_t = w\,h_{t-1} \implies \frac{\partial h_n}{\partial h_{n-k}} = w^{k}, \qquad
        \frac{\partial h_n}{\partial h_{n-k}} = \prod_{t=n-k+1}^{n} \mathrm{diag}(f'(z_t))\,W

    Parameters
    ----------
    weight : float or torch.Tensor
        The recurrent weight: a scalar :math:`w`, or a ``(C, C)`` matrix :math:`W`.
    steps : int
        Sequence length :math:`n`, at least 1.
    nonlinearity : {None, 'tanh'}, default None
        ``None`` for the linear recurrence, ``'tanh'`` for :math:`h_t = \tanh(W h_{t-1})`.

    Returns
    -------
    torch.Tensor
        ``(steps + 1,)`` float64: entry ``k`` is :math:`\lVert\partial(\mathbf 1^\top h_n)/\partial
        h_{n-k}\rVert_2`, from ``h_0 = 1``, computed by autograd through the unrolled loop.

    See Also
    --------
    torch.nn.RNN, torch.nn.utils.clip_grad_norm_, torch.nn.init.orthogonal_

    Notes
    -----
    .. admonition:: Common mistake

        "Exploding gradients happen because of an inappropriate weight initialization."

        Initialization sets the size of each factor at the start, and a good one does prevent the
        explosion there: with an orthogonal recurrent matrix (spectral radius 1) the gradient
        keeps its norm over 1000 steps. But the explosion itself comes from *multiplying* many
        factors, across layers or across time steps with the same weight: the examples keep the
        weight fixed and only lengthen the sequence, and the gradient goes from 2.6 to more than
        10,000. Training moves the weights away from where they started, so no initialization
        rules it out for good; clipping bounds each update whatever its cause.

    References
    ----------
    .. [1] R. Pascanu, T. Mikolov and Y. Bengio, "On the difficulty of training recurrent neural
       networks", ICML 2013.

    Examples
    --------
    In :math:`h_t = w\,h_{t-1}` the gradient through :math:`n` steps is exactly :math:`w^n`:

    >>> g = unrolled_gradient(1.1, steps=10)
    >>> bool(abs(g[-1].item() - 1.1**10) < 1e-12), round(g[-1].item(), 4)
    (True, 2.5937)

    The same weight, only a longer sequence: the gradient explodes; below 1 it vanishes:

    >>> bool(unrolled_gradient(1.1, steps=100)[-1] > 1e4), bool(unrolled_gradient(0.9, steps=100)[-1] < 1e-4)
    (True, True)

    A matrix behaves like its spectral radius: scaled orthogonal matrices give exactly
    :math:`\rho^n` (times :math:`\sqrt C` for the all-ones seed):

    >>> Q = torch.linalg.qr(torch.randn(8, 8, dtype=torch.float64)).Q
    >>> g = unrolled_gradient(1.2 * Q, steps=20)
    >>> bool(abs(g[-1].item() / (1.2**20 * math.sqrt(8)) - 1) < 1e-9)
    True

    An orthogonal matrix itself (:math:`\rho = 1`) neither explodes nor vanishes, however long the
    sequence; behind a tanh, whose slope is at most 1, it cannot explode either:

    >>> g = unrolled_gradient(Q, steps=1000)
    >>> torch.allclose(g, torch.full((1001,), math.sqrt(8), dtype=torch.float64))
    True
    >>> bool((unrolled_gradient(Q, steps=1000, nonlinearity="tanh") <= math.sqrt(8) * (1 + 1e-12)).all())
    True
    """
    steps = check.integer("steps", steps, low=1)
    if nonlinearity not in (None, "tanh"):
        raise ValueError(f"nonlinearity must be None or 'tanh'; got {nonlinearity!r}")
    if isinstance(weight, torch.Tensor):
        check.tensor("weight", weight, ndim=2, finite=True)
        if weight.shape[0] != weight.shape[1] or weight.shape[0] < 1:
            raise ValueError(f"weight must be a square (C, C) matrix with C >= 1, got shape {tuple(weight.shape)}")
        W = weight.detach().to(torch.float64)
    else:
        w = check.number("weight", weight, low=-math.inf, high=math.inf, low_open=True, high_open=True)
        W = torch.tensor([[w]], dtype=torch.float64)
    h = torch.ones(W.shape[0], dtype=torch.float64, requires_grad=True)  # h_0, (C,)
    states = [h]
    for _ in range(steps):
        z = W @ states[-1]  # (C,)
        states.append(torch.tanh(z) if nonlinearity == "tanh" else z)
    grads = torch.autograd.grad(states[-1].sum(), states)  # d(1^T h_n) / d h_t for every t
    # entry k belongs to h_{n-k}: k steps back from the output
    return torch.stack([torch.linalg.vector_norm(g) for g in reversed(grads)])


@question(
    "gradient-clipping",
    level="basic",
    short=(
        "Treat all gradients as one long vector; if its norm exceeds max_norm, multiply every gradient by "
        "max_norm / norm, so the direction is kept and only the step's length is cut. Call it between "
        "backward() and step(). It returns the norm before clipping, the number to log to spot explosions. "
        "Clipping by value instead changes the direction."
    ),
    followups=("exploding-gradients", "why-zero-grad", "learning-rate-too-high-or-low"),
)
def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0) -> torch.Tensor:
    r"""Rescale the gradients in place so that their total norm is at most ``max_norm``; return the norm before.

    **What is gradient clipping, and how does ``clip_grad_norm_`` work?**

    It bounds the size of each update: the gradients of all parameters are treated as one long
    vector, and if its norm exceeds ``max_norm`` every gradient is multiplied by the same factor
    ``max_norm / norm``, so the direction is kept and only the length is cut. Call it between
    ``loss.backward()`` and ``optimizer.step()``. It returns the total norm *before* clipping,
    which is the number to log to see explosions.

    .. math::

        \lVert g\rVert = \Big\lVert \big(\lVert g_1\rVert_p, \dots, \lVert g_m\rVert_p\big)\Big\rVert_p, \qquad
        g_i \leftarrow g_i \cdot \min\Big(1, \frac{\text{max\_norm}}{\lVert g\rVert + 10^{-6}}\Big)

    Parameters
    ----------
    parameters : torch.Tensor or iterable of torch.Tensor
        Parameters whose ``.grad`` is clipped; those without a gradient are skipped.
    max_norm : float
        Largest allowed total norm, positive.
    norm_type : float, default 2.0
        The :math:`p` of the norm (``float('inf')`` for the largest absolute value).

    Returns
    -------
    torch.Tensor
        Scalar: the total norm of the gradients before clipping.

    See Also
    --------
    torch.nn.utils.clip_grad_norm_, torch.nn.utils.clip_grad_value_

    Notes
    -----
    Clipping by *value* (``clip_grad_value_``) clamps each entry separately and so changes the
    gradient's direction; clipping by norm does not (the last examples show both).

    Examples
    --------
    Same clipped gradients and same returned norm as PyTorch:

    >>> a, b = nn.Linear(5, 3, dtype=torch.float64), nn.Linear(5, 3, dtype=torch.float64)
    >>> b.load_state_dict(a.state_dict())
    <All keys matched successfully>
    >>> x = 10 * torch.randn(8, 5, dtype=torch.float64)
    >>> a(x).pow(2).sum().backward(); b(x).pow(2).sum().backward()
    >>> before = torch.cat([p.grad.flatten() for p in a.parameters()])
    >>> ours, ref = clip_grad_norm_(a.parameters(), 1.0), nn.utils.clip_grad_norm_(b.parameters(), 1.0)
    >>> torch.allclose(ours, ref)
    True
    >>> all(torch.allclose(p.grad, q.grad) for p, q in zip(a.parameters(), b.parameters()))
    True

    It returns the norm before clipping; afterwards the norm is ``max_norm`` and the direction is
    unchanged:

    >>> after = torch.cat([p.grad.flatten() for p in a.parameters()])
    >>> torch.allclose(ours, before.norm()), round(after.norm().item(), 4)
    (True, 1.0)
    >>> torch.allclose(after / after.norm(), before / before.norm())
    True

    Clipping by value clamps each entry on its own, which turns the gradient:

    >>> p = torch.zeros(2, requires_grad=True)
    >>> p.grad = torch.tensor([3.0, 0.5])
    >>> nn.utils.clip_grad_value_([p], 1.0)
    >>> p.grad.tolist()
    [1.0, 0.5]
    """
    if isinstance(parameters, torch.Tensor):
        params = [parameters]
    elif isinstance(parameters, Iterable) and not isinstance(parameters, str | bytes):
        params = list(parameters)
    else:
        raise TypeError(f"parameters must be a tensor or an iterable of tensors, got {type(parameters).__name__}")
    for i, p in enumerate(params):
        check.tensor(f"parameters[{i}]", p)
    max_norm = check.number("max_norm", max_norm, low=0.0, low_open=True)
    norm_type = check.number("norm_type", norm_type, low=0.0, low_open=True)
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    # the norm of the per-tensor norms is the norm of all gradients concatenated
    total = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g, norm_type) for g in grads]), norm_type)
    scale = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    for g in grads:
        g.mul_(scale)
    return total
