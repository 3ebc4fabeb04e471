"""
Why do transposed convolutions leave checkerboard artefacts, and how do you avoid them?
=======================================================================================

A stride-2 transposed convolution upsamples by pasting one copy of its kernel per input pixel,
two pixels apart. When the kernel size is not a multiple of the stride, neighbouring copies overlap
unevenly: some output pixels receive contributions from one input pixel, others from two or four.
The result is a periodic pattern that was not in the input, the checkerboard artefact described by
Odena, Dumoulin and Olah (Distill, 2016). Resizing first and then convolving has no such pattern.

*To run this example yourself:* ``pip install "nnfaq[examples]"`` (PyTorch, matplotlib,
scikit-learn); it runs on a laptop CPU in a few seconds.
"""

# %%
# Counting the overlaps
# ---------------------
# Feed a constant image of ones through :func:`nnfaq.convnets.resampling.conv_transpose2d` with a kernel of
# ones: each output pixel then simply counts how many kernel copies cover it. With ``K=3, s=2`` we
# expect a grid of 1, 2 and 4; with ``K=4, s=2`` every interior pixel is covered exactly 4 times.
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from nnfaq.convnets.resampling import conv_transpose2d

torch.manual_seed(0)
torch.set_num_threads(1)  # small tensors: more threads would only contend
ones = torch.ones(1, 1, 6, 6)
fig, axes = plt.subplots(1, 2, figsize=(9, 4.2))
for ax, k in zip(axes, (3, 4)):
    cover = conv_transpose2d(ones, torch.ones(1, 1, k, k), stride=2)[0, 0]
    im = ax.imshow(cover.numpy(), cmap="viridis", vmin=0, vmax=4)
    values = sorted({int(v) for v in cover[3:-3, 3:-3].flatten().tolist()})
    ax.set_title(f"K={k}, s=2: interior values {values}")
    ax.set_xlabel("output x")
    ax.set_ylabel("output y")
    ax.grid(False)
fig.colorbar(im, ax=axes, label="kernel copies covering the pixel")
fig.suptitle("Transposed convolution of a constant image: uneven overlap when K is not a multiple of s")

# %%
# Random weights, three upsampling layers
# ---------------------------------------
# Even overlap is not enough: with learned (here random) weights each of the ``s x s`` output
# phases uses a different subset of kernel taps, so a constant input still comes out periodic, and
# stacking layers compounds it. The alternative, nearest-neighbour resizing followed by a 3x3
# convolution, maps a constant image to a constant image (away from the zero-padded border) by
# construction.
x = torch.ones(1, 4, 8, 8)
transposed, resized = x, x
for _ in range(3):  # 8 -> 16 -> 32 -> 64
    w_t = torch.randn(4, 4, 4, 4) / 8
    w_c = torch.randn(4, 4, 3, 3) / 6
    transposed = conv_transpose2d(transposed, w_t, stride=2, padding=1)
    resized = F.conv2d(F.interpolate(resized, scale_factor=2, mode="nearest"), w_c, padding=1)


def interior_variation(t):
    core = t[0, 0, 8:-8, 8:-8]
    return (core.std() / core.abs().mean()).item()  # 0 for a constant interior


print("transposed convs: the interior varies by more than 10% of its mean:", interior_variation(transposed) > 0.1)
print("resize + conv: the interior is constant (to 1e-6):", interior_variation(resized) < 1e-6)

fig, axes = plt.subplots(1, 2, figsize=(9, 4.2))
for ax, t, name in zip(
    axes, (transposed, resized), ("3 transposed convs (K=4, s=2)", "3 x (nearest resize + 3x3 conv)")
):
    core = t[0, 0, 16:48, 16:48]
    ax.imshow(core.numpy(), cmap="gray", vmin=core.min().item() - 1e-3, vmax=core.max().item() + 1e-3)
    ax.set_title(name)
    ax.set_xlabel("output x (centre crop)")
    ax.set_ylabel("output y")
    ax.grid(False)
fig.suptitle("Upsampling a constant image 8x with random weights: channel 0")

# %%
# Takeaway
# --------
# A transposed convolution is the adjoint of a strided convolution: each input pixel scatters a
# copy of the kernel into the output. Copies overlap unevenly unless the kernel size is a multiple of
# the stride, and even then the output phases use different weights, which shows up as a
# checkerboard. Resize (nearest or bilinear) then convolve avoids it; if you keep transposed
# convolutions, use ``K`` divisible by the stride. See :func:`nnfaq.convnets.resampling.conv_transpose2d`.

plt.show()
