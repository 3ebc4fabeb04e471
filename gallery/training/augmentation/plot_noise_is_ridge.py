"""
What does data augmentation do to a model?
==========================================

Augmentation trains on transformed copies of the data. For a linear model two effects can be
seen exactly: input noise shrinks the weights as ridge regression does, and mirror-flip
augmentation makes the fitted weights mirror-symmetric.

*To run this example yourself:* ``pip install "nnfaq[examples]"`` (PyTorch, matplotlib,
scikit-learn); it runs on a laptop CPU in a few seconds.
"""

# %%
# Input noise is ridge regression
# -------------------------------
# 30 examples with 8 features, least squares on 500 noisy copies of the inputs for increasing
# noise levels, against ridge regression with ``lambda = N sigma^2``. The weights shrink
# together.
import itertools

import matplotlib.pyplot as plt
import torch

from nnfaq.training.augmentation import augment

torch.set_num_threads(1)  # small tensors: more threads would only contend
torch.manual_seed(0)
N, D = 30, 8
x = torch.randn(N, D, dtype=torch.float64)
y = x @ torch.randn(D, 1, dtype=torch.float64) + 0.5 * torch.randn(N, 1, dtype=torch.float64)
sigmas = [0.0, 0.25, 0.5, 1.0, 2.0]
noise_norms, ridge_norms, gaps = [], [], []
for sigma in sigmas:
    xn, yn = augment(x, y, [lambda t, s=sigma: t + s * torch.randn_like(t) for _ in range(500)])
    w_noise = torch.linalg.lstsq(xn, yn).solution
    w_ridge = torch.linalg.solve(x.T @ x + N * sigma**2 * torch.eye(D, dtype=torch.float64), x.T @ y)
    noise_norms.append(w_noise.norm().item())
    ridge_norms.append(w_ridge.norm().item())
    gaps.append(((w_noise - w_ridge).norm() / w_ridge.norm()).item())
print("noise-augmented weights within 10% of ridge's at every noise level:", max(gaps) < 0.1)
print("more noise, smaller weights:", all(a > b for a, b in itertools.pairwise(noise_norms)))

fig, ax = plt.subplots()
ax.plot(sigmas, ridge_norms, "-", label="ridge, lambda = N sigma^2")
ax.plot(sigmas, noise_norms, "o", label="least squares on noisy copies")
ax.set_xlabel("input noise sigma")
ax.set_ylabel("|w|")
ax.set_title("Noise augmentation shrinks the weights like ridge")
ax.legend()

# %%
# Flips make the model flip-invariant
# -----------------------------------
# Treat each example as a 1 x 8 image. Fitted to the originals the weights have no symmetry;
# fitted to the originals plus their mirror images they are mirror-symmetric, so an image and
# its mirror get the same prediction.
xa, ya = augment(x, y, [lambda t: t, lambda t: t.flip(-1)])
w_plain = torch.linalg.lstsq(x, y).solution
w_flip = torch.linalg.lstsq(xa, ya).solution
print("flip-augmented weights are mirror-symmetric:", torch.allclose(w_flip, w_flip.flip(0)))

fig, ax = plt.subplots()
ax.bar(torch.arange(D) - 0.2, w_plain.flatten(), width=0.4, label="originals only")
ax.bar(torch.arange(D) + 0.2, w_flip.flatten(), width=0.4, label="with mirror images")
ax.set_xlabel("pixel")
ax.set_ylabel("weight")
ax.set_title("Flip augmentation gives symmetric weights")
ax.legend()

# %%
# Takeaway
# --------
# Augmentation changes the data the model is fitted to: it averages the data over the
# transformations, which pushes the model towards invariance to them, and input noise acts as a
# penalty on the weights. See :func:`nnfaq.training.augmentation.augment`.

plt.show()
