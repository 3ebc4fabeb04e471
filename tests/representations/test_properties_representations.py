"""Property-based tests for nnfaq.representations: random valid input agrees with PyTorch (embedding, cosine
similarity) or with linear algebra (PCA, the linear autoencoder's Eckart-Young bound); random invalid input
raises ValueError/TypeError naming the argument (issue 10)."""

import math

import numpy as np
import torch
import torch.nn.functional as F
from helpers import int_dtypes, non_finite, not_a_number, not_a_tensor, not_an_int, rejects
from hypothesis import example, given, settings
from hypothesis import strategies as st
from torch.testing import assert_close

from nnfaq.representations import cosine_similarity, embedding, pca, train_autoencoder

D64 = torch.float64
float_dtypes = st.sampled_from([torch.float32, torch.float64])
GOOD = object()  # stands for a valid argument in the bad-argument cases


def bad_matrices(min_cols=1):
    """Not a finite floating-point ``(B, C)`` matrix with ``B >= 1`` and ``C >= min_cols``."""
    return st.one_of(
        not_a_tensor,
        st.lists(st.integers(1, 3), max_size=4).filter(lambda s: len(s) != 2).map(lambda s: torch.randn(s)),
        int_dtypes.map(lambda d: torch.ones(4, 3, dtype=d)),
        st.just(torch.zeros(4, 3, dtype=torch.complex64)),
        st.tuples(st.integers(0, 3), st.integers(0, 3), non_finite).map(
            lambda c: torch.randn(4, 3).index_put_((torch.tensor(c[0]), torch.tensor(c[1] % 3)), torch.tensor(c[2]))
        ),
        st.integers(0, 3).map(lambda c: torch.randn(0, c)),
        st.integers(0, min_cols - 1).map(lambda c: torch.randn(3, c)),
    )


# --- pca -------------------------------------------------------------------------------------------


@settings(max_examples=40)
@given(data=st.data(), B=st.integers(1, 8), C=st.integers(1, 5), dtype=float_dtypes)
def test_pca_is_the_eckart_young_optimum(data, B, C, dtype):
    k = data.draw(st.integers(1, min(B, C)))
    x = torch.randn(B, C, dtype=D64) * torch.rand(C, dtype=D64).mul(4) + torch.randn(C, dtype=D64)
    mean, V = pca(x.to(dtype), k)
    assert mean.shape == (C,) and V.shape == (k, C) and V.dtype == mean.dtype == dtype
    tol = {"atol": 1e-4, "rtol": 1e-4} if dtype == torch.float32 else {}
    mean, V = mean.double(), V.double()
    assert_close(mean, x.mean(0), **tol)
    assert_close(V @ V.T, torch.eye(k, dtype=D64), **tol)  # orthonormal rows
    # against NumPy's SVD: the variance along each direction is a top singular value squared, in order,
    # and projecting on them leaves the discarded ones as error (Eckart-Young)
    S = torch.from_numpy(np.linalg.svd((x - x.mean(0)).numpy(), compute_uv=False))
    centred = x - mean
    assert_close(((centred @ V.T) ** 2).sum(0), S[:k] ** 2, atol=1e-3 if dtype == torch.float32 else 1e-9, rtol=1e-3)
    error = (centred @ V.T @ V - centred).pow(2).sum()
    assert_close(error, (S[k:] ** 2).sum(), atol=1e-3 if dtype == torch.float32 else 1e-9, rtol=1e-3)


@given(
    case=st.one_of(
        st.tuples(st.just("x"), bad_matrices(), st.just(1)),
        # torch.linalg.svd has no half-precision kernel
        st.tuples(
            st.just("x"),
            st.sampled_from([torch.float16, torch.bfloat16]).map(lambda d: torch.ones(4, 3, dtype=d)),
            st.just(1),
        ),
        st.tuples(st.just("k"), st.just(GOOD), st.one_of(not_an_int, st.integers(max_value=0), st.integers(4, 9))),
    )
)
def test_pca_rejects_bad_arguments(case):
    name, x, k = case
    rejects(name, pca, torch.randn(4, 3) if x is GOOD else x, k)


# --- train_autoencoder -----------------------------------------------------------------------------


