"""
What is deep residual learning, and what problem did it solve?
==============================================================

The degradation problem, reproduced in a few seconds: three networks of width 16 with batch
normalization learn the same small regression task, a 3-block plain network, a 30-block plain
network and a 30-block residual network (:func:`nnfaq.residual.deep_mlp`, trained by
:func:`nnfaq.residual.fit`). We look at the *training* loss, so overfitting cannot explain any gap.
"""

# %%
# Training loss of plain and residual networks
# --------------------------------------------
# The deep plain network can represent everything the shallow one can (its extra blocks could be
# the identity), yet we expect it to train worse: that is degradation. The residual network of the
# same depth starts as the identity around each block and should train like the shallow one.
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from nnfaq.residual import deep_mlp, fit

torch.manual_seed(0)
x = torch.rand(64, 2) * 2 - 1
y = torch.sin(3 * x[:, :1]) * torch.cos(3 * x[:, 1:])
configs = {"plain, 3 blocks": (3, False), "plain, 30 blocks": (30, False), "residual, 30 blocks": (30, True)}
nets, curves = {}, {}
for label, (depth, residual) in configs.items():
    torch.manual_seed(0)
    nets[label] = deep_mlp(2, 16, 1, depth=depth, residual=residual, batch_norm=True)
    curves[label] = fit(nets[label], x, y, steps=100)
fig, ax = plt.subplots()
for label, losses in curves.items():
    ax.semilogy(losses, label=label)
ax.axhline(y.var(unbiased=False).item(), color="gray", ls=":", lw=1, label="predicting the mean")
ax.set_xlabel("Adam step")
ax.set_ylabel("training MSE (log scale)")
ax.set_title("Degradation: the deeper plain network trains worse")
ax.legend()

# %%
# Final training losses
# ---------------------
# The 30-block plain network should end an order of magnitude or more above the other two. (The
# exact losses depend on the CPU's rounding; the order does not.)
final = {label: losses[-1] for label, losses in curves.items()}
plain_deep = final["plain, 30 blocks"]
print(f"plain 30 blocks ends 10x above plain 3 blocks: {plain_deep > 10 * final['plain, 3 blocks']}")
print(f"plain 30 blocks ends 10x above residual 30 blocks: {plain_deep > 10 * final['residual, 30 blocks']}")

# %%
# It is not vanishing gradients
# -----------------------------
# A fresh 30-block plain network gets one backward pass. With batch normalization the gradient
# does not vanish towards the input: the first layers receive gradients as large as, or larger
# than, the last ones. Whatever stops it from training, it is not a vanishing gradient.
torch.manual_seed(0)
plain = deep_mlp(2, 16, 1, depth=30, batch_norm=True)
F.mse_loss(plain(x), y).backward()
linears = [m for m in plain.modules() if isinstance(m, torch.nn.Linear)]
norms = [m.weight.grad.norm().item() for m in linears]
fig, ax = plt.subplots()
ax.semilogy(norms, "o-", ms=3)
ax.set_xlabel("linear layer (0 = input side)")
ax.set_ylabel("‖∂L/∂W‖ (log scale)")
ax.set_title("30-block plain network with batch norm, at initialization")
print(f"first layer's gradient norm is larger than the last layer's: {norms[0] > norms[-1]}")

# %%
# Takeaway
# --------
# He et al. introduced residual learning for the degradation problem: deeper plain networks had a
# higher training error even though batch normalization kept their gradients from vanishing. A
# residual block learns :math:`F(x) = H(x) - x` and adds :math:`x` back, so the identity is the
# default and extra depth no longer hurts; the shortcut also carries the gradient unchanged. See
# :func:`nnfaq.residual.residual_block`.
