"""Transfer learning

Reusing a network trained on one task for another: freezing all but the parts you want to train, replacing
the classifier head, handing the optimizer only the trainable parameters, the batch-norm statistics that
``requires_grad=False`` does not freeze, and normalizing inputs with the statistics the weights were trained
with (ImageNet's famous mean and standard deviation).
"""

from __future__ import annotations

import torch

from nnfaq import _validate as check
from nnfaq._registry import question

__all__ = [
    "channel_stats",
    "count_parameters",
    "freeze",
    "freeze_batch_norm",
    "normalize",
    "replace_head",
    "trainable_parameters",
]

#: Per-channel (R, G, B) mean and standard deviation of the ImageNet training images, pixels in [0, 1]: the
#: values torchvision's ImageNet weights are trained with (its ``ImageClassification`` transform defaults,
#: torchvision/transforms/_presets.py, and the "Models and pre-trained weights" documentation).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _module(name: str, model) -> torch.nn.Module:
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module, got {type(model).__name__}")
    return model


@question(
    "transfer-learning",
    level="basic",
    short=(
        "Transfer learning starts a new task from weights learned on a related one, so the new task can need "
        "far fewer labels. Freezing sets ``requires_grad=False`` on the reused parameters: autograd computes no "
        "gradient for them and the optimizer skips them, while the parts you name, usually the new head, "
        "train. With more labels, fine-tune everything at a small learning rate."
    ),
    followups=("replaced-head-is-trainable", "frozen-batch-norm-running-stats", "optimizer-trainable-parameters-only"),
)
def freeze(model: torch.nn.Module, trainable=()) -> torch.nn.Module:
    r"""Set ``requires_grad=False`` on every parameter of ``model`` except those under the named parts.

    **What is transfer learning, and how do you freeze a pretrained network except the parts you want to
    train?**

    Transfer learning starts a new task from weights learned on a related one (ImageNet features for medical
    images, a language model for sentiment), so the new task needs far fewer labels. Freezing means setting
    ``requires_grad=False`` on the reused parameters: autograd then computes no gradient for them and the
    optimizer leaves them alone, while the named parts (usually the head, sometimes the last blocks) learn.
    The usual rule is to freeze most of the network with few labels and fine-tune everything, with a small
    learning rate, with more; whether the reused features help at all is an empirical question (the gallery
    example measures a case where they do not).

    Parameters
    ----------
    model : torch.nn.Module
        The network, changed in place.
    trainable : str or sequence of str, default ()
        Dotted names of submodules or parameters (as in ``model.named_parameters()``) to keep trainable.

    Returns
    -------
    torch.nn.Module
        ``model`` itself.

    See Also
    --------
    torch.nn.Module.requires_grad_, torch.nn.Module.named_parameters

    Notes
    -----
    Freezing parameters does not freeze batch-norm running statistics (see :func:`freeze_batch_norm`).

    .. admonition:: Common mistake

        "Get the pretrained model by passing the boolean ``pretrained`` flag to ``models.resnet18``."

        Since torchvision 0.13 that flag is deprecated in favour of ``weights=``, which names the weights
        you get (``ResNet18_Weights.IMAGENET1K_V1``, or ``.DEFAULT`` for the best available), and either
        way the builder downloads them into the torch hub cache (torchvision's documentation [1]_; cited,
        not run: torchvision is not a dependency of this project). What can be shown offline is what
        pretrained weights are: a ``state_dict``. Saved once and loaded with ``load_state_dict``, it
        reproduces the network exactly, with no download; the examples do that.

    References
    ----------
    .. [1] torchvision, "Models and pre-trained weights", https://pytorch.org/vision/stable/models.html
       (section "Initializing pre-trained models": ``pretrained=True`` is marked deprecated since 0.13).

    Examples
    --------
    A "pretrained" network is just its saved ``state_dict``; loading it reproduces the function exactly:

    >>> import io
    >>> from collections import OrderedDict
    >>> def small_cnn():
    ...     return nn.Sequential(OrderedDict(
    ...         conv=nn.Conv2d(1, 4, 3), act=nn.ReLU(), flat=nn.Flatten(), fc=nn.Linear(4 * 6 * 6, 10)))
    >>> pretrained, x = small_cnn(), torch.randn(5, 1, 8, 8)
    >>> buffer = io.BytesIO(); torch.save(pretrained.state_dict(), buffer); _ = buffer.seek(0)
    >>> net = small_cnn(); _ = net.load_state_dict(torch.load(buffer))
    >>> torch.equal(net(x), pretrained(x))
    True

    Freeze all but the head: only its parameters are trainable, and only they get a gradient:

    >>> net = freeze(net, trainable="fc")
    >>> [name for name, p in net.named_parameters() if p.requires_grad]
    ['fc.weight', 'fc.bias']
    >>> net(x).sum().backward()
    >>> net.conv.weight.grad is None, net.fc.weight.grad is not None
    (True, True)
    """
    _module("model", model)
    names = (trainable,) if isinstance(trainable, str) else trainable
    try:
        names = tuple(names)
    except TypeError as error:
        raise TypeError(f"trainable must be a str or a sequence of str, got {type(trainable).__name__}") from error
    # every name of every parameter and submodule: a shared layer is reachable under each of its names
    params = list(model.named_parameters(remove_duplicate=False))
    modules = {name for name, _ in model.named_modules(remove_duplicate=False)}
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"trainable must contain strings, got {type(name).__name__}")
        if name not in modules and all(name != pname for pname, _ in params):
            raise ValueError(f"trainable names {name!r}, which is neither a submodule nor a parameter of model")
    # a parameter stays trainable if any of its names is named, or lies under a named submodule ('' is the model)
    keep = {id(p) for pname, p in params if any(n in ("", pname) or pname.startswith(n + ".") for n in names)}
    for _, p in params:
        p.requires_grad_(id(p) in keep)
    return model


