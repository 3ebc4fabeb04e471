"""
What happens when the learning rate is too high or too low?
===========================================================

Gradient descent on :math:`f(w) = w^2` multiplies :math:`w` by :math:`1 - 2\\eta` at every step.
This page runs it with four learning rates, then sweeps the learning rate to show the threshold
:math:`\\eta = 1` (in general :math:`2 / \\lambda_{\\max}`) beyond which training diverges.

*To run this example yourself:* ``pip install "nnfaq[examples]"`` (PyTorch, matplotlib,
scikit-learn); it runs on a laptop CPU in a few seconds.
"""

# %%
# Loss curves for four learning rates
# -----------------------------------
# Too low (0.02): the loss falls steadily but slowly. Right (0.3): fast. Too high but still
# stable (0.9): the weight overshoots and oscillates, and the loss still shrinks. Above 1 (1.05):
# every step overshoots further and the loss grows without bound.
import matplotlib.pyplot as plt
import torch

from nnfaq.training.optimizers import gradient_descent

torch.manual_seed(0)
torch.set_num_threads(1)  # small tensors: more threads would only contend
fig, ax = plt.subplots()
for lr, name in ((0.02, "too low"), (0.3, "good"), (0.9, "high: oscillates"), (1.05, "too high: diverges")):
    w = gradient_descent(1.0, lr, steps=40)
    ax.semilogy(w.pow(2), label=f"lr = {lr} ({name})")
ax.set_xlabel("step")
ax.set_ylabel("loss w² (log scale)")
ax.set_title("Gradient descent on w² from w = 1")
ax.legend()

# %%
# The weight itself
# -----------------
# With lr = 0.9 the sign of :math:`w` flips at every step (factor :math:`1 - 2 \cdot 0.9 = -0.8`);
# with 1.05 it flips and grows (factor -1.1).
fig, ax = plt.subplots()
for lr in (0.3, 0.9, 1.05):
    ax.plot(gradient_descent(1.0, lr, steps=20), "o-", ms=3, label=f"lr = {lr}")
ax.set_xlabel("step")
ax.set_ylabel("w")
ax.set_title("Overshooting: w flips sign when lr > 0.5")
ax.legend()

# %%
# Sweeping the learning rate
# --------------------------
# The loss after 30 steps, for learning rates from 0.001 to 1.5: it falls as the rate grows up to
# 0.5 (one step to the minimum), rises again, and explodes past 1. Losses below
# :math:`10^{-30}` are drawn at :math:`10^{-30}`.
lrs = torch.logspace(-3, torch.log10(torch.tensor(1.5)).item(), 300, dtype=torch.float64)
final = torch.stack([gradient_descent(1.0, lr.item(), steps=30)[-1].pow(2) for lr in lrs])
fig, ax = plt.subplots()
ax.loglog(lrs, final.clamp(min=1e-30))
ax.axvline(1.0, ls=":", color="gray", label="divergence threshold 2 / curvature = 1")
ax.set_xlabel("learning rate")
ax.set_ylabel("loss after 30 steps (log scale)")
ax.set_title("Too low is slow, too high diverges")
ax.legend()
diverging = gradient_descent(1.0, 1.1, 30).pow(2)
print("at lr = 1.1 the loss grows at every step:", bool((diverging.diff() > 0).all()))
print("at lr = 0.5 one step reaches the minimum:", gradient_descent(1.0, 0.5, 1)[-1].item() == 0.0)

# %%
# Takeaway
# --------
# A learning rate that is too low wastes steps; one that is too high overshoots, oscillates and,
# beyond :math:`2/\lambda_{\max}` (here 1), diverges. See
# :func:`nnfaq.training.optimizers.gradient_descent`.
plt.show()
