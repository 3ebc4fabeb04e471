"""Normalization layers

Batch, layer, group, instance and RMS normalization from scratch: which axes each one averages
over, what depends on the batch, the identities between them, the state batch norm keeps, and
where the normalization sits in a residual block.
"""

from __future__ import annotations

import math
import numbers

import torch

from nnfaq import _validate as check
from nnfaq._registry import question

__all__ = [
    "group_norm",
    "instance_norm",
    "layer_norm",
    "parameters_and_buffers",
    "residual_sublayer",
    "rms_norm",
    "values_per_statistic",
]

_INF = math.inf


def _eps(eps) -> float:
    return check.number("eps", eps, low=0.0, high=_INF, high_open=True)


def _normalized_shape(normalized_shape, input: torch.Tensor) -> tuple[int, ...]:
    """``normalized_shape`` as a tuple of ints that ends ``input``'s shape."""
    if isinstance(normalized_shape, numbers.Integral) and not isinstance(normalized_shape, bool):
        normalized_shape = (normalized_shape,)
    if not isinstance(normalized_shape, tuple | list) or not all(
        isinstance(n, numbers.Integral) and not isinstance(n, bool) for n in normalized_shape
    ):
        raise TypeError(f"normalized_shape must be an int or a tuple of ints, got {normalized_shape!r}")
    shape = tuple(int(n) for n in normalized_shape)
    if not shape or min(shape) < 1:
        raise ValueError(f"normalized_shape must be a non-empty tuple of positive ints, got {shape}")
    if input.dim() < len(shape) or tuple(input.shape[input.dim() - len(shape) :]) != shape:
        raise ValueError(
            f"normalized_shape {shape} must be the last dimensions of input, got input of shape {tuple(input.shape)}"
        )
    return shape


def _affine(input: torch.Tensor, expected: tuple[int, ...], what: str, **tensors) -> None:
    for name, t in tensors.items():
        if t is not None:
            check.tensor(name, t)
            check.same_shape(name, t, expected, what)
    check.same_dtype("input", input, **tensors)


@question(
    "normalization-layers-compared",
    level="intermediate",
    short=(
        "All four compute (x - mean) / sqrt(var + eps) and a learned scale and shift; only the averaged axes "
        "differ. Batch norm: each channel over batch and space; it depends on the batch, keeps running "
        "statistics for eval. Layer norm: each example over its features. Instance norm: each example and channel. "
        "Group norm: each example over channel groups."
    ),
    followups=("batch-norm-train-vs-eval", "group-norm-identities", "batch-norm-batch-of-one"),
)
def layer_norm(
    input: torch.Tensor,
    normalized_shape,
    weight: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    eps: float = 1e-5,
) -> torch.Tensor:
    r"""Layer normalization over the last dimensions, exactly as ``torch.nn.functional.layer_norm``.

    **Batch norm vs layer norm vs group norm vs instance norm: which axes does each normalize over, and which
    depend on the batch?**

    All four subtract a mean, divide by a standard deviation and apply a learned affine map; they
    differ only in the set of values each mean and variance is taken over. For an input of shape
    ``(B, C, H, W)``: batch norm averages each channel over ``(B, H, W)``, so an example's output
    depends on the rest of its batch and evaluation needs stored running statistics; layer norm
    averages each example over ``(C, H, W)`` (in a transformer, over the ``C`` features of each
    token); instance norm over ``(H, W)`` for each example and channel; group norm over ``(H, W)``
    and a group of ``C/G`` channels. Only batch norm looks across examples: the other three compute
    the same thing in training and evaluation, for any batch size, and keep no running statistics.

    .. math::

        \mu = \frac{1}{N}\sum_{j} x_j, \qquad \sigma^2 = \frac{1}{N}\sum_j (x_j - \mu)^2, \qquad
        y_j = \gamma_j \frac{x_j - \mu}{\sqrt{\sigma^2 + \epsilon}} + \beta_j

    with :math:`j` running over the last ``len(normalized_shape)`` dimensions (:math:`N` values).

    Parameters
    ----------
    input : torch.Tensor
        ``(*, normalized_shape)``, e.g. ``(B, T, C)`` with ``normalized_shape=(C,)``.
    normalized_shape : int or tuple of int
        The trailing dimensions to normalize over.
    weight, bias : torch.Tensor, optional
        ``normalized_shape``-shaped scale :math:`\gamma` and shift :math:`\beta` (one per element,
        not per channel).
    eps : float, default 1e-5
        Added to the variance, in ``[0, inf)``.

    Returns
    -------
    torch.Tensor
        Same shape as ``input``.

    See Also
    --------
    torch.nn.functional.layer_norm, torch.nn.LayerNorm, group_norm, instance_norm, rms_norm

    Notes
    -----
    The variance is the biased one (divide by :math:`N`), in every normalization layer of
    PyTorch. ``normalized_shape`` may be an int here (as for ``nn.LayerNorm``; the functional form
    wants a tuple). A negative ``eps`` is refused on purpose; PyTorch computes with it.

    References
    ----------
    .. [1] J. L. Ba, J. R. Kiros and G. E. Hinton, "Layer Normalization", arXiv:1607.06450, 2016.
    .. [2] Y. Wu and K. He, "Group Normalization", ECCV 2018 (Figure 2 draws the four sets of axes).

    Examples
    --------
    Matches PyTorch, with and without the affine map:

    >>> _ = torch.manual_seed(0)
    >>> x = 3 + 2 * torch.randn(4, 6, 8, dtype=torch.float64)
    >>> w, b = torch.randn(8, dtype=torch.float64), torch.randn(8, dtype=torch.float64)
    >>> torch.allclose(layer_norm(x, (8,), w, b), F.layer_norm(x, (8,), w, b))
    True
    >>> torch.allclose(layer_norm(x, (6, 8)), F.layer_norm(x, (6, 8)))
    True

    Every row is centred and scaled to variance 1:

    >>> y = layer_norm(x, (8,))
    >>> bool(y.mean(-1).abs().max() < 1e-12), bool((y.var(-1, correction=0) - 1).abs().max() < 1e-4)
    (True, True)

    Layer norm treats each example alone: one example's output is the same in any batch. Batch
    norm's is not:

    >>> z = 3 + 2 * torch.randn(8, 5, dtype=torch.float64)
    >>> torch.allclose(layer_norm(z, (5,))[:1], layer_norm(z[:1], (5,)))
    True
    >>> torch.allclose(F.batch_norm(z, None, None, training=True)[:2], F.batch_norm(z[:2], None, None, training=True))
    False
    """
    check.tensor("input", input, min_ndim=1)
    shape = _normalized_shape(normalized_shape, input)
    _affine(input, shape, "normalized_shape", weight=weight, bias=bias)
    eps = _eps(eps)
    dims = tuple(range(-len(shape), 0))
    # mu and the biased sigma^2 over the normalized dimensions
    mu = input.mean(dim=dims, keepdim=True)  # (B, 1) for input (B, C)
    var = input.var(dim=dims, correction=0, keepdim=True)  # (B, 1)
    y = (input - mu) / torch.sqrt(var + eps)  # (B, C)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


