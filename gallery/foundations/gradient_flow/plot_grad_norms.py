"""
What is the vanishing gradient problem, and how do you detect it?
=================================================================

Four 20-block networks of the same width get one backward pass at initialization, and
:func:`nnfaq.gradients.grad_norms` reads the gradient norm of every weight matrix. Vanishing
gradients show up as norms that fall by orders of magnitude from the output towards the input.
"""

# %%
# Per-layer gradient norms at initialization
# ------------------------------------------
# With the sigmoid, every layer multiplies the gradient by at most 0.25 (times the weights), so the
# first layers should get gradients many orders of magnitude smaller than the last. Tanh and ReLU,
# initialized with their gains, keep the norms within an order of magnitude; the residual
# network, whose branches start at zero, passes the gradient along its identity path unchanged.
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from nnfaq.gradients import grad_norms
from nnfaq.residual import deep_mlp

torch.manual_seed(0)
x = torch.randn(256, 32)
y = torch.randn(256, 1)
fig, ax = plt.subplots()
ratios = {}
for label, kwargs in [
    ("sigmoid", {"activation": "sigmoid"}),
    ("tanh", {"activation": "tanh"}),
    ("ReLU", {"activation": "relu"}),
    ("ReLU + residual", {"activation": "relu", "residual": True}),
]:
    net = deep_mlp(32, 32, 1, depth=20, **kwargs)
    F.mse_loss(net(x), y).backward()
    norms = list(grad_norms(net).values())
    ax.semilogy(range(len(norms)), norms, "o-", ms=3, label=label)
    ratios[label] = norms[0] / norms[-1]
ax.set_xlabel("layer (0 = input side)")
ax.set_ylabel("‖∂L/∂W‖ (log scale)")
ax.set_title("Gradient norm per layer, 20 hidden blocks, at initialization")
ax.legend()

# %%
# First layer over last layer
# ---------------------------
# The ratio is tiny for the sigmoid network and close to one for the others.
for label, r in ratios.items():
    print(f"{label:>16}: first / last = {r:.2e}")

# %%
# Takeaway
# --------
# Vanishing gradients are a product of per-layer factors below one; you detect them by logging each
# layer's gradient norm after ``backward()``. ReLU with He initialization, normalization and
# residual connections keep the factors near one. See :func:`nnfaq.gradients.grad_norms`.
