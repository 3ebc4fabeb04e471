"""Debugging training

What to do when a network does not learn: overfit one batch first, check gradients by finite
differences, and find where a NaN starts, forward (the first module whose output is not finite)
and backward (``torch.autograd.detect_anomaly``).
"""

from __future__ import annotations

import math

import torch

from nnfaq import _validate as check
from nnfaq._registry import question

__all__ = ["first_nonfinite", "numerical_gradient", "overfit_one_batch"]


@question(
    "debug-network-not-learning",
    level="intermediate",
    short=(
        "Shrink the problem until it must work: train on one small batch alone. A correct model drives its loss "
        "to almost zero; if it stalls, the bug is in the code, not the data: an output "
        "activation that cannot reach the targets, a detached tensor, wrong shapes, a bad learning rate. "
        "Then check gradients and look for NaNs."
    ),
    followups=("gradient-checking", "nan-loss", "learning-rate-too-high-or-low"),
)
def overfit_one_batch(
    model: torch.nn.Module,
    loss_fn,
    input: torch.Tensor,
    target: torch.Tensor,
    steps: int = 300,
    lr: float = 1e-2,
) -> torch.Tensor:
    r"""Train ``model`` with Adam on one batch only; return the loss before every step.

    **How do you debug a neural network that does not learn?**

    Make the problem so small that it must succeed: train on a single small batch (a handful of
    examples) and nothing else. Any correct model with enough parameters memorizes it, so the
    loss should fall to nearly zero within a few hundred steps. If it does not, the bug is in the
    code, not in the data, the capacity or the regularization: an output activation that cannot
    reach the targets, a tensor detached from the graph, a loss fed the wrong shapes or
    probabilities instead of logits, a learning rate off by orders of magnitude. Once one batch is
    overfit, check the gradients (:func:`numerical_gradient`), watch for non-finite values
    (:func:`first_nonfinite`), and only then scale up to the full data.

    Parameters
    ----------
    model : torch.nn.Module
        Trained in place.
    loss_fn : callable
        ``loss_fn(output, target)``, a scalar.
    input, target : torch.Tensor
        One batch, ``(B, *)`` each.
    steps : int, default 300
        At least 1.
    lr : float, default 1e-2
        Adam's learning rate, positive.

    Returns
    -------
    torch.Tensor
        ``(steps,)`` float64, the loss before each step.

    See Also
    --------
    numerical_gradient, first_nonfinite

    Notes
    -----
    The recipe is A. Karpathy's "A Recipe for Training Neural Networks" (2019): overfit one batch,
    verify the loss at initialization (about ``log(C)`` for ``C`` balanced classes), visualize
    what goes into the network.

    Examples
    --------
    A correct regression network drives the loss on 8 examples close to zero:

    >>> _ = torch.manual_seed(0)
    >>> x, y = torch.randn(8, 4), torch.randn(8, 1)
    >>> net = nn.Sequential(nn.Linear(4, 32), nn.Tanh(), nn.Linear(32, 1))
    >>> good = overfit_one_batch(net, F.mse_loss, x, y)
    >>> bool(good[-1] < 1e-6 * good[0])
    True

    A classic bug, a ReLU after the output layer, cannot produce the negative targets: the loss
    stalls at or above the floor ``mean(min(y, 0)^2)`` however long it trains:

    >>> buggy = nn.Sequential(nn.Linear(4, 32), nn.Tanh(), nn.Linear(32, 1), nn.ReLU())
    >>> bad = overfit_one_batch(buggy, F.mse_loss, x, y)
    >>> floor = (y.clamp(max=0) ** 2).mean().item()
    >>> bool(bad[-1] >= floor - 1e-6), bool(bad[-1] > 1000 * good[-1])
    (True, True)

    The initial loss is its own check: ``log(C)`` for a classifier that starts uniform:

    >>> clf = nn.Linear(4, 10)
    >>> with torch.no_grad():
    ...     _ = clf.weight.zero_(), clf.bias.zero_()
    >>> first = overfit_one_batch(clf, F.cross_entropy, x, torch.arange(8), steps=1)[0].item()
    >>> round(first, 4) == round(math.log(10), 4)
    True
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable, got {type(loss_fn).__name__}")
    check.tensor("input", input, min_ndim=1, floating=False)
    check.tensor("target", target, min_ndim=1, floating=False)
    if target.shape[0] != input.shape[0]:
        raise ValueError(f"target must have the {input.shape[0]} examples of input, got shape {tuple(target.shape)}")
    steps = check.integer("steps", steps, low=1)
    lr = check.number("lr", lr, low=0.0, low_open=True, high=math.inf, high_open=True)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model must have at least one parameter that requires grad")
    opt = torch.optim.Adam(params, lr=lr)
    losses = []
    model.train()
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn(model(input), target)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return torch.tensor(losses, dtype=torch.float64)


@question(
    "gradient-checking",
    level="intermediate",
    short=(
        "Compare the analytic gradient with central finite differences, (f(x + eps) - f(x - eps)) / (2 eps) per "
        "input entry, in float64: a correct gradient agrees to about 1e-8, a wrong one visibly not. "
        "torch.autograd.gradcheck does this for a custom backward. In float32 rounding error swamps the "
        "difference, so correct code can fail the check."
    ),
    followups=("debug-network-not-learning", "what-is-backpropagation"),
)
def numerical_gradient(fn, input: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    r"""The gradient of the scalar ``fn(input)`` by central finite differences, one entry at a time.

    **How do you check that a gradient is implemented correctly?**

    Compare it with finite differences: perturb one input entry by :math:`\pm\epsilon` and divide
    the change of the output by :math:`2\epsilon`. The central difference's truncation error is
    :math:`O(\epsilon^2)` and its rounding error about :math:`u/\epsilon` for the machine
    precision :math:`u`, so in float64 with :math:`\epsilon \approx 10^{-6}` a correct gradient
    agrees to about :math:`10^{-8}`, and a wrong one (a missing factor, a transposed matrix)
    differs visibly. ``torch.autograd.gradcheck`` does this for every output and input of a
    function, typically a custom ``autograd.Function``. Use float64: in float32
    (:math:`u \approx 10^{-7}`) rounding error swamps the difference and correct code fails.

    .. math::

        \frac{\partial f}{\partial x_j} \approx \frac{f(x + \epsilon e_j) - f(x - \epsilon e_j)}{2\epsilon}

    Parameters
    ----------
    fn : callable
        Maps ``input`` to a tensor with one element.
    input : torch.Tensor
        The point, any shape; not modified.
    eps : float, default 1e-6
        The step :math:`\epsilon > 0`.

    Returns
    -------
    torch.Tensor
        Same shape and dtype as ``input``.

    See Also
    --------
    torch.autograd.gradcheck, torch.autograd.gradgradcheck

    Examples
    --------
    It matches autograd in float64:

    >>> _ = torch.manual_seed(0)
    >>> W = torch.randn(3, 4, dtype=torch.float64)
    >>> f = lambda x: torch.tanh(W @ x).pow(2).sum()
    >>> x = torch.randn(4, dtype=torch.float64, requires_grad=True)
    >>> (auto,) = torch.autograd.grad(f(x), x)
    >>> torch.allclose(numerical_gradient(f, x.detach()), auto, atol=1e-8)
    True

    A custom sigmoid whose backward forgets the factor ``(1 - y)`` is caught, by this and by
    ``gradcheck``; the correct one passes:

    >>> class Sigmoid(torch.autograd.Function):
    ...     @staticmethod
    ...     def forward(ctx, x, buggy):
    ...         y = 1 / (1 + torch.exp(-x)); ctx.save_for_backward(y); ctx.buggy = buggy
    ...         return y
    ...     @staticmethod
    ...     def backward(ctx, g):
    ...         (y,) = ctx.saved_tensors
    ...         return (g * y if ctx.buggy else g * y * (1 - y)), None
    >>> for buggy in (False, True):
    ...     (analytic,) = torch.autograd.grad(Sigmoid.apply(x, buggy).sum(), x)
    ...     numeric = numerical_gradient(lambda t: Sigmoid.apply(t, buggy).sum(), x.detach())
    ...     ok = torch.autograd.gradcheck(lambda t: Sigmoid.apply(t, buggy), (x,), raise_exception=False)
    ...     print(torch.allclose(analytic, numeric, atol=1e-8), ok)
    True True
    False False

    In float32, even with a step of 1e-3, the same correct gradient misses by orders of magnitude
    more than in float64:

    >>> f32 = lambda x: torch.tanh(W.float() @ x).pow(2).sum()
    >>> err32 = (numerical_gradient(f32, x.detach().float(), eps=1e-3) - auto.float()).abs().max().item()
    >>> err64 = (numerical_gradient(f, x.detach()) - auto).abs().max().item()
    >>> bool(err32 > 1e-6), bool(err64 < 1e-8)
    (True, True)
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    check.tensor("input", input)
    eps = check.number("eps", eps, low=0.0, low_open=True, high=math.inf, high_open=True)
    x = input.detach().clone()
    grad = torch.empty_like(x)
    flat, out = x.view(-1), grad.view(-1)
    with torch.no_grad():
        for j in range(flat.numel()):
            old = flat[j].item()
            flat[j] = old + eps
            up = _scalar(fn(x))
            flat[j] = old - eps
            down = _scalar(fn(x))
            flat[j] = old
            # (f(x + eps e_j) - f(x - eps e_j)) / (2 eps)
            out[j] = (up - down) / (2 * eps)
    return grad


