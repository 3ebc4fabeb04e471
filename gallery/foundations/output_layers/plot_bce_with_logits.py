"""
Why use BCEWithLogitsLoss instead of a sigmoid followed by BCELoss?
===================================================================

Both compute binary cross-entropy, but a sigmoid followed by ``BCELoss`` first rounds the
probability, and the two sides of the sigmoid round differently: in float32 ``sigmoid(x)`` becomes
exactly 1 once :math:`x` exceeds about 16.6, but exactly 0 only below about -88.7. This page plots
both losses and their gradients against the logit, for a negative example (target 0, large logits)
and a positive one (target 1, very negative logits), and shows the softmax/sigmoid relation behind
the output layer.

*To run this example yourself:* ``pip install "nnfaq[examples]"`` (PyTorch, matplotlib,
scikit-learn); it runs on a laptop CPU in a few seconds.
"""

# %%
# Where the float32 sigmoid rounds
# --------------------------------
# Floats are much finer near 0 than near 1, so :math:`1 - \sigma(x)` underflows long before
# :math:`\sigma(x)` does.
import matplotlib.pyplot as plt
import torch

from nnfaq.foundations.output_layers import binary_cross_entropy, binary_cross_entropy_with_logits, softmax

torch.manual_seed(0)
torch.set_num_threads(1)  # small tensors: more threads would only contend
grid = torch.arange(-100.0, 30.0, 0.01, dtype=torch.float64).float()
s = torch.sigmoid(grid)
print("sigmoid(x) == 1 first between 16 and 17:", 16 < grid[s == 1].min().item() < 17)
print("sigmoid(x) == 0 only below somewhere between -89 and -88:", -89 < grid[s > 0].min().item() < -88)


def loss_and_grad(x, y):
    """Element-wise loss and gradient of both forms, float32."""
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    with_logits = binary_cross_entropy_with_logits(xa, y, reduction="none")
    sigmoid_bce = binary_cross_entropy(torch.sigmoid(xb), y, reduction="none")
    with_logits.sum().backward()
    sigmoid_bce.sum().backward()
    return with_logits.detach(), sigmoid_bce.detach(), xa.grad, xb.grad


# %%
# A negative example with a large logit
# -------------------------------------
# For target 0 the exact loss is :math:`\mathrm{softplus}(x) \approx x`. The logits form follows
# that line and its gradient :math:`\sigma(x) - y` tends to 1: the more wrong, the harder it pushes.
# Sigmoid + BCE follows it until :math:`\sigma(x)` rounds to 1, then jumps to the clamp value 100,
# with a gradient of exactly 0 where the model is most wrong.
x = torch.linspace(0, 40, 801)
loss_a, loss_b, grad_a, grad_b = loss_and_grad(x, torch.zeros_like(x))
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
ax1.plot(x, loss_a, label="with logits")
ax1.plot(x, loss_b, "--", label="sigmoid + BCE")
ax1.set_xlabel("logit x (target 0)")
ax1.set_ylabel("loss (float32)")
ax1.legend()
ax2.plot(x, grad_a, label="with logits: sigmoid(x) - y")
ax2.plot(x, grad_b, "--", label="sigmoid + BCE")
ax2.set_xlabel("logit x (target 0)")
ax2.set_ylabel("d loss / d x")
ax2.legend()
fig.suptitle("Target 0: the rounded sigmoid clamps the loss at 100 and passes back no gradient")
beyond = x >= 17
print(
    "target 0, x >= 17: sigmoid + BCE loss is 100 and its gradient 0:",
    bool((loss_b[beyond] == 100).all() and (grad_b[beyond] == 0).all()),
)
print("target 0, x >= 17: the logits form's gradient is above 0.9999:", bool((grad_a[beyond] > 0.9999).all()))

# %%
# A positive example with a very negative logit
# ---------------------------------------------
# For target 1 the sigmoid keeps a representable, tiny probability down to -88.7, so the loss of
# sigmoid + BCE stays exact that far. Its gradient fades much earlier: ``BCELoss``'s backward divides
# by :math:`\max(p(1-p), 10^{-12})`, so through the sigmoid the gradient is about
# :math:`10^{12} e^{x}` once :math:`x < -27.6`. The logits form keeps a gradient of -1 throughout.
x = torch.linspace(-100, 0, 1001)
loss_a, loss_b, grad_a, grad_b = loss_and_grad(x, torch.ones_like(x))
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
ax1.plot(x, loss_a, label="with logits")
ax1.plot(x, loss_b, "--", label="sigmoid + BCE")
ax1.set_xlabel("logit x (target 1)")
ax1.set_ylabel("loss (float32)")
ax1.legend()
ax2.plot(x, grad_a.abs(), label="with logits")
ax2.plot(x, grad_b.abs(), "--", label="sigmoid + BCE")
ax2.set_yscale("symlog", linthresh=1e-12)
ax2.set_xlabel("logit x (target 1)")
ax2.set_ylabel("|d loss / d x| (symlog)")
ax2.legend()
fig.suptitle("Target 1: the loss stays exact to -88, the gradient fades from -28")
exact = (x > -88) & (x < -30)
print("target 1, -88 < x < -30: sigmoid + BCE loss is still exact:", torch.allclose(loss_b[exact], -x[exact]))
print("target 1, -88 < x < -30: but its gradient is below 0.1:", bool((grad_b[exact].abs() < 0.1).all()))
print("target 1, x < -17: the logits form's gradient is -1:", bool((grad_a[x < -17] == -1).all()))

# %%
# Two classes: softmax is a sigmoid
# ---------------------------------
# A 2-way softmax over logits :math:`(x_0, x_1)` equals :math:`\sigma(x_1 - x_0)`, so a binary
# classifier needs one logit and a sigmoid, not two logits and a softmax.
z = 4 * torch.randn(1000, 2, dtype=torch.float64)
print(
    "softmax(z)[:, 1] == sigmoid(z1 - z0):", torch.allclose(softmax(z, dim=1)[:, 1], torch.sigmoid(z[:, 1] - z[:, 0]))
)

# %%
# Takeaway
# --------
# Sigmoid + ``BCELoss`` and ``BCEWithLogitsLoss`` are the same loss in exact arithmetic, but only
# the logits form stays exact and keeps a gradient of about 1 for confidently wrong predictions, on
# both sides. End the network with a linear layer and give the logits to the loss; apply the sigmoid
# only to report probabilities. See
# :func:`nnfaq.foundations.output_layers.binary_cross_entropy_with_logits` and
# :func:`nnfaq.foundations.output_layers.softmax`.
plt.show()
