"""Attention variants: additive, multiplicative, location, local and self-attention

The classic score functions from neural machine translation, before transformers: Bahdanau's
additive score, Luong's multiplicative ("general") and location scores; local attention, which
restricts each query to a window of keys to make the cost linear in the sequence length; and
self-attention, where queries, keys and values all come from the same sequence.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from nnfaq import _validate as check
from nnfaq._registry import question

__all__ = [
    "additive_attention",
    "local_attention",
    "location_attention",
    "multiplicative_attention",
    "self_attention",
]


def _pair(query, key, value):
    """Check (*, L, d_q) query, (*, S, d_k) key and (*, S, d_v) value; sizes d_q and d_k may differ."""
    for name, t in (("query", query), ("key", key), ("value", value)):
        check.tensor(name, t, min_ndim=2)
    if value.shape[-2] != key.shape[-2]:
        raise ValueError(f"value must have as many rows as key ({key.shape[-2]}), got shape {tuple(value.shape)}")
    check.same_dtype("query", query, key=key, value=value)
    check.batch_broadcast(query, key=key, value=value)


@question("additive-attention")
def additive_attention(query, key, value, W_q, W_k, v) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Additive (Bahdanau) attention: a one-hidden-layer network scores each query-key pair.

    **What is additive (Bahdanau) attention, and when would you use it instead of dot-product attention?**

    The score of a query and a key is :math:`v^\top \tanh(W_q q + W_k k)`: both are projected to a
    hidden size ``d_a``, added, squashed and read out. Because each has its own projection, query and
    key sizes may differ (an RNN decoder state against bidirectional encoder states), and the score
    is a learned nonlinear similarity. The cost is a :math:`(L, S, d_a)` intermediate instead of one
    matrix product, so dot-product attention is faster and is what transformers use.

    .. math::

        e_{ij} = v^\top \tanh(W_q q_i + W_k k_j), \qquad a_{ij} = \mathrm{softmax}_j(e_{ij}), \qquad
        c_i = \sum_j a_{ij} v_j

    Parameters
    ----------
    query : torch.Tensor
        ``(*, L, d_q)``.
    key : torch.Tensor
        ``(*, S, d_k)``.
    value : torch.Tensor
        ``(*, S, d_v)``.
    W_q, W_k : torch.Tensor
        ``(d_a, d_q)`` and ``(d_a, d_k)``.
    v : torch.Tensor
        ``(d_a,)``.

    Returns
    -------
    tuple of torch.Tensor
        Context ``(*, L, d_v)`` and weights ``(*, L, S)``.

    See Also
    --------
    nnfaq.attention.scaled_dot_product_attention, multiplicative_attention

    References
    ----------
    .. [1] D. Bahdanau, K. Cho, Y. Bengio, "Neural Machine Translation by Jointly Learning to Align
       and Translate", ICLR 2015, appendix A.1.2.

    Examples
    --------
    A decoder state of size 6 attends over 5 encoder states of size 10 (the sizes differ):

    >>> q, k = torch.randn(1, 6, dtype=torch.float64), torch.randn(5, 10, dtype=torch.float64)
    >>> W_q, W_k, v = (torch.randn(8, 6, dtype=torch.float64), torch.randn(8, 10, dtype=torch.float64),
    ...                torch.randn(8, dtype=torch.float64))
    >>> c, a = additive_attention(q, k, k, W_q, W_k, v)
    >>> c.shape, a.shape, round(a.sum().item(), 6)
    (torch.Size([1, 10]), torch.Size([1, 5]), 1.0)

    The same score written out for one pair:

    >>> e = [v @ torch.tanh(W_q @ q[0] + W_k @ k[j]) for j in range(5)]
    >>> torch.allclose(a[0], torch.softmax(torch.stack(e), 0))
    True
    >>> torch.allclose(c[0], a[0] @ k)
    True

    Its parameter count is ``d_a (d_q + d_k + 1)``, the table's ``2d^2 + d`` for ``d_q = d_k = d_a = d``:

    >>> W_q.numel() + W_k.numel() + v.numel()
    136
    """
    _pair(query, key, value)
    d_q, d_k = query.shape[-1], key.shape[-1]
    d_a = check.tensor("v", v, ndim=1).shape[0]
    check.same_shape("W_q", check.tensor("W_q", W_q, ndim=2), (d_a, d_q), "(len(v), query size)")
    check.same_shape("W_k", check.tensor("W_k", W_k, ndim=2), (d_a, d_k), "(len(v), key size)")
    check.same_dtype("query", query, W_q=W_q, W_k=W_k, v=v)
    # e_ij = v . tanh(W_q q_i + W_k k_j), broadcast over (L, S)
    e = torch.tanh((query @ W_q.T).unsqueeze(-2) + (key @ W_k.T).unsqueeze(-3)) @ v  # (*, L, S)
    a = torch.softmax(e, dim=-1)  # (*, L, S)
    return a @ value, a  # (*, L, d_v), (*, L, S)


