"""Decoding: temperature, top-k, top-p, beam search and speculative decoding

A language model gives a distribution over the next token; decoding decides what to do with it.
Temperature reshapes it, top-k and top-p (nucleus) sampling cut its tail, beam search looks for a
likely whole sequence, and speculative decoding gets several tokens per pass of the large model
without changing the distribution at all. Each is built from scratch here and shown on small
distributions where the strategies disagree.
"""

from __future__ import annotations

import math  # noqa: F401 (the examples use it)

import torch

from nnfaq import _validate as check
from nnfaq._registry import question

__all__ = [
    "beam_search",
    "sampling_probs",
    "speculative_decode",
    "speculative_output_distribution",
    "top_k_filter",
    "top_p_filter",
]


@question(
    "top-k-sampling",
    level="basic",
    short=(
        "Top-k sampling keeps the k most likely tokens, sets every other logit to minus infinity and samples "
        "from the renormalised softmax. It cuts the long tail of unlikely tokens, but k is fixed: on a "
        "peaked distribution it keeps junk, on a flat one it cuts plausible tokens. k = 1 is greedy decoding."
    ),
    followups=("top-p-sampling", "sampling-temperature"),
)
def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    r"""Keep the ``k`` largest logits of each row and set the others to ``-inf``.

    **What is top-k sampling, and what is its weakness?**

    Sampling from the full softmax sometimes picks one of the many very unlikely tokens, and one bad
    token can derail the rest of the text. Top-k keeps only the ``k`` most likely tokens, sets every
    other logit to :math:`-\infty` and samples from the renormalised softmax. Its weakness is that ``k``
    is fixed: on a peaked distribution even ``k = 3`` keeps tokens with almost no probability, and on a
    flat one it cuts plausible tokens. ``k = 1`` is greedy decoding.

    .. math::

        \tilde z_j = \begin{cases} z_j & z_j \ge z_{(k)} \\ -\infty & \text{otherwise} \end{cases}

    where :math:`z_{(k)}` is the ``k``-th largest logit.

    Parameters
    ----------
    logits : torch.Tensor
        ``(*, V)``.
    k : int
        At least 1; a ``k`` of ``V`` or more keeps everything.

    Returns
    -------
    torch.Tensor
        ``(*, V)``, the filtered logits.

    See Also
    --------
    top_p_filter, sampling_probs, torch.topk

    Notes
    -----
    Logits tied with the ``k``-th largest are all kept, as in Hugging Face's ``TopKLogitsWarper``.

    References
    ----------
    .. [1] A. Fan, M. Lewis, Y. Dauphin, "Hierarchical Neural Story Generation", ACL 2018.

    Examples
    --------
    The ``k`` most likely tokens survive; the softmax renormalises them:

    >>> logits = torch.tensor([2.0, -1.0, 0.5, 1.0, -3.0], dtype=torch.float64)
    >>> kept = top_k_filter(logits, 2)
    >>> torch.isfinite(kept).tolist()
    [True, False, False, True, False]
    >>> probs = torch.softmax(kept, -1)
    >>> torch.allclose(probs[[0, 3]], torch.softmax(logits[[0, 3]], -1)), probs.sum().item()
    (True, 1.0)

    ``k = 1`` is greedy, and a fixed ``k`` keeps unlikely tokens when the distribution is peaked:

    >>> torch.equal(torch.softmax(top_k_filter(logits, 1), -1), sampling_probs(logits, temperature=0))
    True
    >>> peaked = torch.tensor([0.97, 0.015, 0.01, 0.005], dtype=torch.float64).log()
    >>> [round(x, 4) for x in torch.softmax(top_k_filter(peaked, 3), -1).tolist()]
    [0.9749, 0.0151, 0.0101, 0.0]
    """
    check.tensor("logits", logits, min_ndim=1)
    k = check.integer("k", k, low=1)
    # z_(k): the k-th largest logit of each row
    kth = logits.topk(min(k, logits.shape[-1]), dim=-1).values[..., -1:]  # (*, 1)
    return logits.masked_fill(logits < kth, float("-inf"))  # (*, V)


