"""Deep residual learning

What residual connections were invented for (the degradation problem: deeper plain networks
training *worse*), what the identity shortcut does to the forward and the backward pass, and what a
network small enough for a CPU can and cannot show of it: a residual block, and plain or residual
multilayer networks of any depth to train side by side.
"""

from __future__ import annotations

import math

import torch

from nnfaq import _validate as check
from nnfaq._registry import question

__all__ = ["deep_mlp", "fit", "residual_block"]

_ACTS = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid}

#: Published errors (%) of K. He et al., "Deep Residual Learning for Image Recognition", CVPR 2016
#: (arXiv:1512.03385): ImageNet top-1 validation error, 10-crop testing (Table 2; the training
#: curves are in Fig. 4), and CIFAR-10 test error, best of 5 runs for ResNet-110 (Table 6).
HE_2015 = {
    "imagenet_top1_error": {"plain-18": 27.94, "plain-34": 28.54, "resnet-18": 27.88, "resnet-34": 25.03},
    "cifar10_test_error": {"resnet-110": 6.43, "resnet-1202": 7.93},
}


class _Residual(torch.nn.Module):
    """``x + branch(x)``, through :func:`residual_block`."""

    def __init__(self, branch: torch.nn.Module):
        super().__init__()
        self.branch = branch

    def forward(self, x):
        return residual_block(x, self.branch)


def deep_mlp(
    in_features: int,
    hidden_features: int,
    out_features: int,
    depth: int,
    activation: str = "relu",
    residual: bool = False,
    batch_norm: bool = False,
    zero_init_residual: bool = True,
) -> torch.nn.Sequential:
    r"""A deep multilayer network, plain or residual, with ``depth`` hidden blocks of equal width.

    Plain blocks are ``Linear -> [BatchNorm] -> activation``; residual blocks are
    ``x + Linear(activation([BatchNorm](x)))`` (the pre-activation form of He et al., 2016). Every
    weight gets He-style initialization with the activation's gain (``kaiming_normal_``), biases 0.

    .. math::

        \text{plain: } h_l = f(W_l h_{l-1} + b_l), \qquad
        \text{residual: } h_l = h_{l-1} + W_l f(h_{l-1}) + b_l

    Parameters
    ----------
    in_features, hidden_features, out_features : int
        Input width, width of every hidden block, output width.
    depth : int
        Number of hidden blocks (each has one hidden ``Linear``), at least 1.
    activation : {'relu', 'tanh', 'sigmoid'}, default 'relu'
        The non-linearity.
    residual : bool, default False
        Add the identity shortcut around every block.
    batch_norm : bool, default False
        Put a ``BatchNorm1d`` in every block.
    zero_init_residual : bool, default True
        Start each residual branch's last ``Linear`` at zero so every block starts as the identity
        (as ``torchvision``'s ``zero_init_residual``); ignored when ``residual=False``.

    Returns
    -------
    torch.nn.Sequential
        ``Linear(in, hidden)``, the ``depth`` blocks, ``Linear(hidden, out)``; float32.

    See Also
    --------
    torch.nn.Sequential, torch.nn.init.kaiming_normal_

    Examples
    --------
    >>> plain = deep_mlp(2, 16, 1, depth=20)
    >>> res = deep_mlp(2, 16, 1, depth=20, residual=True)
    >>> len(plain), len(res), sum(p.numel() for p in plain.parameters()) == sum(p.numel() for p in res.parameters())
    (22, 22, True)

    With zero-initialized branches, the residual network starts as its first and last layers alone:

    >>> x = torch.randn(5, 2)
    >>> torch.equal(res(x), res[-1](res[0](x)))
    True
    """
    for name, value in (("in_features", in_features), ("hidden_features", hidden_features)):
        check.integer(name, value, low=1)
    check.integer("out_features", out_features, low=1)
    depth = check.integer("depth", depth, low=1)
    check.choice("activation", activation, tuple(_ACTS))
    for name, value in (("residual", residual), ("batch_norm", batch_norm), ("zero_init_residual", zero_init_residual)):
        check.flag(name, value)
    H = hidden_features
    blocks: list[torch.nn.Module] = [torch.nn.Linear(in_features, H)]
    for _ in range(depth):
        norm = [torch.nn.BatchNorm1d(H)] if batch_norm else []
        if residual:
            blocks.append(_Residual(torch.nn.Sequential(*norm, _ACTS[activation](), torch.nn.Linear(H, H))))
        else:
            blocks.append(torch.nn.Sequential(torch.nn.Linear(H, H), *norm, _ACTS[activation]()))
    blocks.append(torch.nn.Linear(H, out_features))
    net = torch.nn.Sequential(*blocks)
    for m in net.modules():
        if isinstance(m, torch.nn.Linear):
            torch.nn.init.kaiming_normal_(m.weight, nonlinearity=activation)
            torch.nn.init.zeros_(m.bias)
    if residual and zero_init_residual:
        for block in net[1:-1]:
            torch.nn.init.zeros_(block.branch[-1].weight)
    return net


