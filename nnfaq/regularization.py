"""Regularization and train/eval modes

How to keep a network from overfitting, and what ``model.train()`` and ``model.eval()`` really
change: dropout's forward and backward passes, batch normalization's two sets of statistics, the
``torch.nn.functional`` pitfall, and weight decay as L2 regularization.
"""

from __future__ import annotations

import torch

from nnfaq import _validate as check
from nnfaq._registry import question

__all__ = ["batch_norm", "dropout", "early_stopping", "eval_is_deterministic", "l2_penalty"]


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
    ``model.eval()`` (see :func:`eval_is_deterministic`). ``nn.Dropout`` has no parameters; it only
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


@question("batch-norm-train-vs-eval")
def batch_norm(
    input: torch.Tensor,
    running_mean: torch.Tensor | None,
    running_var: torch.Tensor | None,
    weight: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> torch.Tensor:
    r"""Batch normalization over dimension 1, with PyTorch's running-statistics rules.

    **What does batch normalization do in training mode, and what changes in evaluation mode?**

    In training mode it normalizes each channel with the mean and (biased) variance of the current
    batch, then updates the running mean and running variance (the latter from the unbiased batch
    variance) with an exponential moving average. In evaluation mode it is still applied: it
    normalizes with the stored running statistics, so the output of one example no longer depends
    on the rest of the batch, and the running statistics stay fixed. The learned scale and shift
    are used in both modes.

    .. math::

        \mu_c = \frac{1}{n}\sum_i x_{ic}, \qquad
        \sigma_c^2 = \frac{1}{n}\sum_i (x_{ic} - \mu_c)^2, \qquad
        y_{ic} = \gamma_c \frac{x_{ic} - \mu_c}{\sqrt{\sigma_c^2 + \epsilon}} + \beta_c

    .. math::

        \hat\mu_c \leftarrow (1 - m)\,\hat\mu_c + m\,\mu_c, \qquad
        \hat\sigma_c^2 \leftarrow (1 - m)\,\hat\sigma_c^2 + m\,\frac{n}{n-1}\sigma_c^2

    Parameters
    ----------
    input : torch.Tensor
        ``(B, C)`` or ``(B, C, *)``; statistics are taken over every dimension but ``C``.
    running_mean, running_var : torch.Tensor or None
        ``(C,)`` running statistics, updated in place in training mode; required in eval mode.
    weight, bias : torch.Tensor, optional
        ``(C,)`` learned scale ``gamma`` and shift ``beta``.
    training : bool, default False
        Use batch statistics and update the running ones (True), or use the running ones (False).
    momentum : float, default 0.1
        ``m`` in the moving average, in ``[0, 1]``.
    eps : float, default 1e-5
        Added to the variance for numerical stability; positive.

    Returns
    -------
    torch.Tensor
        Same shape as ``input``.

    See Also
    --------
    torch.nn.functional.batch_norm, torch.nn.BatchNorm1d, torch.nn.BatchNorm2d

    Notes
    -----
    ``requires_grad=False`` on ``weight`` and ``bias`` does not freeze the running statistics:
    only evaluation mode does.

    .. admonition:: Common mistake

        "``model.eval()`` disables batch normalization."

        Evaluation mode does not disable batch norm: it switches it from batch statistics to the
        running statistics collected in training. The output in eval mode is not the input; the
        examples prove it equals the normalization with the running mean and variance.

    References
    ----------
    .. [1] S. Ioffe and C. Szegedy, "Batch Normalization: Accelerating Deep Network Training by
       Reducing Internal Covariate Shift", ICML 2015.

    Examples
    --------
    Training mode matches PyTorch, output and running statistics alike:

    >>> x = 3 + 2 * torch.randn(16, 4, 5, 5, dtype=torch.float64)
    >>> rm, rv = torch.zeros(4, dtype=torch.float64), torch.ones(4, dtype=torch.float64)
    >>> rm_ref, rv_ref = rm.clone(), rv.clone()
    >>> ours = batch_norm(x, rm, rv, training=True)
    >>> ref = F.batch_norm(x, rm_ref, rv_ref, training=True)
    >>> torch.allclose(ours, ref), torch.allclose(rm, rm_ref), torch.allclose(rv, rv_ref)
    (True, True, True)

    The running mean moved 10% of the way towards the batch mean (about 3):

    >>> round(rm.mean().item(), 1)
    0.3

    Evaluation mode is not "disabled": it normalizes with the running statistics, so the output
    differs from the input and from the training-mode output:

    >>> ev = batch_norm(x, rm, rv, training=False)
    >>> torch.allclose(ev, F.batch_norm(x, rm, rv, training=False))
    True
    >>> torch.allclose(ev, x), torch.allclose(ev, ours)
    (False, False)
    >>> torch.allclose(ev, (x - rm[:, None, None]) / torch.sqrt(rv[:, None, None] + 1e-5))
    True

    In training mode each channel of the output has mean 0 and variance 1:

    >>> round(ours.mean(dim=(0, 2, 3)).abs().max().item(), 6)
    0.0
    >>> round(ours.var(dim=(0, 2, 3), unbiased=False).mean().item(), 3)
    1.0
    """
    check.tensor("input", input, min_ndim=2)
    check.flag("training", training)
    momentum = check.number("momentum", momentum, low=0.0, high=1.0)
    eps = check.number("eps", eps, low=0.0, low_open=True)
    C = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight), ("bias", bias)):
        if t is not None:
            check.tensor(name, t, ndim=1, finite=name.startswith("running"))
            check.same_shape(name, t, (C,), "the channel dimension of input")
    if not training and (running_mean is None or running_var is None):
        raise ValueError("running_mean and running_var are required when training=False")
    if running_var is not None and bool((running_var < 0).any()):
        raise ValueError("running_var must be non-negative")
    dims = [d for d in range(input.dim()) if d != 1]
    n = input.numel() // C
    if training and n < 2:
        raise ValueError(f"input must have more than 1 value per channel in training, got shape {tuple(input.shape)}")
    shape = [1, C] + [1] * (input.dim() - 2)  # broadcast (C,) over (B, C, *)
    if training:
        # mu_c and the biased sigma_c^2 of this batch
        mu = input.mean(dim=dims)  # (C,)
        var = input.var(dim=dims, unbiased=False)  # (C,)
        if running_mean is not None:
            with torch.no_grad():
                running_mean.mul_(1 - momentum).add_(momentum * mu)
        if running_var is not None:
            with torch.no_grad():
                # the running variance uses the unbiased estimate n/(n-1) sigma^2
                running_var.mul_(1 - momentum).add_(momentum * var * n / (n - 1))
    else:
        mu, var = running_mean, running_var  # (C,)
    # x_hat = (x - mu) / sqrt(var + eps)
    y = (input - mu.reshape(shape)) / torch.sqrt(var.reshape(shape) + eps)  # (B, C, *)
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


