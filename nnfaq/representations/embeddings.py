"""Embeddings and latent spaces

What an embedding layer computes, and how latent vectors and embeddings are compared.
"""

from __future__ import annotations

import torch

from nnfaq import _validate as check
from nnfaq._registry import question

__all__ = ["cosine_similarity", "embedding"]


@question(
    "embedding-is-one-hot-matmul",
    level="basic",
    short=(
        "An embedding layer is a trainable table of V vectors; looking up item i returns row i. That equals a "
        "one-hot vector times the table, a bias-free linear layer on one-hot inputs, so it trains the same way, "
        "but the lookup costs D operations instead of V D. The ``padding_idx`` row gets no gradient, so padding "
        "never changes its vector."
    ),
    followups=("latent-space-vs-embedding", "learned-vs-fixed-positional-encoding"),
)
def embedding(input: torch.Tensor, weight: torch.Tensor, padding_idx: int | None = None) -> torch.Tensor:
    r"""Embedding lookup written as a one-hot matrix product: row ``input[i]`` of ``weight``.

    **What does an embedding layer compute, and how does padding_idx change its gradient?**

    An embedding layer is a trainable table of ``V`` vectors; looking up item ``i`` returns row ``i``. That
    equals multiplying a one-hot vector by the table (a linear layer without bias on one-hot inputs), so it
    is trained the same way, but the lookup costs ``D`` operations instead of ``V D``. The row at
    ``padding_idx`` receives no gradient, so padding tokens never change their vector (``nn.Embedding`` also
    initializes it to zeros).

    .. math::

        e = \mathrm{onehot}(i)\, W = W_{i,:}, \qquad
        \frac{\partial L}{\partial W_{v,:}} = \sum_{t : i_t = v} \frac{\partial L}{\partial e_t}
        \quad (0 \text{ for } v = \text{padding\_idx})

    Parameters
    ----------
    input : torch.Tensor
        ``(*)`` integer indices in ``[0, V)``.
    weight : torch.Tensor
        ``(V, D)`` floating-point table.
    padding_idx : int, optional
        Row (in ``[-V, V)``) whose gradient is always zero.

    Returns
    -------
    torch.Tensor
        ``(*, D)``.

    See Also
    --------
    torch.nn.functional.embedding, torch.nn.Embedding, torch.nn.functional.one_hot

    Examples
    --------
    >>> W = torch.randn(10, 4, dtype=torch.float64, requires_grad=True)
    >>> tokens = torch.tensor([[1, 0, 3], [3, 3, 0]])
    >>> ours, ref = embedding(tokens, W, padding_idx=0), F.embedding(tokens, W, padding_idx=0)
    >>> torch.equal(ours, ref)
    True
    >>> ours.shape
    torch.Size([2, 3, 4])

    The gradient is the same as PyTorch's: each row collects the gradients of its occurrences, and the
    padding row gets none:

    >>> g_ours = torch.autograd.grad(ours.sum(), W)[0]
    >>> g_ref = torch.autograd.grad(ref.sum(), W)[0]
    >>> torch.equal(g_ours, g_ref), g_ours[:, 0].tolist()
    (True, [0.0, 1.0, 0.0, 3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    """
    check.tensor("input", input, floating=False)
    if input.is_floating_point() or input.is_complex() or input.dtype == torch.bool:
        raise TypeError(f"input must be an integer tensor of indices, got dtype {input.dtype}")
    check.tensor("weight", weight, ndim=2)
    V = weight.shape[0]
    if V == 0:
        raise ValueError(f"weight must have at least one row, got shape {tuple(weight.shape)}")
    if input.numel() and (int(input.min()) < 0 or int(input.max()) >= V):
        raise ValueError(f"input must hold indices in [0, {V}) (the rows of weight)")
    if padding_idx is not None:
        padding_idx = check.integer("padding_idx", padding_idx)
        if not -V <= padding_idx < V:
            raise ValueError(f"padding_idx must be in [-{V}, {V}), got {padding_idx}")
        # the padding row is used forward but detached, so its gradient is zero
        is_pad = torch.arange(V, device=weight.device) == padding_idx % V  # (V,)
        weight = torch.where(is_pad[:, None], weight.detach(), weight)  # (V, D)
    # e = onehot(i) W
    one_hot = torch.nn.functional.one_hot(input.long(), V).to(weight.dtype)  # (*, V)
    return one_hot @ weight  # (*, D)


