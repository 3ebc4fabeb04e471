"""
How does dilation grow the receptive field without adding weights?
==================================================================

A dilated (atrous) convolution spaces its kernel taps ``d`` pixels apart: a 3x3 kernel with
``d=2`` covers a 5x5 area with the same 9 weights. Stacking dilations 1, 2, 4 grows the receptive
field exponentially with depth instead of linearly, the idea behind dilated networks for
segmentation (Yu and Koltun, 2016) and WaveNet. Repeating the same dilation, however, leaves holes.

*To run this example yourself:* ``pip install "nnfaq[examples]"`` (PyTorch, matplotlib,
scikit-learn); it runs on a laptop CPU in a few seconds.
"""

# %%
# Three stacks with the same weights
# ----------------------------------
# Three 3x3 layers each, all with 27 weights in total (one channel). The standard stack should see
# 7x7, dilations 1, 2, 4 should see 15x15 with every pixel covered, and dilations 2, 2, 2 should see
# 13x13 but only every other pixel (the "gridding" artefact).
import matplotlib.pyplot as plt
import torch

from nnfaq.convnets.conv_arithmetic import conv_cost, receptive_field
from nnfaq.convnets.convolution import conv2d

torch.manual_seed(0)
torch.set_num_threads(1)  # small tensors: more threads would only contend
stacks = {"standard 1, 1, 1": [1, 1, 1], "dilated 1, 2, 4": [1, 2, 4], "dilated 2, 2, 2": [2, 2, 2]}
kernel = torch.ones(1, 1, 3, 3, dtype=torch.float64)
maps = {}
for name, dilations in stacks.items():
    x = torch.zeros(1, 1, 41, 41, dtype=torch.float64, requires_grad=True)
    y = x
    for d in dilations:
        y = conv2d(y, kernel, dilation=d)
    y[0, 0, y.shape[2] // 2, y.shape[3] // 2].backward()
    maps[name] = x.grad[0, 0]
    rows = x.grad[0, 0].abs().sum(1).nonzero()
    covered = (x.grad[0, 0] != 0).sum().item()
    weights = sum(conv_cost("dilated" if d > 1 else "standard", 1, 1, 3, 41, dilation=d)["params"] for d in dilations)
    predicted = receptive_field([3] * 3, dilations=dilations)
    width = int(rows.max() - rows.min() + 1)
    print(f"{name:17s} field {width:2d} (predicted {predicted}), pixels reached {covered:3d}, weights {weights}")

# %%
# The fields side by side
# -----------------------
# Non-zero gradient means the output depends on that input pixel. The 2, 2, 2 stack only reaches
# pixels at even offsets: a quarter of its field.
fig, axes = plt.subplots(1, 3, figsize=(11, 4.3))
for ax, (name, g) in zip(axes, maps.items()):
    ax.imshow((g[12:29, 12:29] != 0).double().numpy(), cmap="Greys", vmin=0, vmax=1, extent=(-8.5, 8.5, 8.5, -8.5))
    ax.set_title(name)
    ax.set_xlabel("input x offset")
    ax.set_ylabel("input y offset")
    ax.grid(False)
fig.suptitle("Input pixels one output depends on (black), three 3x3 layers, 27 weights each")

# %%
# Takeaway
# --------
# Dilation multiplies the span of a kernel, ``d(K-1)+1``, without adding weights or multiply-adds,
# so exponentially increasing dilations cover a large context cheaply and without losing resolution
# (no pooling or stride). Choose dilations that do not share a common factor across the stack, or
# the field has holes. See :func:`nnfaq.convnets.conv_arithmetic.receptive_field` and
# :func:`nnfaq.convnets.conv_arithmetic.conv_cost`.

plt.show()