@question("nn-vs-functional")
def eval_is_deterministic(model: torch.nn.Module, input: torch.Tensor, trials: int = 3) -> bool:
    r"""Whether ``model`` in evaluation mode gives the same output on every call.

    **What is the difference between torch.nn and torch.nn.functional, and when does it matter?**

    ``torch.nn.functional`` holds stateless operations: you pass every tensor, weights included.
    ``torch.nn`` modules wrap them, own their parameters and buffers, and follow the module's
    ``train()``/``eval()`` mode. For operations with no parameters and no mode (ReLU, softmax) the
    two are interchangeable; for dropout and batch norm they are not: ``F.dropout`` defaults to
    ``training=True``, so a model that calls it without ``training=self.training`` keeps dropping
    units after ``model.eval()``. Neither form turns off autograd: that is ``torch.no_grad()``.

    Parameters
    ----------
    model : torch.nn.Module
        The model to check; it is put in evaluation mode and restored to its mode afterwards.
    input : torch.Tensor
        A batch to run through ``model``.
    trials : int, default 3
        How many forward passes to compare, at least 2.

    Returns
    -------
    bool
        True if every forward pass in eval mode gave the identical output.

    See Also
    --------
    torch.nn.Module.eval, torch.nn.functional.dropout, torch.no_grad

    Notes
    -----
    ``model.eval()`` only sets ``module.training = False`` on every submodule. Gradients are still
    recorded; wrap inference in ``torch.no_grad()`` or ``torch.inference_mode()`` to save memory.

    Examples
    --------
    A model that uses the ``nn.Dropout`` module follows ``.eval()``:

    >>> net = nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.5))
    >>> x = torch.randn(4, 8)
    >>> eval_is_deterministic(net, x)
    True

    One that calls ``F.dropout`` without passing its mode keeps dropping in eval mode:

    >>> class Forgetful(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.fc = nn.Linear(8, 8)
    ...     def forward(self, x):
    ...         return F.dropout(self.fc(x), p=0.5)  # training defaults to True
    >>> eval_is_deterministic(Forgetful(), x)
    False

    Passing ``training=self.training`` fixes it:

    >>> class Careful(Forgetful):
    ...     def forward(self, x):
    ...         return F.dropout(self.fc(x), p=0.5, training=self.training)
    >>> eval_is_deterministic(Careful(), x)
    True

    ``nn.Dropout`` has no parameters, and ``.eval()`` does not turn off autograd:

    >>> sum(p.numel() for p in nn.Dropout().parameters())
    0
    >>> net.eval()(x).requires_grad
    True
    >>> with torch.no_grad():
    ...     net(x).requires_grad
    False
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    check.tensor("input", input, floating=False)
    trials = check.integer("trials", trials, low=2)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            first = model(input)
            return all(torch.equal(first, model(input)) for _ in range(trials - 1))
    finally:
        model.train(was_training)


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