@question(
    "replaced-head-is-trainable",
    level="basic",
    short=(
        "No. A newly constructed layer's parameters have ``requires_grad=True``, and assigning it to the model "
        "discards the old, frozen layer. So freeze first, then replace the head, then build the optimizer: an "
        "optimizer created before the replacement still holds the old head's parameters and never updates the "
        "new one."
    ),
    followups=("transfer-learning", "optimizer-trainable-parameters-only"),
)
def replace_head(model: torch.nn.Module, name: str, out_features: int) -> torch.nn.Linear:
    r"""Replace the ``nn.Linear`` submodule ``name`` of ``model`` by a fresh one with ``out_features`` outputs.

    **After freezing a pretrained network, do you have to unfreeze the new classifier head?**

    No. A newly constructed layer's parameters have ``requires_grad=True``, and assigning it to the model
    throws the old, frozen layer away. So freeze first, then replace the head, then build the optimizer: an
    optimizer built before the replacement still holds the old head's parameters and never updates the new
    one.

    Parameters
    ----------
    model : torch.nn.Module
        The network, changed in place.
    name : str
        Dotted name of an ``nn.Linear`` submodule (``"fc"``, ``"classifier.2"``).
    out_features : int
        Number of classes of the new task, at least 1.

    Returns
    -------
    torch.nn.Linear
        The new head, ``in_features`` unchanged, freshly initialized.

    See Also
    --------
    torch.nn.Module.get_submodule, torch.nn.Linear

    Notes
    -----
    .. admonition:: Common mistake

        "Freeze all layers, unfreeze the last layer, then replace the last layer with ``nn.Linear``."

        The unfreeze step is redundant: it re-enables gradients on parameters that the replacement throws
        away on the next line, and the new layer is trainable by default. The examples show the new head is
        trainable without it, and that an optimizer created before the replacement never moves it.

    Examples
    --------
    >>> from collections import OrderedDict
    >>> net = nn.Sequential(OrderedDict(body=nn.Linear(8, 16), act=nn.ReLU(), fc=nn.Linear(16, 10)))
    >>> _ = net.requires_grad_(False)                # freeze everything, no "unfreeze" step
    >>> head = replace_head(net, "fc", 3)
    >>> head is net.fc, head.in_features, head.out_features
    (True, 16, 3)
    >>> head.weight.requires_grad, head.bias.requires_grad
    (True, True)

    An optimizer created before the replacement holds the old head and never moves the new one:

    >>> stale = nn.Sequential(OrderedDict(body=nn.Linear(8, 16), act=nn.ReLU(), fc=nn.Linear(16, 10)))
    >>> opt = torch.optim.SGD(stale.parameters(), lr=0.1)
    >>> head = replace_head(stale, "fc", 3)
    >>> before = head.weight.detach().clone()
    >>> stale(torch.randn(4, 8)).sum().backward(); opt.step()
    >>> torch.equal(head.weight, before)
    True
    """
    _module("model", model)
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    if not name:
        raise ValueError("name must name a submodule of model, not be '' (the model itself)")
    out_features = check.integer("out_features", out_features, low=1)
    try:
        old = model.get_submodule(name)
    except AttributeError as error:
        raise ValueError(f"name must be a submodule of model, got {name!r}") from error
    if not isinstance(old, torch.nn.Linear):
        raise ValueError(f"name must refer to an nn.Linear, {name!r} is a {type(old).__name__}")
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    new = torch.nn.Linear(
        old.in_features, out_features, bias=old.bias is not None, device=old.weight.device, dtype=old.weight.dtype
    )
    setattr(parent, child, new)
    return new


