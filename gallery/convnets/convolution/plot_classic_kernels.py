"""
How does a convolutional layer compute its output? Classic kernels on a photograph
==================================================================================

Before networks learned their filters, image processing designed them by hand: a box filter blurs,
a Sobel filter finds edges, a Laplacian sharpens. Each is a small weight tensor, and applying it is
exactly what a convolutional layer does: slide the kernel over the image and take a dot product at
every position. Here the kernels go through :func:`nnfaq.convnets.convolution.conv2d`, the from-scratch
im2col implementation, on a photograph that ships with scikit-learn.

*To run this example yourself:* ``pip install "nnfaq[examples]"`` (PyTorch, matplotlib,
scikit-learn); it runs on a laptop CPU in a few seconds.
"""

# %%
# The photograph
# --------------
# scikit-learn's sample photograph of a Chinese temple, as a ``(3, 427, 640)`` tensor in [0, 1],
# converted to grey levels; we keep the 240x360 part with the temple. Reading it needs no download.
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from nnfaq.convnets.convolution import conv2d
from nnfaq.datasets import load_sample_images

torch.manual_seed(0)
torch.set_num_threads(1)  # small tensors: more threads would only contend
rgb = load_sample_images()[0]  # (3, H, W)
gray = (0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2])[None, None, 60:300, 0:360]  # (1, 1, H, W)
print("image:", tuple(gray.shape))

# %%
# The same numbers as PyTorch
# ---------------------------
# Our im2col convolution and ``F.conv2d`` should agree to float32 rounding on the whole image (their last
# digits differ from CPU to CPU, so we print the claim, not the difference).
sobel_x = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
ours = conv2d(gray, sobel_x[None, None], padding=1)
print("ours equals F.conv2d:", torch.allclose(ours, F.conv2d(gray, sobel_x[None, None], padding=1), atol=1e-5))

# %%
# Four kernels, one layer
# -----------------------
# Stacking the kernels as four output channels makes them one convolutional layer with weight
# ``(4, 1, K, K)``. Expect: the 9x9 box blurs, the two Sobel filters light up vertical and
# horizontal edges (positive on one side of an edge, negative on the other), and the Laplacian
# responds to fine detail everywhere. ``padding="same"`` pads with zeros, so the edge filters also
# see an edge along the image border, and the blur darkens it.
box = torch.full((9, 9), 1 / 81)
laplacian = torch.tensor([[0.0, -1.0, 0.0], [-1.0, 4.0, -1.0], [0.0, -1.0, 0.0]])
pad9 = lambda k: F.pad(k, (3, 3, 3, 3))  # noqa: E731 - centre a 3x3 kernel in 9x9 so all share one weight
weight = torch.stack([box, pad9(sobel_x), pad9(sobel_x.T), pad9(laplacian)])[:, None]  # (4, 1, 9, 9)
out = conv2d(gray, weight, padding="same")[0]  # (4, H, W)

fig, axes = plt.subplots(2, 3, figsize=(11, 7))
panels = [("input", gray[0, 0], "gray")] + [
    (name, out[i], cmap)
    for i, (name, cmap) in enumerate(
        [
            ("9x9 box blur", "gray"),
            ("Sobel x (vertical edges)", "RdBu"),
            ("Sobel y (horizontal edges)", "RdBu"),
            ("Laplacian (detail)", "RdBu"),
        ]
    )
]
for ax, (name, img, cmap) in zip(axes.flat, panels):
    lim = img.abs().quantile(0.99).item() if cmap == "RdBu" else None
    ax.imshow(img.numpy(), cmap=cmap, vmin=-lim if lim else None, vmax=lim, extent=(0, 360, 300, 60))
    ax.set_title(name)
    ax.set_xlabel("x (pixels)")
    ax.set_ylabel("y (pixels)")
    ax.grid(False)
axes.flat[-1].axis("off")
fig.suptitle("One convolutional layer with four hand-made filters")

# %%
# A separable kernel costs 2K, not K²
# -----------------------------------
# The box filter is an outer product of a column and a row, so a 9x1 pass followed by a 1x9 pass
# gives the same image with 18 weights instead of 81: the idea behind spatially separable
# convolutions.
column = torch.full((1, 1, 9, 1), 1 / 9)
two_pass = conv2d(conv2d(gray, column, padding="same"), column.transpose(2, 3), padding="same")
print("separable blur equals the 9x9 blur:", torch.allclose(two_pass[0, 0], out[0], atol=1e-5))

# %%
# Takeaway
# --------
# A convolutional layer slides each filter over the image and takes a dot product with the window
# under it (a cross-correlation), summing over input channels; im2col turns all windows into one
# matrix product. A network learns these filters instead of having them designed, and its first
# layer typically ends up with edge and blob detectors much like these. See
# :func:`nnfaq.convnets.convolution.conv2d`.

plt.show()