@question(
    "group-norm-identities",
    level="intermediate",
    short=(
        "Group norm splits the C channels into G groups and normalizes each example's group over its channels "
        "and positions. One group is layer norm over (C, H, W); C groups is instance norm. It never looks across the "
        "batch, so it works for a batch of one, which is why small-batch detection and segmentation models use it."
    ),
    followups=("normalization-layers-compared", "batch-norm-batch-of-one"),
)
def group_norm(
    input: torch.Tensor,
    num_groups: int,
    weight: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    eps: float = 1e-5,
) -> torch.Tensor:
    r"""Group normalization, exactly as ``torch.nn.functional.group_norm``.

    **How is group norm related to layer norm and instance norm, and when would you use it?**

    Group norm splits the ``C`` channels into ``G`` groups of ``C/G`` and normalizes each example's
    group over its channels and positions. The two ends are the other two per-example layers: one
    group is layer norm over ``(C, H, W)`` and ``C`` groups is instance norm, so group norm
    interpolates between "every channel shares one statistic" and "every channel has its own".
    Like them it never looks across the batch, so it behaves the same for a batch of 1 or 1000 and
    in training and evaluation; Wu and He proposed it for detection and segmentation, where memory
    allows only 1-2 images per device and batch norm's statistics become noise.

    .. math::

        \mu_{bg} = \operatorname{mean}_{c \in g,\ \text{space}} x_{bc\ldots}, \qquad
        y_{bc\ldots} = \gamma_c \frac{x_{bc\ldots} - \mu_{bg}}{\sqrt{\sigma^2_{bg} + \epsilon}} + \beta_c

    Parameters
    ----------
    input : torch.Tensor
        ``(B, C, *)``.
    num_groups : int
        :math:`G \ge 1`, a divisor of ``C``.
    weight, bias : torch.Tensor, optional
        ``(C,)`` per-channel scale and shift (per channel, not per group).
    eps : float, default 1e-5
        Added to the variance, in ``[0, inf)``.

    Returns
    -------
    torch.Tensor
        Same shape as ``input``.

    See Also
    --------
    torch.nn.functional.group_norm, torch.nn.GroupNorm, layer_norm, instance_norm

    Notes
    -----
    The identity with layer norm holds for the normalization; the affine maps differ in shape
    (``nn.GroupNorm(1, C)`` learns ``C`` scales, ``nn.LayerNorm((C, H, W))`` learns ``C*H*W``), so
    the two modules agree when the layer-norm weight is the group-norm weight repeated over space.

    References
    ----------
    .. [1] Y. Wu and K. He, "Group Normalization", ECCV 2018.

    Examples
    --------
    Matches PyTorch:

    >>> _ = torch.manual_seed(0)
    >>> x = 1 + 2 * torch.randn(2, 6, 4, 4, dtype=torch.float64)
    >>> w, b = torch.randn(6, dtype=torch.float64), torch.randn(6, dtype=torch.float64)
    >>> torch.allclose(group_norm(x, 3, w, b), F.group_norm(x, 3, w, b))
    True

    One group is layer norm over ``(C, H, W)``, affine map included once the weight is repeated
    over space; ``C`` groups is instance norm:

    >>> torch.allclose(group_norm(x, 1), F.layer_norm(x, (6, 4, 4)))
    True
    >>> W, Bias = w[:, None, None].expand(6, 4, 4), b[:, None, None].expand(6, 4, 4)
    >>> torch.allclose(group_norm(x, 1, w, b), F.layer_norm(x, (6, 4, 4), W, Bias))
    True
    >>> torch.allclose(group_norm(x, 6), F.instance_norm(x))
    True

    It is independent of the batch: the first example alone gives the same output:

    >>> torch.allclose(group_norm(x[:1], 3, w, b), group_norm(x, 3, w, b)[:1])
    True
    """
    check.tensor("input", input, min_ndim=2)
    G = check.integer("num_groups", num_groups, low=1)
    B, C = input.shape[:2]
    if C % G:
        raise ValueError(f"num_groups must divide the number of channels {C}, got {G}")
    _affine(input, (C,), "the channel dimension of input", weight=weight, bias=bias)
    eps = _eps(eps)
    x = input.reshape(B, G, -1)  # (B, G, C/G * spatial)
    mu = x.mean(dim=-1, keepdim=True)  # (B, G, 1)
    var = x.var(dim=-1, correction=0, keepdim=True)  # (B, G, 1)
    y = ((x - mu) / torch.sqrt(var + eps)).reshape(input.shape)  # (B, C, *)
    shape = [1, C] + [1] * (input.dim() - 2)  # broadcast (C,) over (B, C, *)
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


