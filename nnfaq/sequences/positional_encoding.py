"""Positional encoding

Self-attention treats its input as a set: without positional information, shuffling the tokens
only shuffles the outputs. Positional encodings put order back in, either added to the token
embeddings (sinusoidal, learned), applied to queries and keys as rotations (RoPE), or added to the
attention scores as a distance penalty (ALiBi).
"""

from __future__ import annotations

import math

import torch

from nnfaq import _validate as check
from nnfaq._registry import question

__all__ = [
    "alibi_bias",
    "learned_positional_encoding",
    "permutation_equivariance",
    "rotary_embedding",
    "sinusoidal_encoding",
]


def _float_dtype(name: str, dtype) -> torch.dtype:
    """Check that ``dtype`` is a floating-point ``torch.dtype``; return it."""
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"{name} must be a floating-point torch.dtype, got {dtype!r}")
    return dtype


@question(
    "why-positional-encoding",
    level="basic",
    short=(
        "Attention scores every pair of tokens with the same weights and sums over keys, so without positions "
        "self-attention, and a whole encoder, is permutation-equivariant: shuffling the tokens only shuffles the "
        "outputs, and a pooled 'dog bites man' equals 'man bites dog'. Positional encodings make each token's "
        "representation depend on where it is. A causal mask also breaks the symmetry."
    ),
    followups=("sinusoidal-positional-encoding", "rotary-positional-embedding", "self-attention"),
)
def permutation_equivariance(layer, x: torch.Tensor, perm: torch.Tensor | None = None) -> bool:
    r"""Whether ``layer`` commutes with a permutation of the tokens: ``layer(x[perm]) == layer(x)[perm]``.

    **Why do we need positional encoding in transformers?**

    Attention scores every pair of tokens with the same weights and sums over keys, an operation
    that does not depend on their order: without positions, self-attention (and a whole transformer
    encoder) is permutation-equivariant, so shuffling the input only shuffles the output and "dog
    bites man" and "man bites dog" give the same set of vectors. Positional encoding makes the
    representation of a token depend on where it is, which breaks this symmetry. A causal mask
    also breaks it, which is why decoder-only models can learn some position information without one.

    .. math::

        \mathrm{softmax}\!\left(\frac{P Q (P K)^\top}{\sqrt d}\right) P V
        = P\,\mathrm{softmax}\!\left(\frac{Q K^\top}{\sqrt d}\right) V
        \quad \text{for every permutation matrix } P

    Parameters
    ----------
    layer : callable
        Maps a ``(*, T, C)`` tensor to a ``(*, T, C')`` tensor.
    x : torch.Tensor
        ``(*, T, C)``.
    perm : torch.Tensor, optional
        ``(T,)`` permutation of ``0..T-1``; default reverses the sequence.

    Returns
    -------
    bool
        True if permuting the input tokens permutes the output tokens the same way (to 1e-6).

    See Also
    --------
    torch.nn.functional.scaled_dot_product_attention, torch.nn.TransformerEncoderLayer

    Notes
    -----
    .. admonition:: Common mistake

        "Transformers need positional encoding because they process all tokens in parallel."

        Parallelism is not the reason: a convolution also processes every position at once and
        still knows the order, because its weights are tied to relative positions. The reason is
        that attention treats its input as a set (permutation equivariance); the examples show the
        convolution is not equivariant while attention and a full encoder layer are.

    References
    ----------
    .. [1] A. Vaswani et al., "Attention Is All You Need", NeurIPS 2017, section 3.5.
    .. [2] A. Haviv et al., "Transformer Language Models without Positional Encodings Still Learn
       Positional Information", Findings of EMNLP 2022.

    Examples
    --------
    >>> x = torch.randn(2, 6, 8, dtype=torch.float64)
    >>> permutation_equivariance(lambda x: F.scaled_dot_product_attention(x, x, x), x)
    True
    >>> enc = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True, dtype=torch.float64).eval()
    >>> permutation_equivariance(enc, x, perm=torch.tensor([3, 0, 5, 1, 4, 2]))
    True

    So a pooled sentence vector cannot tell a sentence from its reverse:

    >>> torch.allclose(enc(x).mean(1), enc(x.flip(1)).mean(1))
    True

    Adding positions breaks the symmetry; so do a causal mask and a convolution:

    >>> pe = sinusoidal_encoding(6, 8)
    >>> permutation_equivariance(lambda x: enc(x + pe), x)
    False
    >>> permutation_equivariance(lambda x: F.scaled_dot_product_attention(x, x, x, is_causal=True), x)
    False
    >>> conv = nn.Conv1d(8, 8, 3, padding=1, dtype=torch.float64)
    >>> permutation_equivariance(lambda x: conv(x.transpose(1, 2)).transpose(1, 2), x)
    False
    """
    if not callable(layer):
        raise TypeError(f"layer must be callable, got {type(layer).__name__}")
    check.tensor("x", x, min_ndim=2)
    T = x.shape[-2]
    perm = torch.arange(T - 1, -1, -1) if perm is None else check.tensor("perm", perm, ndim=1, floating=False)
    if perm.dtype == torch.bool or perm.is_floating_point() or perm.is_complex():
        raise TypeError(f"perm must be an integer tensor, got dtype {perm.dtype}")
    if not torch.equal(perm.sort().values, torch.arange(T)):
        raise ValueError(f"perm must be a permutation of 0..{T - 1}, got {perm.tolist()}")
    with torch.no_grad():
        y, y_perm = layer(x), layer(x[..., perm, :])
    for out in (y, y_perm):
        if not isinstance(out, torch.Tensor) or out.dim() < 2 or out.shape[-2] != T:
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ValueError(f"layer must return a (*, T, C') tensor with T = {T} rows, got {got}")
    return torch.allclose(y_perm, y[..., perm, :], atol=1e-6)


