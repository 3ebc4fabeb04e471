"""
How can a neural network reduce dimensionality?
===============================================

An autoencoder squeezes each 64-pixel digit through a 2-number bottleneck and learns to rebuild it. A
linear autoencoder finds the same plane as PCA; one with a hidden layer can bend its code to the data.
This page trains both on scikit-learn's bundled 8x8 digits and draws their 2-D codes beside PCA's.
"""

# %%
# Reconstruction error with a 2-number code
# -----------------------------------------
# Eckart-Young says no linear map through 2 numbers beats PCA, so the linear autoencoder should tie with
# it, while the non-linear one (one tanh layer of 64 units on each side) should do better.
import matplotlib.pyplot as plt
import torch

from nnfaq.datasets import load_digits
from nnfaq.representations import pca, train_autoencoder

torch.manual_seed(0)
digits = load_digits(dtype=torch.float64)
x, labels = digits.x_train.flatten(1), digits.y_train  # (B, 64)
x_val = digits.x_val.flatten(1)


def error(encoder, decoder, data):
    return (decoder(encoder(data)) - data).pow(2).sum(1).mean().item()


mean, V = pca(x, 2)
linear = train_autoencoder(x, latent=2, max_iter=100)
deep = train_autoencoder(x, latent=2, hidden=64, max_iter=150)
models = {"PCA": (lambda t: (t - mean) @ V.T, lambda z: z @ V + mean), "linear AE": linear, "non-linear AE": deep}
for name, (enc, dec) in models.items():
    print(f"{name:>14}: train error {error(enc, dec, x):.2f}, validation error {error(enc, dec, x_val):.2f}")

# %%
# The 2-D codes, coloured by digit
# --------------------------------
# PCA's plane overlaps many digits; the non-linear code separates more of them into their own regions,
# although it never saw a label. Its axes mean nothing in particular: any rotation of them would do.
fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
codes = {"PCA (= linear autoencoder's plane)": (x - mean) @ V.T, "non-linear autoencoder": deep[0](x)}
for ax, (title, z) in zip(axes, codes.items()):
    points = ax.scatter(z[:, 0], z[:, 1], c=labels, cmap="tab10", s=6, vmin=-0.5, vmax=9.5)
    ax.set_xlabel("code 1")
    ax.set_ylabel("code 2")
    ax.set_title(title)
fig.colorbar(points, ax=axes, ticks=range(10), label="digit")
fig.suptitle("64 pixels squeezed into 2 numbers")

# %%
# Takeaway
# --------
# A network reduces dimensionality when it is trained to reconstruct its input through a narrow
# bottleneck: the bottleneck's values are the learned low-dimensional code. A linear autoencoder spans
# PCA's subspace; non-linear layers can follow curved structure. Pooling layers are not this. See
# :func:`nnfaq.representations.train_autoencoder` and :func:`nnfaq.representations.pca`.