def _scalar(value) -> float:
    if not isinstance(value, torch.Tensor) or value.numel() != 1:
        raise ValueError(f"fn must return a tensor with one element, got {type(value).__name__}")
    return value.item()


@question(
    "nan-loss",
    level="intermediate",
    short=(
        "Something overflowed or hit an undefined operation: a learning rate high enough to diverge, log or "
        "division at zero, the backward of sqrt at zero, exp overflow in a hand-written softmax, or NaNs in the "
        "data. Forward hooks find the first module whose output is not finite; torch.autograd.detect_anomaly "
        "names the backward operation that first returns NaN."
    ),
    followups=("debug-network-not-learning", "exploding-gradients", "cross-entropy-takes-logits"),
)
def first_nonfinite(model: torch.nn.Module, input: torch.Tensor) -> str | None:
    r"""The name of the first module, in execution order, whose output contains NaN or infinity.

    **What does a NaN loss usually mean, and how do you find where it starts?**

    A NaN appears where an operation is undefined (``0/0``, ``inf - inf``, ``log`` of a negative
    number, ``0 * inf``) and then spreads through every later operation, so the loss is only where
    it is noticed. The usual causes are a learning rate high enough to diverge (weights and
    activations grow to ``inf``, then ``inf - inf``), ``log`` of a probability that underflowed to
    0 (use ``log_softmax`` or a loss that takes logits), a division by a zero variance or norm,
    the backward of ``sqrt`` or ``norm`` at 0, ``exp`` overflowing in a hand-written softmax, and
    NaNs already in the data. To locate it: forward hooks that report the first module whose
    output is not finite (this function), and ``torch.autograd.detect_anomaly()``, which makes the
    backward pass raise at the first operation that returns NaN and names it.

    Parameters
    ----------
    model : torch.nn.Module
        Run once on ``input`` (in its current mode, without gradients).
    input : torch.Tensor
        A batch.

    Returns
    -------
    str or None
        The dotted name of the first submodule (``""`` for ``model`` itself) whose output is not
        finite, or None if every output is finite.

    See Also
    --------
    torch.autograd.detect_anomaly, torch.nn.Module.register_forward_hook, torch.isfinite

    Notes
    -----
    Anomaly mode slows training down; turn it on only to find the failing step, and expect its
    warnings (it reports the forward call that created the failing operation).

    Examples
    --------
    A log of negative activations produces the first NaN; the hook names that module, not the
    loss:

    >>> class Log(nn.Module):
    ...     def forward(self, x):
    ...         return torch.log(x)
    >>> net = nn.Sequential(nn.Linear(3, 4), Log(), nn.Linear(4, 1))
    >>> with torch.no_grad():
    ...     _ = net[0].weight.fill_(-1.0), net[0].bias.zero_()
    >>> first_nonfinite(net, torch.ones(2, 3))
    '1'
    >>> first_nonfinite(nn.Sequential(nn.Linear(3, 4), nn.ReLU()), torch.ones(2, 3)) is None
    True

    Some NaNs appear only backward: the norm ``sqrt(sum(v^2))`` is finite at ``v = 0`` but its
    gradient is ``0 * inf``. Anomaly mode names the operation:

    >>> import warnings
    >>> v = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    >>> torch.sqrt((v**2).sum()).backward()
    >>> bool(v.grad.isnan().all())
    True
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")  # anomaly mode warns that it is slow, and where the op was created
    ...     with torch.autograd.detect_anomaly():
    ...         try:
    ...             torch.sqrt((v**2).sum()).backward()
    ...         except RuntimeError as error:
    ...             print(error)
    Function 'PowBackward0' returned nan values in its 0th output.

    Divergence from too high a learning rate: the weights grow until the loss is ``inf`` and then
    NaN:

    >>> w = torch.tensor([1.0], requires_grad=True)
    >>> opt = torch.optim.SGD([w], lr=1.5)
    >>> for _ in range(300):
    ...     opt.zero_grad(); loss = (w**4).sum(); loss.backward(); opt.step()
    >>> bool(loss.isnan() | loss.isinf()), bool(w.isnan().any())
    (True, True)
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    check.tensor("input", input, floating=False)
    found: list[str] = []

    def hook(name):
        def record(module, args, output):
            outputs = output if isinstance(output, tuple | list) else (output,)
            bad = any(
                isinstance(t, torch.Tensor) and t.is_floating_point() and not torch.isfinite(t).all() for t in outputs
            )
            if bad and not found:
                found.append(name)

        return record

    # a submodule's forward finishes before its parent's, so the first hook to fire is the innermost culprit
    handles = [m.register_forward_hook(hook(name)) for name, m in model.named_modules()]
    try:
        with torch.no_grad():
            model(input)
    finally:
        for h in handles:
            h.remove()
    return found[0] if found else None
