"""Autoencoders

How a network compresses data into a few numbers: an autoencoder's bottleneck, and why a linear
one is PCA.
"""

from __future__ import annotations

import torch

from nnfaq import _validate as check
from nnfaq._registry import question

__all__ = ["pca", "train_autoencoder"]


@question(
    "dimensionality-reduction-autoencoder",
    level="intermediate",
    short=(
        "Train it to reproduce its input through a bottleneck: an encoder maps each example to k numbers, fewer "
        "than its features, and a decoder maps them back; the loss is the reconstruction error. Everything the "
        "decoder needs passes through those k numbers, so they are a learned representation. A linear one finds "
        "PCA's subspace; hidden layers follow curved data."
    ),
    followups=("linear-autoencoder-vs-pca", "latent-space-vs-embedding"),
)
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

    >>> t = torch.linspace(-1, 1, 100, dtype=torch.float64)[:, None]
    >>> x = torch.cat([t, t**2], dim=1)                                   # (B, 2)
    >>> encoder, decoder = train_autoencoder(x, latent=1, hidden=16, max_iter=60)
    >>> encoder(x).shape
    torch.Size([100, 1])
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


@question(
    "linear-autoencoder-vs-pca",
    level="advanced",
    short=(
        "It learns the same subspace, not the same axes. With squared error a linear autoencoder with k units at "
        "best reaches PCA's rank-k error, the sum of the discarded squared singular values, and then its decoder "
        "spans the top k principal directions. Any invertible change of basis gives the same model, so its "
        "weights are neither orthonormal nor ordered."
    ),
    followups=("dimensionality-reduction-autoencoder",),
)
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

    >>> encoder, decoder = train_autoencoder(x, latent=2, max_iter=100)
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
