"""Deep residual learning

What residual connections were invented for (the degradation problem: deeper plain networks
training *worse*), why an identity shortcut makes depth harmless, and how the identity path carries
the gradient: a residual block, and plain or residual multilayer networks of any depth to train
side by side.
"""

from __future__ import annotations

import math

import torch

from nnfaq import _validate as check
from nnfaq._registry import question

__all__ = ["deep_mlp", "fit", "residual_block"]

_ACTS = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid}


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
    opt = torch.optim.Adam(model.parameters(), lr=lr)
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


@question("deep-residual-learning")
def residual_block(input: torch.Tensor, branch) -> torch.Tensor:
    r"""A residual block: the input plus what a branch computes from it, :math:`x + F(x)`.

    **What is deep residual learning, and what problem did it solve?**

    Instead of asking a stack of layers to produce the desired mapping :math:`H(x)`, a residual
    block asks it for the *residual* :math:`F(x) = H(x) - x` and adds the input back through an
    identity shortcut. He et al. introduced it for the *degradation problem*: beyond some depth,
    plain networks reached a higher *training* error than shallower ones, although the deeper one
    could copy the shallower and set its extra layers to the identity. With shortcuts, the identity
    is the default (the branch at zero), so extra depth cannot hurt, and very deep networks (152
    layers and more) train. The shortcut also gives the gradient a path that skips the branch.

    .. math::

        y = x + F(x), \qquad
        \frac{\partial L}{\partial x} = \frac{\partial L}{\partial y}
        \Big(I + \frac{\partial F}{\partial x}\Big)

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

    Notes
    -----
    .. admonition:: Common mistake

        "Residual learning works by alleviating the vanishing gradient problem."

        He et al. state that vanishing gradients had already been "largely addressed" by
        normalized initialization and batch normalization, and that their plain networks with
        batch norm had healthy gradients yet a higher training error: the degradation problem.
        The examples show a 30-layer plain network with batch norm whose first layer gets a
        *larger* gradient than its last (nothing vanishes); the gallery example and
        ``tests/test_residual.py`` train it and find a training loss far above a 3-layer
        network's, which the residual network of the same depth does not have.

    References
    ----------
    .. [1] K. He, X. Zhang, S. Ren and J. Sun, "Deep Residual Learning for Image Recognition",
       CVPR 2016.
    .. [2] K. He, X. Zhang, S. Ren and J. Sun, "Identity Mappings in Deep Residual Networks",
       ECCV 2016.

    Examples
    --------
    The block's gradient is the output gradient plus the branch's contribution:

    >>> branch = nn.Sequential(nn.ReLU(), nn.Linear(8, 8, dtype=torch.float64))
    >>> x = torch.randn(4, 8, dtype=torch.float64, requires_grad=True)
    >>> g = torch.randn(4, 8, dtype=torch.float64)
    >>> (ours,) = torch.autograd.grad(residual_block(x, branch), x, g)
    >>> (through_branch,) = torch.autograd.grad(branch(x), x, g)
    >>> torch.allclose(ours, g + through_branch)
    True

    With the branch's last layer at zero, the block is the identity and its input gradient is
    exactly its output gradient, however many blocks are stacked:

    >>> _ = nn.init.zeros_(branch[1].weight)
    >>> (ours,) = torch.autograd.grad(residual_block(residual_block(x, branch), branch), x, g)
    >>> torch.equal(ours, g)
    True

    A deep *plain* network with batch norm does not suffer from vanishing gradients: its first
    layer's gradient is larger than its last layer's (yet it trains worse, see the gallery):

    >>> _ = torch.manual_seed(0)
    >>> plain = deep_mlp(2, 16, 1, depth=30, batch_norm=True)
    >>> x = torch.rand(64, 2) * 2 - 1
    >>> F.mse_loss(plain(x), torch.sin(3 * x[:, :1]) * torch.cos(3 * x[:, 1:])).backward()
    >>> bool(plain[0].weight.grad.norm() > plain[-1].weight.grad.norm())
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
