"""
What is the receptive field of a stack of convolutions? Measured with autograd
==============================================================================

The receptive field of an output pixel is the set of input pixels it depends on. Autograd measures
it directly: backpropagate from one output pixel and look where the input gradient is non-zero.
Each 3x3 layer should widen the field by 2 pixels (two 3x3 layers see 5x5, three see 7x7), and a
stride multiplies the growth of every layer after it, exactly as
:func:`nnfaq.convnets.conv_arithmetic.receptive_field` predicts.

*To run this example yourself:* ``pip install "nnfaq[examples]"`` (PyTorch, matplotlib,
scikit-learn); it runs on a laptop CPU in a few seconds.
"""

# %%
# One output pixel, four stacks
# -----------------------------
# Stacks of 1 to 4 convolutions with 3x3 kernels of ones (positive weights, so no gradient cancels
# by accident), plus one stack whose first layer has stride 2. For each we take the gradient of the
# centre output pixel with respect to a 41x41 input and measure the width of its support.
import matplotlib.pyplot as plt
import torch

from nnfaq.convnets.conv_arithmetic import receptive_field
from nnfaq.convnets.convolution import conv2d

torch.manual_seed(0)
torch.set_num_threads(1)  # small tensors: more threads would only contend
stacks = {
    "1 layer": [1],
    "2 layers": [1, 1],
    "3 layers": [1, 1, 1],
    "4 layers": [1, 1, 1, 1],
    "3, first s=2": [2, 1, 1],
}
kernel = torch.ones(1, 1, 3, 3, dtype=torch.float64)
maps = {}
for name, strides in stacks.items():
    x = torch.zeros(1, 1, 41, 41, dtype=torch.float64, requires_grad=True)
    y = x
    for s in strides:
        y = conv2d(y, kernel, stride=s)
    y[0, 0, y.shape[2] // 2, y.shape[3] // 2].backward()
    rows = x.grad[0, 0].abs().sum(1).nonzero()
    width = int(rows.max() - rows.min() + 1)
    maps[name] = x.grad[0, 0]
    print(f"{name:13s} measured {width:2d}  predicted {receptive_field([3] * len(strides), strides)}")

# %%
# What the gradient looks like
# ----------------------------
# The support is a square of side ``r``; inside it the gradient is not uniform but peaks in the
# centre, because central input pixels reach the output through many more paths. That is why the
# *effective* receptive field of a deep network is smaller than the theoretical one (Luo et al., 2016).
fig, axes = plt.subplots(1, len(maps), figsize=(13, 3.2))
for ax, (name, g) in zip(axes, maps.items()):
    ax.imshow((g[10:31, 10:31] / g.max()).numpy(), cmap="magma", extent=(-10.5, 10.5, 10.5, -10.5))
    ax.set_title(f"{name}: r = {int((g.abs().sum(1) > 0).sum())}")
    ax.set_xlabel("input x offset")
    ax.set_ylabel("input y offset")
    ax.grid(False)
fig.suptitle("Input gradient of the centre output pixel, normalised (3x3 kernels)")

# %%
# Takeaway
# --------
# The receptive field grows by ``d(K-1)`` times the product of the earlier strides per layer:
# ``r = 1 + sum_l d_l (K_l - 1) prod_{j<l} s_j``. Two 3x3 layers see as much as one 5x5 with 18
# instead of 25 weights per channel pair and an extra nonlinearity, which is why VGG and its
# successors stack small kernels. See :func:`nnfaq.convnets.conv_arithmetic.receptive_field`.

plt.show()