def count_parameters(model: torch.nn.Module, trainable_only: bool = True) -> int:
    r"""Number of scalar parameters of ``model``, only the trainable ones by default.

    Parameters
    ----------
    model : torch.nn.Module
        The network.
    trainable_only : bool, default True
        Count only parameters with ``requires_grad=True``.

    Returns
    -------
    int
        :math:`\sum_j \mathrm{numel}(w_j)` over the selected parameters (shared parameters counted once).

    Examples
    --------
    >>> net = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    >>> count_parameters(net), 64 * 32 + 32 + 32 * 10 + 10
    (2410, 2410)
    >>> _ = net[0].requires_grad_(False)
    >>> count_parameters(net), count_parameters(net, trainable_only=False)
    (330, 2410)
    """
    _module("model", model)
    check.flag("trainable_only", trainable_only)
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


@question(
    "optimizer-trainable-parameters-only",
    level="intermediate",
    short=(
        "Only the trainable ones. Optimizers skip a parameter whose grad is None, which a frozen one has after a "
        "fresh ``zero_grad()``; but a frozen parameter that still holds a gradient tensor (zeros from "
        "``zero_grad(set_to_none=False)``, or one left from an earlier stage) is moved by weight decay and "
        "momentum. Passing only the trainable parameters makes freezing hold."
    ),
    followups=("transfer-learning", "weight-decay-vs-l2", "momentum"),
)
def trainable_parameters(model: torch.nn.Module) -> list[torch.nn.Parameter]:
    r"""The parameters of ``model`` with ``requires_grad=True``, in ``model.parameters()`` order.

    **When fine-tuning, should the optimizer get all the parameters or only the trainable ones?**

    Only the trainable ones. PyTorch's optimizers skip a parameter whose ``.grad`` is ``None``, which is
    what a frozen parameter has after a fresh ``zero_grad()``; but a frozen parameter that still carries a
    gradient tensor (zeros from ``zero_grad(set_to_none=False)``, or a leftover from an earlier training
    stage) is updated: weight decay and momentum move it although it is "frozen". Passing
    ``filter(lambda p: p.requires_grad, model.parameters())`` makes freezing hold no matter how gradients
    are cleared, and keeps optimizer state small.

    .. math::

        w \leftarrow w - \eta\,(g + \lambda w) \quad\text{moves } w \text{ even when } g = 0

    Parameters
    ----------
    model : torch.nn.Module
        The network.

    Returns
    -------
    list of torch.nn.Parameter
        The trainable parameters, to pass to an optimizer.

    See Also
    --------
    torch.optim.Optimizer.zero_grad

    Examples
    --------
    >>> net = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
    >>> _ = net[0].requires_grad_(False)
    >>> [p is q for p, q in zip(trainable_parameters(net), net[1].parameters())]
    [True, True]

    A frozen layer that carries a zero gradient is moved by weight decay when the optimizer gets everything:

    >>> x = torch.randn(8, 4)
    >>> _ = net[0].weight.grad = torch.zeros(4, 4)     # left over from an earlier stage
    >>> before = net[0].weight.detach().clone()
    >>> opt = torch.optim.SGD(net.parameters(), lr=0.1, weight_decay=0.1)
    >>> opt.zero_grad(set_to_none=False); net(x).sum().backward(); opt.step()
    >>> torch.equal(net[0].weight, before)
    False

    Given only the trainable parameters, the frozen layer stays put:

    >>> before = net[0].weight.detach().clone()
    >>> opt = torch.optim.SGD(trainable_parameters(net), lr=0.1, weight_decay=0.1)
    >>> opt.zero_grad(set_to_none=False); net(x).sum().backward(); opt.step()
    >>> torch.equal(net[0].weight, before)
    True
    """
    _module("model", model)
    return [p for p in model.parameters() if p.requires_grad]