@settings(max_examples=25)
@given(
    data=st.data(),
    B=st.integers(1, 8),
    C=st.integers(2, 5),
    hidden=st.integers(0, 4),
    max_iter=st.integers(1, 5),
    dtype=float_dtypes,
)
def test_autoencoder_shapes_modes_and_the_pca_lower_bound(data, B, C, hidden, max_iter, dtype):
    latent = data.draw(st.integers(1, C - 1))
    x = torch.randn(B, C, dtype=dtype)
    encoder, decoder = train_autoencoder(x, latent, hidden=hidden, max_iter=max_iter)
    z = encoder(x)
    assert z.shape == (B, latent) and decoder(z).shape == (B, C)
    assert z.dtype == decoder(z).dtype == dtype
    assert not encoder.training and not decoder.training
    assert not any(p.requires_grad for p in [*encoder.parameters(), *decoder.parameters()])
    assert bool(torch.isfinite(decoder(z)).all())
    if hidden == 0:
        # a linear autoencoder is an affine rank-k reconstruction: it cannot beat PCA's error
        S = torch.linalg.svdvals((x - x.mean(0)).double())
        error = (decoder(z) - x).double().pow(2).sum(1).mean()
        assert error >= S[latent:].pow(2).sum() / B - 1e-4


@settings(max_examples=15)
@given(B=st.integers(6, 12), C=st.integers(2, 4), data=st.data())
def test_trained_linear_autoencoder_reaches_the_pca_error(B, C, data):
    latent = data.draw(st.integers(1, C - 1))
    x = torch.randn(B, C, dtype=D64) * torch.linspace(3, 0.5, C, dtype=D64)
    encoder, decoder = train_autoencoder(x, latent, max_iter=200)
    error = (decoder(encoder(x)) - x).pow(2).sum(1).mean()
    S = torch.linalg.svdvals(x - x.mean(0))
    assert_close(error, S[latent:].pow(2).sum() / B, rtol=1e-3, atol=1e-8)


@given(
    case=st.one_of(
        st.tuples(st.just("x"), bad_matrices(min_cols=2), st.just({})),
        st.tuples(st.just("latent"), st.just(GOOD), st.one_of(not_an_int, st.integers(max_value=0), st.integers(3, 9))),
        st.tuples(st.just("hidden"), st.just(GOOD), st.one_of(not_an_int, st.integers(max_value=-1))),
        st.tuples(st.just("max_iter"), st.just(GOOD), st.one_of(not_an_int, st.integers(max_value=0))),
    )
)
@example(case=("x", torch.randn(0, 3), {}))  # no examples: the loss would be the NaN mean of nothing
def test_autoencoder_rejects_bad_arguments(case):
    name, x, bad = case
    kwargs = {"x": torch.randn(4, 3) if x is GOOD else x, "latent": 1, "max_iter": 1}
    if name != "x":
        kwargs[name] = bad
    rejects(name, train_autoencoder, **kwargs)


# --- embedding -------------------------------------------------------------------------------------


@settings(max_examples=40)
@given(
    data=st.data(),
    V=st.integers(1, 6),
    D=st.integers(1, 4),
    shape=st.lists(st.integers(0, 4), max_size=3),
    index_dtype=st.sampled_from([torch.int64, torch.int32]),
    padded=st.booleans(),
)
def test_embedding_matches_torch_forward_and_gradient(data, V, D, shape, index_dtype, padded):
    idx = torch.randint(0, V, shape, dtype=index_dtype)
    padding_idx = data.draw(st.integers(-V, V - 1)) if padded else None
    weight = torch.randn(V, D, dtype=D64)
    a, b = weight.clone().requires_grad_(), weight.clone().requires_grad_()
    ours, ref = embedding(idx, a, padding_idx), F.embedding(idx, b, padding_idx)
    assert ours.shape == (*shape, D)
    assert_close(ours, ref)
    g = torch.randn(ours.shape, dtype=D64)
    ours.backward(g)
    ref.backward(g)
    assert_close(a.grad, b.grad)
    if padded:
        assert not a.grad[padding_idx].any()  # the padding row never learns


@settings(max_examples=20)
@given(
    V=st.integers(1, 6),
    shape=st.lists(st.integers(1, 4), max_size=2),
    dtype=st.sampled_from([torch.uint8, torch.int8, torch.int16]),
)
def test_embedding_takes_any_integer_index_dtype(V, shape, dtype):
    idx = torch.randint(0, V, shape).to(dtype)
    weight = torch.randn(V, 3, dtype=D64)
    assert_close(embedding(idx, weight), F.embedding(idx.long(), weight))


