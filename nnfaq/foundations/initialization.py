"""Weight initialization

Why the starting weights must be random and how large they should be: PyTorch's initializers
(``xavier_uniform_``, ``xavier_normal_``, ``kaiming_uniform_``, ``kaiming_normal_``,
``calculate_gain``) written out and equal to ``torch.nn.init``, what zero and constant
initialization do to the gradients (and where zeros are the right start), and how the scale of the
weights decides whether activations survive many layers.
"""

from __future__ import annotations

import math

import torch

from nnfaq import _validate as check
from nnfaq._registry import question

__all__ = [
    "activation_std",
    "calculate_gain",
    "count_distinct_units",
    "kaiming_normal_",
    "kaiming_uniform_",
    "train_mlp",
    "xavier_normal_",
    "xavier_uniform_",
]

# every name torch.nn.init.calculate_gain accepts
_LINEAR = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d")
_NONLINEARITIES = (*_LINEAR, "sigmoid", "tanh", "relu", "leaky_relu", "selu")


def _fans(tensor: torch.Tensor) -> tuple[int, int]:
    check.tensor("tensor", tensor, min_ndim=2)
    if tensor.numel() == 0:
        raise ValueError(f"tensor must have at least one element, got shape {tuple(tensor.shape)}")
    # a (C_out, C_in, *K) weight: each output sums C_in * K inputs, each input feeds C_out * K outputs
    receptive = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    r"""The gain PyTorch recommends for a nonlinearity: the factor that restores unit variance.

    A ReLU zeroes half of a symmetric input, halving its second moment, so the weights must be
    :math:`\sqrt 2` larger to compensate; leaky ReLU loses less; sigmoid and linear layers use 1.

    .. math::

        \text{gain}_{\mathrm{relu}} = \sqrt{2}, \quad
        \text{gain}_{\mathrm{leaky}} = \sqrt{2 / (1 + a^2)}, \quad
        \text{gain}_{\tanh} = 5/3, \quad \text{gain}_{\mathrm{selu}} = 3/4

    Parameters
    ----------
    nonlinearity : str
        One of ``'linear', 'conv1d', 'conv2d', 'conv3d', 'conv_transpose1d', 'conv_transpose2d',
        'conv_transpose3d', 'sigmoid', 'tanh', 'relu', 'leaky_relu', 'selu'`` (the names PyTorch
        accepts; the linear and convolution ones have gain 1).
    param : float, optional
        The negative slope of ``'leaky_relu'`` (default 0.01).

    Returns
    -------
    float
        The gain.

    See Also
    --------
    torch.nn.init.calculate_gain

    Examples
    --------
    >>> names = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
    ...          "conv_transpose3d", "sigmoid", "tanh", "relu", "selu"]
    >>> all(calculate_gain(n) == nn.init.calculate_gain(n) for n in names)
    True
    >>> calculate_gain("leaky_relu", 0.2) == nn.init.calculate_gain("leaky_relu", 0.2)
    True
    >>> round(calculate_gain("relu") ** 2, 6)  # ReLU halves the second moment; gain^2 = 2 undoes it
    2.0
    """
    check.choice("nonlinearity", nonlinearity, _NONLINEARITIES)
    if nonlinearity == "leaky_relu":
        a = 0.01 if param is None else check.number("param", param)
        return math.sqrt(2.0 / (1 + a**2))
    return {"tanh": 5.0 / 3, "relu": math.sqrt(2.0), "selu": 3.0 / 4}.get(nonlinearity, 1)


