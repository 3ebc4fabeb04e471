"""
What is the difference between global and local attention?
===========================================================

Global attention lets every query see every key; local attention only keys within ``w`` positions.
This page shows the two patterns of attention weights, checks that a wide enough window is global
attention again, and counts how the number of scores grows with the sequence length.

*To run this example yourself:* ``pip install "nnfaq[examples]"`` (PyTorch, matplotlib,
scikit-learn); it runs on a laptop CPU in a few seconds.
"""

# %%
# Which keys each query sees
# --------------------------
# Black marks a non-zero weight, for one sequence of 24 tokens. Globally every entry is black; with
# ``window=3`` only a band of width :math:`2w+1 = 7` around the diagonal is.
import matplotlib.pyplot as plt
import torch

from nnfaq.sequences.attention_variants import local_attention

torch.manual_seed(0)
torch.set_num_threads(1)  # small tensors: more threads would only contend
x = torch.randn(24, 16)
_, A_global = local_attention(x, x, x)
_, A_local = local_attention(x, x, x, window=3)

fig, axes = plt.subplots(1, 2, figsize=(8, 4.2), layout="constrained")
for ax, A, title in ((axes[0], A_global, "global"), (axes[1], A_local, "local, window=3")):
    ax.imshow((A > 0).float(), cmap="Greys", vmin=0, vmax=1)
    ax.set_xlabel("key position")
    ax.set_ylabel("query position")
    ax.set_title(f"{title}: {int((A > 0).sum())} scores")
    ax.grid(False)
fig.suptitle("Non-zero attention weights")

# %%
# A window that covers the sequence is global attention
# -----------------------------------------------------
# With ``window = T - 1`` nothing is masked, so the outputs are identical.
same = torch.allclose(local_attention(x, x, x, window=23)[0], local_attention(x, x, x)[0])
print("window = T - 1 equals global attention:", same)

# %%
# Cost as T grows
# ---------------
# The number of query-key scores, counted as the non-zero weights each call returns up to
# :math:`T = 2048`: we expect :math:`T^2` for global attention and :math:`T(2w+1) - w(w+1)` for local
# attention with :math:`w = 64`. On a log-log plot the first has slope 2 (quadratic), the second slope 1
# (linear); beyond 2048 tokens the dashed lines continue the formulas.
w = 64
Ts = [2**k for k in range(4, 12)]
glob, loc = [], []
for T in Ts:
    x = torch.randn(T, 16) / 4
    glob.append(int((local_attention(x, x, x)[1] > 0).sum()))
    loc.append(int((local_attention(x, x, x, window=w)[1] > 0).sum()))
print(
    "measured counts are T^2 and T(2w+1) - w(w+1):",
    glob == [T * T for T in Ts]
    and loc == [T * (2 * min(w, T - 1) + 1) - min(w, T - 1) * (min(w, T - 1) + 1) for T in Ts],
)
longer = [2**k for k in range(11, 15)]

fig, ax = plt.subplots()
ax.loglog(Ts, glob, "o-", label="global, measured: $T^2$")
ax.loglog(Ts, loc, "s-", label="local, $w = 64$, measured: about $T(2w+1)$")
ax.loglog(longer, [T * T for T in longer], "C0--")
ax.loglog(longer, [T * (2 * w + 1) - w * (w + 1) for T in longer], "C1--")
ax.set_xlabel("sequence length T")
ax.set_ylabel("query-key scores per layer and head")
ax.set_title("Global attention is quadratic, local attention linear")
ax.legend()

# %%
# At 16k tokens
# -------------
# The ratio of the two counts at :math:`T = 16384`, from the formulas the measurements confirmed:
T = 16384
print(f"global / local scores at T=16384: {T * T // (T * (2 * w + 1) - w * (w + 1))}x")

# %%
# Takeaway
# --------
# Global attention computes :math:`T^2` scores, so its time and memory grow quadratically; local
# attention restricts each query to :math:`2w+1` neighbours, linear in :math:`T`, at the price of not
# seeing anything beyond the window in one layer (stacked layers widen the view). See
# :func:`nnfaq.sequences.attention_variants.local_attention` and
# :func:`nnfaq.sequences.attention_variants.attention_mechanisms`.

plt.show()