@question(
    "top-p-sampling",
    level="intermediate",
    short=(
        "Top-p (nucleus) sampling keeps the smallest set of most likely tokens whose total probability "
        "reaches p, always at least one, and samples from them renormalised. Unlike top-k the number kept "
        "adapts: one or two tokens when the model is sure, many when it is not. It is cumulative "
        "probability, not a threshold on each token's probability."
    ),
    followups=("top-k-sampling", "sampling-temperature", "beam-search"),
)
def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    r"""Nucleus filter: keep the smallest set of most likely tokens whose probability reaches ``p``.

    **What is top-p (nucleus) sampling, and how does it differ from top-k?**

    Sort the tokens by probability and keep them, most likely first, until their total probability
    reaches ``p``; set every other logit to :math:`-\infty` and sample from the renormalised softmax.
    The most likely token is always kept. The size of the nucleus adapts to the model's confidence:
    when one token has 95 % of the mass, ``p = 0.9`` keeps just that token; when the distribution is
    flat it keeps many. Top-k keeps the same number in both cases.

    .. math::

        \text{keep } j \iff \sum_{i:\, \pi_i \text{ before } j} \pi_i < p

    with the probabilities :math:`\pi` in decreasing order.

    Parameters
    ----------
    logits : torch.Tensor
        ``(*, V)``.
    p : float
        In ``(0, 1]``; 1 keeps everything.

    Returns
    -------
    torch.Tensor
        ``(*, V)``, the filtered logits.

    See Also
    --------
    top_k_filter, sampling_probs

    Notes
    -----
    Ties are ordered by index (a stable sort). Hugging Face's ``TopPLogitsWarper`` removes the
    tokens whose cumulative probability, counted from the least likely, is at most ``1 - p``: the same
    set up to rounding at the boundary.

    .. admonition:: Common mistake

        "Top-p keeps every token whose probability is at least p."

        It keeps the most likely tokens until their total reaches ``p``. With ``p = 0.9`` and
        probabilities 0.5, 0.3, 0.15, 0.05, no token has probability 0.9, yet three are kept; the
        examples show it.

    References
    ----------
    .. [1] A. Holtzman et al., "The Curious Case of Neural Text Degeneration", ICLR 2020.

    Examples
    --------
    The first three tokens are needed to reach 0.9:

    >>> logits = torch.tensor([0.5, 0.3, 0.15, 0.05], dtype=torch.float64).log()
    >>> torch.isfinite(top_p_filter(logits, 0.9)).tolist()
    [True, True, True, False]
    >>> torch.allclose(torch.softmax(top_p_filter(logits, 0.9), -1)[:3], torch.tensor([0.5, 0.3, 0.15]).double() / 0.95)
    True

    The nucleus adapts: one token when the model is sure, all of them when the distribution is flat,
    where top-3 keeps three in both cases:

    >>> sure = torch.tensor([0.95, 0.02, 0.02, 0.01], dtype=torch.float64).log()
    >>> flat = torch.tensor([0.3, 0.26, 0.24, 0.2], dtype=torch.float64).log()
    >>> [int(torch.isfinite(top_p_filter(z, 0.9)).sum()) for z in (sure, flat)]
    [1, 4]
    >>> [int(torch.isfinite(top_k_filter(z, 3)).sum()) for z in (sure, flat)]
    [3, 3]

    The most likely token survives even a tiny ``p``:

    >>> torch.isfinite(top_p_filter(logits, 1e-9)).tolist()
    [True, False, False, False]
    """
    check.tensor("logits", logits, min_ndim=1)
    p = check.number("p", p, low=0.0, high=1.0, low_open=True)
    if p == 1.0:
        return logits.clone()
    probs = torch.softmax(logits, dim=-1)  # (*, V)
    sorted_probs, order = probs.sort(dim=-1, descending=True, stable=True)  # (*, V)
    # probability of the tokens strictly ahead of each one
    before = sorted_probs.cumsum(-1) - sorted_probs  # (*, V)
    remove = torch.zeros_like(before, dtype=torch.bool).scatter(-1, order, before >= p)  # (*, V)
    return logits.masked_fill(remove, float("-inf"))  # (*, V)


