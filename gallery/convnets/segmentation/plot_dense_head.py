"""
Why is replacing the last layer not enough for segmentation?
============================================================

A classifier's backbone shrinks a 64x64 image to a 2x2 feature map. Scoring that map with a
convolution gives four labels, not a label per pixel; an FCN-style head upsamples the scores to
the input's size. This page draws a target mask, the best the coarse head can do, and what the
upsampled head can represent.

*To run this example yourself:* ``pip install "nnfaq[examples]"`` (PyTorch, matplotlib,
scikit-learn); it runs on a laptop CPU in a few seconds.
"""

# %%
# The best coarse prediction
# --------------------------
# A disc mask on a 64x64 image. A 2x2 score map, however it is trained, can only paint four
# blocks, or after bilinear upsampling a smooth blend of four basis images. We fit both to the
# mask by least squares and measure the pixel accuracy of the best possible prediction.
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from nnfaq.convnets.segmentation import fcn_head

torch.manual_seed(0)
torch.set_num_threads(1)  # small tensors: more threads would only contend
H = 64
yy, xx = torch.meshgrid(torch.arange(H), torch.arange(H), indexing="ij")
mask = (((yy - 24) ** 2 + (xx - 40) ** 2) < 15**2).double()  # (64, 64)


def best_fit(coarse):
    """The least-squares fit of the mask by bilinear upsampling of a coarse map of this size."""
    n = coarse * coarse
    basis = F.interpolate(
        torch.eye(n, dtype=torch.float64).reshape(n, 1, coarse, coarse), size=(H, H), mode="bilinear"
    ).reshape(n, -1)  # (n, H*H)
    coef = torch.linalg.lstsq(basis.T, mask.reshape(-1, 1)).solution
    return (basis.T @ coef).reshape(H, H)


fits = {c: best_fit(c) for c in (2, 8, 32)}
accuracy = {c: ((f > 0.5).double() == mask).double().mean().item() for c, f in fits.items()}
print("finer score maps can draw the mask better:", accuracy[2] < accuracy[8] < accuracy[32])

fig, axes = plt.subplots(1, 4, figsize=(12, 3))
axes[0].imshow(mask, cmap="gray")
axes[0].set_title("target mask")
for ax, (c, f) in zip(axes[1:], fits.items()):
    ax.imshow(f > 0.5, cmap="gray")
    ax.set_title(f"from {c}x{c} scores: {100 * accuracy[c]:.0f}%")
for ax in axes:
    ax.axis("off")

# %%
# The head's shapes
# -----------------
# A random stride-32 backbone, a 1x1 scoring convolution for 3 classes, and the upsampling to
# the image: per-pixel logits that ``cross_entropy`` takes with a ``(B, H, W)`` mask.
layers = []
for i in range(5):
    layers += [torch.nn.Conv2d(3 if i == 0 else 8, 8, 3, stride=2, padding=1), torch.nn.ReLU()]
backbone = torch.nn.Sequential(*layers)
feats = backbone(torch.randn(1, 3, H, H))
W = torch.randn(3, 8)
print(
    "features:",
    tuple(feats.shape),
    "coarse scores:",
    tuple(fcn_head(feats, W).shape),
    "per-pixel logits:",
    tuple(fcn_head(feats, W, size=(H, H)).shape),
)

# %%
# Takeaway
# --------
# A convolution in place of the classifier's last layer scores the backbone's coarse grid; a
# segmentation head must upsample to every pixel, and skip connections from finer layers (FCN-8s,
# U-Net) supply the detail a coarse map cannot hold. See
# :func:`nnfaq.convnets.segmentation.fcn_head`.

plt.show()
