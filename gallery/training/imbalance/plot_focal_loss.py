"""
How does the focal loss treat easy and hard examples?
=====================================================

The focal loss multiplies binary cross-entropy by ``(1 - p_t)^gamma``. This page draws the loss
against the probability of the true class for several ``gamma``, then measures on an imbalanced
toy detection problem how much of the total loss the many easy negatives carry.

*To run this example yourself:* ``pip install "nnfaq[examples]"`` (PyTorch, matplotlib,
scikit-learn); it runs on a laptop CPU in a few seconds.
"""

# %%
# The loss against the probability of the true class
# ---------------------------------------------------
# With ``gamma = 0`` it is cross-entropy; as ``gamma`` grows, confident predictions
# (``p_t`` near 1) contribute less and less.
import matplotlib.pyplot as plt
import torch

from nnfaq.training.imbalance import sigmoid_focal_loss

torch.manual_seed(0)
torch.set_num_threads(1)  # small tensors: more threads would only contend
p_t = torch.linspace(0.01, 0.99, 99, dtype=torch.float64)
logits = torch.log(p_t / (1 - p_t))
ones = torch.ones_like(p_t)
fig, ax = plt.subplots()
for gamma in (0.0, 0.5, 1.0, 2.0, 5.0):
    ax.plot(p_t, sigmoid_focal_loss(logits, ones, alpha=-1, gamma=gamma), label=f"gamma = {gamma}")
ax.set_xlabel("probability of the true class p_t")
ax.set_ylabel("loss")
ax.set_title("Focal loss: easy examples fade out")
ax.legend()

# %%
# Who carries the loss
# --------------------
# 10,000 background anchors the model already gets right (p about 0.98 for "background") and 20
# objects it is unsure about. With cross-entropy the easy background dominates the total loss;
# with the focal loss (gamma = 2) the few hard examples do.
z = torch.cat([-4.0 + 0.5 * torch.randn(10_000), 0.5 * torch.randn(20)]).double()
t = torch.cat([torch.zeros(10_000), torch.ones(20)]).double()
shares = {}
for gamma in (0.0, 1.0, 2.0, 5.0):
    loss = sigmoid_focal_loss(z, t, alpha=-1, gamma=gamma)
    shares[gamma] = (loss[:10_000].sum() / loss.sum()).item()
print("cross-entropy: easy negatives carry most of the loss:", shares[0.0] > 0.5)
print("focal loss, gamma = 2: they carry under 10% of it:", shares[2.0] < 0.1)

fig, ax = plt.subplots()
ax.bar([str(g) for g in shares], [100 * s for s in shares.values()])
ax.set_xlabel("gamma")
ax.set_ylabel("share of the total loss from easy negatives (%)")
ax.set_title("10,000 easy negatives vs 20 hard positives")

# %%
# Takeaway
# --------
# The focal loss down-weights examples the model already classifies confidently, so in dense
# detection the rare, hard examples drive the gradient; ``gamma = 0`` recovers cross-entropy. See
# :func:`nnfaq.training.imbalance.sigmoid_focal_loss`.

plt.show()