@question(
    "sampling-temperature",
    level="basic",
    short=(
        "Temperature divides the logits before the softmax. Below 1 it sharpens the distribution, above 1 "
        "flattens it; the order of tokens never changes. As T goes to 0 all probability moves to the most "
        "likely token, so T = 0 is defined, by APIs and libraries, as greedy argmax decoding rather than "
        "a division by zero."
    ),
    followups=("top-k-sampling", "top-p-sampling", "beam-search"),
)
def sampling_probs(
    logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None
) -> torch.Tensor:
    r"""The distribution a sampler draws the next token from: temperature, then top-k, then top-p.

    **What does the sampling temperature do, and what does T = 0 mean?**

    The logits are divided by :math:`T` before the softmax. :math:`T < 1` sharpens the distribution
    (likely tokens more likely), :math:`T > 1` flattens it towards uniform; the ranking of the tokens
    never changes, and the entropy grows with :math:`T`. As :math:`T \to 0` all the probability goes
    to the most likely token, so :math:`T = 0` is taken to mean greedy (argmax) decoding: libraries
    and APIs special-case it rather than divide by zero. Top-k and top-p then cut the tail of the
    tempered distribution (in this order, as Hugging Face applies them).

    .. math::

        \pi_j(T) = \frac{e^{z_j / T}}{\sum_k e^{z_k / T}}, \qquad
        \lim_{T \to 0} \pi(T) = \mathrm{onehot}(\arg\max_j z_j), \qquad
        \lim_{T \to \infty} \pi(T) = \tfrac{1}{V}

    Parameters
    ----------
    logits : torch.Tensor
        ``(*, V)``.
    temperature : float, default 1.0
        :math:`T \ge 0`; 0 is greedy.
    top_k : int, optional
        Keep the ``top_k`` most likely tokens (:func:`top_k_filter`).
    top_p : float, optional
        Keep the nucleus of probability ``top_p`` (:func:`top_p_filter`).

    Returns
    -------
    torch.Tensor
        ``(*, V)`` probabilities; for ``T = 0`` one-hot on the first largest logit.

    See Also
    --------
    top_k_filter, top_p_filter, torch.multinomial

    Notes
    -----
    .. admonition:: Common mistake

        "Temperature 0 samples from a distribution with all of its mass on the best token, so it is
        just the limit of ordinary sampling."

        Dividing by 0 is undefined; ``T = 0`` is a convention for greedy decoding, which libraries
        implement as an argmax (Hugging Face: ``do_sample=False``). The limit agrees with it only when
        the largest logit is unique; the examples show that a small positive ``T`` already gives the
        one-hot distribution in float64.

    References
    ----------
    .. [1] G. Hinton, O. Vinyals, J. Dean, "Distilling the Knowledge in a Neural Network", 2015
       (temperature in the softmax).

    Examples
    --------
    On the same distribution greedy, top-k, top-p and plain sampling can each produce a different set of
    tokens:

    >>> logits = torch.tensor([0.5, 0.2, 0.15, 0.1, 0.05], dtype=torch.float64).log()
    >>> support = lambda probs: probs.nonzero().flatten().tolist()
    >>> support(sampling_probs(logits, temperature=0)), support(sampling_probs(logits, top_k=2))
    ([0], [0, 1])
    >>> support(sampling_probs(logits, top_p=0.8)), support(sampling_probs(logits))
    ([0, 1, 2], [0, 1, 2, 3, 4])

    Temperature is a division of the logits; it keeps the order and raises the entropy:

    >>> torch.allclose(sampling_probs(logits, temperature=0.7), torch.softmax(logits / 0.7, -1))
    True
    >>> [round(sampling_probs(logits, temperature=t)[0].item(), 4) for t in (0.1, 0.5, 1.0, 2.0)]
    [0.9999, 0.7692, 0.5, 0.3397]
    >>> entropy = lambda probs: -(probs * probs.log()).sum().item()
    >>> H = [entropy(sampling_probs(logits, temperature=t)) for t in (0.25, 0.5, 1.0, 2.0, 4.0)]
    >>> H == sorted(H), all(int(sampling_probs(logits, temperature=t).argmax()) == 0 for t in (0.25, 4.0, 100.0))
    (True, True)

    As ``T`` goes to 0 the distribution becomes the greedy one-hot; as it grows, uniform:

    >>> torch.equal(sampling_probs(logits, temperature=1e-3), sampling_probs(logits, temperature=0))
    True
    >>> bool((sampling_probs(logits, temperature=1e6) - 0.2).abs().max() < 1e-5)
    True
    """
    check.tensor("logits", logits, min_ndim=1)
    T = check.number("temperature", temperature, low=0.0)
    if T == 0.0:
        # greedy: all the mass on the first largest logit
        return torch.zeros_like(logits).scatter(-1, logits.argmax(-1, keepdim=True), 1.0)  # (*, V)
    z = logits / T  # (*, V)
    if top_k is not None:
        z = top_k_filter(z, check.integer("top_k", top_k, low=1))
    if top_p is not None:
        z = top_p_filter(z, top_p)
    return torch.softmax(z, dim=-1)  # (*, V)


