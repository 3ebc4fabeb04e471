"""Mixture of experts

A mixture-of-experts layer replaces one feed-forward block by several and lets a router send each
token to a few of them: top-k routing from scratch, the auxiliary load-balancing loss that keeps the
router from sending every token to the same expert, and the total against the active parameters of
a published MoE model (Mixtral 8x7B).
"""

from __future__ import annotations

import numbers

import torch

from nnfaq import _validate as check
from nnfaq._registry import question
from nnfaq.efficiency._configs import MISTRAL_7B, MIXTRAL_8X7B, check_config, decoder_parameters  # noqa: F401 (the examples use them)

__all__ = ["load_balancing_loss", "moe_parameter_count", "top_k_routing"]


def _check_router(logits, k) -> int:
    check.tensor("logits", logits, min_ndim=1, finite=True)
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise TypeError(f"k must be an int, got {type(k).__name__}")
    n_experts = logits.shape[-1]
    if not 1 <= k <= n_experts:
        raise ValueError(f"k must be in [1, {n_experts}] (the number of experts, logits.shape[-1]), got {k}")
    return int(k)


@question(
    "moe-top-k-routing",
    level="intermediate",
    short=(
        "A linear router scores every expert for each token; the token goes to the k highest-scoring "
        "experts, and their outputs are mixed with weights given by a softmax over those k scores. Only "
        "k experts run per token, so compute grows with k while parameters grow with the number of "
        "experts. The unselected experts get no gradient for that token."
    ),
    followups=("moe-load-balancing", "moe-active-parameters"),
)
def top_k_routing(logits: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Top-k routing: each token's ``k`` best experts and their mixing weights (softmax over the ``k``).

    **How does top-k routing in a mixture-of-experts layer work?**

    A router, one linear layer, gives each token a logit per expert. The token is sent to the
    :math:`k` experts with the largest logits, and the layer's output is their outputs mixed by a
    softmax over those :math:`k` logits (Mixtral; the same as the full softmax restricted to them and
    renormalized). Only the selected experts run, so a token costs :math:`k` feed-forward blocks
    whatever the number of experts; the unselected logits get no gradient from that token. With
    :math:`k = 1` the renormalized weight is always 1 and the router would learn nothing, which is
    why Switch Transformer weights its single expert by the full softmax probability instead.

    .. math::

        \mathcal T = \operatorname{top-k}(z), \qquad
        w_i = \frac{e^{z_i}}{\sum_{j \in \mathcal T} e^{z_j}} \ (i \in \mathcal T), \qquad
        y = \sum_{i \in \mathcal T} w_i\, E_i(x)

    Parameters
    ----------
    logits : torch.Tensor
        ``(*, N)`` router logits for ``N`` experts (usually ``(T, N)``, one row per token).
    k : int
        Experts per token, in ``[1, N]``.

    Returns
    -------
    weights : torch.Tensor
        ``(*, k)``, positive, each row summing to 1, largest first.
    indices : torch.Tensor
        ``(*, k)`` int64, the selected experts.

    See Also
    --------
    torch.topk, load_balancing_loss

    References
    ----------
    .. [1] N. Shazeer et al., "Outrageously Large Neural Networks: The Sparsely-Gated
       Mixture-of-Experts Layer", ICLR 2017.
    .. [2] A. Q. Jiang et al., "Mixtral of Experts", arXiv:2401.04088, 2024, section 2.1.

    Examples
    --------
    The same as the full softmax, kept on the top k and renormalized:

    >>> z = torch.randn(6, 8, dtype=torch.float64)
    >>> w, idx = top_k_routing(z, k=2)
    >>> p = z.softmax(dim=-1).gather(-1, idx)
    >>> torch.allclose(w, p / p.sum(-1, keepdim=True)), torch.equal(idx, z.topk(2).indices)
    (True, True)

    An MoE layer with eight linear experts: running only each token's two equals the dense mixture
    of all eight with zero weight on the others:

    >>> experts = torch.randn(8, 16, 16, dtype=torch.float64)     # (N, C, C)
    >>> x = torch.randn(6, 16, dtype=torch.float64)
    >>> y = torch.stack([sum(w[t, j] * x[t] @ experts[idx[t, j]] for j in range(2)) for t in range(6)])
    >>> gates = torch.zeros(6, 8, dtype=torch.float64).scatter(1, idx, w)    # (T, N), two nonzero per row
    >>> torch.allclose(y, torch.einsum("tn,tc,ncd->td", gates, x, experts))
    True

    The unselected experts' logits get no gradient; with ``k = 1`` no logit does:

    >>> z = torch.randn(6, 8, dtype=torch.float64, requires_grad=True)
    >>> w, idx = top_k_routing(z, k=2)
    >>> (w * torch.randn(6, 2, dtype=torch.float64)).sum().backward()
    >>> selected = torch.zeros(6, 8, dtype=torch.bool).scatter(1, idx, True)
    >>> bool((z.grad[~selected] == 0).all() and (z.grad[selected] != 0).all())
    True
    >>> z.grad = None
    >>> w1, _ = top_k_routing(z, k=1)
    >>> (w1 * torch.randn(6, 1, dtype=torch.float64)).sum().backward()
    >>> bool((w1 == 1).all() and (z.grad == 0).all())
    True
    """
    k = _check_router(logits, k)
    top, indices = logits.topk(k, dim=-1)  # (*, k), largest first
    # softmax over the k selected logits, shifted by their max for stability
    e = (top - top[..., :1]).exp()  # (*, k)
    return e / e.sum(dim=-1, keepdim=True), indices


@question(
    "moe-load-balancing",
    level="advanced",
    short=(
        "Left alone, a router collapses onto a few experts, which get all the training while the rest starve. "
        "Switch Transformer adds N times the sum over experts of f_i P_i, the fraction of tokens sent to "
        "expert i times its mean router probability: 1.0 when balanced, N when one expert takes everything. "
        "Its gradient lowers overloaded experts' probabilities."
    ),
    followups=("moe-top-k-routing", "moe-active-parameters"),
)
def load_balancing_loss(logits: torch.Tensor, k: int = 1) -> torch.Tensor:
    r"""Switch Transformer's auxiliary loss :math:`N \sum_i f_i P_i` over a batch of router logits.

    **What is the load-balancing loss of a mixture of experts, and what are its balanced and collapsed values?**

    A router trained only on the task loss tends to collapse: the experts it picks early improve,
    get picked more, and the others never train (and tokens beyond an expert's capacity are dropped).
    The auxiliary loss multiplies, for each expert, the fraction of tokens routed to it :math:`f_i` by
    the mean probability the router gives it :math:`P_i`, sums, and scales by :math:`N`. Uniform
    routing gives exactly 1, total collapse onto one expert gives :math:`N`. :math:`f` comes from an
    argmax and has no gradient; the gradient flows through :math:`P` and lowers the probability of
    the experts that receive the most tokens. It is added to the task loss with a small weight
    (:math:`\alpha = 10^{-2}` in the paper).

    .. math::

        f_i = \frac{1}{kT} \sum_{t=1}^{T} \mathbb 1[i \in \operatorname{top-k}(z_t)], \qquad
        P_i = \frac{1}{T} \sum_{t=1}^{T} \operatorname{softmax}(z_t)_i, \qquad
        L_{\text{aux}} = N \sum_{i=1}^{N} f_i\, P_i

    Parameters
    ----------
    logits : torch.Tensor
        ``(T, N)``: router logits of ``T`` tokens for ``N`` experts.
    k : int, default 1
        Experts per token (1 in Switch Transformer, 2 in Mixtral); :math:`f` counts a token once for
        each of its :math:`k` experts and is divided by :math:`k`, so that it sums to 1.

    Returns
    -------
    torch.Tensor
        A scalar.

    See Also
    --------
    top_k_routing

    Notes
    -----
    Implementations differ by constant factors for :math:`k > 1`: some do not divide :math:`f` by
    :math:`k`, so their balanced value is :math:`k` instead of 1. Only the gradient's direction
    matters, but compare values only between implementations that agree.

    References
    ----------
    .. [1] W. Fedus, B. Zoph and N. Shazeer, "Switch Transformers: Scaling to Trillion Parameter
       Models with Simple and Efficient Sparsity", JMLR 23, 2022, equations (4)-(6).

    Examples
    --------
    The formula, written with one-hot counts:

    >>> z = torch.randn(32, 4, dtype=torch.float64)
    >>> f = F.one_hot(z.argmax(-1), 4).double().mean(0)
    >>> torch.allclose(load_balancing_loss(z), 4 * (f * z.softmax(-1).mean(0)).sum())
    True

    Balanced routing (each of 4 experts preferred by a quarter of the tokens, mean probability 1/4
    each) gives 1.0; every token sent to expert 0 with certainty gives N = 4:

    >>> balanced = 3.0 * torch.eye(4, dtype=torch.float64).repeat(8, 1)         # (32, 4)
    >>> round(load_balancing_loss(balanced).item(), 4), round(load_balancing_loss(balanced, k=2).item(), 4)
    (1.0, 1.0)
    >>> collapsed = torch.zeros(32, 4, dtype=torch.float64)
    >>> collapsed[:, 0] = 50.0
    >>> round(load_balancing_loss(collapsed).item(), 4)
    4.0

    A gradient step on the loss lowers the mean probability of the overloaded expert:

    >>> z = torch.randn(32, 4, dtype=torch.float64)
    >>> z[:, 0] += 2.0                                          # expert 0 takes most tokens
    >>> _ = z.requires_grad_()
    >>> load_balancing_loss(z).backward()
    >>> before = z.softmax(-1).mean(0)[0]
    >>> after = (z - 0.5 * z.grad).softmax(-1).mean(0)[0]
    >>> bool(after < before)
    True
    """
    check.tensor("logits", logits, ndim=2, finite=True)
    k = _check_router(logits, k)
    T, N = logits.shape
    # P_i: the mean router probability of expert i (differentiable)
    P = logits.softmax(dim=-1).mean(dim=0)  # (N,)
    # f_i: the fraction of the T * k token-to-expert assignments that go to expert i (a count)
    chosen = logits.detach().topk(k, dim=-1).indices  # (T, k)
    f = torch.zeros(N, dtype=logits.dtype).scatter_add_(0, chosen.reshape(-1), torch.ones(T * k, dtype=logits.dtype))
    f = f / (T * k)  # (N,)
    return N * (f * P).sum()


@question(
    "moe-active-parameters",
    level="intermediate",
    short=(
        "Only the feed-forward blocks are replicated per expert; attention, embeddings and norms are shared. "
        "Mixtral 8x7B therefore has 46.7 billion parameters, not 8 times 7.2, and since each token uses "
        "2 of its 8 experts, 12.9 billion are active per token. All 46.7 billion must still sit in memory; "
        "compute per token is that of a 13B dense model."
    ),
    followups=("moe-top-k-routing", "qlora-bits-per-parameter"),
)
def moe_parameter_count(config: dict) -> tuple[int, int]:
    r"""Total and active-per-token parameters of a Mixtral-style decoder, from its configuration.

    **How many parameters does a mixture-of-experts model have, and how many does each token use?**

    An MoE transformer replicates only the feed-forward block of each layer, :math:`E` times; the
    attention projections, the embeddings, the output head, the norms and the router are shared.
    Each token runs :math:`k` of the :math:`E` experts, so the *active* parameters (the compute per
    token) count :math:`k` feed-forward blocks, while the *total* (the memory) counts all :math:`E`.
    For Mixtral 8x7B (Mistral 7B's shape with 8 experts, top-2) that is 46.7B total and 12.9B active,
    as the paper states.

    .. math::

        \text{attn} = 2d^2 + 2 d\, d_{kv}, \quad \text{ffn} = 3 d f, \quad
        \text{total} = L(\text{attn} + E\,\text{ffn} + dE + 2d) + 2Vd + d, \quad
        \text{active} = \text{total} - L (E - k)\,\text{ffn}

    Parameters
    ----------
    config : dict
        Hugging Face-style keys: ``hidden_size`` (:math:`d`), ``intermediate_size`` (:math:`f`),
        ``num_hidden_layers`` (:math:`L`), ``num_attention_heads``, ``num_key_value_heads`` (their
        head dimension times the latter is :math:`d_{kv}`), ``vocab_size`` (:math:`V`),
        optionally ``num_local_experts`` (:math:`E`, default 1), ``num_experts_per_tok``
        (:math:`k`, default 1) and ``tie_word_embeddings`` (default False).

    Returns
    -------
    total : int
    active : int
        Parameters used per token.

    See Also
    --------
    top_k_routing

    Notes
    -----
    .. admonition:: Common mistake

        "An MoE with 8 experts of 7B has 56B active parameters."

        The "experts" are feed-forward blocks inside each layer, not whole 7B models, and a token
        uses only 2 of them: attention and embeddings are shared and counted once. Mixtral 8x7B has
        46.7B parameters in total, and a token uses 2 experts per layer, 12.9B active parameters;
        the examples count both from the paper's configuration.

    References
    ----------
    .. [1] A. Q. Jiang et al., "Mixtral of Experts", arXiv:2401.04088, 2024, Table 1 and section 2.
    .. [2] A. Q. Jiang et al., "Mistral 7B", arXiv:2310.06825, 2023, Table 1.

    Examples
    --------
    Mixtral 8x7B and its dense base, Mistral 7B, from their published configurations
    (``MIXTRAL_8X7B``, ``MISTRAL_7B``):

    >>> total, active = moe_parameter_count(MIXTRAL_8X7B)
    >>> total, active
    (46702792704, 12879925248)
    >>> round(total / 1e9, 1), round(active / 1e9, 1)
    (46.7, 12.9)
    >>> dense, _ = moe_parameter_count(MISTRAL_7B)
    >>> round(dense / 1e9, 2)
    7.24

    Not 8 x 7.24B, and not 2 x 7.24B active:

    >>> total < 8 * dense and active < 2 * dense
    True

    The difference is exactly the replicated feed-forward blocks:

    >>> L, d, f = 32, 4096, 14336
    >>> total - dense == L * 7 * 3 * d * f + L * d * 8, active - dense == L * 1 * 3 * d * f + L * d * 8
    (True, True)
    """
    config = check_config("config", config)
    return decoder_parameters(config)
