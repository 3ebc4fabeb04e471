"""nnfaq.transformers.transformer_block: gated feed-forward layers against PyTorch (forward and gradient,
float64), Llama's hidden sizes, and parameter counts against real torch.nn modules."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from torch.testing import assert_close

from nnfaq.transformers._models import LLAMA2_7B, LLAMA3_8B, LLAMA32_1B
from nnfaq.transformers.transformer_block import gated_feed_forward, swiglu_hidden_size, transformer_parameters

F64 = torch.float64
REF_GATES = {"sigmoid": torch.sigmoid, "silu": F.silu, "gelu": F.gelu, "relu": F.relu}


def weights(C, h):
    return torch.randn(h, C, dtype=F64), torch.randn(C, h, dtype=F64), torch.randn(h, C, dtype=F64)


# --- gated_feed_forward --------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ["silu", "sigmoid", "gelu", "relu"])
@pytest.mark.parametrize("shape", [(8,), (3, 8), (2, 5, 8)])
def test_gated_ffn_matches_torch_forward_and_gradient(activation, shape):
    x, (w1, w2, w3) = torch.randn(shape, dtype=F64), weights(8, 12)
    ours_in = [t.clone().requires_grad_() for t in (x, w1, w2, w3)]
    ref_in = [t.clone().requires_grad_() for t in (x, w1, w2, w3)]
    ours = gated_feed_forward(*ours_in, activation=activation)
    a, v1, v2, v3 = ref_in
    ref = F.linear(REF_GATES[activation](F.linear(a, v1)) * F.linear(a, v3), v2)
    assert_close(ours, ref)
    g = torch.randn_like(ref)
    ours.backward(g)
    ref.backward(g)
    for o, r in zip(ours_in, ref_in):
        assert_close(o.grad, r.grad)


def test_sigmoid_gate_is_torch_glu():
    x, (w1, w2, w3) = torch.randn(4, 6, dtype=F64), weights(6, 10)
    ref = F.glu(torch.cat([x @ w3.T, x @ w1.T], -1), dim=-1) @ w2.T
    assert_close(gated_feed_forward(x, w1, w2, w3, "sigmoid"), ref)


@given(c=st.floats(0.1, 10.0))
def test_the_gate_is_a_product_reglu_is_homogeneous_of_degree_two(c):
    x, (w1, w2, w3) = torch.randn(4, 6, dtype=F64), weights(6, 10)
    assert_close(gated_feed_forward(c * x, w1, w2, w3, "relu"), c**2 * gated_feed_forward(x, w1, w2, w3, "relu"))
    relu_ffn = lambda t: F.relu(t @ w1.T) @ w2.T  # noqa: E731
    assert_close(relu_ffn(c * x), c * relu_ffn(x))


@pytest.mark.parametrize(
    ("shapes", "match"),
    [
        (((12, 7), (8, 12), (12, 8)), "w1 must have shape"),
        (((12, 8), (8, 12), (11, 8)), "w3 must have shape"),
        (((12, 8), (8, 11), (12, 8)), "w2 must have shape"),
        (((12, 8, 1), (8, 12), (12, 8)), "w1 must have 2"),
    ],
)
def test_gated_ffn_rejects_mismatched_weights(shapes, match):
    w1, w2, w3 = (torch.randn(s, dtype=F64) for s in shapes)
    with pytest.raises(ValueError, match=match):
        gated_feed_forward(torch.randn(3, 8, dtype=F64), w1, w2, w3)


# --- swiglu_hidden_size --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dim", "multiple_of", "multiplier", "published"),
    [
        (4096, 256, None, 11008),  # Llama 2 7B
        (5120, 256, None, 13824),  # Llama 2 13B
        (8192, 4096, 1.3, 28672),  # Llama 2 70B
        (4096, 1024, 1.3, 14336),  # Llama 3 8B
        (8192, 1024, 1.3, 28672),  # Llama 3 70B
    ],
)
def test_llama_hidden_sizes(dim, multiple_of, multiplier, published):
    assert swiglu_hidden_size(dim, multiple_of, multiplier) == published


def test_configured_hidden_sizes_follow_the_rule():
    for m in (LLAMA2_7B, LLAMA3_8B):
        assert swiglu_hidden_size(m.dim, m.multiple_of, m.ffn_dim_multiplier) == m.hidden_dim


@given(d=st.integers(1, 200).map(lambda n: 3 * n))
def test_eight_thirds_matches_the_classic_ffn_parameters(d):
    h = swiglu_hidden_size(d, multiple_of=1)
    assert h == 8 * d // 3
    count = lambda *m: sum(p.numel() for layer in m for p in layer.parameters())  # noqa: E731
    classic = 2 * d * 4 * d  # two d x 4d matrices
    assert 3 * d * h == classic
    if d <= 48:  # the same count from torch layers
        assert count(nn.Linear(d, h, bias=False), nn.Linear(d, h, bias=False), nn.Linear(h, d, bias=False)) == classic


@given(d=st.integers(1, 5000), m=st.sampled_from([1, 64, 256, 1024]))
def test_rounding_is_up_to_the_next_multiple(d, m):
    h = swiglu_hidden_size(d, m)
    assert h % m == 0 and int(8 * d / 3) <= h < int(8 * d / 3) + m


# --- transformer_parameters ----------------------------------------------------------------------


class ToyLlama(nn.Module):
    """A Llama-shaped decoder's parameters (no forward needed): what transformer_parameters counts."""

    def __init__(self, V, d, n_layers, H, H_kv, h, tied):
        super().__init__()
        D = d // H
        self.embed = nn.Embedding(V, d)
        self.layers = nn.ModuleList(
            nn.ModuleDict(
                {
                    "q": nn.Linear(d, d, bias=False),
                    "k": nn.Linear(d, H_kv * D, bias=False),
                    "v": nn.Linear(d, H_kv * D, bias=False),
                    "o": nn.Linear(d, d, bias=False),
                    "w1": nn.Linear(d, h, bias=False),
                    "w2": nn.Linear(h, d, bias=False),
                    "w3": nn.Linear(d, h, bias=False),
                    "norm1": nn.RMSNorm(d),
                    "norm2": nn.RMSNorm(d),
                }
            )
            for _ in range(n_layers)
        )
        self.norm = nn.RMSNorm(d)
        self.lm_head = nn.Linear(d, V, bias=False)
        if tied:
            self.lm_head.weight = self.embed.weight


