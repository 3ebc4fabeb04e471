"""nnfaq.representations against PyTorch, scikit-learn and linear algebra, and the claims its answers make."""

import numpy as np
import pytest
import sklearn.decomposition
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from nnfaq.datasets import load_digits
from nnfaq.representations import cosine_similarity, embedding, pca, train_autoencoder


def _data(n=200, scales=(5.0, 4.0, 3.0, 1.0, 0.5, 0.2)):
    return torch.randn(n, len(scales), dtype=torch.float64) * torch.tensor(scales, dtype=torch.float64) + 1.5


def _projector(rows):  # orthogonal projector onto the span of the rows of a (k, C) matrix
    Q = torch.linalg.qr(rows.T).Q
    return Q @ Q.T


# --- pca ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 2, 4])
def test_pca_matches_sklearn(k):
    x = _data()
    mean, components = pca(x, k)
    ref = sklearn.decomposition.PCA(n_components=k, svd_solver="full").fit(x.numpy())
    assert_close(mean, torch.from_numpy(ref.mean_))
    # signs are arbitrary: compare |components| row by row, and the projectors
    assert_close(components.abs(), torch.from_numpy(np.abs(ref.components_)))
    assert_close(components @ components.T, torch.eye(k, dtype=torch.float64))
    recon = (x - mean) @ components.T @ components + mean
    assert_close(recon, torch.from_numpy(ref.inverse_transform(ref.transform(x.numpy()))))


def test_pca_error_is_the_eckart_young_bound_and_beats_any_other_plane():
    x = _data()
    mean, V = pca(x, 2)
    S = torch.linalg.svdvals(x - mean)
    err = ((x - mean) @ V.T @ V - (x - mean)).pow(2).sum() / len(x)
    assert_close(err, S[2:].pow(2).sum() / len(x))
    other = torch.linalg.qr(torch.randn(6, 2, dtype=torch.float64)).Q.T
    assert ((x - mean) @ other.T @ other - (x - mean)).pow(2).sum() / len(x) > err


# --- train_autoencoder ----------------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 2, 3])
def test_linear_autoencoder_spans_the_pca_subspace_and_reaches_its_error(k):
    x = _data()
    mean, V = pca(x, k)
    encoder, decoder = train_autoencoder(x, latent=k)
    ae_error = (decoder(encoder(x)) - x).pow(2).sum(1).mean()
    S = torch.linalg.svdvals(x - mean)
    assert_close(ae_error, S[k:].pow(2).sum() / len(x), rtol=1e-4, atol=0)
    assert_close(_projector(decoder.weight.T), _projector(V), atol=1e-3, rtol=0)
    assert_close(_projector(encoder.weight), _projector(V), atol=1e-3, rtol=0)


def test_linear_autoencoder_on_digits_matches_sklearn_pca_error():
    x = load_digits(dtype=torch.float64).x_train.flatten(1)[:400]
    ref = sklearn.decomposition.PCA(n_components=3).fit(x.numpy())
    pca_error = ((ref.inverse_transform(ref.transform(x.numpy())) - x.numpy()) ** 2).sum(1).mean()
    encoder, decoder = train_autoencoder(x, latent=3, max_iter=300)
    ae_error = (decoder(encoder(x)) - x).pow(2).sum(1).mean().item()
    assert ae_error == pytest.approx(pca_error, rel=1e-3)


def test_linear_autoencoder_weights_are_not_orthonormal_principal_directions():
    x = _data()
    _, V = pca(x, 2)
    _, decoder = train_autoencoder(x, latent=2)
    assert not torch.allclose(decoder.weight.T @ decoder.weight, torch.eye(2, dtype=torch.float64), atol=1e-2)
    assert not torch.allclose(decoder.weight.T.abs(), V.abs(), atol=1e-2)


def test_non_linear_autoencoder_beats_pca_on_curved_data():
    t = torch.linspace(-1, 1, 200, dtype=torch.float64)[:, None]
    x = torch.cat([t, t**2, t**3], dim=1)
    mean, V = pca(x, 1)
    pca_error = ((x - mean) @ V.T @ V + mean - x).pow(2).sum(1).mean()
    encoder, decoder = train_autoencoder(x, latent=1, hidden=16)
    assert (decoder(encoder(x)) - x).pow(2).sum(1).mean() < 0.1 * pca_error
    linear = train_autoencoder(x, latent=1)
    assert (linear[1](linear[0](x)) - x).pow(2).sum(1).mean() >= pca_error * (1 - 1e-6)


