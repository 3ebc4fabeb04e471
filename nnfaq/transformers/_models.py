"""Published configurations of real models and accelerators, written once for every topic of this part.

Each number is copied from the source named in the comment above it (paper or model card); the topic
modules compute cache sizes, parameter counts and frequencies from these numbers, never from
downloads or weights.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelConfig:
    """The architecture numbers of a published decoder-only transformer."""

    name: str
    n_layers: int
    dim: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    hidden_dim: int  # feed-forward hidden size (0 where the topics do not use it)
    vocab_size: int
    max_seq_len: int  # context length the model was trained with
    rope_base: float = 10000.0
    multiple_of: int = 256  # Llama's rounding of the SwiGLU hidden size
    ffn_dim_multiplier: float | None = None
    tied: bool = False  # output layer shares the embedding matrix
    published_params: float = 0.0  # the parameter count as the source states it
    kv_lora_rank: int = 0  # MLA: latent size d_c cached per token
    rope_head_dim: int = 0  # MLA: decoupled RoPE key size d_h^R cached per token


# Llama 2 7B. Layers, width and heads: H. Touvron et al., "LLaMA: Open and Efficient Foundation Language
# Models", 2023, Table 2 (6.7B, dimension 4096, 32 heads, 32 layers), kept by "Llama 2: Open Foundation and
# Fine-Tuned Chat Models", 2023, section 2.2 and Table 1 (4k context, GQA only for 34B/70B, vocabulary 32k).
# Hidden size 11008 and multiple_of=256: the released reference code (meta-llama/llama, model.py, params.json).
LLAMA2_7B = ModelConfig(
    name="Llama 2 7B",
    n_layers=32,
    dim=4096,
    n_heads=32,
    n_kv_heads=32,
    head_dim=128,
    hidden_dim=11008,
    vocab_size=32000,
    max_seq_len=4096,
    rope_base=10000.0,
    multiple_of=256,
    published_params=6.7e9,
)

# Llama 3 8B. A. Dubey et al., "The Llama 3 Herd of Models", 2024, Table 3 (32 layers, dimension 4096, FFN
# 14336, 32 heads, 8 key/value heads, RoPE base 500000, 8B); vocabulary 128256, context 8192, multiple_of=1024
# and ffn_dim_multiplier=1.3: the Meta-Llama-3-8B model card and params.json.
LLAMA3_8B = ModelConfig(
    name="Llama 3 8B",
    n_layers=32,
    dim=4096,
    n_heads=32,
    n_kv_heads=8,
    head_dim=128,
    hidden_dim=14336,
    vocab_size=128256,
    max_seq_len=8192,
    rope_base=500000.0,
    multiple_of=1024,
    ffn_dim_multiplier=1.3,
    published_params=8.0e9,
)

# Llama 3.2 1B, an embedding-tied model: the Llama-3.2-1B model card and config.json (16 layers, hidden size
# 2048, 32 heads, 8 key/value heads, head_dim 64, intermediate size 8192, vocabulary 128256,
# tie_word_embeddings=true; the card lists 1.23B parameters).
LLAMA32_1B = ModelConfig(
    name="Llama 3.2 1B",
    n_layers=16,
    dim=2048,
    n_heads=32,
    n_kv_heads=8,
    head_dim=64,
    hidden_dim=8192,
    vocab_size=128256,
    max_seq_len=131072,
    rope_base=500000.0,
    tied=True,
    published_params=1.23e9,
)

# Falcon-7B, multi-query attention: the tiiuae/falcon-7b model card, "Model Architecture and Objective"
# (32 layers, d_model 4544, head_dim 64, vocabulary 65024, sequence length 2048) and config.json
# (71 heads, multi_query=true: one key/value head).
FALCON_7B = ModelConfig(
    name="Falcon-7B",
    n_layers=32,
    dim=4544,
    n_heads=71,
    n_kv_heads=1,
    head_dim=64,
    hidden_dim=0,
    vocab_size=65024,
    max_seq_len=2048,
)

# DeepSeek-V2, multi-head latent attention: DeepSeek-AI, "DeepSeek-V2: A Strong, Economical, and Efficient
# Mixture-of-Experts Language Model", 2024, section 3.1.2 (60 layers, hidden 5120, 128 heads of 128,
# KV compression dimension d_c = 512, decoupled RoPE head dimension d_h^R = 64) and Table 1 (MLA caches
# (d_c + d_h^R) l, about 9/2 d_h l, elements per token).
DEEPSEEK_V2 = ModelConfig(
    name="DeepSeek-V2",
    n_layers=60,
    dim=5120,
    n_heads=128,
    n_kv_heads=128,
    head_dim=128,
    hidden_dim=0,
    vocab_size=102400,
    max_seq_len=128 * 1024,
    kv_lora_rank=512,
    rope_head_dim=64,
)


@dataclass(frozen=True)
class Accelerator:
    """Peak dense throughput (FLOP/s) and memory bandwidth (byte/s) of an accelerator."""

    name: str
    peak_flops: float
    bandwidth: float

    @property
    def ridge(self) -> float:
        """Arithmetic intensity (FLOP per byte) above which a kernel is compute bound (the roofline's ridge)."""
        return self.peak_flops / self.bandwidth


# NVIDIA A100 Tensor Core GPU datasheet: A100 80GB SXM, 312 TFLOPS BF16/FP16 dense tensor throughput,
# 2,039 GB/s HBM2e bandwidth.
A100 = Accelerator(name="NVIDIA A100 80GB SXM", peak_flops=312e12, bandwidth=2.039e12)