@given(
    data=st.data(),
    V=st.integers(1, 5),
    which=st.sampled_from(["input", "input_range", "weight", "padding_idx"]),
)
def test_embedding_rejects_bad_arguments(data, V, which):
    args = {"input": torch.randint(0, V, (3,)), "weight": torch.randn(V, 2), "padding_idx": None}
    if which == "input":
        args["input"] = data.draw(
            st.one_of(
                not_a_tensor,
                st.sampled_from([torch.float32, torch.float64, torch.bool, torch.complex64]).map(
                    lambda d: torch.zeros(3, dtype=d)
                ),
            )
        )
    elif which == "input_range":
        which = "input"
        bad = data.draw(st.one_of(st.integers(V, V + 5), st.integers(-5, -1)))
        args["input"] = torch.tensor([0, bad, 0])
    elif which == "weight":
        args["weight"] = data.draw(
            st.one_of(
                not_a_tensor,
                st.lists(st.integers(1, 3), max_size=4).filter(lambda s: len(s) != 2).map(lambda s: torch.randn(s)),
                int_dtypes.map(lambda d: torch.ones(V, 2, dtype=d)),
                st.just(torch.randn(0, 2)),
            )
        )
        if isinstance(args["weight"], torch.Tensor) and args["weight"].shape[:1] == (0,):
            args["input"] = torch.zeros(0, dtype=torch.int64)  # an empty table, even for no lookups
    else:
        args["padding_idx"] = data.draw(st.one_of(not_an_int.filter(lambda v: v is not None), st.integers(V, V + 5)))
        if isinstance(args["padding_idx"], int) and not isinstance(args["padding_idx"], bool):
            args["padding_idx"] = data.draw(st.sampled_from([args["padding_idx"], -args["padding_idx"] - 1]))
    rejects(which, embedding, **args)


# --- cosine_similarity -----------------------------------------------------------------------------


@st.composite
def broadcastable(draw):
    """Two shapes that broadcast together (some sizes set to 1, some leading dimensions dropped)."""
    full = draw(st.lists(st.integers(1, 5), min_size=1, max_size=4))
    shapes = []
    for _ in range(2):
        drop = draw(st.integers(0, len(full) - 1))
        shapes.append(tuple(1 if draw(st.booleans()) else n for n in full[drop:]))
    return shapes


@settings(max_examples=40)
@given(
    data=st.data(),
    shapes=broadcastable(),
    eps=st.one_of(st.just(1e-8), st.floats(1e-12, 2.0)),
    scale=st.floats(0.01, 10.0),
)
def test_cosine_similarity_matches_torch_forward_and_gradient(data, shapes, eps, scale):
    full = torch.broadcast_shapes(*shapes)
    dim = data.draw(st.integers(-len(full), len(full) - 1))
    x1 = torch.randn(shapes[0], dtype=D64).requires_grad_()
    x2 = torch.randn(shapes[1], dtype=D64).requires_grad_()
    ours, ref = cosine_similarity(x1, x2, dim=dim, eps=eps), F.cosine_similarity(x1, x2, dim=dim, eps=eps)
    assert ours.shape == ref.shape
    assert_close(ours, ref)
    assert bool((ours.abs() <= 1 + 1e-12).all())
    x1b, x2b = torch.broadcast_tensors(x1.detach(), x2.detach())
    norms = torch.stack([torch.linalg.vector_norm(x1b, dim=dim), torch.linalg.vector_norm(x2b, dim=dim)])
    if bool((norms > eps).all()):
        g = torch.randn(ours.shape, dtype=D64)
        assert_close(torch.autograd.grad(ours, (x1, x2), g), torch.autograd.grad(ref, (x1, x2), g))
    else:
        # where a norm is clamped to eps, PyTorch's backward is not the derivative of its own forward (its
        # gradcheck fails there); ours is
        assert torch.autograd.gradcheck(lambda a, b: cosine_similarity(a, b, dim=dim, eps=eps), (x1, x2))
    # the angle does not depend on the length: scaling a vector far above eps changes nothing
    if eps <= 1e-8:
        assert_close(cosine_similarity(x1 * scale, x2, dim=dim, eps=eps), ours)


@given(
    data=st.data(),
    which=st.sampled_from(["x1", "x2", "shapes", "dim", "eps"]),
)
def test_cosine_similarity_rejects_bad_arguments(data, which):
    args = {"x1": torch.randn(3, 4), "x2": torch.randn(3, 4), "dim": 1, "eps": 1e-8}
    if which in ("x1", "x2"):
        args[which] = data.draw(st.one_of(not_a_tensor, int_dtypes.map(lambda d: torch.ones(3, 4, dtype=d))))
    elif which == "shapes":
        which = "x1"  # "x1 and x2 must be broadcastable"
        n = data.draw(st.sampled_from([2, 5]))
        args["x2"] = torch.randn(data.draw(st.sampled_from([(3, n), (n, 4), (2, n, 4)])))
    elif which == "dim":
        args["dim"] = data.draw(st.one_of(not_an_int, st.integers(2, 9), st.integers(-9, -3)))
    else:
        args["eps"] = data.draw(st.one_of(not_a_number, st.floats(max_value=0.0), st.just(math.nan)))
    rejects(which, cosine_similarity, **args)
