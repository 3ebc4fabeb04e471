"""Train and eval modes

What ``model.train()`` and ``model.eval()`` really change: batch normalization's two sets of
statistics, the ``torch.nn.functional`` pitfall, and what evaluation mode does not do (turn off
autograd).
"""

from __future__ import annotations

import torch

from nnfaq import _validate as check
from nnfaq._registry import question

__all__ = ["batch_norm", "eval_is_deterministic"]


@question(
    "batch-norm-train-vs-eval",
    level="intermediate",
    short=(
        "In training mode batch norm normalizes each channel with the current batch's mean and variance, "
        "applies the learned scale and shift, and updates running averages of the mean and variance. In "
        "evaluation mode it is still applied, with the stored running statistics instead: an example's "
        "output no longer depends on the rest of its batch, and the statistics stay fixed."
    ),
    followups=("nn-vs-functional", "frozen-batch-norm-running-stats", "dropout-train-vs-eval"),
)
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
    only evaluation mode does. Like :func:`torch.nn.functional.batch_norm`, ``training`` defaults to
    False (the opposite of ``F.dropout``'s default; see :func:`eval_is_deterministic`).

    .. admonition:: Common mistake

        "Batch normalization is a supervised learning technique."

        Batch normalization uses no labels: it is a layer whose statistics are computed from its
        inputs alone, so it works the same inside supervised and unsupervised networks (an
        autoencoder, a GAN). Only its scale and shift are learned, by whatever loss trains the
        network. The examples set the running statistics with forward passes alone, with no labels,
        no loss and no backward pass.

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
    >>> round(ours.var(dim=(0, 2, 3), correction=0).mean().item(), 3)
    1.0

    No labels anywhere: forward passes over unlabelled batches alone move the running statistics
    to the data's mean (3) and variance (4):

    >>> rm, rv = torch.zeros(4, dtype=torch.float64), torch.ones(4, dtype=torch.float64)
    >>> for _ in range(60):
    ...     _ = batch_norm(3 + 2 * torch.randn(64, 4, dtype=torch.float64), rm, rv, training=True)
    >>> bool((rm - 3).abs().max() < 0.25), bool((rv - 4).abs().max() < 1.0)
    (True, True)
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
        var = input.var(dim=dims, correction=0)  # (C,)
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


@question(
    "nn-vs-functional",
    level="basic",
    short=(
        "torch.nn.functional holds stateless functions: you pass every tensor, weights included. torch.nn "
        "modules own their parameters and buffers and follow model.train() and model.eval(). For ReLU or "
        "softmax the two are interchangeable; for dropout and batch norm the functional defaults bite: "
        "F.dropout defaults to training=True, F.batch_norm to training=False. Neither turns off autograd."
    ),
    followups=("batch-norm-train-vs-eval", "dropout-train-vs-eval"),
)
def eval_is_deterministic(model: torch.nn.Module, input: torch.Tensor, trials: int = 3) -> bool:
    r"""Whether ``model`` in evaluation mode gives the same output on every call.

    **What is the difference between torch.nn and torch.nn.functional, and when does it matter?**

    ``torch.nn.functional`` holds stateless operations: you pass every tensor, weights included.
    ``torch.nn`` modules wrap them, own their parameters and buffers, and follow the module's
    ``train()``/``eval()`` mode. For operations with no parameters and no mode (ReLU, softmax) the
    two are interchangeable; for dropout and batch norm they are not, and their functional defaults
    are opposite pitfalls. ``F.dropout`` defaults to ``training=True``, so a model that calls it
    without ``training=self.training`` keeps dropping units after ``model.eval()``;
    ``F.batch_norm`` defaults to ``training=False``, so one that forgets it never normalizes with
    batch statistics nor updates its running statistics, even in training. Neither form turns off
    autograd: that is ``torch.no_grad()``.

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

    .. admonition:: Common mistake

        "Modules have a training and an evaluation mode because they have learnable parameters that
        need to be updated during training, like batch normalization."

        The mode matters only for modules whose forward pass behaves differently in training, and
        that has nothing to do with learnable parameters: ``nn.Linear`` has parameters and gives the
        same output in both modes, ``nn.Dropout`` has none and changes behaviour. Batch norm's mode
        switches between batch statistics and its running statistics, which are *buffers*, not
        parameters; with its parameters frozen it still behaves differently in each mode. The
        examples prove each point.

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

    The opposite default: ``F.batch_norm`` has ``training=False``, so a forgotten mode means running
    statistics that never move and no batch normalization, even in training:

    >>> rm, rv, z = torch.zeros(8), torch.ones(8), 5 + torch.randn(16, 8)
    >>> forgot = F.batch_norm(z, rm, rv)
    >>> torch.equal(rm, torch.zeros(8)), torch.allclose(forgot, z / (1 + 1e-5) ** 0.5)
    (True, True)
    >>> passed = F.batch_norm(z, rm, rv, training=True)
    >>> bool(rm.abs().min() > 0), bool(passed.mean(0).abs().max() < 1e-5)
    (True, True)

    The mode is not about learnable parameters: ``nn.Linear`` has 72 of them and no mode-dependent
    behaviour; batch norm's running statistics are buffers, and with its parameters frozen it still
    differs between modes:

    >>> lin = nn.Linear(8, 8)
    >>> sum(p.numel() for p in lin.parameters()), torch.equal(lin.train()(x), lin.eval()(x))
    (72, True)
    >>> bn = nn.BatchNorm1d(8).requires_grad_(False)
    >>> [n for n, _ in bn.named_parameters()], [n for n, _ in bn.named_buffers()]
    (['weight', 'bias'], ['running_mean', 'running_var', 'num_batches_tracked'])
    >>> torch.allclose(bn.train()(x), bn.eval()(x))
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
