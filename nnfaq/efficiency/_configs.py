"""Published model configurations and the parameter count of a Llama-style decoder, shared by the efficiency topics.

The numbers are copied from the papers and model cards cited beside each one (field names as in the
Hugging Face ``config.json`` files); nothing is downloaded.
"""

from __future__ import annotations

#: Llama 2 7B: Touvron et al., "Llama 2: Open Foundation and Fine-Tuned Chat Models", arXiv:2307.09288
#: (2023), Table 1, and the model card's config.json (meta-llama/Llama-2-7b-hf).
LLAMA2_7B = {
    "hidden_size": 4096,
    "intermediate_size": 11008,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 32,
    "vocab_size": 32000,
    "tie_word_embeddings": False,
}

#: Mistral 7B: Jiang et al., "Mistral 7B", arXiv:2310.06825 (2023), Table 1.
MISTRAL_7B = {
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "vocab_size": 32000,
    "tie_word_embeddings": False,
}

#: Mixtral 8x7B: Jiang et al., "Mixtral of Experts", arXiv:2401.04088 (2024), Table 1
#: (dim 4096, n_layers 32, hidden_dim 14336, n_heads 32, n_kv_heads 8, vocab 32000, 8 experts, top 2).
MIXTRAL_8X7B = {
    **MISTRAL_7B,
    "num_local_experts": 8,
    "num_experts_per_tok": 2,
}

_KEYS = (
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "vocab_size",
)


def check_config(name: str, config) -> dict:
    """Check that ``config`` is a dict with the keys :func:`decoder_parameters` reads, each a positive int."""
    if not isinstance(config, dict):
        raise TypeError(f"{name} must be a dict such as MIXTRAL_8X7B, got {type(config).__name__}")
    for key in (*_KEYS, "num_local_experts", "num_experts_per_tok"):
        value = config.get(key, 1)
        if key in _KEYS and key not in config:
            raise ValueError(f"{name} must have the key {key!r}")
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}[{key!r}] must be a positive int, got {value!r}")
    if config["hidden_size"] % config["num_attention_heads"]:
        raise ValueError(f"{name}: hidden_size must be divisible by num_attention_heads")
    if config.get("num_experts_per_tok", 1) > config.get("num_local_experts", 1):
        raise ValueError(f"{name}: num_experts_per_tok must be at most num_local_experts")
    return config


def decoder_parameters(config: dict) -> tuple[int, int]:
    """(total, active per token) parameters of a Llama/Mistral/Mixtral-style decoder (no biases, RMSNorm, SwiGLU)."""
    d, f, L = config["hidden_size"], config["intermediate_size"], config["num_hidden_layers"]
    kv = config["num_key_value_heads"] * (d // config["num_attention_heads"])  # width of K and of V
    n_experts, k = config.get("num_local_experts", 1), config.get("num_experts_per_tok", 1)
    attention = d * d + 2 * d * kv + d * d  # W_q, W_k, W_v, W_o
    expert = 3 * d * f  # SwiGLU: gate, up and down projections
    router = d * n_experts if n_experts > 1 else 0
    norms = 2 * d  # two RMSNorm gains per block
    embeddings = config["vocab_size"] * d * (1 if config.get("tie_word_embeddings", False) else 2)
    shared = L * (attention + router + norms) + embeddings + d  # + the final norm
    return shared + L * n_experts * expert, shared + L * k * expert