@question(
    "beam-search",
    level="intermediate",
    short=(
        "Beam search keeps the B most likely partial sequences; each step extends every one by every token "
        "and keeps the B best total log-probabilities. Greedy is B = 1 and loses when a likely first token "
        "has only unlikely continuations. Beam search is not exact either: the best sequence can start with a "
        "token it pruned."
    ),
    followups=("sampling-temperature", "speculative-decoding"),
)
def beam_search(log_prob_fn, num_beams: int, max_new_tokens: int, prefix: tuple = ()) -> tuple[tuple, float]:
    r"""Beam search from scratch: the most likely continuation of ``prefix`` that a beam of ``num_beams`` finds.

    **How does beam search work, when does greedy decoding lose to it, and does beam search find the most
    likely sequence?**

    Beam search keeps the ``B`` partial sequences with the highest total log-probability. Each step
    extends every one of them by every token of the vocabulary, adds the token's log-probability, and
    keeps the ``B`` best of the ``B V`` candidates. Greedy decoding is ``B = 1``, and loses when the
    most likely first token is followed only by unlikely ones, while a less likely first token has a
    very likely continuation. A wider beam helps but is not exact: the best sequence may begin with a
    token that fell out of the beam. Only ``B = V^n`` is exhaustive.

    .. math::

        \mathrm{score}(y_{1:t}) = \sum_{i=1}^{t} \log \pi(y_i \mid y_{<i}), \qquad
        \text{beam}_t = \mathrm{top}_B \{ (y, w) : y \in \text{beam}_{t-1},\, w \in \mathcal{V} \}

    Parameters
    ----------
    log_prob_fn : callable
        ``log_prob_fn(tokens) -> (V,)`` tensor of next-token log-probabilities given a tuple of token ids.
    num_beams : int
        Beam width ``B`` (1 is greedy).
    max_new_tokens : int
        Tokens to add (every hypothesis has this length; there is no end-of-sequence token).
    prefix : tuple of int, default ()
        The prompt.

    Returns
    -------
    tokens : tuple of int
        The best continuation found (without the prefix).
    log_prob : float
        Its total log-probability.

    See Also
    --------
    sampling_probs

    Notes
    -----
    Real decoders add an end-of-sequence token, keep finished hypotheses aside and divide the score by
    a power of the length (GNMT's length penalty), because summed log-probabilities favour short
    outputs. Ties are broken by the earlier beam and the lower token id.

    .. admonition:: Common mistake

        "Beam search returns the most likely sequence."

        It returns the most likely sequence among those it kept. The examples build a model where the
        best two-token sequence starts with the least likely first token, which a beam of 2 prunes.

    References
    ----------
    .. [1] I. Sutskever, O. Vinyals, Q. V. Le, "Sequence to Sequence Learning with Neural Networks",
       NeurIPS 2014, section 3.2.
    .. [2] Y. Wu et al., "Google's Neural Machine Translation System", 2016, section 7 (length penalty).

    Examples
    --------
    Greedy takes token 0 (probability 0.5) and finds only 0.4 after it; beam search also follows token 1
    (0.4), whose continuation has 0.9:

    >>> table = {(): [0.5, 0.4, 0.1], (0,): [0.4, 0.3, 0.3], (1,): [0.9, 0.05, 0.05], (2,): [0.4, 0.3, 0.3]}
    >>> model = lambda tokens: torch.tensor(table[tokens], dtype=torch.float64).log()
    >>> tokens, log_prob = beam_search(model, num_beams=1, max_new_tokens=2)
    >>> tokens, round(math.exp(log_prob), 4)
    ((0, 0), 0.2)
    >>> tokens, log_prob = beam_search(model, num_beams=2, max_new_tokens=2)
    >>> tokens, round(math.exp(log_prob), 4)
    ((1, 0), 0.36)

    Here that is the optimum, found by the exhaustive search (a beam as wide as all ``3^2`` sequences):

    >>> beam_search(model, num_beams=9, max_new_tokens=2)[0] == beam_search(model, num_beams=2, max_new_tokens=2)[0]
    True

    Beam search is not exact: the best sequence starts with the least likely token, which a beam of 2
    drops after the first step:

    >>> trap = {(): [0.4, 0.35, 0.25], (0,): [0.5, 0.5, 0.0], (1,): [0.5, 0.5, 0.0], (2,): [1.0, 0.0, 0.0]}
    >>> model = lambda tokens: torch.tensor(trap[tokens], dtype=torch.float64).log()
    >>> [(t, round(math.exp(lp), 4)) for t, lp in (beam_search(model, b, 2) for b in (2, 9))]
    [((0, 0), 0.2), ((2, 0), 0.25)]
    """
    if not callable(log_prob_fn):
        raise TypeError(f"log_prob_fn must be callable, got {type(log_prob_fn).__name__}")
    num_beams = check.integer("num_beams", num_beams, low=1)
    max_new_tokens = check.integer("max_new_tokens", max_new_tokens, low=1)
    if not isinstance(prefix, tuple):
        raise TypeError(f"prefix must be a tuple of token ids, got {type(prefix).__name__}")
    beams = [prefix]
    scores = torch.zeros(1, dtype=torch.float64)  # (n,) total log-probability of each beam
    for _ in range(max_new_tokens):
        log_probs = torch.stack([_next_log_probs(log_prob_fn, seq) for seq in beams])  # (n, V)
        V = log_probs.shape[-1]
        # score(y, w) = score(y) + log pi(w | y), over every beam and every token
        totals, order = (scores[:, None] + log_probs).flatten().sort(descending=True, stable=True)  # (n V,)
        keep = order[:num_beams].tolist()
        beams = [beams[i // V] + (i % V,) for i in keep]
        scores = totals[:num_beams]  # (B,)
    return beams[0][len(prefix) :], scores[0].item()


def _next_log_probs(log_prob_fn, tokens: tuple) -> torch.Tensor:
    lp = log_prob_fn(tokens)
    if not isinstance(lp, torch.Tensor) or lp.dim() != 1 or not lp.is_floating_point():
        raise ValueError(f"log_prob_fn must return a 1-D floating-point tensor, got {lp!r} for tokens {tokens}")
    return lp.to(torch.float64)


def _check_distributions(name_p: str, p, name_q: str, q) -> None:
    """Both are tensors of probability vectors along the last dimension (non-negative, summing to 1)."""
    for name, t in ((name_p, p), (name_q, q)):
        check.tensor(name, t, min_ndim=1)
        check.probabilities(name, t)
        if not torch.allclose(t.sum(-1), torch.ones((), dtype=t.dtype), atol=1e-6):
            raise ValueError(f"{name} must sum to 1 along its last dimension")
    check.same_dtype(name_p, p, **{name_q: q})


@question(
    "speculative-decoding",
    level="advanced",
    short=(
        "A small draft model q proposes tokens and the target p checks them in one pass. A draft token x is "
        "accepted with probability min(1, p(x)/q(x)); on rejection a token is drawn from max(0, p - q), "
        "renormalised. Accepted mass min(p, q) plus rejected mass times the residual is exactly p: the "
        "target's distribution, not an approximation."
    ),
    followups=("speculative-decoding-speedup", "sampling-temperature"),
)
def speculative_output_distribution(target_probs: torch.Tensor, draft_probs: torch.Tensor) -> torch.Tensor:
    r"""Exact distribution of the token that one speculative-sampling step emits.

    **How does speculative decoding decide which draft tokens to keep, and why is its output
    distributed exactly as the target model's?**

    The draft model proposes :math:`x \sim q`. The target accepts it with probability
    :math:`\min(1, p(x)/q(x))`; otherwise it samples a replacement from the residual
    :math:`\max(0, p - q)`, renormalised. The probability of emitting :math:`y` is then
    :math:`\min(p(y), q(y))` through acceptance, plus the rejected mass :math:`1 - \sum \min(p, q)`
    times the residual, which is :math:`p(y) - \min(p(y), q(y))`: together exactly :math:`p(y)`. This
    function computes that sum branch by branch, so the examples can compare it with ``p``.

    .. math::

        P(y) = q(y)\min\!\left(1, \frac{p(y)}{q(y)}\right)
        + \left(1 - \sum_x \min(p(x), q(x))\right) \frac{\max(0, p(y) - q(y))}{\sum_x \max(0, p(x) - q(x))}
        = p(y)

    Parameters
    ----------
    target_probs : torch.Tensor
        ``(*, V)`` target distribution :math:`p`.
    draft_probs : torch.Tensor
        ``(*, V)`` draft distribution :math:`q`.

    Returns
    -------
    torch.Tensor
        ``(*, V)``, the distribution of the emitted token.

    See Also
    --------
    speculative_decode

    Notes
    -----
    The acceptance rate is :math:`\alpha = \sum_x \min(p(x), q(x)) = 1 - \mathrm{TV}(p, q)`. Greedy
    speculative decoding (accept when the draft equals the target's argmax) is exact only for greedy
    decoding.

    .. admonition:: Common mistake

        "When a draft token is rejected, sample the replacement from the target distribution."

        That gives the tokens that ``p`` and ``q`` agree on twice the chance: the emitted distribution
        becomes :math:`\min(p, q) + (1 - \alpha)\,p`, not :math:`p`. The replacement must come from the
        residual :math:`\max(0, p - q)`; the examples compute both.

    References
    ----------
    .. [1] Y. Leviathan, M. Kalman, Y. Matias, "Fast Inference from Transformers via Speculative
       Decoding", ICML 2023, section 2.3 and appendix A.1.
    .. [2] C. Chen et al., "Accelerating Large Language Model Decoding with Speculative Sampling", 2023.

    Examples
    --------
    The emitted token is distributed exactly as the target, for a given pair and for random ones:

    >>> p = torch.tensor([0.5, 0.3, 0.15, 0.05], dtype=torch.float64)
    >>> q = torch.tensor([0.25, 0.25, 0.25, 0.25], dtype=torch.float64)
    >>> torch.allclose(speculative_output_distribution(p, q), p)
    True
    >>> P, Q = torch.randn(6, 10, dtype=torch.float64).softmax(-1), torch.randn(6, 10, dtype=torch.float64).softmax(-1)
    >>> torch.allclose(speculative_output_distribution(P, Q), P)
    True

    The acceptance rate is the overlap of the two distributions, ``1 - TV(p, q)``:

    >>> alpha = torch.minimum(p, q).sum()
    >>> round(alpha.item(), 4), round(1 - 0.5 * (p - q).abs().sum().item(), 4)
    (0.7, 0.7)

    Resampling from the target on rejection is biased:

    >>> wrong = torch.minimum(p, q) + (1 - alpha) * p
    >>> torch.allclose(wrong, p), [round(w, 4) for w in wrong.tolist()]
    (False, [0.4, 0.34, 0.195, 0.065])
    """
    _check_distributions("target_probs", target_probs, "draft_probs", draft_probs)
    p, q = torch.broadcast_tensors(target_probs, draft_probs)  # (*, V)
    # accept x with probability min(1, p(x) / q(x)); a token with q(x) = 0 is never drafted
    accept = torch.where(q > 0, p / q.masked_fill(q == 0, 1.0), torch.zeros_like(p)).clamp(max=1.0)  # (*, V)
    accepted = q * accept  # (*, V) = min(p, q)
    rejected = 1 - accepted.sum(-1, keepdim=True)  # (*, 1)
    return accepted + rejected * _residual(p, q)  # (*, V)


def _residual(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """max(0, p - q), renormalised; where it is all zero (p = q, never rejected) any distribution will do: p."""
    r = (p - q).clamp(min=0.0)  # (*, V)
    mass = r.sum(-1, keepdim=True)  # (*, 1)
    return torch.where(mass > 0, r / mass.masked_fill(mass == 0, 1.0), p)  # (*, V)


@question(
    "speculative-decoding-speedup",
    level="advanced",
    short=(
        "With k draft tokens per target pass, each accepted with probability a (the overlap of draft and "
        "target), a pass emits the accepted prefix plus one target token: on average (1 - a^(k+1)) / (1 - a) "
        "tokens, between 1 and k + 1. Decoding is memory bound, so verifying k tokens costs about one "
        "ordinary step."
    ),
    followups=("speculative-decoding", "is-gqa-faster"),
)
def speculative_decode(target_probs: torch.Tensor, draft_probs: torch.Tensor, generator=None):
    r"""One target pass of speculative sampling, for ``N`` independent sequences at once.

    **How many tokens does speculative decoding produce per pass of the target model?**

    The draft proposes ``k`` tokens one after another; the target scores all of them in one pass and
    accepts them left to right with probability :math:`\min(1, p/q)` each, stopping at the first
    rejection. The pass emits the accepted prefix plus one more token: the residual sample at the
    rejected position, or, if all ``k`` were accepted, a bonus token from the target's distribution
    after them. If each draft token is accepted with probability :math:`\alpha`, independently, the
    number of tokens per pass has mean :math:`(1 - \alpha^{k+1}) / (1 - \alpha)`, between 1 and
    :math:`k + 1`. Because decoding is memory bound, checking ``k`` tokens costs the target about one
    ordinary step.

    .. math::

        P(n \text{ accepted}) = \alpha^n (1 - \alpha) \ (n < k), \quad \alpha^k \ (n = k), \qquad
        \mathbb{E}[n + 1] = \frac{1 - \alpha^{k+1}}{1 - \alpha}

    Parameters
    ----------
    target_probs : torch.Tensor
        ``(N, k + 1, V)``: the target's distribution at each draft position and after the last one.
    draft_probs : torch.Tensor
        ``(N, k, V)``: the draft's distribution at each position.
    generator : torch.Generator, optional
        Source of randomness.

    Returns
    -------
    tokens : torch.Tensor
        ``(N, k + 1)`` int64: the emitted tokens, then ``-1``.
    num_emitted : torch.Tensor
        ``(N,)`` int64, tokens emitted by the pass, in ``[1, k + 1]``.

    See Also
    --------
    speculative_output_distribution

    Notes
    -----
    A real draft's distributions depend on the tokens it drew; here each position has a fixed
    distribution, which keeps the acceptance probability the same at every position, the assumption
    of the formula.

    References
    ----------
    .. [1] Y. Leviathan, M. Kalman, Y. Matias, "Fast Inference from Transformers via Speculative
       Decoding", ICML 2023, Algorithm 1 and equation (1).

    Examples
    --------
    With acceptance rate 0.7 and 4 draft tokens, a pass emits on average ``(1 - 0.7^5) / 0.3`` tokens:

    >>> p = torch.tensor([0.5, 0.3, 0.15, 0.05], dtype=torch.float64)
    >>> q = torch.tensor([0.25, 0.25, 0.25, 0.25], dtype=torch.float64)
    >>> N, k = 20000, 4
    >>> tokens, n = speculative_decode(p.expand(N, k + 1, 4), q.expand(N, k, 4))
    >>> alpha = torch.minimum(p, q).sum().item()
    >>> expected = (1 - alpha ** (k + 1)) / (1 - alpha)
    >>> round(expected, 4)
    2.7731
    >>> abs(n.double().mean().item() - expected) < 0.06
    True
    >>> int(n.min()) >= 1, int(n.max()) <= k + 1
    (True, True)

    The first emitted token follows the target distribution, not the draft's:

    >>> first = torch.bincount(tokens[:, 0], minlength=4).double() / N
    >>> bool((first - p).abs().max() < 0.02), bool((first - q).abs().max() < 0.02)
    (True, False)
    """
    for name, t in (("target_probs", target_probs), ("draft_probs", draft_probs)):
        check.tensor(name, t, ndim=3)
    N, k, V = draft_probs.shape
    check.same_shape("target_probs", target_probs, (N, k + 1, V), "(N, k + 1, V) for draft_probs (N, k, V)")
    _check_distributions("target_probs", target_probs, "draft_probs", draft_probs)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    p, q = target_probs[:, :k], draft_probs  # (N, k, V)
    # the draft proposes x_i ~ q_i
    x = torch.multinomial(q.reshape(-1, V), 1, generator=generator).view(N, k)  # (N, k)
    p_x, q_x = p.gather(-1, x[..., None])[..., 0], q.gather(-1, x[..., None])[..., 0]  # (N, k)
    # accept x_i with probability min(1, p(x_i) / q(x_i)), left to right until the first rejection
    u = torch.rand(N, k, generator=generator, dtype=p.dtype)  # (N, k)
    accepted = (u * q_x < p_x).long().cumprod(-1).sum(-1)  # (N,) accepted prefix length n
    # the extra token: from the residual at the rejected position, or from p after k accepted drafts
    fix = torch.cat([_residual(p, q), target_probs[:, k:]], dim=1)  # (N, k + 1, V)
    y = torch.multinomial(fix.reshape(-1, V), 1, generator=generator).view(N, k + 1)  # (N, k + 1)
    rows = torch.arange(N)
    tokens = torch.cat([x, x.new_full((N, 1), -1)], dim=1)  # (N, k + 1)
    tokens = tokens.masked_fill(torch.arange(k + 1)[None, :] >= accepted[:, None], -1)  # keep x_0..x_{n-1}
    tokens[rows, accepted] = y[rows, accepted]
    return tokens, accepted + 1
