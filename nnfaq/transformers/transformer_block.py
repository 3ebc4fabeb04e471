"""The modern transformer block

What changed inside the block since 2017, and what the parameters of a real model are spent on: the
gated (SwiGLU) feed-forward layer with its three matrices and its 8/3 hidden size, and the embedding
and output matrices, which weight tying shares and a large vocabulary makes expensive. Counts are
computed from the published configurations of Llama models.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from nnfaq import _validate as check
from nnfaq._registry import question
from nnfaq.transformers._models import LLAMA2_7B, LLAMA3_8B, LLAMA32_1B  # noqa: F401 (the examples use them)

__all__ = ["gated_feed_forward", "swiglu_hidden_size", "transformer_parameters"]

_GATES = {"sigmoid": torch.sigmoid, "silu": F.silu, "gelu": F.gelu, "relu": F.relu}


@question(
    "swiglu-feed-forward",
    level="intermediate",
    short=(
        "SwiGLU computes W2 (silu(W1 x) * W3 x): one projection, through the activation, gates a second "
        "linear one elementwise, and a third projects back, hence three matrices. Each hidden unit becomes a "
        "product of two features of the input, which lowered perplexity at equal parameters and compute "
        "(Shazeer 2020); Llama and most current models use it."
    ),
    followups=("swiglu-hidden-size", "weight-tying"),
)
def gated_feed_forward(
    input: torch.Tensor, w1: torch.Tensor, w2: torch.Tensor, w3: torch.Tensor, activation: str = "silu"
) -> torch.Tensor:
    r"""Gated feed-forward layer :math:`W_2(\sigma(W_1 x) \odot W_3 x)`: SwiGLU, GLU, GeGLU or ReGLU.

    **What is a SwiGLU feed-forward layer, and why does it have three weight matrices?**

    The classic transformer FFN is :math:`W_2\,\mathrm{ReLU}(W_1 x)`, two matrices. A gated linear
    unit splits the first step in two: :math:`W_1 x` goes through the activation (SiLU for SwiGLU) and
    gates, elementwise, a second linear projection :math:`W_3 x`; :math:`W_2` projects back. Each hidden
    unit is then a product of two learned features of the input, a multiplicative interaction the
    two-matrix layer cannot form, and Shazeer found it lowers perplexity at equal parameters and
    compute. The third matrix is the price, paid for by shrinking the hidden size to about
    :math:`\tfrac{8}{3}d`.

    .. math::

        \mathrm{FFN}_{\mathrm{SwiGLU}}(x) = W_2\left(\mathrm{SiLU}(W_1 x) \odot W_3 x\right), \qquad
        \mathrm{SiLU}(z) = z\,\sigma(z)

    Parameters
    ----------
    input : torch.Tensor
        ``(*, C)``.
    w1, w3 : torch.Tensor
        ``(h, C)``: the gate and the up projection (Llama's ``w1`` and ``w3``).
    w2 : torch.Tensor
        ``(C, h)``: the down projection.
    activation : {"silu", "sigmoid", "gelu", "relu"}, default "silu"
        The gate: SwiGLU, the original GLU, GeGLU or ReGLU.

    Returns
    -------
    torch.Tensor
        ``(*, C)``.

    See Also
    --------
    torch.nn.functional.glu, torch.nn.functional.silu, swiglu_hidden_size

    Notes
    -----
    No biases, as in Llama (Shazeer's variants have none either).

    References
    ----------
    .. [1] N. Shazeer, "GLU Variants Improve Transformer", 2020.
    .. [2] Y. Dauphin et al., "Language Modeling with Gated Convolutional Networks", ICML 2017.

    Examples
    --------
    The sigmoid gate is PyTorch's GLU, and SwiGLU is Llama's ``w2(silu(w1(x)) * w3(x))``:

    >>> x = torch.randn(3, 5, 8, dtype=torch.float64)
    >>> w1, w3, w2 = (torch.randn(16, 8, dtype=torch.float64), torch.randn(16, 8, dtype=torch.float64),
    ...               torch.randn(8, 16, dtype=torch.float64))
    >>> glu = F.glu(torch.cat([x @ w3.T, x @ w1.T], dim=-1), dim=-1) @ w2.T
    >>> torch.allclose(gated_feed_forward(x, w1, w2, w3, activation="sigmoid"), glu)
    True
    >>> torch.allclose(gated_feed_forward(x, w1, w2, w3), F.linear(F.silu(F.linear(x, w1)) * F.linear(x, w3), w2))
    True

    The gate multiplies two projections of the input: ReGLU is homogeneous of degree 2, where a ReLU FFN
    is of degree 1:

    >>> relu_ffn = lambda t: F.relu(t @ w1.T) @ w2.T
    >>> torch.allclose(relu_ffn(3 * x), 3 * relu_ffn(x))
    True
    >>> torch.allclose(gated_feed_forward(3 * x, w1, w2, w3, "relu"), 9 * gated_feed_forward(x, w1, w2, w3, "relu"))
    True
    """
    check.tensor("input", input, min_ndim=1)
    for name, w in (("w1", w1), ("w2", w2), ("w3", w3)):
        check.tensor(name, w, ndim=2)
    check.same_dtype("input", input, w1=w1, w2=w2, w3=w3)
    activation = check.choice("activation", activation, tuple(_GATES))
    C = input.shape[-1]
    h = w1.shape[0]
    check.same_shape("w1", w1, (h, C), "(hidden size, input features)")
    check.same_shape("w3", w3, (h, C), "the shape of w1")
    check.same_shape("w2", w2, (C, h), "(input features, hidden size)")
    # sigma(W1 x) * (W3 x): the gate times a linear feature
    hidden = _GATES[activation](input @ w1.T) * (input @ w3.T)  # (*, h)
    return hidden @ w2.T  # (*, C)


@question(
    "swiglu-hidden-size",
    level="intermediate",
    short=(
        "Three d x h matrices cost 3dh parameters; the classic FFN with two matrices and hidden size 4d costs "
        "8d^2. Equal cost means h = 8d/3. Llama takes int(2/3 of 4d) and rounds up to a multiple of 256 for "
        "fast kernels: 11008 for d = 4096 (Llama 2 7B). Llama 3 8B multiplies by 1.3, rounds to 1024: 14336."
    ),
    followups=("swiglu-feed-forward", "weight-tying"),
)
def swiglu_hidden_size(dim: int, multiple_of: int = 256, ffn_dim_multiplier: float | None = None) -> int:
    r"""Hidden size of a SwiGLU feed-forward layer as Llama computes it.

    **Why is a SwiGLU layer's hidden size about 8/3 of the model width, and how do real models round it?**

    A gated layer has three :math:`d \times h` matrices, :math:`3dh` parameters; the two-matrix layer it
    replaces, with hidden size :math:`4d`, has :math:`8d^2`. Keeping the parameters (and the FLOPs per
    token) equal gives :math:`h = \tfrac{8}{3}d`. Llama's reference code takes
    :math:`\lfloor \tfrac{2}{3} \cdot 4d \rfloor`, optionally scales it by ``ffn_dim_multiplier``, and
    rounds up to a multiple of ``multiple_of`` so the matrix shapes suit GPU kernels: 11008 for
    Llama 2 7B (0.8 % above the exact match), 14336 for Llama 3 8B.

    .. math::

        3 d h = 2 d (4 d) \iff h = \tfrac{8}{3} d, \qquad
        h_{\mathrm{Llama}} = \mathrm{multiple\_of} \cdot \left\lceil
        \frac{\lfloor \mathrm{mult} \cdot \lfloor 8d/3 \rfloor \rfloor}{\mathrm{multiple\_of}} \right\rceil

    Parameters
    ----------
    dim : int
        Model width :math:`d`.
    multiple_of : int, default 256
        Round the hidden size up to a multiple of this (Llama 2: 256; Llama 3: 1024).
    ffn_dim_multiplier : float, optional
        Extra factor applied before rounding (Llama 3 8B: 1.3); positive.

    Returns
    -------
    int
        The hidden size :math:`h`.

    See Also
    --------
    gated_feed_forward

    Notes
    -----
    The published sizes are in ``nnfaq/transformers/_models.py`` with their sources.

    .. admonition:: Common mistake

        "A SwiGLU feed-forward layer keeps the usual hidden size of 4d."

        With three matrices that costs :math:`12d^2` parameters, 1.5 times the layer it replaces;
        SwiGLU layers use about :math:`\tfrac{8}{3}d` to match (the examples count both with
        ``nn.Linear`` layers).

    References
    ----------
    .. [1] N. Shazeer, "GLU Variants Improve Transformer", 2020, section 2.
    .. [2] Meta, ``llama/model.py`` (``FeedForward``), 2023.

    Examples
    --------
    Llama's published sizes, from its rounding rule:

    >>> swiglu_hidden_size(4096) == LLAMA2_7B.hidden_dim == 11008
    True
    >>> m = LLAMA3_8B
    >>> swiglu_hidden_size(m.dim, m.multiple_of, m.ffn_dim_multiplier) == m.hidden_dim == 14336
    True

    At ``h = 8d/3`` the three matrices have the parameters of a ``4d`` two-matrix layer; at ``4d`` they
    would have 1.5 times as many:

    >>> count = lambda *layers: sum(p.numel() for layer in layers for p in layer.parameters())
    >>> d = 48
    >>> classic = count(nn.Linear(d, 4 * d, bias=False), nn.Linear(4 * d, d, bias=False))
    >>> swiglu = lambda h: count(nn.Linear(d, h, bias=False), nn.Linear(d, h, bias=False), nn.Linear(h, d, bias=False))
    >>> swiglu(8 * d // 3) == classic, swiglu(4 * d) / classic
    (True, 1.5)

    Llama 2 7B's rounded size is 0.8 % above the exact match:

    >>> round(3 * 4096 * 11008 / (8 * 4096**2), 4)
    1.0078
    """
    d = check.integer("dim", dim, low=1)
    multiple_of = check.integer("multiple_of", multiple_of, low=1)
    # h = 2/3 of the classic 4d: equal parameters with three matrices
    h = int(2 * (4 * d) / 3)
    if ffn_dim_multiplier is not None:
        h = int(check.number("ffn_dim_multiplier", ffn_dim_multiplier, low=0.0, low_open=True) * h)
    # round up to a multiple of multiple_of
    return multiple_of * ((h + multiple_of - 1) // multiple_of)


@question(
    "weight-tying",
    level="intermediate",
    short=(
        "Weight tying uses the embedding matrix, transposed, as the output layer: one V x d matrix instead of "
        "two, receiving the gradients of both uses. It saves V x d parameters: 1.9% of Llama 2 7B with 32000 "
        "tokens, but a 128256-token vocabulary costs 525M per matrix, 13% of Llama 3 8B (untied), 21% of the "
        "tied Llama 3.2 1B."
    ),
    followups=("swiglu-hidden-size", "perplexity", "embedding-is-one-hot-matmul"),
)
def transformer_parameters(
    vocab_size: int,
    dim: int,
    n_layers: int,
    n_heads: int,
    n_kv_heads: int,
    hidden_dim: int,
    tied: bool = False,
) -> dict[str, int]:
    r"""Parameter count of a Llama-style decoder (RMSNorm, grouped-query attention, SwiGLU, no biases).

    **What is weight tying between the embedding and the output layer, and what does a large vocabulary
    cost in parameters?**

    The input embedding maps token ids to :math:`d`-vectors with a :math:`V \times d` matrix :math:`E`;
    the output layer maps the last hidden state back to :math:`V` logits with another :math:`V \times d`
    matrix. Tying uses :math:`E` for both (logits :math:`= h E^\top`): one matrix whose gradient is the
    sum of the gradients of its two uses, :math:`Vd` fewer parameters, and a regulariser for small
    models. How much it matters depends on the vocabulary: 1.9 % of Llama 2 7B (32000 tokens), but a
    128256-token vocabulary costs 525 million parameters per matrix, 13 % of Llama 3 8B (untied) and
    21 % of Llama 3.2 1B, which ties.

    .. math::

        N = \underbrace{Vd}_{\text{embedding}}
        + n_{\text{layers}}\left(2d^2 + 2 d\,H_{kv} D + 3 d h + 2d\right) + d
        + \underbrace{Vd\,[\text{not tied}]}_{\text{output}}, \qquad D = d / H

    Parameters
    ----------
    vocab_size : int
        :math:`V`.
    dim : int
        Model width :math:`d`.
    n_layers : int
        Number of blocks.
    n_heads, n_kv_heads : int
        Query heads :math:`H` (must divide ``dim``) and key/value heads :math:`H_{kv}` (must divide ``n_heads``).
    hidden_dim : int
        SwiGLU hidden size :math:`h`.
    tied : bool, default False
        The output layer reuses the embedding matrix.

    Returns
    -------
    dict of str to int
        ``embedding``, ``attention``, ``feed_forward``, ``norms``, ``output`` (0 when tied) and ``total``.

    See Also
    --------
    swiglu_hidden_size, nnfaq.representations.embeddings.embedding

    Notes
    -----
    GPT-2 and Gemma tie, Llama 2 and Llama 3 8B do not, the small Llama 3.2 models do. In PyTorch,
    tying is ``lm_head.weight = embedding.weight``; ``model.parameters()`` then yields the shared
    matrix once.

    .. admonition:: Common mistake

        "Weight tying halves the number of parameters."

        It removes one :math:`V \times d` matrix and nothing else: 131 million of Llama 2 7B's 6.74
        billion parameters (1.9 %). Only for small models with large vocabularies is it a large share;
        the examples compute both.

    References
    ----------
    .. [1] O. Press, L. Wolf, "Using the Output Embedding to Improve Language Models", EACL 2017.
    .. [2] H. Inan, K. Khosravi, R. Socher, "Tying Word Vectors and Word Classifiers", ICLR 2017.

    Examples
    --------
    The published sizes follow from the configurations:

    >>> def params(m, tied=None):
    ...     tied = m.tied if tied is None else tied
    ...     return transformer_parameters(m.vocab_size, m.dim, m.n_layers, m.n_heads, m.n_kv_heads, m.hidden_dim, tied)
    >>> round(params(LLAMA2_7B)["total"] / 1e9, 2), round(params(LLAMA3_8B)["total"] / 1e9, 2)
    (6.74, 8.03)

    The vocabulary's share: small for Llama 2's 32000 tokens, large for Llama 3's 128256:

    >>> share = lambda c: (c["embedding"] + c["output"]) / c["total"]
    >>> round(share(params(LLAMA2_7B)), 3), round(share(params(LLAMA3_8B)), 3), round(share(params(LLAMA32_1B)), 3)
    (0.039, 0.131, 0.213)

    Tying saves one ``V x d`` matrix, never half the model:

    >>> c, t = params(LLAMA2_7B), params(LLAMA2_7B, tied=True)
    >>> c["total"] - t["total"] == LLAMA2_7B.vocab_size * LLAMA2_7B.dim, round(t["total"] / c["total"], 3)
    (True, 0.981)

    In PyTorch a tied matrix is one parameter, and its gradient is the sum of the gradients of its two uses:

    >>> emb, head = nn.Embedding(10, 4, dtype=torch.float64), nn.Linear(4, 10, bias=False, dtype=torch.float64)
    >>> head.weight = emb.weight
    >>> sum(p.numel() for p in nn.ModuleList([emb, head]).parameters()) == 10 * 4
    True
    >>> ids, E = torch.tensor([[1, 2, 3]]), emb.weight.detach()
    >>> F.cross_entropy(head(emb(ids)).view(3, 10), torch.tensor([2, 3, 4])).backward()
    >>> a, b = E.clone().requires_grad_(), E.clone().requires_grad_()  # the two uses, untied
    >>> F.cross_entropy((F.embedding(ids, a) @ b.T).view(3, 10), torch.tensor([2, 3, 4])).backward()
    >>> torch.allclose(emb.weight.grad, a.grad + b.grad)
    True
    """
    V = check.integer("vocab_size", vocab_size, low=1)
    d = check.integer("dim", dim, low=1)
    n_layers = check.integer("n_layers", n_layers, low=0)
    H = check.integer("n_heads", n_heads, low=1)
    H_kv = check.integer("n_kv_heads", n_kv_heads, low=1)
    h = check.integer("hidden_dim", hidden_dim, low=1)
    check.flag("tied", tied)
    if d % H:
        raise ValueError(f"n_heads must divide dim ({d}), got {H}")
    if H % H_kv:
        raise ValueError(f"n_kv_heads must divide n_heads ({H}), got {H_kv}")
    D = d // H
    # W_q and W_o are d x d; W_k and W_v are d x (H_kv D)
    attention = n_layers * (2 * d * d + 2 * d * H_kv * D)
    # W1, W3: h x d; W2: d x h
    feed_forward = n_layers * 3 * d * h
    # two RMSNorm weights per block, one final
    norms = n_layers * 2 * d + d
    embedding, output = V * d, 0 if tied else V * d
    total = embedding + attention + feed_forward + norms + output
    return {
        "embedding": embedding,
        "attention": attention,
        "feed_forward": feed_forward,
        "norms": norms,
        "output": output,
        "total": total,
    }
