"""nnfaq.positional_encoding against reference formulas and PyTorch, and its claims."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from nnfaq.positional_encoding import (
    alibi_bias,
    learned_positional_encoding,
    permutation_equivariance,
    rotary_embedding,
    sinusoidal_encoding,
)


def randn(*shape):
    return torch.randn(*shape, dtype=torch.float64)


def sdpa_self(x, **kw):
    return F.scaled_dot_product_attention(x, x, x, **kw)


# --- why positional encoding ---------------------------------------------------------------------


@pytest.mark.parametrize("T", [2, 5, 9])
def test_attention_and_encoder_without_positions_are_permutation_equivariant(T):
    x = randn(2, T, 8)
    perm = torch.randperm(T)
    enc = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True, dtype=torch.float64).eval()
    assert permutation_equivariance(sdpa_self, x, perm)
    assert permutation_equivariance(enc, x, perm)
    assert permutation_equivariance(enc, x)  # reversal


@pytest.mark.parametrize("pe", ["sinusoidal", "learned", "rope", "alibi", "causal"])
def test_any_position_information_breaks_equivariance(pe):
    T, C = 6, 8
    x = randn(2, T, C)
    if pe == "alibi":  # (B, H, T, C): the same tokens in two heads
        x = x.unsqueeze(1).expand(2, 2, T, C)
    layers = {
        "sinusoidal": lambda x: sdpa_self(x + sinusoidal_encoding(T, C)),
        "learned": lambda x: sdpa_self(learned_positional_encoding(x, randn(T, C))),
        "rope": lambda x: F.scaled_dot_product_attention(rotary_embedding(x), rotary_embedding(x), x),
        "alibi": lambda x: sdpa_self(x, attn_mask=alibi_bias(2, T, causal=False)),
        "causal": lambda x: sdpa_self(x, is_causal=True),
    }
    # not the reversal: symmetric ALiBi, -m |i - j|, is invariant under reversing the sequence
    assert not permutation_equivariance(layers[pe], x, torch.tensor([2, 0, 5, 1, 4, 3]))


def test_convolution_is_not_permutation_equivariant():
    conv = torch.nn.Conv1d(4, 4, 3, padding=1, dtype=torch.float64)
    assert not permutation_equivariance(lambda x: conv(x.transpose(1, 2)).transpose(1, 2), randn(2, 7, 4))


def test_permutation_equivariance_rejects_bad_arguments():
    with pytest.raises(ValueError, match="perm must be a permutation of 0..3"):
        permutation_equivariance(sdpa_self, randn(4, 2), torch.tensor([0, 0, 1, 2]))
    with pytest.raises(TypeError, match="layer must be callable"):
        permutation_equivariance(3, randn(4, 2))


# --- sinusoidal ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("T", "d", "base"), [(1, 2, 10000.0), (20, 8, 10000.0), (64, 32, 100.0)])
def test_sinusoidal_matches_the_paper_formula(T, d, base):
    ref = torch.tensor(
        [[(math.sin if i % 2 == 0 else math.cos)(t / base ** ((i - i % 2) / d)) for i in range(d)] for t in range(T)],
        dtype=torch.float64,
    )
    assert_close(sinusoidal_encoding(T, d, base), ref)
    assert sinusoidal_encoding(T, d, base, dtype=torch.float32).dtype == torch.float32


def test_sinusoidal_dot_product_depends_only_on_offset_and_is_symmetric():
    pe = sinusoidal_encoding(100, 32)
    G = pe @ pe.T
    for k in range(0, 100, 7):
        assert_close(G.diagonal(k), G.diagonal(k)[0].expand(100 - k))
        assert_close(G.diagonal(-k), G.diagonal(k))
        # closed form: sum_i cos(omega_i k)
        omega = 10000 ** (-torch.arange(0, 32, 2, dtype=torch.float64) / 32)
        assert_close(G[0, k], torch.cos(omega * k).sum())


def test_sinusoidal_shift_is_one_linear_map_and_values_are_bounded():
    pe = sinusoidal_encoding(60, 16)
    for k in (1, 5):
        omega = 10000 ** (-torch.arange(0, 16, 2, dtype=torch.float64) / 16)
        c, s = torch.cos(k * omega), torch.sin(k * omega)
        R = torch.block_diag(*[torch.stack([torch.stack([ci, -si]), torch.stack([si, ci])]) for ci, si in zip(c, s)])
        assert_close(pe[:-k] @ R, pe[k:])
    assert bool(pe.abs().max() <= 1)
    assert_close(pe.norm(dim=1) ** 2, torch.full((60,), 8.0, dtype=torch.float64))


def test_sinusoidal_rejects_bad_arguments():
    with pytest.raises(ValueError, match="d must be even"):
        sinusoidal_encoding(4, 5)
    with pytest.raises(ValueError, match="T must be >= 1"):
        sinusoidal_encoding(0, 4)


# --- learned -------------------------------------------------------------------------------------


def test_learned_matches_embedding_forward_and_gradient():
    emb = torch.nn.Embedding(16, 8, dtype=torch.float64)
    x = randn(3, 10, 8)
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    w = emb.weight.detach().clone().requires_grad_()
    ours = learned_positional_encoding(xa, w)
    ref = xb + emb(torch.arange(10))
    assert_close(ours, ref)
    g = torch.randn_like(ref)
    ours.backward(g)
    ref.backward(g)
    assert_close(xa.grad, xb.grad)
    assert_close(w.grad, emb.weight.grad)
    assert bool((w.grad[10:] == 0).all())


def test_learned_rejects_too_long_inputs_and_bad_shapes():
    with pytest.raises(ValueError, match=r"x has 9 positions but weight has rows for only 8 \(max_len\)"):
        learned_positional_encoding(randn(9, 4), randn(8, 4))
    with pytest.raises(ValueError, match="weight must have 4 columns"):
        learned_positional_encoding(randn(3, 4), randn(8, 5))


# --- RoPE ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(5, 2), (2, 7, 8), (2, 3, 6, 16)])
def test_rope_matches_complex_rotation_forward_and_gradient(shape):
    *_, T, D = shape
    theta = 10000.0 ** (-torch.arange(0, D, 2, dtype=torch.float64) / D)
    turn = torch.polar(torch.ones(T, D // 2, dtype=torch.float64), torch.arange(T)[:, None] * theta)
    x = randn(*shape)
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    ours = rotary_embedding(a)
    ref = torch.view_as_real(torch.view_as_complex(b.reshape(*shape[:-1], D // 2, 2)) * turn).reshape(shape)
    assert_close(ours, ref)
    g = torch.randn_like(ref)
    ours.backward(g)
    ref.backward(g)
    assert_close(a.grad, b.grad)


def test_rope_score_depends_only_on_relative_position():
    q, k = randn(16), randn(16)

    def score(m, n):
        return rotary_embedding(q[None], torch.tensor([m])) @ rotary_embedding(k[None], torch.tensor([n]))[0]

    for offset in (0, 1, 5, -3):
        ref = score(10 + offset, 10)
        for m in (3, 50, 1000):
            assert_close(score(m + offset, m), ref)
    assert not torch.allclose(score(1, 0), score(2, 0))
    x = randn(4, 9, 16)
    assert_close(rotary_embedding(x).norm(dim=-1), x.norm(dim=-1))


def test_rope_rejects_bad_arguments():
    with pytest.raises(ValueError, match="x must have an even last dimension"):
        rotary_embedding(randn(4, 5))
    with pytest.raises(ValueError, match=r"positions must have shape \(4,\)"):
        rotary_embedding(randn(4, 6), torch.arange(3))


# --- ALiBi ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("H", "slopes"),
    [
        (1, [2**-8]),
        (4, [2**-2, 2**-4, 2**-6, 2**-8]),
        (8, [2**-h for h in range(1, 9)]),
        (6, [2**-2, 2**-4, 2**-6, 2**-8, 2**-1, 2**-3]),  # the paper's rule for non-powers of two
    ],
)
def test_alibi_slopes(H, slopes):
    b = alibi_bias(H, 5)
    assert_close(-b[:, 1, 0], torch.tensor(slopes, dtype=torch.float64))
    assert_close(-b[:, 4, 0], 4 * torch.tensor(slopes, dtype=torch.float64))


@pytest.mark.parametrize("causal", [True, False])
def test_alibi_depends_only_on_distance_and_extends_to_longer_sequences(causal):
    b = alibi_bias(4, 10, causal=causal)
    assert torch.equal(b[:, 1:, 1:], b[:, :-1, :-1])
    assert torch.equal(alibi_bias(4, 100, causal=causal)[:, :10, :10], b)
    assert bool(torch.isneginf(b.triu(1)[:, 0, 1:]).all()) == causal
    if not causal:
        assert torch.equal(b, b.transpose(1, 2))


def test_alibi_as_a_mask_in_torch_attention():
    T, H = 6, 4
    q, k, v = randn(2, H, T, 8), randn(2, H, T, 8), randn(2, H, T, 8)
    b = alibi_bias(H, T)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=b)
    s = q @ k.transpose(-2, -1) / math.sqrt(8) + b
    assert_close(out, torch.softmax(s, -1) @ v)
    assert_close(out[..., 0, :], v[..., 0, :])


def test_alibi_rejects_bad_arguments():
    with pytest.raises(ValueError, match="num_heads must be >= 1"):
        alibi_bias(0, 4)
    with pytest.raises(TypeError, match="causal must be True or False"):
        alibi_bias(2, 4, causal="yes")
