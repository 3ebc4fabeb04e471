"""nnfaq.efficiency.moe against softmax-then-top-k (forward and gradient, float64), torch.nn layer counts, claims."""

import pytest
import torch
import torch.nn.functional as F
from helpers import gen, leaves, rejects, seeds
from hypothesis import given
from hypothesis import strategies as st
from torch.testing import assert_close

from nnfaq.efficiency._configs import MISTRAL_7B, MIXTRAL_8X7B
from nnfaq.efficiency.moe import load_balancing_loss, moe_parameter_count, top_k_routing

F64 = torch.float64


# --- top_k_routing -------------------------------------------------------------------------------


@given(seed=seeds, tokens=st.integers(1, 6), experts=st.integers(1, 8), data=st.data())
def test_top_k_routing_matches_softmax_then_renormalize(seed, tokens, experts, data):
    k = data.draw(st.integers(1, experts))
    z = torch.randn(tokens, experts, generator=gen(seed), dtype=F64)
    a, b = leaves(z, z)
    ours, idx = top_k_routing(a, k)
    p = b.softmax(-1).gather(-1, idx)
    ref = p / p.sum(-1, keepdim=True)  # Hugging Face Mixtral's routing
    assert_close(ours, ref)
    assert torch.equal(idx, z.topk(k, dim=-1).indices)
    g = torch.randn(ours.shape, generator=gen(seed + 1), dtype=F64)
    ours.backward(g)
    ref.backward(g)
    assert_close(a.grad, b.grad)


@given(seed=seeds)
def test_routing_weights_and_gradients(seed):
    z = torch.randn(2, 3, 6, generator=gen(seed), dtype=F64, requires_grad=True)  # batch dims allowed
    w, idx = top_k_routing(z, 2)
    assert w.shape == idx.shape == (2, 3, 2)
    assert_close(w.sum(-1), torch.ones(2, 3, dtype=F64))
    assert bool((w[..., 0] >= w[..., 1]).all())
    (w * torch.randn(w.shape, generator=gen(seed + 1), dtype=F64)).sum().backward()
    selected = torch.zeros(2, 3, 6, dtype=torch.bool).scatter(-1, idx, True)
    assert bool((z.grad[~selected] == 0).all())
    full, order = top_k_routing(z.detach(), 6)  # k = N: the full softmax, sorted
    assert_close(full, z.detach().softmax(-1).gather(-1, order))


def test_top_k_routing_rejects_bad_k():
    rejects("k", top_k_routing, torch.randn(3, 4), 5)
    rejects("k", top_k_routing, torch.randn(3, 4), True)
    rejects("logits", top_k_routing, torch.tensor([[1.0, float("inf")]]), 1)


# --- load_balancing_loss -------------------------------------------------------------------------


@given(seed=seeds, k=st.integers(1, 3))
def test_load_balancing_loss_formula_and_gradient_through_p_only(seed, k):
    z = torch.randn(20, 5, generator=gen(seed), dtype=F64)
    a, b = leaves(z, z)
    ours = load_balancing_loss(a, k)
    f = F.one_hot(z.topk(k, -1).indices, 5).sum(1).double().mean(0) / k  # a constant: no gradient
    ref = 5 * (f * b.softmax(-1).mean(0)).sum()
    assert_close(ours, ref)
    ours.backward()
    ref.backward()
    assert_close(a.grad, b.grad)


@pytest.mark.parametrize("n", [2, 4, 8])
def test_balanced_gives_one_and_collapsed_gives_n(n):
    balanced = 4.0 * torch.eye(n, dtype=F64).repeat(3, 1)
    assert_close(load_balancing_loss(balanced), torch.tensor(1.0, dtype=F64))
    collapsed = torch.zeros(3 * n, n, dtype=F64)
    collapsed[:, 0] = 60.0
    assert_close(load_balancing_loss(collapsed), torch.tensor(float(n), dtype=F64))


@given(seed=seeds)
def test_a_step_on_the_aux_loss_lowers_the_overloaded_expert(seed):
    z = torch.randn(64, 4, generator=gen(seed), dtype=F64)
    z[:, 2] += 2.0
    z.requires_grad_()
    load_balancing_loss(z).backward()
    with torch.no_grad():
        assert (z - 1.0 * z.grad).softmax(-1).mean(0)[2] < z.softmax(-1).mean(0)[2]


