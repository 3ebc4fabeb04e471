"""Representations: autoencoders, embeddings and latent spaces

How a network compresses data into a few numbers (an autoencoder's bottleneck, and why a linear one is
PCA), what an embedding layer computes, and how latent vectors and embeddings are compared.
"""

from __future__ import annotations

import torch

from nnfaq import _validate as check
from nnfaq._registry import question

__all__ = ["cosine_similarity", "embedding", "pca", "train_autoencoder"]


@question("dimensionality-reduction-autoencoder")
def train_autoencoder(
    x: torch.Tensor, latent: int, hidden: int = 0, max_iter: int = 200
) -> tuple[torch.nn.Module, torch.nn.Module]:
    r"""Train an autoencoder ``C -> latent -> C`` on ``x`` ``(B, C)`` by full-batch L-BFGS on the squared error.

    **How can a neural network be used as a tool for dimensionality reduction?**

    Train it to reproduce its input through a bottleneck: an encoder maps each ``C``-dimensional example to
    ``k < C`` numbers, a decoder maps them back, and the loss is the reconstruction error. Whatever the
    decoder needs must pass through the ``k`` numbers, so the encoder's output is a learned
    ``k``-dimensional representation. With no non-linearity this finds PCA's subspace (see :func:`pca`);
    with hidden layers it can follow curved structure that no linear projection captures.

    .. math::

        z = f_\theta(x) \in \mathbb{R}^k, \qquad \hat x = g_\phi(z), \qquad
        \min_{\theta, \phi}\ \frac{1}{B}\sum_b \lVert x_b - g_\phi(f_\theta(x_b)) \rVert^2

    Parameters
    ----------
    x : torch.Tensor
        ``(B, C)`` training data.
    latent : int
        ``k``, the size of the code, in ``[1, C)``.
    hidden : int, default 0
        Width of one tanh hidden layer in the encoder and in the decoder; 0 for a linear autoencoder.
    max_iter : int, default 200
        L-BFGS iterations.

    Returns
    -------
    encoder, decoder : torch.nn.Module
        ``(B, C) -> (B, k)`` and ``(B, k) -> (B, C)``, in evaluation mode, with ``x``'s dtype.

    See Also
    --------
    pca, torch.optim.LBFGS

    Notes
    -----
    .. admonition:: Common mistake

        "A CNN performs dimensionality reduction with its pooling layers."

        Pooling lowers the spatial resolution, but the channels usually grow, so the representation need
        not get smaller, and nothing trains it to keep the information of the input. Dimensionality
        reduction is an explicit bottleneck trained to reconstruct (an autoencoder), or a projection such as
        PCA. The examples show a convolution and pooling turning 64 numbers into 256.

    References
    ----------
    .. [1] G. E. Hinton and R. R. Salakhutdinov, "Reducing the Dimensionality of Data with Neural
       Networks", Science 313, 2006.

    Examples
    --------
    Points on a parabola in 2-D are 1-dimensional data. A non-linear autoencoder with a 1-number code
    reconstructs them far better than the best linear one (PCA):

    >>> t = torch.linspace(-1, 1, 200, dtype=torch.float64)[:, None]
    >>> x = torch.cat([t, t**2], dim=1)                                   # (B, 2)
    >>> encoder, decoder = train_autoencoder(x, latent=1, hidden=16)
    >>> encoder(x).shape
    torch.Size([200, 1])
    >>> ae_error = (decoder(encoder(x)) - x).pow(2).sum(1).mean()
    >>> mean, components = pca(x, 1)
    >>> x_pca = (x - mean) @ components.T @ components + mean
    >>> pca_error = (x_pca - x).pow(2).sum(1).mean()
    >>> bool(ae_error < 0.1 * pca_error)
    True

    Pooling is not a bottleneck: a convolution followed by 2x2 pooling turns an 8x8 image into more numbers:

    >>> image = torch.randn(1, 1, 8, 8)
    >>> image.numel(), F.max_pool2d(nn.Conv2d(1, 16, 3, padding=1)(image), 2).numel()
    (64, 256)
    """
    check.tensor("x", x, ndim=2, finite=True)
    B, C = x.shape
    if B == 0:
        raise ValueError(f"x must have at least one example, got shape {tuple(x.shape)}")
    if C < 2:
        raise ValueError(f"x must have at least 2 features to reduce, got shape {tuple(x.shape)}")
    latent = check.integer("latent", latent, low=1)
    if latent >= C:
        raise ValueError(f"latent must be smaller than the number of features {C}, got {latent}")
    hidden = check.integer("hidden", hidden, low=0)
    max_iter = check.integer("max_iter", max_iter, low=1)
    nn, opts = torch.nn, {"dtype": x.dtype}
    if hidden == 0:
        encoder, decoder = nn.Linear(C, latent, **opts), nn.Linear(latent, C, **opts)
    else:
        encoder = nn.Sequential(nn.Linear(C, hidden, **opts), nn.Tanh(), nn.Linear(hidden, latent, **opts))
        decoder = nn.Sequential(nn.Linear(latent, hidden, **opts), nn.Tanh(), nn.Linear(hidden, C, **opts))
    params = [*encoder.parameters(), *decoder.parameters()]
    opt = torch.optim.LBFGS(
        params, max_iter=max_iter, line_search_fn="strong_wolfe", tolerance_grad=1e-12, tolerance_change=1e-14
    )

    def closure():
        opt.zero_grad()
        # mean over examples of the squared reconstruction error ||x - g(f(x))||^2
        loss = (decoder(encoder(x)) - x).pow(2).sum(1).mean()
        loss.backward()
        return loss

    opt.step(closure)
    return encoder.eval().requires_grad_(False), decoder.eval().requires_grad_(False)