@pytest.mark.parametrize(
    ("V", "d", "n_layers", "H", "H_kv", "h"), [(50, 16, 2, 4, 2, 40), (11, 12, 3, 3, 1, 8), (7, 8, 0, 2, 2, 4)]
)
@pytest.mark.parametrize("tied", [False, True])
def test_count_is_the_numel_of_a_torch_model(V, d, n_layers, H, H_kv, h, tied):
    model = ToyLlama(V, d, n_layers, H, H_kv, h, tied)
    counts = transformer_parameters(V, d, n_layers, H, H_kv, h, tied)
    assert counts["total"] == sum(p.numel() for p in model.parameters())
    assert counts["embedding"] == model.embed.weight.numel()
    assert counts["output"] == (0 if tied else model.lm_head.weight.numel())


def _params(m, tied=None):
    tied = m.tied if tied is None else tied
    return transformer_parameters(m.vocab_size, m.dim, m.n_layers, m.n_heads, m.n_kv_heads, m.hidden_dim, tied)


def test_published_parameter_counts():
    assert round(_params(LLAMA2_7B)["total"] / 1e9, 1) == LLAMA2_7B.published_params / 1e9 == 6.7
    assert round(_params(LLAMA3_8B)["total"] / 1e9) == LLAMA3_8B.published_params / 1e9 == 8
    assert int(_params(LLAMA32_1B)["total"] / 1e7) / 100 == LLAMA32_1B.published_params / 1e9  # 1.23(6)B


def test_tying_saves_one_vocabulary_matrix():
    for m in (LLAMA2_7B, LLAMA3_8B, LLAMA32_1B):
        untied, tied = _params(m, False), _params(m, True)
        assert untied["total"] - tied["total"] == m.vocab_size * m.dim
    assert round(1 - _params(LLAMA2_7B, True)["total"] / _params(LLAMA2_7B, False)["total"], 3) == 0.019
    share = lambda c: (c["embedding"] + c["output"]) / c["total"]  # noqa: E731
    assert (round(share(_params(LLAMA3_8B)), 2), round(share(_params(LLAMA32_1B)), 2)) == (0.13, 0.21)


def test_a_tied_matrix_gets_the_sum_of_both_gradients():
    emb, head = nn.Embedding(10, 4, dtype=F64), nn.Linear(4, 10, bias=False, dtype=F64)
    head.weight = emb.weight
    ids, y = torch.tensor([[1, 2, 3, 1]]), torch.tensor([2, 3, 4, 0])
    F.cross_entropy(head(emb(ids)).view(4, 10), y).backward()
    a, b = (emb.weight.detach().clone().requires_grad_() for _ in range(2))
    F.cross_entropy((F.embedding(ids, a) @ b.T).view(4, 10), y).backward()
    assert_close(emb.weight.grad, a.grad + b.grad)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"n_heads": 5}, "n_heads must divide dim"), ({"n_kv_heads": 3}, "n_kv_heads must divide n_heads")],
)
def test_parameters_rejects_incompatible_heads(kwargs, match):
    args = {"vocab_size": 10, "dim": 16, "n_layers": 1, "n_heads": 4, "n_kv_heads": 2, "hidden_dim": 8, **kwargs}
    with pytest.raises(ValueError, match=match):
        transformer_parameters(**args)
