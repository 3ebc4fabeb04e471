"""
What does batch normalization do in training and in evaluation mode?
=====================================================================

Batch norm is not switched off by ``model.eval()``: it changes which statistics it uses. In training
it normalizes with the current batch and updates a running mean and variance; in evaluation it
normalizes with those running values. This page watches both sets of statistics.

*To run this example yourself:* ``pip install "nnfaq[examples]"`` (PyTorch, matplotlib,
scikit-learn); it runs on a laptop CPU in a few seconds.
"""

# %%
# Running statistics follow the batches
# -------------------------------------
# We feed batches whose features have mean 3 and standard deviation 2. With momentum 0.1 the running
# mean moves 10% of the way to each batch mean, so it approaches 3 over a few dozen steps. No labels
# and no backward pass are involved: batch norm's statistics come from the inputs alone.
import matplotlib.pyplot as plt
import torch

from nnfaq.training.train_eval import batch_norm

torch.manual_seed(0)
torch.set_num_threads(1)  # small tensors: more threads would only contend
running_mean, running_var = torch.zeros(1), torch.ones(1)
history = []
for _ in range(60):
    batch = 3 + 2 * torch.randn(32, 1)
    batch_norm(batch, running_mean, running_var, training=True, momentum=0.1)
    history.append((batch.mean().item(), running_mean.item(), running_var.item()))

batch_means, run_means, run_vars = zip(*history)
print("running mean within 0.3 of 3 after 60 steps:", abs(run_means[-1] - 3) < 0.3)
print("running variance within 1 of 4 after 60 steps:", abs(run_vars[-1] - 4) < 1.0)
fig, ax = plt.subplots()
ax.plot(batch_means, ".", alpha=0.6, label="batch mean")
ax.plot(run_means, label="running mean")
ax.plot(run_vars, label="running variance")
ax.axhline(3, color="k", lw=0.8, ls="--")
ax.axhline(4, color="k", lw=0.8, ls=":")
ax.set_xlabel("training step")
ax.set_ylabel("statistic")
ax.set_title("Running statistics converge to the data's mean (3) and variance (4)")
ax.legend()

# %%
# In training mode an example's output depends on its batch
# ---------------------------------------------------------
# The same example normalized inside two different batches gives two different outputs in
# training mode, and the same output in evaluation mode.
example = torch.tensor([[5.0]])
batch_a = torch.cat([example, 3 + 2 * torch.randn(15, 1)])
batch_b = torch.cat([example, 6 + 2 * torch.randn(15, 1)])
rm, rv = running_mean.clone(), running_var.clone()
train_a = batch_norm(batch_a, rm.clone(), rv.clone(), training=True)[0].item()
train_b = batch_norm(batch_b, rm.clone(), rv.clone(), training=True)[0].item()
eval_a = batch_norm(batch_a, rm, rv, training=False)[0].item()
eval_b = batch_norm(batch_b, rm, rv, training=False)[0].item()
print("training mode: the same example gets different outputs in batches A and B:", abs(train_a - train_b) > 0.1)
print("eval mode: the same output in both batches:", eval_a == eval_b)
print("eval mode is not the identity (the output is not the raw 5.0):", abs(eval_a - 5.0) > 1.0)

fig, ax = plt.subplots()
ax.bar(["train, batch A", "train, batch B", "eval, batch A", "eval, batch B"], [train_a, train_b, eval_a, eval_b])
ax.axhline(5.0, color="k", lw=0.8, ls="--", label="raw input (5.0)")
ax.set_ylabel("normalized value of the same example")
ax.set_title("Eval mode uses running statistics: same input, same output")
ax.legend()

# %%
# Takeaway
# --------
# ``model.eval()`` does not disable batch norm. In training it normalizes with batch statistics and
# updates the running mean and (unbiased) variance; in evaluation it normalizes with those running
# statistics, so each example is treated alone and deterministically. See
# :func:`nnfaq.training.train_eval.batch_norm`.
plt.show()
