"""
Why does the scale of the initial weights matter in a deep network?
===================================================================

A batch goes through 50 bias-free layers with ReLU, each initialized a different way, and
:func:`nnfaq.initialization.activation_std` records the standard deviation of the activations
after every layer. Each layer multiplies the variance by the same factor, so any factor other than
one compounds over depth.
"""

# %%
# Activation standard deviation through 50 ReLU layers
# ----------------------------------------------------
# He initialization makes the per-layer factor one: the curve stays flat. Xavier's variance is half
# of what ReLU needs, PyTorch's ``nn.Linear`` default a sixth, and a fixed small std (0.01) far too
# little: those curves fall as straight lines on the log scale. A fixed std of 0.2 is too much, and
# the activations explode.
import math

import matplotlib.pyplot as plt
import torch

from nnfaq.initialization import activation_std

torch.manual_seed(0)
x = torch.randn(128, 256, dtype=torch.float64)
results = {}
fig, ax = plt.subplots()
for label, init in [
    ("He (kaiming_normal_)", "kaiming"),
    ("Xavier (xavier_normal_)", "xavier"),
    ("nn.Linear default", "default"),
    ("N(0, 0.01²)", 0.01),
    ("N(0, 0.2²)", 0.2),
]:
    results[label] = activation_std(x, depth=50, init=init)
    ax.semilogy(range(1, 51), results[label], label=label)
ax.set_xlabel("layer")
ax.set_ylabel("std of activations (log scale)")
ax.set_title("50 ReLU layers of width 256: only He keeps the scale")
ax.legend()

# %%
# The last layer
# --------------
# He stays near its first layer's value; Xavier is about :math:`\sqrt{1/2}^{49} \approx 4\cdot
# 10^{-8}` times smaller.
for label, s in results.items():
    print(f"{label:>24}: std after layer 50 = {s[-1].item():.3g}")
print(f"sqrt(1/2)^49 = {math.sqrt(0.5) ** 49:.3g}")

# %%
# Takeaway
# --------
# The weight variance sets a per-layer gain that is raised to the power of the depth; He
# initialization (variance :math:`2/\text{fan\_in}`) makes it one for ReLU, Xavier
# (:math:`2/(\text{fan\_in} + \text{fan\_out})`) for tanh-like activations. Too small and the
# signal (and the gradient) vanishes, too large and it explodes. See
# :func:`nnfaq.initialization.activation_std` and :func:`nnfaq.initialization.kaiming_uniform_`.
