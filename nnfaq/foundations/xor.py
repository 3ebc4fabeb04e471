"""XOR

The smallest network that computes XOR, built exactly with chosen weights, and the one-line
proof that no linear model (and no single hidden unit without a skip connection) can.
"""

from __future__ import annotations

import torch

from nnfaq import _validate as check
from nnfaq._registry import question

__all__ = ["xor_network"]


class _SkipXor(torch.nn.Module):
    """``y = x1 + x2 - 2 relu(x1 + x2 - 1)``: one hidden unit plus a linear path from the input."""

    def __init__(self, dtype):
        super().__init__()
        self.hidden = torch.nn.Linear(2, 1, dtype=dtype)
        self.skip = torch.nn.Linear(2, 1, bias=False, dtype=dtype)
        self.out = torch.nn.Linear(1, 1, bias=False, dtype=dtype)

    def forward(self, x):
        return self.skip(x) + self.out(torch.relu(self.hidden(x)))  # (B, 1)


@question(
    "xor-smallest-network",
    level="basic",
    short=(
        "Two ReLU hidden units: h1 = relu(x1+x2), h2 = relu(x1+x2-1), y = h1-2*h2 gives 0, 1, 1, 0. No linear "
        "model can: every affine f has f(0,0)+f(1,1) = f(1,0)+f(0,1), so no threshold separates the ones from the "
        "zeros. The same identity rules out one hidden unit, unless a skip connection adds a linear path."
    ),
    followups=("why-nonlinear-activations", "sigmoid-tanh-hidden-layers"),
)
def xor_network(skip: bool = False, dtype: torch.dtype | None = None) -> torch.nn.Module:
    r"""A network with hand-set weights that computes XOR exactly on ``{0, 1}^2``.

    **What is the smallest neural network that computes XOR, and why can no linear model?**

    With ReLU, two hidden units are enough: :math:`h_1 = \mathrm{relu}(x_1 + x_2)`,
    :math:`h_2 = \mathrm{relu}(x_1 + x_2 - 1)` and :math:`y = h_1 - 2h_2` give 0, 1, 1, 0 (the
    second unit switches on only for ``(1, 1)`` and cancels it). No linear model can: for any
    affine :math:`f(x) = w^\top x + b`, :math:`f(0,0) + f(1,1) = f(1,0) + f(0,1) = w_1 + w_2 + 2b`,
    so if both "1" points score above a threshold, their sum exceeds twice it and so does the
    "0" points' sum: one of them is above it too. The same identity holds for the pre-activation
    of a single hidden unit, and a monotone activation keeps the order, so a one-unit network
    without a skip connection cannot either; with a linear path from input to output one unit
    suffices: :math:`y = x_1 + x_2 - 2\,\mathrm{relu}(x_1 + x_2 - 1)`.

    .. math::

        y = h_1 - 2 h_2, \qquad h = \mathrm{relu}\left(\begin{bmatrix}1 & 1\\ 1 & 1\end{bmatrix} x +
        \begin{bmatrix}0 \\ -1\end{bmatrix}\right)

    Parameters
    ----------
    skip : bool, default False
        Build the two-hidden-unit MLP (False) or the one-unit network with a skip connection (True).
    dtype : torch.dtype, optional
        The parameters' dtype (default: torch's default dtype).

    Returns
    -------
    torch.nn.Module
        Maps ``(B, 2)`` to ``(B, 1)``; an ``nn.Sequential`` of ``Linear(2, 2)``, ``ReLU``,
        ``Linear(2, 1)`` when ``skip`` is False.

    See Also
    --------
    torch.nn.Sequential

    References
    ----------
    .. [1] M. Minsky and S. Papert, "Perceptrons", MIT Press, 1969 (a single-layer perceptron
       cannot compute XOR).
    .. [2] D. E. Rumelhart, G. E. Hinton and R. J. Williams, "Learning representations by
       back-propagating errors", Nature 323, 1986 (a hidden layer learns it).

    Examples
    --------
    >>> x = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    >>> net = xor_network()
    >>> net(x).flatten().tolist(), xor_network(skip=True)(x).flatten().tolist()
    ([0.0, 1.0, 1.0, 0.0], [0.0, 1.0, 1.0, 0.0])
    >>> sum(p.numel() for p in net.parameters()), sum(p.numel() for p in xor_network(skip=True).parameters())
    (9, 6)

    Any affine map, here 100 random ones, satisfies the identity that makes XOR impossible:

    >>> _ = torch.manual_seed(0)
    >>> affine = [nn.Linear(2, 1, dtype=torch.float64) for _ in range(100)]
    >>> all(torch.allclose(f(x.double())[0] + f(x.double())[3], f(x.double())[1] + f(x.double())[2]) for f in affine)
    True

    So the best linear fit, by least squares, predicts 0.5 everywhere:

    >>> X = torch.cat([x, torch.ones(4, 1)], dim=1).double()
    >>> w = torch.linalg.lstsq(X, torch.tensor([[0.0], [1.0], [1.0], [0.0]], dtype=torch.float64)).solution
    >>> [round(v, 4) for v in (X @ w).flatten().tolist()]
    [0.5, 0.5, 0.5, 0.5]

    The hidden layer makes the problem linear: in ``(h1, h2)`` the points are ``(0, 0)``,
    ``(1, 0)``, ``(1, 0)``, ``(2, 1)``, and the output layer is a line through them:

    >>> torch.relu(net[0](x)).tolist()
    [[0.0, 0.0], [1.0, 0.0], [1.0, 0.0], [2.0, 1.0]]
    """
    skip = check.flag("skip", skip)
    if dtype is not None and not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise TypeError(f"dtype must be a floating-point torch.dtype, got {dtype!r}")
    with torch.no_grad():
        if skip:
            net = _SkipXor(dtype)
            # y = x1 + x2 - 2 relu(x1 + x2 - 1)
            net.hidden.weight.fill_(1.0)
            net.hidden.bias.fill_(-1.0)
            net.skip.weight.fill_(1.0)
            net.out.weight.fill_(-2.0)
            return net
        net = torch.nn.Sequential(
            torch.nn.Linear(2, 2, dtype=dtype), torch.nn.ReLU(), torch.nn.Linear(2, 1, dtype=dtype)
        )
        # h1 = relu(x1 + x2), h2 = relu(x1 + x2 - 1)
        net[0].weight.fill_(1.0)
        net[0].bias.copy_(torch.tensor([0.0, -1.0]))
        # y = h1 - 2 h2
        net[2].weight.copy_(torch.tensor([[1.0, -2.0]]))
        net[2].bias.zero_()
    return net
