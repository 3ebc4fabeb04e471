"""
How much memory does the KV cache take, and what do grouped-query and multi-query attention save?
==================================================================================================

The cache holds one key and one value vector per layer, key/value head and token. This page plots
its size against the context length for a Llama 2 7B-shaped model (32 layers, heads of 128) with
multi-head attention (32 key/value heads), grouped-query attention (8, as Llama 3 8B) and
multi-query attention (1), next to the model's fp16 weights.

*To run this example yourself:* ``pip install "nnfaq[examples]"`` (PyTorch, matplotlib,
scikit-learn); it runs on a laptop CPU in a few seconds.
"""

# %%
# Linear in the context, one line per attention type
# --------------------------------------------------
# Every line is straight: each token adds the same number of bytes. Grouped-query attention is 4
# times below multi-head attention, multi-query 32 times. The dashed line is the 6.7 billion fp16
# weights of Llama 2 7B: a single long sequence with multi-head attention crosses it.
import matplotlib.pyplot as plt

from nnfaq.transformers._models import LLAMA2_7B
from nnfaq.transformers.kv_cache import kv_cache_bytes

m = LLAMA2_7B
contexts = [1024 * 2**i for i in range(8)]  # 1K to 128K tokens
kinds = {"MHA (32 KV heads)": 32, "GQA (8 KV heads)": 8, "MQA (1 KV head)": 1}
GiB = 2**30

fig, ax = plt.subplots()
for label, kv_heads in kinds.items():
    sizes = [kv_cache_bytes(m.n_layers, kv_heads, m.head_dim, T) / GiB for T in contexts]
    ax.loglog(contexts, sizes, "o-", base=2, label=label)
ax.axhline(2 * m.published_params / GiB, color="k", ls="--", label="fp16 weights (6.7B)")
ax.set_xlabel("context length (tokens)")
ax.set_ylabel("KV cache of one sequence, fp16 (GiB)")
ax.set_title("KV cache size: 32 layers, head size 128")
ax.legend()

# %%
# Where the cache outgrows the weights
# ------------------------------------
# The context length at which one sequence's cache equals the weights, for each attention type.
weights = 2 * m.published_params
for label, kv_heads in kinds.items():
    per_token = kv_cache_bytes(m.n_layers, kv_heads, m.head_dim, 1)
    tokens = weights / per_token
    print(f"{label:18s}: {per_token // 1024:4d} KiB per token; the cache passes the weights at {tokens:,.0f} tokens")

# %%
# Batch multiplies it
# -------------------
# Serving decodes many sequences at once, each with its own cache. At 4096 tokens the multi-head
# cache passes the weights at a batch of 7; grouped-query attention fits about four times as many.
batches = range(1, 33)
fig, ax = plt.subplots()
for label, kv_heads in kinds.items():
    sizes = [kv_cache_bytes(m.n_layers, kv_heads, m.head_dim, 4096, batch=b) / GiB for b in batches]
    ax.plot(batches, sizes, label=label)
ax.axhline(weights / GiB, color="k", ls="--", label="fp16 weights")
ax.set_xlabel("batch (sequences of 4096 tokens)")
ax.set_ylabel("KV cache, fp16 (GiB)")
ax.set_title("The cache grows with the batch; the weights do not")
ax.legend()
first = {
    label: next(b for b in batches if kv_cache_bytes(m.n_layers, kv, m.head_dim, 4096, batch=b) > weights)
    for label, kv in kinds.items()
    if kv > 1
}
print("smallest batch whose cache exceeds the weights:", first)

# %%
# Takeaway
# --------
# The KV cache is ``2 * layers * kv_heads * head_dim * tokens * batch * bytes``: linear in the context
# and the batch, and for long contexts or large batches bigger than the model. Grouped-query and
# multi-query attention shrink it by the number of query heads per key/value head. See
# :func:`nnfaq.transformers.kv_cache.kv_cache_bytes` and
# :func:`nnfaq.transformers.grouped_query.scaled_dot_product_attention`.
plt.show()
