"""
Why does the scale of the initial weights matter in a deep network?
===================================================================

A batch goes through 50 bias-free layers with ReLU, each initialized a different way, and
:func:`nnfaq.foundations.initialization.activation_std` records the standard deviation of the
activations after every layer. Each layer multiplies the variance by the same factor, so any factor
other than one compounds over depth.

*To run this example yourself:* ``pip install "nnfaq[examples]"`` (PyTorch, matplotlib,
scikit-learn); it runs on a laptop CPU in a few seconds.
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

from nnfaq.foundations.initialization import activation_std

torch.manual_seed(0)
torch.set_num_threads(1)  # small tensors: more threads would only contend
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
# The factor per layer
# --------------------
# The geometric mean of the ratio between consecutive layers should be one for He,
# :math:`\sqrt{1/2} \approx 0.71` for Xavier, :math:`\sqrt{1/6} \approx 0.41` for PyTorch's default,
# :math:`\sqrt{256 \cdot 0.01^2 / 2} \approx 0.11` and :math:`\sqrt{256 \cdot 0.2^2 / 2} \approx 2.26` for the
# fixed ones. The random drift of a finite width moves each by a few percent.
predicted = [1.0, math.sqrt(1 / 2), math.sqrt(1 / 6), math.sqrt(256 * 0.01**2 / 2), math.sqrt(256 * 0.2**2 / 2)]
for (label, s), factor in zip(results.items(), predicted):
    per_layer = (s[-1] / s[0]).item() ** (1 / 49)
    print(f"{label:>24}: per-layer factor within 5% of {factor:.2f}: {abs(per_layer / factor - 1) < 0.05}")

# %%
# Takeaway
# --------
# The weight variance sets a per-layer gain that is raised to the power of the depth; He
# initialization (variance :math:`2/\text{fan\_in}`) makes it one for ReLU, Xavier
# (:math:`2/(\text{fan\_in} + \text{fan\_out})`) for tanh-like activations, and PyTorch's default
# (:math:`1/(3\,\text{fan\_in})`) shrinks a deep ReLU stack by :math:`\sqrt{1/6}` per layer. Too
# small and the signal (and the gradient) vanishes, too large and it explodes. See
# :func:`nnfaq.foundations.initialization.activation_std` and
# :func:`nnfaq.foundations.initialization.kaiming_uniform_`.
plt.show()