@question(
    "latent-space-vs-embedding",
    level="intermediate",
    short=(
        "Both are learned vectors. An embedding is, strictly, a trainable lookup table giving each discrete item, "
        "a word or a user id, a vector; the word is also used loosely for any learned feature vector. A latent "
        "space is a model's internal code computed by an encoder, such as an autoencoder's bottleneck. Only "
        "relative geometry matters: compare by cosine similarity."
    ),
    followups=("embedding-is-one-hot-matmul", "dimensionality-reduction-autoencoder"),
)
def cosine_similarity(x1: torch.Tensor, x2: torch.Tensor, dim: int = 1, eps: float = 1e-8) -> torch.Tensor:
    r"""Cosine of the angle between ``x1`` and ``x2`` along ``dim``, as ``torch.nn.functional.cosine_similarity``.

    **What is the difference between a latent space and an embedding?**

    Both are learned vector representations. An embedding, strictly, is a trainable lookup table that gives
    each discrete item (a word, a user id) a vector (see :func:`embedding`); the word is also used loosely
    for any learned feature vector. A latent space is the space of a model's internal code, computed from the
    input by an encoder (an autoencoder's bottleneck, a VAE's ``z``) and, for generative models, sampled
    and decoded. In both, only relative geometry is meaningful, so vectors are compared by angle or
    distance, usually cosine similarity.

    .. math::

        \cos(x_1, x_2) = \frac{x_1 \cdot x_2}{\max(\lVert x_1 \rVert, \epsilon)\,\max(\lVert x_2 \rVert, \epsilon)}

    Parameters
    ----------
    x1, x2 : torch.Tensor
        Broadcastable floating-point tensors.
    dim : int, default 1
        Dimension holding the vectors.
    eps : float, default 1e-8
        Lower bound on each norm, positive.

    Returns
    -------
    torch.Tensor
        The broadcast shape without ``dim``, values in ``[-1, 1]``.

    See Also
    --------
    torch.nn.functional.cosine_similarity

    Notes
    -----
    Where a norm is below ``eps`` the forward is :math:`x_1 \cdot x_2 / (\epsilon \lVert x_2 \rVert)`,
    whose derivative with respect to :math:`x_1` is :math:`x_2 / (\epsilon \lVert x_2 \rVert)`. This
    function's gradient is that derivative; ``torch.nn.functional.cosine_similarity`` returns a
    different gradient there (its backward is not the derivative of its own forward, and
    ``gradcheck`` fails on it). Above ``eps`` the two gradients agree. The last example shows both.

    .. admonition:: Common mistake

        "Each dimension of a latent space corresponds to a specific feature or characteristic of the data."

        Rotating the code and counter-rotating the decoder gives exactly the same model, so no axis has a
        fixed meaning unless the training objective forces one (disentanglement is a research topic, not a
        given). The examples rotate a latent space: every coordinate changes, the reconstructions and all
        cosine similarities do not.

    Examples
    --------
    >>> a, b = torch.randn(5, 8, dtype=torch.float64), torch.randn(5, 8, dtype=torch.float64)
    >>> torch.allclose(cosine_similarity(a, b), F.cosine_similarity(a, b))
    True
    >>> round(cosine_similarity(a, 3 * a).min().item(), 6), round(cosine_similarity(a, -a).max().item(), 6)
    (1.0, -1.0)

    Rotate the latent codes ``z`` by an orthogonal ``R`` and the decoder by ``R^T``: a different basis,
    the same model and the same similarities:

    >>> z, W_dec = torch.randn(5, 3, dtype=torch.float64), torch.randn(3, 10, dtype=torch.float64)
    >>> R = torch.linalg.qr(torch.randn(3, 3, dtype=torch.float64)).Q
    >>> torch.allclose(z @ R, z)
    False
    >>> torch.allclose((z @ R) @ (R.T @ W_dec), z @ W_dec)
    True
    >>> torch.allclose(cosine_similarity(z[:, None] @ R, z[None] @ R, dim=-1),
    ...                cosine_similarity(z[:, None], z[None], dim=-1))
    True

    A norm below ``eps``: the same value as PyTorch's, but the gradient is the true derivative
    :math:`x_2 / (\epsilon \lVert x_2 \rVert)` and PyTorch's is not:

    >>> tiny = torch.tensor([1e-10, 2e-10, -1e-10], dtype=torch.float64, requires_grad=True)
    >>> b = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    >>> torch.allclose(cosine_similarity(tiny, b, dim=0), F.cosine_similarity(tiny, b, dim=0))
    True
    >>> ours = torch.autograd.grad(cosine_similarity(tiny, b, dim=0), tiny)[0]
    >>> ref = torch.autograd.grad(F.cosine_similarity(tiny, b, dim=0), tiny)[0]
    >>> torch.allclose(ours, b / (1e-8 * b.norm())), torch.allclose(ref, ours)
    (True, False)
    """
    check.tensor("x1", x1)
    check.tensor("x2", x2)
    dim = check.integer("dim", dim)
    eps = check.number("eps", eps, low=0.0, low_open=True)
    try:
        shape = torch.broadcast_shapes(x1.shape, x2.shape)
    except RuntimeError as error:
        raise ValueError(f"x1 and x2 must be broadcastable, got {tuple(x1.shape)} and {tuple(x2.shape)}") from error
    rank = max(len(shape), 1)  # a 0-d tensor counts as one vector of length 1, as in PyTorch
    if not -rank <= dim < rank:
        raise ValueError(f"dim must be in [-{rank}, {rank}) for shape {tuple(shape)}, got {dim}")
    # broadcast first, as PyTorch does: a size-1 vector dimension is repeated, and so counts in the norm
    x1, x2 = torch.broadcast_tensors(x1, x2)
    # x1 . x2 / (max(|x1|, eps) max(|x2|, eps)), each norm clamped on its own as PyTorch does;
    # every result has the broadcast shape without dim
    n1 = torch.linalg.vector_norm(x1, dim=dim).clamp_min(eps)
    n2 = torch.linalg.vector_norm(x2, dim=dim).clamp_min(eps)
    return (x1 * x2).sum(dim=dim) / (n1 * n2)
