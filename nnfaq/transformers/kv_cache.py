"""The KV cache

A decoder generates one token at a time. The keys and values of a token depend only on that token
and the ones before it, so they are computed once, stored and read again by every later step: the
KV cache. This topic sizes it for published models and proves that cached token-by-token decoding
is exactly full causal attention, with no mask for the new query.
"""

from __future__ import annotations

import torch

from nnfaq import _validate as check
from nnfaq._registry import question
from nnfaq.transformers._models import LLAMA2_7B, LLAMA3_8B  # noqa: F401 (the models the examples size)
from nnfaq.transformers._qkv import causal_keep, check_qkv

__all__ = ["decode_with_cache", "kv_cache_bytes"]


@question(
    "kv-cache-size",
    level="intermediate",
    short=(
        "For every layer, key/value head and past token it stores one key and one value vector: "
        "``2*layers*kv_heads*head_dim*tokens*batch*bytes``. Llama 2 7B needs 512 KiB per token in fp16, 2 GiB "
        "for one 4096-token context and, at batch 8, more than its own weights; Llama 3 8B's 8 KV heads need "
        "a quarter of that."
    ),
    followups=("kv-cache-decoding", "grouped-query-attention", "is-gqa-faster"),
)
def kv_cache_bytes(
    layers: int, kv_heads: int, head_dim: int, seq_len: int, batch: int = 1, dtype_bytes: int = 2
) -> int:
    r"""Size in bytes of the key/value cache of a decoder.

    **What does the KV cache store, and how much memory does it take?**

    For every layer, every key/value head and every token seen so far it stores the key vector and the
    value vector, ``head_dim`` numbers each; queries are not stored, because a past query is never used
    again. The size is linear in the context length and in the batch, and it is per sequence: Llama 2 7B
    (multi-head attention, 32 layers of 32 heads of 128) needs 512 KiB per token in float16, 2 GiB for
    its full 4096-token context, and at batch 8 more memory than its own weights. Llama 3 8B has the
    same layers and head size but 8 key/value heads (grouped-query attention): a quarter of the cache.

    .. math::

        \text{bytes} = 2 \cdot \text{layers} \cdot H_{kv} \cdot D \cdot T \cdot B \cdot \text{dtype\_bytes}

    Parameters
    ----------
    layers : int
        Number of transformer layers, each with its own cache.
    kv_heads : int
        Key/value heads per layer :math:`H_{kv}` (the query heads for multi-head attention).
    head_dim : int
        Head size :math:`D`.
    seq_len : int
        Tokens in the cache :math:`T` (prompt plus generated tokens).
    batch : int, default 1
        Sequences decoded together :math:`B`.
    dtype_bytes : int, default 2
        Bytes per number: 2 for float16/bfloat16, 1 for an 8-bit cache, 4 for float32.

    Returns
    -------
    int
        The cache size in bytes.

    See Also
    --------
    decode_with_cache : builds the cache whose size this counts.

    Notes
    -----
    The numbers of the published models are in ``nnfaq/transformers/_models.py`` with their sources.
    Serving systems allocate the cache in blocks (vLLM's PagedAttention) precisely because it is this
    large and grows with every token.

    .. admonition:: Common mistake

        "The KV cache is small next to the model weights."

        It grows with every token and every sequence in the batch. Llama 2 7B's fp16 cache for 8
        sequences of 4096 tokens is 16 GiB, more than the 13.4 GB of its 6.7 billion fp16 weights; the
        examples compute both.

    References
    ----------
    .. [1] H. Touvron et al., "Llama 2: Open Foundation and Fine-Tuned Chat Models", 2023.
    .. [2] A. Dubey et al., "The Llama 3 Herd of Models", 2024, Table 3.
    .. [3] W. Kwon et al., "Efficient Memory Management for Large Language Model Serving with
       PagedAttention", SOSP 2023.

    Examples
    --------
    The count is the size of the tensors a cached decoder really keeps (one layer here):

    >>> q, k, v = (torch.randn(2, 3, 6, 8, dtype=torch.float64) for _ in range(3))
    >>> _, (k_cache, v_cache) = decode_with_cache(q, k, v, return_cache=True)
    >>> k_cache.nbytes + v_cache.nbytes == kv_cache_bytes(1, kv_heads=3, head_dim=8, seq_len=6, batch=2, dtype_bytes=8)
    True

    Llama 2 7B in float16: 512 KiB per token, 2 GiB for its 4096-token context:

    >>> m = LLAMA2_7B
    >>> kv_cache_bytes(m.n_layers, m.n_kv_heads, m.head_dim, seq_len=1) // 1024
    512
    >>> kv_cache_bytes(m.n_layers, m.n_kv_heads, m.head_dim, m.max_seq_len) / 2**30
    2.0

    At batch 8 the cache outweighs the fp16 weights:

    >>> cache = kv_cache_bytes(m.n_layers, m.n_kv_heads, m.head_dim, m.max_seq_len, batch=8)
    >>> cache / 2**30, cache > 2 * m.published_params
    (16.0, True)

    Llama 3 8B, same layers and head size but 8 key/value heads: a quarter per token:

    >>> per_token = lambda c: kv_cache_bytes(c.n_layers, c.n_kv_heads, c.head_dim, seq_len=1)
    >>> per_token(LLAMA2_7B) / per_token(LLAMA3_8B)
    4.0
    """
    layers = check.integer("layers", layers, low=1)
    kv_heads = check.integer("kv_heads", kv_heads, low=1)
    head_dim = check.integer("head_dim", head_dim, low=1)
    seq_len = check.integer("seq_len", seq_len, low=0)
    batch = check.integer("batch", batch, low=1)
    dtype_bytes = check.integer("dtype_bytes", dtype_bytes, low=1)
    # one key and one value vector per layer, head, token and sequence
    return 2 * layers * kv_heads * head_dim * seq_len * batch * dtype_bytes


