"""Quantization

Storing weights in 8 or 4 bits: symmetric (absmax) and asymmetric (zero-point) int8, per tensor or
per channel, checked against ``torch``'s quantized tensors; what one outlier does to every other
weight that shares its scale; QLoRA's NF4 levels computed from normal quantiles, block-wise scales
and double quantization, and the memory of a 7B model in each format.
"""

from __future__ import annotations

import numbers

import torch

from nnfaq import _validate as check
from nnfaq._registry import question
from nnfaq.efficiency._configs import LLAMA2_7B, decoder_parameters  # noqa: F401 (the examples use them)

__all__ = [
    "absmax_quantize",
    "bits_per_parameter",
    "dequantize",
    "dequantize_blockwise",
    "nf4_levels",
    "quantize_blockwise",
    "zero_point_quantize",
]

#: The NF4 levels as published: Dettmers et al. 2023 (QLoRA), Appendix E, and bitsandbytes'
#: ``create_normal_map`` table (float32 values).
NF4_PUBLISHED = (
    -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
    -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
    0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
    0.7229568362236023, 1.0,
)  # fmt: skip


def _check_input(input, dim) -> int | None:
    check.tensor("input", input, finite=True)
    if input.numel() == 0:
        raise ValueError("input must have at least one element")
    if dim is None:
        return None
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
        raise TypeError(f"dim must be an int or None, got {type(dim).__name__}")
    if not -input.dim() <= dim < max(input.dim(), 1) or input.dim() == 0:
        raise ValueError(f"dim must be in [-{input.dim()}, {input.dim() - 1}] for input of shape {tuple(input.shape)}")
    return dim % input.dim()


def _along(t: torch.Tensor, dim: int | None, ndim: int) -> torch.Tensor:
    """A per-channel ``(C,)`` tensor shaped to broadcast along ``dim`` of an ``ndim``-dimensional tensor."""
    if dim is None:
        return t
    return t.reshape([-1 if i == dim else 1 for i in range(ndim)])


def _reduce(x: torch.Tensor, dim: int | None, how: str) -> torch.Tensor:
    """``amax``/``amin`` over the whole tensor (shape ``()``) or over every dim but ``dim`` (shape ``(C,)``)."""
    if dim is None:
        return getattr(x, how)()
    return getattr(x.movedim(dim, 0).reshape(x.shape[dim], -1), how)(dim=1)