def test_autoencoder_modules_are_returned_frozen_in_eval_mode_with_the_data_dtype():
    x = _data().float()
    encoder, decoder = train_autoencoder(x, latent=2, hidden=8, max_iter=5)
    assert not encoder.training and not decoder.training
    assert all(not p.requires_grad and p.dtype == torch.float32 for p in [*encoder.parameters(), *decoder.parameters()])
    assert encoder(x).shape == (200, 2) and decoder(encoder(x)).shape == x.shape


def test_pooling_is_not_a_bottleneck():
    image = torch.randn(1, 1, 8, 8)
    pooled = F.max_pool2d(torch.nn.Conv2d(1, 16, 3, padding=1)(image), 2)
    assert pooled.numel() > image.numel()


@pytest.mark.parametrize(
    ("fn", "args", "kwargs", "error", "match"),
    [
        (pca, (torch.randn(5),), {"k": 1}, ValueError, "x must have 2 dimensions"),
        (pca, (torch.randn(5, 3),), {"k": 4}, ValueError, r"k must be at most min\(B, C\) = 3"),
        (pca, (torch.randn(5, 3),), {"k": 0}, ValueError, "k must be >= 1"),
        (pca, (torch.tensor([[1.0, float("nan")]]),), {"k": 1}, ValueError, "x must contain only finite"),
        (train_autoencoder, (torch.randn(5, 3),), {"latent": 3}, ValueError, "latent must be smaller than"),
        (train_autoencoder, (torch.randn(5, 1),), {"latent": 1}, ValueError, "x must have at least 2 features"),
        (train_autoencoder, (torch.randn(5, 3),), {"latent": 1, "hidden": -1}, ValueError, "hidden must be >= 0"),
        (train_autoencoder, (torch.randn(5, 3),), {"latent": 1.0}, TypeError, "latent must be an int"),
        (train_autoencoder, (torch.ones(5, 3, dtype=torch.int64),), {"latent": 1}, TypeError, "x must be a floating"),
        (train_autoencoder, (torch.randn(5, 3),), {"latent": 1, "max_iter": 0}, ValueError, "max_iter must be >= 1"),
    ],
)
def test_pca_and_autoencoder_reject_bad_arguments(fn, args, kwargs, error, match):
    with pytest.raises(error, match=match):
        fn(*args, **kwargs)


# --- embedding ------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 3, 4)])
@pytest.mark.parametrize("padding_idx", [None, 0, 4, -1])
def test_embedding_matches_torch_forward_and_gradient(shape, padding_idx):
    weight = torch.randn(10, 6, dtype=torch.float64)
    idx = torch.randint(0, 10, shape)
    idx.view(-1)[:2] = torch.tensor([0, 9])  # the padding rows occur
    a, b = weight.clone().requires_grad_(), weight.clone().requires_grad_()
    ours, ref = embedding(idx, a, padding_idx), F.embedding(idx, b, padding_idx)
    assert_close(ours, ref)
    g = torch.randn(ours.shape, dtype=torch.float64)
    ours.backward(g)
    ref.backward(g)
    assert_close(a.grad, b.grad)
    if padding_idx is not None:
        assert torch.equal(a.grad[padding_idx], torch.zeros(6, dtype=torch.float64))


def test_embedding_is_a_bias_free_linear_layer_on_one_hot_vectors():
    linear = torch.nn.Linear(10, 4, bias=False, dtype=torch.float64)
    idx = torch.tensor([3, 1, 3, 7])
    one_hot = F.one_hot(idx, 10).double()
    assert_close(embedding(idx, linear.weight.T), linear(one_hot))
    # each row's gradient is the sum over its occurrences
    W = torch.zeros(10, 4, dtype=torch.float64, requires_grad=True)
    embedding(idx, W).sum().backward()
    assert W.grad[:, 0].tolist() == [0, 1, 0, 2, 0, 0, 0, 1, 0, 0]


