"""
Why are sigmoid and tanh rarely used in the hidden layers of deep networks?
===========================================================================

Each activation is drawn with its derivative, computed by
:func:`nnfaq.foundations.activations.activation`. The derivative is one of the two factors the
gradient is multiplied by when it flows back through a layer; the other is the layer's weight. So
the derivative's size and its flat regions matter, but they are not the whole story.

*To run this example yourself:* ``pip install "nnfaq[examples]"`` (PyTorch, matplotlib,
scikit-learn); it runs on a laptop CPU in a few seconds.
"""

# %%
# The activations
# ---------------
# Sigmoid squashes into (0, 1), tanh into (-1, 1); ReLU, leaky ReLU and GELU are unbounded for
# positive inputs.
import matplotlib.pyplot as plt
import torch

from nnfaq.foundations.activations import activation

torch.manual_seed(0)
torch.set_num_threads(1)  # small tensors: more threads would only contend
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
# We expect 0.25 for sigmoid and 1 for tanh and ReLU, and tanh to be saturated already at 3.
print("max sigmoid' is 0.25:", abs(activation(x, "sigmoid")[1].max().item() - 0.25) < 1e-12)
print("max tanh' is 1:", abs(activation(x, "tanh")[1].max().item() - 1) < 1e-12)
print("tanh'(3) < 0.01:", activation(torch.tensor(3.0), "tanh")[1].item() < 0.01)

# %%
# Stacking layers: the weights multiply in
# ----------------------------------------
# Through n layers :math:`h_i = f(w\,h_{i-1} + b)` the gradient is the product of the n factors
# :math:`f'(z_i)\,w`. With :math:`w = 1` the sigmoid's falls below :math:`0.25^n`. But "below
# :math:`0.25^n`" is not a law: with :math:`w = 6, b = -3` every layer sits at the sigmoid's steepest
# point and the gradient *grows* as :math:`1.5^n`. And ReLU is no guarantee either: with
# :math:`w = 0.5` its derivative is 1 everywhere and the gradient still halves at every layer.


def chain(f, w, b, n):
    h0 = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    h = h0
    for _ in range(n):
        h = f(w * h + b)
    return torch.autograd.grad(h, h0)[0].item()


ns = list(range(1, 16))
curves = {
    "sigmoid, w = 1": [chain(torch.sigmoid, 1.0, 0.0, n) for n in ns],
    "sigmoid, w = 6, b = -3": [chain(torch.sigmoid, 6.0, -3.0, n) for n in ns],
    "ReLU, w = 0.5": [chain(torch.relu, 0.5, 0.0, n) for n in ns],
}
fig, ax = plt.subplots()
for label, grads in curves.items():
    ax.semilogy(ns, grads, "o-", ms=3, label=label)
ax.semilogy(ns, [0.25**n for n in ns], "k--", label="0.25ⁿ")
ax.set_xlabel("number of stacked layers n")
ax.set_ylabel("dh_n / dh_0 (log scale)")
ax.set_title("Slope times weight, per layer")
ax.legend()
print("sigmoid, w = 1 stays below 0.25^n:", all(g < 0.25**n for g, n in zip(curves["sigmoid, w = 1"], ns)))
print("sigmoid, w = 6 grows as 1.5^n:", all(g == 1.5**n for g, n in zip(curves["sigmoid, w = 6, b = -3"], ns)))
print("ReLU, w = 0.5 shrinks as 0.5^n:", all(g == 0.5**n for g, n in zip(curves["ReLU, w = 0.5"], ns)))

# %%
# Takeaway
# --------
# Sigmoid and tanh saturate, and the sigmoid's derivative never exceeds 0.25, so each sigmoid layer
# multiplies the gradient by at most 0.25 times its weight's norm: unless the weights are large
# (which saturates the sigmoid), the gradient shrinks geometrically with depth. ReLU's derivative
# is 1 wherever the unit is active, so only the weights scale the gradient, which is why ReLU goes
# with He initialization. Tanh near zero is as steep as ReLU, which is why it survives inside LSTMs
# and GRUs. See :func:`nnfaq.foundations.activations.activation`.
plt.show()
