"""
How does the online softmax normalise a row it only sees one block at a time?
==============================================================================

FlashAttention never holds a whole row of scores: it reads them tile by tile, keeping a running
maximum and a running sum of exponentials that it rescales whenever the maximum grows. This page
follows that state block by block on one row, checks the result against the softmax, and measures
the largest tensor each way of computing attention creates.

*To run this example yourself:* ``pip install "nnfaq[examples]"`` (PyTorch, matplotlib,
scikit-learn); it runs on a laptop CPU in a few seconds.
"""

# %%
# The running maximum
# -------------------
# A row of 32 scores read in 8 blocks of 4. After each block the running maximum (the step line) is
# the largest score seen so far; it only jumps when a block holds a new record.
from itertools import pairwise

import matplotlib.pyplot as plt
import torch

from nnfaq.transformers.flash_attention import largest_intermediate, online_softmax, tiled_attention

torch.manual_seed(0)
torch.set_num_threads(1)  # small tensors: more threads would only contend
x = 3 * torch.randn(32, dtype=torch.float64)
block = 4
ends = list(range(block, len(x) + 1, block))
states = [online_softmax(x[:end], block_size=block, return_stats=True) for end in ends]  # state after each block
m = torch.stack([s[1] for s in states])
l = torch.stack([s[2] for s in states])

fig, ax = plt.subplots()
ax.bar(range(len(x)), x, color=["C0" if (i // block) % 2 else "C9" for i in range(len(x))])
ax.step([0, *ends], [m[0].item(), *m.tolist()], where="pre", color="C3", lw=2, label="running maximum m")
ax.set_xlabel("score index (blocks of 4 alternate in colour)")
ax.set_ylabel("score")
ax.set_title("The running maximum after each block")
ax.legend()

# %%
# The running sum, rescaled
# -------------------------
# ``l`` is the sum of ``exp(x - m)`` over the scores seen so far, relative to the current maximum:
# when the maximum jumps, every old term is first multiplied by ``exp(m_old - m_new) < 1``. Expressed
# relative to the final maximum, ``l * exp(m - m_final)`` only grows, and after the last block it is
# the softmax denominator.
final = l * torch.exp(m - m[-1])
fig, ax = plt.subplots()
ax.plot(range(1, len(ends) + 1), l, "o-", label="l (relative to the running maximum)")
ax.plot(range(1, len(ends) + 1), final, "s--", label="l exp(m - m_final)")
ax.axhline(torch.exp(x - x.max()).sum().item(), color="k", ls=":", label="softmax denominator")
ax.set_xlabel("blocks read")
ax.set_ylabel("running sum")
ax.set_title("Rescaling keeps the sum exact")
ax.legend()
p = online_softmax(x, block_size=block)
print("online softmax equals torch.softmax:", torch.allclose(p, torch.softmax(x, 0)))
print("rescaled sum never decreases:", bool((final.diff() >= 0).all()))

# %%
# What is never materialised
# --------------------------
# The same idea over a grid of query and key tiles gives exact attention. The largest tensor standard
# attention creates is the ``T x S`` score matrix; the tiled computation's is its output, ``T x D``:
# quadratic against linear in the length.
lengths = [32, 64, 128, 256]
standard = lambda q, k, v: torch.softmax(q @ k.transpose(-2, -1) / 32**0.5, -1) @ v  # noqa: E731
sizes = {"standard": [], "tiled (block 32)": []}
for T in lengths:
    q, k, v = (torch.randn(1, 1, T, 32, dtype=torch.float64) for _ in range(3))
    sizes["standard"].append(largest_intermediate(standard, q, k, v))
    sizes["tiled (block 32)"].append(largest_intermediate(tiled_attention, q, k, v, block_size=32))
fig, ax = plt.subplots()
for label, s in sizes.items():
    ax.loglog(lengths, s, "o-", base=2, label=label)
ax.set_xlabel("sequence length T (= S), head size 32")
ax.set_ylabel("elements of the largest intermediate tensor")
ax.set_title("Tiling never builds the T x S matrix")
ax.legend()
growth = {label: [b / a for a, b in pairwise(s)] for label, s in sizes.items()}
print("standard grows 4x per doubling:", all(g == 4 for g in growth["standard"]))
print("tiled grows 2x per doubling:", all(g == 2 for g in growth["tiled (block 32)"]))
print("tiled equals standard attention:", torch.allclose(tiled_attention(q, k, v, 32), standard(q, k, v)))

# %%
# Takeaway
# --------
# The online softmax keeps a running maximum and a running sum, rescaling the sum by
# ``exp(m_old - m_new)`` when the maximum grows; the result is the softmax exactly. FlashAttention
# applies it to tiles of scores, so it computes exact attention without ever storing the score matrix.
# See :func:`nnfaq.transformers.flash_attention.online_softmax` and
# :func:`nnfaq.transformers.flash_attention.tiled_attention`.
plt.show()
