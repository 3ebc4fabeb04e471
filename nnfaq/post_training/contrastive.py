"""Contrastive learning: InfoNCE and CLIP

Learning embeddings by telling matching pairs from the rest of the batch: the InfoNCE loss and
CLIP's symmetric version of it, from scratch, its value when the embeddings carry no information
(:math:`\\log N`), the best value a given temperature allows, and what the temperature does.
"""

from __future__ import annotations

import math

import torch

from nnfaq import _validate as check
from nnfaq._registry import question

__all__ = ["clip_loss"]


@question(
    "clip-contrastive-loss",
    level="intermediate",
    short=(
        "For N image-text pairs, CLIP divides the N by N cosine similarities by a temperature and applies "
        "cross-entropy in both directions, the matching pair being the correct class among N. Uninformative "
        "embeddings give exactly log N. The temperature sets the softmax's sharpness: too high and even "
        "perfect embeddings keep a large loss, so CLIP learns it."
    ),
    followups=("knowledge-distillation", "cross-entropy-takes-logits", "latent-space-vs-embedding"),
)
def clip_loss(image_embeds: torch.Tensor, text_embeds: torch.Tensor, temperature: float = 0.07) -> torch.Tensor:
    r"""CLIP's symmetric InfoNCE loss over a batch of ``N`` matching (image, text) pairs.

    **How does the CLIP (InfoNCE) contrastive loss work, and what does the temperature do?**

    Both embeddings are L2-normalized and every image is compared with every text of the batch: an
    :math:`N \times N` matrix of cosine similarities divided by a temperature :math:`\tau`. Row
    :math:`i` is a classification problem over :math:`N` classes whose answer is text :math:`i`, and
    column :math:`i` the same for image :math:`i`; the loss is the mean of the two cross-entropies.
    The other :math:`N - 1` pairs of the batch serve as negatives, so larger batches make the task
    harder and the signal richer. Embeddings that carry no information give every pair the same
    similarity and a loss of exactly :math:`\log N`. Because cosines lie in :math:`[-1, 1]`, the
    logits are bounded by :math:`1/\tau`: at :math:`\tau = 1` even perfect embeddings cannot drive
    the loss near 0, which is why CLIP learns :math:`\tau` (initialized at 0.07).

    .. math::

        S_{ij} = \frac{\langle \hat x_i, \hat y_j \rangle}{\tau}, \quad \hat x = \frac{x}{\|x\|}, \qquad
        L = \frac{1}{2N} \sum_{i=1}^{N} \left[
            \left(\log \sum_j e^{S_{ij}} - S_{ii}\right) + \left(\log \sum_j e^{S_{ji}} - S_{ii}\right)
        \right]

    Parameters
    ----------
    image_embeds : torch.Tensor
        ``(N, D)``, row :math:`i` the image of pair :math:`i`.
    text_embeds : torch.Tensor
        ``(N, D)``, row :math:`i` its text.
    temperature : float, default 0.07
        :math:`\tau > 0` (CLIP's initial value; it learns :math:`\log(1/\tau)`, capped at 100 for
        :math:`1/\tau`).

    Returns
    -------
    torch.Tensor
        A scalar.

    See Also
    --------
    torch.nn.functional.cross_entropy, torch.nn.functional.normalize

    Notes
    -----
    InfoNCE is also a bound on mutual information, :math:`I(x; y) \ge \log N - L` (Oord et al.),
    another reason batch size matters. Rows with zero norm are refused (their direction is
    undefined).

    References
    ----------
    .. [1] A. Radford et al., "Learning Transferable Visual Models From Natural Language
       Supervision", ICML 2021, Figure 3.
    .. [2] A. van den Oord, Y. Li and O. Vinyals, "Representation Learning with Contrastive
       Predictive Coding", arXiv:1807.03748, 2018.

    Examples
    --------
    Equals the two cross-entropies with the diagonal as labels, as in CLIP's pseudocode:

    >>> img, txt = torch.randn(8, 32, dtype=torch.float64), torch.randn(8, 32, dtype=torch.float64)
    >>> logits = F.normalize(img, dim=-1) @ F.normalize(txt, dim=-1).T / 0.07
    >>> labels = torch.arange(8)
    >>> ref = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
    >>> torch.allclose(clip_loss(img, txt), ref)
    True

    Uninformative embeddings (all the same) give exactly :math:`\log N`, and random ones nearly so
    at a high temperature:

    >>> same = torch.ones(8, 32, dtype=torch.float64)
    >>> abs(clip_loss(same, same).item() - math.log(8)) < 1e-12
    True
    >>> abs(clip_loss(img, txt, temperature=100.0).item() - math.log(8)) < 1e-2
    True

    With perfect, orthogonal embeddings the loss is :math:`\log(1 + (N - 1)e^{-1/\tau})`: 1.274 at
    :math:`\tau = 1`, nearly 0 at 0.07:

    >>> eye = torch.eye(8, dtype=torch.float64)
    >>> round(clip_loss(eye, eye, 1.0).item(), 4), round(math.log(1 + 7 * math.exp(-1)), 4)
    (1.274, 1.274)
    >>> clip_loss(eye, eye, 0.07).item() < 1e-5
    True

    Lowering the temperature lowers the loss of aligned pairs step by step, and makes unrelated
    pairs (confident mistakes) cost more than at :math:`\tau = 1`:

    >>> aligned = img + 0.3 * torch.randn(8, 32, dtype=torch.float64)
    >>> taus = (1.0, 0.3, 0.1, 0.03)
    >>> good = [clip_loss(img, aligned, tau).item() for tau in taus]
    >>> all(a > b for a, b in zip(good, good[1:])), clip_loss(img, txt, 0.03).item() > clip_loss(img, txt, 1.0).item()
    (True, True)
    """
    check.tensor("image_embeds", image_embeds, ndim=2, finite=True)
    check.tensor("text_embeds", text_embeds, ndim=2, finite=True)
    check.same_shape("text_embeds", text_embeds, image_embeds.shape, "the shape of image_embeds")
    check.same_dtype("image_embeds", image_embeds, text_embeds=text_embeds)
    tau = check.number("temperature", temperature, low=0.0, low_open=True, high=math.inf, high_open=True)
    for name, e in (("image_embeds", image_embeds), ("text_embeds", text_embeds)):
        if bool((e.norm(dim=-1) == 0).any()):
            raise ValueError(f"{name} must have no all-zero row (its direction is undefined)")
    x = image_embeds / image_embeds.norm(dim=-1, keepdim=True)  # (N, D)
    y = text_embeds / text_embeds.norm(dim=-1, keepdim=True)  # (N, D)
    S = x @ y.T / tau  # (N, N): S_ij = cos(image i, text j) / tau
    positive = S.diagonal()  # (N,)
    # cross-entropy with the diagonal as the label: logsumexp of the row (image -> texts) or column
    image_to_text = S.logsumexp(dim=1) - positive  # (N,)
    text_to_image = S.logsumexp(dim=0) - positive  # (N,)
    return (image_to_text.mean() + text_to_image.mean()) / 2
