"""Inside a modern transformer

What happens at inference time and at long context: the KV cache, multi-query and grouped-query
attention, FlashAttention's exact tiling, stretching RoPE past its trained length, the modern block,
decoding strategies and how language models are evaluated.
"""

#: The part's topics, in the order the site and the CLI show them.
TOPICS = (
    "kv_cache",
    "grouped_query",
    "flash_attention",
    "long_context",
    "transformer_block",
    "decoding",
    "lm_evaluation",
)