@question(
    "sinusoidal-positional-encoding",
    level="intermediate",
    short=(
        "Position t gets sines and cosines of t at d/2 geometrically spaced frequencies, added to the embeddings, "
        "with no parameters. Each sine-cosine pair rotates by a fixed angle per step, so the encoding of t + k is "
        "a fixed rotation of that of t, and dot products depend only on k. Values stay in [-1, 1], for any t."
    ),
    followups=("learned-vs-fixed-positional-encoding", "rotary-positional-embedding"),
)
def sinusoidal_encoding(T: int, d: int, base: float = 10000.0, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    r"""The sinusoidal positional encoding of Vaswani et al. (2017), ``(T, d)``.

    **How does the sinusoidal positional encoding work, and why sines and cosines?**

    Position ``t`` gets a vector of sines and cosines of ``t`` at ``d/2`` geometrically spaced
    frequencies, from one cycle per :math:`2\pi` positions to one per :math:`2\pi \cdot 10000`; it is
    added to the token embeddings and has no parameters. Each sine-cosine pair rotates by a fixed
    angle per step, so the encoding of ``t + k`` is a fixed linear map (a rotation) of the encoding
    of ``t``, and the dot product of two encodings depends only on their offset ``k``: relative
    positions are easy to read out. Every value lies in ``[-1, 1]`` and it is defined for any ``t``.

    .. math::

        \omega_i = \mathrm{base}^{-2i/d}, \qquad PE_{t, 2i} = \sin(\omega_i t), \qquad
        PE_{t, 2i+1} = \cos(\omega_i t), \qquad
        PE_t \cdot PE_{t+k} = \sum_i \cos(\omega_i k)

    Parameters
    ----------
    T : int
        Number of positions.
    d : int
        Model dimension, even.
    base : float, default 10000.0
        Sets the longest wavelength, :math:`2\pi \cdot \mathrm{base}`.
    dtype : torch.dtype, default torch.float64
        Floating-point type of the result (computed in float64).

    Returns
    -------
    torch.Tensor
        ``(T, d)``: row ``t`` is the encoding of position ``t``.

    See Also
    --------
    learned_positional_encoding, rotary_embedding

    References
    ----------
    .. [1] A. Vaswani et al., "Attention Is All You Need", NeurIPS 2017, section 3.5.

    Examples
    --------
    The formula, entry by entry:

    >>> pe = sinusoidal_encoding(50, 16)
    >>> torch.allclose(pe[7, 6], torch.tensor(math.sin(7 / 10000 ** (6 / 16)), dtype=torch.float64))
    True
    >>> torch.allclose(pe[7, 7], torch.tensor(math.cos(7 / 10000 ** (6 / 16)), dtype=torch.float64))
    True
    >>> bool(pe.abs().max() <= 1), torch.allclose(pe.norm(dim=1) ** 2, torch.full((50,), 8.0, dtype=torch.float64))
    (True, True)

    The dot product depends only on the offset: every diagonal of the Gram matrix is constant:

    >>> G = pe @ pe.T
    >>> all(torch.allclose(G.diagonal(k), G.diagonal(k)[0].expand(50 - k)) for k in range(50))
    True

    One linear map, a rotation by :math:`\omega_i k` of each (sin, cos) pair, takes every position
    ``t`` to ``t + k`` (here ``k = 3``):

    >>> angles = (3 * 10000.0 ** (-torch.arange(0, 16, 2, dtype=torch.float64) / 16)).tolist()  # omega_i k
    >>> rot = lambda a: torch.tensor([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]], dtype=torch.float64)
    >>> R = torch.block_diag(*[rot(a) for a in angles])
    >>> torch.allclose(pe[:-3] @ R, pe[3:])
    True
    """
    T = check.integer("T", T, low=1)
    d = check.integer("d", d, low=2)
    if d % 2:
        raise ValueError(f"d must be even, got {d}")
    base = check.number("base", base, low=1.0, low_open=True)
    dtype = _float_dtype("dtype", dtype)
    t = torch.arange(T, dtype=torch.float64)[:, None]  # (T, 1)
    # omega_i = base^(-2i/d)
    omega = base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)  # (d/2,)
    pe = torch.empty(T, d, dtype=torch.float64)  # (T, d)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(t * omega), torch.cos(t * omega)
    return pe.to(dtype)