#: Every batch-norm layer of torch.nn (the lazy ones become the first three after their first forward pass).
_BATCH_NORMS = (
    torch.nn.BatchNorm1d,
    torch.nn.BatchNorm2d,
    torch.nn.BatchNorm3d,
    torch.nn.LazyBatchNorm1d,
    torch.nn.LazyBatchNorm2d,
    torch.nn.LazyBatchNorm3d,
    torch.nn.SyncBatchNorm,
)


@question(
    "frozen-batch-norm-running-stats",
    level="intermediate",
    short=(
        "Only half of it. ``requires_grad=False`` freezes the learned scale and shift, but the running mean and "
        "variance are buffers that every training-mode forward pass updates, with or without gradients. Only "
        "``.eval()`` on the batch-norm layers stops that and makes them use the stored statistics; "
        "``model.train()`` switches them back, so re-apply it after every ``model.train()``."
    ),
    followups=("batch-norm-train-vs-eval", "transfer-learning", "nn-vs-functional"),
)
def freeze_batch_norm(model: torch.nn.Module) -> int:
    r"""Put every batch-norm layer of ``model`` in evaluation mode and freeze its scale and shift.

    **Does setting requires_grad=False freeze a batch-norm layer?**

    Only half of it. ``requires_grad=False`` freezes the learned scale and shift, but the running mean and
    variance are buffers, updated by every forward pass in training mode, with or without gradients. Only
    ``.eval()`` on the batch-norm layers stops that (and makes them normalize with the stored statistics,
    as the pretrained network did). ``model.train()`` switches them back, so call this after every
    ``model.train()``.

    Parameters
    ----------
    model : torch.nn.Module
        The network, changed in place.

    Returns
    -------
    int
        How many batch-norm layers were frozen.

    See Also
    --------
    torch.nn.BatchNorm2d, torch.nn.Module.eval

    Examples
    --------
    Frozen parameters, yet a forward pass in training mode moves the running mean:

    >>> net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)).requires_grad_(False)
    >>> before = net[1].running_mean.clone()
    >>> _ = net(torch.randn(16, 3) + 5)
    >>> torch.equal(net[1].running_mean, before)
    False

    After ``freeze_batch_norm`` the statistics stay put and the layer uses them, like ``F.batch_norm`` in
    evaluation mode:

    >>> freeze_batch_norm(net)
    1
    >>> before = net[1].running_mean.clone()
    >>> x = torch.randn(16, 3) + 5
    >>> y = net(x)
    >>> torch.equal(net[1].running_mean, before)
    True
    >>> bn = net[1]
    >>> torch.allclose(y, F.batch_norm(net[0](x), bn.running_mean, bn.running_var, bn.weight, bn.bias))
    True

    ``model.train()`` undoes it:

    >>> net.train()[1].training
    True
    """
    _module("model", model)
    layers = [m for m in model.modules() if isinstance(m, _BATCH_NORMS)]
    for m in layers:
        m.eval()
        m.requires_grad_(False)
    return len(layers)


