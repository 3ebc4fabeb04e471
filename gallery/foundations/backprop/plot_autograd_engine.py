"""
What is backpropagation?
========================

Backpropagation is the chain rule run backwards through the computation graph. This page trains
the same tiny network twice, once with the 100-line scalar engine :class:`nnfaq.foundations.backprop.Value`
and once with PyTorch's autograd, and shows that they compute the same gradients, while the
weights change only in the separate update step.

*To run this example yourself:* ``pip install "nnfaq[examples]"`` (PyTorch, matplotlib,
scikit-learn); it runs on a laptop CPU in a few seconds.
"""

# %%
# One neuron, by hand and by PyTorch
# ----------------------------------
# :math:`y = \tanh(w x + b)`: the engine's gradients should match PyTorch's to rounding error.
import matplotlib.pyplot as plt
import torch

from nnfaq.foundations.backprop import Value

torch.manual_seed(0)
torch.set_num_threads(1)  # small tensors: more threads would only contend
w, b, x = Value(-0.7), Value(0.2), Value(1.5)
y = (w * x + b).tanh()
y.backward()
wt, bt = (
    torch.tensor(-0.7, dtype=torch.float64, requires_grad=True),
    torch.tensor(0.2, dtype=torch.float64, requires_grad=True),
)
(wt * 1.5 + bt).tanh().backward()
print("dy/dw agrees to 1e-12:", abs(w.grad - wt.grad.item()) < 1e-12)
print("dy/db agrees to 1e-12:", abs(b.grad - bt.grad.item()) < 1e-12)

# %%
# Training a 1-3-1 network with both engines
# ------------------------------------------
# Each step: forward, ``backward()`` (fills the gradients, changes no weight), then the update
# :math:`w \leftarrow w - \eta\,\partial L/\partial w` written by hand: that is the optimizer's
# job, not backpropagation's. The two loss curves should lie on top of each other.
xs = torch.linspace(-2, 2, 12, dtype=torch.float64)
ys = torch.sin(xs)
init = [0.3 * v for v in torch.randn(10, dtype=torch.float64).tolist()]  # w1 (3), b1 (3), w2 (3), b2 (1)


def model(p, x):
    hidden = [(p[i] * x + p[3 + i]).tanh() for i in range(3)]
    return sum((p[6 + i] * hidden[i] for i in range(3)), p[9])


ours = [Value(v) for v in init]
ref = torch.tensor(init, dtype=torch.float64, requires_grad=True)
loss_ours, loss_ref = [], []
for _ in range(60):
    loss = sum(((model(ours, float(x)) - float(y)) ** 2 for x, y in zip(xs, ys)), Value(0.0)) / len(xs)
    for p in ours:
        p.grad = 0.0  # zero_grad: gradients would otherwise accumulate
    loss.backward()
    for p in ours:
        p.data -= 0.2 * p.grad  # the update: not part of backpropagation
    loss_ours.append(loss.data)

    ref_loss = ((model(ref, xs) - ys) ** 2).mean()
    ref.grad = None
    ref_loss.backward()
    with torch.no_grad():
        ref -= 0.2 * ref.grad
    loss_ref.append(ref_loss.item())

fig, ax = plt.subplots()
ax.semilogy(loss_ref, lw=4, alpha=0.4, label="torch.autograd")
ax.semilogy(loss_ours, "--", label="nnfaq.foundations.backprop.Value")
ax.set_xlabel("gradient descent step")
ax.set_ylabel("mean squared error (log scale)")
ax.set_title("Same network, two autograd engines")
ax.legend()

# %%
# How close are they?
# -------------------
# The largest difference between the two loss curves, and between the final weights: rounding
# error only (its last digits depend on the CPU), far below one part in a billion.
loss_gap = max(abs(a - b) for a, b in zip(loss_ours, loss_ref))
weight_gap = max(abs(p.data - q) for p, q in zip(ours, ref.tolist()))
print(f"loss curves agree to 1e-12: {loss_gap < 1e-12}, final weights agree to 1e-12: {weight_gap < 1e-12}")

# %%
# Takeaway
# --------
# Backpropagation applies the chain rule from the loss back to every weight, each operation adding
# its output gradient times its local derivative to its inputs' gradients; it computes
# :math:`\partial L/\partial w` and nothing more, at about twice the forward pass's FLOPs (each
# matrix product of the forward needs two in the backward). The optimizer then updates the weights.
# See :class:`nnfaq.foundations.backprop.Value`.
plt.show()