@question(
    "learned-vs-fixed-positional-encoding",
    level="basic",
    short=(
        "A learned encoding is a trainable max_len x d table added to the embeddings (BERT, GPT-2); a fixed one "
        "such as the sinusoid comes from a formula, without parameters. Both work about equally well at trained "
        "lengths. The table has no row beyond max_len, and rows never seen in training get no gradient; the "
        "formula covers every position."
    ),
    followups=("sinusoidal-positional-encoding", "alibi", "embedding-is-one-hot-matmul"),
)
def learned_positional_encoding(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    r"""Add a learned position embedding: ``x + weight[:T]``, as BERT and GPT-2 do.

    **What is the difference between learned and fixed (sinusoidal) positional encodings?**

    A learned encoding is a table of ``max_len x d`` trainable vectors, one per position, added to
    the token embeddings; a fixed one, such as the sinusoid, is computed from a formula and has no
    parameters. Both work about equally well at lengths seen in training (Vaswani et al. [2]_,
    Table 3, row E). The learned table cannot represent positions beyond ``max_len`` at all, and
    rows for positions that never occur in training receive no gradient, so they stay random; the
    formula is defined for every position.

    .. math::

        h_t = x_t + P_t, \qquad P \in \mathbb{R}^{\mathrm{max\_len} \times d} \text{ learned}

    Parameters
    ----------
    x : torch.Tensor
        ``(*, T, d)`` token embeddings.
    weight : torch.Tensor
        ``(max_len, d)`` position table, ``max_len >= T`` (for example ``nn.Embedding(max_len, d).weight``).

    Returns
    -------
    torch.Tensor
        ``(*, T, d)``.

    See Also
    --------
    torch.nn.Embedding, sinusoidal_encoding

    References
    ----------
    .. [1] J. Devlin et al., "BERT: Pre-training of Deep Bidirectional Transformers for Language
       Understanding", NAACL 2019.
    .. [2] A. Vaswani et al., "Attention Is All You Need", NeurIPS 2017.

    Examples
    --------
    >>> emb = nn.Embedding(32, 8, dtype=torch.float64)
    >>> x = torch.randn(2, 10, 8, dtype=torch.float64)
    >>> torch.allclose(learned_positional_encoding(x, emb.weight), x + emb(torch.arange(10)))
    True
    >>> emb.weight.numel()
    256

    Trained on length 10, positions 10 to 31 get no gradient:

    >>> learned_positional_encoding(x, emb.weight).sum().backward()
    >>> bool((emb.weight.grad[:10] != 0).all()), bool((emb.weight.grad[10:] == 0).all())
    (True, True)

    And it has no row for position 32 or beyond:

    >>> try:
    ...     learned_positional_encoding(torch.randn(1, 40, 8, dtype=torch.float64), emb.weight)
    ... except ValueError as e:
    ...     print(e)
    x has 40 positions but weight has rows for only 32 (max_len)
    """
    check.tensor("x", x, min_ndim=2)
    check.tensor("weight", weight, ndim=2)
    T, d = x.shape[-2:]
    if weight.shape[1] != d:
        raise ValueError(f"weight must have {d} columns (the size of x), got shape {tuple(weight.shape)}")
    if weight.shape[0] < T:
        raise ValueError(f"x has {T} positions but weight has rows for only {weight.shape[0]} (max_len)")
    return x + weight[:T]  # (*, T, d)


@question(
    "rotary-positional-embedding",
    level="advanced",
    short=(
        "RoPE rotates each pair of query and key features by an angle proportional to the position. A query "
        "rotated by m dotted with a key rotated by n equals one rotation by n - m, so scores depend on content "
        "and offset only. It keeps norms, adds no parameters, and bounds scores by a factor decaying with "
        "distance on average."
    ),
    followups=("rope-beyond-trained-length", "alibi", "sinusoidal-positional-encoding"),
)
def rotary_embedding(x: torch.Tensor, positions: torch.Tensor | None = None, base: float = 10000.0) -> torch.Tensor:
    r"""Rotary position embedding (RoPE): rotate each pair of features by an angle proportional to the position.

    **What is rotary positional embedding (RoPE), and why does it encode relative position?**

    RoPE applies to queries and keys (not values, not the embeddings): the features are taken in
    pairs, and the pair ``i`` of the vector at position ``m`` is rotated by the angle
    :math:`m\theta_i`. A rotation by ``m`` followed by the dot product with a rotation by ``n``
    equals one rotation by ``n - m``, so the attention score depends on the content and on the
    offset ``n - m`` only, never on the absolute positions. Rotations keep norms and add no
    parameters. Su et al. also show a long-term decay, of a bound: :math:`|q_m \cdot k_n|` is at most
    :math:`\max_i |h_{i+1} - h_i| \sum_j |S_j(n - m)|`, and with ``base = 10000`` the factor
    :math:`\sum_j |S_j|` shrinks, on average, as the distance grows; a given score need not.

    .. math::

        \theta_i = \mathrm{base}^{-2i/D}, \qquad
        \begin{pmatrix} y_{2i} \\ y_{2i+1} \end{pmatrix} =
        \begin{pmatrix} \cos m\theta_i & -\sin m\theta_i \\ \sin m\theta_i & \cos m\theta_i \end{pmatrix}
        \begin{pmatrix} x_{2i} \\ x_{2i+1} \end{pmatrix}, \qquad
        R_m q \cdot R_n k = q^\top R_{n-m} k, \qquad
        |R_m q \cdot R_n k| \le \max_i |h_{i+1} - h_i| \sum_{j=1}^{D/2} |S_j(m - n)|, \quad
        h_i = \tilde q_i \overline{\tilde k_i}, \quad S_j(r) = \sum_{i < j} e^{\mathrm{i} r \theta_i}

    where :math:`\tilde q_i = q_{2i} + \mathrm{i}\, q_{2i+1}` is the ``i``-th pair as a complex number and
    :math:`h_{D/2} = 0` (Abel summation, section 3.4.3 of the paper).

    Parameters
    ----------
    x : torch.Tensor
        ``(*, T, D)`` queries or keys (for example ``(B, H, T, D)``), ``D`` even.
    positions : torch.Tensor, optional
        ``(T,)`` position of each row; default ``0..T-1``.
    base : float, default 10000.0
        Sets the slowest rotation.

    Returns
    -------
    torch.Tensor
        ``(*, T, D)``, the rotated ``x``.

    See Also
    --------
    sinusoidal_encoding

    Notes
    -----
    This is the interleaved pairing of the paper (features ``2i, 2i+1``); GPT-NeoX and LLaMA's
    Hugging Face code pair feature ``i`` with ``i + D/2``, a permutation of the same features.

    .. admonition:: Common mistake

        "With RoPE, attention between nearby tokens decays more slowly than between distant ones:
        scores shrink with distance."

        What decays is an upper bound, and only on average over distances: the bound's factor
        oscillates, and for random queries and keys the score has the same distribution at every
        distance (rotating a Gaussian key gives a Gaussian key). The examples check the bound at
        several distances, that its mean over each doubling of the distance shrinks, and that random
        scores are as large at distance 1000 as at distance 1.

    References
    ----------
    .. [1] J. Su et al., "RoFormer: Enhanced Transformer with Rotary Position Embedding",
       Neurocomputing 568, 2024 (arXiv 2104.09864).

    Examples
    --------
    A rotation is multiplication of the pair ``x_{2i} + i x_{2i+1}`` by :math:`e^{i m \theta_i}`:

    >>> x = torch.randn(2, 6, 8, dtype=torch.float64)
    >>> theta = 10000.0 ** (-torch.arange(0, 8, 2, dtype=torch.float64) / 8)
    >>> turn = torch.polar(torch.ones(6, 4, dtype=torch.float64), torch.arange(6.0)[:, None] * theta)
    >>> z = torch.view_as_complex(x.reshape(2, 6, 4, 2)) * turn
    >>> torch.allclose(rotary_embedding(x), torch.view_as_real(z).reshape(2, 6, 8))
    True
    >>> y = rotary_embedding(x)
    >>> torch.allclose(y.norm(dim=-1), x.norm(dim=-1)), torch.equal(y[:, 0], x[:, 0])
    (True, True)

    The score depends only on the offset: query at ``m``, key at ``m - 2``, for any ``m``:

    >>> q, k = torch.randn(8, dtype=torch.float64), torch.randn(8, dtype=torch.float64)
    >>> def score(m, n):
    ...     return rotary_embedding(q[None], torch.tensor([m])) @ rotary_embedding(k[None], torch.tensor([n]))[0]
    >>> torch.allclose(score(2, 0), score(9, 7)), torch.allclose(score(2, 0), score(500, 498))
    (True, True)
    >>> torch.allclose(score(2, 0), score(3, 0))
    False

    Long-term decay is a bound (``D = 128``, ``base = 10000``, the paper's setting): at every distance
    the score is below :math:`\max_i |h_{i+1} - h_i| \sum_j |S_j|`:

    >>> D = 128
    >>> theta = 10000.0 ** (-torch.arange(0, D, 2, dtype=torch.float64) / D)
    >>> def bound_factor(r):  # sum_j |S_j(r)|, S_j = sum_{i<j} exp(i r theta_i); r: (R,) distances
    ...     turns = torch.polar(torch.ones(len(r), D // 2, dtype=torch.float64), r[:, None] * theta)
    ...     return turns.cumsum(-1).abs().sum(-1)
    >>> q, k = torch.randn(D, dtype=torch.float64), torch.randn(D, dtype=torch.float64)
    >>> h = torch.view_as_complex(q.view(-1, 2)) * torch.view_as_complex(k.view(-1, 2)).conj()  # (D/2,)
    >>> step = (torch.cat([h[1:], h.new_zeros(1)]) - h).abs().max()
    >>> r = torch.tensor([1, 10, 100, 1000, 10000], dtype=torch.float64)
    >>> scores = torch.stack([rotary_embedding(q[None], r[i : i + 1]) @ rotary_embedding(k[None], r[:1] * 0)[0]
    ...                       for i in range(5)]).flatten()
    >>> bool((scores.abs() <= step * bound_factor(r)).all())
    True

    The factor's mean over distances ``[2^j, 2^{j+1})`` shrinks with every doubling, but not at every
    step (it oscillates):

    >>> means = [bound_factor(torch.arange(2**j, 2 ** (j + 1), dtype=torch.float64)).mean() for j in range(11)]
    >>> all(a > b for a, b in zip(means, means[1:]))
    True
    >>> f = bound_factor(torch.arange(1, 4097, dtype=torch.float64))
    >>> bool((f[1:] > f[:-1]).any())
    True

    A score does not have to shrink: over 2000 random query-key pairs, the mean absolute score at
    distance 1000 is that at distance 1, within 15%:

    >>> qs, ks = torch.randn(2000, D, dtype=torch.float64), torch.randn(2000, D, dtype=torch.float64)
    >>> def mean_abs_score(r):
    ...     return (rotary_embedding(qs[:, None], torch.tensor([r])) * ks[:, None]).sum(-1).abs().mean()
    >>> bool(abs(mean_abs_score(1000) / mean_abs_score(1) - 1) < 0.15)
    True
    """
    check.tensor("x", x, min_ndim=2)
    T, D = x.shape[-2:]
    if D % 2:
        raise ValueError(f"x must have an even last dimension, got {D}")
    if positions is None:
        positions = torch.arange(T)
    check.tensor("positions", positions, ndim=1, floating=False, finite=True)
    if positions.dtype == torch.bool or positions.is_complex():
        raise TypeError(f"positions must be an integer or real tensor, got dtype {positions.dtype}")
    check.same_shape("positions", positions, (T,), "one position per row of x")
    base = check.number("base", base, low=1.0, low_open=True)
    # theta_i = base^(-2i/D); angle m theta_i
    theta = base ** (-torch.arange(0, D, 2, dtype=torch.float64) / D)  # (D/2,)
    angle = positions.to(torch.float64)[:, None] * theta  # (T, D/2)
    cos, sin = torch.cos(angle).to(x.dtype), torch.sin(angle).to(x.dtype)  # (T, D/2)
    x1, x2 = x[..., 0::2], x[..., 1::2]  # (*, T, D/2)
    # (y_2i, y_2i+1) = (x_2i cos - x_2i+1 sin, x_2i sin + x_2i+1 cos)
    return torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1).flatten(-2)  # (*, T, D)