@question(
    "imagenet-mean-std",
    level="basic",
    short=(
        "They are the per-channel mean and standard deviation of the ImageNet training images, pixels in [0, 1]. "
        "Normalizing with them gives each channel roughly zero mean and unit variance as the pretrained weights "
        "saw it, so a model fine-tuned from ImageNet weights must use them. A model trained from scratch on other "
        "data should use its own training set's statistics."
    ),
    followups=("transfer-learning", "batch-norm-train-vs-eval"),
)
def channel_stats(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Per-channel mean and (population) standard deviation of a batch of images ``(B, C, *)``.

    **Why does PyTorch normalize images with mean=[0.485, 0.456, 0.406] and std=[0.229, 0.224, 0.225]?**

    They are the per-channel (R, G, B) mean and standard deviation of the ImageNet training images, with
    pixels scaled to [0, 1]. Subtracting them and dividing makes each input channel roughly zero-mean and
    unit-variance, which is what the pretrained weights saw; a model fine-tuned from ImageNet weights must
    get its inputs normalized the same way. For a network trained from scratch on other data, compute the
    statistics of your own training set.

    .. math::

        \mu_c = \frac{1}{BHW}\sum_{b,h,w} x_{bchw}, \qquad
        \sigma_c = \sqrt{\frac{1}{BHW}\sum_{b,h,w} (x_{bchw} - \mu_c)^2}, \qquad
        \hat x_{bchw} = \frac{x_{bchw} - \mu_c}{\sigma_c}

    Parameters
    ----------
    images : torch.Tensor
        ``(B, C, *)``, e.g. ``(B, C, H, W)``, pixels in [0, 1].

    Returns
    -------
    mean, std : torch.Tensor
        ``(C,)`` each.

    See Also
    --------
    torch.std_mean, normalize

    Notes
    -----
    .. admonition:: Common mistake

        "ImageNet's mean and std are the standard way to normalize any image."

        They are the statistics of one data set, and they matter because ImageNet-pretrained weights expect
        them. On other images they do not give zero mean and unit variance; the data's own statistics do.
        The examples show both.

    Examples
    --------
    >>> x = torch.rand(8, 3, 16, 16, dtype=torch.float64) * torch.tensor([1.0, 0.5, 0.2]).view(3, 1, 1)
    >>> mean, std = channel_stats(x)
    >>> ref_std, ref_mean = torch.std_mean(x, dim=(0, 2, 3), correction=0)
    >>> torch.allclose(mean, ref_mean) and torch.allclose(std, ref_std)
    True

    Normalized with its own statistics every channel has mean 0 and std 1; with ImageNet's, it does not:

    >>> own_mean, own_std = channel_stats(normalize(x, mean, std))
    >>> round(own_mean.abs().max().item(), 6), round((own_std - 1).abs().max().item(), 6)
    (0.0, 0.0)
    >>> imagenet_std = channel_stats(normalize(x, IMAGENET_MEAN, IMAGENET_STD))[1]
    >>> bool((imagenet_std - 1).abs().max() < 0.1)
    False
    """
    check.tensor("images", images, min_ndim=2, finite=True)
    if images.shape[1] == 0 or images.numel() == 0:
        raise ValueError(f"images must not be empty, got shape {tuple(images.shape)}")
    dims = [d for d in range(images.dim()) if d != 1]
    # mu_c over every dimension but the channel one
    mean = images.mean(dim=dims)  # (C,)
    # sigma_c: population standard deviation (divide by the number of pixels, not that minus 1)
    std = images.var(dim=dims, correction=0).sqrt()  # (C,)
    return mean, std


def normalize(input: torch.Tensor, mean, std) -> torch.Tensor:
    r"""Normalize each channel of images ``(*, C, H, W)``: :math:`(x_c - \mu_c) / \sigma_c`.

    Same arguments and layout as ``torchvision.transforms.functional.normalize``, for tensors.

    Parameters
    ----------
    input : torch.Tensor
        ``(*, C, H, W)`` images, e.g. ``(C, H, W)`` or ``(B, C, H, W)``.
    mean, std : sequence of float or torch.Tensor
        ``(C,)`` per-channel mean and standard deviation; every ``std`` positive.

    Returns
    -------
    torch.Tensor
        Same shape as ``input``.

    Examples
    --------
    What ImageNet normalization does to a pixel: the average ImageNet colour becomes 0, white and black go
    to about +2 and -2 (a pixel value ``v`` becomes ``(v - mean) / std``):

    >>> mean, std = IMAGENET_MEAN, IMAGENET_STD
    >>> torch.allclose(normalize(torch.tensor(mean).view(3, 1, 1), mean, std), torch.zeros(3, 1, 1))
    True
    >>> [round(v, 4) for v in normalize(torch.ones(3, 1, 1), mean, std).flatten().tolist()]
    [2.2489, 2.4286, 2.64]
    >>> [round(v, 4) for v in normalize(torch.zeros(3, 1, 1), mean, std).flatten().tolist()]
    [-2.1179, -2.0357, -1.8044]
    """
    check.tensor("input", input, min_ndim=3)
    C = input.shape[-3]
    stats = {"mean": mean, "std": std}
    for name, value in stats.items():
        if isinstance(value, torch.Tensor) and (value.is_complex() or value.dtype == torch.bool):
            raise TypeError(f"{name} must hold real numbers, got dtype {value.dtype}")
        try:
            t = torch.as_tensor(value, dtype=input.dtype, device=input.device)
        except (TypeError, ValueError, RuntimeError) as error:
            raise TypeError(f"{name} must be a sequence of {C} numbers or a tensor, got {value!r}") from error
        check.tensor(name, t, ndim=1, finite=True)
        check.same_shape(name, t, (C,), "the channel dimension -3 of input")
        stats[name] = t
    mean, std = stats["mean"], stats["std"]
    if not bool((std > 0).all()):
        raise ValueError("std must be positive in every channel")
    # broadcast (C,) over (*, C, H, W)
    return (input - mean.view(C, 1, 1)) / std.view(C, 1, 1)