@question(
    "instance-norm",
    level="intermediate",
    short=(
        "Instance norm normalizes each channel of each example over its spatial positions. It removes every "
        "image's per-channel mean and contrast, so later layers cannot see them: wanted in style transfer, lost "
        "information when they matter. It is batch norm applied to one example at a time; PyTorch's InstanceNorm "
        "modules keep no running statistics and have no affine map by default."
    ),
    followups=("group-norm-identities", "normalization-layers-compared"),
)
def instance_norm(
    input: torch.Tensor,
    running_mean: torch.Tensor | None = None,
    running_var: torch.Tensor | None = None,
    weight: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> torch.Tensor:
    r"""Instance normalization, exactly as ``torch.nn.functional.instance_norm``.

    **What does instance normalization do, and where is it used?**

    Instance norm normalizes each channel of each example over its spatial positions alone. It
    removes every image's per-channel mean and contrast, which is what style transfer wants (style
    lives largely in those statistics, Ulyanov et al.) and what a classifier that needs brightness
    or contrast does not. It is batch norm run on each example as a batch of one, which is how
    PyTorch computes it. By default ``nn.InstanceNorm2d`` has no affine map and keeps no running
    statistics (``track_running_stats=False``), so it uses the input's statistics in evaluation
    too; with running statistics it averages the per-instance statistics over the batch.

    .. math::

        \mu_{bc} = \operatorname{mean}_{\text{space}} x_{bc\ldots}, \qquad
        y_{bc\ldots} = \gamma_c \frac{x_{bc\ldots} - \mu_{bc}}{\sqrt{\sigma^2_{bc} + \epsilon}} + \beta_c,
        \qquad \hat\mu_c \leftarrow (1 - m)\hat\mu_c + m\,\operatorname{mean}_b \mu_{bc}

    (and :math:`\hat\sigma^2_c` likewise from the unbiased :math:`\frac{n}{n-1}\sigma^2_{bc}`).

    Parameters
    ----------
    input : torch.Tensor
        ``(B, C, *)``; with ``use_input_stats`` it needs more than one spatial element.
    running_mean, running_var : torch.Tensor, optional
        ``(C,)``, both or neither; updated in place when ``use_input_stats``, used instead of the
        input's statistics otherwise (then required).
    weight, bias : torch.Tensor, optional
        ``(C,)`` per-channel scale and shift.
    use_input_stats : bool, default True
        Normalize with each instance's own statistics (True) or with the running ones (False).
    momentum : float, default 0.1
        ``m`` in ``[0, 1]``.
    eps : float, default 1e-5
        Added to the variance, in ``[0, inf)``.

    Returns
    -------
    torch.Tensor
        Same shape as ``input``.

    See Also
    --------
    torch.nn.functional.instance_norm, torch.nn.InstanceNorm2d, group_norm

    References
    ----------
    .. [1] D. Ulyanov, A. Vedaldi and V. Lempitsky, "Instance Normalization: The Missing Ingredient
       for Fast Stylization", arXiv:1607.08022, 2016.

    Examples
    --------
    Matches PyTorch, output and running statistics:

    >>> _ = torch.manual_seed(0)
    >>> x = 2 + 3 * torch.randn(4, 3, 5, 5, dtype=torch.float64)
    >>> rm, rv = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    >>> rm_ref, rv_ref = rm.clone(), rv.clone()
    >>> ours, ref = instance_norm(x, rm, rv), F.instance_norm(x, rm_ref, rv_ref)
    >>> torch.allclose(ours, ref), torch.allclose(rm, rm_ref), torch.allclose(rv, rv_ref)
    (True, True, True)
    >>> ev = instance_norm(x, rm, rv, use_input_stats=False)
    >>> torch.allclose(ev, F.instance_norm(x, rm, rv, use_input_stats=False))
    True

    It erases each image's per-channel brightness and contrast: rescaling and shifting one image's
    channel leaves the output unchanged:

    >>> x2 = x.clone(); x2[0, 1] = 10 * x2[0, 1] - 7
    >>> torch.allclose(instance_norm(x2, eps=0.0), instance_norm(x, eps=0.0))
    True

    It is batch norm over one example at a time:

    >>> each = torch.cat([F.batch_norm(x[i : i + 1], None, None, training=True) for i in range(4)])
    >>> torch.allclose(instance_norm(x), each)
    True

    ``nn.InstanceNorm2d`` has no parameters and no buffers by default, so evaluation mode
    normalizes with the input's own statistics:

    >>> m = nn.InstanceNorm2d(3)
    >>> len(list(m.parameters())), len(list(m.buffers()))
    (0, 0)
    >>> torch.allclose(m.eval()(x), instance_norm(x))
    True
    """
    check.tensor("input", input, min_ndim=2)
    C = input.shape[1]
    use_input_stats = check.flag("use_input_stats", use_input_stats)
    momentum = check.number("momentum", momentum, low=0.0, high=1.0)
    eps = _eps(eps)
    _check_running(input, running_mean, running_var, use_input_stats)
    _affine(input, (C,), "the channel dimension of input", weight=weight, bias=bias)
    dims = tuple(range(2, input.dim()))
    shape = [1, C] + [1] * (input.dim() - 2)  # broadcast (C,) over (B, C, *)
    if use_input_stats:
        # mu_bc and the biased sigma^2_bc of each instance
        mu = input.mean(dim=dims, keepdim=True)  # (B, C, 1, 1)
        var = input.var(dim=dims, correction=0, keepdim=True)  # (B, C, 1, 1)
        if running_mean is not None:
            n = math.prod(input.shape[2:])
            with torch.no_grad():
                # the running statistics average the instances' statistics over the batch
                running_mean.mul_(1 - momentum).add_(momentum * mu.reshape(-1, C).mean(0))
                running_var.mul_(1 - momentum).add_(momentum * (var * n / (n - 1)).reshape(-1, C).mean(0))
    else:
        mu, var = running_mean.reshape(shape), running_var.reshape(shape)  # (1, C, 1, 1)
    y = (input - mu) / torch.sqrt(var + eps)  # (B, C, *)
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


def _check_running(input, running_mean, running_var, use_input_stats: bool) -> None:
    C = input.shape[1]
    if (running_mean is None) != (running_var is None):
        raise ValueError("running_mean and running_var must both be given or both be None")
    for name, t in (("running_mean", running_mean), ("running_var", running_var)):
        if t is not None:
            check.tensor(name, t, ndim=1, finite=True)
            check.same_shape(name, t, (C,), "the channel dimension of input")
    check.same_dtype("input", input, running_mean=running_mean, running_var=running_var)
    if running_var is not None and bool((running_var < 0).any()):
        raise ValueError("running_var must be non-negative")
    if use_input_stats and math.prod(input.shape[2:]) < 2:
        raise ValueError(
            f"input must have more than 1 spatial element when use_input_stats=True, got shape {tuple(input.shape)}"
        )
    if not use_input_stats and running_mean is None:
        raise ValueError("running_mean and running_var are required when use_input_stats=False")


@question(
    "rms-norm-vs-layer-norm",
    level="advanced",
    short=(
        "RMSNorm divides each vector by its root mean square and multiplies by a learned gain. It drops layer "
        "norm's mean subtraction and bias: one reduction instead of two, fewer parameters, and on zero-mean vectors "
        "it equals layer norm exactly. It keeps the invariance to scaling the input, loses the one to shifting it. "
        "LLaMA-style models use it."
    ),
    followups=("normalization-layers-compared", "pre-norm-vs-post-norm"),
)
def rms_norm(
    input: torch.Tensor,
    normalized_shape,
    weight: torch.Tensor | None = None,
    eps: float | None = None,
) -> torch.Tensor:
    r"""Root-mean-square normalization, exactly as ``torch.nn.functional.rms_norm``.

    **What does RMSNorm drop compared with LayerNorm, and what does it keep?**

    RMSNorm divides each vector by its root mean square and multiplies by a learned gain; it drops
    layer norm's two centring steps, the subtraction of the mean and the learned bias. The cost is
    one reduction (the mean of squares) instead of two, and ``C`` fewer parameters per layer; Zhang
    and Sennrich report the same quality for 7-64% less time in the layer. It keeps the invariance
    to re-scaling the input, which is what stabilizes training, and loses the invariance to
    shifting it. On rows that already have zero mean, RMSNorm and LayerNorm (without bias) are the
    same function; LLaMA, Mistral and T5 use RMSNorm.

    .. math::

        \operatorname{RMS}(x) = \sqrt{\frac{1}{N}\sum_j x_j^2 + \epsilon}, \qquad
        y_j = \gamma_j \frac{x_j}{\operatorname{RMS}(x)}

    Parameters
    ----------
    input : torch.Tensor
        ``(*, normalized_shape)``.
    normalized_shape : int or tuple of int
        The trailing dimensions to normalize over.
    weight : torch.Tensor, optional
        ``normalized_shape``-shaped gain :math:`\gamma`. There is no bias.
    eps : float, optional
        Added to the mean of squares, in ``[0, inf)``; None (PyTorch's default) means
        ``torch.finfo(input.dtype).eps``.

    Returns
    -------
    torch.Tensor
        Same shape as ``input``.

    See Also
    --------
    torch.nn.functional.rms_norm, torch.nn.RMSNorm, layer_norm

    References
    ----------
    .. [1] B. Zhang and R. Sennrich, "Root Mean Square Layer Normalization", NeurIPS 2019.

    Examples
    --------
    Matches PyTorch, default ``eps`` and a given one:

    >>> _ = torch.manual_seed(0)
    >>> x = 1 + torch.randn(4, 6, 8, dtype=torch.float64)
    >>> w = torch.randn(8, dtype=torch.float64)
    >>> torch.allclose(rms_norm(x, (8,), w), F.rms_norm(x, (8,), w))
    True
    >>> torch.allclose(rms_norm(x, (6, 8), eps=1e-3), F.rms_norm(x, (6, 8), eps=1e-3))
    True

    On rows with zero mean it is layer norm; on rows with a mean it is not (the centring is what
    was dropped):

    >>> z = x - x.mean(-1, keepdim=True)
    >>> torch.allclose(rms_norm(z, (8,), eps=1e-5), F.layer_norm(z, (8,), eps=1e-5))
    True
    >>> torch.allclose(rms_norm(x, (8,), eps=1e-5), F.layer_norm(x, (8,), eps=1e-5))
    False

    It kept the invariance to scaling the input and lost the one to shifting it:

    >>> torch.allclose(rms_norm(5 * x, (8,), w), rms_norm(x, (8,), w))
    True
    >>> torch.allclose(rms_norm(x + 3, (8,), w), rms_norm(x, (8,), w))
    False

    The output's root mean square is 1, and there is no bias to learn:

    >>> bool(((rms_norm(x, (8,)) ** 2).mean(-1) - 1).abs().max() < 1e-9)
    True
    >>> sum(p.numel() for p in nn.RMSNorm(8).parameters()), sum(p.numel() for p in nn.LayerNorm(8).parameters())
    (8, 16)
    """
    check.tensor("input", input, min_ndim=1)
    shape = _normalized_shape(normalized_shape, input)
    _affine(input, shape, "normalized_shape", weight=weight)
    eps = torch.finfo(input.dtype).eps if eps is None else _eps(eps)
    dims = tuple(range(-len(shape), 0))
    # RMS(x) = sqrt(mean(x^2) + eps) over the normalized dimensions
    rms = torch.sqrt(input.pow(2).mean(dim=dims, keepdim=True) + eps)  # (B, 1)
    y = input / rms  # (B, C)
    return y * weight if weight is not None else y


_KINDS = ("batch", "layer", "instance", "group")


@question(
    "batch-norm-batch-of-one",
    level="intermediate",
    short=(
        "Not on vectors: with one example each channel's mean is the value itself, so every output is the "
        "bias, the input gradient is zero, and PyTorch raises an error. A (1, C, H, W) image runs, averaging over "
        "positions, but that is instance norm with noisy running statistics. Use group or layer norm, or freeze "
        "it in eval mode."
    ),
    followups=("group-norm-identities", "batch-norm-train-vs-eval", "batch-norm-state"),
)
def values_per_statistic(shape, norm: str, num_groups: int | None = None) -> int:
    r"""How many values each mean and variance of a normalization layer averages, for an input ``shape``.

    **Can you train batch normalization with a batch size of one?**

    Not on vectors: for an input ``(1, C)`` each channel's batch statistic averages a single value,
    so :math:`x - \mu = 0`, every output equals the bias, the gradient with respect to the input is
    zero, and the unbiased running variance would divide by :math:`n - 1 = 0`; PyTorch refuses with
    "Expected more than 1 value per channel when training". On images ``(1, C, H, W)`` it runs,
    averaging over the ``H*W`` positions, but then it is exactly instance norm, its statistics are
    one image's, and the running averages it stores for evaluation are noisy. Use a layer whose
    statistics do not involve the batch (group norm, layer norm), or, when fine-tuning a pretrained
    network with tiny batches, keep batch norm in evaluation mode (frozen statistics).

    .. math::

        n_{\text{batch}} = B\,S, \qquad n_{\text{layer}} = C\,S, \qquad
        n_{\text{instance}} = S, \qquad n_{\text{group}} = \tfrac{C}{G}\,S, \qquad S = \textstyle\prod \text{spatial}

    Parameters
    ----------
    shape : tuple of int
        ``(B, C, *spatial)``.
    norm : {"batch", "layer", "instance", "group"}
        The normalization; "layer" normalizes each example over ``(C, *spatial)`` (as in the group
        norm paper's figure; a transformer's layer norm over ``C`` alone averages ``C`` values).
    num_groups : int, optional
        ``G``, a divisor of ``C``; required for "group".

    Returns
    -------
    int
        The number of values per statistic. Only "batch" depends on ``B``.

    See Also
    --------
    torch.nn.BatchNorm1d, torch.nn.GroupNorm

    Notes
    -----
    Gradient accumulation does not help batch norm: each forward pass still normalizes with its own
    small batch. ``nn.SyncBatchNorm`` computes the statistics over the batches of all devices.

    .. admonition:: Common mistake

        "Batch norm just needs a bigger learning rate or more steps to work with a batch of one."

        With one vector per batch there is nothing to learn from: the normalized value is exactly
        zero, so the output is the bias whatever the input and the gradient reaching the layers
        below is zero, as the examples show. PyTorch refuses the call in training mode.

    References
    ----------
    .. [1] Y. Wu and K. He, "Group Normalization", ECCV 2018 (batch norm's error grows as the batch
       shrinks; group norm's does not).

    Examples
    --------
    A batch of one vector gives each channel one value; PyTorch refuses to train on it:

    >>> values_per_statistic((1, 4), "batch")
    1
    >>> nn.BatchNorm1d(4)(torch.randn(1, 4))
    Traceback (most recent call last):
    ...
    ValueError: Expected more than 1 value per channel when training, got input size torch.Size([1, 4])

    Computed anyway, the output is the bias and no gradient reaches the input:

    >>> x = torch.randn(1, 4, dtype=torch.float64, requires_grad=True)
    >>> y = (x - x.mean(0)) / torch.sqrt(x.var(0, correction=0) + 1e-5) + 0.5
    >>> torch.equal(y, torch.full_like(y, 0.5))
    True
    >>> (y * torch.randn(1, 4, dtype=torch.float64)).sum().backward()
    >>> bool(x.grad.abs().max() == 0)
    True

    A batch of one image runs (25 values per channel), and training-mode batch norm is then
    exactly instance norm:

    >>> values_per_statistic((1, 3, 5, 5), "batch")
    25
    >>> img = torch.randn(1, 3, 5, 5, dtype=torch.float64)
    >>> torch.allclose(nn.BatchNorm2d(3, dtype=torch.float64)(img), F.instance_norm(img))
    True

    The per-example layers do not depend on the batch size:

    >>> [values_per_statistic((B, 8, 4, 4), "group", num_groups=2) for B in (1, 64)]
    [64, 64]
    >>> values_per_statistic((1, 8, 4, 4), "layer"), values_per_statistic((1, 8, 4, 4), "instance")
    (128, 16)
    """
    if not isinstance(shape, tuple | list | torch.Size) or len(shape) < 2:
        raise TypeError(f"shape must be a tuple (B, C, *spatial) of ints, got {shape!r}")
    dims = [check.integer(f"shape[{i}]", n, low=1) for i, n in enumerate(shape)]
    norm = check.choice("norm", norm, _KINDS)
    B, C, S = dims[0], dims[1], math.prod(dims[2:])
    if norm != "group":
        if num_groups is not None:
            raise ValueError(f"num_groups is only used with norm='group', got norm={norm!r}")
        return {"batch": B * S, "layer": C * S, "instance": S}[norm]
    if num_groups is None:
        raise ValueError("num_groups is required when norm='group'")
    G = check.integer("num_groups", num_groups, low=1)
    if C % G:
        raise ValueError(f"num_groups must divide the number of channels {C}, got {G}")
    return C // G * S


@question(
    "batch-norm-state",
    level="intermediate",
    short=(
        "Two learned parameters per channel, weight and bias, which the optimizer updates; and three buffers it "
        "never sees: running_mean and running_var, moving averages used in eval mode, and num_batches_tracked, a "
        "count of training steps used when momentum is None. The state_dict saves parameters and buffers, so a "
        "checkpoint restores the running statistics too."
    ),
    followups=("batch-norm-train-vs-eval", "batch-norm-batch-of-one"),
)
def parameters_and_buffers(module: torch.nn.Module) -> dict[str, tuple[str, ...]]:
    r"""The names of a module's parameters, buffers and ``state_dict`` entries.

    **What state does a batch-norm layer keep, and what is in its state_dict?**

    ``nn.BatchNorm2d(C)`` keeps two learned parameters of shape ``(C,)``, ``weight`` (the scale
    :math:`\gamma`) and ``bias`` (:math:`\beta`), which autograd and the optimizer see; and three
    buffers, tensors that are saved and moved with the module but get no gradient:
    ``running_mean`` and ``running_var``, updated by moving averages in training and used in
    evaluation, and ``num_batches_tracked``, the number of training forward passes, which sets the
    averaging weight :math:`1/n` when ``momentum=None`` (a cumulative average). The
    ``state_dict`` holds parameters and persistent buffers, so loading a checkpoint restores the
    running statistics. ``affine=False`` removes the parameters and ``track_running_stats=False``
    the buffers (evaluation then uses batch statistics too).

    Parameters
    ----------
    module : torch.nn.Module
        Any module; its submodules are included, with dotted names.

    Returns
    -------
    dict
        ``{"parameters": names, "buffers": names, "state_dict": keys}``, each a tuple of str in
        registration order.

    See Also
    --------
    torch.nn.Module.named_parameters, torch.nn.Module.named_buffers, torch.nn.Module.state_dict,
    torch.nn.Module.register_buffer

    Notes
    -----
    .. admonition:: Common mistake

        "Batch norm learns the mean and variance it normalizes with."

        The running mean and variance are buffers, moving averages of batch statistics that no
        gradient touches; only the scale and shift are learned. The examples show the optimizer
        receives two tensors and that a training step leaves the buffers' ``grad`` unset.

    Examples
    --------
    >>> bn = nn.BatchNorm2d(3)
    >>> state = parameters_and_buffers(bn)
    >>> state["parameters"], state["buffers"]
    (('weight', 'bias'), ('running_mean', 'running_var', 'num_batches_tracked'))
    >>> state["state_dict"] == state["parameters"] + state["buffers"]
    True

    Backward fills the parameters' gradients, never the buffers':

    >>> bn(torch.randn(4, 3, 5, 5)).sum().backward()
    >>> bn.weight.grad is not None, bn.running_mean.grad is None, bn.running_mean.requires_grad
    (True, True, False)

    ``num_batches_tracked`` counts training passes only; with ``momentum=None`` the running mean
    is the plain average of the batch means it has seen:

    >>> bn = nn.BatchNorm1d(2, momentum=None)
    >>> means = []
    >>> for _ in range(5):
    ...     batch = 3 + torch.randn(8, 2)
    ...     means.append(batch.mean(0)); _ = bn(batch)
    >>> _ = bn.eval()(torch.randn(8, 2))
    >>> int(bn.num_batches_tracked), torch.allclose(bn.running_mean, torch.stack(means).mean(0))
    (5, True)

    Without the affine map there are no parameters, without tracking no buffers:

    >>> parameters_and_buffers(nn.BatchNorm2d(3, affine=False, track_running_stats=False))
    {'parameters': (), 'buffers': (), 'state_dict': ()}
    """
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    return {
        "parameters": tuple(name for name, _ in module.named_parameters()),
        "buffers": tuple(name for name, _ in module.named_buffers()),
        "state_dict": tuple(module.state_dict().keys()),
    }


@question(
    "pre-norm-vs-post-norm",
    level="advanced",
    short=(
        "Post-norm, the original transformer, computes LN(x + F(x)), so every gradient passes through a "
        "normalization. Pre-norm, GPT-2 onwards, computes x + F(LN(x)): the identity path is untouched and the "
        "block's Jacobian is I plus the branch's; Xiong et al. found it trains without warmup. The residual stream "
        "then grows with depth, so pre-norm models end with a final norm."
    ),
    followups=("deep-residual-learning", "rms-norm-vs-layer-norm", "normalization-layers-compared"),
)
def residual_sublayer(input: torch.Tensor, sublayer, norm, placement: str = "pre") -> torch.Tensor:
    r"""A residual connection around ``sublayer`` with ``norm`` before the branch ("pre") or after the sum ("post").

    **What is the difference between pre-norm and post-norm transformer blocks?**

    Post-norm, the original transformer's, normalizes after the residual sum,
    :math:`y = \mathrm{LN}(x + F(x))`, so the path from a block's output back to its input always
    passes through a normalization's Jacobian, which is not the identity (it removes the mean
    direction). Pre-norm, used since GPT-2, normalizes only the branch, :math:`y = x + F(\mathrm{LN}(x))`:
    the residual path is untouched, the block's Jacobian is :math:`I + J_{F \circ \mathrm{LN}}`, and
    an identity term reaches every layer. Xiong et al. show that post-norm's gradients near the
    output are large at initialization, which is why it needs learning-rate warmup; pre-norm trains
    stably without it, but the residual stream grows with depth, so pre-norm models end with a
    final normalization.

    .. math::

        \text{pre: } y = x + F(\mathrm{norm}(x)), \qquad \text{post: } y = \mathrm{norm}(x + F(x))

    Parameters
    ----------
    input : torch.Tensor
        ``(B, T, C)`` or any shape both callables take.
    sublayer : callable
        The branch :math:`F` (attention or MLP), shape-preserving.
    norm : callable
        The normalization, e.g. ``nn.LayerNorm(C)``.
    placement : {"pre", "post"}, default "pre"
        Where the normalization sits.

    Returns
    -------
    torch.Tensor
        Same shape as ``input``.

    See Also
    --------
    torch.nn.TransformerEncoderLayer : its ``norm_first`` flag chooses pre-norm.

    References
    ----------
    .. [1] R. Xiong et al., "On Layer Normalization in the Transformer Architecture", ICML 2020.
    .. [2] A. Vaswani et al., "Attention Is All You Need", NeurIPS 2017 (post-norm).

    Examples
    --------
    The two placements are PyTorch's encoder layer with ``norm_first=True`` and ``False``: its
    attention and feed-forward halves, each wrapped by ``residual_sublayer``:

    >>> _ = torch.manual_seed(0)
    >>> x = torch.randn(5, 3, 8, dtype=torch.float64)  # (T, B, C), PyTorch's default layout
    >>> def encoder_layer(x, layer, placement):
    ...     sa = lambda h: layer.self_attn(h, h, h, need_weights=False)[0]
    ...     ff = lambda h: layer.linear2(F.relu(layer.linear1(h)))
    ...     h = residual_sublayer(x, sa, layer.norm1, placement)
    ...     return residual_sublayer(h, ff, layer.norm2, placement)
    >>> for first, placement in ((True, "pre"), (False, "post")):
    ...     layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, norm_first=first, dtype=torch.float64)
    ...     print(placement, torch.allclose(encoder_layer(x, layer, placement), layer(x)))
    pre True
    post True

    The gradient to the input contains the identity in pre-norm: the block's Jacobian minus
    ``I`` is exactly the branch's Jacobian:

    >>> from torch.autograd.functional import jacobian
    >>> norm, W = nn.LayerNorm(8, dtype=torch.float64), nn.Linear(8, 8, dtype=torch.float64)
    >>> v = torch.randn(8, dtype=torch.float64)
    >>> J_pre = jacobian(lambda h: residual_sublayer(h, W, norm, "pre"), v)
    >>> torch.allclose(J_pre - torch.eye(8, dtype=torch.float64), jacobian(lambda h: W(norm(h)), v))
    True

    With the branch switched off (its last layer zero, a common initialization), pre-norm is the
    identity; post-norm is still the normalization, whose Jacobian sends the all-ones direction
    to zero, so its Jacobian is never ``I``:

    >>> off = lambda h: 0 * W(h)
    >>> torch.equal(residual_sublayer(v, off, norm, "pre"), v)
    True
    >>> J_post = jacobian(lambda h: residual_sublayer(h, off, norm, "post"), v)
    >>> bool((J_post @ torch.ones(8, dtype=torch.float64)).abs().max() < 1e-9), int(torch.linalg.matrix_rank(J_post))
    (True, 7)

    Post-norm keeps every block's output normalized; pre-norm's residual stream grows with depth:

    >>> blocks = [(nn.LayerNorm(8, dtype=torch.float64), nn.Linear(8, 8, dtype=torch.float64)) for _ in range(12)]
    >>> pre, post = x, x
    >>> for n, f in blocks:
    ...     pre, post = residual_sublayer(pre, f, n, "pre"), residual_sublayer(post, f, n, "post")
    >>> bool(pre.std() > 1.5 * x.std()), bool((post.var(-1, correction=0) - 1).abs().max() < 1e-3)
    (True, True)
    """
    check.tensor("input", input, floating=False)
    for name, fn in (("sublayer", sublayer), ("norm", norm)):
        if not callable(fn):
            raise TypeError(f"{name} must be callable (a module or a function), got {type(fn).__name__}")
    placement = check.choice("placement", placement, ("pre", "post"))
    if placement == "pre":
        # y = x + F(norm(x)): the identity path carries x unchanged
        return input + sublayer(norm(input))  # (B, T, C)
    # y = norm(x + F(x)): every path passes through the normalization
    return norm(input + sublayer(input))  # (B, T, C)
