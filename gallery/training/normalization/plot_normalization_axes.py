"""
Which values does each normalization layer average over?
========================================================

Batch, layer, instance and group normalization all compute ``(x - mean) / std``; they differ only
in the set of values each mean and standard deviation is taken over. Instead of drawing the
familiar cube by hand, this page asks autograd: an output depends on exactly the inputs that
share its statistics, so the non-zero entries of its gradient show each layer's axes. Then it
measures what the axes imply: batch norm's output for an example changes with the batch around
it, the others' do not.

*To run this example yourself:* ``pip install "nnfaq[examples]"`` (PyTorch, matplotlib,
scikit-learn); it runs on a laptop CPU in a few seconds.
"""

# %%
# The values behind one output
# ----------------------------
# We take an input of 4 examples, 6 channels and 5 positions and differentiate the output at
# example 0, channel 0, position 0. Batch norm's gradient fills channel 0 of every example; layer
# norm's all of example 0; instance norm's one channel of one example; group norm (3 groups of 2
# channels) two channels of example 0.
import itertools

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from nnfaq.training.normalization import group_norm, instance_norm, layer_norm, values_per_statistic

torch.set_num_threads(1)  # small tensors: more threads would only contend
torch.manual_seed(0)
B, C, S = 4, 6, 5
x = torch.randn(B, C, S, dtype=torch.float64, requires_grad=True)
layers = {
    "batch": lambda t: F.batch_norm(t, None, None, training=True),
    "layer": lambda t: layer_norm(t, (C, S)),
    "instance": instance_norm,
    "group": lambda t: group_norm(t, 3),
}
fig, axes = plt.subplots(1, 4, figsize=(11, 3), sharey=True)
for ax, (name, fn) in zip(axes, layers.items()):
    (g,) = torch.autograd.grad(fn(x)[0, 0, 0], x)
    used = (g != 0).reshape(B, C * S).double()
    n = values_per_statistic((B, C, S), name, 3 if name == "group" else None)
    print(f"{name:8s} norm: output (0, 0, 0) depends on {int(used.sum())} inputs; its statistics average {n}")
    ax.imshow(used, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    ax.set_title(f"{name} norm")
    ax.set_xlabel("channel x position")
    ax.set_xticks([c * S - 0.5 for c in range(1, C)], minor=True)
    ax.grid(which="minor", color="grey", lw=0.8)
    ax.tick_params(which="minor", length=0)
axes[0].set_ylabel("example in the batch")
fig.suptitle("Inputs the output at (example 0, channel 0, position 0) depends on")
fig.tight_layout()

# %%
# Batch norm's output depends on the batch
# ----------------------------------------
# The same example is normalized inside 50 random batches of each size. With batch norm (in
# training mode) its output varies from batch to batch, less as the batch grows, because the
# batch's mean and variance are noisy estimates; group norm gives the same output every time.
example = 2 + torch.randn(1, 8, 16, dtype=torch.float64)
sizes = [2, 4, 8, 16, 32]
spread_bn, spread_gn = [], []
for size in sizes:
    bn_out, gn_out = [], []
    for _ in range(50):
        batch = torch.cat([example, 2 + torch.randn(size - 1, 8, 16, dtype=torch.float64)])
        bn_out.append(F.batch_norm(batch, None, None, training=True)[0])
        gn_out.append(group_norm(batch, 2)[0])
    spread_bn.append(torch.stack(bn_out).std(0).mean().item())
    spread_gn.append(torch.stack(gn_out).std(0).mean().item())

print("batch norm's spread shrinks as the batch grows:", all(a > b for a, b in itertools.pairwise(spread_bn)))
print("group norm's output is the same in every batch:", max(spread_gn) < 1e-12)

fig, ax = plt.subplots()
ax.plot(sizes, spread_bn, "o-", label="batch norm (training mode)")
ax.plot(sizes, spread_gn, "s-", label="group norm")
ax.set_xscale("log", base=2)
ax.set_xlabel("batch size")
ax.set_ylabel("std of one example's output across batches")
ax.set_title("Only batch norm's output depends on the other examples")
ax.legend()

# %%
# Takeaway
# --------
# Batch norm averages each channel over the batch and positions, so it depends on the batch and
# needs running statistics for evaluation; layer, instance and group norm average within one
# example (all features, one channel, a group of channels) and behave the same for any batch size.
# See :func:`nnfaq.training.normalization.layer_norm` and
# :func:`nnfaq.training.normalization.group_norm`.

plt.show()
