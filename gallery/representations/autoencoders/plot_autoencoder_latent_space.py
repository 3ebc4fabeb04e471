"""
How can a neural network reduce dimensionality?
===============================================

An autoencoder squeezes each 64-pixel digit through a 2-number bottleneck and learns to rebuild it. A
linear autoencoder finds the same plane as PCA; one with a hidden layer can bend its code to the data.
This page trains both on scikit-learn's bundled 8x8 digits and draws their 2-D codes beside PCA's.

*To run this example yourself:* ``pip install "nnfaq[examples]"`` (PyTorch, matplotlib,
scikit-learn); it runs on a laptop CPU in a few seconds.
"""

# %%
# Reconstruction error with a 2-number code
# -----------------------------------------
# Eckart-Young says no linear map through 2 numbers beats PCA, so the linear autoencoder should tie with
# it, while the non-linear one (one tanh layer of 64 units on each side, trained on the first 500 training
# images) should do better, on the validation images too.
import matplotlib.pyplot as plt
import torch

from nnfaq.datasets import load_digits
from nnfaq.representations.autoencoders import pca, train_autoencoder

torch.manual_seed(0)
torch.set_num_threads(1)  # small tensors: more threads would only contend
digits = load_digits(dtype=torch.float64)
x, labels = digits.x_train.flatten(1), digits.y_train  # (B, 64)
x_val = digits.x_val.flatten(1)


def error(encoder, decoder, data):
    return (decoder(encoder(data)) - data).pow(2).sum(1).mean().item()


mean, V = pca(x, 2)
linear = train_autoencoder(x, latent=2, max_iter=150)
deep = train_autoencoder(x[:500], latent=2, hidden=64, max_iter=100)  # 500 images: seconds, not minutes
models = {"PCA": (lambda t: (t - mean) @ V.T, lambda z: z @ V + mean), "linear AE": linear, "non-linear AE": deep}
errors = {name: (error(enc, dec, x), error(enc, dec, x_val)) for name, (enc, dec) in models.items()}
print(
    "linear AE ties with PCA on the training set (within 1%):",
    abs(errors["linear AE"][0] / errors["PCA"][0] - 1) < 0.01,
)
print(
    "non-linear AE beats PCA by over 10%, on training and validation images:",
    all(errors["non-linear AE"][i] < 0.9 * errors["PCA"][i] for i in (0, 1)),
)

fig, ax = plt.subplots()
for i, split in enumerate(("train", "validation")):
    ax.bar([j + 0.4 * i for j in range(3)], [errors[name][i] for name in models], width=0.4, label=split)
ax.set_xticks([j + 0.2 for j in range(3)], list(models))
ax.set_ylabel("mean squared reconstruction error")
ax.set_title("Reconstruction through a 2-number code")
ax.legend()

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
# :func:`nnfaq.representations.autoencoders.train_autoencoder` and
# :func:`nnfaq.representations.autoencoders.pca`.

plt.show()
