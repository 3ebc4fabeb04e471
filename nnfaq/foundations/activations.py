"""Activations

Why networks need non-linear activations, what each activation and its derivative look like, and
why ReLU units can die.
"""

from __future__ import annotations

import math

import torch

from nnfaq import _validate as check
from nnfaq._registry import question

__all__ = ["activation", "collapse_linear", "dead_relu_fraction"]


_ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "gelu")


@question(
    "sigmoid-tanh-hidden-layers",
    level="basic",
    short=(
        "They saturate: for large inputs their derivative is almost 0, and the sigmoid's never exceeds 0.25, so "
        "each layer multiplies the gradient by at most 0.25 times its weight's norm. ReLU's derivative is 1 "
        "wherever it is active, so only the weights scale the gradient. Sigmoid and tanh stay where a bounded "
        "output is the point: gates, probabilities."
    ),
    followups=("vanishing-gradients", "dying-relu", "xavier-vs-he-init"),
)
def activation(
    input: torch.Tensor, nonlinearity: str = "relu", negative_slope: float = 0.01
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""An activation function and its derivative, both written out.

    **Why are sigmoid and tanh rarely used in the hidden layers of deep networks?**

    Because they saturate: for large :math:`|x|` their derivative is nearly zero, and the sigmoid's
    derivative is at most 0.25 even at its best. Backpropagating through a layer multiplies the
    gradient by :math:`\mathrm{diag}(f'(z))\,W`, whose norm is at most :math:`\max|f'|\cdot\lVert
    W\rVert_2`, so through :math:`n` sigmoid layers the gradient is bounded by :math:`\prod_l 0.25\,
    \lVert W_l\rVert_2`: it shrinks geometrically unless the weights are large, and large weights
    push the sigmoid into saturation. ReLU's derivative is exactly 1 wherever the unit is active,
    so the activation itself does not shrink the gradient; the weights still multiply in (a ReLU
    stack with too small weights vanishes too), and ReLU's own risk is units stuck at 0 (see
    :func:`dead_relu_fraction`). Sigmoid and tanh remain the right choice where a bounded output is
    the point: gates of LSTMs and GRUs, and output probabilities.

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
        derivative never exceeds 0.25 and its outputs are not centred. And neither derivative alone
        sets the gradient: the weights multiply in, so ten sigmoid layers can even grow it. The
        examples prove both maxima, the saturation and the growth.

    .. admonition:: Common mistake

        "Sigmoid and tanh cause vanishing gradients, so convergence towards the global minimum is
        slow."

        Gradient descent on a neural network is not heading for a global minimum: the loss is not
        convex, so it converges to whichever local minimum or flat region it reaches. Swapping two
        hidden units never changes the function, so every minimum has a mirror image, and the
        point halfway between the two is worse, which a convex function cannot do. What saturation
        slows down is every step. The last example builds such a pair.

    Examples
    --------
    Values and derivatives equal PyTorch's activations and autograd:

    >>> x = torch.linspace(-6, 6, 1201, dtype=torch.float64, requires_grad=True)
    >>> refs = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": F.relu, "gelu": F.gelu,
    ...         "leaky_relu": lambda t: F.leaky_relu(t, 0.01)}
    >>> ok = []
    >>> for name, ref in refs.items():
    ...     y, dy = activation(x, name)
    ...     (g,) = torch.autograd.grad(ref(x).sum(), x)
    ...     ok.append(torch.allclose(y, ref(x)) and torch.allclose(dy, g))
    >>> all(ok)
    True

    max sigmoid' = 0.25 and max tanh' = 1, both at 0; tanh saturates; ReLU'(0) = 0, while leaky
    ReLU keeps its slope for negative inputs:

    >>> round(activation(x, "sigmoid")[1].max().item(), 6), round(activation(x, "tanh")[1].max().item(), 6)
    (0.25, 1.0)
    >>> bool(activation(torch.tensor(3.0), "tanh")[1] < 0.01)
    True
    >>> activation(torch.tensor(0.0), "relu")[1].item()
    0.0
    >>> activation(torch.tensor([-2.0, 0.0, 3.0], dtype=torch.float64), "leaky_relu")[1].tolist()
    [0.01, 0.01, 1.0]

    The weights multiply in. Through ten layers :math:`h_i = f(w\,h_{i-1} + b)` the gradient is the
    product of the factors :math:`f'(z_i)\,w`. With :math:`w = 1` the sigmoid's stays below
    :math:`0.25^{10}`; with :math:`w = 6, b = -3` every layer sits at its steepest point
    (:math:`z = 0`) and the gradient *grows* as :math:`1.5^{10}`; a ReLU with :math:`w = 0.5`
    halves it at every layer:

    >>> def chain(f, w, b=0.0):
    ...     h0 = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    ...     h = h0
    ...     for _ in range(10):
    ...         h = f(w * h + b)
    ...     return torch.autograd.grad(h, h0)[0].item()
    >>> chain(torch.sigmoid, 1.0) < 0.25**10
    True
    >>> chain(torch.sigmoid, 6.0, -3.0) == 1.5**10, chain(torch.relu, 0.5) == 0.5**10
    (True, True)

    The loss of even a two-unit tanh network is not convex: fitting :math:`2\tanh(t)`, the weights
    and their unit-swapped copy both reach loss 0, their average does not:

    >>> t = torch.linspace(-2, 2, 41, dtype=torch.float64).unsqueeze(1)
    >>> def loss(W1, W2):  # tanh(t W1^T) W2^T, two hidden units, no biases
    ...     return F.mse_loss(torch.tanh(t @ W1.T) @ W2.T, 2 * torch.tanh(t)).item()
    >>> W1, W2 = torch.tensor([[1.0], [-1.0]], dtype=torch.float64), torch.tensor([[1.0, -1.0]], dtype=torch.float64)
    >>> swap = [1, 0]
    >>> loss(W1, W2), loss(W1[swap], W2[:, swap])
    (0.0, 0.0)
    >>> loss((W1 + W1[swap]) / 2, (W2 + W2[:, swap]) / 2) > 0
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
        # the slope tensors are built in x's dtype: a Python-float where() would round a to float32
        return torch.where(pos, x, a * x), torch.where(pos, torch.ones_like(x), torch.full_like(x, a))
    # GELU(x) = x Phi(x), Phi the standard normal CDF, phi its density
    Phi = 0.5 * (1 + torch.erf(x / math.sqrt(2)))
    phi = torch.exp(-0.5 * x**2) / math.sqrt(2 * math.pi)
    return x * Phi, Phi + x * phi


