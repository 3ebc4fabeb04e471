"""
Why does rotary positional embedding (RoPE) encode relative position?
=====================================================================

RoPE rotates each pair of query and key features by an angle proportional to the position. This
page shows that the attention score of a rotated query and key depends only on how far apart they
are, and compares it with ALiBi, which adds the distance to the score directly.

*To run this example yourself:* ``pip install "nnfaq[examples]"`` (PyTorch, matplotlib,
scikit-learn); it runs on a laptop CPU in a few seconds.
"""

# %%
# The score depends only on the offset
# ------------------------------------
# One query vector and one key vector, placed at positions ``m`` and ``m - k``. For three very
# different absolute positions the score as a function of the offset ``k`` is the same curve.
import matplotlib.pyplot as plt
import torch

from nnfaq.sequences.positional_encoding import alibi_bias, rotary_embedding

torch.manual_seed(0)
torch.set_num_threads(1)  # small tensors: more threads would only contend
D = 64
q, k = torch.randn(D, dtype=torch.float64), torch.randn(D, dtype=torch.float64)
q = q + k  # a query that matches the key, so the score is large at offset 0
offsets = torch.arange(0, 64)


def scores(m):
    rq = rotary_embedding(q[None], torch.tensor([m]))[0]
    rk = rotary_embedding(k.expand(len(offsets), D), m - offsets)
    return rk @ rq


fig, ax = plt.subplots()
for m, style in ((64, "-"), (500, "--"), (10_000, ":")):
    ax.plot(offsets, scores(m), style, lw=2, label=f"query at position {m}")
ax.set_xlabel("offset between query and key")
ax.set_ylabel("score  $R_m q \\cdot R_{m-k} k$")
ax.set_title("RoPE: the score depends only on the offset")
ax.legend()
print("curves identical:", torch.allclose(scores(64), scores(10_000)))

# %%
# Norms are kept
# --------------
# A rotation does not change the length of a vector, so RoPE changes only angles between queries
# and keys, never their magnitude.
x = torch.randn(10, D, dtype=torch.float64)
print("norms kept:", torch.allclose(rotary_embedding(x).norm(dim=-1), x.norm(dim=-1)))

# %%
# ALiBi: relative position as a bias
# ----------------------------------
# ALiBi achieves a relative, parameter-free encoding differently: it adds :math:`-m_h (i - j)` to
# every score. Each head has its own slope, so some heads look far back and some only nearby.
b = alibi_bias(8, 16)
fig, axes = plt.subplots(1, 3, figsize=(9, 3.6), layout="constrained")
for ax, h in zip(axes, (0, 3, 7)):
    ax.imshow(torch.softmax(b[h], -1), cmap="viridis", vmin=0, vmax=1)
    ax.set_title(f"head {h}, slope {2 ** -(h + 1):g}")
    ax.set_xlabel("key")
    ax.set_ylabel("query")
    ax.grid(False)
fig.suptitle("softmax of the ALiBi bias alone (equal content scores)")

# %%
# Takeaway
# --------
# RoPE rotates queries and keys by angles proportional to their positions; since
# :math:`R_m^\top R_n = R_{n-m}`, the score depends on content and on the relative position only,
# with no parameters and no change of norm. See
# :func:`nnfaq.sequences.positional_encoding.rotary_embedding` and
# :func:`nnfaq.sequences.positional_encoding.alibi_bias`.

plt.show()
