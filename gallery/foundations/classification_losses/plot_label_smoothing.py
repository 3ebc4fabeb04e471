"""
What is label smoothing and why does it help?
=============================================

Cross-entropy with hard one-hot targets rewards ever larger logits; label smoothing gives the loss
a minimum at a finite logit gap. This page plots cross-entropy against the gap between the true
logit and the others, with and without smoothing, and shows the gradient :math:`p - y` that drives
both.

*To run this example yourself:* ``pip install "nnfaq[examples]"`` (PyTorch, matplotlib,
scikit-learn); it runs on a laptop CPU in a few seconds.
"""

# %%
# Cross-entropy against the logit gap
# -----------------------------------
# Ten classes; the true class's logit exceeds the other nine by a gap :math:`\Delta`. With hard
# targets the loss falls for ever as :math:`\Delta` grows; with :math:`\varepsilon = 0.1` it is
# smallest at :math:`\Delta^\star = \log 91 \approx 4.51` and rises after that.
import math

import matplotlib.pyplot as plt
import torch

from nnfaq.foundations.classification_losses import cross_entropy, cross_entropy_grad, smooth_one_hot

torch.manual_seed(0)
torch.set_num_threads(1)  # small tensors: more threads would only contend
C = 10
gap = torch.linspace(-2, 12, 701, dtype=torch.float64)
logits = torch.zeros(len(gap), C, dtype=torch.float64)
logits[:, 0] = gap
y = torch.zeros(len(gap), dtype=torch.long)

fig, ax = plt.subplots()
for eps in (0.0, 0.1, 0.3):
    loss = cross_entropy(logits, y, reduction="none", label_smoothing=eps)
    ax.plot(gap, loss, label=f"label_smoothing = {eps}")
    if eps:
        ax.axvline(math.log(1 + (1 - eps) * C / eps), ls=":", color=ax.lines[-1].get_color())
ax.set_xlabel("logit gap between the true class and the 9 others")
ax.set_ylabel("cross-entropy")
ax.set_title("Smoothing puts the minimum at a finite gap (dotted)")
ax.legend()

# %%
# The smoothed targets
# --------------------
# ``label_smoothing`` is cross-entropy against targets of :math:`1 - \varepsilon + \varepsilon/C`
# on the true class and :math:`\varepsilon/C` elsewhere, so the two numbers below are equal.
x = torch.randn(8, C, dtype=torch.float64)
t = torch.randint(0, C, (8,))
q = smooth_one_hot(t, C, 0.1)
print("true-class target:", round(q[0, t[0]].item(), 3), " other classes:", round(q[0, (t[0] + 1) % C].item(), 3))
same = torch.allclose(cross_entropy(x, t, label_smoothing=0.1), cross_entropy(x, q))
print("label_smoothing=0.1 equals cross-entropy against the smoothed targets:", same)

# %%
# The optimum is never certain
# ----------------------------
# At the best logits the softmax equals the smoothed target (the gradient :math:`p - q` is zero),
# so the model's confidence there is :math:`1 - \varepsilon + \varepsilon/C = 0.91`, not 1. Whether
# that is *calibrated* depends on the data: if the true class really has probability 0.97, hard
# targets are minimized by predicting 0.97 and smoothed ones by an under-confident 0.898.
z = q[:1].log().requires_grad_()
(g,) = torch.autograd.grad(cross_entropy(z, t[:1], label_smoothing=0.1), z)
print("gradient zero at softmax = q:", bool(g.abs().max() < 1e-12))
print("confidence there:", round(z.softmax(1)[0, t[0]].item(), 4))
p = torch.tensor([0.97, 0.01, 0.01, 0.01], dtype=torch.float64)
for eps in (0.0, 0.1):
    print(f"label_smoothing={eps}: optimum predicts", round(((1 - eps) * p + eps / 4)[0].item(), 4), "for a 0.97 class")

# %%
# The gradient is p - y
# ---------------------
# For one example, the gradient with respect to the logits is the predicted probabilities minus the
# one-hot target: negative on the true class, positive on the others, and summing to zero.
x1 = torch.tensor([[2.0, 0.5, -1.0, 1.5, 0.0]], dtype=torch.float64)
g = cross_entropy_grad(x1, torch.tensor([3]))[0]

fig, ax = plt.subplots()
ax.bar(range(5), x1.softmax(1)[0], width=0.4, label="p = softmax(x)")
ax.bar([i + 0.4 for i in range(5)], g, width=0.4, label="gradient p - y")
ax.axhline(0, color="black", lw=0.8)
ax.set_xticks([i + 0.2 for i in range(5)], [f"class {i}" + (" (true)" if i == 3 else "") for i in range(5)])
ax.set_ylabel("value")
ax.set_title("d cross-entropy / d logits = p - y")
ax.legend()
print("gradient sums to zero:", abs(g.sum().item()) < 1e-12)

# %%
# Takeaway
# --------
# Label smoothing trains against :math:`(1 - \varepsilon)\,y + \varepsilon/C` instead of one-hot
# targets. The cross-entropy then stops rewarding ever larger logits: its optimum is a finite logit
# gap, at a confidence of :math:`1 - \varepsilon + \varepsilon/C`. That regularizes the model and
# often, not always, improves its calibration. See :func:`nnfaq.foundations.classification_losses.smooth_one_hot` and
# :func:`nnfaq.foundations.classification_losses.cross_entropy_grad`.
plt.show()
