"""nnfaq.representations.autoencoders: PCA against scikit-learn and linear algebra, the linear autoencoder against PCA's
Eckart-Young optimum, the claims of its answers, and the refusals only it makes (the shared ones are rows of
tests/representations/contract.py)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import gen, rejects
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.testing import assert_close

from nnfaq.representations.autoencoders import pca, train_autoencoder

F64 = torch.float64


def data(n=200, scales=(5.0, 4.0, 3.0, 1.0, 0.5, 0.2), seed=0):
    return torch.randn(n, len(scales), generator=gen(seed), dtype=F64) * torch.tensor(scales, dtype=F64) + 1.5


def projector(rows):
    """The orthogonal projector onto the span of the rows of a (k, C) matrix."""
    Q = torch.linalg.qr(rows.T).Q
    return Q @ Q.T


def error(x, x_hat):
    return (x_hat - x).pow(2).sum(1).mean()


# --- parity ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 2, 4])
def test_pca_matches_sklearn(k):
    import sklearn.decomposition  # here, not at collection: about 2 s that only this test needs

    x = data()
    mean, V = pca(x, k)
    ref = sklearn.decomposition.PCA(n_components=k, svd_solver="full").fit(x.numpy())
    assert_close(mean, torch.from_numpy(ref.mean_))
    assert_close(V.abs(), torch.from_numpy(np.abs(ref.components_)))  # signs are arbitrary
    assert_close((x - mean) @ V.T @ V + mean, torch.from_numpy(ref.inverse_transform(ref.transform(x.numpy()))))


@settings(max_examples=12)
@given(data=st.data(), B=st.integers(1, 8), C=st.integers(1, 5), dtype=st.sampled_from([torch.float32, F64]))
def test_pca_is_the_eckart_young_optimum(data, B, C, dtype):
    k = data.draw(st.integers(1, min(B, C)))
    g = gen(data.draw(st.integers(0, 2**31 - 1)))
    x = torch.randn(B, C, generator=g, dtype=F64) * torch.rand(C, generator=g, dtype=F64).mul(4) + 1
    mean, V = pca(x.to(dtype), k)
    assert mean.shape == (C,) and V.shape == (k, C) and V.dtype == dtype
    tol = {"atol": 1e-3, "rtol": 1e-3} if dtype == torch.float32 else {}
    mean, V = mean.double(), V.double()
    assert_close(V @ V.T, torch.eye(k, dtype=F64), **tol)  # orthonormal rows
    S = torch.from_numpy(np.linalg.svd((x - x.mean(0)).numpy(), compute_uv=False))
    centred = x - mean
    assert_close(((centred @ V.T) ** 2).sum(0), S[:k] ** 2, **tol)  # by decreasing variance
    assert_close((centred @ V.T @ V - centred).pow(2).sum(), (S[k:] ** 2).sum(), atol=1e-6, rtol=1e-3)


# --- claims ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("k", "seed"), [(1, 1), (3, 2)])
def test_a_linear_autoencoder_reaches_the_pca_error_and_spans_its_subspace_with_other_axes(k, seed):
    x = data(seed=seed)
    mean, V = pca(x, k)
    torch.manual_seed(seed)
    encoder, decoder = train_autoencoder(x, latent=k, max_iter=100)
    S = torch.linalg.svdvals(x - mean)
    assert_close(error(x, decoder(encoder(x))), S[k:].pow(2).sum() / len(x), rtol=1e-4, atol=0)
    assert_close(projector(decoder.weight.T), projector(V), atol=1e-3, rtol=0)
    assert not torch.allclose(decoder.weight.T @ decoder.weight, torch.eye(k, dtype=F64), atol=1e-2)


@settings(max_examples=10)
@given(B=st.integers(2, 8), C=st.integers(2, 5), hidden=st.integers(0, 4), max_iter=st.integers(1, 5), data=st.data())
def test_autoencoders_are_returned_frozen_and_a_linear_one_never_beats_pca(B, C, hidden, max_iter, data):
    latent = data.draw(st.integers(1, C - 1))
    dtype = data.draw(st.sampled_from([torch.float32, F64]))
    x = torch.randn(B, C, generator=gen(data.draw(st.integers(0, 99))), dtype=dtype)
    encoder, decoder = train_autoencoder(x, latent, hidden=hidden, max_iter=max_iter)
    z = encoder(x)
    assert z.shape == (B, latent) and decoder(z).shape == (B, C) and z.dtype == dtype
    assert not encoder.training and not decoder.training
    assert not any(p.requires_grad for p in [*encoder.parameters(), *decoder.parameters()])
    if hidden == 0:  # an affine rank-k reconstruction cannot beat the Eckart-Young bound
        S = torch.linalg.svdvals((x - x.mean(0)).double())
        assert error(x.double(), decoder(z).double()) >= S[latent:].pow(2).sum() / B - 1e-4


@pytest.mark.parametrize("seed", [1])  # the docstring runs seed 0
def test_a_non_linear_autoencoder_follows_a_curve_that_pca_cannot(seed):
    torch.manual_seed(seed)
    t = torch.linspace(-1, 1, 100, dtype=F64)[:, None]
    x = torch.cat([t, t**2, t**3], dim=1)
    mean, V = pca(x, 1)
    encoder, decoder = train_autoencoder(x, latent=1, hidden=16, max_iter=60)
    assert error(x, decoder(encoder(x))) < 0.1 * error(x, (x - mean) @ V.T @ V + mean)


def test_pooling_is_not_a_bottleneck():
    image = torch.randn(1, 1, 8, 8)
    assert F.max_pool2d(torch.nn.Conv2d(1, 16, 3, padding=1)(image), 2).numel() == 4 * image.numel()


# --- bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fn", "x", "kwargs", "name"),
    [
        (pca, torch.randn(5, 3), {"k": 4}, "k"),
        (pca, torch.randn(0, 3), {"k": 1}, "x"),
        (pca, torch.tensor([[1.0, float("nan")]]), {"k": 1}, "x"),
        (pca, torch.ones(4, 3, dtype=torch.float16), {"k": 1}, "x"),
        (pca, torch.randn(5), {"k": 1}, "x"),
        (train_autoencoder, torch.randn(5, 3), {"latent": 3}, "latent"),
        (train_autoencoder, torch.randn(5, 1), {"latent": 1}, "x"),
        (train_autoencoder, torch.randn(0, 3), {"latent": 1}, "x"),
        (train_autoencoder, torch.tensor([[1.0, float("inf")]]), {"latent": 1}, "x"),
    ],
)
def test_refuses_data_that_cannot_be_reduced(fn, x, kwargs, name):
    rejects(name, fn, x, **kwargs)
