"""Backpropagation

What backpropagation computes and what it does not: a reverse-mode automatic differentiation engine
on scalars whose every derivative sits beside its forward rule, a two-layer network's backward pass
written by hand, and the division of labour in a PyTorch training step (``backward`` fills
``.grad``, the optimizer changes the weights, ``zero_grad`` stops gradients from accumulating).
"""

from __future__ import annotations

import math

import torch

from nnfaq import _validate as check
from nnfaq._registry import question

__all__ = ["Value", "mlp_backward", "train_step"]


def _pow(a: float, k: float) -> float:
    """``a ** k`` in IEEE arithmetic like PyTorch: ``inf`` where Python raises (overflow, ``0 ** -1``)."""
    if a < 0 and not k.is_integer():
        raise ValueError(f"exponent must be an integer for a negative base, got {a:g} ** {k:g}")
    try:
        return a**k
    except (OverflowError, ZeroDivisionError):
        odd = k.is_integer() and int(k) % 2 == 1
        return math.copysign(math.inf, a) if odd else math.inf


def _operand(other) -> Value:
    return other if isinstance(other, Value) else Value(check.number("other", other))


@question(
    "what-is-backpropagation",
    level="basic",
    short=(
        "Backpropagation is the chain rule run backwards through the computation graph: each operation "
        "multiplies the gradient arriving at its output by its local derivative and adds the result to its "
        "inputs' gradients. One backward pass gives the gradient for every weight, at about twice the forward "
        "pass's FLOPs. It only computes gradients; the optimizer then changes the weights."
    ),
    followups=("mlp-backward-by-hand", "why-zero-grad", "vanishing-gradients"),
)
class Value:
    r"""A scalar node of a computation graph that can backpropagate gradients to its inputs.

    **What is backpropagation?**

    Backpropagation is the chain rule applied from the loss backwards through the computation graph:
    each operation multiplies the gradient arriving at its output by its local derivative and adds
    the result to the gradients of its inputs, so one backward pass yields the derivative of the
    loss with respect to every input and weight. It costs a small multiple of the forward pass: a
    matrix product in the forward needs two of the same size in the backward (one for the gradient
    of its input, one for that of its weight), so the backward takes about twice the forward's FLOPs
    and a training step about three times, plus the memory that keeps the forward's activations. It
    only computes gradients; changing the weights is a separate step taken by the optimizer
    (gradient descent, Adam, ...).

    .. math::

        \bar v = \frac{\partial L}{\partial v}, \qquad
        \bar u \mathrel{+}= \bar v\,\frac{\partial v}{\partial u}
        \quad\text{for every input } u \text{ of } v,
        \text{ visiting } v \text{ in reverse topological order}

    Parameters
    ----------
    data : float
        The value of this node, a real number (``inf`` allowed, ``nan`` rejected).

    Returns
    -------
    Value
        A leaf node with ``.data`` and ``.grad = 0.0``. Arithmetic on nodes (``+ - * / **``,
        :meth:`~Value.exp`, :meth:`~Value.log`, :meth:`~Value.tanh`, :meth:`~Value.sigmoid`,
        :meth:`~Value.relu`) returns new nodes; :meth:`~Value.backward` fills ``.grad`` of every node
        the output depends on.

    See Also
    --------
    torch.autograd.backward, torch.Tensor.backward

    Notes
    -----
    Like PyTorch, leaf gradients *accumulate*: a second ``backward()`` adds to ``.grad`` until you
    reset it, and a node used twice receives the sum of both paths' gradients. Overflow and division
    by zero give ``inf`` as in PyTorch; a negative base with a non-integer exponent, or ``log`` of a
    non-positive number, raises ``ValueError`` (PyTorch returns ``nan`` or ``-inf``).

    .. admonition:: Common mistake

        "Backpropagation updates the weights to minimize the loss."

        Backpropagation only computes :math:`\partial L/\partial w`; the update
        :math:`w \leftarrow w - \eta\,\partial L/\partial w` is the optimizer's job. The examples
        show ``backward()`` leaving every ``.data`` untouched, and the weight changing only when the
        update is applied (see :func:`train_step` for the same fact with ``optimizer.step()``).

    References
    ----------
    .. [1] D. E. Rumelhart, G. E. Hinton and R. J. Williams, "Learning representations by
       back-propagating errors", Nature 323, 1986.
    .. [2] A. Karpathy, micrograd, https://github.com/karpathy/micrograd

    Examples
    --------
    Values and gradients equal PyTorch's autograd on the same expression (``f`` runs on both):

    >>> def f(x, w):
    ...     return (x * w + 1).tanh() * x.exp() - (w**2).sigmoid() / x + (x - w).relu().log()
    >>> x, w = Value(0.5), Value(-1.5)
    >>> y = f(x, w)
    >>> y.backward()
    >>> xt = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    >>> wt = torch.tensor(-1.5, dtype=torch.float64, requires_grad=True)
    >>> yt = f(xt, wt)
    >>> yt.backward()
    >>> all(abs(a - b) < 1e-12 for a, b in [(y.data, yt.item()), (x.grad, xt.grad.item()), (w.grad, wt.grad.item())])
    True

    Backpropagation computed gradients and changed nothing else: after ``backward()`` the forward
    pass gives the same value. A small step against the gradient (the optimizer's job, not
    backprop's) lowers it:

    >>> f(x, w).data == y.data
    True
    >>> for v in (x, w):
    ...     v.data -= 0.01 * v.grad
    >>> f(x, w).data < y.data
    True

    A node used twice gets the sum of both paths, and a second backward pass accumulates:

    >>> a = Value(3.0)
    >>> b = a * a
    >>> b.backward(); a.grad
    6.0
    >>> b.backward(); a.grad
    12.0

    The backward pass costs about twice the forward. A linear layer's forward is one matrix product,
    ``(B, C_in)`` by ``(C_in, C_out)``: :math:`2 B C_{in} C_{out}` FLOPs. Its backward is two products
    with the same three sizes, one for the gradient of the input and one for that of the weight (a
    first layer, whose input needs no gradient, skips the first):

    >>> W = torch.randn(128, 256, dtype=torch.float64, requires_grad=True)  # (C_out, C_in)
    >>> h = torch.randn(64, 256, dtype=torch.float64, requires_grad=True)  # (B, C_in)
    >>> g = torch.randn(64, 128, dtype=torch.float64)  # dL/d(h W^T), (B, C_out)
    >>> dh, dW = torch.autograd.grad(h @ W.T, (h, W), g)
    >>> torch.allclose(dh, g @ W), torch.allclose(dW, g.T @ h)  # (B, C_out)(C_out, C_in), (C_out, B)(B, C_in)
    (True, True)
    """

    def __init__(self, data: float, _children: tuple[Value, ...] = (), _op: str = ""):
        self.data = check.number("data", data) if not _children else data
        self.grad = 0.0
        self._backward = lambda: None  # adds out.grad * local derivative to the inputs' grads
        self._prev = _children
        self._op = _op

    def __add__(self, other):
        """``a + b``, with ``d/da = d/db = 1``."""
        other = _operand(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():
            # d(a + b)/da = 1, d(a + b)/db = 1
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __mul__(self, other):
        """``a * b``, with ``d/da = b`` and ``d/db = a``."""
        other = _operand(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():
            # d(a b)/da = b, d(a b)/db = a
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def __pow__(self, k):
        """``a ** k`` for a constant ``k``, with ``d/da = k * a ** (k - 1)``."""
        k = check.number("exponent", k)
        out = Value(_pow(self.data, k), (self,), f"**{k:g}")

        def _backward():
            # d(a^k)/da = k a^(k-1) (0 for k = 0, as in PyTorch, even where a^(-1) is infinite)
            if k != 0:
                self.grad += k * _pow(self.data, k - 1) * out.grad

        out._backward = _backward
        return out

    def exp(self):
        """e^a, with d/da = e^a."""
        try:
            e = math.exp(self.data)
        except OverflowError:  # above ~709.8; PyTorch returns inf
            e = math.inf
        out = Value(e, (self,), "exp")

        def _backward():
            # d(e^a)/da = e^a
            self.grad += out.data * out.grad

        out._backward = _backward
        return out

    def log(self):
        """ln a, with d/da = 1/a."""
        if self.data <= 0:
            raise ValueError(f"log needs a positive input, got {self.data:g}")
        out = Value(math.log(self.data), (self,), "log")

        def _backward():
            # d(log a)/da = 1 / a
            self.grad += out.grad / self.data

        out._backward = _backward
        return out

    def tanh(self):
        """tanh a, with d/da = 1 - tanh^2 a."""
        out = Value(math.tanh(self.data), (self,), "tanh")

        def _backward():
            # d(tanh a)/da = 1 - tanh(a)^2
            self.grad += (1 - out.data**2) * out.grad

        out._backward = _backward
        return out

    def sigmoid(self):
        """sigmoid a = 1 / (1 + e^-a), with d/da = s (1 - s)."""
        # sigma(a) = 1 / (1 + e^-a), written so that neither branch overflows
        s = 1 / (1 + math.exp(-self.data)) if self.data >= 0 else math.exp(self.data) / (1 + math.exp(self.data))
        out = Value(s, (self,), "sigmoid")

        def _backward():
            # d(sigma(a))/da = sigma(a) (1 - sigma(a))
            self.grad += out.data * (1 - out.data) * out.grad

        out._backward = _backward
        return out

    def relu(self):
        """max(a, 0), with d/da = 1 for a > 0 and 0 otherwise (0 at a = 0, as in PyTorch)."""
        out = Value(max(self.data, 0.0), (self,), "relu")

        def _backward():
            # d(max(a, 0))/da = 1 if a > 0 else 0 (0 at a = 0, as in PyTorch)
            self.grad += (self.data > 0) * out.grad

        out._backward = _backward
        return out

    def backward(self) -> None:
        """Fill ``.grad`` of every node this one depends on with d(self)/d(node); leaves accumulate."""
        order, seen, stack = [], set(), [(self, False)]
        while stack:  # iterative depth-first topological sort: deep graphs do not hit the recursion limit
            v, expanded = stack.pop()
            if expanded:
                order.append(v)
            elif id(v) not in seen:
                seen.add(id(v))
                stack.append((v, True))
                stack.extend((c, False) for c in v._prev)
        for v in order:
            if v._prev:  # intermediate results start from zero; leaves keep (accumulate) their grad
                v.grad = 0.0
        # dL/dL = 1, then the chain rule from the output back to the leaves
        self.grad = 1.0 if self._prev else self.grad + 1.0
        for v in reversed(order):
            v._backward()

    def __neg__(self):
        return self * -1

    def __radd__(self, other):
        return self + other

    def __sub__(self, other):
        return self + (-_operand(other))

    def __rsub__(self, other):
        return other + (-self)

    def __rmul__(self, other):
        return self * other

    def __truediv__(self, other):
        return self * _operand(other) ** -1

    def __rtruediv__(self, other):
        return other * self**-1

    def __repr__(self):
        return f"Value(data={self.data:g}, grad={self.grad:g})"


@question(
    "mlp-backward-by-hand",
    level="intermediate",
    short=(
        "Keep the forward pass's z1 and h. For a mean squared error the output error is "
        "2 (y_hat - y) / (B O); dW2 is its transpose times h, db2 its sum over the batch. Send it back through "
        "W2, zero it where z1 <= 0 (the ReLU's derivative), then the same products with the input give dW1, db1."
    ),
    followups=("what-is-backpropagation", "softmax-cross-entropy-gradient", "dying-relu"),
)
def mlp_backward(
    input: torch.Tensor,
    W1: torch.Tensor,
    b1: torch.Tensor,
    W2: torch.Tensor,
    b2: torch.Tensor,
    target: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""Mean squared error of a two-layer ReLU network and its gradients, derived by hand.

    **How do you write the backward pass of a two-layer MLP by hand?**

    Run the forward pass and keep its intermediate results, then apply the chain rule layer by
    layer from the loss back: the error signal at the output, times the hidden activations, is the
    output weight gradient; the same signal sent back through the transposed weights and masked by
    the ReLU derivative is the hidden error, and times the input it gives the first weight
    gradient. Bias gradients are the error signals summed over the batch.

    .. math::

        z_1 = x W_1^\top + b_1,\quad h = \max(z_1, 0),\quad \hat y = h W_2^\top + b_2,\quad
        L = \tfrac{1}{BO}\textstyle\sum (\hat y - y)^2

    .. math::

        \bar{\hat y} = \tfrac{2}{BO}(\hat y - y),\quad
        \bar W_2 = \bar{\hat y}^\top h,\quad \bar b_2 = \textstyle\sum_i \bar{\hat y}_i,\quad
        \bar z_1 = (\bar{\hat y} W_2) \odot [z_1 > 0],\quad
        \bar W_1 = \bar z_1^\top x,\quad \bar b_1 = \textstyle\sum_i \bar z_{1,i}

    Parameters
    ----------
    input : torch.Tensor
        ``(B, C)`` inputs :math:`x`.
    W1, b1 : torch.Tensor
        ``(H, C)`` and ``(H,)``: the hidden layer, in :class:`torch.nn.Linear` layout.
    W2, b2 : torch.Tensor
        ``(O, H)`` and ``(O,)``: the output layer.
    target : torch.Tensor
        ``(B, O)`` regression targets :math:`y`.

    Returns
    -------
    loss : torch.Tensor
        Scalar mean squared error, equal to ``F.mse_loss``.
    dW1, db1, dW2, db2 : torch.Tensor
        Gradients of ``loss``, shaped like ``W1, b1, W2, b2``.

    See Also
    --------
    torch.nn.functional.mse_loss, torch.autograd.grad

    Examples
    --------
    The hand-written gradients equal autograd's:

    >>> x, y = torch.randn(8, 3, dtype=torch.float64), torch.randn(8, 2, dtype=torch.float64)
    >>> params = [torch.randn(s, dtype=torch.float64, requires_grad=True) for s in [(5, 3), (5,), (2, 5), (2,)]]
    >>> W1, b1, W2, b2 = params
    >>> loss, *ours = mlp_backward(x, W1, b1, W2, b2, y)
    >>> ref_loss = F.mse_loss(F.linear(F.relu(F.linear(x, W1, b1)), W2, b2), y)
    >>> ref = torch.autograd.grad(ref_loss, params)
    >>> all(torch.allclose(a, b) for a, b in zip([loss, *ours], [ref_loss, *ref]))
    True
    >>> [tuple(g.shape) for g in ours]
    [(5, 3), (5,), (2, 5), (2,)]
    """
    check.tensor("input", input, ndim=2)
    check.tensor("target", target, ndim=2)
    for name, t, nd in (("W1", W1, 2), ("b1", b1, 1), ("W2", W2, 2), ("b2", b2, 1)):
        check.tensor(name, t, ndim=nd)
    check.same_dtype("input", input, W1=W1, b1=b1, W2=W2, b2=b2, target=target)
    (B, C), H, O = input.shape, W1.shape[0], W2.shape[0]
    check.same_shape("W1", W1, (H, C), "hidden size by input features")
    check.same_shape("b1", b1, (H,), "the rows of W1")
    check.same_shape("W2", W2, (O, H), "outputs by the rows of W1")
    check.same_shape("b2", b2, (O,), "the rows of W2")
    check.same_shape("target", target, (B, O), "batch of input by the rows of W2")
    with torch.no_grad():
        # forward, keeping what the backward pass needs
        z1 = input @ W1.T + b1  # (B, H)
        h = z1.clamp(min=0)  # (B, H)
        y_hat = h @ W2.T + b2  # (B, O)
        loss = (y_hat - target).pow(2).mean()
        # dL/dy_hat = 2 (y_hat - y) / (B O)
        d_y = 2 * (y_hat - target) / (B * O)  # (B, O)
        dW2 = d_y.T @ h  # (O, H)
        db2 = d_y.sum(0)  # (O,)
        # back through W2, then through the ReLU: its derivative is 1 where z1 > 0, else 0
        d_z1 = (d_y @ W2) * (z1 > 0)  # (B, H)
        dW1 = d_z1.T @ input  # (H, C)
        db1 = d_z1.sum(0)  # (H,)
    return loss, dW1, db1, dW2, db2


def _check_fits(model: torch.nn.Module, input: torch.Tensor) -> None:
    """A floating ``input`` must have the dtype of the model's floating parameters, or the model fails inside torch."""
    dtypes = {p.dtype for p in model.parameters() if p.is_floating_point()}
    if input.is_floating_point() and dtypes and input.dtype not in dtypes:
        want = " or ".join(sorted(str(d) for d in dtypes))
        raise TypeError(f"input must have the dtype of model's parameters ({want}), got {input.dtype}")


@question(
    "why-zero-grad",
    level="basic",
    short=(
        "backward() adds the new gradient to .grad instead of overwriting it, so without zero_grad() every step "
        "would use the sum of all gradients so far. Only optimizer.step() changes the weights; backward() just "
        "fills .grad. The accumulation is deliberate: backward() on several micro-batches, each loss divided "
        "by their number, then one step() gives the large batch's gradient."
    ),
    followups=("what-is-backpropagation", "gradient-clipping", "learning-rate-too-high-or-low"),
)
def train_step(model, loss_fn, optimizer, input: torch.Tensor, target: torch.Tensor, zero_grad: bool = True) -> float:
    r"""One training step: ``zero_grad``, forward, ``backward``, ``step``; returns the loss.

    **Why do you call optimizer.zero_grad() in every training step, and which call changes the
    weights?**

    ``loss.backward()`` does not overwrite ``.grad``: it *adds* the new gradient to whatever is
    there, so without ``zero_grad()`` every step would use the sum of all gradients so far. Only
    ``optimizer.step()`` changes the weights; ``backward()`` just fills ``.grad``. The accumulation
    is deliberate: calling ``backward()`` on several micro-batches before one ``step()`` sums their
    gradients, which (with each loss divided by the number of micro-batches) is the gradient of the
    whole batch, so a batch too large for memory can still be used.

    .. math::

        g \leftarrow [\,g\ \text{if not zeroed}\,] + \nabla_w L(w), \qquad w \leftarrow w - \eta\,g

    Parameters
    ----------
    model : torch.nn.Module
        The network.
    loss_fn : callable
        ``loss_fn(model(input), target)`` returns a scalar tensor.
    optimizer : torch.optim.Optimizer
        Optimizer over ``model``'s parameters.
    input, target : torch.Tensor
        One batch.
    zero_grad : bool, default True
        Call ``optimizer.zero_grad()`` first. False shows what forgetting it does.

    Returns
    -------
    float
        The loss before the update.

    See Also
    --------
    torch.optim.Optimizer.zero_grad, torch.optim.Optimizer.step, torch.Tensor.backward

    Examples
    --------
    ``backward()`` fills ``.grad`` and leaves the weights alone; ``step()`` changes them:

    >>> model = nn.Linear(3, 1, dtype=torch.float64)
    >>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
    >>> x, y = torch.randn(8, 3, dtype=torch.float64), torch.randn(8, 1, dtype=torch.float64)
    >>> w0 = model.weight.detach().clone()
    >>> F.mse_loss(model(x), y).backward()
    >>> g = model.weight.grad.clone()
    >>> torch.equal(model.weight, w0), bool(g.abs().sum() > 0)
    (True, True)
    >>> opt.step()
    >>> torch.allclose(model.weight, w0 - 0.1 * g)
    True

    Gradients accumulate until zeroed: a second backward on the same batch doubles ``.grad``:

    >>> opt.zero_grad(); F.mse_loss(model(x), y).backward(); g1 = model.weight.grad.clone()
    >>> F.mse_loss(model(x), y).backward()
    >>> torch.allclose(model.weight.grad, 2 * g1)
    True

    That is how a batch too large for memory is used: two half-batches, each loss divided by 2,
    accumulate exactly the whole batch's gradient:

    >>> opt.zero_grad()
    >>> for xb, yb in zip(x.chunk(2), y.chunk(2)):
    ...     (F.mse_loss(model(xb), yb) / 2).backward()
    >>> (whole,) = torch.autograd.grad(F.mse_loss(model(x), y), model.weight)
    >>> torch.allclose(model.weight.grad, whole)
    True

    Forgetting ``zero_grad`` makes a step use the stale gradient too: the second step below
    applies ``g1 + g2`` instead of ``g2``:

    >>> m = nn.Linear(3, 1, dtype=torch.float64)
    >>> opt = torch.optim.SGD(m.parameters(), lr=0.1)
    >>> _ = train_step(m, F.mse_loss, opt, x, y, zero_grad=False)
    >>> g1 = m.weight.grad.clone()
    >>> w = m.weight.detach().clone().requires_grad_(True)
    >>> (g2,) = torch.autograd.grad(F.mse_loss(F.linear(x, w, m.bias), y), w)
    >>> _ = train_step(m, F.mse_loss, opt, x, y, zero_grad=False)
    >>> torch.allclose(m.weight.grad, g1 + g2), torch.allclose(m.weight, w - 0.1 * (g1 + g2))
    (True, True)
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable, got {type(loss_fn).__name__}")
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    check.tensor("input", input, floating=False)
    check.tensor("target", target, floating=False)
    check.flag("zero_grad", zero_grad)
    _check_fits(model, input)
    if zero_grad:
        optimizer.zero_grad()
    loss = loss_fn(model(input), target)
    loss.backward()  # fills (adds to) p.grad for every parameter p; no weight changes here
    optimizer.step()  # the only line that changes the weights
    return loss.item()
