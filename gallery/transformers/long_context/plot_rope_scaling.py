"""
What do position interpolation, NTK-aware scaling and YaRN do to RoPE's frequencies?
=====================================================================================

Llama 2's RoPE (head size 128, base 10000) was trained on 4096 tokens. To run it at 16384, each
method divides each pair's frequency by some factor between 1 and 4. This page plots that factor
per pair and counts the pairs that still rotate beyond the arc they covered in training.

*To run this example yourself:* ``pip install "nnfaq[examples]"`` (PyTorch, matplotlib,
scikit-learn); it runs on a laptop CPU in a few seconds.
"""

# %%
# The turns each pair makes in training
# -------------------------------------
# Pair 0 turns 652 times within 4096 tokens; the last 18 pairs never complete one turn, so beyond
# 4096 tokens they reach angles the model never saw.
import math

import matplotlib.pyplot as plt

from nnfaq.transformers._models import LLAMA2_7B
from nnfaq.transformers.long_context import (
    ntk_aware_frequencies,
    position_interpolation,
    rope_frequencies,
    unseen_angles,
    yarn_frequencies,
)

m, s = LLAMA2_7B, 4.0
L = m.max_seq_len
theta = rope_frequencies(m.head_dim, m.rope_base)
turns = theta * L / (2 * math.pi)
fig, ax = plt.subplots()
ax.semilogy(turns, "o", ms=3)
ax.axhline(1, color="C3", ls="--", label="one full turn")
ax.axhline(32, color="C2", ls=":", label="32 turns (YaRN's beta)")
ax.set_xlabel("feature pair i")
ax.set_ylabel("turns within the trained 4096 tokens")
ax.set_title("Slow pairs never complete a turn in training")
ax.legend()
print("pairs that never complete a turn:", int((turns < 1).sum()))

# %%
# The factor each method divides by
# ---------------------------------
# Position interpolation divides every pair by 4, also the fast ones that carry local order.
# NTK-aware scaling leaves pair 0 alone and reaches 4 only at the last pair. YaRN leaves pairs with
# more than 32 turns alone and divides every pair with less than one turn by exactly 4.
methods = {
    "position interpolation": position_interpolation(theta, s),
    "NTK-aware": ntk_aware_frequencies(m.head_dim, m.rope_base, s),
    "YaRN": yarn_frequencies(m.head_dim, m.rope_base, s, L)[0],
}
fig, ax = plt.subplots()
for name, scaled in methods.items():
    ax.plot(theta / scaled, label=name)
ax.set_xlabel("feature pair i (fast to slow)")
ax.set_ylabel("frequency divided by")
ax.set_title(f"Stretching RoPE from {L} to {int(s * L)} tokens")
ax.legend()

# %%
# Which pairs still leave their trained arc
# -----------------------------------------
# At 16384 tokens plain RoPE sends all 18 slow pairs beyond their arc; NTK-aware scaling still sends
# 17; position interpolation and YaRN none, but only YaRN keeps the fast pairs unchanged.
print("plain RoPE:", int(unseen_angles(theta, L, int(s * L)).sum()), "pairs beyond their trained arc")
for name, scaled in methods.items():
    beyond = int(unseen_angles(theta, L, int(s * L), scaled).sum())
    print(f"{name}: {beyond} pairs beyond their arc; fastest pair divided by {theta[0].item() / scaled[0].item():g}")

# %%
# Takeaway
# --------
# RoPE fails beyond its trained length because its slowest pairs never complete a turn in training.
# Position interpolation fixes them and blurs the fast ones; NTK-aware scaling keeps the fast ones but
# under-stretches the middle; YaRN keeps what has turned often and interpolates what has not. See
# :func:`nnfaq.transformers.long_context.unseen_angles` and
# :func:`nnfaq.transformers.long_context.yarn_frequencies`.
plt.show()
