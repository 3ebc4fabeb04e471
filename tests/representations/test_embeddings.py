"""nnfaq.representations.embeddings: parity with PyTorch (forward and gradient, float64, on PyTorch's own OpInfo samples
and on hypothesis-drawn cases), the claims of its answers, and the refusals only it makes (the shared ones are rows of
tests/representations/contract.py)."""

import pytest
import torch
import torch.nn.functional as F
from helpers import agree, gen, opinfo_samples, rejects
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.testing import assert_close

from nnfaq.representations.embeddings import cosine_similarity, embedding

F64 = torch.float64


# --- parity ----------------------------------------------------------------------------------------


def test_embedding_and_cosine_similarity_match_torch_on_their_opinfo_samples():
    for s in opinfo_samples("nn.functional.embedding"):  # sample.input is the table, args[0] the indices
        agree(lambda w, i, **kw: embedding(i, w, **kw), lambda w, i, **kw: F.embedding(i, w, **kw), s.input, *s.args,
              **s.kwargs)  # fmt: skip
    for s in opinfo_samples("nn.functional.cosine_similarity"):  # 0-d inputs included
        agree(cosine_similarity, F.cosine_similarity, s.input, *s.args, **s.kwargs)


@settings(max_examples=12)
@given(data=st.data(), V=st.integers(1, 6), D=st.integers(1, 4), shape=st.lists(st.integers(0, 4), max_size=3),
       index_dtype=st.sampled_from([torch.int64, torch.int32, torch.uint8, torch.int16]))  # fmt: skip
def test_embedding_matches_torch_forward_and_gradient(data, V, D, shape, index_dtype):
    idx = torch.randint(0, V, shape).to(index_dtype)
    padding_idx = data.draw(st.none() | st.integers(-V, V - 1))
    agree(
        lambda w: embedding(idx, w, padding_idx), lambda w: F.embedding(idx.long(), w, padding_idx), torch.randn(V, D)
    )


@st.composite
def broadcastable(draw):
    """Two shapes that broadcast together (some sizes 1, some leading dimensions dropped)."""
    full = draw(st.lists(st.integers(1, 5), min_size=1, max_size=4))
    return [tuple(1 if draw(st.booleans()) else n for n in full[draw(st.integers(0, len(full) - 1)) :]) for _ in "ab"]


@settings(max_examples=15)
@given(data=st.data(), shapes=broadcastable(), eps=st.just(1e-8) | st.floats(1e-12, 2.0))
def test_cosine_similarity_matches_torch_and_is_the_derivative_of_its_forward(data, shapes, eps):
    full = torch.broadcast_shapes(*shapes)
    dim = data.draw(st.integers(-len(full), len(full) - 1))
    x1, x2 = (torch.randn(s, dtype=F64, requires_grad=True) for s in shapes)
    ours, ref = cosine_similarity(x1, x2, dim=dim, eps=eps), F.cosine_similarity(x1, x2, dim=dim, eps=eps)
    assert_close(ours, ref)
    assert bool((ours.abs() <= 1 + 1e-12).all())
    b1, b2 = torch.broadcast_tensors(x1.detach(), x2.detach())
    if bool((torch.stack([b1.norm(dim=dim), b2.norm(dim=dim)]) > eps).all()):
        agree(cosine_similarity, F.cosine_similarity, x1, x2, dim=dim, eps=eps)
    else:  # a norm clamped to eps: PyTorch's backward is not the derivative of its forward there; ours is
        assert torch.autograd.gradcheck(lambda a, b: cosine_similarity(a, b, dim=dim, eps=eps), (x1, x2))


# --- claims ----------------------------------------------------------------------------------------


def test_an_embedding_is_a_bias_free_linear_layer_on_one_hot_vectors():
    linear = torch.nn.Linear(10, 4, bias=False, dtype=F64)
    idx = torch.tensor([3, 1, 3, 7])
    assert_close(embedding(idx, linear.weight.T), linear(F.one_hot(idx, 10).double()))
    W = torch.zeros(10, 4, dtype=F64, requires_grad=True)
    embedding(idx, W).sum().backward()
    assert W.grad[:, 0].tolist() == [0, 1, 0, 2, 0, 0, 0, 1, 0, 0]  # each row collects its occurrences