@question("multiplicative-attention")
def multiplicative_attention(query, key, value, weight=None) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Multiplicative (Luong) attention: score :math:`q^\top W k`, or :math:`q \cdot k` without ``weight``.

    **What is multiplicative (Luong) attention, and how does it relate to dot-product attention?**

    Luong's "general" score is the bilinear form :math:`q^\top W k`; with :math:`W = I` it is the
    plain dot product, and scaled dot-product attention only adds the :math:`1/\sqrt{d_k}` factor.
    A rectangular ``W`` lets query and key sizes differ, and because :math:`q^\top W k = (W^\top q)
    \cdot k` it is one matrix product, as fast as dot-product attention. Transformers go one step
    further and factor :math:`W = W_Q W_K^\top` into two projections (low rank per head).

    .. math::

        e_{ij} = q_i^\top W k_j, \qquad a_{ij} = \mathrm{softmax}_j(e_{ij}), \qquad c_i = \sum_j a_{ij} v_j

    Parameters
    ----------
    query : torch.Tensor
        ``(*, L, d_q)``.
    key : torch.Tensor
        ``(*, S, d_k)``.
    value : torch.Tensor
        ``(*, S, d_v)``.
    weight : torch.Tensor, optional
        ``(d_q, d_k)``; None for the dot score (then ``d_q`` must equal ``d_k``).

    Returns
    -------
    tuple of torch.Tensor
        Context ``(*, L, d_v)`` and weights ``(*, L, S)``.

    See Also
    --------
    nnfaq.attention.scaled_dot_product_attention, additive_attention

    References
    ----------
    .. [1] M.-T. Luong, H. Pham, C. D. Manning, "Effective Approaches to Attention-based Neural
       Machine Translation", EMNLP 2015, section 3.1.

    Examples
    --------
    The dot score is scaled dot-product attention with scale 1; the general score projects the query:

    >>> q, k, v = (torch.randn(2, 4, 6, dtype=torch.float64), torch.randn(2, 5, 6, dtype=torch.float64),
    ...            torch.randn(2, 5, 3, dtype=torch.float64))
    >>> torch.allclose(multiplicative_attention(q, k, v)[0], F.scaled_dot_product_attention(q, k, v, scale=1.0))
    True
    >>> W = torch.randn(6, 6, dtype=torch.float64)
    >>> ours = multiplicative_attention(q, k, v, W)[0]
    >>> torch.allclose(ours, F.scaled_dot_product_attention(q @ W, k, v, scale=1.0))
    True
    >>> I = torch.eye(6, dtype=torch.float64)
    >>> torch.allclose(multiplicative_attention(q, k, v, I)[0], multiplicative_attention(q, k, v)[0])
    True

    A rectangular ``W`` lets a query of size 6 attend over keys of size 9:

    >>> k9 = torch.randn(2, 5, 9, dtype=torch.float64)
    >>> multiplicative_attention(q, k9, v, torch.randn(6, 9, dtype=torch.float64))[1].shape
    torch.Size([2, 4, 5])
    """
    _pair(query, key, value)
    if weight is None:
        if key.shape[-1] != query.shape[-1]:
            raise ValueError(f"key must have the query's size {query.shape[-1]} without weight, got {key.shape[-1]}")
        weight = torch.eye(query.shape[-1], dtype=query.dtype)
    check.same_shape("weight", check.tensor("weight", weight, ndim=2), (query.shape[-1], key.shape[-1]), "(d_q, d_k)")
    check.same_dtype("query", query, weight=weight)
    # e_ij = (W^T q_i) . k_j
    e = (query @ weight) @ key.transpose(-2, -1)  # (*, L, S)
    a = torch.softmax(e, dim=-1)  # (*, L, S)
    return a @ value, a  # (*, L, d_v), (*, L, S)


@question("location-based-attention")
def location_attention(query, value, weight) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Location-based (Luong) attention: weights from the query alone, :math:`a = \mathrm{softmax}(W q)`.

    **What is location-based attention?**

    The weights are computed from the decoder state only, :math:`a_t = \mathrm{softmax}(W_a h_t)`,
    one learned score per source position: the model learns *where* to look, not *what* to match.
    It needs no keys and is cheap, but it ignores the source content and only handles sources up to
    the number of rows of ``W``. (The "location-aware" attention of Chorowski et al. instead adds
    features of the previous alignment to an additive score.)

    .. math::

        a_t = \mathrm{softmax}(W h_t), \qquad c_t = \sum_s a_{ts} v_s

    Parameters
    ----------
    query : torch.Tensor
        ``(*, L, d)`` decoder states.
    value : torch.Tensor
        ``(*, S, d_v)`` source states.
    weight : torch.Tensor
        ``(S, d)``: one row per source position.

    Returns
    -------
    tuple of torch.Tensor
        Context ``(*, L, d_v)`` and weights ``(*, L, S)``.

    See Also
    --------
    multiplicative_attention

    References
    ----------
    .. [1] M.-T. Luong, H. Pham, C. D. Manning, "Effective Approaches to Attention-based Neural
       Machine Translation", EMNLP 2015, section 3.1.
    .. [2] J. Chorowski et al., "Attention-Based Models for Speech Recognition", NeurIPS 2015.

    Examples
    --------
    >>> h, src = torch.randn(3, 8, dtype=torch.float64), torch.randn(5, 4, dtype=torch.float64)
    >>> W = torch.randn(5, 8, dtype=torch.float64)  # 5 source positions
    >>> c, a = location_attention(h, src, W)
    >>> torch.allclose(a, torch.softmax(h @ W.T, -1)), c.shape
    (True, torch.Size([3, 4]))

    The weights do not depend on the source content at all:

    >>> torch.equal(location_attention(h, 10 * torch.randn(5, 4, dtype=torch.float64), W)[1], a)
    True
    """
    check.tensor("query", query, min_ndim=2)
    check.tensor("value", value, min_ndim=2)
    check.tensor("weight", weight, ndim=2)
    if weight.shape[1] != query.shape[-1]:
        raise ValueError(f"weight must have {query.shape[-1]} columns (query size), got shape {tuple(weight.shape)}")
    if value.shape[-2] != weight.shape[0]:
        raise ValueError(
            f"value must have {weight.shape[0]} positions (rows of weight), got shape {tuple(value.shape)}"
        )
    check.same_dtype("query", query, value=value, weight=weight)
    check.batch_broadcast(query, value=value)
    # a_t = softmax(W h_t): one score per source position, no keys
    a = torch.softmax(query @ weight.T, dim=-1)  # (*, L, S)
    return a @ value, a  # (*, L, d_v), (*, L, S)


