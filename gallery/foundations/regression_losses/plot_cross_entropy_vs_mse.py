"""
Why use cross-entropy rather than mean squared error for classification?
========================================================================

Put a sigmoid on a logit and compare the two losses for a positive example (target 1). This page
plots both losses and their gradients with respect to the logit: where the prediction is
confidently wrong, MSE's gradient vanishes while cross-entropy's stays close to -1.

*To run this example yourself:* ``pip install "nnfaq[examples]"`` (PyTorch, matplotlib,
scikit-learn); it runs on a laptop CPU in a few seconds.
"""

# %%
# The losses against the logit
# ----------------------------
# Both losses fall as the logit grows. For a wrong prediction (negative logit) MSE flattens out at
# 1, while cross-entropy keeps growing linearly: it keeps "caring" how wrong the model is.
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from nnfaq.foundations.regression_losses import mse_loss

torch.manual_seed(0)
torch.set_num_threads(1)  # small tensors: more threads would only contend
z = torch.linspace(-10, 6, 801, dtype=torch.float64, requires_grad=True)
one = torch.ones_like(z)
mse = mse_loss(torch.sigmoid(z), one, reduction="none")
ce = F.binary_cross_entropy_with_logits(z, one, reduction="none")

fig, ax = plt.subplots()
ax.plot(z.detach(), ce.detach(), label="cross-entropy")
ax.plot(z.detach(), mse.detach(), label="MSE of sigmoid(z)")
ax.set_xlabel("logit z (target 1; negative = wrong)")
ax.set_ylabel("loss")
ax.set_title("MSE saturates on wrong predictions, cross-entropy does not")
ax.legend()

# %%
# The gradients against the logit
# -------------------------------
# Cross-entropy's gradient is :math:`\sigma(z) - 1`, close to -1 when the model is wrong. MSE's is
# :math:`2(\sigma(z) - 1)\,\sigma(z)(1 - \sigma(z))`: it peaks near the decision boundary and dies
# out where the model is most wrong.
(g_mse,) = torch.autograd.grad(mse.sum(), z)
(g_ce,) = torch.autograd.grad(ce.sum(), z)

fig, ax = plt.subplots()
ax.plot(z.detach(), g_ce, label="cross-entropy: sigmoid(z) - 1")
ax.plot(z.detach(), g_mse, label="MSE: 2(p - 1) p (1 - p)")
ax.set_xlabel("logit z (target 1)")
ax.set_ylabel("d loss / d z")
ax.set_title("At a saturated wrong logit MSE's gradient vanishes")
ax.legend()
print("at z = -10: |MSE gradient| below 1e-4:", abs(g_mse[0].item()) < 1e-4)
print("at z = -10: cross-entropy gradient within 1e-4 of -1:", abs(g_ce[0].item() + 1) < 1e-4)

# %%
# Takeaway
# --------
# Behind a sigmoid or softmax, MSE's gradient carries the factor :math:`p(1-p)`, which vanishes when
# the model is confidently wrong, so learning stalls exactly where it is needed; cross-entropy's
# gradient :math:`p - y` does not. Cross-entropy is also the likelihood of a categorical output,
# MSE that of Gaussian noise. See :func:`nnfaq.foundations.regression_losses.mse_loss`.
plt.show()