@question(
    "absmax-quantization",
    level="intermediate",
    short=(
        "Symmetric int8 quantization divides by one scale, the largest absolute value over 127, rounds, and "
        "stores integers in [-127, 127]; dequantizing multiplies back, with an error of at most half a "
        "scale per weight. Zero maps to zero exactly. The scale can be one per tensor or one per channel; "
        "per channel is finer when channels differ in size."
    ),
    followups=("quantization-outliers", "zero-point-quantization", "nf4-normal-float"),
)
def absmax_quantize(input: torch.Tensor, dim: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Symmetric (absmax) int8 quantization, per tensor or per channel along ``dim``.

    **How does symmetric (absmax) int8 quantization work, and what is per-channel quantization?**

    The largest absolute value is mapped to 127 and everything else scaled with it:
    :math:`q = \mathrm{round}(x / s)` with :math:`s = \max|x| / 127`, stored as int8, and
    :math:`\hat x = s\,q`. Rounding moves each value by at most :math:`s/2`, so the error is set by
    the largest magnitude that shares the scale. Per-tensor quantization uses one :math:`s`;
    per-channel quantization one per output channel (row of a weight matrix), so a channel of small
    weights gets a small scale of its own. The grid is symmetric, so 0 is exact and no zero point is
    needed, which keeps int8 matrix products simple.

    .. math::

        s = \frac{\max |x|}{127}, \qquad q = \mathrm{clamp}\!\left(\mathrm{round}(x / s), -127, 127\right),
        \qquad |x - s\,q| \le \frac{s}{2}

    Parameters
    ----------
    input : torch.Tensor
        Finite floating-point tensor, any shape ``(*)``.
    dim : int, optional
        ``None`` for one scale per tensor; else the channel dimension, one scale per index along it.

    Returns
    -------
    q : torch.Tensor
        int8, same shape as ``input``.
    scale : torch.Tensor
        Of ``input``'s dtype: shape ``()`` per tensor, ``(C,)`` with ``C = input.shape[dim]`` per channel.
        An all-zero tensor or channel gets scale 1.

    See Also
    --------
    torch.quantize_per_tensor, torch.quantize_per_channel, dequantize, zero_point_quantize

    Notes
    -----
    ``torch.round`` rounds halves to even, as PyTorch's quantizers do (``nearbyint``): 2.5 becomes 2.
    PyTorch's own ``per_tensor_symmetric`` observers divide by 127.5 and use -128 as well; the
    LLM.int8 convention used here divides by 127 and never produces -128.

    References
    ----------
    .. [1] T. Dettmers et al., "LLM.int8(): 8-bit Matrix Multiplication for Transformers at Scale",
       NeurIPS 2022.

    Examples
    --------
    The same integers as ``torch``'s quantizers (``fake_quantize`` returns them times the scale):

    >>> x = torch.randn(4, 16)
    >>> q, s = absmax_quantize(x)
    >>> ref = torch.fake_quantize_per_tensor_affine(x, s.item(), 0, -128, 127)
    >>> torch.equal(q.float() * s, ref)
    True
    >>> q, s = absmax_quantize(x, dim=0)
    >>> ref = torch.fake_quantize_per_channel_affine(x, s, torch.zeros(4, dtype=torch.int32), 0, -128, 127)
    >>> torch.equal(q.float() * s[:, None], ref)
    True

    The largest magnitude becomes ±127, the round-trip error is at most half a scale, and 0 stays 0:

    >>> x = torch.randn(3, 100, dtype=torch.float64)
    >>> q, s = absmax_quantize(x, dim=0)
    >>> q.dtype, q.abs().amax(dim=1).tolist()
    (torch.int8, [127, 127, 127])
    >>> bool(((dequantize(q, s, dim=0) - x).abs() <= s[:, None] / 2 + 1e-12).all())
    True
    >>> absmax_quantize(torch.tensor([0.0, 0.3, -1.0]))[0].tolist()
    [0, 38, -127]
    """
    d = _check_input(input, dim)
    # one absmax for the whole tensor, or one per index along dim
    absmax = _reduce(input.abs(), d, "amax")  # () or (C,)
    scale = torch.where(absmax > 0, absmax / 127, torch.ones_like(absmax))  # () or (C,)
    # q = round(x / s), ties to even; |x / s| <= 127 so the clamp only guards rounding
    q = torch.round(input / _along(scale, d, input.dim())).clamp(-127, 127)  # (*)
    return q.to(torch.int8), scale


@question(
    "zero-point-quantization",
    level="intermediate",
    short=(
        "Asymmetric quantization maps [min, max] onto all 256 uint8 codes: scale = (max - min) / 255, plus an "
        "integer zero point, the code of 0.0. On one-sided data such as ReLU outputs it uses every code where "
        "absmax wastes the negative half, so its step and error are about half. The cost: the zero point "
        "enters every product."
    ),
    followups=("absmax-quantization", "quantization-outliers"),
)
def zero_point_quantize(input: torch.Tensor, dim: int | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""Asymmetric (zero-point) uint8 quantization, per tensor or per channel along ``dim``.

    **What is asymmetric (zero-point) quantization, and when does it beat absmax?**

    Instead of a grid symmetric about 0, the observed range :math:`[\min x, \max x]` (widened to
    include 0, so that 0 is exact, as PyTorch's observers do) is divided into 255 steps and shifted
    by an integer zero point :math:`z`, the code of 0.0. All 256 codes land inside the data's range,
    so when the data is one-sided (ReLU outputs, attention probabilities) the step is about half of
    absmax's, which spends half its codes on values that never occur. The cost is a zero point to
    carry through every matrix product, which is why weights (roughly symmetric) are usually
    quantized with absmax and activations with a zero point.

    .. math::

        s = \frac{\max(x_{\max}, 0) - \min(x_{\min}, 0)}{255}, \quad
        z = \mathrm{clamp}\!\left(-\mathrm{round}\!\left(\frac{\min(x_{\min}, 0)}{s}\right), 0, 255\right), \quad
        q = \mathrm{clamp}\!\left(\mathrm{round}(x / s) + z, 0, 255\right), \quad \hat x = s\,(q - z)

    Parameters
    ----------
    input : torch.Tensor
        Finite floating-point tensor, any shape ``(*)``.
    dim : int, optional
        ``None`` for one scale per tensor; else the channel dimension.

    Returns
    -------
    q : torch.Tensor
        uint8, same shape as ``input``.
    scale : torch.Tensor
        Of ``input``'s dtype, shape ``()`` or ``(C,)``; 1 where the range is empty.
    zero_point : torch.Tensor
        int64, shape ``()`` or ``(C,)``.

    See Also
    --------
    torch.ao.quantization.observer.MinMaxObserver, torch.quantize_per_tensor, absmax_quantize

    References
    ----------
    .. [1] B. Jacob et al., "Quantization and Training of Neural Networks for Efficient
       Integer-Arithmetic-Only Inference", CVPR 2018.

    Examples
    --------
    The scale and zero point of PyTorch's ``MinMaxObserver``, and the integers of its quantizer:

    >>> from torch.ao.quantization.observer import MinMaxObserver
    >>> x = torch.randn(4, 16)
    >>> q, s, z = zero_point_quantize(x)
    >>> observer = MinMaxObserver(dtype=torch.quint8)
    >>> _ = observer(x)
    >>> ref_s, ref_z = observer.calculate_qparams()
    >>> torch.allclose(s, ref_s), z.item() == ref_z.item()
    (True, True)
    >>> ref = torch.fake_quantize_per_tensor_affine(x, s.item(), z.item(), 0, 255)
    >>> torch.equal(dequantize(q, s, z), ref)
    True

    On ReLU outputs it halves absmax's step, and its error, with the same 8 bits:

    >>> h = torch.randn(1000, dtype=torch.float64).relu()
    >>> q, s, z = zero_point_quantize(h)
    >>> qa, sa = absmax_quantize(h)
    >>> z.item(), round((sa / s).item(), 4)
    (0, 2.0079)
    >>> bool((dequantize(q, s, z) - h).abs().mean() < 0.6 * (dequantize(qa, sa) - h).abs().mean())
    True
    """
    d = _check_input(input, dim)
    # the range always contains 0, so that 0.0 has an exact code
    lo = _reduce(input, d, "amin").clamp(max=0)  # () or (C,)
    hi = _reduce(input, d, "amax").clamp(min=0)  # () or (C,)
    scale = torch.where(hi > lo, (hi - lo) / 255, torch.ones_like(hi))  # () or (C,)
    zero_point = (-torch.round(lo / scale)).clamp(0, 255).to(torch.int64)  # () or (C,)
    n = input.dim()
    q = (torch.round(input / _along(scale, d, n)) + _along(zero_point, d, n)).clamp(0, 255)  # (*)
    return q.to(torch.uint8), scale, zero_point


def _check_codes(q, scale, zero_point, dim) -> int | None:
    check.tensor("q", q, floating=False)
    if q.is_floating_point() or q.is_complex() or q.dtype == torch.bool:
        raise TypeError(f"q must be an integer tensor (int8, uint8, ...), got dtype {q.dtype}")
    check.tensor("scale", scale, finite=True)
    d = None
    if dim is not None:
        if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
            raise TypeError(f"dim must be an int or None, got {type(dim).__name__}")
        if q.dim() == 0 or not -q.dim() <= dim < q.dim():
            raise ValueError(f"dim must be in [-{q.dim()}, {q.dim() - 1}] for q of shape {tuple(q.shape)}")
        d = dim % q.dim()
    want = () if d is None else (q.shape[d],)
    check.same_shape("scale", scale, want, "() per tensor, (q.shape[dim],) per channel")
    if isinstance(zero_point, torch.Tensor):
        if zero_point.is_floating_point() or zero_point.is_complex() or zero_point.dtype == torch.bool:
            raise TypeError(f"zero_point must be an int or an integer tensor, got dtype {zero_point.dtype}")
        check.same_shape("zero_point", zero_point, want, "the shape of scale")
    elif isinstance(zero_point, bool) or not isinstance(zero_point, numbers.Integral):
        raise TypeError(f"zero_point must be an int or an integer tensor, got {type(zero_point).__name__}")
    return d


@question(
    "quantization-outliers",
    level="advanced",
    short=(
        "All weights sharing a scale are rounded on a grid set by the largest. One outlier 30 times the "
        "typical weight makes the step 30 times coarser for all of them, and many round to zero. Per-channel "
        "scales confine the damage to the outlier's channel; LLM.int8 keeps outlier features in 16 bits, "
        "QLoRA uses blocks of 64."
    ),
    followups=("absmax-quantization", "nf4-normal-float"),
)
def dequantize(
    q: torch.Tensor, scale: torch.Tensor, zero_point: int | torch.Tensor = 0, dim: int | None = None
) -> torch.Tensor:
    r"""Map integer codes back to floats: :math:`\hat x = s\,(q - z)`, per tensor or per channel along ``dim``.

    **What does one outlier do to int8 quantization, and how do per-channel scales help?**

    All values that share a scale are rounded on the grid that their largest magnitude sets:
    :math:`s = \max|x| / 127`. One outlier of 100 among weights of size 1 makes the step 0.79, so
    the other weights are stored with errors of about a quarter of their own size and a third of
    them become exactly 0. A scale per channel (row) confines the outlier to its own row: every
    other row is quantized exactly as if the outlier did not exist. This is why LLM.int8 splits the
    few outlier feature dimensions of large transformers off into 16-bit, and why QLoRA uses a scale
    per block of 64 weights.

    .. math::

        \hat x = s\,(q - z), \qquad |x - \hat x| \le \frac{s}{2} = \frac{\max |x|}{254} \ \text{(absmax)}

    Parameters
    ----------
    q : torch.Tensor
        Integer codes (int8, uint8, ...), any shape ``(*)``.
    scale : torch.Tensor
        Floating-point, shape ``()`` (per tensor) or ``(C,)`` with ``C = q.shape[dim]`` (per channel).
    zero_point : int or torch.Tensor, default 0
        The code of 0.0: an int, or an integer tensor of ``scale``'s shape.
    dim : int, optional
        The channel dimension for per-channel scales.

    Returns
    -------
    torch.Tensor
        Of ``scale``'s dtype, same shape as ``q``.

    See Also
    --------
    torch.Tensor.dequantize, absmax_quantize, zero_point_quantize

    References
    ----------
    .. [1] T. Dettmers et al., "LLM.int8(): 8-bit Matrix Multiplication for Transformers at Scale",
       NeurIPS 2022.

    Examples
    --------
    Matches ``torch.dequantize`` of the same codes (float32, PyTorch's quantized dtype):

    >>> x = torch.randn(3, 8)
    >>> q, s, z = zero_point_quantize(x, dim=0)
    >>> ours = dequantize(q, s, z, dim=0)
    >>> torch.equal(ours, torch.fake_quantize_per_channel_affine(x, s, z.int(), 0, 0, 255))
    True

    One outlier of 100: per tensor, the error of every *other* weight grows more than tenfold and
    over a fifth of them round to 0; per row, the other rows are quantized exactly as before:

    >>> W = torch.randn(8, 64, dtype=torch.float64)
    >>> W_out = W.clone()
    >>> W_out[0, 0] = 100.0
    >>> def others_error(W, dim):                   # mean |error| of rows 1..7
    ...     q, s = absmax_quantize(W, dim)
    ...     return (dequantize(q, s, dim=dim) - W)[1:].abs().mean().item()
    >>> others_error(W_out, None) > 10 * others_error(W, None)
    True
    >>> bool((absmax_quantize(W_out)[0][1:] == 0).double().mean() > 0.2)
    True
    >>> others_error(W_out, 0) == others_error(W, 0)
    True
    """
    d = _check_codes(q, scale, zero_point, dim)
    z = _along(zero_point, d, q.dim()) if isinstance(zero_point, torch.Tensor) else zero_point
    # x_hat = s (q - z): subtract in the integer domain's widened type, then scale
    return (q.to(torch.int64) - z).to(scale.dtype) * _along(scale, d, q.dim())  # (*)


@question(
    "nf4-normal-float",
    level="advanced",
    short=(
        "NF4, QLoRA's 4-bit format, divides each block of 64 weights by its absmax and stores each as the "
        "nearest of 16 fixed levels. The levels are normal-distribution quantiles, dense near zero where most "
        "weights are, so each is used about equally often, and 0 is exact. For normal weights it beats a "
        "uniform 4-bit grid."
    ),
    followups=("qlora-bits-per-parameter", "quantization-outliers", "lora"),
)
def nf4_levels() -> torch.Tensor:
    r"""The 16 levels of QLoRA's NormalFloat4 data type, computed from quantiles of :math:`\mathcal N(0, 1)`.

    **What is NF4, and why are its levels quantiles of the normal distribution?**

    Trained weights are roughly normal around 0, so a uniform grid wastes levels in the sparse tails
    and is too coarse near 0. An information-theoretically good 4-bit code gives each of its 16
    levels the same share of the data: the levels are quantiles of :math:`\mathcal N(0, 1)`,
    rescaled into :math:`[-1, 1]`, and each block of 64 weights is divided by its absmax before
    rounding to the nearest level. To make 0 exact, QLoRA takes 8 quantiles for the positive half and
    7 for the negative half and joins them at 0; the outermost probability ``offset`` (0.9677) is the
    mean of :math:`1 - 1/(2 \cdot 15)` and :math:`1 - 1/(2 \cdot 16)`, which keeps the infinite
    tails out.

    .. math::

        \delta = \tfrac12\left(\left(1 - \tfrac{1}{30}\right) + \left(1 - \tfrac{1}{32}\right)\right), \quad
        \{q_i\} = \left\{\Phi^{-1}(p) : p \in \mathrm{linspace}(\delta, \tfrac12, 9)_{1..8}\right\} \cup
        \{0\} \cup \left\{-\Phi^{-1}(p) : p \in \mathrm{linspace}(\delta, \tfrac12, 8)_{1..7}\right\}, \quad
        \text{levels} = q / \max q

    Returns
    -------
    torch.Tensor
        ``(16,)`` float64, sorted, from -1 to 1, with exactly one 0.

    See Also
    --------
    quantize_blockwise, bits_per_parameter, torch.special.ndtri

    Notes
    -----
    The construction is bitsandbytes' ``create_normal_map(offset=0.9677083)``; the published values
    (``NF4_PUBLISHED``) are its float32 output.

    References
    ----------
    .. [1] T. Dettmers, A. Pagnoni, A. Holtzman and L. Zettlemoyer, "QLoRA: Efficient Finetuning of
       Quantized LLMs", NeurIPS 2023, section 3 and Appendix E.

    Examples
    --------
    Reproduces the published NF4 table:

    >>> levels = nf4_levels()
    >>> torch.allclose(levels, torch.tensor(NF4_PUBLISHED, dtype=torch.float64), atol=1e-6, rtol=0)
    True
    >>> levels.numel(), int((levels < 0).sum()), int((levels == 0).sum()), int((levels > 0).sum())
    (16, 7, 1, 8)

    Levels are dense near 0 and sparse in the tails, like the weights:

    >>> gaps = levels.diff()
    >>> bool(gaps.argmin() in (7, 8) and gaps[0] > 2 * gaps[7])
    True

    For normal weights, block-wise (64) NF4 has a lower error than 16 evenly spaced levels in the
    same 4 bits:

    >>> w = torch.randn(256, 64, dtype=torch.float64)
    >>> uniform = torch.linspace(-1, 1, 16, dtype=torch.float64)
    >>> def error(code):
    ...     return (dequantize_blockwise(*quantize_blockwise(w, code), code) - w).pow(2).mean().item()
    >>> error(levels) < 0.9 * error(uniform)
    True
    """
    # QLoRA's offset: halfway between 1 - 1/(2*15) and 1 - 1/(2*16), keeping Phi^-1 finite
    offset = 0.5 * ((1 - 1 / (2 * 15)) + (1 - 1 / (2 * 16)))
    positive = torch.special.ndtri(torch.linspace(offset, 0.5, 9, dtype=torch.float64)[:-1])  # (8,)
    negative = -torch.special.ndtri(torch.linspace(offset, 0.5, 8, dtype=torch.float64)[:-1])  # (7,)
    q = torch.cat([negative, torch.zeros(1, dtype=torch.float64), positive]).sort().values  # (16,)
    return q / q.max()


def _check_code(code) -> None:
    check.tensor("code", code, ndim=1, finite=True)
    if not 2 <= code.numel() <= 256:
        raise ValueError(f"code must hold between 2 and 256 levels (codes are stored as uint8), got {code.numel()}")


def _check_blocksize(blocksize, numel: int) -> int:
    b = check.integer("blocksize", blocksize, low=1)
    if numel % b:
        raise ValueError(f"blocksize must divide the number of elements ({numel}), got {b}; pad the input first")
    return b


def quantize_blockwise(
    input: torch.Tensor, code: torch.Tensor, blocksize: int = 64
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Block-wise absmax quantization to the nearest level of ``code`` (NF4 with ``code = nf4_levels()``).

    Each run of ``blocksize`` consecutive elements (in row-major order) is divided by its absmax and
    each value replaced by the index of the nearest level of ``code``.

    .. math::

        a_b = \max_{i \in b} |x_i|, \qquad c_i = \arg\min_j \left| x_i / a_b - \text{code}_j \right|

    Parameters
    ----------
    input : torch.Tensor
        Finite floating-point tensor whose number of elements is a multiple of ``blocksize``.
    code : torch.Tensor
        ``(K,)`` levels in ``[-1, 1]``, at most 256 of them.
    blocksize : int, default 64
        Elements per absmax scale.

    Returns
    -------
    codes : torch.Tensor
        uint8, same shape as ``input``: indices into ``code``.
    absmax : torch.Tensor
        ``(numel / blocksize,)`` of ``input``'s dtype; 1 for an all-zero block.

    See Also
    --------
    dequantize_blockwise, nf4_levels

    Notes
    -----
    bitsandbytes pads a tensor whose size is not a multiple of the block size; this function refuses
    it instead. It also stores two 4-bit codes per byte, which is what :func:`bits_per_parameter`
    counts.

    Examples
    --------
    Round trip within half the largest gap between levels, times each block's absmax:

    >>> w = torch.randn(4, 128, dtype=torch.float64)
    >>> levels = nf4_levels()
    >>> codes, absmax = quantize_blockwise(w, levels)
    >>> codes.dtype, codes.shape, absmax.shape
    (torch.uint8, torch.Size([4, 128]), torch.Size([8]))
    >>> err = (dequantize_blockwise(codes, absmax, levels) - w).abs().reshape(8, 64)
    >>> bool((err <= levels.diff().max() / 2 * absmax[:, None] + 1e-12).all())
    True
    """
    check.tensor("input", input, finite=True)
    _check_code(code)
    b = _check_blocksize(blocksize, input.numel())
    blocks = input.reshape(-1, b)  # (N / b, b)
    absmax = blocks.abs().amax(dim=1)  # (N / b,)
    absmax = torch.where(absmax > 0, absmax, torch.ones_like(absmax))
    normalized = blocks / absmax[:, None]  # (N / b, b), in [-1, 1]
    # the nearest level: argmin over the K levels
    codes = (normalized[..., None] - code.to(input.dtype)).abs().argmin(dim=-1)  # (N / b, b)
    return codes.to(torch.uint8).reshape(input.shape), absmax


def dequantize_blockwise(
    codes: torch.Tensor, absmax: torch.Tensor, code: torch.Tensor, blocksize: int = 64
) -> torch.Tensor:
    r"""Invert :func:`quantize_blockwise`: :math:`\hat x_i = \text{code}_{c_i}\, a_b`.

    Parameters
    ----------
    codes : torch.Tensor
        uint8 indices into ``code``, any shape with a multiple of ``blocksize`` elements.
    absmax : torch.Tensor
        ``(codes.numel() / blocksize,)`` block scales.
    code : torch.Tensor
        ``(K,)`` levels.
    blocksize : int, default 64
        Elements per scale.

    Returns
    -------
    torch.Tensor
        Of ``absmax``'s dtype, same shape as ``codes``.

    See Also
    --------
    quantize_blockwise

    Examples
    --------
    Exact where a value already sits on a level times its block's absmax:

    >>> levels = nf4_levels()
    >>> w = (levels[torch.randint(16, (2, 64))] * torch.tensor([[3.0], [0.5]], dtype=torch.float64))
    >>> w[:, 0] = torch.tensor([3.0, -0.5], dtype=torch.float64)            # each block's absmax is a level
    >>> torch.equal(dequantize_blockwise(*quantize_blockwise(w, levels), levels), w)
    True
    """
    check.tensor("codes", codes, floating=False)
    if codes.dtype != torch.uint8:
        raise TypeError(f"codes must be a uint8 tensor of indices, got dtype {codes.dtype}")
    check.tensor("absmax", absmax, ndim=1, finite=True)
    _check_code(code)
    b = _check_blocksize(blocksize, codes.numel())
    check.same_shape("absmax", absmax, (codes.numel() // b,), "one scale per block of codes")
    if codes.numel() and int(codes.max()) >= code.numel():
        raise ValueError(f"codes must index code (values below {code.numel()}), got {int(codes.max())}")
    values = code.to(absmax.dtype)[codes.long().reshape(-1, b)]  # (N / b, b)
    return (values * absmax[:, None]).reshape(codes.shape)


@question(
    "qlora-bits-per-parameter",
    level="advanced",
    short=(
        "NF4 stores 4 bits per weight and an fp32 absmax per block of 64: 4 + 32/64 = 4.5 bits. Double "
        "quantization stores those absmax values in 8 bits, with an fp32 constant per 256: about "
        "4.127 bits. Llama 2 7B (6.74 billion weights): 27 GB in fp32, 13.5 in bf16, 6.7 in int8, 3.5 to 3.9 "
        "in NF4."
    ),
    followups=("nf4-normal-float", "lora", "moe-active-parameters"),
)
def bits_per_parameter(
    bits: int = 4,
    blocksize: int = 64,
    absmax_bits: int = 32,
    double_quant: bool = False,
    dq_bits: int = 8,
    dq_blocksize: int = 256,
) -> float:
    r"""Storage per weight of block-wise quantization: the codes plus each block's share of its scale.

    **How many bits per parameter does QLoRA's NF4 really take, and how much memory do a 7B model's weights need?**

    A 4-bit code per weight is not the whole cost: every block of 64 weights also stores its absmax
    scale, an fp32 number, which adds :math:`32/64 = 0.5` bits per weight. QLoRA's double
    quantization quantizes those scales in turn, to 8 bits in blocks of 256 with one fp32 constant
    per block, so the overhead falls to :math:`8/64 + 32/(64 \cdot 256) \approx 0.127` bits. Memory
    is then parameters times bits over 8: Llama 2 7B's 6.74 billion weights take about 27 GB in
    fp32, 13.5 GB in fp16 or bf16, 6.7 GB in int8 and 3.5 to 3.8 GB in NF4.

    .. math::

        \text{bits} = b + \frac{32}{B} \quad \text{or, double-quantized,} \quad
        b + \frac{8}{B} + \frac{32}{B \cdot B_2}, \qquad
        \text{bytes} = N_{\text{params}} \cdot \text{bits} / 8

    Parameters
    ----------
    bits : int, default 4
        Bits per code :math:`b`.
    blocksize : int, default 64
        Weights per absmax :math:`B`.
    absmax_bits : int, default 32
        Bits of each absmax (and of each second-level constant).
    double_quant : bool, default False
        Quantize the absmax values as well (QLoRA's double quantization).
    dq_bits : int, default 8
        Bits of each quantized absmax.
    dq_blocksize : int, default 256
        Absmax values per second-level constant :math:`B_2`.

    Returns
    -------
    float
        Bits per parameter.

    See Also
    --------
    quantize_blockwise, nf4_levels

    Notes
    -----
    bitsandbytes quantizes only the linear layers; the embeddings, the output head and the norms of
    Llama 2 7B (262 million weights) stay in bf16, which brings NF4 with double quantization to
    about 3.87 GB (last example). Activations, the KV cache and, in training, the LoRA weights with
    their optimizer state come on top.

    .. admonition:: Common mistake

        "A 4-bit model takes 4 bits per parameter: 7 billion weights in 3.5 GB."

        Block-wise scales add half a bit per weight (4.5 bits with fp32 scales, 4.127 with double
        quantization), and the layers left in 16 bits add more; the examples count it from the
        stored tensors and from Llama 2 7B's configuration.

    References
    ----------
    .. [1] T. Dettmers et al., "QLoRA: Efficient Finetuning of Quantized LLMs", NeurIPS 2023,
       section 3 (double quantization).
    .. [2] H. Touvron et al., "Llama 2: Open Foundation and Fine-Tuned Chat Models",
       arXiv:2307.09288, 2023.

    Examples
    --------
    4.5 bits with fp32 scales, 4.127 with double quantization, the paper's figures:

    >>> bits_per_parameter(), round(bits_per_parameter(double_quant=True), 4)
    (4.5, 4.127)

    The bits the stored tensors really hold (4-bit codes packed two per byte), for one 1024 x 256
    matrix, with and without quantizing the absmax vector again (8-bit codes, blocks of 256, its mean
    kept apart in fp32):

    >>> w = torch.randn(1024, 256)
    >>> codes, absmax = quantize_blockwise(w, nf4_levels())
    >>> (codes.numel() * 4 + absmax.numel() * absmax.element_size() * 8) / w.numel()
    4.5
    >>> centred = absmax - absmax.mean()
    >>> codes2, absmax2 = quantize_blockwise(centred, torch.linspace(-1, 1, 256), blocksize=256)
    >>> stored = codes.numel() * 4 + codes2.numel() * 8 + absmax2.numel() * 32   # + 32 bits for the mean
    >>> stored / w.numel() == bits_per_parameter(double_quant=True)
    True
    >>> back = dequantize_blockwise(codes2, absmax2, torch.linspace(-1, 1, 256), 256) + absmax.mean()
    >>> bool(((back - absmax) / absmax).abs().max() < 0.01)
    True

    Llama 2 7B, counted from its published configuration, in GB (1e9 bytes):

    >>> n = decoder_parameters(LLAMA2_7B)[0]
    >>> n
    6738415616
    >>> formats = {"fp32": 32, "bf16": 16, "int8": 8, "nf4": bits_per_parameter(),
    ...            "nf4+dq": bits_per_parameter(double_quant=True)}
    >>> {name: round(n * b / 8 / 1e9, 2) for name, b in formats.items()}
    {'fp32': 26.95, 'bf16': 13.48, 'int8': 6.74, 'nf4': 3.79, 'nf4+dq': 3.48}

    As bitsandbytes stores it, only the 32 blocks' linear layers in NF4 with double quantization:

    >>> d, f, L = (LLAMA2_7B[k] for k in ("hidden_size", "intermediate_size", "num_hidden_layers"))
    >>> linear = L * (4 * d * d + 3 * d * f)
    >>> round((linear * bits_per_parameter(double_quant=True) / 8 + (n - linear) * 2) / 1e9, 2)
    3.87
    """
    b = check.integer("bits", bits, low=1)
    B = check.integer("blocksize", blocksize, low=1)
    a = check.integer("absmax_bits", absmax_bits, low=1)
    if not check.flag("double_quant", double_quant):
        return b + a / B
    dq = check.integer("dq_bits", dq_bits, low=1)
    B2 = check.integer("dq_blocksize", dq_blocksize, low=1)
    # each absmax now costs dq bits, plus one a-bit constant per B2 of them
    return b + dq / B + a / (B * B2)