@question("global-vs-local-attention")
def local_attention(query, key, value, window: int | None = None, scale: float | None = None):
    r"""Scaled dot-product attention restricted to keys within ``window`` positions of the query.

    **What is the difference between global and local attention?**

    Global attention scores every query against every key: :math:`T^2` scores, so time and memory
    grow quadratically with the sequence. Local attention lets query ``i`` see only keys ``j`` with
    :math:`|i - j| \le w`: at most :math:`2w + 1` scores per query, linear in ``T``, which suits long
    sequences whose dependencies are mostly nearby. The price is that nothing outside the window is
    seen in one layer; stacking ``n`` layers widens the receptive field to :math:`n w`.

    .. math::

        a_{ij} = \mathrm{softmax}_j\!\left(\frac{q_i \cdot k_j}{\sqrt{d}} + M_{ij}\right), \qquad
        M_{ij} = \begin{cases} 0 & |i - j| \le w \\ -\infty & \text{otherwise} \end{cases}

    Parameters
    ----------
    query : torch.Tensor
        ``(*, T, d)``.
    key : torch.Tensor
        ``(*, S, d)``.
    value : torch.Tensor
        ``(*, S, d_v)``.
    window : int, optional
        ``w >= 0``; None for global attention.
    scale : float, optional
        Score scale; default :math:`1/\sqrt{d}`.

    Returns
    -------
    tuple of torch.Tensor
        Output ``(*, T, d_v)`` and weights ``(*, T, S)``.

    See Also
    --------
    torch.nn.functional.scaled_dot_product_attention, nnfaq.attention.attention_mechanisms

    Notes
    -----
    This is Luong's local-m (monotonic, window centred at ``p_t = t``) with a hard window; local-p
    predicts the centre and adds a Gaussian. Sparse transformers (Longformer, Mistral's sliding
    window) use the same band, with a kernel that never computes the masked scores; this reference
    computes them and masks them, to show the result, not the speed. A query with no key in its
    window (possible when ``T > S + w``) gets zero weights and a zero output, as in PyTorch.

    References
    ----------
    .. [1] M.-T. Luong, H. Pham, C. D. Manning, "Effective Approaches to Attention-based Neural
       Machine Translation", EMNLP 2015, section 3.2.
    .. [2] I. Beltagy, M. E. Peters, A. Cohan, "Longformer: The Long-Document Transformer", 2020.

    Examples
    --------
    Global attention is PyTorch's; local attention is PyTorch's with a band mask:

    >>> q, k, v = (torch.randn(2, 12, 8, dtype=torch.float64) for _ in range(3))
    >>> torch.allclose(local_attention(q, k, v)[0], F.scaled_dot_product_attention(q, k, v))
    True
    >>> i = torch.arange(12)
    >>> band = (i[:, None] - i[None, :]).abs() <= 2
    >>> out, A = local_attention(q, k, v, window=2)
    >>> torch.allclose(out, F.scaled_dot_product_attention(q, k, v, attn_mask=band))
    True

    At most ``2w + 1`` non-zero weights per query, ``T(2w+1) - w(w+1)`` in all, against ``T^2``:

    >>> int((A[0] > 0).sum(-1).max()), int((A[0] > 0).sum()), int((local_attention(q, k, v)[1][0] > 0).sum())
    (5, 54, 144)

    A window that covers the sequence is global attention:

    >>> torch.allclose(local_attention(q, k, v, window=11)[0], local_attention(q, k, v)[0])
    True
    """
    _pair(query, key, value)
    if key.shape[-1] != query.shape[-1]:
        raise ValueError(f"key must have the query's last dimension {query.shape[-1]}, got shape {tuple(key.shape)}")
    T, S = query.shape[-2], key.shape[-2]
    scale = 1 / math.sqrt(query.shape[-1]) if scale is None else check.number("scale", scale)
    s = scale * query @ key.transpose(-2, -1)  # (*, T, S)
    if window is not None:
        w = check.integer("window", window, low=0)
        # M_ij = -inf outside |i - j| <= w
        far = (torch.arange(T)[:, None] - torch.arange(S)[None, :]).abs() > w  # (T, S)
        s = s.masked_fill(far, float("-inf"))
        # a query with no key in its window (T > S + w) gets zero weights, as in PyTorch, not NaN
        empty = far.all(-1, keepdim=True)  # (T, 1)
        s = s.masked_fill(empty, 0.0)
    A = torch.softmax(s, dim=-1)  # (*, T, S)
    if window is not None:
        A = A.masked_fill(empty, 0.0)
    return A @ value, A  # (*, T, d_v), (*, T, S)


