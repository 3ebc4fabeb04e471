"""Attention mechanisms

Attention turns a query into a weighted average of values, with weights from how well the query
matches each key. The mechanisms differ in the score function (dot product, scaled dot product,
bilinear, additive, location), in which keys a query may see (global, local, causal) and in where
queries, keys and values come from (self- versus cross-attention). This topic covers the
transformer's scaled dot-product and multi-head attention; the classic variants, and a comparison
of all of them, are in :mod:`nnfaq.sequences.attention_variants`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from nnfaq import _validate as check
from nnfaq._registry import question

__all__ = ["multi_head_attention", "scaled_dot_product_attention", "softmax_saturation"]


def _qkv(query, key, value) -> None:
    """Check (*, L, E) query, (*, S, E) key and (*, S, Ev) value."""
    for name, t in (("query", query), ("key", key), ("value", value)):
        check.tensor(name, t, min_ndim=2)
    if key.shape[-1] != query.shape[-1]:
        raise ValueError(f"key must have the query's last dimension {query.shape[-1]}, got shape {tuple(key.shape)}")
    if value.shape[-2] != key.shape[-2]:
        raise ValueError(f"value must have as many rows as key ({key.shape[-2]}), got shape {tuple(value.shape)}")
    check.same_dtype("query", query, key=key, value=value)


def _masked_softmax(s: torch.Tensor) -> torch.Tensor:
    """Softmax over the last dimension; a row whose every score is -inf gets all-zero weights (as PyTorch)."""
    dead = torch.isneginf(s).all(-1, keepdim=True)  # (*, L, 1)
    return torch.softmax(s.masked_fill(dead, 0.0), dim=-1).masked_fill(dead, 0.0)  # (*, L, S)


@question(
    "scaled-dot-product-attention",
    level="intermediate",
    short=(
        "Each query is compared with every key by a dot product divided by sqrt(d_k); a softmax over the keys "
        "turns each row of scores into non-negative weights summing to 1, and the output is the weighted "
        "average of the values. A mask removes keys before the softmax; the causal mask lets query i see only "
        "keys j <= i."
    ),
    followups=("why-scale-dot-product", "multi-head-attention", "self-attention"),
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
    *,
    return_weights: bool = False,
):
    r"""Scaled dot-product attention, as :func:`torch.nn.functional.scaled_dot_product_attention`.

    **How does scaled dot-product attention work, and what do attention masks do?**

    Each query is compared with every key by a dot product divided by :math:`\sqrt{d_k}`; a softmax
    over the keys turns each row of scores into non-negative weights that sum to 1, and the output
    is the weighted average of the values. A mask removes keys before the softmax: a boolean mask
    keeps the keys marked True, a float mask is added to the scores (``-inf`` removes), and the causal
    mask lets query ``i`` see keys ``j <= i`` only, so the first output is the first value.

    .. math::

        A = \mathrm{softmax}\!\left(\frac{Q K^\top}{\sqrt{d_k}} + M\right), \qquad
        \mathrm{Attention}(Q, K, V) = A V

    Parameters
    ----------
    query : torch.Tensor
        ``(*, L, E)``; ``*`` is for example ``(B, H)``.
    key : torch.Tensor
        ``(*, S, E)``.
    value : torch.Tensor
        ``(*, S, Ev)``.
    attn_mask : torch.Tensor, optional
        Broadcastable to ``(*, L, S)``: bool (True = may attend) or float (added to the scores).
    dropout_p : float, default 0.0
        Dropout probability on the weights, in ``[0, 1)``.
    is_causal : bool, default False
        Mask keys ``j > i`` (top-left aligned); not together with ``attn_mask``.
    scale : float, optional
        Score scale; default :math:`1/\sqrt{E}`.
    enable_gqa : bool, default False
        Grouped-query attention: ``key`` and ``value`` have fewer heads (dim -3) than ``query``.
    return_weights : bool, default False
        Also return the attention weights (keyword only; PyTorch's function cannot).

    Returns
    -------
    torch.Tensor or tuple of torch.Tensor
        Output ``(*, L, Ev)``, and with ``return_weights`` the weights ``(*, L, S)``.

    See Also
    --------
    torch.nn.functional.scaled_dot_product_attention

    Notes
    -----
    A query whose every key is masked gets zero weights and a zero output, as in PyTorch.
    Dropout uses :func:`torch.nn.functional.dropout` on the weights, so with the same seed the
    dropped weights are PyTorch's.

    References
    ----------
    .. [1] A. Vaswani et al., "Attention Is All You Need", NeurIPS 2017, section 3.2.1.

    Examples
    --------
    >>> q, k = torch.randn(2, 4, 5, 8, dtype=torch.float64), torch.randn(2, 4, 7, 8, dtype=torch.float64)
    >>> v = torch.randn(2, 4, 7, 3, dtype=torch.float64)
    >>> out, A = scaled_dot_product_attention(q, k, v, return_weights=True)
    >>> torch.allclose(out, F.scaled_dot_product_attention(q, k, v)), A.shape
    (True, torch.Size([2, 4, 5, 7]))
    >>> bool((A >= 0).all()), torch.allclose(A.sum(-1), torch.ones(2, 4, 5, dtype=torch.float64))
    (True, True)

    Boolean and additive masks agree with PyTorch, and masked keys get weight 0:

    >>> keep = torch.rand(5, 7) > 0.3
    >>> torch.allclose(scaled_dot_product_attention(q, k, v, keep), F.scaled_dot_product_attention(q, k, v, keep))
    True
    >>> add = torch.zeros(5, 7, dtype=torch.float64).masked_fill(~keep, float("-inf"))
    >>> torch.allclose(scaled_dot_product_attention(q, k, v, add), F.scaled_dot_product_attention(q, k, v, keep))
    True
    >>> bool((scaled_dot_product_attention(q, k, v, keep, return_weights=True)[1][..., ~keep] == 0).all())
    True

    Causal: the first query sees only the first key, so the first output is the first value:

    >>> out = scaled_dot_product_attention(q, k, v, is_causal=True)
    >>> torch.allclose(out, F.scaled_dot_product_attention(q, k, v, is_causal=True))
    True
    >>> torch.allclose(out[..., 0, :], v[..., 0, :])
    True
    """
    _qkv(query, key, value)
    dropout_p = check.number("dropout_p", dropout_p, low=0.0, high=1.0, high_open=True)
    for name, value_ in (("is_causal", is_causal), ("enable_gqa", enable_gqa), ("return_weights", return_weights)):
        check.flag(name, value_)
    L, S, E = query.shape[-2], key.shape[-2], query.shape[-1]
    scale = 1 / math.sqrt(E) if scale is None else check.number("scale", scale)
    if enable_gqa:
        if min(query.dim(), key.dim()) < 3 or key.shape[-3] == 0 or query.shape[-3] % key.shape[-3]:
            raise ValueError("key must have a number of heads (dim -3) that divides the query's when enable_gqa=True")
        if value.dim() < 3 or value.shape[-3] != key.shape[-3]:
            raise ValueError(f"value must have the key's number of heads {key.shape[-3]} (dim -3) when enable_gqa=True")
        g = query.shape[-3] // key.shape[-3]
        key, value = key.repeat_interleave(g, dim=-3), value.repeat_interleave(g, dim=-3)
    check.batch_broadcast(query, key=key, value=value)
    # s_ij = scale * q_i . k_j
    s = scale * query @ key.transpose(-2, -1)  # (*, L, S)
    if is_causal:
        if attn_mask is not None:
            raise ValueError("attn_mask must be None when is_causal=True")
        attn_mask = torch.ones(L, S, dtype=torch.bool, device=query.device).tril()  # (L, S)
    if attn_mask is not None:
        check.tensor("attn_mask", attn_mask, floating=getattr(attn_mask, "dtype", None) != torch.bool)
        try:
            fits = torch.broadcast_shapes(attn_mask.shape, s.shape) == s.shape
        except RuntimeError:
            fits = False
        if not fits:
            raise ValueError(f"attn_mask must broadcast to {tuple(s.shape)}, got {tuple(attn_mask.shape)}")
        # boolean: False -> -inf; float: added to the scores
        s = s.masked_fill(~attn_mask, float("-inf")) if attn_mask.dtype == torch.bool else s + attn_mask.to(s.dtype)
    A = _masked_softmax(s)  # (*, L, S)
    if dropout_p > 0:
        A = F.dropout(A, dropout_p)
    out = A @ value  # (*, L, Ev)
    return (out, A) if return_weights else out


@question(
    "why-scale-dot-product",
    level="intermediate",
    short=(
        "With unit-variance entries, q . k sums d_k products of variance 1, so its variance is d_k. Unscaled, "
        "the scores spread as d_k grows, the softmax becomes nearly one-hot and its Jacobian diag(a) - a a^T "
        "shrinks toward zero: gradients vanish. Dividing by sqrt(d_k) keeps the score variance at 1 for any "
        "d_k."
    ),
    followups=("scaled-dot-product-attention", "multi-head-attention"),
)
def softmax_saturation(d_k: int, scaled: bool = True, T: int = 32, n: int = 512, seed: int = 0) -> dict[str, float]:
    r"""Score spread, peak weight and softmax gradient size for random unit-variance queries and keys.

    **Why is dot-product attention scaled by one over the square root of d_k?**

    If the entries of ``q`` and ``k`` have mean 0 and variance 1, the dot product sums ``d_k``
    independent products of variance 1, so it has variance ``d_k``. Unscaled, the scores spread
    further as ``d_k`` grows, the softmax puts almost all weight on one key, and its Jacobian
    :math:`\mathrm{diag}(a) - a a^\top` goes to zero: gradients vanish. Dividing by
    :math:`\sqrt{d_k}` restores variance 1 at every size.

    .. math::

        \mathrm{Var}(q \cdot k) = \sum_{i=1}^{d_k} \mathrm{Var}(q_i k_i) = d_k, \qquad
        \mathrm{Var}\!\left(\frac{q \cdot k}{\sqrt{d_k}}\right) = 1, \qquad
        \frac{\partial a}{\partial s} = \mathrm{diag}(a) - a a^\top

    Parameters
    ----------
    d_k : int
        Query and key size.
    scaled : bool, default True
        Divide the scores by :math:`\sqrt{d_k}`.
    T : int, default 32
        Keys per query (softmax length), at least 2.
    n : int, default 512
        Number of random queries.
    seed : int, default 0
        Seed of the private generator, so the numbers are reproducible.

    Returns
    -------
    dict of str to float
        ``score_var`` (variance of the scores), ``max_weight`` (mean largest weight of a row) and
        ``jacobian_norm`` (mean Frobenius norm of the softmax Jacobian of a row).

    See Also
    --------
    scaled_dot_product_attention, torch.softmax

    Examples
    --------
    Scores have variance ``d_k`` unscaled and 1 scaled, to 10% (with only ``T = 32`` keys the sample
    variance itself varies by a few percent from seed to seed):

    >>> bool(abs(softmax_saturation(256, scaled=False)["score_var"] / 256 - 1) < 0.1)
    True
    >>> bool(abs(softmax_saturation(256)["score_var"] - 1) < 0.1)
    True

    Unscaled, the softmax saturates (almost one-hot) and its gradient shrinks as ``d_k`` grows:

    >>> small, large = softmax_saturation(4, scaled=False), softmax_saturation(1024, scaled=False)
    >>> large["max_weight"] > 0.9, large["jacobian_norm"] < small["jacobian_norm"] / 3
    (True, True)

    Scaled, both stay where they were at small ``d_k``:

    >>> a, b = softmax_saturation(4), softmax_saturation(1024)
    >>> abs(a["max_weight"] - b["max_weight"]) < 0.1, abs(a["jacobian_norm"] - b["jacobian_norm"]) < 0.05
    (True, True)

    The Jacobian formula is the one autograd finds:

    >>> s = torch.randn(5, dtype=torch.float64); a = torch.softmax(s, 0)
    >>> J = torch.autograd.functional.jacobian(lambda x: torch.softmax(x, 0), s)
    >>> torch.allclose(J, torch.diag(a) - torch.outer(a, a))
    True
    """
    d_k = check.integer("d_k", d_k, low=1)
    check.flag("scaled", scaled)
    T, n = check.integer("T", T, low=2), check.integer("n", n, low=1)
    seed = check.integer("seed", seed, low=-(2**63))
    if seed >= 2**64:
        raise ValueError(f"seed must be < 2**64, got {seed}")
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(n, d_k, generator=g, dtype=torch.float64)  # (n, d_k)
    k = torch.randn(T, d_k, generator=g, dtype=torch.float64)  # (T, d_k)
    s = q @ k.T / (math.sqrt(d_k) if scaled else 1.0)  # (n, T)
    a = torch.softmax(s, dim=-1)  # (n, T)
    # da/ds = diag(a) - a a^T, one (T, T) Jacobian per row
    J = torch.diag_embed(a) - a.unsqueeze(-1) * a.unsqueeze(-2)  # (n, T, T)
    return {
        "score_var": s.var().item(),
        "max_weight": a.max(-1).values.mean().item(),
        "jacobian_norm": torch.linalg.matrix_norm(J).mean().item(),
    }


@question(
    "multi-head-attention",
    level="intermediate",
    short=(
        "Queries, keys and values are projected by learned matrices and split into H heads of size d/H; each head "
        "runs scaled dot-product attention, and the heads are concatenated and projected back. Each head learns "
        "its own pattern of which tokens matter, where one head would average them. Heads save nothing: 4d^2 + 4d "
        "parameters for any H."
    ),
    followups=("scaled-dot-product-attention", "self-attention", "attention-mechanisms-compared"),
)
def multi_head_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    num_heads: int,
    in_proj_weight: torch.Tensor,
    in_proj_bias: torch.Tensor | None,
    out_proj_weight: torch.Tensor,
    out_proj_bias: torch.Tensor | None,
    key_padding_mask: torch.Tensor | None = None,
    attn_mask: torch.Tensor | None = None,
    average_attn_weights: bool = True,
    batch_first: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Multi-head attention with the weights and conventions of :class:`torch.nn.MultiheadAttention`.

    **What is multi-head attention, and why use several heads?**

    The queries, keys and values are projected with learned matrices, split into ``H`` heads of size
    ``D = d / H``, each head runs scaled dot-product attention on its own slice, and the heads are
    concatenated and projected back. Each head learns its own notion of which tokens are relevant
    (one may track the previous token, another the subject of the sentence); a single head would
    average these into one distribution. Heads do not save parameters or compute: the count is
    :math:`4d^2 + 4d` for any ``H``.

    .. math::

        \mathrm{head}_h = \mathrm{softmax}\!\left(\frac{Q W_h^Q (K W_h^K)^\top}{\sqrt{D}}\right) V W_h^V, \qquad
        \mathrm{MHA} = [\mathrm{head}_1, \dots, \mathrm{head}_H]\, W^O

    Parameters
    ----------
    query : torch.Tensor
        ``(L, B, d)``, or ``(B, L, d)`` if ``batch_first``.
    key, value : torch.Tensor
        ``(S, B, d)``, or ``(B, S, d)`` if ``batch_first``.
    num_heads : int
        ``H``; must divide ``d``.
    in_proj_weight, in_proj_bias : torch.Tensor
        ``(3d, d)`` and ``(3d,)`` (or None): :math:`W^Q, W^K, W^V` stacked, as in the module.
    out_proj_weight, out_proj_bias : torch.Tensor
        ``(d, d)`` and ``(d,)`` (or None): :math:`W^O`.
    key_padding_mask : torch.Tensor, optional
        ``(B, S)`` bool, True = padding (ignored); or float, added to the scores.
    attn_mask : torch.Tensor, optional
        ``(L, S)`` or ``(B*H, L, S)``: bool (True = NOT allowed) or float (added).
    average_attn_weights : bool, default True
        Average the returned weights over heads.
    batch_first : bool, default False
        Layout of inputs and output.

    Returns
    -------
    tuple of torch.Tensor
        Output in the layout of ``query``, and weights ``(B, L, S)`` (or ``(B, H, L, S)``).

    See Also
    --------
    torch.nn.MultiheadAttention, torch.nn.functional.multi_head_attention_forward

    Notes
    -----
    The module's masks use the opposite convention of ``F.scaled_dot_product_attention``: True
    means "do not attend", in ``key_padding_mask`` and in a boolean ``attn_mask``.

    .. admonition:: Common mistake

        "Multi-head attention splits Q, K and V into smaller matrices because that is more efficient
        than one attention over the large matrices."

        Heads are not an efficiency device: ``torch.nn.MultiheadAttention`` has :math:`4d^2+4d`
        parameters and the same projection and score cost for 1 head or 16, and its attention weights
        take ``H`` times the memory. The point is expressiveness: each head attends with its own
        weights in its own learned subspace. The examples count the parameters for 1 to 16 heads and
        show that the same weights with 1 or 4 heads compute different functions.

    References
    ----------
    .. [1] A. Vaswani et al., "Attention Is All You Need", NeurIPS 2017, section 3.2.2.

    Examples
    --------
    >>> mha = nn.MultiheadAttention(16, 4, dtype=torch.float64)
    >>> x, y = torch.randn(5, 2, 16, dtype=torch.float64), torch.randn(7, 2, 16, dtype=torch.float64)
    >>> pad = torch.tensor([[False] * 7, [False] * 4 + [True] * 3])
    >>> out, A = multi_head_attention(x, y, y, 4, mha.in_proj_weight, mha.in_proj_bias,
    ...                               mha.out_proj.weight, mha.out_proj.bias, key_padding_mask=pad)
    >>> ref, A_ref = mha(x, y, y, key_padding_mask=pad)
    >>> torch.allclose(out, ref)
    True
    >>> torch.allclose(A, A_ref), bool((A[1, :, 4:] == 0).all())
    (True, True)

    Unaveraged, the weights are one ``(L, S)`` map per head: ``H`` times the memory of one head's:

    >>> multi_head_attention(x, y, y, 4, mha.in_proj_weight, mha.in_proj_bias, mha.out_proj.weight,
    ...                      mha.out_proj.bias, average_attn_weights=False)[1].shape
    torch.Size([2, 4, 5, 7])

    The parameter count is :math:`4d^2 + 4d` whatever the number of heads:

    >>> [sum(p.numel() for p in nn.MultiheadAttention(64, h).parameters()) for h in (1, 2, 4, 8, 16)]
    [16640, 16640, 16640, 16640, 16640]
    >>> 4 * 64**2 + 4 * 64
    16640

    Same weights, different number of heads: a different function, not a cheaper one:

    >>> one = multi_head_attention(x, y, y, 1, mha.in_proj_weight, mha.in_proj_bias, mha.out_proj.weight, None)[0]
    >>> four = multi_head_attention(x, y, y, 4, mha.in_proj_weight, mha.in_proj_bias, mha.out_proj.weight, None)[0]
    >>> torch.allclose(one, four)
    False
    """
    for name, t in (("query", query), ("key", key), ("value", value)):
        check.tensor(name, t, ndim=3)
    H = check.integer("num_heads", num_heads, low=1)
    check.flag("batch_first", batch_first)
    check.flag("average_attn_weights", average_attn_weights)
    if not batch_first:  # (T, B, d) -> (B, T, d)
        query, key, value = (t.transpose(0, 1) for t in (query, key, value))
    (B, L, d), S = query.shape, key.shape[1]
    if d % H:
        raise ValueError(f"num_heads must divide the embedding dimension {d}, got {H}")
    if key.shape != (B, S, d) or value.shape != (B, S, d):
        raise ValueError(f"key and value must both have batch {B}, embedding {d} and the same length")
    check.same_shape("in_proj_weight", check.tensor("in_proj_weight", in_proj_weight), (3 * d, d), "3 * embed dim")
    check.same_shape("out_proj_weight", check.tensor("out_proj_weight", out_proj_weight), (d, d), "embed dim")
    for name, b, n in (("in_proj_bias", in_proj_bias, 3 * d), ("out_proj_bias", out_proj_bias, d)):
        if b is not None:
            check.same_shape(name, check.tensor(name, b), (n,))
    check.same_dtype(
        "query",
        query,
        key=key,
        value=value,
        in_proj_weight=in_proj_weight,
        in_proj_bias=in_proj_bias,
        out_proj_weight=out_proj_weight,
        out_proj_bias=out_proj_bias,
    )
    D = d // H
    b_q, b_k, b_v = (None, None, None) if in_proj_bias is None else in_proj_bias.chunk(3)
    W_q, W_k, W_v = in_proj_weight.chunk(3)  # 3 x (d, d)
    # split d = H * D: (B, T, d) -> (B, H, T, D)
    q = F.linear(query, W_q, b_q).view(B, L, H, D).transpose(1, 2)  # (B, H, L, D)
    k = F.linear(key, W_k, b_k).view(B, S, H, D).transpose(1, 2)  # (B, H, S, D)
    v = F.linear(value, W_v, b_v).view(B, S, H, D).transpose(1, 2)  # (B, H, S, D)
    M = torch.zeros(B, 1, L, S, dtype=q.dtype)  # additive mask, -inf = ignore
    if key_padding_mask is not None:
        kpm = check.tensor(
            "key_padding_mask", key_padding_mask, floating=getattr(key_padding_mask, "dtype", 0) != torch.bool
        )
        check.same_shape("key_padding_mask", kpm, (B, S))
        # bool: True -> -inf; float: added to the scores, as in the module
        kpm = kpm[:, None, None, :]  # (B, 1, 1, S)
        M = M.masked_fill(kpm, float("-inf")) if kpm.dtype == torch.bool else M + kpm
    if attn_mask is not None:
        check.tensor("attn_mask", attn_mask, ndim=(2, 3), floating=getattr(attn_mask, "dtype", None) != torch.bool)
        if attn_mask.shape not in ((L, S), (B * H, L, S)):
            raise ValueError(f"attn_mask must have shape {(L, S)} or {(B * H, L, S)}, got {tuple(attn_mask.shape)}")
        m = attn_mask.reshape(-1, H, L, S) if attn_mask.dim() == 3 else attn_mask  # (B, H, L, S) or (L, S)
        M = M.masked_fill(m, float("-inf")) if m.dtype == torch.bool else M + m
    out, A = scaled_dot_product_attention(q, k, v, M, return_weights=True)  # (B, H, L, D), (B, H, L, S)
    # concatenate the heads and project: [head_1, ..., head_H] W^O
    out = F.linear(out.transpose(1, 2).reshape(B, L, d), out_proj_weight, out_proj_bias)  # (B, L, d)
    return (out if batch_first else out.transpose(0, 1)), (A.mean(1) if average_attn_weights else A)
