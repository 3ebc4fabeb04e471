"""Attention variants: additive, multiplicative, location, local and self-attention

The classic score functions from neural machine translation, before transformers: Bahdanau's
additive score, Luong's multiplicative ("general") and location scores; local attention, which
restricts each query to a window of keys to make the cost linear in the sequence length;
self-attention, where queries, keys and values all come from the same sequence; and a comparison
of every mechanism, measured by running them.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from nnfaq import _validate as check
from nnfaq._registry import question

__all__ = [
    "additive_attention",
    "attention_mechanisms",
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


@question(
    "additive-attention",
    level="intermediate",
    short=(
        "Bahdanau's score v^T tanh(W_q q + W_k k) is a one-hidden-layer network applied to each query-key pair. "
        "Separate projections let query and key sizes differ, and the similarity is learned and nonlinear. It "
        "builds an (L, S, d_a) intermediate instead of one matrix product, so dot-product attention is faster, "
        "which is why transformers use that."
    ),
    followups=("multiplicative-attention", "scaled-dot-product-attention", "attention-mechanisms-compared"),
)
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
    nnfaq.sequences.attention.scaled_dot_product_attention, multiplicative_attention

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


@question(
    "multiplicative-attention",
    level="intermediate",
    short=(
        "Luong's general score is the bilinear form q^T W k; with W = I it is the dot product, and scaled "
        "dot-product attention only adds 1/sqrt(d_k). A rectangular W lets query and key sizes differ, and since "
        "q^T W k = (W^T q) . k it is still one matrix product. Transformers factor W into two projections, W_Q "
        "W_K^T."
    ),
    followups=("additive-attention", "scaled-dot-product-attention"),
)
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
    nnfaq.sequences.attention.scaled_dot_product_attention, additive_attention

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


@question(
    "location-based-attention",
    level="intermediate",
    short=(
        "The weights come from the decoder state alone, softmax(W h_t): one learned score per source position, "
        "so the model learns where to look, not what to match. It needs no keys and is cheap, but it ignores the "
        "source content and handles sources only up to the number of rows of W."
    ),
    followups=("additive-attention", "attention-mechanisms-compared"),
)
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


@question(
    "global-vs-local-attention",
    level="intermediate",
    short=(
        "Global attention scores every query against every key: T^2 scores, quadratic time and memory. Local "
        "attention lets query i see only keys within w positions, at most 2w + 1 scores per query, linear in "
        "T, which suits long sequences with mostly nearby dependencies. One layer sees nothing beyond the "
        "window; n stacked layers reach n w positions."
    ),
    followups=("attention-mechanisms-compared", "self-attention"),
)
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
    torch.nn.functional.scaled_dot_product_attention, attention_mechanisms

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

    Two stacked layers with ``w = 2``: the first output depends on tokens 0 to ``2w = 4``, no further:

    >>> x = torch.randn(12, 8, dtype=torch.float64, requires_grad=True)
    >>> h = local_attention(x, x, x, window=2)[0]
    >>> local_attention(h, h, h, window=2)[0][0].sum().backward()
    >>> (x.grad.abs().sum(1) != 0).nonzero().flatten().tolist()
    [0, 1, 2, 3, 4]
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


@question(
    "self-attention",
    level="basic",
    short=(
        "In self-attention a sequence attends to itself: queries, keys and values are projections of the same "
        "tokens, so each output is a weighted average over that sequence, with its length. In cross-attention the "
        "queries come from one sequence (the decoder), keys and values from another (the encoder). A causal mask "
        "limits token t to tokens up to t."
    ),
    followups=("scaled-dot-product-attention", "why-positional-encoding", "multi-head-attention"),
)
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
    torch.nn.functional.scaled_dot_product_attention, nnfaq.sequences.attention.multi_head_attention

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


def _accepts(fn, *args) -> bool:
    """Whether ``fn(*args)`` runs; False if it refuses the arguments with ValueError."""
    try:
        fn(*args)
    except ValueError:
        return False
    return True


@question(
    "attention-mechanisms-compared",
    level="intermediate",
    short=(
        "All score a query against keys, softmax the scores and average the values; the score differs. Dot "
        "product is free and fast but needs equal sizes and saturates unless scaled by 1/sqrt(d). Bilinear "
        "(Luong) and additive (Bahdanau) scores learn parameters and allow different sizes. Location scores "
        "ignore keys. Local attention is linear in length, blind beyond its window."
    ),
    followups=("additive-attention", "global-vs-local-attention", "multi-head-attention"),
)
def attention_mechanisms(d_model: int = 64, T: int = 128, window: int = 8, num_heads: int = 8) -> dict[str, dict]:
    r"""Compare attention mechanisms by running them: learned parameters, scores computed, allowed sizes.

    **Describe several attention mechanisms, what are advantages and disadvantages?**

    Every mechanism scores a query against keys, turns the scores into weights with a softmax and
    averages the values; they differ in the score. Dot-product scores are free and fast (one matrix
    product) but need equal query and key sizes and saturate the softmax unless scaled by
    :math:`1/\sqrt{d_k}`; bilinear (Luong "general") and additive (Bahdanau) scores learn parameters and
    allow different sizes, additive at the price of a :math:`(T_q, T_k, d_a)` intermediate; location
    scores ignore the keys and fix the source length. Global attention costs :math:`T^2` scores;
    local attention :math:`T(2w+1) - w(w+1)` but cannot see beyond the window. Multi-head attention
    runs ``H`` scaled dot products in learned subspaces, :math:`H T^2` scores, with :math:`4d^2+4d`
    parameters for any number of heads.

    Parameters
    ----------
    d_model : int, default 64
        Query and key size ``d`` (and the additive hidden size ``d_a = d``).
    T : int, default 128
        Number of queries and keys (self-attention over ``T`` tokens); also the location maximum length.
    window : int, default 8
        Local attention looks ``window`` positions left and right.
    num_heads : int, default 8
        Heads of the multi-head row; must divide ``d_model``.

    Returns
    -------
    dict of str to dict
        One row per mechanism: ``score`` (formula), ``params`` (learned parameters, int),
        ``scores`` (query-key scores computed for ``T`` queries, int), ``qk_sizes_may_differ`` (bool;
        None for location attention, which has no keys), ``advantage`` and ``disadvantage`` (str).

    See Also
    --------
    multiplicative_attention, additive_attention, location_attention, local_attention,
    nnfaq.sequences.attention.scaled_dot_product_attention, nnfaq.sequences.attention.multi_head_attention

    Notes
    -----
    Every number is measured, not typed: each mechanism runs once on random self-attention inputs of
    ``T`` tokens of size ``d``, in float64. ``params`` is the ``numel`` of the weights the call
    needs (of ``torch.nn.MultiheadAttention`` for the multi-head row), ``scores`` the number of
    non-zero attention weights it returns, and ``qk_sizes_may_differ`` whether it accepts keys of size
    ``d + 1`` (refused with ValueError if not). Dot and scaled dot are :func:`multiplicative_attention`
    without a weight and :func:`local_attention` without a window; ``T^2`` scores of size ``d`` are
    materialized, so keep ``T`` in the thousands.

    References
    ----------
    .. [1] D. Bahdanau, K. Cho, Y. Bengio, "Neural Machine Translation by Jointly Learning to Align
       and Translate", ICLR 2015.
    .. [2] M.-T. Luong, H. Pham, C. D. Manning, "Effective Approaches to Attention-based Neural
       Machine Translation", EMNLP 2015.
    .. [3] A. Vaswani et al., "Attention Is All You Need", NeurIPS 2017.

    Examples
    --------
    >>> table = attention_mechanisms(d_model=64, T=32, window=8, num_heads=8)
    >>> {name: row["params"] for name, row in table.items()}
    {'dot': 0, 'scaled_dot': 0, 'multiplicative': 4096, 'additive': 8256, 'location': 2048,
     'local': 0, 'multi_head': 16640}
    >>> [name for name, row in table.items() if row["qk_sizes_may_differ"]]
    ['multiplicative', 'additive', 'multi_head']

    The measured counts are the formulas: ``d^2``, ``2d^2 + d``, ``4d^2 + 4d``; ``T^2`` scores for global
    attention, ``T(2w+1) - w(w+1)`` for local, ``H T^2`` for multi-head:

    >>> d, T, w = 64, 32, 8
    >>> table["multiplicative"]["params"] == d * d, table["additive"]["params"] == 2 * d * d + d
    (True, True)
    >>> table["multi_head"]["params"] == 4 * d * d + 4 * d
    True
    >>> table["dot"]["scores"] == T * T, table["local"]["scores"] == T * (2 * w + 1) - w * (w + 1)
    (True, True)
    >>> table["multi_head"]["scores"] == 8 * T * T
    True

    Global attention is quadratic in ``T``; local attention is linear:

    >>> small, big = attention_mechanisms(d_model=16, T=64), attention_mechanisms(d_model=16, T=128)
    >>> big["dot"]["scores"] / small["dot"]["scores"], round(big["local"]["scores"] / small["local"]["scores"], 2)
    (4.0, 2.07)
    """
    d = check.integer("d_model", d_model, low=1)
    T = check.integer("T", T, low=1)
    w = check.integer("window", window, low=0)
    H = check.integer("num_heads", num_heads, low=1)
    if d % H:
        raise ValueError(f"num_heads must divide d_model ({d}), got {H}")
    g = torch.Generator().manual_seed(0)

    def randn(*shape):
        # entries of size 1/sqrt(d): scores of order 1, so no softmax weight underflows to 0
        return torch.randn(*shape, generator=g, dtype=torch.float64) / math.sqrt(d)

    x, wide = randn(T, d), randn(T, d + 1)  # (T, d) tokens; (T, d + 1) keys of another size
    W, W_q, W_k, v = randn(d, d), randn(d, d), randn(d, d), randn(d)
    W_loc = randn(T, d)  # location: one row per source position
    mha = torch.nn.MultiheadAttention(d, H, dtype=torch.float64)
    mha_wide = torch.nn.MultiheadAttention(d, H, kdim=d + 1, vdim=d + 1, dtype=torch.float64)

    def mha_weights(key):
        return mha(x, key, key, average_attn_weights=False)[1] if key is x else mha_wide(x, key, key)[1]

    # name: (score, weights of the call, attention weights of a run, accepts keys of size d + 1?, pros, cons)
    runs = {
        "dot": ("q . k", [], multiplicative_attention(x, x, x)[1],
                _accepts(multiplicative_attention, x, wide, wide),
                "no parameters; one matrix product", "saturates the softmax as d grows"),
        "scaled_dot": ("q . k / sqrt(d)", [], local_attention(x, x, x)[1],
                       _accepts(local_attention, x, wide, wide),
                       "unit-variance scores at any d", "T^2 time and memory"),
        "multiplicative": ("q^T W k", [W], multiplicative_attention(x, x, x, W)[1],
                           _accepts(multiplicative_attention, x, wide, wide, randn(d, d + 1)),
                           "learned similarity, any sizes", "d_q d_k parameters"),
        "additive": ("v^T tanh(W_q q + W_k k)", [W_q, W_k, v], additive_attention(x, x, x, W_q, W_k, v)[1],
                     _accepts(additive_attention, x, wide, wide, W_q, randn(d, d + 1), v),
                     "any sizes, nonlinear", "T^2 d_a memory"),
        "location": ("(W h_t)_s", [W_loc], location_attention(x, x, W_loc)[1], None,
                     "no keys needed", "ignores content; fixed maximum length"),
        "local": ("q . k / sqrt(d), |i-j| <= w", [], local_attention(x, x, x, window=w)[1],
                  _accepts(local_attention, x, wide, wide, w),
                  "linear in T", "blind beyond the window"),
        "multi_head": ("H scaled dots in subspaces", list(mha.parameters()), mha_weights(x),
                       _accepts(mha_weights, wide),
                       "several relations at once", "H T^2 scores and memory"),
    }  # fmt: skip
    table = {}
    for name, (score, weights, A, differ, pro, con) in runs.items():
        table[name] = {
            "score": score,
            "params": sum(t.numel() for t in weights),
            "scores": int((A != 0).sum()),
            "qk_sizes_may_differ": differ,
            "advantage": pro,
            "disadvantage": con,
        }
    return table
