"""Language-model loss and perplexity

A language model is trained and judged by how well it predicts the next token. This topic writes
the training loss (labels shifted by one, padding ignored) and perplexity from scratch, checks them
against PyTorch's cross-entropy, and proves the classic mistakes: averaging over padding, averaging
micro-batch means, and comparing perplexities across tokenizers.
"""

from __future__ import annotations

import math  # noqa: F401 (the examples use it)

import torch

from nnfaq import _validate as check
from nnfaq._registry import question

__all__ = ["causal_lm_loss", "perplexity"]


def _token_nll(logits: torch.Tensor, target: torch.Tensor, ignore_index: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Negative log-likelihood of each target token, and the mask of the tokens that count."""
    keep = target != ignore_index  # (*,)
    safe = target.masked_fill(~keep, 0)  # (*,) any valid class where ignored
    if bool((safe < 0).any()) or bool((safe >= logits.shape[-1]).any()):
        raise ValueError(f"target must hold class indices in [0, {logits.shape[-1] - 1}] or ignore_index")
    # -log softmax(z)_y = logsumexp(z) - z_y
    nll = torch.logsumexp(logits, dim=-1) - logits.gather(-1, safe[..., None])[..., 0]  # (*,)
    return nll.masked_fill(~keep, 0.0), keep


def _check_targets(logits, target, name: str, ignore_index) -> int:
    check.tensor("logits", logits, min_ndim=1)
    check.tensor(name, target, floating=False)
    if target.is_floating_point() or target.is_complex() or target.dtype == torch.bool:
        raise TypeError(f"{name} must be an integer tensor of class indices, got dtype {target.dtype}")
    if tuple(target.shape) != tuple(logits.shape[:-1]):
        raise ValueError(
            f"{name} must have the shape of logits without its last dimension {tuple(logits.shape[:-1])}, "
            f"got {tuple(target.shape)}"
        )
    return check.integer("ignore_index", ignore_index)


@question(
    "perplexity",
    level="basic",
    short=(
        "Perplexity is exp of the mean per-token cross-entropy in nats: the number of equally likely tokens "
        "the model is as unsure as. A uniform model over V tokens scores exactly V, a perfect one 1. It is "
        "per token, so models with different tokenizers are not comparable: the same text probability gives "
        "different perplexities. Compare bits per byte."
    ),
    followups=("causal-lm-loss", "cross-entropy-takes-logits"),
)
def perplexity(logits: torch.Tensor, target: torch.Tensor, ignore_index: int = -100) -> float:
    r"""Perplexity: ``exp`` of the mean next-token cross-entropy over the tokens that count.

    **What is perplexity, how does it relate to cross-entropy, and can you compare it between models with
    different tokenizers?**

    Perplexity is the exponential of the average negative log-likelihood per token, that is of the
    cross-entropy in nats: a perplexity of 20 means the model is as uncertain as if it chose uniformly
    among 20 tokens at every step. A uniform model over a vocabulary of ``V`` has perplexity exactly
    ``V``, a perfect model 1. Because it is an average per token, it depends on the tokenizer: two
    models that give a text the same probability but split it into different numbers of tokens have
    different perplexities. Compare bits per byte (or per character) instead, the total negative
    log-likelihood divided by the length of the text.

    .. math::

        \mathrm{PPL} = \exp\!\left(-\frac{1}{N}\sum_{t=1}^{N} \log \pi(y_t \mid y_{<t})\right)
        = e^{\mathrm{CE}}, \qquad
        \text{bits per byte} = \frac{-\sum_t \log_2 \pi(y_t \mid y_{<t})}{\text{bytes}}

    Parameters
    ----------
    logits : torch.Tensor
        ``(*, V)`` next-token logits, already aligned with ``target``.
    target : torch.Tensor
        ``(*)`` int64 token ids; ``ignore_index`` marks tokens that do not count.
    ignore_index : int, default -100
        The label of padding (PyTorch's and Hugging Face's convention).

    Returns
    -------
    float
        The perplexity (NaN if every token is ignored, as the mean cross-entropy is).

    See Also
    --------
    causal_lm_loss, torch.nn.functional.cross_entropy

    Notes
    -----
    The classes are on the last dimension here, as language models return them;
    :func:`torch.nn.functional.cross_entropy` wants them on dimension 1, hence the reshape in the examples.

    .. admonition:: Common mistake

        "The model with the lower perplexity is the better language model."

        Only with the same tokenizer and test text. Perplexity is per token: a tokenizer with longer
        tokens needs fewer of them for the same text and has a higher perplexity for the same
        probability of that text; the examples build such a pair and show their bits per character agree.

    References
    ----------
    .. [1] F. Jelinek et al., "Perplexity - a measure of the difficulty of speech recognition tasks",
       JASA 62, 1977.

    Examples
    --------
    ``exp`` of PyTorch's cross-entropy, ignoring the padded positions:

    >>> logits, target = torch.randn(2, 6, 11, dtype=torch.float64), torch.randint(0, 11, (2, 6))
    >>> target[1, 4:] = -100
    >>> ce = F.cross_entropy(logits.view(-1, 11), target.view(-1), ignore_index=-100)
    >>> math.isclose(perplexity(logits, target), math.exp(ce.item()))
    True

    A uniform model over 50 tokens has perplexity 50; a confident correct one, 1:

    >>> round(perplexity(torch.zeros(3, 7, 50), torch.randint(0, 50, (3, 7))), 4)
    50.0
    >>> y = torch.randint(0, 50, (3, 7))
    >>> round(perplexity(50.0 * F.one_hot(y, 50).double(), y), 4)
    1.0

    The text "abab" has probability 0.16 under both a character model (tokens a, b, a, b) and a model
    whose tokens are "ab", "ab"; their perplexities differ, their bits per character agree:

    >>> chars = torch.tensor([0.5, 0.8, 0.5, 0.8], dtype=torch.float64)  # probability of each character
    >>> words = torch.tensor([0.4, 0.4], dtype=torch.float64)  # P("ab") = 0.5 * 0.8
    >>> as_logits = lambda probs: torch.stack([probs.log(), (1 - probs).log()], -1)  # target class 0
    >>> ppl_c = perplexity(as_logits(chars), torch.zeros(4, dtype=torch.long))
    >>> ppl_w = perplexity(as_logits(words), torch.zeros(2, dtype=torch.long))
    >>> round(ppl_c, 4), round(ppl_w, 4)
    (1.5811, 2.5)
    >>> round(4 * math.log2(ppl_c) / 4, 4) == round(2 * math.log2(ppl_w) / 4, 4)  # bits per character
    True
    """
    ignore_index = _check_targets(logits, target, "target", ignore_index)
    nll, keep = _token_nll(logits, target, ignore_index)
    # PPL = exp(mean NLL over the counted tokens)
    return torch.exp(nll.sum() / keep.sum()).item()


@question(
    "causal-lm-loss",
    level="intermediate",
    short=(
        "The logits at position t predict token t + 1: drop the last logits and the first label, then take "
        "cross-entropy. Padding is labelled -100 (ignore_index) and the mean divides by the number of real "
        "tokens. Dividing by all positions makes the loss depend on the amount of padding; averaging "
        "micro-batch means is wrong for the same reason."
    ),
    followups=("perplexity", "cross-entropy-takes-logits"),
)
def causal_lm_loss(
    logits: torch.Tensor, labels: torch.Tensor, ignore_index: int = -100, reduction: str = "mean"
) -> torch.Tensor:
    r"""Next-token cross-entropy of a causal language model: shift by one, ignore padding.

    **How is a causal language model's loss computed, with shifted labels and padding?**

    The labels are the input tokens themselves, and the logits at position :math:`t` are the prediction
    of token :math:`t+1`: drop the logits of the last position and the label of the first, then take the
    cross-entropy of each remaining pair. Without the shift a causal model, which sees token :math:`t`
    at position :math:`t`, learns to copy. Padding is labelled ``ignore_index`` (``-100``) and the mean
    divides by the number of real tokens; dividing by all positions instead makes the loss shrink with
    the amount of padding, and averaging the means of micro-batches weights their tokens unequally.

    .. math::

        \mathcal{L} = \frac{1}{\sum_t m_t} \sum_{t=1}^{T-1} m_t
        \left(\log\sum_v e^{z_{t,v}} - z_{t, y_{t+1}}\right), \qquad m_t = [y_{t+1} \ne \text{ignore\_index}]

    Parameters
    ----------
    logits : torch.Tensor
        ``(B, T, V)``, the model's output for the input ``labels``.
    labels : torch.Tensor
        ``(B, T)`` int64: the input tokens, with ``ignore_index`` at padding (Hugging Face's ``labels``).
    ignore_index : int, default -100
        Label of the positions that do not count.
    reduction : {"mean", "sum", "none"}, default "mean"
        Mean over counted tokens, their sum, or the ``(B, T - 1)`` losses (0 at ignored positions).

    Returns
    -------
    torch.Tensor
        A scalar, or ``(B, T - 1)``.

    See Also
    --------
    perplexity, torch.nn.functional.cross_entropy

    Notes
    -----
    As with ``F.cross_entropy``, a batch whose every label is ignored has mean NaN (0 / 0). For
    gradient accumulation, sum the token losses of the micro-batches and divide by the total number of
    counted tokens (Hugging Face fixed its trainer for exactly this in 2024).

    .. admonition:: Common mistake

        "Averaging the loss over all positions is fine; the padding contributes zero."

        Zero in the numerator, but it still counts in the denominator: the loss then falls as padding
        is added, and a batch of short sequences looks better than it is. Divide by the number of real
        tokens; the examples show that padding then changes nothing.

    .. admonition:: Common mistake

        "With gradient accumulation, the mean of the micro-batch losses is the loss of the whole batch."

        Only if every micro-batch has the same number of real tokens. Otherwise each token of a short
        micro-batch weighs more; the examples show the difference and the fix (sum, then divide by the
        total token count).

    References
    ----------
    .. [1] A. Radford et al., "Improving Language Understanding by Generative Pre-Training", 2018
       (the language-modelling objective).

    Examples
    --------
    PyTorch's cross-entropy on the shifted pairs, value and gradient:

    >>> logits = torch.randn(2, 6, 11, dtype=torch.float64, requires_grad=True)
    >>> labels = torch.randint(0, 11, (2, 6))
    >>> labels[1, 4:] = -100  # padding
    >>> ref = F.cross_entropy(logits[:, :-1].reshape(-1, 11), labels[:, 1:].reshape(-1), ignore_index=-100)
    >>> ours = causal_lm_loss(logits, labels)
    >>> grad_ours, grad_ref = (torch.autograd.grad(loss, logits)[0] for loss in (ours, ref))
    >>> torch.allclose(ours, ref), torch.allclose(grad_ours, grad_ref)
    (True, True)

    Without the shift, a model that copies its input looks perfect; with it, it does not:

    >>> tokens = torch.randint(0, 11, (2, 6))
    >>> copy = 30.0 * F.one_hot(tokens, 11).double()
    >>> round(F.cross_entropy(copy.view(-1, 11), tokens.view(-1)).item(), 4)
    0.0
    >>> causal_lm_loss(copy, tokens).item() > 1
    True

    Padding changes nothing when the mean is over real tokens; averaged over all positions, the loss
    shrinks by the fraction of real ones (3 of 3, 7 and 15 positions here):

    >>> pad = lambda z, t, n: (torch.cat([z, torch.randn(1, n, 11, dtype=torch.float64)], 1),
    ...                        torch.cat([t, torch.full((1, n), -100)], 1))
    >>> x, y = torch.randn(1, 4, 11, dtype=torch.float64), torch.randint(0, 11, (1, 4))
    >>> torch.allclose(causal_lm_loss(*pad(x, y, 4)), causal_lm_loss(x, y))
    True
    >>> over_all = lambda z, t: causal_lm_loss(z, t, reduction="none").mean().item()
    >>> [round(over_all(*pad(x, y, n)) / causal_lm_loss(x, y).item(), 4) for n in (0, 4, 12)]
    [1.0, 0.4286, 0.2]

    Gradient accumulation over two micro-batches with 2 and 6 real tokens: the mean of their means is not
    the loss of the whole batch; the sum over the total count is:

    >>> a, b = torch.randn(1, 3, 11, dtype=torch.float64), torch.randn(1, 7, 11, dtype=torch.float64)
    >>> ya, yb = torch.randint(0, 11, (1, 3)), torch.randint(0, 11, (1, 7))
    >>> za, ta = pad(a, ya, 4)  # padded to the batch's length 7
    >>> whole = causal_lm_loss(torch.cat([za, b]), torch.cat([ta, yb]))
    >>> mean_of_means = (causal_lm_loss(a, ya) + causal_lm_loss(b, yb)) / 2
    >>> summed = (causal_lm_loss(a, ya, reduction="sum") + causal_lm_loss(b, yb, reduction="sum")) / (2 + 6)
    >>> torch.allclose(mean_of_means, whole), torch.allclose(summed, whole)
    (False, True)
    """
    ignore_index = _check_targets(logits, labels, "labels", ignore_index)
    reduction = check.choice("reduction", reduction, ("mean", "sum", "none"))
    if logits.dim() != 3:
        raise ValueError(f"logits must have 3 dimensions (B, T, V), got shape {tuple(logits.shape)}")
    # position t predicts token t + 1
    nll, keep = _token_nll(logits[:, :-1], labels[:, 1:], ignore_index)  # (B, T - 1)
    if reduction == "none":
        return nll
    return nll.sum() if reduction == "sum" else nll.sum() / keep.sum()
