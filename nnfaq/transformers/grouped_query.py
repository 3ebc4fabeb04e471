"""Multi-query, grouped-query and latent attention

Multi-head attention gives every query head its own key and value head, and decoding must read all
of them from the KV cache at every step. Multi-query and grouped-query attention share key/value
heads among query heads; multi-head latent attention caches one small latent vector per token and
rebuilds keys and values from it. This topic implements each, checks them against PyTorch, shows the
classic head-order bug, and answers whether sharing heads makes attention faster.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from nnfaq import _validate as check
from nnfaq._registry import question
from nnfaq.transformers._models import A100, DEEPSEEK_V2, LLAMA3_8B  # noqa: F401 (the examples use them)
from nnfaq.transformers._qkv import causal_keep, check_qkv

__all__ = ["attention_cost", "latent_attention", "repeat_kv", "scaled_dot_product_attention"]


def _kv_groups(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> int:
    """The group size ``G = H / H_kv`` of grouped-query attention (heads are dimension -3)."""
    if min(query.dim(), key.dim(), value.dim()) < 3:
        raise ValueError("query, key and value must have a heads dimension (dim -3) when enable_gqa=True")
    H, H_kv = query.shape[-3], key.shape[-3]
    if value.shape[-3] != H_kv:
        raise ValueError(f"value must have the key's number of heads {H_kv} (dim -3), got shape {tuple(value.shape)}")
    if H_kv == 0 or H % H_kv:
        raise ValueError(f"key must have a number of heads (dim -3) that divides the query's {H}, got {H_kv}")
    return H // H_kv


def _check_mask(attn_mask, query: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """A bool mask or a float mask of the query's dtype that broadcasts to the scores' ``shape``."""
    if not isinstance(attn_mask, torch.Tensor):
        raise TypeError(f"attn_mask must be a torch.Tensor or None, got {type(attn_mask).__name__}")
    if attn_mask.dtype != torch.bool and not attn_mask.is_floating_point():
        raise TypeError(f"attn_mask must be bool or floating point, got dtype {attn_mask.dtype}")
    try:
        fits = torch.broadcast_shapes(attn_mask.shape, shape) == shape
    except RuntimeError:
        fits = False
    if not fits:
        raise ValueError(f"attn_mask must broadcast to the scores' shape {tuple(shape)}, got {tuple(attn_mask.shape)}")
    return attn_mask


@question(
    "grouped-query-attention",
    level="intermediate",
    short=(
        "Multi-head attention gives every query head its own key and value head. Grouped-query attention "
        "shares each key/value head among a group of query heads; multi-query attention shares one among all. "
        "The cache and the bytes read per decoding step shrink by the group size, 4x for Llama 3 8B; the "
        "attention FLOPs do not change."
    ),
    followups=("gqa-kv-head-order", "is-gqa-faster", "multi-head-latent-attention"),
)
def scaled_dot_product_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attn_mask: torch.Tensor | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> torch.Tensor:
    r"""Scaled dot-product attention with grouped-query heads, as PyTorch's ``scaled_dot_product_attention``.

    **What are multi-query and grouped-query attention, and what does each cache?**

    In multi-head attention (MHA) every one of the ``H`` query heads has its own key and value head.
    Grouped-query attention (GQA) keeps ``H`` query heads but only ``H_kv`` key/value heads, each
    shared by a group of ``G = H / H_kv`` consecutive query heads; multi-query attention (MQA) is
    ``H_kv = 1``, MHA is ``H_kv = H``. The cache holds ``2 H_kv D`` numbers per token and layer, ``G``
    times fewer than MHA. A GQA layer is an MHA layer whose key/value heads come in identical copies,
    so it computes the same number of scores.

    .. math::

        g(h) = \left\lfloor h / G \right\rfloor, \qquad
        O_h = \mathrm{softmax}\!\left(\frac{Q_h K_{g(h)}^\top}{\sqrt{D}} + M\right) V_{g(h)}

    Parameters
    ----------
    query : torch.Tensor
        ``(*, H, L, E)`` (``*`` is for example the batch).
    key : torch.Tensor
        ``(*, H_kv, S, E)``; ``H_kv = H`` unless ``enable_gqa``.
    value : torch.Tensor
        ``(*, H_kv, S, Ev)``.
    attn_mask : torch.Tensor, optional
        Broadcastable to ``(*, H, L, S)``: bool (True = may attend) or float (added to the scores).
    dropout_p : float, default 0.0
        Dropout probability on the attention weights, in ``[0, 1]``.
    is_causal : bool, default False
        Query ``i`` sees keys ``j <= i`` (top-left aligned, as PyTorch); not with ``attn_mask``.
    scale : float, optional
        Score scale; default :math:`1/\sqrt{E}`.
    enable_gqa : bool, default False
        Allow ``H_kv`` to divide ``H``: key/value head ``h // G`` serves query head ``h``.

    Returns
    -------
    torch.Tensor
        ``(*, H, L, Ev)``.

    See Also
    --------
    torch.nn.functional.scaled_dot_product_attention, repeat_kv

    Notes
    -----
    A query whose every key is masked gets a zero output, as in PyTorch. Dropout calls
    :func:`torch.nn.functional.dropout` on the weights, so with the same seed it drops the weights
    PyTorch drops. This implementation copies the key/value heads (``repeat_kv``) before the matrix
    products; fused kernels read each shared head once per group instead, which is where the
    decoding speed-up comes from (:func:`attention_cost`).

    References
    ----------
    .. [1] N. Shazeer, "Fast Transformer Decoding: One Write-Head is All You Need", 2019.
    .. [2] J. Ainslie et al., "GQA: Training Generalized Multi-Query Transformer Models from
       Multi-Head Checkpoints", EMNLP 2023.

    Examples
    --------
    Eight query heads sharing two key/value heads, against PyTorch (with a causal mask as well):

    >>> q = torch.randn(2, 8, 5, 4, dtype=torch.float64)
    >>> k, v = torch.randn(2, 2, 7, 4, dtype=torch.float64), torch.randn(2, 2, 7, 3, dtype=torch.float64)
    >>> ours = scaled_dot_product_attention(q, k, v, enable_gqa=True)
    >>> torch.allclose(ours, F.scaled_dot_product_attention(q, k, v, enable_gqa=True))
    True
    >>> ref = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
    >>> torch.allclose(scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True), ref)
    True

    GQA is MHA whose key/value heads come in ``G = 4`` identical consecutive copies:

    >>> torch.allclose(ours, F.scaled_dot_product_attention(q, k.repeat_interleave(4, -3), v.repeat_interleave(4, -3)))
    True

    Multi-query attention is ``H_kv = 1``; the cache per token is ``2 H_kv D`` numbers, 8 times fewer
    than with 8 key/value heads:

    >>> mqa = scaled_dot_product_attention(q, k[:, :1], v[:, :1], enable_gqa=True)
    >>> torch.allclose(mqa, F.scaled_dot_product_attention(q, k[:, :1], v[:, :1], enable_gqa=True))
    True
    >>> k.repeat_interleave(4, -3)[0, :, 0].numel() // k[0, :1, 0].numel()
    8
    """
    scale = check_qkv(query, key, value, scale, same_batch=False)
    dropout_p = check.number("dropout_p", dropout_p, low=0.0, high=1.0)
    check.flag("is_causal", is_causal)
    check.flag("enable_gqa", enable_gqa)
    if enable_gqa:
        # key/value head h // G serves query head h
        G = _kv_groups(query, key, value)
        key, value = repeat_kv(key, G), repeat_kv(value, G)  # (*, H, S, E), (*, H, S, Ev)
    check.batch_broadcast(query, key=key, value=value)
    L, S = query.shape[-2], key.shape[-2]
    # s_ij = scale * q_i . k_j
    s = scale * query @ key.transpose(-2, -1)  # (*, H, L, S)
    if is_causal:
        if attn_mask is not None:
            raise ValueError("attn_mask must be None when is_causal=True")
        attn_mask = causal_keep(L, S, device=s.device)  # (L, S)
    if attn_mask is not None:
        attn_mask = _check_mask(attn_mask, query, s.shape)
        # bool: False -> -inf; float: added to the scores
        s = s.masked_fill(~attn_mask, float("-inf")) if attn_mask.dtype == torch.bool else s + attn_mask.to(s.dtype)
    # a row with every key masked gets weights 0, not 0/0
    dead = torch.isneginf(s).all(-1, keepdim=True)  # (*, H, L, 1)
    A = torch.softmax(s.masked_fill(dead, 0.0), dim=-1).masked_fill(dead, 0.0)  # (*, H, L, S)
    if dropout_p > 0:
        A = F.dropout(A, dropout_p)
    return A @ value  # (*, H, L, Ev)


@question(
    "gqa-kv-head-order",
    level="advanced",
    short=(
        "Query head h belongs to group h // G, so the expanded key/value heads must read 0,0,1,1: "
        "repeat_interleave, or Llama's expand-then-reshape. Tensor.repeat tiles them as 0,1,0,1, pairing query "
        "head h with the wrong key/value head: the shapes are right and the model is silently wrong. Both "
        "orders agree for MQA and MHA, which is why tests miss it."
    ),
    followups=("grouped-query-attention", "multi-head-attention"),
)
def repeat_kv(x: torch.Tensor, n_rep: int, order: str = "interleave") -> torch.Tensor:
    r"""Expand ``H_kv`` key or value heads to ``H_kv * n_rep`` heads for grouped-query attention.

    **When you expand key/value heads for grouped-query attention, why ``repeat_interleave`` and not
    ``repeat``?**

    Query heads are grouped consecutively: query head ``h`` uses key/value head ``h // G``. Expanded
    for a plain multi-head kernel, the key/value heads must therefore appear as ``0,0,..,1,1,..``,
    which is ``repeat_interleave`` (Llama's ``repeat_kv`` does the same with ``expand`` and ``reshape``,
    without a copy until the reshape). ``Tensor.repeat`` tiles the whole block, ``0,1,..,0,1,..``, so
    query head ``h`` meets key/value head ``h mod H_kv``: every shape is right and the model is wrong.
    The two orders agree when ``H_kv = 1`` (MQA) or ``G = 1`` (MHA), which is why the bug survives
    tests that only try those.

    .. math::

        \text{interleave: } \tilde K_h = K_{\lfloor h / G \rfloor}, \qquad
        \text{tile: } \tilde K_h = K_{h \bmod H_{kv}}

    Parameters
    ----------
    x : torch.Tensor
        Keys or values ``(*, H_kv, S, D)``.
    n_rep : int
        ``G``, the query heads per key/value head.
    order : {"interleave", "tile"}, default "interleave"
        ``"interleave"`` is correct (PyTorch's ``enable_gqa``, Llama, Hugging Face); ``"tile"`` is the
        bug, ``x.repeat(..., n_rep, 1, 1)``.

    Returns
    -------
    torch.Tensor
        ``(*, H_kv * n_rep, S, D)``.

    See Also
    --------
    torch.repeat_interleave, torch.Tensor.repeat, scaled_dot_product_attention

    Notes
    -----
    .. admonition:: Common mistake

        "``repeat`` and ``repeat_interleave`` are interchangeable for expanding key/value heads."

        They give the same tensor only for one key/value head or a group size of 1. For real GQA,
        ``repeat`` pairs each query head with the wrong key/value head; the examples show its output
        differs from PyTorch's ``enable_gqa``.

    References
    ----------
    .. [1] Meta, ``llama/model.py`` (``repeat_kv``), 2023; Hugging Face ``transformers``,
       ``models/llama/modeling_llama.py`` (``repeat_kv``).

    Examples
    --------
    The head order, on head indices:

    >>> heads = torch.arange(2.0).view(2, 1, 1)  # H_kv = 2 heads holding their own index
    >>> repeat_kv(heads, 3).flatten().tolist(), repeat_kv(heads, 3, order="tile").flatten().tolist()
    ([0.0, 0.0, 0.0, 1.0, 1.0, 1.0], [0.0, 1.0, 0.0, 1.0, 0.0, 1.0])
    >>> torch.equal(repeat_kv(heads, 3), heads.repeat_interleave(3, dim=-3))
    True

    Interleaving is what PyTorch's grouped-query attention does; tiling is a different model:

    >>> q = torch.randn(2, 6, 5, 4, dtype=torch.float64)
    >>> k, v = torch.randn(2, 2, 5, 4, dtype=torch.float64), torch.randn(2, 2, 5, 4, dtype=torch.float64)
    >>> ref = F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
    >>> torch.allclose(F.scaled_dot_product_attention(q, repeat_kv(k, 3), repeat_kv(v, 3)), ref)
    True
    >>> tiled = F.scaled_dot_product_attention(q, repeat_kv(k, 3, "tile"), repeat_kv(v, 3, "tile"))
    >>> torch.allclose(tiled, ref)
    False

    With a single key/value head (MQA) the two orders are the same tensor, so an MQA test cannot catch
    the bug:

    >>> torch.equal(repeat_kv(k[:, :1], 6), repeat_kv(k[:, :1], 6, order="tile"))
    True
    """
    check.tensor("x", x, min_ndim=3)
    n_rep = check.integer("n_rep", n_rep, low=1)
    order = check.choice("order", order, ("interleave", "tile"))
    *batch, H_kv, S, D = x.shape
    if order == "tile":
        # the bug: head h gets key/value head h mod H_kv
        return x.repeat(*([1] * len(batch)), n_rep, 1, 1)  # (*, H_kv * n_rep, S, D)
    # head h gets key/value head h // n_rep: insert a group axis next to the heads, then merge
    return x.unsqueeze(-3).expand(*batch, H_kv, n_rep, S, D).reshape(*batch, H_kv * n_rep, S, D)


def _latent_weights(x, W_q, W_dkv, W_uk, W_uv, num_heads):
    """Check the shapes of :func:`latent_attention`'s arguments; return ``(H, D, r)``."""
    check.tensor("x", x, ndim=3)
    for name, w in (("W_q", W_q), ("W_dkv", W_dkv), ("W_uk", W_uk), ("W_uv", W_uv)):
        check.tensor(name, w, ndim=2)
    check.same_dtype("x", x, W_q=W_q, W_dkv=W_dkv, W_uk=W_uk, W_uv=W_uv)
    H = check.integer("num_heads", num_heads, low=1)
    C = x.shape[-1]
    if W_q.shape[1] != C or W_q.shape[0] % H:
        raise ValueError(f"W_q must have shape (num_heads * D, {C}) with num_heads={H}, got {tuple(W_q.shape)}")
    D, r = W_q.shape[0] // H, W_dkv.shape[0]
    check.same_shape("W_dkv", W_dkv, (r, C), "(latent size, model width)")
    check.same_shape("W_uk", W_uk, (H * D, r), "(num_heads * D, latent size)")
    check.same_shape("W_uv", W_uv, (H * D, r), "(num_heads * D, latent size)")
    return H, D, r


@question(
    "multi-head-latent-attention",
    level="advanced",
    short=(
        "Multi-head latent attention (DeepSeek-V2) caches one low-rank latent per token, shared by all heads, "
        "and rebuilds each head's keys and values from it with up-projections. Those projections fold into "
        "the query and output, so decoding attends over the latents directly. DeepSeek-V2 caches 576 numbers "
        "per token and layer where MHA with its 128 heads of 128 would cache 32768."
    ),
    followups=("grouped-query-attention", "kv-cache-size"),
)
def latent_attention(
    x: torch.Tensor,
    W_q: torch.Tensor,
    W_dkv: torch.Tensor,
    W_uk: torch.Tensor,
    W_uv: torch.Tensor,
    num_heads: int,
    absorb: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Causal multi-head latent attention (MLA, without its decoupled RoPE part), from scratch.

    **What does multi-head latent attention cache, and how can it attend without decompressing it?**

    MLA projects each token down to one latent vector :math:`c_t = W^{DKV} x_t` of size
    :math:`d_c`, shared by all heads, and caches only that; each head's key and value are
    up-projections :math:`W^{UK}_h c_t` and :math:`W^{UV}_h c_t`. Because the up-projections are
    linear, :math:`W^{UK}_h` can be absorbed into the query (:math:`q_h^\top W^{UK}_h c_t`) and
    :math:`W^{UV}_h` into the output, so decoding scores the cached latents directly and never
    rebuilds full keys and values. DeepSeek-V2 caches :math:`d_c + d_h^R = 512 + 64` numbers per token
    and layer (the extra 64 are a RoPE key shared by the heads), :math:`4.5 d_h` against MHA's
    :math:`2 n_h d_h = 32768`.

    .. math::

        c_t = W^{DKV} x_t, \qquad k_{t,h} = W^{UK}_h c_t, \qquad v_{t,h} = W^{UV}_h c_t, \qquad
        q_{t,h}^\top k_{s,h} = \left( (W^{UK}_h)^\top q_{t,h} \right)^\top c_s

    Parameters
    ----------
    x : torch.Tensor
        ``(B, T, C)`` token representations.
    W_q : torch.Tensor
        ``(H * D, C)`` query projection.
    W_dkv : torch.Tensor
        ``(r, C)`` down-projection to the latent (``r`` is :math:`d_c`).
    W_uk, W_uv : torch.Tensor
        ``(H * D, r)`` up-projections of the latent to keys and to values.
    num_heads : int
        ``H``.
    absorb : bool, default False
        Score and average the latents directly, with :math:`W^{UK}` folded into the queries and
        :math:`W^{UV}` applied after the average, instead of building keys and values.

    Returns
    -------
    out : torch.Tensor
        ``(B, H, T, D)`` per-head outputs (before the output projection).
    latent : torch.Tensor
        ``(B, T, r)``: the cache, ``r`` numbers per token.

    See Also
    --------
    scaled_dot_product_attention

    Notes
    -----
    RoPE rotates keys by a position-dependent matrix that would sit between :math:`W^{UK}_h` and the
    query, so it cannot be absorbed; DeepSeek-V2 therefore adds a separate small RoPE key
    (:math:`d_h^R = 64`, shared by all heads) that is cached too. This function has no RoPE part and a
    full-rank query projection (DeepSeek-V2 also compresses queries, to save training memory).

    .. admonition:: Common mistake

        "To use MLA's compressed cache, every decoding step must decompress it into full keys and values."

        The up-projections are linear and fold into the query and the output projection, so attention
        runs on the latents themselves; the examples show the absorbed computation equals the
        decompressed one.

    References
    ----------
    .. [1] DeepSeek-AI, "DeepSeek-V2: A Strong, Economical, and Efficient Mixture-of-Experts Language
       Model", 2024, section 2.1 and Table 1.

    Examples
    --------
    MLA is causal multi-head attention over keys and values rebuilt from the latent:

    >>> B, T, C, H, D, r = 2, 6, 16, 4, 8, 6
    >>> x = torch.randn(B, T, C, dtype=torch.float64)
    >>> W_q, W_dkv = torch.randn(H * D, C, dtype=torch.float64), torch.randn(r, C, dtype=torch.float64)
    >>> W_uk, W_uv = torch.randn(H * D, r, dtype=torch.float64), torch.randn(H * D, r, dtype=torch.float64)
    >>> out, latent = latent_attention(x, W_q, W_dkv, W_uk, W_uv, num_heads=H)
    >>> heads = lambda t: t.view(B, T, H, D).transpose(1, 2)  # (B, T, H*D) -> (B, H, T, D)
    >>> ref = F.scaled_dot_product_attention(heads(x @ W_q.T), heads(latent @ W_uk.T), heads(latent @ W_uv.T),
    ...                                      is_causal=True)
    >>> torch.allclose(out, ref)
    True

    The cache is the latent: ``r`` numbers per token for all heads together, and attending on it
    directly (absorbed) gives the same outputs:

    >>> latent.shape
    torch.Size([2, 6, 6])
    >>> torch.allclose(latent_attention(x, W_q, W_dkv, W_uk, W_uv, num_heads=H, absorb=True)[0], out)
    True

    DeepSeek-V2's cache per token and layer against MHA's with the same heads:

    >>> m = DEEPSEEK_V2
    >>> m.kv_lora_rank + m.rope_head_dim, 2 * m.n_heads * m.head_dim, (m.kv_lora_rank + m.rope_head_dim) / m.head_dim
    (576, 32768, 4.5)
    """
    H, D, r = _latent_weights(x, W_q, W_dkv, W_uk, W_uv, num_heads)
    check.flag("absorb", absorb)
    B, T, _ = x.shape
    scale = D**-0.5
    # c_t = W^DKV x_t: the only thing cached
    c = x @ W_dkv.T  # (B, T, r)
    q = (x @ W_q.T).view(B, T, H, D).transpose(1, 2)  # (B, H, T, D)
    W_uk_h, W_uv_h = W_uk.view(H, D, r), W_uv.view(H, D, r)  # (H, D, r)
    keep = causal_keep(T, T, device=x.device)  # (T, T)
    if absorb:
        # q^T W^UK_h c: fold the key up-projection into the query, score the latents
        q_c = torch.einsum("bhtd,hdr->bhtr", q, W_uk_h)  # (B, H, T, r)
        s = scale * q_c @ c.unsqueeze(1).transpose(-2, -1)  # (B, H, T, T)
        A = torch.softmax(s.masked_fill(~keep, float("-inf")), dim=-1)  # (B, H, T, T)
        # average the latents, then apply the value up-projection once per head
        return torch.einsum("bhtr,hdr->bhtd", A @ c.unsqueeze(1), W_uv_h), c  # (B, H, T, D), (B, T, r)
    # k_{t,h} = W^UK_h c_t, v_{t,h} = W^UV_h c_t: decompress, then ordinary attention
    k = torch.einsum("btr,hdr->bhtd", c, W_uk_h)  # (B, H, T, D)
    v = torch.einsum("btr,hdr->bhtd", c, W_uv_h)  # (B, H, T, D)
    s = scale * q @ k.transpose(-2, -1)  # (B, H, T, T)
    A = torch.softmax(s.masked_fill(~keep, float("-inf")), dim=-1)  # (B, H, T, T)
    return A @ v, c  # (B, H, T, D), (B, T, r)


@question(
    "is-gqa-faster",
    level="advanced",
    short=(
        "Not by doing fewer FLOPs: its attention FLOPs equal MHA's with the same query heads. Decoding reads "
        "the whole KV cache to do about G FLOPs per byte in fp16, far below a GPU's ~150 FLOP/byte ridge, so "
        "it is memory bound, and GQA, reading G times fewer bytes, is about G times faster. Prefill is "
        "compute bound: no gain."
    ),
    followups=("grouped-query-attention", "kv-cache-size", "flash-attention-memory"),
)
def attention_cost(
    num_heads: int,
    num_kv_heads: int,
    head_dim: int,
    q_len: int,
    kv_len: int,
    batch: int = 1,
    dtype_bytes: int = 2,
) -> dict[str, float]:
    r"""FLOPs, bytes moved and arithmetic intensity of one attention layer's score and weighted-sum step.

    **Is grouped-query attention faster than multi-head attention at equal FLOPs? What about decoding
    versus prefill?**

    The attention FLOPs, :math:`4 B H L S D` for :math:`QK^\top` and :math:`AV`, depend on the query
    heads only, so GQA does the same work as MHA. What it changes is the bytes read: every decoding step
    reads the whole KV cache, :math:`2 B H_{kv} S D` numbers, to do :math:`4 B H S D` FLOPs: about
    :math:`G` FLOPs per byte in 16-bit, far below a GPU's ratio of peak FLOP/s to bandwidth (about 153
    FLOP/byte on an A100). Decoding is memory bound, so reading :math:`G` times fewer bytes
    makes it about :math:`G` times faster. Prefill reuses every key and value for ``L = S`` queries, is
    compute bound, and takes about the same time with either.

    .. math::

        \text{FLOPs} = 4 B H L S D, \qquad
        \text{bytes} = b\,B\,(2 H L D + 2 H_{kv} S D), \qquad
        t \approx \max\!\left(\frac{\text{FLOPs}}{\text{peak}}, \frac{\text{bytes}}{\text{bandwidth}}\right)

    Parameters
    ----------
    num_heads : int
        Query heads :math:`H`.
    num_kv_heads : int
        Key/value heads :math:`H_{kv}`; must divide ``num_heads``.
    head_dim : int
        :math:`D`.
    q_len : int
        Queries :math:`L` processed in this step: 1 when decoding, the prompt length in prefill.
    kv_len : int
        Keys :math:`S` (cache length).
    batch : int, default 1
        Sequences :math:`B`, each with its own cache.
    dtype_bytes : int, default 2
        :math:`b`, bytes per number.

    Returns
    -------
    dict of str to float
        ``flops`` (multiply and add counted as 2), ``bytes`` (queries, keys and values read and outputs
        written once) and ``intensity`` (FLOPs per byte).

    See Also
    --------
    scaled_dot_product_attention, nnfaq.transformers.kv_cache.kv_cache_bytes

    Notes
    -----
    This counts the attention core of one layer without causal skipping (a causal kernel skips about half
    of the prefill FLOPs, which changes no conclusion). It is a roofline model: a kernel runs at best at
    the slower of its compute and its memory traffic. Batching raises the intensity of the weight matrix
    products, whose weights are shared by the batch, but not of decoding attention: every sequence reads
    its own cache. The A100 numbers are in ``nnfaq/transformers/_models.py``.

    .. admonition:: Common mistake

        "GQA is faster because it does fewer FLOPs."

        Its score and weighted-sum FLOPs equal those of MHA with the same number of query heads (the
        examples count them); only the small key/value projections shrink. It is faster at decoding
        because it reads ``G`` times fewer cache bytes, and decoding attention is memory bound; at
        prefill, which is compute bound, it is about as fast as MHA.

    References
    ----------
    .. [1] J. Ainslie et al., "GQA: Training Generalized Multi-Query Transformer Models from
       Multi-Head Checkpoints", EMNLP 2023.
    .. [2] S. Williams, A. Waterman, D. Patterson, "Roofline: An Insightful Visual Performance Model
       for Multicore Architectures", CACM 2009.

    Examples
    --------
    The FLOPs are those of the implementation, counted by PyTorch, and the same for 8 or 2 KV heads:

    >>> from torch.utils.flop_counter import FlopCounterMode
    >>> q = torch.randn(1, 8, 1, 16, dtype=torch.float64)  # one decoding step, 8 query heads
    >>> def counted(kv_heads):
    ...     k = torch.randn(1, kv_heads, 64, 16, dtype=torch.float64)
    ...     with FlopCounterMode(display=False) as counter:
    ...         scaled_dot_product_attention(q, k, k, enable_gqa=True)
    ...     return counter.get_total_flops()
    >>> counted(8) == counted(2) == attention_cost(8, 2, 16, q_len=1, kv_len=64)["flops"]
    True

    Llama 3 8B (32 query, 8 key/value heads) against the same layer with MHA, at 4096 tokens: equal
    FLOPs, about 4 times fewer bytes when decoding:

    >>> m = LLAMA3_8B
    >>> mha, gqa = (attention_cost(m.n_heads, kv, m.head_dim, 1, 4096) for kv in (m.n_heads, m.n_kv_heads))
    >>> mha["flops"] == gqa["flops"], round(mha["bytes"] / gqa["bytes"], 1)
    (True, 4.0)

    Decoding is far below the A100's ridge (memory bound), prefill far above it (compute bound), and batch
    does not change decoding's intensity:

    >>> decode = [attention_cost(m.n_heads, kv, m.head_dim, 1, 4096) for kv in (32, 8)]
    >>> prefill = [attention_cost(m.n_heads, kv, m.head_dim, 4096, 4096) for kv in (32, 8)]
    >>> all(c["intensity"] < A100.ridge for c in decode), all(c["intensity"] > A100.ridge for c in prefill)
    (True, True)
    >>> attention_cost(32, 8, 128, 1, 4096, batch=16)["intensity"] == decode[1]["intensity"]
    True

    So on the roofline GQA decodes about 4 times faster and prefills at the same speed:

    >>> time = lambda c: max(c["flops"] / A100.peak_flops, c["bytes"] / A100.bandwidth)
    >>> round(time(decode[0]) / time(decode[1]), 1), round(time(prefill[0]) / time(prefill[1]), 1)
    (4.0, 1.0)
    """
    H = check.integer("num_heads", num_heads, low=1)
    H_kv = check.integer("num_kv_heads", num_kv_heads, low=1)
    if H % H_kv:
        raise ValueError(f"num_kv_heads must divide num_heads ({H}), got {H_kv}")
    D = check.integer("head_dim", head_dim, low=1)
    L, S = check.integer("q_len", q_len, low=1), check.integer("kv_len", kv_len, low=1)
    B, b = check.integer("batch", batch, low=1), check.integer("dtype_bytes", dtype_bytes, low=1)
    # Q K^T and A V: 2 B H L S D each (a multiply-add is 2 FLOPs)
    flops = 4 * B * H * L * S * D
    # read Q (B H L D) and the cache K, V (2 B H_kv S D); write O (B H L D)
    nbytes = b * B * (2 * H * L * D + 2 * H_kv * S * D)
    return {"flops": flops, "bytes": nbytes, "intensity": flops / nbytes}