def test_nn_embedding_padding_row_starts_at_zero_and_stays_there():
    emb = torch.nn.Embedding(5, 3, padding_idx=0)
    assert torch.equal(emb.weight[0], torch.zeros(3))
    opt = torch.optim.SGD(emb.parameters(), lr=1.0)
    embedding(torch.tensor([0, 1, 0]), emb.weight, padding_idx=0).pow(2).sum().backward()
    opt.step()
    assert torch.equal(emb.weight[0], torch.zeros(3))


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        ((torch.tensor([0.0, 1.0]), torch.randn(3, 2)), TypeError, "input must be an integer tensor"),
        ((torch.tensor([True]), torch.randn(3, 2)), TypeError, "input must be an integer tensor"),
        ((torch.tensor([0, 3]), torch.randn(3, 2)), ValueError, r"input must hold indices in \[0, 3\)"),
        ((torch.tensor([-1]), torch.randn(3, 2)), ValueError, "input must hold indices"),
        ((torch.tensor([0]), torch.randn(3)), ValueError, "weight must have 2 dimensions"),
        ((torch.tensor([0]), torch.randn(3, 2), 3), ValueError, r"padding_idx must be in \[-3, 3\)"),
        ((torch.tensor([0]), torch.randn(3, 2), 1.0), TypeError, "padding_idx must be an int"),
    ],
)
def test_embedding_rejects_bad_arguments(args, error, match):
    with pytest.raises(error, match=match):
        embedding(*args)


# --- cosine similarity ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape1", "shape2", "dim"), [((5, 8), (5, 8), 1), ((4, 1, 6), (1, 3, 6), -1), ((2, 7, 3), (2, 7, 3), 1)]
)
def test_cosine_similarity_matches_torch_forward_and_gradient(shape1, shape2, dim):
    x1 = torch.randn(shape1, dtype=torch.float64, requires_grad=True)
    x2 = torch.randn(shape2, dtype=torch.float64, requires_grad=True)
    ours, ref = cosine_similarity(x1, x2, dim=dim), F.cosine_similarity(x1, x2, dim=dim)
    assert_close(ours, ref)
    g = torch.randn(ours.shape, dtype=torch.float64)
    assert_close(torch.autograd.grad(ours, (x1, x2), g), torch.autograd.grad(ref, (x1, x2), g))


def test_cosine_similarity_eps_clamps_each_norm_like_torch():
    a = torch.tensor([[1e-9, 0.0], [3.0, 4.0]], dtype=torch.float64)
    b = torch.tensor([[1e-9, 0.0], [1e-10, 0.0]], dtype=torch.float64)
    assert_close(cosine_similarity(a, b, eps=1e-8), F.cosine_similarity(a, b, eps=1e-8))


def test_latent_axes_have_no_fixed_meaning_rotation_changes_coordinates_not_the_model():
    z = torch.randn(6, 3, dtype=torch.float64)
    W_dec = torch.randn(3, 10, dtype=torch.float64)
    R = torch.linalg.qr(torch.randn(3, 3, dtype=torch.float64)).Q
    assert not torch.allclose(z @ R, z)
    assert_close((z @ R) @ (R.T @ W_dec), z @ W_dec)
    sims = cosine_similarity(z[:, None], z[None], dim=-1)
    assert_close(cosine_similarity((z @ R)[:, None], (z @ R)[None], dim=-1), sims)
    # scale invariance, and the bounds
    assert_close(cosine_similarity(z, 5 * z), torch.ones(6, dtype=torch.float64))
    assert bool((sims.abs() <= 1 + 1e-12).all())


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((torch.randn(3, 4), torch.randn(3, 5)), {}, ValueError, "x1 and x2 must be broadcastable"),
        ((torch.randn(3, 4), torch.randn(3, 4)), {"dim": 2}, ValueError, r"dim must be in \[-2, 2\)"),
        ((torch.randn(3, 4), torch.randn(3, 4)), {"eps": 0.0}, ValueError, "eps must be in"),
        ((torch.randn(3, 4), [1.0]), {}, TypeError, "x2 must be a torch.Tensor"),
    ],
)
def test_cosine_similarity_rejects_bad_arguments(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        cosine_similarity(*args, **kwargs)