@question("self-attention")
def self_attention(x, in_proj_weight=None, is_causal: bool = False) -> torch.Tensor:
    r"""Self-attention: scaled dot-product attention whose queries, keys and values all come from ``x``.

    **What is self-attention, and how does it differ from cross-attention?**

    In self-attention one sequence attends to itself: :math:`Q = X W_Q`, :math:`K = X W_K`,
    :math:`V = X W_V` (or simply ``q = k = v = x``), so every token's output is a weighted average
    over the tokens of the same sequence and the output has the input's length. In cross-attention
    the queries come from one sequence (the decoder) and the keys and values from another (the
    encoder), so the output has the query's length. A causal mask makes token ``t`` depend on
    tokens ``<= t`` only, which is what lets a decoder generate left to right.

    .. math::

        \mathrm{SelfAttention}(X) = \mathrm{softmax}\!\left(\frac{X W_Q (X W_K)^\top}{\sqrt{d}}\right) X W_V

    Parameters
    ----------
    x : torch.Tensor
        ``(*, T, C)``.
    in_proj_weight : torch.Tensor, optional
        ``(3C, C)``: :math:`W_Q, W_K, W_V` stacked as in ``torch.nn.MultiheadAttention``; None for
        ``q = k = v = x``.
    is_causal : bool, default False
        Token ``t`` attends to tokens ``<= t`` only.

    Returns
    -------
    torch.Tensor
        ``(*, T, C)``.

    See Also
    --------
    torch.nn.functional.scaled_dot_product_attention, nnfaq.attention.multi_head_attention

    Examples
    --------
    >>> x, W = torch.randn(2, 6, 8, dtype=torch.float64), torch.randn(24, 8, dtype=torch.float64)
    >>> q, k, v = (x @ W.T).chunk(3, dim=-1)
    >>> torch.allclose(self_attention(x, W), F.scaled_dot_product_attention(q, k, v))
    True
    >>> torch.allclose(self_attention(x), F.scaled_dot_product_attention(x, x, x)), self_attention(x).shape
    (True, torch.Size([2, 6, 8]))

    Cross-attention: 3 decoder queries over the 6 encoder tokens give 3 outputs:

    >>> F.scaled_dot_product_attention(torch.randn(2, 3, 8, dtype=torch.float64), x, x).shape
    torch.Size([2, 3, 8])

    Causal: changing the future (tokens 4 and 5) leaves the outputs of tokens 0 to 3 unchanged:

    >>> y = x.clone(); y[:, 4:] = torch.randn(2, 2, 8, dtype=torch.float64)
    >>> a, b = self_attention(x, W, is_causal=True), self_attention(y, W, is_causal=True)
    >>> torch.allclose(a[:, :4], b[:, :4]), torch.allclose(a[:, 4:], b[:, 4:])
    (True, False)
    """
    check.tensor("x", x, min_ndim=2)
    check.flag("is_causal", is_causal)
    C = x.shape[-1]
    if in_proj_weight is None:
        q = k = v = x  # (*, T, C)
    else:
        check.same_shape("in_proj_weight", check.tensor("in_proj_weight", in_proj_weight), (3 * C, C), "(3C, C)")
        check.same_dtype("x", x, in_proj_weight=in_proj_weight)
        # [Q, K, V] = X [W_Q, W_K, W_V]^T
        q, k, v = (x @ in_proj_weight.T).chunk(3, dim=-1)  # 3 x (*, T, C)
    return F.scaled_dot_product_attention(q, k, v, is_causal=is_causal)  # (*, T, C)
