"""
Why are sigmoid and tanh rarely used in the hidden layers of deep networks?
===========================================================================

Each activation is drawn with its derivative, computed by
:func:`nnfaq.gradients.activation`. The derivative is the factor the gradient is multiplied by
when it flows back through the activation, so its size and its flat regions decide how well a deep
stack trains.
"""

# %%
# The activations
# ---------------
# Sigmoid squashes into (0, 1), tanh into (-1, 1); ReLU, leaky ReLU and GELU are unbounded for
# positive inputs.
import matplotlib.pyplot as plt
import torch

from nnfaq.gradients import activation

torch.manual_seed(0)
x = torch.linspace(-5, 5, 501, dtype=torch.float64)
names = ["sigmoid", "tanh", "relu", "leaky_relu", "gelu"]
fig, ax = plt.subplots()
for name in names:
    ax.plot(x, activation(x, name, negative_slope=0.1)[0], label=name)
ax.set_ylim(-1.5, 3)
ax.set_xlabel("pre-activation x")
ax.set_ylabel("f(x)")
ax.set_title("Activation functions")
ax.legend()

# %%
# Their derivatives
# -----------------
# The sigmoid's derivative peaks at 0.25, tanh's at 1, both at x = 0, and both fall to almost 0
# for large :math:`|x|` (saturation). ReLU's is exactly 1 for every positive input and 0 otherwise.
fig, ax = plt.subplots()
for name in names:
    ax.plot(x, activation(x, name, negative_slope=0.1)[1], label=name)
ax.axhline(0.25, color="gray", ls=":", lw=1)
ax.set_xlabel("pre-activation x")
ax.set_ylabel("f'(x)")
ax.set_title("Derivatives: sigmoid' ≤ 0.25, tanh' ≤ 1, ReLU' ∈ {0, 1}")
ax.legend()

# %%
# The largest derivatives
# -----------------------
# We expect 0.25 for sigmoid and 1.0 for tanh.
for name in ("sigmoid", "tanh", "relu"):
    print(f"max {name}' = {activation(x, name)[1].max().item():.4f}")

# %%
# Stacking sigmoids
# -----------------
# Through n stacked sigmoids the gradient is a product of n derivatives, each at most 0.25: it
# falls below :math:`0.25^n`, geometrically with depth.
ns = range(1, 16)
grads = []
for n in ns:
    z = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    h = z
    for _ in range(n):
        h = torch.sigmoid(h)
    grads.append(torch.autograd.grad(h, z)[0].item())
fig, ax = plt.subplots()
ax.semilogy(list(ns), grads, "o-", label="d(sigmoid∘…∘sigmoid)/dz at z = 0")
ax.semilogy(list(ns), [0.25**n for n in ns], "--", label="0.25ⁿ")
ax.set_xlabel("number of stacked sigmoids n")
ax.set_ylabel("gradient (log scale)")
ax.set_title("The gradient through n sigmoids is below 0.25ⁿ")
ax.legend()

# %%
# Takeaway
# --------
# Sigmoid and tanh saturate, and the sigmoid's derivative never exceeds 0.25, so gradients shrink
# geometrically through a deep stack of them; ReLU passes the gradient unchanged wherever it is
# active. Tanh near zero is as good as ReLU, which is why it survives inside LSTMs and GRUs.
# See :func:`nnfaq.gradients.activation`.
