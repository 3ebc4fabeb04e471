"""Regularization

How to keep a network from overfitting: dropout's forward and backward passes in training and
evaluation, weight decay as L2 regularization, and early stopping.
"""

from __future__ import annotations

import torch

from nnfaq import _validate as check
from nnfaq._registry import question

__all__ = ["dropout", "early_stopping", "l2_penalty"]


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


@question("dropout-train-vs-eval")
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
    ``model.eval()`` (see :func:`nnfaq.train_eval.eval_is_deterministic`). ``nn.Dropout`` has no parameters; it only
    reads the module's mode.

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


@question("weight-decay-vs-l2")
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
    """
    weight_decay = check.number("weight_decay", weight_decay, low=0.0)
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


@question("prevent-overfitting")
def early_stopping(val_losses, patience: int = 5, min_delta: float = 0.0) -> tuple[int, int]:
    r"""Where early stopping stops, and which epoch's weights it keeps.

    **How would you prevent a neural network from overfitting?**

    First get more (or augmented) data, since that is the only remedy that attacks the cause. Then
    constrain the model: a smaller network, weight decay (L2), dropout, and early stopping, which
    keeps the weights from the epoch with the best validation loss and stops once it has not
    improved for ``patience`` epochs. Choose among them with a validation set, never the test set.
    This function computes the early-stopping decision from a list of validation losses.

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
    min_delta = check.number("min_delta", min_delta, low=0.0)
    best = 0
    for epoch, loss in enumerate(losses):
        if loss < losses[best] - min_delta:
            best = epoch
        elif epoch - best >= patience:
            return best, epoch
    return best, len(losses) - 1