@question(
    "why-nonlinear-activations",
    level="basic",
    short=(
        "Without them depth is an illusion: a stack of linear layers is one linear (affine) layer, so it cannot "
        "even fit XOR. A non-linearity between the layers breaks that collapse; then one hidden layer with enough "
        "units can approximate any continuous function on a compact set, as long as the activation is not a "
        "polynomial."
    ),
    followups=("sigmoid-tanh-hidden-layers", "number-of-layers-and-neurons", "dying-relu"),
)
def collapse_linear(*layers: torch.nn.Linear) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The single linear layer ``(W, b)`` equal to a stack of linear layers with no activation between.

    **Why does a neural network need non-linear activation functions?**

    Without them, depth is an illusion: a composition of linear (affine) layers is itself one affine
    layer, so a hundred stacked layers can represent nothing a single layer cannot, for example not
    even XOR. A non-linearity between the layers breaks this collapse; with it, a network with one
    hidden layer and enough units can approximate any continuous function on a compact (closed and
    bounded) set as closely as you like, provided the activation is not a polynomial. With a
    polynomial activation of degree :math:`d` the network stays a polynomial of degree :math:`d`,
    however wide.

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

    Notes
    -----
    The universal approximation theorem is about what one hidden layer can *represent*, on a
    compact set; it says nothing about how many units that takes or whether gradient descent finds
    them. Cybenko (1989) proved it for sigmoids, Hornik (1991) for bounded non-constant
    activations, and Leshno et al. (1993) for every continuous activation that is not a polynomial.

    References
    ----------
    .. [1] G. Cybenko, "Approximation by superpositions of a sigmoidal function", Mathematics of
       Control, Signals and Systems 2, 1989.
    .. [2] M. Leshno, V. Y. Lin, A. Pinkus and S. Schocken, "Multilayer feedforward networks with a
       nonpolynomial activation function can approximate any function", Neural Networks 6, 1993.

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

    With a ReLU in between, no affine map fits at all. On 200 inputs the best least-squares affine
    fit leaves over 1% of the ReLU network's variance unexplained, and none of the linear stack's:

    >>> relu_net = nn.Sequential(stack[0], nn.ReLU(), stack[1], nn.ReLU(), stack[2])
    >>> X = torch.randn(200, 4, dtype=torch.float64)
    >>> A = torch.cat([X, torch.ones(200, 1, dtype=torch.float64)], dim=1)  # every affine map of X is A @ theta
    >>> def unexplained(net):
    ...     Y = net(X).detach()
    ...     fit = A @ torch.linalg.lstsq(A, Y).solution
    ...     return ((Y - fit).pow(2).sum() / (Y - Y.mean(0)).pow(2).sum()).item()
    >>> unexplained(relu_net) > 0.01, unexplained(stack) < 1e-20
    (True, True)

    So the linear stack cannot learn XOR, the simplest non-linear function (its best mean squared
    error is 0.25, predicting 0.5 everywhere):

    >>> X = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
    >>> y = torch.tensor([[0.0], [1.0], [1.0], [0.0]], dtype=torch.float64)
    >>> A = torch.cat([X, torch.ones(4, 1, dtype=torch.float64)], dim=1)  # best affine fit
    >>> round(F.mse_loss(A @ torch.linalg.lstsq(A, y).solution, y).item(), 4)
    0.25

    The activation must not be a polynomial: with :math:`z^2`, a hidden layer of 1000 random units
    computes a quadratic in :math:`t`, so it can never fit :math:`|t|` on :math:`[-1, 1]` better than
    the best quadratic does (off by more than 0.1), while two ReLUs fit it exactly:

    >>> t = torch.linspace(-1, 1, 101, dtype=torch.float64).unsqueeze(1)
    >>> W1, b1 = torch.randn(1000, 1, dtype=torch.float64), torch.randn(1000, dtype=torch.float64)
    >>> wide = (t @ W1.T + b1).pow(2) @ torch.randn(1000, 1, dtype=torch.float64)  # (101, 1)
    >>> P = torch.cat([t**0, t, t**2], dim=1)  # every quadratic in t is P @ c
    >>> def off(f):  # largest error of the best quadratic fit of f
    ...     return (f - P @ torch.linalg.lstsq(P, f).solution).abs().max().item()
    >>> off(wide) < 1e-9 * wide.abs().max().item(), off(t.abs()) > 0.1
    (True, True)
    >>> torch.equal(F.relu(t) + F.relu(-t), t.abs())
    True
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