def xavier_uniform_(tensor: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
    r"""Fill ``tensor`` in place from :math:`U(-a, a)` with Xavier (Glorot) initialization's variance.

    .. math::

        \mathrm{Var}(w) = \text{gain}^2\,\frac{2}{\text{fan\_in} + \text{fan\_out}}

    Parameters
    ----------
    tensor : torch.Tensor
        ``(C_out, C_in, *K)`` weight, at least 2-D.
    gain : float, default 1.0
        Scaling factor, see :func:`calculate_gain`.

    Returns
    -------
    torch.Tensor
        ``tensor``, filled.

    See Also
    --------
    torch.nn.init.xavier_uniform_

    Examples
    --------
    >>> _ = torch.manual_seed(0); ours = xavier_uniform_(torch.empty(30, 20))
    >>> _ = torch.manual_seed(0); ref = nn.init.xavier_uniform_(torch.empty(30, 20))
    >>> torch.equal(ours, ref), bool(ours.abs().max() <= math.sqrt(6 / 50))
    (True, True)
    """
    fan_in, fan_out = _fans(tensor)
    gain = check.number("gain", gain, low=0.0, high=math.inf, high_open=True)
    # std = gain * sqrt(2 / (fan_in + fan_out)); U(-a, a) has variance a^2 / 3
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    a = math.sqrt(3.0) * std
    with torch.no_grad():
        return tensor.uniform_(-a, a)


def xavier_normal_(tensor: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
    r"""Fill ``tensor`` in place from :math:`\mathcal N(0, \text{gain}^2\,2/(\text{fan\_in} + \text{fan\_out}))`.

    Parameters
    ----------
    tensor : torch.Tensor
        ``(C_out, C_in, *K)`` weight, at least 2-D.
    gain : float, default 1.0
        Scaling factor, see :func:`calculate_gain`.

    Returns
    -------
    torch.Tensor
        ``tensor``, filled.

    See Also
    --------
    torch.nn.init.xavier_normal_

    Examples
    --------
    >>> _ = torch.manual_seed(0); ours = xavier_normal_(torch.empty(300, 200, dtype=torch.float64))
    >>> _ = torch.manual_seed(0); ref = nn.init.xavier_normal_(torch.empty(300, 200, dtype=torch.float64))
    >>> torch.equal(ours, ref), bool(abs(ours.std().item() / math.sqrt(2 / 500) - 1) < 0.02)
    (True, True)
    """
    fan_in, fan_out = _fans(tensor)
    gain = check.number("gain", gain, low=0.0, high=math.inf, high_open=True)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    with torch.no_grad():
        return tensor.normal_(0, std)


def _kaiming_std(tensor, a, mode, nonlinearity):
    fan_in, fan_out = _fans(tensor)
    check.choice("mode", mode, ("fan_in", "fan_out"))
    a = check.number("a", a)
    # He et al. (2015), eq. 10: Var(w) = gain^2 / fan keeps the variance of every layer's output
    return calculate_gain(nonlinearity, a) / math.sqrt(fan_in if mode == "fan_in" else fan_out)


@question(
    "xavier-vs-he-init",
    level="intermediate",
    short=(
        "Both set the weight variance so that signals keep their size across layers. Xavier uses 2 / (fan_in + "
        "fan_out), derived for activations linear around 0 such as tanh; He uses 2 / fan_in because ReLU zeroes "
        "half its input: twice Xavier's only when fan_in = fan_out. PyTorch's nn.Linear default is neither: "
        "variance 1 / (3 fan_in)."
    ),
    followups=("init-scale-deep-networks", "why-random-init", "vanishing-gradients"),
)
def kaiming_uniform_(
    tensor: torch.Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"
) -> torch.Tensor:
    r"""Fill ``tensor`` in place from :math:`U(-b, b)` with He (Kaiming) initialization's variance.

    **What is the difference between Xavier and He initialization, and what does PyTorch use by
    default?**

    Both choose the weight variance so that signals keep their size from layer to layer. Xavier
    (Glorot) uses :math:`2/(\text{fan\_in}+\text{fan\_out})`, a compromise between the forward and
    backward passes derived for activations that are linear around zero (tanh); He (Kaiming) uses
    :math:`2/\text{fan\_in}` because a ReLU zeroes half of its input. That is Xavier's variance times
    :math:`(\text{fan\_in}+\text{fan\_out})/\text{fan\_in}`: twice as much only for a layer with
    :math:`\text{fan\_in} = \text{fan\_out}`, four times for one with three times as many outputs
    as inputs. PyTorch's
    ``nn.Linear`` and ``nn.Conv*`` default to neither: ``kaiming_uniform_(a=math.sqrt(5))``, which
    is :math:`U(\pm 1/\sqrt{\text{fan\_in}})`, a variance of :math:`1/(3\,\text{fan\_in})`.

    .. math::

        \mathrm{Var}(w) = \frac{\text{gain}^2}{\text{fan}}, \qquad b = \sqrt{3\,\mathrm{Var}(w)}

    Parameters
    ----------
    tensor : torch.Tensor
        ``(C_out, C_in, *K)`` weight, at least 2-D.
    a : float, default 0.0
        Negative slope of the leaky ReLU that follows (0 for ReLU).
    mode : {'fan_in', 'fan_out'}, default 'fan_in'
        Preserve the variance of the forward pass (``fan_in``) or of the backward pass (``fan_out``).
    nonlinearity : str, default 'leaky_relu'
        Passed to :func:`calculate_gain` with ``a``.

    Returns
    -------
    torch.Tensor
        ``tensor``, filled.

    See Also
    --------
    torch.nn.init.kaiming_uniform_, torch.nn.Linear.reset_parameters

    Notes
    -----
    The default ``a = √5`` is kept for backward compatibility with Lua Torch, not because it is
    optimal; it makes the default initialization shrink activations in a deep ReLU stack (see
    :func:`activation_std`). Use ``kaiming_normal_(w, nonlinearity="relu")`` for deep ReLU nets.

    References
    ----------
    .. [1] X. Glorot and Y. Bengio, "Understanding the difficulty of training deep feedforward
       neural networks", AISTATS 2010.
    .. [2] K. He et al., "Delving Deep into Rectifiers", ICCV 2015.

    Examples
    --------
    Same draws as PyTorch:

    >>> _ = torch.manual_seed(0); ours = kaiming_uniform_(torch.empty(64, 32, 3, 3), nonlinearity="relu")
    >>> _ = torch.manual_seed(0); ref = nn.init.kaiming_uniform_(torch.empty(64, 32, 3, 3), nonlinearity="relu")
    >>> torch.equal(ours, ref), bool(ours.abs().max() <= math.sqrt(6 / (32 * 9)))
    (True, True)

    ``nn.Linear``'s default weights are exactly ``kaiming_uniform_(a=√5)``, bounded by
    :math:`1/\sqrt{\text{fan\_in}}`:

    >>> _ = torch.manual_seed(1); layer = nn.Linear(100, 50)
    >>> _ = torch.manual_seed(1); w = kaiming_uniform_(torch.empty(50, 100), a=math.sqrt(5))
    >>> torch.equal(layer.weight, w)
    True
    >>> bool(w.abs().max() <= 1 / math.sqrt(100))
    True

    He's variance is Xavier's times :math:`(\text{fan\_in}+\text{fan\_out})/\text{fan\_in}`. With the
    same seed both draw the same normal numbers, so every weight's square has exactly that ratio:
    2 for a square layer, 4 for 100 inputs and 300 outputs:

    >>> def ratio(shape):  # He's variance over Xavier's, weight by weight
    ...     _ = torch.manual_seed(0); he = kaiming_normal_(torch.empty(shape, dtype=torch.float64), nonlinearity="relu")
    ...     _ = torch.manual_seed(0); xavier = xavier_normal_(torch.empty(shape, dtype=torch.float64))
    ...     r = he**2 / xavier**2
    ...     return torch.allclose(r, r[0, 0]), round(r[0, 0].item(), 6)
    >>> ratio((200, 200)), ratio((300, 100))  # (fan_out, fan_in)
    ((True, 2.0), (True, 4.0))
    """
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    with torch.no_grad():
        return tensor.uniform_(-bound, bound)


def kaiming_normal_(
    tensor: torch.Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"
) -> torch.Tensor:
    r"""Fill ``tensor`` in place from :math:`\mathcal N(0, \text{gain}^2/\text{fan})` (He initialization).

    Parameters
    ----------
    tensor : torch.Tensor
        ``(C_out, C_in, *K)`` weight, at least 2-D.
    a : float, default 0.0
        Negative slope of the leaky ReLU that follows (0 for ReLU).
    mode : {'fan_in', 'fan_out'}, default 'fan_in'
        Preserve the variance of the forward pass (``fan_in``) or of the backward pass (``fan_out``).
    nonlinearity : str, default 'leaky_relu'
        Passed to :func:`calculate_gain` with ``a``.

    Returns
    -------
    torch.Tensor
        ``tensor``, filled.

    See Also
    --------
    torch.nn.init.kaiming_normal_

    Examples
    --------
    >>> w = torch.empty(400, 250, dtype=torch.float64)
    >>> _ = torch.manual_seed(0); ours = kaiming_normal_(w.clone(), mode="fan_out", nonlinearity="relu")
    >>> _ = torch.manual_seed(0); ref = nn.init.kaiming_normal_(w.clone(), mode="fan_out", nonlinearity="relu")
    >>> torch.equal(ours, ref), bool(abs(ours.std().item() / math.sqrt(2 / 400) - 1) < 0.02)
    (True, True)
    """
    std = _kaiming_std(tensor, a, mode, nonlinearity)
    with torch.no_grad():
        return tensor.normal_(0, std)


@question(
    "init-scale-deep-networks",
    level="intermediate",
    short=(
        "Each layer multiplies the activations' variance by fan_in times the weight variance times what the "
        "activation keeps, one half for ReLU. Over depth that factor is raised to a power: a little below one "
        "and activations and gradients vanish, above one they explode. He initialization makes it one for "
        "ReLU; PyTorch's nn.Linear default gives 1/6."
    ),
    followups=("xavier-vs-he-init", "vanishing-gradients", "exploding-gradients"),
)
def activation_std(input: torch.Tensor, depth: int, init="kaiming", nonlinearity: str = "relu") -> torch.Tensor:
    r"""Standard deviation of the activations after each layer of a deep, bias-free MLP at initialization.

    **Why does the scale of the initial weights matter in a deep network?**

    Each layer multiplies the variance of its input by :math:`\text{fan\_in}\cdot\mathrm{Var}(w)`
    times what the activation keeps (one half for ReLU). Over many layers this factor is raised to
    the power of the depth: slightly too small and the activations (and with them the gradients)
    vanish, slightly too large and they explode. He initialization makes the factor exactly one
    for ReLU, so the signal keeps its size through thirty layers; Xavier's gives one half, and
    PyTorch's ``nn.Linear`` default (variance :math:`1/(3\,\text{fan\_in})`) one sixth.

    .. math::

        \mathrm{Var}(h_l) = \Big(\tfrac12\,\text{fan\_in}\,\mathrm{Var}(w)\Big)^{l}\,\mathrm{Var}(h_0)
        \quad\text{(ReLU)}

    Parameters
    ----------
    input : torch.Tensor
        ``(B, C)`` input batch; every layer is ``C`` wide.
    depth : int
        Number of layers, at least 1.
    init : {'kaiming', 'xavier', 'default'} or float, default 'kaiming'
        He normal init (with the gain of ``nonlinearity``), Xavier normal init (gain 1), PyTorch's
        ``nn.Linear`` default (``kaiming_uniform_(a=√5)``), or a fixed standard deviation.
    nonlinearity : {'relu', 'tanh', 'sigmoid', 'linear'}, default 'relu'
        The activation after every layer.

    Returns
    -------
    torch.Tensor
        ``(depth,)``: the standard deviation of the activations after each layer.

    See Also
    --------
    torch.nn.init.kaiming_normal_, torch.nn.init.xavier_normal_

    Examples
    --------
    With He initialization the activations of a 30-layer ReLU stack keep their size: the factor
    between consecutive layers is one, up to the random drift of a finite width. Xavier's variance
    is half of what ReLU needs and PyTorch's default a sixth, so the signal shrinks by about
    :math:`\sqrt{1/2}` and :math:`\sqrt{1/6}` per layer:

    >>> x = torch.randn(64, 128)
    >>> def per_layer(s):  # the geometric mean of the factor between consecutive layers
    ...     return (s[-1] / s[0]).item() ** (1 / (len(s) - 1))
    >>> he, xavier, default = (activation_std(x, depth=30, init=i) for i in ("kaiming", "xavier", "default"))
    >>> tuple(he.shape), abs(per_layer(he) - 1) < 0.1
    ((30,), True)
    >>> abs(per_layer(xavier) - math.sqrt(1 / 2)) < 0.05, abs(per_layer(default) - math.sqrt(1 / 6)) < 0.05
    (True, True)
    >>> bool(default[-1] / default[0] < 1e-9)
    True

    A small constant std (0.01) vanishes, a larger one (0.2, above :math:`\sqrt{2/128}`) explodes:

    >>> bool(activation_std(x, 30, init=0.01)[-1] < 1e-20), bool(activation_std(x, 30, init=0.2)[-1] > 1e3)
    (True, True)
    """
    check.tensor("input", input, ndim=2, finite=True)
    if input.shape[1] < 1 or input.numel() < 2:
        raise ValueError(f"input must have at least one column and two entries, got shape {tuple(input.shape)}")
    depth = check.integer("depth", depth, low=1)
    check.choice("nonlinearity", nonlinearity, ("relu", "tanh", "sigmoid", "linear"))
    if isinstance(init, str):
        check.choice("init", init, ("kaiming", "xavier", "default"))
    else:
        check.number("init", init, low=0.0, high=math.inf, high_open=True)
    C = input.shape[1]
    act = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid, "linear": lambda t: t}[nonlinearity]
    h, stds = input, []
    with torch.no_grad():
        for _ in range(depth):
            W = torch.empty(C, C, dtype=input.dtype)
            if init == "kaiming":
                kaiming_normal_(W, nonlinearity=nonlinearity)
            elif init == "xavier":
                xavier_normal_(W)  # Glorot's original: gain 1
            elif init == "default":
                kaiming_uniform_(W, a=math.sqrt(5))
            else:
                W.normal_(0, float(init))
            # h_l = f(h_{l-1} W^T)
            h = act(h @ W.T)  # (B, C)
            stds.append(h.std())
    return torch.stack(stds)


@question(
    "zero-initialization",
    level="basic",
    short=(
        "With all weights and biases at zero, every hidden unit outputs 0 and every weight gradient is exactly "
        "0: only the output bias learns, and the network predicts the mean target. Any other constant moves "
        "the weights but keeps the hidden units identical. Zeros are fine where the symmetry is broken "
        "elsewhere: biases, a residual branch's last layer, LoRA's B."
    ),
    followups=("why-random-init", "xavier-vs-he-init", "deep-residual-learning"),
)
def train_mlp(
    input: torch.Tensor, target: torch.Tensor, hidden_features: int, init="default", steps: int = 100, lr: float = 0.1
) -> torch.nn.Sequential:
    r"""Train ``Linear -> ReLU -> Linear`` with full-batch SGD on the mean squared error, from a chosen init.

    **What happens to the gradients and weights when you initialize a network with zeros?**

    With every weight and bias at zero, each hidden unit outputs :math:`\mathrm{ReLU}(0) = 0` and
    every weight gradient is exactly zero (the output weights see zero activations, the hidden
    weights receive the error through zero output weights), so gradient descent never moves them:
    only the output bias learns, and the network predicts the mean target forever. Any other
    constant does move the weights, but every hidden unit receives the same gradient and stays
    identical to the others, so the layer behaves like a single unit (see
    :func:`count_distinct_units`).

    .. math::

        \frac{\partial L}{\partial W_2} = \bar y^\top h = 0, \qquad
        \frac{\partial L}{\partial W_1} = \big((\bar y W_2) \odot [z_1 > 0]\big)^\top x = 0
        \qquad (W_1 = W_2 = 0,\ b_1 = 0)

    Parameters
    ----------
    input : torch.Tensor
        ``(B, C)`` inputs.
    target : torch.Tensor
        ``(B, O)`` targets.
    hidden_features : int
        Width ``H`` of the hidden layer.
    init : 'default' or float, default 'default'
        PyTorch's default random init, or a constant for every weight (biases then start at 0).
    steps : int, default 100
        Number of SGD steps (0 returns the initialized network).
    lr : float, default 0.1
        Learning rate.

    Returns
    -------
    torch.nn.Sequential
        The trained network, in ``input``'s dtype.

    See Also
    --------
    torch.nn.init.zeros_, torch.nn.init.constant_

    Notes
    -----
    .. admonition:: Common mistake

        "Never initialize anything with zeros."

        Zeros hurt only where they are the one thing that could have told the units apart. They are
        the standard start where the symmetry is broken elsewhere: biases (random weights already
        make every unit different); the last layer of a residual branch (the block starts as the
        identity and its earlier layers are random; Goyal et al. zero the last batch-norm scale of
        each ResNet block); and LoRA's :math:`B` (the update :math:`BA` starts at zero, but
        :math:`A` is random, so :math:`B` receives a different gradient for every rank). The
        examples prove all three.

    References
    ----------
    .. [1] P. Goyal et al., "Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour", 2017,
       section 5.1.
    .. [2] E. J. Hu et al., "LoRA: Low-Rank Adaptation of Large Language Models", ICLR 2022.

    Examples
    --------
    >>> x, y = torch.randn(64, 4, dtype=torch.float64), torch.randn(64, 1, dtype=torch.float64)

    At zero init, the weight gradients are exactly zero; only the output bias has a gradient:

    >>> net = train_mlp(x, y, hidden_features=8, init=0.0, steps=0)
    >>> F.mse_loss(net(x), y).backward()
    >>> [int(p.grad.count_nonzero()) for p in net.parameters()]
    [0, 0, 0, 1]

    So training leaves every weight at zero, and the network predicts one number for every input,
    which converges to the mean target:

    >>> net = train_mlp(x, y, hidden_features=8, init=0.0, steps=50)
    >>> int(net[0].weight.count_nonzero()), int(net[2].weight.count_nonzero())
    (0, 0)
    >>> out = net(x)
    >>> torch.equal(out, out[:1].expand(64, 1)), bool(abs(out[0, 0] - y.mean()) < 1e-4)
    (True, True)

    Zero biases with random weights: every parameter gets a gradient:

    >>> net = train_mlp(x, y, hidden_features=8, steps=0)
    >>> for layer in (net[0], net[2]):
    ...     _ = nn.init.zeros_(layer.bias)
    >>> F.mse_loss(net(x), y).backward()
    >>> all(bool(p.grad.abs().sum() > 0) for p in net.parameters())
    True

    A residual branch whose last layer is zero: the block starts as the identity, the zero layer
    gets a gradient at once and the random layer before it from the second step:

    >>> branch = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 4)).double()
    >>> _ = nn.init.zeros_(branch[2].weight), nn.init.zeros_(branch[2].bias)
    >>> goal = torch.randn(64, 4, dtype=torch.float64)
    >>> torch.equal(x + branch(x), x)
    True
    >>> F.mse_loss(x + branch(x), goal).backward()
    >>> bool(branch[2].weight.grad.abs().sum() > 0), int(branch[0].weight.grad.count_nonzero())
    (True, 0)
    >>> torch.optim.SGD(branch.parameters(), lr=0.1).step()
    >>> branch.zero_grad(); F.mse_loss(x + branch(x), goal).backward()
    >>> bool(branch[0].weight.grad.abs().sum() > 0)
    True

    LoRA: a frozen weight plus :math:`BA` with :math:`B = 0` and a random :math:`A`. The output is
    the frozen layer's, and the two columns of :math:`B` get two different gradients:

    >>> W0 = torch.randn(1, 4, dtype=torch.float64)  # frozen, (C_out, C_in)
    >>> A = (0.1 * torch.randn(2, 4, dtype=torch.float64)).requires_grad_()  # rank 2, (r, C_in)
    >>> B = torch.zeros(1, 2, dtype=torch.float64, requires_grad=True)  # (C_out, r)
    >>> out = x @ (W0 + B @ A).T
    >>> torch.equal(out, x @ W0.T)
    True
    >>> F.mse_loss(out, y).backward()
    >>> count_distinct_units(B.grad.T), int(A.grad.count_nonzero())
    (2, 0)
    """
    check.tensor("input", input, ndim=2, finite=True)
    check.tensor("target", target, ndim=2, finite=True)
    if min(input.shape) < 1:
        raise ValueError(f"input must have at least one row and one column, got shape {tuple(input.shape)}")
    check.same_shape("target", target, (input.shape[0], target.shape[1]), "one row per input row")
    if target.shape[1] < 1:
        raise ValueError(f"target must have at least one column, got shape {tuple(target.shape)}")
    if target.dtype != input.dtype:
        raise TypeError(f"target must have input's dtype {input.dtype}, got {target.dtype}")
    H = check.integer("hidden_features", hidden_features, low=1)
    steps = check.integer("steps", steps, low=0)
    lr = check.number("lr", lr, low=0.0, low_open=True, high=math.inf, high_open=True)
    if isinstance(init, str):
        check.choice("init", init, ("default",))
    else:
        init = check.number("init", init, low=-math.inf, high=math.inf, low_open=True, high_open=True)
    net = torch.nn.Sequential(
        torch.nn.Linear(input.shape[1], H), torch.nn.ReLU(), torch.nn.Linear(H, target.shape[1])
    ).to(input.dtype)
    if init != "default":
        with torch.no_grad():
            for layer in (net[0], net[2]):
                layer.weight.fill_(init)
                layer.bias.zero_()
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.mse_loss(net(input), target).backward()
        opt.step()
    return net


@question(
    "why-random-init",
    level="basic",
    short=(
        "To break symmetry. Units that start with the same weights compute the same output, receive the same "
        "gradient and take the same update, so they stay identical through training and the layer is worth "
        "one unit. Random weights make every unit start, and so learn, differently; their scale is then chosen "
        "to keep the signal's variance across layers."
    ),
    followups=("zero-initialization", "xavier-vs-he-init", "init-scale-deep-networks"),
)
def count_distinct_units(weight: torch.Tensor, atol: float = 1e-8) -> int:
    r"""Number of distinct rows (units) of a weight matrix, up to ``atol``.

    **Why do neural network weights need to be randomly initialized?**

    To break symmetry. Units of a layer that start with the same weights compute the same output,
    receive the same gradient and take the same update, so they stay identical for the whole of
    training and the layer has the capacity of a single unit. Random initial weights make every unit
    start, and therefore learn, differently; their scale is then chosen to keep the signal's
    variance (see :func:`kaiming_uniform_`).

    .. math::

        W_{1,i} = W_{1,j}\ \text{and}\ W_{2,:i} = W_{2,:j} \implies
        \frac{\partial L}{\partial W_{1,i}} = \frac{\partial L}{\partial W_{1,j}}
        \implies \text{equal after every step}

    Parameters
    ----------
    weight : torch.Tensor
        ``(H, C)`` weight of a layer with ``H`` units.
    atol : float, default 1e-8
        Two rows are the same unit if no entry differs by more than this.

    Returns
    -------
    int
        How many different units the layer has, between 1 and ``H``.

    See Also
    --------
    torch.nn.init.constant_, torch.unique

    Notes
    -----
    Dropout also breaks the symmetry of a constant initialization (each unit sees a different
    mask), but noisily; random initialization is the standard cure.

    Examples
    --------
    >>> x, y = torch.randn(64, 4, dtype=torch.float64), torch.randn(64, 1, dtype=torch.float64)

    Start all weights at 0.5: after 50 steps the eight hidden units are still one unit, so the
    hidden layer hands the output layer a single feature (its activations have rank 1):

    >>> const = train_mlp(x, y, hidden_features=8, init=0.5, steps=50)
    >>> bool(const[0].weight.grad.abs().sum() > 0)  # the weights do learn, all alike
    True
    >>> count_distinct_units(const[0].weight)
    1
    >>> int(torch.linalg.matrix_rank(F.relu(const[0](x))))
    1

    A random start keeps eight different units:

    >>> rand = train_mlp(x, y, hidden_features=8, steps=50)
    >>> count_distinct_units(rand[0].weight)
    8
    """
    check.tensor("weight", weight, ndim=2, finite=True)
    atol = check.number("atol", atol, low=0.0)
    W = weight.detach()
    representatives: list[torch.Tensor] = []
    for row in W:  # (C,)
        if not any(bool(((row - r).abs() <= atol).all()) for r in representatives):
            representatives.append(row)
    return len(representatives)