def _alibi_slopes(H: int) -> list[float]:
    """Slopes 2^(-8h/n) for the largest power of two n <= H, then every other slope of 2n (the paper's rule)."""
    n = 2 ** math.floor(math.log2(H))
    slopes = [2 ** (-8 * h / n) for h in range(1, n + 1)]
    return slopes + [2 ** (-8 * h / (2 * n)) for h in range(1, 2 * n + 1, 2)][: H - n]


@question(
    "alibi",
    level="advanced",
    short=(
        "ALiBi adds no position vectors: it subtracts from each attention score a penalty proportional to the "
        "query-key distance, with a fixed geometric slope per head, so some heads look far, some near. The bias "
        "depends only on i - j, has no parameters and extends to any length unchanged; Press et al. found it "
        "extrapolates past training lengths."
    ),
    followups=("rotary-positional-embedding", "rope-beyond-trained-length", "learned-vs-fixed-positional-encoding"),
)
def alibi_bias(num_heads: int, T: int, causal: bool = True, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    r"""ALiBi attention biases, ``(H, T, T)``: :math:`-m_h (i - j)` for query ``i`` and key ``j``.

    **What is ALiBi, and how does it help a transformer handle sequences longer than in training?**

    ALiBi (attention with linear biases) adds no position vectors at all: it adds to every
    attention score a penalty proportional to the distance between query and key, with a fixed
    slope per head (a geometric sequence, so some heads look far and some near). The bias depends
    only on ``i - j``, has no parameters, and is defined for any length: a longer sequence only
    extends the bias, so a model trained on short sequences sees the same biases on longer ones.
    Press et al. found that such models extrapolate to longer inputs where sinusoidal and rotary
    encodings degrade (a measured result of the paper, not proven here).

    .. math::

        m_h = 2^{-8h/H}, \qquad
        \mathrm{softmax}\!\left(\frac{q_i \cdot k_j}{\sqrt d} - m_h (i - j)\right), \quad j \le i

    Parameters
    ----------
    num_heads : int
        ``H``.
    T : int
        Sequence length.
    causal : bool, default True
        Set keys ``j > i`` to ``-inf`` (as in the paper); otherwise use :math:`-m_h |i - j|`.
    dtype : torch.dtype, default torch.float64
        Floating-point type of the bias.

    Returns
    -------
    torch.Tensor
        ``(H, T, T)``, to pass as ``attn_mask`` to :func:`torch.nn.functional.scaled_dot_product_attention`.

    See Also
    --------
    torch.nn.functional.scaled_dot_product_attention

    References
    ----------
    .. [1] O. Press, N. A. Smith, M. Lewis, "Train Short, Test Long: Attention with Linear Biases
       Enables Input Length Extrapolation", ICLR 2022.

    Examples
    --------
    >>> b = alibi_bias(8, 6)
    >>> [round(-b[h, 1, 0].item(), 6) for h in range(8)]
    [0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625, 0.007812, 0.003906]

    It depends only on ``i - j``, and a longer sequence extends it without changing it:

    >>> torch.equal(b[:, 1:, 1:], b[:, :-1, :-1]), torch.equal(alibi_bias(8, 600)[:, :6, :6], b)
    (True, True)

    As a float mask it is causal (the first query sees only the first key) and favours nearby keys:

    >>> q = k = torch.zeros(1, 8, 6, 4, dtype=torch.float64); v = torch.randn(1, 8, 6, 4, dtype=torch.float64)
    >>> out = F.scaled_dot_product_attention(q, k, v, attn_mask=b)
    >>> torch.allclose(out[..., 0, :], v[..., 0, :])
    True
    >>> A = torch.softmax(b, -1)
    >>> bool((A[:, -1, 1:] > A[:, -1, :-1]).all())
    True
    """
    H = check.integer("num_heads", num_heads, low=1)
    T = check.integer("T", T, low=1)
    check.flag("causal", causal)
    dtype = _float_dtype("dtype", dtype)
    m = torch.tensor(_alibi_slopes(H), dtype=torch.float64)[:, None, None]  # (H, 1, 1)
    i = torch.arange(T, dtype=torch.float64)
    dist = i[:, None] - i[None, :]  # (T, T): i - j
    # -m_h (i - j), or -m_h |i - j| without the causal mask
    bias = -m * (dist if causal else dist.abs())  # (H, T, T)
    if causal:
        bias = bias.masked_fill(dist < 0, float("-inf"))
    return bias.to(dtype)