@question(
    "dying-relu",
    level="intermediate",
    short=(
        "A ReLU unit is dead on some inputs when its pre-activation is negative for all of them: it outputs 0 and "
        "its weights get exactly zero gradient from them. Another input, or earlier layers that keep learning, "
        "can switch it back on. Causes: too large updates, strongly negative biases. Remedies: a smaller learning "
        "rate, careful init, leaky ReLU or GELU."
    ),
    followups=("sigmoid-tanh-hidden-layers", "learning-rate-too-high-or-low", "init-scale-deep-networks"),
)
def dead_relu_fraction(preactivation: torch.Tensor) -> float:
    r"""Fraction of ReLU units whose pre-activation is not positive for any example in the batch.

    **What is a dead ReLU, and how do you avoid it?**

    A ReLU unit is dead on a set of inputs when its pre-activation is negative for every one of
    them: it outputs 0, its derivative is 0, so those inputs give its incoming weights and bias
    exactly zero gradient, and training on them cannot move it. It is dead relative to the data
    and to the layers before it, not for ever: another input can switch it on (one batch is not the
    dataset), and so can the earlier layers, which keep learning through the other units and change
    what it receives. Weight decay on its own weights does not revive it: under SGD it shrinks its
    weights and bias by one common factor, which never changes the sign of its pre-activation. It
    happens after a large update (too high a learning rate) or with a strongly negative bias.
    Remedies: a smaller learning rate, careful initialization, or an activation with a non-zero
    slope for negative inputs (leaky ReLU, ELU, GELU).

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

    Notes
    -----
    .. admonition:: Common mistake

        "A dead ReLU can never be revived."

        Its own gradient is zero only on the inputs that keep it negative. A different input, or an
        upstream layer that has changed, can make its pre-activation positive again, and the
        upstream layers do keep receiving gradient through the live units. The examples prove both;
        they also show what does *not* revive it: SGD with weight decay only scales it.

    Examples
    --------
    A layer pushed to a large negative bias is dead on this batch, and its weights get no gradient:

    >>> layer = nn.Linear(4, 8, dtype=torch.float64)
    >>> _ = nn.init.constant_(layer.bias, -10.0)
    >>> x = torch.randn(32, 4, dtype=torch.float64)
    >>> dead_relu_fraction(layer(x))
    1.0
    >>> F.relu(layer(x)).sum().backward()
    >>> int(layer.weight.grad.count_nonzero()), int(layer.bias.grad.count_nonzero())
    (0, 0)

    Dead on this batch is not dead on every input: the input :math:`20\,w_j/\lVert w_j\rVert^2`
    gives unit :math:`j` the pre-activation :math:`20 - 10 > 0`:

    >>> w = layer.weight.detach()
    >>> probe = 20 * w / w.pow(2).sum(dim=1, keepdim=True)  # row j switches unit j on
    >>> dead_relu_fraction(layer(probe))
    0.0

    The layer before it keeps learning through a live unit beside it, so what the dead units
    receive keeps changing:

    >>> upstream, live = nn.Linear(4, 4, dtype=torch.float64), nn.Linear(4, 1, dtype=torch.float64)
    >>> layer.zero_grad()
    >>> h = upstream(x)
    >>> (F.relu(layer(h)).sum() + live(h).pow(2).sum()).backward()
    >>> int(layer.weight.grad.count_nonzero()), bool(upstream.weight.grad.abs().sum() > 0)
    (0, True)

    Weight decay alone only scales the dead weights, 50 SGD steps by :math:`(1 - \eta\lambda)^{50}`,
    so the units stay dead:

    >>> w0 = layer.weight.detach().clone()
    >>> opt = torch.optim.SGD(layer.parameters(), lr=0.1, weight_decay=0.1)
    >>> for _ in range(50):
    ...     opt.zero_grad()
    ...     F.relu(layer(x)).sum().backward()
    ...     opt.step()
    >>> torch.allclose(layer.weight, w0 * 0.99**50), dead_relu_fraction(layer(x))
    (True, 1.0)

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
