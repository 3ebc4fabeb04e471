"""FlashAttention and softmax numerics

FlashAttention computes exact attention tile by tile: a softmax that is normalised online, with a
running maximum and a rescaled running sum, lets each block of keys be used once and thrown away, so
the score matrix is never stored. This topic builds the online softmax and the tiled attention from
scratch, proves they are exact, measures what is never materialised, and explains the low-precision
numerics (max subtraction, fp16 overflow, float32 accumulation) that the same kernels rely on.
"""

from __future__ import annotations

import math  # noqa: F401 (the examples use it)

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from nnfaq import _validate as check
from nnfaq._registry import question
from nnfaq.transformers._qkv import check_qkv

__all__ = ["largest_intermediate", "low_precision_softmax", "online_softmax", "tiled_attention"]


def _safe(m: torch.Tensor) -> torch.Tensor:
    """The running maximum with -inf replaced by 0, so that exp(-inf - m) is 0 and not exp(nan)."""
    return m.masked_fill(torch.isneginf(m), 0.0)


@question(
    "online-softmax",
    level="intermediate",
    short=(
        "Read the scores block by block, keeping a running maximum m and a running sum l of exp(x - m). When "
        "a block raises the maximum to m', multiply the old sum by exp(m - m') before adding the block's "
        "terms. At the end m is the maximum and l the denominator: exactly softmax, without holding the whole "
        "row."
    ),
    followups=("flash-attention-exact", "softmax-low-precision"),
)
def online_softmax(input: torch.Tensor, dim: int = -1, block_size: int = 128, *, return_stats: bool = False):
    r"""Softmax computed in one pass over blocks, with a running maximum and a rescaled running sum.

    **How does the online softmax compute a softmax block by block, and why is it exact?**

    It keeps two numbers per row: the largest score seen so far, :math:`m`, and the sum of
    :math:`e^{x - m}` over the scores seen so far, :math:`\ell`. A new block may raise the maximum to
    :math:`m'`; every old term :math:`e^{x-m}` then becomes :math:`e^{x-m'} = e^{x-m} e^{m-m'}`, so the
    old sum is multiplied by :math:`e^{m-m'}` before the block's own terms are added. After the last
    block :math:`m` is the row's maximum and :math:`\ell` its softmax denominator exactly; the exponents
    are never positive, so nothing overflows.

    .. math::

        m' = \max(m, \max_{j \in \text{block}} x_j), \qquad
        \ell' = \ell\, e^{m - m'} + \sum_{j \in \text{block}} e^{x_j - m'}, \qquad
        \mathrm{softmax}(x)_j = \frac{e^{x_j - m}}{\ell}

    Parameters
    ----------
    input : torch.Tensor
        Floating-point tensor of any shape.
    dim : int, default -1
        The softmax dimension.
    block_size : int, default 128
        Entries read per block.
    return_stats : bool, default False
        Also return the final running maximum and sum, each with ``dim`` removed (keyword only).

    Returns
    -------
    torch.Tensor or tuple
        ``softmax(input, dim)``; with ``return_stats`` also ``m`` and ``l``.

    See Also
    --------
    torch.softmax, tiled_attention

    Notes
    -----
    A row whose every entry is ``-inf`` gives NaN, as :func:`torch.softmax` does. A kernel keeps
    :math:`m` and :math:`\ell` in float32 registers (:func:`low_precision_softmax` shows why).

    References
    ----------
    .. [1] M. Milakov, N. Gimelshein, "Online normalizer calculation for softmax", 2018.

    Examples
    --------
    Equal to PyTorch's softmax for every block size, along any dimension:

    >>> x = torch.randn(4, 10, dtype=torch.float64)
    >>> all(torch.allclose(online_softmax(x, block_size=b), torch.softmax(x, -1)) for b in (1, 3, 7, 10))
    True
    >>> torch.allclose(online_softmax(x, dim=0, block_size=3), torch.softmax(x, 0))
    True

    The final statistics are the row maximum and the softmax denominator:

    >>> p, m, l = online_softmax(x, block_size=3, return_stats=True)
    >>> torch.equal(m, x.max(-1).values), torch.allclose(l, (x - m[:, None]).exp().sum(-1))
    (True, True)

    Large scores do not overflow, where a plain exponential does:

    >>> big = torch.tensor([1000.0, 1001.0, 999.0], dtype=torch.float64)
    >>> bool(torch.exp(big).isinf().all()), torch.allclose(online_softmax(big, block_size=1), torch.softmax(big, 0))
    (True, True)
    """
    check.tensor("input", input, min_ndim=1)
    dim = check.integer("dim", dim)
    if not -input.dim() <= dim < input.dim():
        raise ValueError(f"dim must be in [{-input.dim()}, {input.dim() - 1}] for input of shape {tuple(input.shape)}")
    block_size = check.integer("block_size", block_size, low=1)
    check.flag("return_stats", return_stats)
    x = input.movedim(dim, -1)  # (*, C)
    m = x.new_full(x.shape[:-1], float("-inf"))  # (*,) running maximum
    l = x.new_zeros(x.shape[:-1])  # (*,) running sum of exp(x - m)
    for start in range(0, x.shape[-1], block_size):
        block = x[..., start : start + block_size]  # (*, block)
        # m' = max(m, max_j x_j)
        m_new = torch.maximum(m, block.amax(-1))  # (*,)
        # l' = l e^{m - m'} + sum_j e^{x_j - m'}
        l = l * torch.exp(m - _safe(m_new)) + torch.exp(block - _safe(m_new)[..., None]).sum(-1)  # (*,)
        m = m_new
    # softmax_j = e^{x_j - m} / l
    out = (torch.exp(x - m[..., None]) / l[..., None]).movedim(-1, dim)  # same shape as input
    return (out, m, l) if return_stats else out