def test_the_padding_row_starts_at_zero_and_never_moves():
    emb = torch.nn.Embedding(5, 3, padding_idx=0)
    assert torch.equal(emb.weight[0], torch.zeros(3))
    opt, before = torch.optim.SGD(emb.parameters(), lr=1.0), emb.weight.detach().clone()
    embedding(torch.tensor([0, 1, 0]), emb.weight, padding_idx=0).pow(2).sum().backward()
    opt.step()
    assert torch.equal(emb.weight[0], torch.zeros(3)) and not torch.equal(emb.weight[1], before[1])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_latent_axes_have_no_fixed_meaning(seed):
    g = gen(seed)
    z, W_dec = torch.randn(6, 3, generator=g, dtype=F64), torch.randn(3, 10, generator=g, dtype=F64)
    R = torch.linalg.qr(torch.randn(3, 3, generator=g, dtype=F64)).Q
    assert not torch.allclose(z @ R, z)  # every coordinate changes
    assert_close((z @ R) @ (R.T @ W_dec), z @ W_dec)  # the model does not
    sims = cosine_similarity(z[:, None], z[None], dim=-1)
    assert_close(cosine_similarity((z @ R)[:, None], (z @ R)[None], dim=-1), sims)  # nor any similarity
    assert_close(cosine_similarity(z, 5 * z), torch.ones(6, dtype=F64))


def test_under_eps_the_gradient_is_the_derivative_of_the_clamped_forward_and_torchs_is_not():
    tiny = torch.tensor([1e-10, 2e-10, -1e-10], dtype=F64, requires_grad=True)
    b = torch.tensor([1.0, -2.0, 0.5], dtype=F64)
    ours = torch.autograd.grad(cosine_similarity(tiny, b, dim=0), tiny)[0]
    ref = torch.autograd.grad(F.cosine_similarity(tiny, b, dim=0), tiny)[0]
    assert_close(ours, b / (1e-8 * b.norm()))
    assert not torch.allclose(ref, ours)
    assert not torch.autograd.gradcheck(lambda t: F.cosine_similarity(t, b, dim=0), (tiny,), eps=1e-12, atol=1e-5,
                                        raise_exception=False)  # fmt: skip


# --- bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "name"),
    [
        ((torch.tensor([0.0, 1.0]), torch.randn(3, 2)), "input"),
        ((torch.tensor([True]), torch.randn(3, 2)), "input"),
        ((torch.tensor([0, 3]), torch.randn(3, 2)), "input"),
        ((torch.tensor([-1]), torch.randn(3, 2)), "input"),
        ((torch.tensor([0]), torch.randn(3)), "weight"),
        ((torch.zeros(0, dtype=torch.int64), torch.randn(0, 2)), "weight"),
        ((torch.tensor([0]), torch.randn(3, 2), 3), "padding_idx"),
        ((torch.tensor([0]), torch.randn(3, 2), -4), "padding_idx"),
        ((torch.tensor([0]), torch.randn(3, 2), 1.0), "padding_idx"),
    ],
)
def test_embedding_refuses_indices_and_tables_that_do_not_fit(args, name):
    rejects(name, embedding, *args)


@pytest.mark.parametrize(
    ("args", "kwargs", "name"),
    [
        ((torch.randn(3, 4), torch.randn(3, 5)), {}, "x1"),
        ((torch.randn(3, 4), torch.randn(3, 4)), {"dim": 2}, "dim"),
        ((torch.randn(3, 4), torch.randn(3, 4)), {"dim": -3}, "dim"),
        ((torch.tensor(1.0), torch.tensor(2.0)), {"dim": 1}, "dim"),
    ],
)
def test_cosine_similarity_refuses_shapes_that_do_not_fit(args, kwargs, name):
    rejects(name, cosine_similarity, *args, **kwargs)
