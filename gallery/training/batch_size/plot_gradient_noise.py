"""
How does the batch size change the gradient noise?
==================================================

A mini-batch gradient is an average of per-example gradients, so its variance should fall as
``1/B``. We compute the per-example gradients of a small network, draw many random batches of
each size, and compare the measured noise with the exact formula.

*To run this example yourself:* ``pip install "nnfaq[examples]"`` (PyTorch, matplotlib,
scikit-learn); it runs on a laptop CPU in a few seconds.
"""

# %%
# Measured noise against the formula
# ----------------------------------
# 256 examples of a small regression problem; for each batch size 2000 batches drawn with
# replacement. The points should sit on the line ``tr(Sigma) / B``.
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from nnfaq.training.batch_size import minibatch_gradient_variance, minibatch_gradients

torch.set_num_threads(1)  # small tensors: more threads would only contend
torch.manual_seed(0)
x = torch.randn(256, 4, dtype=torch.float64)
y = torch.sin(x.sum(1, keepdim=True)) + 0.3 * torch.randn(256, 1, dtype=torch.float64)
model = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1)).double()
per_example = minibatch_gradients(model, F.mse_loss, x, y, batch_size=1)  # (256, P)
full = per_example.mean(0)

sizes = [1, 2, 4, 8, 16, 32, 64, 128]
measured, exact = [], []
for B in sizes:
    draws = per_example[torch.randint(0, 256, (2000, B))].mean(1)
    measured.append(((draws - full) ** 2).sum(1).mean().item())
    exact.append(minibatch_gradient_variance(per_example, B))
print(
    "measured noise within 10% of tr(Sigma)/B at every size:",
    all(abs(m - e) < 0.1 * e for m, e in zip(measured, exact)),
)

fig, ax = plt.subplots()
ax.loglog(sizes, exact, "-", label="exact: tr(Sigma) / B")
ax.loglog(sizes, measured, "o", label="2000 random batches")
ax.set_xlabel("batch size B")
ax.set_ylabel("E |batch gradient - full gradient|^2")
ax.set_title("Gradient noise falls as 1/B")
ax.legend()

# %%
# Takeaway
# --------
# Doubling the batch halves the noise of each step and halves the number of steps per epoch; the
# linear scaling rule doubles the learning rate to keep the noise per epoch, while the rate stays
# small enough. Claims about batch size and generalization are empirical and disputed. See
# :func:`nnfaq.training.batch_size.minibatch_gradient_variance`.

plt.show()