@question(
    "flash-attention-exact",
    level="advanced",
    short=(
        "No, it is exact. It splits queries and keys into tiles; for each query tile it visits the key "
        "tiles in turn, keeps the online softmax's running maximum and sum, and rescales its output "
        "accumulator whenever the maximum grows. The result equals standard attention up to rounding, with "
        "the same FLOPs; it is faster because it moves far less memory."
    ),
    followups=("online-softmax", "flash-attention-memory", "kv-cache-decoding"),
)
def tiled_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    block_size: int = 64,
    is_causal: bool = False,
    scale: float | None = None,
    *,
    return_lse: bool = False,
):
    r"""Exact attention computed tile by tile with the online softmax (FlashAttention's forward pass).

    **Is FlashAttention an approximation? How does tiling compute exact attention?**

    It is exact. Queries are split into blocks; each query block visits the key blocks in turn, computes
    that tile of scores, updates the online softmax's running maximum :math:`m` and sum :math:`\ell`,
    and rescales its output accumulator by :math:`e^{m - m'}` before adding the tile's weighted values,
    exactly as the running sum is rescaled. Dividing by :math:`\ell` at the end gives
    :math:`\mathrm{softmax}(QK^\top/\sqrt{D})V` up to floating-point rounding, with the same
    multiply-adds as the standard computation (fewer when causal tiles above the diagonal are skipped).
    What changes is memory traffic: a tile lives in fast on-chip memory and is never written out.

    .. math::

        S^{(j)} = \frac{Q_i K_j^\top}{\sqrt{D}}, \quad
        m' = \max(m, \mathrm{rowmax}\, S^{(j)}), \quad
        \ell' = e^{m - m'} \ell + \mathrm{rowsum}\, e^{S^{(j)} - m'}, \quad
        O' = e^{m - m'} O + e^{S^{(j)} - m'} V_j, \quad
        O_i = O / \ell

    Parameters
    ----------
    query : torch.Tensor
        ``(*, L, E)``, for example ``(B, H, T, D)``.
    key : torch.Tensor
        ``(*, S, E)``.
    value : torch.Tensor
        ``(*, S, Ev)``.
    block_size : int, default 64
        Rows of a query tile and of a key tile.
    is_causal : bool, default False
        Query ``i`` sees keys ``j <= i`` (top-left aligned, as PyTorch); key tiles wholly above the
        diagonal are skipped.
    scale : float, optional
        Score scale; default :math:`1/\sqrt{E}`.
    return_lse : bool, default False
        Also return the log-sum-exp of each query's scores, :math:`m + \log \ell`, ``(*, L)`` (keyword
        only): the one number per query that FlashAttention saves for its backward pass.

    Returns
    -------
    torch.Tensor or tuple
        ``(*, L, Ev)``, equal to ``F.scaled_dot_product_attention``; with ``return_lse`` also the
        log-sum-exp.

    See Also
    --------
    torch.nn.functional.scaled_dot_product_attention, online_softmax, largest_intermediate

    Notes
    -----
    No ``attn_mask`` or dropout: those are the kernel's extras, not its idea. Autograd differentiates
    this loop by storing the tiles; the real backward pass instead recomputes each tile from ``Q``, ``K``,
    ``V`` and the saved log-sum-exp, more FLOPs for much less memory.

    .. admonition:: Common mistake

        "FlashAttention approximates attention to make it faster."

        It computes the same attention exactly (the examples agree with PyTorch to 1e-12 in float64) and
        the same FLOPs (counted in the examples). Unlike sparse or low-rank approximations, nothing is
        dropped; the speed comes from not writing and re-reading the :math:`T \times S` score matrix in
        slow GPU memory.

    References
    ----------
    .. [1] T. Dao et al., "FlashAttention: Fast and Memory-Efficient Exact Attention with IO-Awareness",
       NeurIPS 2022.
    .. [2] T. Dao, "FlashAttention-2: Faster Attention with Better Parallelism and Work Partitioning", 2023.

    Examples
    --------
    Exact, for any tile size, with and without the causal mask:

    >>> q, k, v = (torch.randn(1, 2, 40, 8, dtype=torch.float64) for _ in range(3))
    >>> ref = F.scaled_dot_product_attention(q, k, v)
    >>> all(torch.allclose(tiled_attention(q, k, v, block_size=b), ref) for b in (5, 7, 16, 40))
    True
    >>> bool((tiled_attention(q, k, v, block_size=16) - ref).abs().max() < 1e-12)
    True
    >>> causal = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    >>> all(torch.allclose(tiled_attention(q, k, v, b, is_causal=True), causal) for b in (5, 7, 16))
    True

    The saved log-sum-exp is that of each full row of scores:

    >>> _, lse = tiled_attention(q, k, v, block_size=16, return_lse=True)
    >>> torch.allclose(lse, torch.logsumexp(q @ k.transpose(-2, -1) / math.sqrt(8), dim=-1))
    True

    The same multiply-adds as the standard computation; causal skipping saves tiles above the diagonal:

    >>> from torch.utils.flop_counter import FlopCounterMode
    >>> def flops(fn, *args, **kwargs):
    ...     with FlopCounterMode(display=False) as counter:
    ...         fn(*args, **kwargs)
    ...     return counter.get_total_flops()
    >>> standard = lambda q, k, v: torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(8), -1) @ v
    >>> flops(tiled_attention, q, k, v, block_size=8) == flops(standard, q, k, v)
    True
    >>> flops(tiled_attention, q, k, v, block_size=8, is_causal=True) / flops(standard, q, k, v)
    0.6
    """
    scale = check_qkv(query, key, value, scale)
    block_size = check.integer("block_size", block_size, low=1)
    check.flag("is_causal", is_causal)
    check.flag("return_lse", return_lse)
    L, S = query.shape[-2], key.shape[-2]
    outputs, lses = [], []
    for i in range(0, L, block_size):
        q = query[..., i : i + block_size, :]  # (*, bq, E)
        rows = torch.arange(i, i + q.shape[-2], device=q.device)  # absolute query positions
        m = q.new_full((*q.shape[:-1], 1), float("-inf"))  # (*, bq, 1) running maximum
        l = q.new_zeros((*q.shape[:-1], 1))  # (*, bq, 1) running sum
        o = q.new_zeros((*q.shape[:-1], value.shape[-1]))  # (*, bq, Ev) unnormalised output
        for j in range(0, S, block_size):
            if is_causal and j > rows[-1]:
                break  # this key tile and every later one lie above the diagonal
            k, v = key[..., j : j + block_size, :], value[..., j : j + block_size, :]  # (*, bk, E), (*, bk, Ev)
            # S^(j) = Q_i K_j^T / sqrt(D)
            s = scale * q @ k.transpose(-2, -1)  # (*, bq, bk)
            if is_causal and j + k.shape[-2] - 1 > rows[0]:
                cols = torch.arange(j, j + k.shape[-2], device=q.device)
                s = s.masked_fill(cols[None, :] > rows[:, None], float("-inf"))  # (*, bq, bk)
            # m' = max(m, rowmax S); rescale the old sum and output by e^{m - m'}
            m_new = torch.maximum(m, s.amax(-1, keepdim=True))  # (*, bq, 1)
            p = torch.exp(s - _safe(m_new))  # (*, bq, bk)
            correction = torch.exp(m - _safe(m_new))  # (*, bq, 1)
            l = correction * l + p.sum(-1, keepdim=True)  # (*, bq, 1)
            o = correction * o + p @ v  # (*, bq, Ev)
            m = m_new
        outputs.append(o / l)  # (*, bq, Ev)
        lses.append((m + torch.log(l)).squeeze(-1))  # (*, bq)
    if not outputs:
        out = value.new_zeros(*query.shape[:-1], value.shape[-1])  # (*, 0, Ev)
        return (out, query.new_zeros(query.shape[:-1])) if return_lse else out
    out = torch.cat(outputs, dim=-2)  # (*, L, Ev)
    return (out, torch.cat(lses, dim=-1)) if return_lse else out


