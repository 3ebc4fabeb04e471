"""Convolution arithmetic

The numbers interviewers ask about convolutional layers, as exact formulas checked against the
shapes, parameters and multiply-adds PyTorch produces: output sizes of convolution and transposed
convolution (pooling's is in :mod:`nnfaq.convnets.resampling`); the cost of each convolution type
(standard, 1x1, depthwise, depthwise-separable, grouped, dilated, spatially separable, transposed)
against a dense layer; and the receptive field of a stack of layers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from nnfaq import _validate as check
from nnfaq._registry import question
from nnfaq.convnets import _sliding

__all__ = [
    "conv_cost",
    "conv_output_size",
    "conv_transpose_output_size",
    "receptive_field",
]

#: The layer types :func:`conv_cost` knows, a dense layer first as the baseline.
KINDS = (
    "dense",
    "standard",
    "pointwise",
    "depthwise",
    "depthwise-separable",
    "grouped",
    "dilated",
    "spatially-separable",
    "transposed",
)


@question(
    "conv-output-size",
    level="basic",
    short=(
        "Pad by p on both sides, count the positions where a kernel spanning d(K-1)+1 inputs fits, stepping by "
        "the stride, and round down: n_out = floor((n + 2p - d(K-1) - 1) / s) + 1. Without padding a K kernel "
        "shrinks the size by K-1 (28 becomes 24 with 5x5); padding (K-1)/2 at stride 1 keeps it."
    ),
    followups=("transposed-conv-output-size", "pool-output-size", "receptive-field"),
)
def conv_output_size(size: int, kernel_size: int, stride: int = 1, padding=0, dilation: int = 1) -> int:
    r"""Output length of a convolution along one dimension.

    **How do you compute the output size of a convolutional layer?**

    Pad the input by ``p`` on both sides, count how many positions a kernel of effective size
    ``d(K-1)+1`` fits in, stepping by the stride, and round down: a window that would run off the
    end is dropped. Without padding a ``K`` kernel shrinks the size by ``K-1`` (28 becomes 24 with
    a 5x5 kernel); ``padding=(K-1)/2`` with stride 1 keeps it ("same").

    .. math::

        n_{out} = \left\lfloor \frac{n + 2p - d(K - 1) - 1}{s} \right\rfloor + 1

    Parameters
    ----------
    size : int
        Input length ``n`` (height or width), at least 1.
    kernel_size : int
        ``K``, at least 1.
    stride : int, default 1
        ``s``, at least 1.
    padding : int, "valid" or "same", default 0
        ``p`` zeros on each side; "same" returns ``size`` (stride 1 only).
    dilation : int, default 1
        ``d``, spacing between kernel taps.

    Returns
    -------
    int
        The output length ``n_out``.

    See Also
    --------
    torch.nn.Conv2d : its Shape section states the same formula.

    Notes
    -----
    .. admonition:: Common mistake

        "The output size is (n - K + 2p) / s + 1."

        Only when the division is exact and there is no dilation. In general the quotient is
        rounded down and the kernel's span is ``d(K-1)+1``; the examples show 6 with ``K=3, s=2``
        giving 2 (not 2.5) and a dilated kernel giving a smaller output.

    Examples
    --------
    >>> conv_output_size(28, 5), conv_output_size(28, 5, padding=2), conv_output_size(28, 5, padding="same")
    (24, 28, 28)
    >>> conv_output_size(6, 3, stride=2)  # (6 - 3) / 2 + 1 = 2.5 is rounded down
    2
    >>> conv_output_size(6, 3, stride=2, padding=1), conv_output_size(10, 3, dilation=2)
    (3, 6)

    The shape PyTorch produces:

    >>> x = torch.randn(1, 1, 37, 37)
    >>> nn.Conv2d(1, 1, 4, stride=3, padding=2, dilation=2)(x).shape[-1] == conv_output_size(37, 4, 3, 2, 2)
    True
    """
    n = check.integer("size", size, low=1)
    k = check.integer("kernel_size", kernel_size, low=1)
    s = check.integer("stride", stride, low=1)
    d = check.integer("dilation", dilation, low=1)
    if isinstance(padding, str):
        check.choice("padding", padding, ("same", "valid"))
        if padding == "same" and s != 1:
            raise ValueError(f"padding='same' needs stride=1, got stride={s}")
        if padding == "same":
            return n
        padding = 0
    return _sliding.output_size(n, k, s, check.integer("padding", padding, low=0), d)


@question(
    "transposed-conv-output-size",
    level="intermediate",
    short=(
        "n_out = (n - 1)s - 2p + d(K-1) + output_padding + 1: the inputs are placed s apart, the kernel span "
        "is added, the padding removed. A strided convolution rounds down, so several sizes map to one output "
        "(7 and 8 both become 4 with K=3, s=2, p=1); ``output_padding``, below the stride, picks which one to "
        "restore."
    ),
    followups=("transposed-convolution", "conv-output-size"),
)
def conv_transpose_output_size(
    size: int, kernel_size: int, stride: int = 1, padding: int = 0, output_padding: int = 0, dilation: int = 1
) -> int:
    r"""Output length of a transposed convolution along one dimension.

    **What output size does a transposed convolution produce, and why does it need output_padding?**

    It inverts the convolution's size formula: each of the ``n`` inputs is placed ``s`` apart and
    the kernel's span is added, minus the padding on both sides. Because a strided convolution
    rounds down, several input sizes give the same output size (7 and 8 both become 4 with
    ``K=3, s=2, p=1``), so going back is ambiguous; ``output_padding`` (less than the stride)
    adds the rows that pick the larger one.

    .. math::

        n_{out} = (n - 1)\,s - 2p + d(K - 1) + p_{out} + 1

    Parameters
    ----------
    size : int
        Input length ``n``, at least 1.
    kernel_size, stride, padding, dilation : int
        Those of the convolution being transposed.
    output_padding : int, default 0
        ``p_out``, smaller than ``stride`` or ``dilation``.

    Returns
    -------
    int
        The output length ``n_out``.

    See Also
    --------
    torch.nn.ConvTranspose2d

    Examples
    --------
    >>> conv_output_size(7, 3, stride=2, padding=1), conv_output_size(8, 3, stride=2, padding=1)
    (4, 4)
    >>> conv_transpose_output_size(4, 3, 2, 1), conv_transpose_output_size(4, 3, 2, 1, output_padding=1)
    (7, 8)

    A stride-2 transposed convolution with ``K=4, p=1`` doubles the size exactly (DCGAN's choice):

    >>> [conv_transpose_output_size(n, 4, stride=2, padding=1) for n in (4, 8, 16)]
    [8, 16, 32]

    The shape PyTorch produces:

    >>> up = nn.ConvTranspose2d(1, 1, 3, stride=3, padding=2, output_padding=1, dilation=2)
    >>> up(torch.randn(1, 1, 9, 9)).shape[-1] == conv_transpose_output_size(9, 3, 3, 2, 1, 2)
    True
    """
    n = check.integer("size", size, low=1)
    k = check.integer("kernel_size", kernel_size, low=1)
    s = check.integer("stride", stride, low=1)
    p = check.integer("padding", padding, low=0)
    op = check.integer("output_padding", output_padding, low=0)
    d = check.integer("dilation", dilation, low=1)
    if op >= max(s, d):
        raise ValueError(f"output_padding must be smaller than stride or dilation, got {op}")
    out = (n - 1) * s - 2 * p + d * (k - 1) + op + 1
    if out < 1:
        raise ValueError(f"padding={p} is too large: the output size would be {out}")
    return out


@question(
    "convolution-types",
    level="intermediate",
    short=(
        "Standard: C_out filters of K x K x C_in shared over positions. 1x1 mixes channels per pixel. Depthwise "
        "filters each channel alone; depthwise-separable (depthwise, then 1x1) costs 1/C_out + 1/K^2 of "
        "standard. Grouped costs 1/g. Dilated sees farther with no new weights. Spatially separable (Kx1, 1xK) "
        "costs 2/K if C_in = C_out, but is rank 1. Transposed upsamples."
    ),
    followups=("receptive-field", "conv-output-size", "transposed-convolution"),
)
def conv_cost(
    kind: str,
    in_channels: int,
    out_channels: int,
    kernel_size: int,
    input_size,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
    groups: int = 1,
    bias: bool = False,
) -> dict:
    r"""Parameters and multiply-adds of one layer of the given convolution type, and its output size.

    **Describe the convolution types: what are they, and what is the motivation behind each?**

    A standard convolution slides ``C_out`` small ``K x K x C_in`` filters over the image: local
    windows and shared weights make its parameter count independent of the image size, unlike a
    dense layer. The variants cut cost or change what the layer sees: a 1x1 (pointwise)
    convolution mixes channels per pixel; a depthwise convolution filters each channel on its own,
    and depthwise-separable (depthwise then pointwise, MobileNet) costs about
    ``1/C_out + 1/K²`` of a standard one; grouped convolution (ResNeXt) splits channels into
    ``g`` groups for ``1/g`` of the cost; spatially separable (``K x 1`` then ``1 x K``) costs
    ``(C_in + C_out) / (K C_in)`` of a standard layer, ``2/K`` when ``C_in = C_out``, and can only
    express kernels of rank 1. A dilated convolution spreads its taps to see farther with no new
    weights (segmentation, WaveNet), and a transposed convolution upsamples (decoders, GANs).

    .. math::

        \text{params} = C_{out} \frac{C_{in}}{g} K_h K_w, \qquad
        \text{MACs} = \text{params} \cdot H_{out} W_{out}, \qquad
        \frac{C_{in}K^2 + C_{in}C_{out}}{C_{in}C_{out}K^2} = \frac{1}{C_{out}} + \frac{1}{K^2}, \qquad
        \frac{C_{in}C_{out}K + C_{out}^2 K}{C_{in}C_{out}K^2} = \frac{C_{in} + C_{out}}{K\,C_{in}}

    Parameters
    ----------
    kind : str
        One of ``"dense"`` (a fully connected layer from the whole input to an
        output of the standard convolution's shape), ``"standard"``, ``"pointwise"`` (1x1; ignores
        ``kernel_size``, ``padding`` and ``dilation``), ``"depthwise"`` (``groups = C_in``,
        ``C_out`` a multiple of ``C_in``), ``"depthwise-separable"`` (depthwise ``K x K`` then
        pointwise), ``"grouped"`` (uses ``groups``), ``"dilated"`` (standard with
        ``dilation >= 2``), ``"spatially-separable"`` (``K x 1`` to ``C_out`` channels, then
        ``1 x K``), ``"transposed"``.
    in_channels, out_channels : int
        ``C_in`` and ``C_out``.
    kernel_size : int
        ``K`` (square kernels).
    input_size : int or tuple of 2 ints
        ``(H, W)`` of the input.
    stride, padding, dilation : int
        As in ``nn.Conv2d`` (for ``"transposed"``, as in ``nn.ConvTranspose2d``).
    groups : int, default 1
        For ``"grouped"`` only; must divide both channel counts.
    bias : bool, default False
        Count one bias per output channel of every convolution (per output unit for ``"dense"``).

    Returns
    -------
    dict
        ``{"params": int, "macs": int, "output_size": (H_out, W_out)}``; ``macs`` counts the
        multiply-adds of one image (bias additions excluded).

    See Also
    --------
    torch.nn.Conv2d, torch.nn.ConvTranspose2d, torch.utils.flop_counter.FlopCounterMode

    Notes
    -----
    Multiply-adds are a proxy for time: depthwise convolutions do little arithmetic per byte of
    memory moved, so their measured speed-up on a CPU or GPU is smaller than the MAC ratio.

    The factorised layers are restrictions, not free savings: a ``K x 1`` then ``1 x K`` pair can
    only express kernels that are outer products of a column and a row (the box and Sobel filters
    are; most learned kernels are not), and a depthwise-separable layer mixes space and channels in
    separate steps.

    References
    ----------
    .. [1] A. Howard et al., "MobileNets: Efficient Convolutional Neural Networks for Mobile Vision
       Applications", 2017.
    .. [2] F. Yu and V. Koltun, "Multi-Scale Context Aggregation by Dilated Convolutions", ICLR 2016.
    .. [3] S. Xie et al., "Aggregated Residual Transformations for Deep Neural Networks", CVPR 2017.

    Examples
    --------
    The parameter count of every kind is PyTorch's: the layers below are what each kind means (16 to 32
    channels, 3x3, padding 1, an 8x8 input, biases included):

    >>> with torch.device("meta"):  # shapes and parameters only, no memory
    ...     layers = {
    ...         "dense": [nn.Linear(16 * 8 * 8, 32 * 8 * 8)],
    ...         "standard": [nn.Conv2d(16, 32, 3, padding=1)],
    ...         "pointwise": [nn.Conv2d(16, 32, 1)],
    ...         "depthwise": [nn.Conv2d(16, 32, 3, padding=1, groups=16)],
    ...         "depthwise-separable": [nn.Conv2d(16, 16, 3, padding=1, groups=16), nn.Conv2d(16, 32, 1)],
    ...         "grouped": [nn.Conv2d(16, 32, 3, padding=1, groups=4)],
    ...         "dilated": [nn.Conv2d(16, 32, 3, padding=2, dilation=2)],
    ...         "spatially-separable": [nn.Conv2d(16, 32, (3, 1), padding=(1, 0)),
    ...                                 nn.Conv2d(32, 32, (1, 3), padding=(0, 1))],
    ...         "transposed": [nn.ConvTranspose2d(16, 32, 3, padding=1)],
    ...     }
    >>> options = {"grouped": {"groups": 4}, "dilated": {"padding": 2, "dilation": 2}}
    >>> ours = {kind: conv_cost(kind, 16, 32, 3, 8, **{"padding": 1, "bias": True, **options.get(kind, {})})
    ...         for kind in KINDS}
    >>> all(ours[kind]["params"] == sum(p.numel() for m in layers[kind] for p in m.parameters()) for kind in KINDS)
    True
    >>> {kind: ours[kind]["params"] for kind in KINDS}
    {'dense': 2099200, 'standard': 4640, 'pointwise': 544, 'depthwise': 320, 'depthwise-separable': 704,
     'grouped': 1184, 'dilated': 4640, 'spatially-separable': 4672, 'transposed': 4640}

    So are the output size and the multiply-adds: each of the ``10 x 10`` outputs of each of the 64
    filters costs ``(32 / 4) · 3 · 3`` of them (the tests check every kind's against
    ``torch.utils.flop_counter``, which counts two FLOPs per multiply-add):

    >>> cost = conv_cost("grouped", 32, 64, 3, (20, 20), stride=2, padding=1, groups=4, bias=True)
    >>> layer = nn.Conv2d(32, 64, 3, stride=2, padding=1, groups=4)
    >>> cost["output_size"] == tuple(layer(torch.randn(1, 32, 20, 20)).shape[2:]), cost["macs"] == 64 * 10 * 10 * 8 * 9
    (True, True)

    Weight sharing: a convolution's parameters do not depend on the image size, a dense layer's do:

    >>> [conv_cost("standard", 3, 16, 3, n, padding=1)["params"] for n in (32, 224)]
    [432, 432]
    >>> [conv_cost("dense", 3, 16, 3, n, padding=1)["params"] for n in (32, 224)]
    [50331648, 120846286848]

    Depthwise-separable cuts weights and MACs to exactly ``1/C_out + 1/K²`` of a standard layer:

    >>> std = conv_cost("standard", 64, 128, 3, 56, padding=1)
    >>> sep = conv_cost("depthwise-separable", 64, 128, 3, 56, padding=1)
    >>> std["params"], sep["params"]
    (73728, 8768)
    >>> ratio = 1 / 128 + 1 / 9
    >>> abs(sep["params"] / std["params"] - ratio) < 1e-12, abs(sep["macs"] / std["macs"] - ratio) < 1e-12
    (True, True)

    Spatially separable costs ``2/K`` of a standard layer only when ``C_in = C_out``; in general
    ``(C_in + C_out) / (K C_in)``, here ``(64 + 128) / (3 · 64) = 1``: no saving at all:

    >>> def spatial_ratio(c_in, c_out):
    ...     cost = [conv_cost(kind, c_in, c_out, 3, 56, padding=1) for kind in ("spatially-separable", "standard")]
    ...     return cost[0]["params"] / cost[1]["params"]
    >>> spatial_ratio(64, 64) == 2 / 3, spatial_ratio(64, 128) == (64 + 128) / (3 * 64) == 1.0
    (True, True)

    Grouping divides the cost by ``g``; dilation adds no weights; a 1x1 convolution costs ``1/K²``:

    >>> conv_cost("grouped", 64, 128, 3, 56, padding=1, groups=8)["params"] * 8 == std["params"]
    True
    >>> conv_cost("dilated", 64, 128, 3, 56, padding=2, dilation=2)["params"] == std["params"]
    True
    >>> conv_cost("pointwise", 64, 128, 3, 56)["params"] * 9 == std["params"]
    True
    """
    kind = check.choice("kind", kind, KINDS)
    c_in = check.integer("in_channels", in_channels, low=1)
    c_out = check.integer("out_channels", out_channels, low=1)
    k = check.integer("kernel_size", kernel_size, low=1)
    size = check.int_tuple("input_size", input_size, 2, low=1)
    s = check.integer("stride", stride, low=1)
    p = check.integer("padding", padding, low=0)
    d = check.integer("dilation", dilation, low=1)
    g = check.integer("groups", groups, low=1)
    check.flag("bias", bias)
    if g != 1 and kind != "grouped":
        raise ValueError(f"groups is for kind='grouped' only, got groups={g} with kind={kind!r}")
    if kind == "grouped" and (c_in % g or c_out % g):
        raise ValueError(f"groups must divide in_channels ({c_in}) and out_channels ({c_out}), got {g}")
    if kind == "depthwise" and c_out % c_in:
        raise ValueError(f"out_channels must be a multiple of in_channels for kind='depthwise', got {c_out}")
    if kind == "dilated" and d < 2:
        raise ValueError(f"dilation must be >= 2 for kind='dilated', got {d}")
    # each layer: (C_in, C_out, (K_h, K_w), groups, (s_h, s_w), (p_h, p_w), dilation)
    one = (c_in, c_out, (k, k), {"grouped": g, "depthwise": c_in}.get(kind, 1), (s, s), (p, p), d)
    pointwise = (c_in, c_out, (1, 1), 1, (s, s), (0, 0), 1)
    layers = {
        "pointwise": [pointwise],
        "depthwise-separable": [(c_in, c_in, (k, k), c_in, (s, s), (p, p), d), (*pointwise[:4], (1, 1), (0, 0), 1)],
        "spatially-separable": [
            (c_in, c_out, (k, 1), 1, (s, 1), (p, 0), d),
            (c_out, c_out, (1, k), 1, (1, s), (0, p), d),
        ],
    }.get(kind, [one])
    params = macs = 0
    for ci, co, kernel, groups_l, strides, pads, dil in layers:
        if kind == "transposed":
            out = tuple(conv_transpose_output_size(*args, 0, dil) for args in zip(size, kernel, strides, pads))
            positions = math.prod(size)  # every input pixel scatters one kernel copy
        else:
            out = tuple(_sliding.output_size(*args, dil) for args in zip(size, kernel, strides, pads))
            positions = math.prod(out)  # every output pixel gathers one window
        weights = co * (ci // groups_l) * math.prod(kernel)
        params, macs, size = params + weights + (co if bias else 0), macs + weights * positions, out
    if kind == "dense":
        # one weight per (input value, output value) pair
        n_in, n_out = c_in * math.prod(check.int_tuple("input_size", input_size, 2)), c_out * math.prod(size)
        params, macs = n_in * n_out + (n_out if bias else 0), n_in * n_out
    return {"params": params, "macs": macs, "output_size": size}


def _layers(name, values) -> tuple:
    """Per-layer values of :func:`receptive_field` as a tuple; TypeError naming ``name`` unless an ordered sequence."""
    # lists, tuples, ranges and 1-D arrays; not sets or dicts (no layer order), not a lone int
    if isinstance(values, str | bytes) or not (isinstance(values, Sequence) or getattr(values, "ndim", None) == 1):
        raise TypeError(f"{name} must be a sequence of ints (one per layer), got {type(values).__name__}")
    return tuple(values)


@question(
    "receptive-field",
    level="intermediate",
    short=(
        "The input region one output depends on. Each layer adds d(K-1) times the product of the strides "
        "before it, so two 3x3 layers see 5x5 and three see 7x7, with 18 and 27 weights per channel pair "
        "instead of 25 and 49, and nonlinearities between them (VGG). Strides multiply later growth; dilation "
        "grows it without weights."
    ),
    followups=("convolution-types", "pooling"),
)
def receptive_field(kernel_sizes, strides=None, dilations=None) -> int:
    r"""Receptive field (in input pixels, along one dimension) of one output of a stack of layers.

    **What is the receptive field of a stack of convolutions, and why stack two 3x3 layers instead of one 5x5?**

    It is the size of the input region that one output pixel depends on. Each layer adds its
    kernel span minus one, ``d(K-1)``, multiplied by the product of the strides before it, so two
    3x3 layers see 5x5 and three see 7x7, with fewer weights than one large kernel (``2·9 = 18``
    against 25) and a nonlinearity in between (VGG's argument). Strides and pooling multiply the
    growth of everything after them, and dilation grows it with no new weights: dilations 1, 2, 4
    give 15 instead of 7.

    .. math::

        r = 1 + \sum_{l=1}^{L} d_l (K_l - 1) \prod_{j < l} s_j

    Parameters
    ----------
    kernel_sizes : sequence of int
        ``K_l`` of each layer, input side first; pooling layers count as layers.
    strides : sequence of int, optional
        ``s_l``; all 1 by default.
    dilations : sequence of int, optional
        ``d_l``; all 1 by default.

    Returns
    -------
    int
        The receptive field ``r`` (the field is ``r x r`` for square kernels).

    See Also
    --------
    conv_cost

    References
    ----------
    .. [1] K. Simonyan and A. Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
       Recognition", ICLR 2015.
    .. [2] A. Araujo, W. Norris, J. Sim, "Computing Receptive Fields of Convolutional Neural
       Networks", Distill 2019.

    Examples
    --------
    >>> receptive_field([3, 3]), receptive_field([3, 3, 3]), receptive_field([5])
    (5, 7, 5)
    >>> receptive_field([3, 3, 3], dilations=[1, 2, 4]), receptive_field([3, 2, 3], strides=[1, 2, 1])
    (15, 8)

    Proof from autograd: over a batch of random images, the input pixels that the output at
    ``(5, 5)`` of two 3x3 layers (ReLU between, random weights) has a nonzero gradient for are
    exactly the 25 of the 5x5 square at rows and columns 5 to 9 (one image alone may show fewer: a
    ReLU that is off passes no gradient):

    >>> net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 1, 3))
    >>> x = torch.randn(64, 1, 15, 15, requires_grad=True)
    >>> net(x)[:, 0, 5, 5].sum().backward()
    >>> seen = (x.grad[:, 0] != 0).any(dim=0)  # (15, 15): pixels some image's output depends on
    >>> int(seen.sum()), bool(seen[5:10, 5:10].all())
    (25, True)

    ... with fewer weights than one 5x5 layer of the same width, as PyTorch's layers count them:

    >>> [sum(p.numel() for p in nn.Conv2d(64, 64, k, bias=False, device="meta").parameters()) for k in (3, 5)]
    [36864, 102400]
    >>> 2 * conv_cost("standard", 64, 64, 3, 32)["params"] < conv_cost("standard", 64, 64, 5, 32)["params"]
    True
    """
    ks = _layers("kernel_sizes", kernel_sizes)
    if len(ks) == 0:
        raise ValueError("kernel_sizes must contain at least one layer")
    n = len(ks)
    ks = check.int_tuple("kernel_sizes", ks, n, low=1)
    ss = check.int_tuple("strides", (1,) * n if strides is None else _layers("strides", strides), n, low=1)
    ds = check.int_tuple("dilations", (1,) * n if dilations is None else _layers("dilations", dilations), n, low=1)
    r, jump = 1, 1
    for k, s, d in zip(ks, ss, ds):
        # each layer adds d (K - 1) steps of the current jump (product of the strides before it)
        r, jump = r + d * (k - 1) * jump, jump * s
    return r
