"""
Why use convolutions for images? Shift the input, and the output shifts with it
===============================================================================

A convolution applies the same small kernel at every position, so moving the input moves the
output by the same amount: it is translation-equivariant. A pattern learned in one corner is
recognised everywhere, and the layer needs only ``C_out x C_in x K x K`` weights whatever the image
size. This page checks the property on a photograph, and shows the two things that bend it: zero
padding at the borders and striding.

*To run this example yourself:* ``pip install "nnfaq[examples]"`` (PyTorch, matplotlib,
scikit-learn); it runs on a laptop CPU in a few seconds.
"""

# %%
# A shifted photograph
# --------------------
# A grey 128x128 crop of scikit-learn's temple photograph and a random 5x5 filter bank. We shift the
# image cyclically by (9, 14) pixels and compare "convolve, then shift" with "shift, then convolve".
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from nnfaq.convnets.convolution import commutes_with_shift, conv2d
from nnfaq.datasets import load_sample_images

torch.manual_seed(0)
torch.set_num_threads(1)  # small tensors: more threads would only contend
rgb = load_sample_images(dtype=torch.float64)[0, :, 100:228, 120:248]  # (3, 128, 128)
x = rgb.mean(0)[None, None]  # (1, 1, 128, 128)
w = torch.randn(4, 1, 5, 5, dtype=torch.float64)
shift = (9, 14)

layers = {
    "circular padding": lambda t: conv2d(F.pad(t, (2, 2, 2, 2), mode="circular"), w),
    "zero padding": lambda t: conv2d(t, w, padding=2),
    "zero padding, stride 2": lambda t: conv2d(t, w, padding=2, stride=2),
}
for name, layer in layers.items():
    print(f"{name:24s} commutes with the shift: {commutes_with_shift(layer, x, shift)}")

# %%
# Where the two orders disagree
# -----------------------------
# With circular padding the difference is zero everywhere. With zero padding it is zero except in
# thin bands along the image borders and along the seam where the rolled image wraps around: there
# one order of operations saw padding zeros and the other saw real pixels.
# With stride 2 a shift by an odd number of pixels cannot be represented on the coarser output
# grid, so the output changes almost everywhere (we shift it by half the input shift, rounded).
fig, axes = plt.subplots(1, 3, figsize=(11, 4.2))
for ax, (name, layer) in zip(axes, layers.items()):
    out_shift = shift if "stride" not in name else (shift[0] // 2, shift[1] // 2)
    diff = (layer(torch.roll(x, shift, (2, 3))) - torch.roll(layer(x), out_shift, (2, 3))).abs()[0, 0]
    ax.imshow(diff.numpy(), cmap="magma", vmin=0, vmax=1)
    ax.set_title(f"{name}: max {diff.max().item():.2f}")
    ax.set_xlabel("output x")
    ax.set_ylabel("output y")
    ax.grid(False)
fig.suptitle("|conv(shift(x)) - shift(conv(x))| for one filter")

# %%
# Weights do not depend on the image size
# ---------------------------------------
# The same four 5x5 filters work on an image of any size, while a dense layer that maps the image to
# four maps of the same size needs one weight per pair of pixels.
for n in (32, 128, 512):
    dense = (n * n) * (4 * n * n)
    print(f"{n:3d}x{n:<3d} image: convolution {w.numel():4d} weights, dense layer {dense:,} weights")

# %%
# Takeaway
# --------
# Convolutions suit images because they are local and share their weights across positions: the
# parameter count does not grow with the image, and a shifted input gives a shifted output (exactly
# with circular padding, up to the borders with zero padding, and only for shifts that are multiples
# of the stride once the layer downsamples). See :func:`nnfaq.convnets.convolution.commutes_with_shift`.

plt.show()
