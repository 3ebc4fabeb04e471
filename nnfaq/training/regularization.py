"""Regularization

How to keep a network from overfitting: dropout's forward and backward passes in training and
evaluation, weight decay as L2 regularization, and early stopping; and a small, fair experiment
(:func:`fit_noisy_sine`) that shows what dropout and weight decay do, and do not, guarantee.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from nnfaq import _validate as check
from nnfaq._registry import question

__all__ = ["dropout", "early_stopping", "fit_noisy_sine", "l2_penalty"]


class _InvertedDropout(torch.autograd.Function):
    """Dropout with the backward pass written out: it reuses the forward mask and scale."""

    @staticmethod
    def forward(ctx, x, p):
        # m_i ~ Bernoulli(1 - p), drawn the way torch.nn.functional.dropout draws it
        m = torch.empty_like(x).bernoulli_(1 - p)  # (*)
        # scale survivors by 1 / (1 - p) so that E[y] = x
        scale = m.div_(1 - p)  # (*)
        ctx.save_for_backward(scale)
        return x * scale  # (*)

    @staticmethod
    def backward(ctx, grad_output):
        (scale,) = ctx.saved_tensors
        # dy_i/dx_i = m_i / (1 - p): dropped units pass no gradient, kept ones are scaled
        return grad_output * scale, None  # (*)


@question(
    "dropout-train-vs-eval",
    level="basic",
    short=(
        "In training, dropout zeroes each unit with probability p and scales the survivors by 1/(1-p), so "
        "every unit's expected output is unchanged; in evaluation it is the identity. The backward pass "
        "reuses the mask: gradient = mask/(1-p). No unit can rely on another, which tends to reduce "
        "overfitting; it is a regularizer, not a guarantee of lower validation error."
    ),
    followups=("weight-decay-vs-l2", "batch-norm-train-vs-eval", "prevent-overfitting"),
)
def dropout(input: torch.Tensor, p: float = 0.5, training: bool = True) -> torch.Tensor:
    r"""Inverted dropout: zero each element with probability ``p`` and scale the rest by ``1/(1-p)``.

    **How does dropout prevent overfitting, does it differ between training and testing, and how do
    you implement its forward and backward passes?**

    In training, each unit is zeroed with probability ``p`` and the survivors are multiplied by
    ``1/(1-p)``, so every unit's expected output is unchanged; no unit can rely on another always
    being there, which discourages co-adapted features and acts like training an ensemble of thinned
    networks that share weights. At test time it is the identity: because of the scaling during
    training, no rescaling is needed at inference. The backward pass reuses the forward mask: the
    gradient is the mask divided by ``1-p``, so dropped units receive no gradient.

    That it reduces overfitting is a tendency, not a guarantee. In a fair comparison on a small
    noisy regression (:func:`fit_noisy_sine`: same data, initialization, steps and learning rate,
    eight runs) dropout keeps the network from fitting the training noise in every run and narrows
    the train/validation gap in most, but it lowers the validation error in some runs and raises it
    in others; Srivastava et al. report clear gains on large benchmarks [1]_.

    .. math::

        m_i \sim \mathrm{Bernoulli}(1-p), \qquad
        y_i = \frac{m_i\,x_i}{1-p}, \qquad
        \mathbb{E}[y_i] = x_i, \qquad
        \frac{\partial y_i}{\partial x_i} = \frac{m_i}{1-p}

    Parameters
    ----------
    input : torch.Tensor
        Floating-point tensor of any shape ``(*)``.
    p : float, default 0.5
        Probability of zeroing an element, in ``[0, 1)``.
    training : bool, default True
        Apply dropout if True; return ``input`` unchanged if False.

    Returns
    -------
    torch.Tensor
        Same shape as ``input``: each element is 0 or ``x / (1 - p)`` in training.

    See Also
    --------
    torch.nn.functional.dropout, torch.nn.Dropout

    Notes
    -----
    Like :func:`torch.nn.functional.dropout`, ``training`` defaults to True: a model that calls the
    functional form must pass ``training=self.training`` or it keeps dropping units after
    ``model.eval()`` (see :func:`nnfaq.training.train_eval.eval_is_deterministic`). ``nn.Dropout``
    has no parameters; it only reads the module's mode.

    .. admonition:: Common mistake

        "Dropped units are not considered in the forward or backward pass, and at test time dropout
        is simply disabled."

        Dropping alone would shrink the expected activation by ``1 - p``; modern (inverted) dropout
        scales the kept units by ``1/(1-p)`` during training, which is exactly why evaluation can be
        the identity. The examples prove that the mean is kept and that the gradient is
        ``mask / (1 - p)``.

    References
    ----------
    .. [1] N. Srivastava et al., "Dropout: A Simple Way to Prevent Neural Networks from
       Overfitting", JMLR 15, 2014.

    Examples
    --------
    The same random mask as PyTorch's own dropout, given the same seed:

    >>> x = torch.randn(64, 32, dtype=torch.float64)
    >>> _ = torch.manual_seed(0); ours = dropout(x, p=0.3)
    >>> _ = torch.manual_seed(0); ref = F.dropout(x, p=0.3)
    >>> torch.equal(ours, ref)
    True

    Every output is either 0 or ``x / (1 - p)``:

    >>> kept = ours != 0
    >>> torch.allclose(ours[kept], x[kept] / 0.7)
    True

    The expectation is preserved: over many draws the mean output of a unit equals its input:

    >>> ones = torch.ones(200_000, dtype=torch.float64)
    >>> round(dropout(ones, p=0.3).mean().item(), 2)
    1.0

    Evaluation is the identity:

    >>> torch.equal(dropout(x, p=0.3, training=False), x)
    True

    The backward pass reuses the mask: the gradient is ``mask / (1 - p)``:

    >>> _ = x.requires_grad_(True)
    >>> y = dropout(x, p=0.3)
    >>> y.sum().backward()
    >>> torch.allclose(x.grad, (y != 0).double() / 0.7)
    True
    """
    check.tensor("input", input)
    p = check.number("p", p, low=0.0, high=1.0, high_open=True)
    check.flag("training", training)
    if not training or p == 0.0:
        return input
    return _InvertedDropout.apply(input, p)


@question(
    "weight-decay-vs-l2",
    level="intermediate",
    short=(
        "For plain SGD, yes: adding (lambda/2)*||w||^2 to the loss adds lambda*w to the gradient, so every "
        "step first shrinks the weights by the factor 1 - lr*lambda, exactly what SGD's weight_decay does. "
        "For adaptive optimizers such as Adam they differ, because the L2 gradient is rescaled per "
        "parameter; AdamW applies the shrinkage directly instead."
    ),
    followups=("adamw-vs-adam-l2", "prevent-overfitting"),
)
def l2_penalty(parameters, weight_decay: float) -> torch.Tensor:
    r"""The L2 penalty :math:`\frac{\lambda}{2}\sum_j w_j^2` over an iterable of parameters.

    **Is weight decay the same as L2 regularization?**

    For plain SGD, yes: adding :math:`\frac{\lambda}{2}\lVert w\rVert^2` to the loss adds
    :math:`\lambda w` to the gradient, which is exactly what ``torch.optim.SGD(weight_decay=λ)``
    does, so every step shrinks the weights by the factor :math:`1 - \eta\lambda` before the data
    gradient is applied. For adaptive optimizers such as Adam the two differ, because the L2
    gradient is rescaled per parameter; decoupled weight decay (AdamW) applies the shrinkage
    directly instead.

    .. math::

        L'(w) = L(w) + \frac{\lambda}{2}\lVert w\rVert_2^2, \qquad
        w \leftarrow w - \eta\,(\nabla L(w) + \lambda w) = (1 - \eta\lambda)\,w - \eta\nabla L(w)

    Parameters
    ----------
    parameters : iterable of torch.Tensor
        The weights to penalize (for example ``model.parameters()``).
    weight_decay : float
        :math:`\lambda`, non-negative.

    Returns
    -------
    torch.Tensor
        A scalar, differentiable with respect to every parameter.

    See Also
    --------
    torch.optim.SGD, torch.optim.AdamW

    Examples
    --------
    One SGD step with ``weight_decay`` equals one step on the loss plus this penalty:

    >>> w0 = torch.randn(5, dtype=torch.float64)
    >>> x = torch.randn(5, dtype=torch.float64)
    >>> a = w0.clone().requires_grad_(True)
    >>> opt = torch.optim.SGD([a], lr=0.1, weight_decay=0.01)
    >>> (a @ x).pow(2).backward(); opt.step()
    >>> b = w0.clone().requires_grad_(True)
    >>> ((b @ x).pow(2) + l2_penalty([b], 0.01)).backward()
    >>> with torch.no_grad():
    ...     _ = b.sub_(0.1 * b.grad)
    >>> torch.allclose(a, b)
    True

    Its gradient is ``weight_decay * w``:

    >>> c = w0.clone().requires_grad_(True)
    >>> l2_penalty([c], 0.01).backward()
    >>> torch.allclose(c.grad, 0.01 * w0)
    True

    With Adam the two are not the same: one step of ``Adam(weight_decay=0.01)`` equals Adam on the
    penalized loss, and differs from ``AdamW``'s decoupled decay:

    >>> d, e, f = (w0.clone().requires_grad_(True) for _ in range(3))
    >>> for w, opt in ((d, torch.optim.Adam([d], lr=0.1, weight_decay=0.01)),
    ...                (e, torch.optim.Adam([e], lr=0.1)), (f, torch.optim.AdamW([f], lr=0.1, weight_decay=0.01))):
    ...     loss = (w @ x).pow(2) + (l2_penalty([w], 0.01) if w is e else 0)
    ...     loss.backward(); opt.step()
    >>> torch.allclose(d, e), torch.allclose(d, f)
    (True, False)
    """
    weight_decay = check.number("weight_decay", weight_decay, low=0.0, high=math.inf, high_open=True)
    if isinstance(parameters, torch.Tensor):
        params = [parameters]
    elif isinstance(parameters, str | bytes) or not hasattr(parameters, "__iter__"):
        raise TypeError(f"parameters must be a tensor or an iterable of tensors, got {type(parameters).__name__}")
    else:
        params = list(parameters)
    if not params:
        raise ValueError("parameters must contain at least one tensor")
    for i, w in enumerate(params):
        check.tensor(f"parameters[{i}]", w)
    # (lambda / 2) * sum_j w_j^2
    return 0.5 * weight_decay * sum(w.pow(2).sum() for w in params)


@question(
    "prevent-overfitting",
    level="basic",
    short=(
        "Get more or augmented data first: it attacks the cause. Then constrain the model: make it smaller, "
        "add weight decay or dropout, and stop early, keeping the weights from the epoch with the best "
        "validation loss. Judge every choice on a validation set, never the test set: none is guaranteed to "
        "help on a given problem."
    ),
    followups=("dropout-train-vs-eval", "weight-decay-vs-l2", "number-of-layers-and-neurons"),
)
def early_stopping(val_losses, patience: int = 5, min_delta: float = 0.0) -> tuple[int, int]:
    r"""Where early stopping stops, and which epoch's weights it keeps.

    **How would you prevent a neural network from overfitting?**

    First get more (or augmented) data: it attacks the cause, too few examples for the model's
    capacity. Then constrain the model: a smaller network, weight decay (L2), dropout, and early
    stopping, which keeps the weights from the epoch with the best validation loss and stops once it
    has not improved for ``patience`` epochs. Choose among them with a validation set, never the
    test set: each is a tendency, and :func:`fit_noisy_sine` shows a small problem on which dropout
    helps in some runs and hurts in others. This function computes the early-stopping decision
    from a list of validation losses.

    .. math::

        e^\star = \arg\min_e L_{\mathrm{val}}(e), \qquad
        \text{stop at the first } e \text{ with } e - e^\star \ge \text{patience}

    Parameters
    ----------
    val_losses : sequence of float or 1-D torch.Tensor
        Validation loss after each epoch, in order; at least one value.
    patience : int, default 5
        Epochs without improvement to wait before stopping; at least 1.
    min_delta : float, default 0.0
        An epoch improves only if it beats the best loss by more than this; non-negative.

    Returns
    -------
    best_epoch : int
        The epoch (0-based) whose weights to keep.
    stop_epoch : int
        The epoch after which training stops (the last epoch if it never stops early).

    See Also
    --------
    dropout, l2_penalty

    Examples
    --------
    Validation loss falls, then rises as the model starts to overfit:

    >>> losses = [1.0, 0.6, 0.45, 0.40, 0.42, 0.47, 0.55, 0.6, 0.7]
    >>> early_stopping(losses, patience=3)
    (3, 6)

    The kept epoch is the minimum of the validation curve:

    >>> best, _ = early_stopping(losses, patience=3)
    >>> losses[best] == min(losses)
    True

    With enough patience it never stops early:

    >>> early_stopping(losses, patience=10)
    (3, 8)
    """
    if isinstance(val_losses, torch.Tensor):
        val_losses = check.tensor("val_losses", val_losses, ndim=1, floating=False).tolist()
    if isinstance(val_losses, str | bytes) or not hasattr(val_losses, "__len__"):
        raise TypeError(f"val_losses must be a sequence of numbers, got {type(val_losses).__name__}")
    if len(val_losses) == 0:
        raise ValueError("val_losses must contain at least one value")
    losses = [check.number(f"val_losses[{i}]", v) for i, v in enumerate(val_losses)]
    patience = check.integer("patience", patience, low=1)
    min_delta = check.number("min_delta", min_delta, low=0.0, high=math.inf, high_open=True)
    best = 0
    for epoch, loss in enumerate(losses):
        if loss < losses[best] - min_delta:
            best = epoch
        elif epoch - best >= patience:
            return best, epoch
    return best, len(losses) - 1


class SineFit(NamedTuple):
    """Mean squared errors of each run of :func:`fit_noisy_sine`, in evaluation mode.

    Parameters
    ----------
    train_loss, val_loss : torch.Tensor
        ``(runs, evals)``: the error on the training and on the validation points at each evaluation.

    Examples
    --------
    >>> fit = SineFit(torch.zeros(2, 3), torch.ones(2, 3))
    >>> fit.val_loss.shape
    torch.Size([2, 3])
    """

    train_loss: torch.Tensor
    val_loss: torch.Tensor


def _sine_runs(runs: int, seed: int, width: int, n_train: int, n_val: int):
    """Run ``k``'s data and initial weights, from a generator seeded with ``seed + k``; stacked over runs."""
    F64 = torch.float64
    data, params = [], [[] for _ in range(6)]
    for k in range(runs):
        g = torch.Generator().manual_seed(seed + k)
        x = torch.rand(n_train + n_val, 1, generator=g, dtype=F64) * 6 - 3  # (N, 1), x in [-3, 3]
        data.append((x, torch.sin(x) + 0.3 * torch.randn(x.shape, generator=g, dtype=F64)))
        for i, (fan_in, fan_out) in enumerate(((1, width), (width, width), (width, 1))):
            # nn.Linear's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias
            bound = 1 / math.sqrt(fan_in)
            params[2 * i].append((torch.rand(fan_in, fan_out, generator=g, dtype=F64) * 2 - 1) * bound)
            params[2 * i + 1].append((torch.rand(1, fan_out, generator=g, dtype=F64) * 2 - 1) * bound)
    x, y = (torch.stack(t) for t in zip(*data))  # (runs, N, 1)
    return x, y, [torch.stack(t).requires_grad_() for t in params]