def fit(model: torch.nn.Module, input: torch.Tensor, target: torch.Tensor, steps: int = 200, lr: float = 3e-3):
    r"""Train ``model`` on a regression batch with full-batch Adam; return the training loss of every step.

    .. math::

        L = \tfrac{1}{B\,O}\textstyle\sum_{i} \lVert \mathrm{model}(x_i) - y_i\rVert^2

    Parameters
    ----------
    model : torch.nn.Module
        The network, trained in place (in training mode).
    input : torch.Tensor
        ``(B, C)`` inputs.
    target : torch.Tensor
        ``(B, O)`` targets.
    steps : int, default 200
        Number of Adam steps, at least 1.
    lr : float, default 3e-3
        Learning rate.

    Returns
    -------
    list of float
        ``steps`` training losses (mean squared error), before each update.

    See Also
    --------
    torch.optim.Adam, torch.nn.functional.mse_loss

    Notes
    -----
    A fresh optimizer every call: calling ``fit`` twice is not the same as one call with twice the
    steps (Adam's moment estimates restart).

    Examples
    --------
    >>> x = torch.rand(64, 2) * 2 - 1
    >>> losses = fit(deep_mlp(2, 16, 1, depth=2), x, x.prod(dim=1, keepdim=True), steps=100)
    >>> len(losses), losses[-1] < losses[0] / 2
    (100, True)
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    check.tensor("input", input, ndim=2, finite=True)
    check.tensor("target", target, ndim=2, finite=True)
    if min(input.shape) < 1:
        raise ValueError(f"input must have at least one row and one column, got shape {tuple(input.shape)}")
    check.same_shape("target", target, (input.shape[0], target.shape[1]), "one row per input row")
    if target.dtype != input.dtype:
        raise TypeError(f"target must have input's dtype {input.dtype}, got {target.dtype}")
    steps = check.integer("steps", steps, low=1)
    lr = check.number("lr", lr, low=0.0, low_open=True, high=math.inf, high_open=True)
    dtypes = {p.dtype for p in model.parameters()}
    if dtypes and input.dtype not in dtypes:
        raise TypeError(
            f"input must have the dtype of model's parameters {sorted(map(str, dtypes))}, got {input.dtype}"
        )
    model.train()
    # foreach: the same Adam, one kernel per step for all parameters (deep nets have hundreds)
    opt = torch.optim.Adam(model.parameters(), lr=lr, foreach=True)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        out = model(input)
        # mse_loss would broadcast a (B, 1) output against a (B, O) target: a silently wrong loss
        check.same_shape("target", target, tuple(out.shape), "the shape of model(input)")
        loss = torch.nn.functional.mse_loss(out, target)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


@question(
    "deep-residual-learning",
    level="intermediate",
    short=(
        "A residual block outputs x + F(x): its layers learn a change to the identity. He et al. introduced "
        "it because deeper plain networks had higher training error than shallower ones. The shortcut makes "
        "the identity the default and the Jacobian I + dF/dx; 152-layer networks trained. Depth is not free: "
        "their 1202-layer network tested worse than the 110-layer one."
    ),
    followups=("vanishing-gradients", "zero-initialization", "batch-norm-train-vs-eval"),
)
def residual_block(input: torch.Tensor, branch) -> torch.Tensor:
    r"""A residual block: the input plus what a branch computes from it, :math:`x + F(x)`.

    **What is deep residual learning, and what problem did it solve?**

    Instead of asking a stack of layers to produce the desired mapping :math:`H(x)`, a residual
    block asks it for the *residual* :math:`F(x) = H(x) - x` and adds the input back through an
    identity shortcut. He et al. introduced it for the *degradation problem*: on ImageNet and
    CIFAR-10 their deeper plain networks, with batch normalization, had a higher *training* error
    than shallower ones (so it was not overfitting), although a deeper network could copy the
    shallower one and set its extra layers to the identity. They found the gradients healthy and
    conjectured that deep plain networks are simply very slow to optimize [1]_.

    With shortcuts the identity is the default (a branch at zero), the 34-layer ResNet beat the
    18-layer one where the plain 34-layer network had lost to its 18-layer twin, and networks of
    152 layers trained. The shortcut also gives the gradient a path that skips the branch: the
    block's Jacobian is :math:`I + \partial F/\partial x`. Depth is still not free: their 1202-layer
    CIFAR-10 network reached a training error like the 110-layer one's but a higher test error.

    .. math::

        y = x + F(x), \qquad
        \frac{\partial y}{\partial x} = I + \frac{\partial F}{\partial x}, \qquad
        \frac{\partial x_L}{\partial x_0} = \prod_{l=1}^{L} \Big(I + \frac{\partial F_l}{\partial x_{l-1}}\Big)

    Parameters
    ----------
    input : torch.Tensor
        ``(B, C, *)`` input :math:`x`.
    branch : callable
        The residual function :math:`F`, e.g. a ``torch.nn.Sequential``; its output must have
        ``input``'s shape.

    Returns
    -------
    torch.Tensor
        ``(B, C, *)``, :math:`x + F(x)`.

    See Also
    --------
    deep_mlp : plain and residual networks built from these blocks.
    fit : full-batch Adam, to train them side by side.

    Notes
    -----
    What a network small enough for a CPU shows, and where it stops matching the paper (the
    topic's tests and the gallery run it; the doctests below are only the cheap parts): at a fixed,
    small budget (40 to 100 Adam steps; the same data, learning rate and seed), a 30-block residual MLP
    with batch norm reaches a far lower training loss than the 30-block plain one, for every seed
    tested. That is optimization *speed* at that budget. It is not the paper's degradation: given
    several hundred more steps, this toy's plain network catches up and can end with the lowest
    training loss of all (seen while writing, for seeds 0-3 at 1000 steps; too slow for the tests),
    whereas He et al.'s deeper plain networks stayed above the shallower ones
    through the whole of a full training schedule, on real images, with convolutions and SGD.
    Nor are the toy's plain gradients small: at initialization they *grow* towards the input.

    .. admonition:: Common mistake

        "Residual learning works by alleviating the vanishing gradient problem."

        He et al. state that vanishing gradients had already been "largely addressed" by
        normalized initialization and batch normalization, and that their plain networks with
        batch norm had healthy gradients yet a higher training error: the degradation problem. The
        identity path does carry the gradient (the Jacobian :math:`I + \partial F/\partial x`, proven
        below), but in the examples a 30-block plain network with batch norm gets a *larger*
        gradient in its first layer than in its last: nothing vanishes, and it still trains more
        slowly than the residual network at a fixed budget (the topic's tests).

    .. admonition:: Common mistake

        "With residual connections, extra depth cannot hurt."

        Shortcuts make the identity easy to represent (a deeper residual network whose extra
        branches are zero is exactly the shallower one, as the examples show), but a network that
        can represent the shallower one need not be trained into something better. He et al.'s
        1202-layer CIFAR-10 ResNet reached a training error similar to the 110-layer one (below
        0.1%) and a test error of 7.93% against 6.43%, which they attribute to overfitting.

    References
    ----------
    .. [1] K. He, X. Zhang, S. Ren and J. Sun, "Deep Residual Learning for Image Recognition",
       CVPR 2016 (Sec. 4.1 on degradation, Table 2, Sec. 4.2 on the 1202-layer network, Table 6).
    .. [2] K. He, X. Zhang, S. Ren and J. Sun, "Identity Mappings in Deep Residual Networks",
       ECCV 2016.

    Examples
    --------
    The block's vector-Jacobian product is the output gradient plus the branch's:

    >>> branch = nn.Sequential(nn.Linear(8, 8, dtype=torch.float64), nn.Tanh(), nn.Linear(8, 8, dtype=torch.float64))
    >>> x = torch.randn(4, 8, dtype=torch.float64, requires_grad=True)
    >>> g = torch.randn(4, 8, dtype=torch.float64)
    >>> (ours,) = torch.autograd.grad(residual_block(x, branch), x, g)
    >>> (through_branch,) = torch.autograd.grad(branch(x), x, g)
    >>> torch.allclose(ours, g + through_branch)
    True

    The whole Jacobian is :math:`I + \partial F/\partial x`:

    >>> v = torch.randn(8, dtype=torch.float64)
    >>> J = torch.autograd.functional.jacobian(lambda t: residual_block(t, branch), v)
    >>> torch.allclose(J, torch.eye(8, dtype=torch.float64) + torch.autograd.functional.jacobian(branch, v))
    True

    With the branch's last layer at zero, the block is the identity and its input gradient is
    exactly its output gradient, however many blocks are stacked:

    >>> _ = nn.init.zeros_(branch[-1].weight), nn.init.zeros_(branch[-1].bias)
    >>> (ours,) = torch.autograd.grad(residual_block(residual_block(x, branch), branch), x, g)
    >>> torch.equal(ours, g)
    True

    So a 30-block residual network whose last 27 branches are zero *is* the 3-block network made of
    its first blocks: extra depth can be the identity, which does not make it better:

    >>> deep = deep_mlp(2, 16, 1, depth=30, residual=True, zero_init_residual=False)
    >>> for block in deep[4:-1]:
    ...     _ = nn.init.zeros_(block.branch[-1].weight)
    >>> shallow = nn.Sequential(deep[0], *deep[1:4], deep[-1])
    >>> z = torch.rand(64, 2) * 2 - 1
    >>> torch.equal(deep(z), shallow(z))
    True

    A deep *plain* network with batch norm has no vanishing gradient at initialization: its first
    layer's gradient is larger than its last layer's:

    >>> plain = deep_mlp(2, 16, 1, depth=30, batch_norm=True)
    >>> F.mse_loss(plain(z), torch.sin(3 * z[:, :1]) * torch.cos(3 * z[:, 1:])).backward()
    >>> bool(plain[0].weight.grad.norm() > plain[-1].weight.grad.norm())
    True

    What the paper measured (``HE_2015``): on ImageNet the plain 34-layer network was worse than
    the plain 18-layer one and the residual 34-layer network better than the residual 18-layer one;
    on CIFAR-10 the 1202-layer ResNet was worse than the 110-layer one:

    >>> from nnfaq.training.residual import HE_2015
    >>> top1, cifar = HE_2015["imagenet_top1_error"], HE_2015["cifar10_test_error"]
    >>> top1["plain-34"] > top1["plain-18"], top1["resnet-34"] < top1["resnet-18"]
    (True, True)
    >>> cifar["resnet-1202"] > cifar["resnet-110"]
    True
    """
    check.tensor("input", input, min_ndim=1)
    if not callable(branch):
        raise TypeError(f"branch must be callable (e.g. a torch.nn.Module), got {type(branch).__name__}")
    fx = branch(input)
    if not isinstance(fx, torch.Tensor) or fx.shape != input.shape:
        got = tuple(fx.shape) if isinstance(fx, torch.Tensor) else type(fx).__name__
        raise ValueError(f"branch must return a tensor of the input's shape {tuple(input.shape)}, got {got}")
    # y = x + F(x): the identity path adds dL/dy to dL/dx unchanged
    return input + fx