@question("linear-autoencoder-vs-pca")
def pca(x: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    r"""PCA by SVD: the mean ``(C,)`` and the top ``k`` principal directions ``(k, C)`` (orthonormal rows).

    **Does a linear autoencoder learn the same thing as PCA?**

    It learns the same subspace, not the same axes. With squared error, a linear autoencoder with ``k``
    hidden units reaches at best the rank-``k`` error of the Eckart-Young theorem, the sum of the
    discarded squared singular values, and at that optimum its decoder spans the top ``k`` principal
    directions. But any invertible ``A`` gives the same model (``W_dec A^{-1}``, ``A W_enc``), so its weights
    are neither orthonormal nor ordered by variance, as PCA's are.

    .. math::

        X - \bar x = U \Sigma V^\top, \qquad P_k = V_k^\top V_k, \qquad
        \min_{\operatorname{rank} \le k} \frac{1}{B}\lVert X - \bar x - \hat X \rVert_F^2
        = \frac{1}{B}\sum_{i > k} \sigma_i^2

    Parameters
    ----------
    x : torch.Tensor
        ``(B, C)`` data, float32 or float64.
    k : int
        Number of components, in ``[1, min(B, C)]``.

    Returns
    -------
    mean : torch.Tensor
        ``(C,)``.
    components : torch.Tensor
        ``(k, C)``, orthonormal rows, by decreasing variance (signs are arbitrary).

    See Also
    --------
    torch.pca_lowrank, torch.linalg.svd, sklearn.decomposition.PCA

    References
    ----------
    .. [1] P. Baldi and K. Hornik, "Neural networks and principal component analysis: Learning from
       examples without local minima", Neural Networks 2, 1989.

    Examples
    --------
    The same subspace as PyTorch's PCA (compared as projection matrices, since signs are arbitrary):

    >>> x = torch.randn(300, 6, dtype=torch.float64) * torch.tensor([5.0, 4, 3, 1, 0.5, 0.2]) + 2
    >>> mean, V = pca(x, 2)
    >>> _, _, V_ref = torch.pca_lowrank(x, q=6, center=True)
    >>> torch.allclose(V.T @ V, V_ref[:, :2] @ V_ref[:, :2].T)
    True

    A linear autoencoder reaches the Eckart-Young error, and its decoder spans the same subspace:

    >>> encoder, decoder = train_autoencoder(x, latent=2)
    >>> ae_error = (decoder(encoder(x)) - x).pow(2).sum(1).mean()
    >>> S = torch.linalg.svdvals(x - mean)
    >>> bool(torch.isclose(ae_error, S[2:].pow(2).sum() / 300, rtol=1e-4))
    True
    >>> Q = torch.linalg.qr(decoder.weight).Q                      # orthonormal basis of the decoder
    >>> torch.allclose(Q @ Q.T, V.T @ V, atol=1e-3)
    True

    But its weights are not the principal directions: they are not orthonormal:

    >>> torch.allclose(decoder.weight.T @ decoder.weight, torch.eye(2, dtype=torch.float64), atol=1e-2)
    False
    """
    check.tensor("x", x, ndim=2, finite=True)
    if x.dtype not in (torch.float32, torch.float64):  # what torch.linalg.svd computes in
        raise TypeError(f"x must be a float32 or float64 tensor, got dtype {x.dtype}")
    if x.numel() == 0:
        raise ValueError(f"x must have at least one example and one feature, got shape {tuple(x.shape)}")
    k = check.integer("k", k, low=1)
    if k > min(x.shape):
        raise ValueError(f"k must be at most min(B, C) = {min(x.shape)}, got {k}")
    mean = x.mean(dim=0)  # (C,)
    # X - mean = U diag(S) Vh; the rows of Vh are the principal directions, by decreasing S
    _, _, Vh = torch.linalg.svd(x - mean, full_matrices=False)  # Vh: (min(B, C), C)
    return mean, Vh[:k]  # (C,), (k, C)


@question("embedding-is-one-hot-matmul")
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


@question("latent-space-vs-embedding")
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
    """
    check.tensor("x1", x1)
    check.tensor("x2", x2)
    dim = check.integer("dim", dim)
    eps = check.number("eps", eps, low=0.0, low_open=True)
    try:
        shape = torch.broadcast_shapes(x1.shape, x2.shape)
    except RuntimeError as error:
        raise ValueError(f"x1 and x2 must be broadcastable, got {tuple(x1.shape)} and {tuple(x2.shape)}") from error
    if not -len(shape) <= dim < len(shape):
        raise ValueError(f"dim must be in [-{len(shape)}, {len(shape)}) for shape {tuple(shape)}, got {dim}")
    # broadcast first, as PyTorch does: a size-1 vector dimension is repeated, and so counts in the norm
    x1, x2 = torch.broadcast_tensors(x1, x2)
    # x1 . x2 / (max(|x1|, eps) max(|x2|, eps)), each norm clamped on its own as PyTorch does
    n1 = torch.linalg.vector_norm(x1, dim=dim).clamp_min(eps)  # (*)
    n2 = torch.linalg.vector_norm(x2, dim=dim).clamp_min(eps)  # (*)
    return (x1 * x2).sum(dim=dim) / (n1 * n2)  # (*)