class _LargestOutput(TorchDispatchMode):
    """Records the number of elements of the largest tensor any PyTorch operation returns."""

    def __init__(self):
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_leaves(out):
            if isinstance(t, torch.Tensor):
                self.largest = max(self.largest, t.numel())
        return out


@question(
    "flash-attention-memory",
    level="advanced",
    short=(
        "The T x S matrix of scores and attention weights. Standard attention writes it to GPU memory and "
        "reads it back: quadratic memory and traffic. FlashAttention keeps one tile of it on chip at a time, "
        "stores only the output and one log-sum-exp per query, and recomputes tiles in the backward pass: "
        "memory linear in the length."
    ),
    followups=("flash-attention-exact", "kv-cache-size", "is-gqa-faster"),
)
def largest_intermediate(fn, *args, **kwargs) -> int:
    r"""Number of elements of the largest tensor that any PyTorch operation creates while ``fn`` runs.

    **What does FlashAttention never materialise, and where does its memory saving come from?**

    Standard attention creates the :math:`T \times S` score matrix and the :math:`T \times S` weights
    for every head, and on a GPU writes them to high-bandwidth memory and reads them back: memory and
    traffic grow with the square of the length. The tiled computation only ever holds one
    ``block x block`` tile of scores, plus per-query statistics and the output accumulator, so its
    largest tensor is the output itself, linear in the length. For the backward pass it stores the
    output and one log-sum-exp per query and recomputes the tiles.

    Parameters
    ----------
    fn : callable
        Called as ``fn(*args, **kwargs)`` under a dispatch mode that sees every tensor PyTorch creates.
    *args, **kwargs
        Its arguments.

    Returns
    -------
    int
        ``numel`` of the largest tensor returned by any operation (views included; the inputs
        themselves are not counted unless an operation returns them).

    See Also
    --------
    tiled_attention, torch.utils.flop_counter.FlopCounterMode

    Notes
    -----
    It runs ``fn`` under ``torch.no_grad()``, so the tensors autograd would save do not count.
    ``TorchDispatchMode`` is the mechanism PyTorch's own ``FlopCounterMode`` is built on. PyTorch's CPU
    ``scaled_dot_product_attention`` is itself a fused flash kernel: the examples show that the only
    tensors it returns are the output and the per-query log-sum-exp.

    References
    ----------
    .. [1] T. Dao et al., "FlashAttention: Fast and Memory-Efficient Exact Attention with IO-Awareness",
       NeurIPS 2022, section 3.

    Examples
    --------
    Standard attention creates the ``T x S`` matrix for every head; the tiled one never does: its
    largest tensor is the output:

    >>> B, H, T, D = 1, 2, 64, 16
    >>> q, k, v = (torch.randn(B, H, T, D, dtype=torch.float64) for _ in range(3))
    >>> standard = lambda q, k, v: torch.softmax(q @ k.transpose(-2, -1) / 4, -1) @ v
    >>> largest_intermediate(standard, q, k, v) == B * H * T * T
    True
    >>> largest_intermediate(tiled_attention, q, k, v, block_size=16) == B * H * T * D
    True

    Doubling the length quadruples the standard computation's largest tensor and doubles the tiled one's:

    >>> q2, k2, v2 = (torch.randn(B, H, 2 * T, D, dtype=torch.float64) for _ in range(3))
    >>> largest_intermediate(standard, q2, k2, v2) // largest_intermediate(standard, q, k, v)
    4
    >>> largest_intermediate(tiled_attention, q2, k2, v2, 16) // largest_intermediate(tiled_attention, q, k, v, 16)
    2

    PyTorch's CPU kernel is fused the same way:

    >>> largest_intermediate(F.scaled_dot_product_attention, q, k, v) == q.numel()
    True
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    with torch.no_grad(), _LargestOutput() as mode:
        fn(*args, **kwargs)
    return mode.largest


_FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


@question(
    "softmax-low-precision",
    level="advanced",
    short=(
        "Softmax is unchanged by subtracting the row maximum, and afterwards every exponent is at most 0, so "
        "nothing overflows; in fp16 exp overflows above about 11.09 (the largest fp16 is 65504). Running sums "
        "are kept in float32: an fp16 sum stops growing at 2048 and a bfloat16 one at 256, where adding 1 "
        "falls below their rounding step."
    ),
    followups=("online-softmax", "flash-attention-exact"),
)
def low_precision_softmax(
    input: torch.Tensor,
    dim: int = -1,
    dtype: torch.dtype = torch.float16,
    subtract_max: bool = True,
    accumulate_dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    r"""Softmax in a low-precision ``dtype`` with an optional max subtraction and a running sum in ``accumulate_dtype``.

    **Why does a softmax subtract the maximum, and why accumulate in float32 when the inputs are fp16
    or bf16?**

    :math:`\mathrm{softmax}(x) = \mathrm{softmax}(x - c)` for any constant, and with :math:`c = \max x`
    every exponent is at most 0, so :math:`e^{x-c} \le 1` cannot overflow. Without it fp16 overflows as
    soon as a score exceeds :math:`\ln 65504 \approx 11.09` (65504 is the largest fp16), giving
    ``inf / inf = NaN``; bfloat16 and float32 overflow only above about 88.72. The sum of the
    exponentials is a precision problem: fp16 has 11 significant bits, so once a running sum reaches
    2048 adding a term of at most 1 is rounded away (bfloat16, with 8 bits, stalls at 256). Kernels
    therefore keep the running sums and the output accumulator in float32.

    .. math::

        \mathrm{softmax}(x)_j = \frac{e^{x_j - c}}{\sum_k e^{x_k - c}}, \qquad
        e^{x} > 65504 \iff x > \ln 65504 \approx 11.09 \text{ (fp16)}

    Parameters
    ----------
    input : torch.Tensor
        Scores of any floating dtype; they are cast to ``dtype`` first.
    dim : int, default -1
        The softmax dimension.
    dtype : torch.dtype, default torch.float16
        Precision of the scores and exponentials (float16, bfloat16, float32 or float64).
    subtract_max : bool, default True
        Subtract the maximum along ``dim`` before exponentiating.
    accumulate_dtype : torch.dtype, default torch.float32
        Precision of the running sum of the exponentials, added one term at a time along ``dim``.

    Returns
    -------
    torch.Tensor
        The softmax, in ``dtype``.

    See Also
    --------
    torch.softmax, online_softmax

    Notes
    -----
    The sum is sequential, as in a running (online) sum across tiles; a tree-shaped reduction loses less.
    :func:`torch.softmax` on half-precision CPU tensors already subtracts the max and accumulates in
    float32.

    .. admonition:: Common mistake

        "bfloat16 makes softmax safe because it has the range of float32."

        It removes the overflow (no exponent below 88.72 overflows) but not the precision problem: with
        8 significant bits a bfloat16 running sum stops growing at 256, so over 1024 equal scores each
        weight comes out 1/256 and the weights sum to 4. The examples show both.

    References
    ----------
    .. [1] IEEE 754-2008 binary16; Google's bfloat16 format (8 exponent, 7 mantissa bits).
    .. [2] P. Micikevicius et al., "Mixed Precision Training", ICLR 2018 (float32 accumulation).

    Examples
    --------
    The fp16 limits: largest finite value, overflow threshold of ``exp``, and bfloat16's:

    >>> torch.finfo(torch.float16).max, round(math.log(torch.finfo(torch.float16).max), 2)
    (65504.0, 11.09)
    >>> torch.exp(torch.tensor([11.0, 11.2], dtype=torch.float16)).isinf().tolist()
    [False, True]
    >>> round(math.log(torch.finfo(torch.bfloat16).max), 2)
    88.72

    Subtracting the max changes nothing in exact arithmetic, and saves fp16 from ``inf / inf``:

    >>> x = torch.randn(4, 6, dtype=torch.float64)
    >>> torch.allclose(torch.softmax(x - 7.5, -1), torch.softmax(x, -1))
    True
    >>> s = torch.tensor([12.0, 0.0])
    >>> bool(low_precision_softmax(s, subtract_max=False).isnan().any())
    True
    >>> torch.allclose(low_precision_softmax(s).double(), torch.softmax(s.double(), 0), atol=1e-3)
    True

    Accumulating in fp16 stalls at 2048: over 4096 equal scores each weight becomes 1/2048, and the
    weights sum to 2; in float32 they sum to 1:

    >>> flat = torch.zeros(4096)
    >>> low_precision_softmax(flat, accumulate_dtype=torch.float16).double().sum().item()
    2.0
    >>> low_precision_softmax(flat).double().sum().item()
    1.0

    bfloat16 does not overflow at 12, but its running sum stalls at 256:

    >>> bool(low_precision_softmax(s, dtype=torch.bfloat16, subtract_max=False).isfinite().all())
    True
    >>> bf16 = low_precision_softmax(torch.zeros(1024), dtype=torch.bfloat16, accumulate_dtype=torch.bfloat16)
    >>> bf16.double().sum().item(), bf16[0].item() == 1 / 256
    (4.0, True)
    """
    check.tensor("input", input, min_ndim=1)
    dim = check.integer("dim", dim)
    if not -input.dim() <= dim < input.dim():
        raise ValueError(f"dim must be in [{-input.dim()}, {input.dim() - 1}] for input of shape {tuple(input.shape)}")
    for name, d in (("dtype", dtype), ("accumulate_dtype", accumulate_dtype)):
        if d not in _FLOAT_DTYPES:
            raise TypeError(f"{name} must be one of torch.float16, bfloat16, float32, float64; got {d!r}")
    check.flag("subtract_max", subtract_max)
    x = input.to(dtype).movedim(dim, -1)  # (*, C)
    if subtract_max:
        # softmax(x) = softmax(x - max x): every exponent <= 0
        x = x - x.amax(-1, keepdim=True)  # (*, C)
    e = torch.exp(x)  # (*, C), in dtype
    total = torch.zeros(e.shape[:-1], dtype=accumulate_dtype)  # (*,)
    for j in range(e.shape[-1]):
        total = total + e[..., j].to(accumulate_dtype)  # one term at a time, rounded to accumulate_dtype
    return (e.to(accumulate_dtype) / total[..., None]).to(dtype).movedim(-1, dim)
