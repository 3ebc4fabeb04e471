"""Activations and gradient flow

Why networks need non-linear activations, what each activation's derivative does to the gradient
on its way back, how to see vanishing gradients layer by layer, why gradients explode (products of
Jacobians over depth or time, worst in recurrent networks) and how gradient clipping bounds them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch

from nnfaq import _validate as check
from nnfaq._registry import question

__all__ = ["activation", "clip_grad_norm_", "collapse_linear", "dead_relu_fraction", "grad_norms", "unrolled_gradient"]

_ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "gelu")


@question("sigmoid-tanh-hidden-layers")
def activation(
    input: torch.Tensor, nonlinearity: str = "relu", negative_slope: float = 0.01
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""An activation function and its derivative, both written out.

    **Why are sigmoid and tanh rarely used in the hidden layers of deep networks?**

    Because they saturate: for large :math:`|x|` their derivative is nearly zero, and the sigmoid's
    derivative is at most 0.25 even at its best, so backpropagating through :math:`n` sigmoid
    layers multiplies the gradient by less than :math:`0.25^n`. ReLU's derivative is exactly 1 for
    every positive input, so it passes gradients through depth undamped (its risk is the opposite:
    units stuck at 0, see :func:`dead_relu_fraction`). Sigmoid and tanh remain the right choice
    where a bounded output is the point: gates of LSTMs and GRUs, and output probabilities.

    .. math::

        \sigma'(x) = \sigma(x)(1 - \sigma(x)) \le \tfrac14, \quad
        \tanh'(x) = 1 - \tanh^2(x) \le 1, \quad
        \mathrm{ReLU}'(x) = [x > 0], \quad
        \mathrm{GELU}'(x) = \Phi(x) + x\,\varphi(x)

    Parameters
    ----------
    input : torch.Tensor
        Pre-activations of any shape ``(*)``.
    nonlinearity : {'sigmoid', 'tanh', 'relu', 'leaky_relu', 'gelu'}, default 'relu'
        The activation (GELU is the exact, erf-based one).
    negative_slope : float, default 0.01
        Slope of leaky ReLU for negative inputs.

    Returns
    -------
    output : torch.Tensor
        ``(*)``, the activation.
    derivative : torch.Tensor
        ``(*)``, its derivative at ``input`` (PyTorch's convention at 0: ReLU' = 0, leaky ReLU' =
        ``negative_slope``).

    See Also
    --------
    torch.sigmoid, torch.tanh, torch.nn.functional.relu, torch.nn.functional.leaky_relu,
    torch.nn.functional.gelu

    Notes
    -----
    .. admonition:: Common mistake

        "The derivative of tanh lies between 0 and 1, so tanh makes weight updates slow just like
        sigmoid."

        Around zero tanh's derivative is 1, as good as ReLU's; it is *saturation* (large
        :math:`|x|`, e.g. :math:`\tanh'(3) < 0.01`) that kills the gradient, which is why tanh
        works with a careful initialization and is standard inside LSTMs. The sigmoid is worse: its
        derivative never exceeds 0.25 and its outputs are not centred. The examples prove both
        maxima and the saturation.

    Examples
    --------
    Values and derivatives equal PyTorch's activations and autograd:

    >>> x = torch.linspace(-6, 6, 1201, dtype=torch.float64, requires_grad=True)
    >>> ok = []
    >>> for name, ref in [("sigmoid", torch.sigmoid), ("tanh", torch.tanh), ("relu", F.relu), ("gelu", F.gelu)]:
    ...     y, dy = activation(x, name)
    ...     (g,) = torch.autograd.grad(ref(x).sum(), x)
    ...     ok.append(torch.allclose(y, ref(x)) and torch.allclose(dy, g))
    >>> all(ok)
    True

    max sigmoid' = 0.25 and max tanh' = 1, both at 0; tanh saturates; ReLU'(0) = 0:

    >>> round(activation(x, "sigmoid")[1].max().item(), 6), round(activation(x, "tanh")[1].max().item(), 6)
    (0.25, 1.0)
    >>> bool(activation(torch.tensor(3.0), "tanh")[1] < 0.01)
    True
    >>> activation(torch.tensor(0.0), "relu")[1].item()
    0.0

    Through n stacked sigmoids the gradient is below :math:`0.25^n`:

    >>> z = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    >>> h = z
    >>> for _ in range(10):
    ...     h = torch.sigmoid(h)
    >>> (g,) = torch.autograd.grad(h, z)
    >>> bool(g < 0.25**10)
    True
    """
    check.tensor("input", input)
    check.choice("nonlinearity", nonlinearity, _ACTIVATIONS)
    a = check.number("negative_slope", negative_slope, low=-math.inf, high=math.inf, low_open=True, high_open=True)
    x = input.detach()
    if nonlinearity == "sigmoid":
        s = torch.sigmoid(x)
        return s, s * (1 - s)  # sigma' = sigma (1 - sigma)
    if nonlinearity == "tanh":
        t = torch.tanh(x)
        return t, 1 - t**2  # tanh' = 1 - tanh^2
    if nonlinearity == "relu":
        return x.clamp(min=0), (x > 0).to(x.dtype)  # 1 for x > 0, else 0 (also at 0)
    if nonlinearity == "leaky_relu":
        pos = x > 0
        return torch.where(pos, x, a * x), torch.where(pos, 1.0, a).to(x.dtype)
    # GELU(x) = x Phi(x), Phi the standard normal CDF, phi its density
    Phi = 0.5 * (1 + torch.erf(x / math.sqrt(2)))
    phi = torch.exp(-0.5 * x**2) / math.sqrt(2 * math.pi)
    return x * Phi, Phi + x * phi