@question(
    "kv-cache-decoding",
    level="intermediate",
    short=(
        "Causal attention lets query t see keys 0 to t. Decoding one token at a time, the cache at step t "
        "holds exactly keys and values 0 to t, as later tokens do not exist yet, so the new query attends to "
        "the whole cache unmasked: the outputs equal full causal attention. Chunks of new tokens need a "
        "bottom-right mask."
    ),
    followups=("kv-cache-size", "grouped-query-attention", "flash-attention-exact"),
)
def decode_with_cache(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    scale: float | None = None,
    chunk_size: int = 1,
    *,
    return_cache: bool = False,
):
    r"""Causal self-attention computed as a decoder does it: token by token, appending to a KV cache.

    **Why does decoding with a KV cache give exactly full causal attention, and why does the new query
    need no mask?**

    Causal attention lets query ``t`` see keys ``0..t``. When tokens arrive one at a time, the cache
    at step ``t`` holds exactly the keys and values ``0..t``: the later ones have not been computed
    yet. So the new query attends to the whole cache, and row ``t`` of the causal mask would keep
    every entry: there is nothing to mask, and the outputs are the rows of full causal attention.
    Each step costs one row of scores instead of recomputing the whole prefix. Several new tokens at
    once (a prompt's prefill, speculative verification) still need a mask among themselves.

    .. math::

        K_{\le t} = [K_{< t}; k_t], \qquad V_{\le t} = [V_{< t}; v_t], \qquad
        o_t = \mathrm{softmax}\!\left(\frac{q_t K_{\le t}^\top}{\sqrt{D}}\right) V_{\le t}

    Parameters
    ----------
    query, key : torch.Tensor
        ``(B, H, T, D)`` (any leading dimensions): the queries and keys of all ``T`` tokens, fed to the
        cache in order.
    value : torch.Tensor
        ``(B, H, T, Dv)``.
    scale : float, optional
        Score scale; default :math:`1/\sqrt{D}`.
    chunk_size : int, default 1
        Tokens appended per step. 1 is decoding; ``T`` is a single prefill. A chunk attends to the
        cache and causally to itself, with the causal mask aligned to the bottom right.
    return_cache : bool, default False
        Also return the final cache ``(key_cache, value_cache)`` (keyword only).

    Returns
    -------
    torch.Tensor or tuple
        Output ``(B, H, T, Dv)``, equal to
        ``F.scaled_dot_product_attention(query, key, value, is_causal=True)``; with ``return_cache``
        also the ``(B, H, T, D)`` and ``(B, H, T, Dv)`` cache tensors.

    See Also
    --------
    torch.nn.functional.scaled_dot_product_attention, kv_cache_bytes

    Notes
    -----
    The cache grows by concatenation, as Hugging Face's ``DynamicCache`` does; serving systems
    preallocate it in blocks. Positional information (RoPE) is applied to the keys before they are
    cached, so a cached key never changes.

    .. admonition:: Common mistake

        "With a KV cache the decoder never needs a causal mask."

        Only a single new query needs none. A chunk of new tokens (prefill, chunked prefill,
        speculative verification) must be masked among themselves, and the mask is aligned to the
        bottom right: new query ``i`` sees the whole cache and new keys ``<= i``. PyTorch's
        ``is_causal=True`` aligns to the top left when the query is shorter than the key, so it hides
        most of the cache; the examples show it gives a different answer.

    References
    ----------
    .. [1] R. Pope et al., "Efficiently Scaling Transformer Inference", MLSys 2023.

    Examples
    --------
    Token-by-token decoding equals full causal attention:

    >>> q, k, v = (torch.randn(2, 3, 6, 8, dtype=torch.float64) for _ in range(3))
    >>> out = decode_with_cache(q, k, v)
    >>> torch.allclose(out, F.scaled_dot_product_attention(q, k, v, is_causal=True))
    True

    The future does not exist yet: changing keys and values from position 4 on leaves outputs 0-3 alone,
    while attention over every key (no causality) is a different answer:

    >>> k2, v2 = k.clone(), v.clone()
    >>> k2[..., 4:, :], v2[..., 4:, :] = torch.randn(2, 3, 2, 8), torch.randn(2, 3, 2, 8)
    >>> torch.equal(decode_with_cache(q, k2, v2)[..., :4, :], out[..., :4, :])
    True
    >>> torch.allclose(out, F.scaled_dot_product_attention(q, k, v))
    False

    Chunks give the same result too (a whole prefill, or 4 tokens then 2):

    >>> all(torch.allclose(decode_with_cache(q, k, v, chunk_size=c), out) for c in (2, 4, 6))
    True

    A chunk of 2 new queries after 4 cached tokens needs the bottom-right mask, not ``is_causal=True``:

    >>> new = q[..., 4:, :]
    >>> torch.allclose(out[..., 4:, :], F.scaled_dot_product_attention(new, k, v, is_causal=True))
    False
    >>> bottom_right = torch.ones(2, 6, dtype=torch.bool).tril(4)
    >>> torch.allclose(out[..., 4:, :], F.scaled_dot_product_attention(new, k, v, attn_mask=bottom_right))
    True
    """
    scale = check_qkv(query, key, value, scale)
    T = query.shape[-2]
    if key.shape[-2] != T:
        raise ValueError(f"key must have the query's length {T} (self-attention), got shape {tuple(key.shape)}")
    chunk_size = check.integer("chunk_size", chunk_size, low=1)
    check.flag("return_cache", return_cache)
    if T == 0:
        out = value.new_zeros(*query.shape[:-1], value.shape[-1])  # (B, H, 0, Dv)
        return (out, (key, value)) if return_cache else out
    k_cache = key[..., :0, :]  # (B, H, 0, D)
    v_cache = value[..., :0, :]  # (B, H, 0, Dv)
    outputs = []
    for start in range(0, T, chunk_size):
        end = min(start + chunk_size, T)
        # append this step's keys and values: K_{<=t} = [K_{<t}; k_t]
        k_cache = torch.cat([k_cache, key[..., start:end, :]], dim=-2)  # (B, H, end, D)
        v_cache = torch.cat([v_cache, value[..., start:end, :]], dim=-2)  # (B, H, end, Dv)
        q = query[..., start:end, :]  # (B, H, n, D)
        s = scale * q @ k_cache.transpose(-2, -1)  # (B, H, n, end)
        if end - start > 1:
            # new query i sits at position start + i: it sees the cache and new keys <= i (bottom right)
            s = s.masked_fill(~causal_keep(end - start, end, offset=start, device=s.device), float("-inf"))
        # a single new query sees the whole cache: no mask
        outputs.append(torch.softmax(s, dim=-1) @ v_cache)  # (B, H, n, Dv)
    out = torch.cat(outputs, dim=-2)  # (B, H, T, Dv)
    return (out, (k_cache, v_cache)) if return_cache else out
