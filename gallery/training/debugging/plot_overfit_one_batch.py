"""
How do you debug a network that does not learn?
===============================================

First check that it can learn anything: train on one small batch alone. A correct network
memorizes it; a bug shows up as a loss that stalls. Here the bug is a ReLU after the output
layer, which cannot produce the negative targets.

*To run this example yourself:* ``pip install "nnfaq[examples]"`` (PyTorch, matplotlib,
scikit-learn); it runs on a laptop CPU in a few seconds.
"""

# %%
# Overfitting one batch
# ---------------------
# The same 8 examples, the same architecture and optimizer; the only difference is the final
# ReLU. The correct network's loss falls by many orders of magnitude; the buggy one stalls at
# the floor ``mean(min(y, 0)^2)``.
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from nnfaq.training.debugging import overfit_one_batch

torch.set_num_threads(1)  # small tensors: more threads would only contend
torch.manual_seed(0)
x, y = torch.randn(8, 4), torch.randn(8, 1)
good = torch.nn.Sequential(torch.nn.Linear(4, 32), torch.nn.Tanh(), torch.nn.Linear(32, 1))
bad = torch.nn.Sequential(torch.nn.Linear(4, 32), torch.nn.Tanh(), torch.nn.Linear(32, 1), torch.nn.ReLU())
bad.load_state_dict(good.state_dict())  # the same initial weights
good_losses = overfit_one_batch(good, F.mse_loss, x, y)
bad_losses = overfit_one_batch(bad, F.mse_loss, x, y)
floor = (y.clamp(max=0) ** 2).mean().item()
print("correct network: loss falls below a millionth of its start:", bool(good_losses[-1] < 1e-6 * good_losses[0]))
print("final-ReLU bug: loss stays above its floor:", bool(bad_losses[-1] >= floor - 1e-6))

fig, ax = plt.subplots()
ax.semilogy(good_losses, label="correct")
ax.semilogy(bad_losses, label="ReLU after the output layer")
ax.axhline(floor, color="k", lw=0.8, ls="--", label="floor mean(min(y, 0)^2)")
ax.set_xlabel("step")
ax.set_ylabel("training loss on the one batch")
ax.set_title("Overfit one batch first")
ax.legend()

# %%
# Takeaway
# --------
# If a network cannot drive the loss on a single small batch close to zero, the bug is in the
# code: the output activation, a detached tensor, the loss's inputs, the learning rate. Then
# check gradients by finite differences and look for where NaNs start. See
# :func:`nnfaq.training.debugging.overfit_one_batch`.

plt.show()
