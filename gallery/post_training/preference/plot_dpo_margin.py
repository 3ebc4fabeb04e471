"""
What does the DPO loss reward?
==============================

DPO's loss depends on one number per preference pair, the margin: how much more the policy than the
reference raised the chosen response's log-probability over the rejected one's. This page draws the
loss and its gradient against the margin for several values of :math:`\\beta`, then shows that two
policies with very different likelihoods but the same margin get the same loss.

*To run this example yourself:* ``pip install "nnfaq[examples]"`` (PyTorch, matplotlib,
scikit-learn); it runs on a laptop CPU in a few seconds.
"""

# %%
# Loss and gradient weight against the margin
# -------------------------------------------
# At margin 0 (the first step, policy = reference) every curve passes through :math:`\log 2`. The
# gradient's weight :math:`\sigma(-\beta m)` is largest for pairs the policy still ranks wrongly
# (negative margins) and fades once a pair is ranked right by a few :math:`1/\beta`.
import math

import matplotlib.pyplot as plt
import torch

from nnfaq.post_training.preference import dpo_loss, grpo_advantages

torch.manual_seed(0)
torch.set_num_threads(1)  # small tensors: more threads would only contend
margins = torch.linspace(-40, 40, 401, dtype=torch.float64)
zero = torch.zeros_like(margins)

fig, (ax_loss, ax_grad) = plt.subplots(1, 2, figsize=(8.0, 3.6))
for beta in (0.05, 0.1, 0.5):
    losses, weights = [], []
    for m in margins:
        chosen = m.reshape(1).clone().requires_grad_()
        loss = dpo_loss(chosen, zero[:1], zero[:1], zero[:1], beta=beta)
        loss.backward()
        losses.append(loss.item())
        weights.append(-chosen.grad.item() / beta)  # = sigmoid(-beta m)
    ax_loss.plot(margins, losses, label=f"beta = {beta}")
    ax_grad.plot(margins, weights, label=f"beta = {beta}")
ax_loss.axhline(math.log(2), color="grey", linestyle=":", linewidth=1)
ax_loss.set_xlabel("margin m (nats)")
ax_loss.set_ylabel("DPO loss")
ax_loss.set_title("log 2 at m = 0")
ax_grad.set_xlabel("margin m (nats)")
ax_grad.set_ylabel("gradient weight sigma(-beta m)")
ax_grad.set_title("Wrongly ranked pairs count most")
ax_loss.legend()
print(
    "loss at margin 0 equals log 2:", abs(dpo_loss(zero[:1], zero[:1], zero[:1], zero[:1]).item() - math.log(2)) < 1e-15
)

# %%
# Only the margin counts
# ----------------------
# Two policies for the same 16 pairs: one keeps the chosen responses' log-probabilities, the other
# lowers both chosen and rejected ones by 20 nats. Their margins, and so their losses, are the same:
# DPO does not by itself raise the likelihood of the chosen responses.
ref_c, ref_r = torch.randn(16, dtype=torch.float64) - 50, torch.randn(16, dtype=torch.float64) - 50
pol_c, pol_r = ref_c + 2.0, ref_r - 2.0
same = dpo_loss(pol_c, pol_r, ref_c, ref_r).item()
lowered = dpo_loss(pol_c - 20, pol_r - 20, ref_c, ref_r).item()
print("same loss after lowering both log-probabilities by 20 nats:", math.isclose(same, lowered, rel_tol=1e-12))

# %%
# GRPO: advantages relative to the group
# --------------------------------------
# GRPO scores 8 sampled answers per prompt. Each answer's advantage is its reward minus the group's
# mean, over the group's standard deviation: the mean is the baseline a critic would otherwise
# learn. A prompt whose answers all score the same (the third) gives no signal.
rewards = torch.tensor(
    [[1, 0, 0, 0, 1, 0, 0, 0], [1, 1, 1, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1, 1]], dtype=torch.float64
)
A = grpo_advantages(rewards)
fig, ax = plt.subplots()
im = ax.imshow(A.numpy(), cmap="coolwarm", vmin=-3, vmax=3)
ax.set_xlabel("sampled answer")
ax.set_ylabel("prompt")
ax.set_yticks([0, 1, 2], ["2 of 8 right", "7 of 8 right", "all right"])
ax.set_title("GRPO advantages: rare successes get the largest credit")
ax.grid(False)
fig.colorbar(im, ax=ax, shrink=0.6)
print("advantages sum to zero in each group:", bool(A.sum(1).abs().max() < 1e-12))
print("the all-right prompt gets zero advantages:", bool((A[2] == 0).all()))

# %%
# Takeaway
# --------
# DPO minimizes :math:`-\log\sigma(\beta m)` of the log-ratio margin: log 2 at the start, a gradient
# that pushes chosen up and rejected down by equal amounts and weights wrongly ranked pairs most, and
# no preference for higher absolute likelihoods. GRPO replaces a learned critic by the group's mean
# reward. See :func:`nnfaq.post_training.preference.dpo_loss` and
# :func:`nnfaq.post_training.preference.grpo_advantages`.
plt.show()
