"""Contract rows of the transformers part (see tests/contract.py)."""

import torch
from contract import Case

from nnfaq.transformers.decoding import (
    beam_search,
    sampling_probs,
    speculative_decode,
    speculative_output_distribution,
    top_k_filter,
    top_p_filter,
)
from nnfaq.transformers.flash_attention import low_precision_softmax, online_softmax, tiled_attention
from nnfaq.transformers.grouped_query import attention_cost, latent_attention, repeat_kv, scaled_dot_product_attention
from nnfaq.transformers.kv_cache import decode_with_cache, kv_cache_bytes
from nnfaq.transformers.lm_evaluation import causal_lm_loss, perplexity
from nnfaq.transformers.long_context import (
    ntk_aware_frequencies,
    position_interpolation,
    rope_frequencies,
    unseen_angles,
    yarn_frequencies,
)
from nnfaq.transformers.transformer_block import gated_feed_forward, swiglu_hidden_size, transformer_parameters


def _qkv(*shape):
    return {name: torch.randn(*shape) for name in ("query", "key", "value")}


def _probs(*shape):
    return torch.softmax(torch.randn(*shape), -1)


CASES = [
    Case(
        kv_cache_bytes,
        {"layers": 2, "kv_heads": 2, "head_dim": 4, "seq_len": 3, "batch": 1, "dtype_bytes": 2},
        integer={"layers": 1, "kv_heads": 1, "head_dim": 1, "seq_len": 0, "batch": 1, "dtype_bytes": 1},
    ),
    Case(
        decode_with_cache,
        lambda: {**_qkv(1, 2, 4, 3), "chunk_size": 1, "return_cache": False},
        tensor=["query", "key", "value"],
        integer={"chunk_size": 1},
        flag=["return_cache"],
    ),
    Case(
        scaled_dot_product_attention,
        lambda: {
            "query": torch.randn(1, 4, 3, 2),
            "key": torch.randn(1, 2, 5, 2),
            "value": torch.randn(1, 2, 5, 2),
            "dropout_p": 0.0,
            "is_causal": False,
            "enable_gqa": True,
        },
        tensor=["query", "key", "value"],
        number={"dropout_p": "[0, 1]"},
        flag=["is_causal", "enable_gqa"],
    ),
    Case(
        repeat_kv,
        lambda: {"x": torch.randn(1, 2, 3, 4), "n_rep": 2, "order": "interleave"},
        tensor=["x"],
        integer={"n_rep": 1},
        choice=["order"],
    ),
    Case(
        latent_attention,
        lambda: {
            "x": torch.randn(1, 3, 6),
            "W_q": torch.randn(4, 6),
            "W_dkv": torch.randn(2, 6),
            "W_uk": torch.randn(4, 2),
            "W_uv": torch.randn(4, 2),
            "num_heads": 2,
            "absorb": False,
        },
        tensor=["x", "W_q", "W_dkv", "W_uk", "W_uv"],
        integer={"num_heads": 1},
        flag=["absorb"],
    ),
    Case(
        attention_cost,
        {"num_heads": 4, "num_kv_heads": 2, "head_dim": 8, "q_len": 1, "kv_len": 16, "batch": 1, "dtype_bytes": 2},
        integer={
            "num_heads": 1,
            "num_kv_heads": 1,
            "head_dim": 1,
            "q_len": 1,
            "kv_len": 1,
            "batch": 1,
            "dtype_bytes": 1,
        },
    ),
    Case(
        online_softmax,
        lambda: {"input": torch.randn(2, 5), "dim": -1, "block_size": 2, "return_stats": False},
        tensor=["input"],
        integer={"dim": None, "block_size": 1},
        flag=["return_stats"],
    ),
    Case(
        tiled_attention,
        lambda: {**_qkv(1, 2, 5, 3), "block_size": 2, "is_causal": False, "return_lse": False},
        tensor=["query", "key", "value"],
        integer={"block_size": 1},
        flag=["is_causal", "return_lse"],
    ),
    Case(
        low_precision_softmax,
        lambda: {"input": torch.randn(2, 5), "dim": -1, "subtract_max": True},
        tensor=["input"],
        integer={"dim": None},
        flag=["subtract_max"],
    ),
    Case(rope_frequencies, {"head_dim": 8, "base": 10000.0}, integer={"head_dim": 2}, number={"base": "(1, inf)"}),
    Case(
        unseen_angles,
        lambda: {"theta": rope_frequencies(8), "train_len": 16, "new_len": 32},
        tensor=["theta"],
        integer={"train_len": 1, "new_len": 1},
    ),
    Case(
        position_interpolation,
        lambda: {"theta": rope_frequencies(8), "factor": 2.0},
        tensor=["theta"],
        number={"factor": "[1, inf)"},
    ),
    Case(
        ntk_aware_frequencies,
        {"head_dim": 8, "base": 10000.0, "factor": 2.0},
        integer={"head_dim": 2},
        number={"base": "(1, inf)", "factor": "[1, inf)"},
    ),
    Case(
        yarn_frequencies,
        {
            "head_dim": 8,
            "base": 10000.0,
            "factor": 2.0,
            "original_max_position_embeddings": 64,
            "beta_fast": 32.0,
            "beta_slow": 1.0,
        },
        integer={"head_dim": 2, "original_max_position_embeddings": 1},
        number={"base": "(1, inf)", "factor": "[1, inf)", "beta_fast": "(0, inf)", "beta_slow": "(0, inf)"},
    ),
    Case(
        gated_feed_forward,
        lambda: {
            "input": torch.randn(2, 4),
            "w1": torch.randn(6, 4),
            "w2": torch.randn(4, 6),
            "w3": torch.randn(6, 4),
            "activation": "silu",
        },
        tensor=["input", "w1", "w2", "w3"],
        choice=["activation"],
    ),
    Case(swiglu_hidden_size, {"dim": 64, "multiple_of": 32}, integer={"dim": 1, "multiple_of": 1}),
    Case(
        transformer_parameters,
        {"vocab_size": 10, "dim": 8, "n_layers": 1, "n_heads": 2, "n_kv_heads": 1, "hidden_dim": 16, "tied": False},
        integer={"vocab_size": 1, "dim": 1, "n_layers": 0, "n_heads": 1, "n_kv_heads": 1, "hidden_dim": 1},
        flag=["tied"],
    ),
    Case(top_k_filter, lambda: {"logits": torch.randn(2, 5), "k": 2}, tensor=["logits"], integer={"k": 1}),
    Case(top_p_filter, lambda: {"logits": torch.randn(2, 5), "p": 0.9}, tensor=["logits"], number={"p": "(0, 1]"}),
    Case(
        sampling_probs,
        lambda: {"logits": torch.randn(2, 5), "temperature": 0.7},
        tensor=["logits"],
        number={"temperature": "[0, inf)"},
    ),
    Case(
        beam_search,
        {"log_prob_fn": lambda tokens: torch.zeros(3), "num_beams": 2, "max_new_tokens": 2},
        integer={"num_beams": 1, "max_new_tokens": 1},
    ),
    Case(
        speculative_output_distribution,
        lambda: {"target_probs": _probs(4), "draft_probs": _probs(4)},
        tensor=["target_probs", "draft_probs"],
    ),
    Case(
        speculative_decode,
        lambda: {"target_probs": _probs(3, 3, 4), "draft_probs": _probs(3, 2, 4)},
        tensor=["target_probs", "draft_probs"],
    ),
    Case(
        perplexity,
        lambda: {"logits": torch.randn(2, 3, 5), "target": torch.randint(0, 5, (2, 3)), "ignore_index": -100},
        tensor=["logits"],
        tensor_any=["target"],
        integer={"ignore_index": None},
    ),
    Case(
        causal_lm_loss,
        lambda: {"logits": torch.randn(2, 3, 5), "labels": torch.randint(0, 5, (2, 3)), "reduction": "mean"},
        tensor=["logits"],
        tensor_any=["labels"],
        integer={"ignore_index": None},
        choice=["reduction"],
    ),
]
