"""Training and serving at scale

How large models fit in memory and run fast, proven on toy sizes: number formats and mixed
precision, quantization, LoRA and fine-tuning memory, gradient checkpointing and accumulation, and
mixture-of-experts routing.
"""

#: The part's topics, in the order the site and the CLI show them.
TOPICS = ("precision", "quantization", "lora", "memory", "moe")
