"""
Does dropout behave differently in training and evaluation?
============================================================

Dropout zeroes random units while training and scales the survivors by :math:`1/(1-p)`; in
evaluation it does nothing. This page shows the masks it draws, checks that the scaling keeps every
unit's mean, and shows the gradient flowing back only through the kept units.

*To run this example yourself:* ``pip install "nnfaq[examples]"`` (PyTorch, matplotlib,
scikit-learn); it runs on a laptop CPU in a few seconds.
"""

# %%
# Masks drawn in training mode
# ----------------------------
# Each row is one forward pass of the same all-ones input through dropout with :math:`p = 0.5`.
# About half the entries are zeroed; the survivors become 2, not 1.
import matplotlib.pyplot as plt
import torch

from nnfaq.training.regularization import dropout

torch.manual_seed(0)
torch.set_num_threads(1)  # small tensors: more threads would only contend
x = torch.ones(8, 24)
y = dropout(x, p=0.5, training=True)

fig, ax = plt.subplots(figsize=(6.4, 2.6))
im = ax.imshow(y, cmap="Greys", vmin=0, vmax=2)
ax.set_xlabel("unit")
ax.set_ylabel("forward pass")
ax.set_title("dropout(ones, p=0.5): kept units are scaled to 2")
fig.colorbar(im, ax=ax, ticks=[0, 1, 2])
ax.grid(False)

# %%
# The mean of every unit is preserved
# -----------------------------------
# Averaged over many passes, the output equals the input for every drop probability: that is why
# no rescaling is needed at test time. Without the :math:`1/(1-p)` factor the mean would fall to
# :math:`1-p` (dashed line).
ps = torch.linspace(0.0, 0.9, 10)
means = [dropout(torch.ones(100_000), p=float(p)).mean().item() for p in ps]

fig, ax = plt.subplots()
ax.plot(ps, means, "o-", label="inverted dropout (ours, as PyTorch)")
ax.plot(ps, 1 - ps, "--", label="dropping without scaling")
ax.set_xlabel("drop probability p")
ax.set_ylabel("mean output for input 1")
ax.set_title("Scaling by 1/(1-p) keeps the expected activation")
ax.legend()

# %%
# Evaluation mode is the identity
# -------------------------------
# With ``training=False`` the same call returns its input unchanged.
print("eval output equals input:", torch.equal(dropout(x, p=0.5, training=False), x))

# %%
# The backward pass reuses the mask
# ---------------------------------
# The gradient reaching the input is the forward mask divided by :math:`1-p`: units that were
# dropped receive exactly zero gradient in that step.
xg = torch.ones(8, 24, requires_grad=True)
out = dropout(xg, p=0.5)
out.sum().backward()
print("gradient == mask / (1 - p):", torch.equal(xg.grad, (out != 0).float() / 0.5))

# %%
# Takeaway
# --------
# Dropout is a training-only regularizer: it samples a thinned network at every step and scales
# the kept units by :math:`1/(1-p)` so that evaluation, where it is the identity, sees the same
# expected activations. Its backward pass multiplies the gradient by the same mask and scale.
# See :func:`nnfaq.training.regularization.dropout`.
plt.show()