@question("why-nonlinear-activations")
def collapse_linear(*layers: torch.nn.Linear) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The single linear layer ``(W, b)`` equal to a stack of linear layers with no activation between.

    **Why does a neural network need non-linear activation functions?**

    Without them, depth is an illusion: a composition of linear (affine) layers is itself one affine
    layer, so a hundred stacked layers can represent nothing a single layer cannot, for example not
    even XOR. A non-linearity between the layers breaks this collapse; with it, a network with one
    hidden layer and enough units can approximate any continuous function on a bounded domain.

    .. math::

        W_2 (W_1 x + b_1) + b_2 = \underbrace{W_2 W_1}_{W}\,x + \underbrace{W_2 b_1 + b_2}_{b}

    Parameters
    ----------
    *layers : torch.nn.Linear
        At least one layer; each one's ``in_features`` equals the previous one's ``out_features``.

    Returns
    -------
    weight : torch.Tensor
        ``(C_out, C_in)``, the product of the weights (last layer first).
    bias : torch.Tensor
        ``(C_out,)``.

    See Also
    --------
    torch.nn.functional.linear

    Examples
    --------
    Three linear layers are one linear layer:

    >>> stack = nn.Sequential(nn.Linear(4, 16), nn.Linear(16, 16), nn.Linear(16, 2)).double()
    >>> W, b = collapse_linear(*stack)
    >>> x = torch.randn(10, 4, dtype=torch.float64)
    >>> torch.allclose(stack(x), F.linear(x, W, b))
    True
    >>> tuple(W.shape)
    (2, 4)

    With a ReLU in between they are not, so the network is no longer linear:

    >>> relu_net = nn.Sequential(stack[0], nn.ReLU(), stack[1], nn.ReLU(), stack[2])
    >>> torch.allclose(relu_net(x), F.linear(x, W, b))
    False

    So the linear stack cannot learn XOR, the simplest non-linear function (its best mean squared
    error is 0.25, predicting 0.5 everywhere):

    >>> X = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
    >>> y = torch.tensor([[0.0], [1.0], [1.0], [0.0]], dtype=torch.float64)
    >>> A = torch.cat([X, torch.ones(4, 1, dtype=torch.float64)], dim=1)  # best affine fit
    >>> round(F.mse_loss(A @ torch.linalg.lstsq(A, y).solution, y).item(), 4)
    0.25
    """
    if not layers:
        raise ValueError("layers must contain at least one torch.nn.Linear")
    for i, layer in enumerate(layers):
        if not isinstance(layer, torch.nn.Linear):
            raise TypeError(f"layers[{i}] must be a torch.nn.Linear, got {type(layer).__name__}")
        if i and layer.in_features != layers[i - 1].out_features:
            raise ValueError(
                f"layers[{i}] must have in_features == {layers[i - 1].out_features} (the previous layer's "
                f"out_features), got {layer.in_features}"
            )
        if layer.weight.dtype != layers[0].weight.dtype:
            raise TypeError(
                f"layers[{i}] must have the dtype of layers[0], {layers[0].weight.dtype}, got {layer.weight.dtype}"
            )
    with torch.no_grad():
        W = layers[0].weight.clone()  # (C_1, C_in)
        b = layers[0].bias.clone() if layers[0].bias is not None else torch.zeros(W.shape[0], dtype=W.dtype)
        for layer in layers[1:]:
            # W <- W_l W, b <- W_l b + b_l
            b = layer.weight @ b + (layer.bias if layer.bias is not None else 0)  # (C_l,)
            W = layer.weight @ W  # (C_l, C_in)
    return W, b


@question("dying-relu")
def dead_relu_fraction(preactivation: torch.Tensor) -> float:
    r"""Fraction of ReLU units whose pre-activation is not positive for any example in the batch.

    **What is a dead ReLU, and how do you avoid it?**

    A ReLU unit is dead when its pre-activation is negative for every input: it outputs 0, its
    derivative is 0, so its incoming weights and bias receive exactly zero gradient and gradient
    descent can never revive it. It happens after a large update (too high a learning rate) or with
    a strongly negative bias. Remedies: a smaller learning rate, careful initialization, or an
    activation with a non-zero slope for negative inputs (leaky ReLU, ELU, GELU).

    .. math::

        \text{dead}_j \iff z_{ij} \le 0\ \ \forall i \implies
        \frac{\partial L}{\partial W_{j,:}} = \sum_i \bar h_{ij}\,[z_{ij} > 0]\,x_i = 0

    Parameters
    ----------
    preactivation : torch.Tensor
        ``(B, C)`` inputs of the ReLU for a batch.

    Returns
    -------
    float
        Fraction of the ``C`` units that are dead on this batch, in ``[0, 1]``.

    See Also
    --------
    torch.nn.ReLU, torch.nn.LeakyReLU

    Examples
    --------
    A layer pushed to a large negative bias is dead, and its weights get no gradient:

    >>> layer = nn.Linear(4, 8, dtype=torch.float64)
    >>> _ = nn.init.constant_(layer.bias, -10.0)
    >>> x = torch.randn(32, 4, dtype=torch.float64)
    >>> dead_relu_fraction(layer(x))
    1.0
    >>> F.relu(layer(x)).sum().backward()
    >>> int(layer.weight.grad.count_nonzero())
    0

    Leaky ReLU still passes a gradient, so the unit can recover:

    >>> layer.zero_grad(); F.leaky_relu(layer(x), 0.01).sum().backward()
    >>> bool(layer.weight.grad.abs().sum() > 0)
    True
    """
    check.tensor("preactivation", preactivation, ndim=2)
    if min(preactivation.shape) < 1:
        raise ValueError(
            f"preactivation must have at least one row and one unit, got shape {tuple(preactivation.shape)}"
        )
    if bool(preactivation.isnan().any()):
        raise ValueError("preactivation must not contain NaN")
    # dead_j = all_i (z_ij <= 0)
    return (preactivation <= 0).all(dim=0).double().mean().item()


@question("vanishing-gradients")
def grad_norms(model: torch.nn.Module) -> dict[str, float]:
    r"""The L2 norm of the gradient of every weight matrix of ``model``, in registration order.

    **What is the vanishing gradient problem, and how do you detect it?**

    Backpropagation multiplies the gradient by one Jacobian per layer; when those factors are
    below one (saturated sigmoids, too small weights) the gradient shrinks geometrically with
    depth, and the first layers barely learn while the last ones do. You see it by logging the
    gradient norm of each layer after ``backward()``: norms that fall by orders of magnitude
    towards the input. Cures: ReLU-like activations, He initialization, normalization layers and
    residual connections.

    .. math::

        \frac{\partial L}{\partial h_0} = \frac{\partial L}{\partial h_n}
        \prod_{l=n}^{1} \frac{\partial h_l}{\partial h_{l-1}}, \qquad
        \frac{\partial h_l}{\partial h_{l-1}} = \mathrm{diag}(f'(z_l))\,W_l

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
    last; with ReLU and He initialization it does not:

    >>> def deep(act):
    ...     layers = [m for _ in range(10) for m in (nn.Linear(64, 64, dtype=torch.float64), act())]
    ...     for m in layers[::2]:
    ...         _ = nn.init.kaiming_normal_(m.weight, nonlinearity="relu" if act is nn.ReLU else "sigmoid")
    ...     return nn.Sequential(*layers)
    >>> x = torch.randn(128, 64, dtype=torch.float64)
    >>> ratios = {}
    >>> for act in (nn.Sigmoid, nn.ReLU):
    ...     net = deep(act)
    ...     net(x).pow(2).mean().backward()
    ...     norms = list(grad_norms(net).values())
    ...     ratios[act.__name__] = norms[0] / norms[-1]
    >>> len(norms), bool(ratios["Sigmoid"] < 1e-3)
    (10, True)
    >>> bool(0.1 < ratios["ReLU"] < 10)
    True
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return {
        name: torch.linalg.vector_norm(p.grad).item()
        for name, p in model.named_parameters()
        if p.grad is not None and p.dim() >= 2
    }


@question("exploding-gradients")
def unrolled_gradient(weight, steps: int, nonlinearity: str | None = None) -> torch.Tensor:
    r"""Norm of the gradient reaching each hidden state of the recurrence ``h_t = f(W h_{t-1})``.

    **Why do gradients explode, and why do recurrent networks suffer the most?**

    The gradient reaching layer (or time step) :math:`t` is a product of one Jacobian per layer
    between :math:`t` and the loss. If those factors are larger than one, the product grows
    geometrically, and one update can throw the weights far away (loss spikes, ``inf``, ``nan``).
    In a recurrent network it is the same matrix :math:`W` at every step, so the gradient
    through :math:`n` steps scales like :math:`W^n`: it explodes when its spectral radius is above 1
    and vanishes below 1, and the longer the sequence, the more extreme. Remedies: gradient
    clipping (:func:`clip_grad_norm_`), gated cells (LSTM, GRU), careful initialization and a
    smaller learning rate.

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
    torch.nn.RNN, torch.nn.utils.clip_grad_norm_

    Notes
    -----
    .. admonition:: Common mistake

        "Exploding gradients happen because of an inappropriate weight initialization."

        Initialization sets the size of each factor at the start, but the explosion comes from
        *multiplying* many factors: across layers, or across time steps with the same recurrent
        weight. The examples keep the weight fixed and only lengthen the sequence: the gradient
        goes from 2.6 to more than 10,000. Weights also change during training, so a good start
        does not prevent it; clipping bounds each update whatever its cause.

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


@question("gradient-clipping")
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
    gradient's direction; clipping by norm does not.

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
