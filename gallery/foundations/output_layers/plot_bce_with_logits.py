"""
Why use BCEWithLogitsLoss instead of a sigmoid followed by BCELoss?
===================================================================

Both compute binary cross-entropy, but a sigmoid followed by ``BCELoss`` first rounds the
probability, and in float32 ``sigmoid(x)`` becomes exactly 1 once :math:`x` exceeds about 17.
This page plots both losses and their gradients against the logit, for a negative example
(target 0), and shows the softmax/sigmoid relation behind the output layer.
"""

# %%
# The loss against the logit
# --------------------------
# For target 0 the exact loss is :math:`\mathrm{softplus}(x) \approx x` for large logits. The logits
# form follows that line; sigmoid + BCE follows it until :math:`\sigma(x)` rounds to 1, then jumps to
# the clamp value 100.
import matplotlib.pyplot as plt
import torch

from nnfaq.output_layers import binary_cross_entropy, binary_cross_entropy_with_logits, softmax

torch.manual_seed(0)
x = torch.linspace(0, 40, 801)  # float32, as in most training
y = torch.zeros_like(x)
with_logits = binary_cross_entropy_with_logits(x, y, reduction="none")
sigmoid_bce = binary_cross_entropy(torch.sigmoid(x), y, reduction="none")

fig, ax = plt.subplots()
ax.plot(x, with_logits, label="binary_cross_entropy_with_logits(x, 0)")
ax.plot(x, sigmoid_bce, "--", label="binary_cross_entropy(sigmoid(x), 0)")
ax.set_xlabel("logit x (target 0: a confidently wrong prediction)")
ax.set_ylabel("loss (float32)")
ax.set_title("Sigmoid + BCE jumps to the clamp at 100 once sigmoid(x) rounds to 1")
ax.legend()

# %%
# The gradient against the logit
# -------------------------------
# The logits form has gradient :math:`\sigma(x) - y \to 1`: the more wrong, the harder it pushes.
# Through the rounded sigmoid the gradient is 0 exactly where the model is most wrong.
xa = x.clone().requires_grad_()
binary_cross_entropy_with_logits(xa, y, reduction="sum").backward()
xb = x.clone().requires_grad_()
binary_cross_entropy(torch.sigmoid(xb), y, reduction="sum").backward()

fig, ax = plt.subplots()
ax.plot(x, xa.grad, label="with logits: sigmoid(x) - y")
ax.plot(x, xb.grad, "--", label="sigmoid + BCE")
ax.set_xlabel("logit x (target 0)")
ax.set_ylabel("d loss / d x")
ax.set_title("The saturated sigmoid passes back no gradient")
ax.legend()
print("first logit where sigmoid + BCE has zero gradient:", round(x[xb.grad == 0][0].item(), 2))

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
# the logits form stays exact and keeps a gradient of about 1 for confidently wrong predictions.
# End the network with a linear layer and give the logits to the loss; apply the sigmoid only to
# report probabilities. See :func:`nnfaq.output_layers.binary_cross_entropy_with_logits` and
# :func:`nnfaq.output_layers.softmax`.