def test_load_balancing_loss_rejects_one_dimensional_logits():
    rejects("logits", load_balancing_loss, torch.randn(4))


# --- moe_parameter_count -------------------------------------------------------------------------


class _RMSNorm(torch.nn.Module):
    def __init__(self, d):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(d))


def _decoder(c):
    """A Llama/Mixtral-shaped stack of torch.nn layers (shapes only, tiny sizes), for counting parameters."""
    d, f, E = c["hidden_size"], c["intermediate_size"], c.get("num_local_experts", 1)
    kv = c["num_key_value_heads"] * d // c["num_attention_heads"]

    def linear(i, o):
        return torch.nn.Linear(i, o, bias=False)

    def expert():
        return torch.nn.ModuleList([linear(d, f), linear(d, f), linear(f, d)])

    def block():
        parts = [linear(d, d), linear(d, kv), linear(d, kv), linear(d, d), _RMSNorm(d), _RMSNorm(d)]
        parts += [expert() for _ in range(E)] + ([linear(d, E)] if E > 1 else [])
        return torch.nn.ModuleList(parts)

    model = torch.nn.ModuleList(
        [torch.nn.Embedding(c["vocab_size"], d), *[block() for _ in range(c["num_hidden_layers"])]]
    )
    model.append(_RMSNorm(d))
    head = linear(d, c["vocab_size"])
    if c.get("tie_word_embeddings"):
        head.weight = model[0].weight
    model.append(head)
    return model


def _count(module):
    return sum(p.numel() for p in module.parameters())  # parameters() yields a tied weight once


TINY = [
    {"hidden_size": 8, "intermediate_size": 12, "num_hidden_layers": 2, "num_attention_heads": 4,
     "num_key_value_heads": 4, "vocab_size": 11},
    {"hidden_size": 8, "intermediate_size": 12, "num_hidden_layers": 3, "num_attention_heads": 4,
     "num_key_value_heads": 2, "vocab_size": 11, "tie_word_embeddings": True},
    {"hidden_size": 8, "intermediate_size": 6, "num_hidden_layers": 2, "num_attention_heads": 2,
     "num_key_value_heads": 1, "vocab_size": 7, "num_local_experts": 4, "num_experts_per_tok": 2},
]  # fmt: skip


@pytest.mark.parametrize("config", TINY)
def test_parameter_count_matches_torch_layers(config):
    total, active = moe_parameter_count(config)
    assert total == _count(_decoder(config))
    dense = {**config, "num_local_experts": 1}
    k = config.get("num_experts_per_tok", 1)
    E = config.get("num_local_experts", 1)
    # active = the shared layers (router included) + k experts per layer
    expert = 3 * config["hidden_size"] * config["intermediate_size"]
    assert active == total - config["num_hidden_layers"] * (E - k) * expert
    if E > 1:
        assert total == _count(_decoder(dense)) + config["num_hidden_layers"] * (
            (E - 1) * expert + config["hidden_size"] * E
        )


def test_mixtral_and_mistral_published_sizes():
    total, active = moe_parameter_count(MIXTRAL_8X7B)
    assert (round(total / 1e9, 1), round(active / 1e9, 1)) == (46.7, 12.9)  # the paper: 47B and 13B
    dense, dense_active = moe_parameter_count(MISTRAL_7B)
    assert dense == dense_active and round(dense / 1e9, 2) == 7.24
    assert total < 8 * dense and active < 2 * dense


def test_moe_parameter_count_rejects_bad_configs():
    rejects("config", moe_parameter_count, [4096])
    rejects("config", moe_parameter_count, {k: v for k, v in MISTRAL_7B.items() if k != "vocab_size"})
    rejects("config['hidden_size']", moe_parameter_count, {**MISTRAL_7B, "hidden_size": 0})
    rejects("config", moe_parameter_count, {**MISTRAL_7B, "num_attention_heads": 3})
    rejects("config", moe_parameter_count, {**MIXTRAL_8X7B, "num_experts_per_tok": 9})