def fit_noisy_sine(
    p: float = 0.0,
    weight_decay: float = 0.0,
    runs: int = 8,
    seed: int = 0,
    steps: int = 300,
    eval_every: int | None = None,
) -> SineFit:
    r"""Fit ``runs`` small networks to 16 noisy points of a sine, with dropout ``p`` and an L2 penalty; their errors.

    A fair, offline comparison of regularizers. Run ``k`` draws its data (16 training and 200
    validation points, :math:`y = \sin x + 0.3\,\varepsilon`, :math:`x \in [-3, 3]`) and its initial
    weights from a generator seeded with ``seed + k``, so calls that differ only in ``p`` or
    ``weight_decay`` train the same networks on the same data, with the same steps and learning
    rate. Each network is ``1 -> 64 -> 64 -> 1`` with tanh, :func:`dropout` after each hidden layer,
    trained full-batch with Adam (``lr = 0.01``) on the MSE plus :func:`l2_penalty`; all runs are
    trained at once, in float64, as one batched network (Adam is elementwise, so the runs do not
    interact). The dropout masks come from ``seed`` as well; the global random state is left as it was.

    .. math::

        L = \sum_k \Big(\frac{1}{16}\sum_i (f_k(x_{ki}) - y_{ki})^2 + \frac{\lambda}{2}\lVert\theta_k\rVert^2\Big)

    Parameters
    ----------
    p : float, default 0.0
        Dropout probability of the hidden units, in ``[0, 1)``.
    weight_decay : float, default 0.0
        :math:`\lambda` of the L2 penalty, non-negative.
    runs : int, default 8
        Number of networks (seeds ``seed .. seed + runs - 1``), at least 1.
    seed : int, default 0
        Seed of the first run.
    steps : int, default 300
        Full-batch Adam steps, at least 1.
    eval_every : int, optional
        Record the errors after every ``eval_every`` steps; only after the last step if None.

    Returns
    -------
    SineFit
        ``(train_loss, val_loss)``, each ``(runs, steps // eval_every)`` float64 (``(runs, 1)`` by
        default): mean squared errors in evaluation mode (no dropout, no penalty).

    See Also
    --------
    dropout, l2_penalty, early_stopping

    Examples
    --------
    Dropout keeps every network from fitting the training noise as closely; whether that lowers the
    validation error depends on the run (the tests check these claims for other seeds):

    >>> none = fit_noisy_sine(p=0.0, runs=4, steps=100)
    >>> drop = fit_noisy_sine(p=0.3, runs=4, steps=100)
    >>> none.val_loss.shape, bool((drop.train_loss > none.train_loss).all())
    (torch.Size([4, 1]), True)

    The comparison is fair: with ``p = 0`` and no penalty the call is reproducible to the bit, and it
    leaves the global random state alone:

    >>> state = torch.get_rng_state()
    >>> a, b = fit_noisy_sine(p=0.0, runs=2, steps=20), fit_noisy_sine(p=0.0, runs=2, steps=20)
    >>> torch.equal(a.val_loss, b.val_loss), torch.equal(torch.get_rng_state(), state)
    (True, True)
    """
    p = check.number("p", p, low=0.0, high=1.0, high_open=True)
    weight_decay = check.number("weight_decay", weight_decay, low=0.0, high=math.inf, high_open=True)
    runs = check.integer("runs", runs, low=1)
    seed = check.integer("seed", seed)
    steps = check.integer("steps", steps, low=1)
    eval_every = steps if eval_every is None else check.integer("eval_every", eval_every, low=1)
    if eval_every > steps:
        raise ValueError(f"eval_every must be at most steps ({steps}), got {eval_every}")
    n_train = 16
    x, y, params = _sine_runs(runs, seed, width=64, n_train=n_train, n_val=200)
    W1, b1, W2, b2, W3, b3 = params

    def f(x, training):
        # h = dropout(tanh(x W + b)), one batched network per run
        h = dropout(torch.tanh(torch.baddbmm(b1, x, W1)), p, training)  # (runs, N, 64)
        h = dropout(torch.tanh(torch.baddbmm(b2, h, W2)), p, training)  # (runs, N, 64)
        return torch.baddbmm(b3, h, W3)  # (runs, N, 1)

    def mse(x, y):
        return (f(x, False) - y).pow(2).mean(dim=(1, 2))  # (runs,)

    opt = torch.optim.Adam(params, lr=1e-2, foreach=True)
    train, val = [], []
    with torch.random.fork_rng():
        torch.default_generator.manual_seed(seed)  # the CPU generator: torch.manual_seed also queues it for GPUs
        for step in range(1, steps + 1):
            opt.zero_grad()
            # the sum over runs keeps every run's gradient its own
            loss = (f(x[:, :n_train], True) - y[:, :n_train]).pow(2).mean(dim=(1, 2)).sum()
            (loss + l2_penalty(params, weight_decay)).backward()
            opt.step()
            if step % eval_every == 0:
                with torch.no_grad():
                    train.append(mse(x[:, :n_train], y[:, :n_train]))
                    val.append(mse(x[:, n_train:], y[:, n_train:]))
    return SineFit(torch.stack(train, dim=1), torch.stack(val, dim=1))
