"""
How would you prevent a neural network from overfitting?
========================================================

A network much larger than its data can fit the noise. Here eight small MLPs (two hidden layers of
64 tanh units) each learn a noisy sine from 16 points, with no regularization, with dropout and
with an L2 penalty, and early stopping reads their validation curves. The comparison is fair: every
setting trains the same eight networks from the same initial weights on the same data, with the
same optimizer, learning rate and number of steps (:func:`nnfaq.training.regularization.fit_noisy_sine`).

*To run this example yourself:* ``pip install "nnfaq[examples]"`` (PyTorch, matplotlib,
scikit-learn); it runs on a laptop CPU in a few seconds.
"""

# %%
# Training and validation curves
# ------------------------------
# Without regularization the training error keeps falling towards the noise-free fit of 16 noisy
# points while the validation error stops improving: the signature of overfitting. Dropout and the
# L2 penalty keep the training error higher. The curves are the mean over the eight runs.
import matplotlib.pyplot as plt
import torch

from nnfaq.training.regularization import early_stopping, fit_noisy_sine

torch.manual_seed(0)
torch.set_num_threads(1)  # small tensors: more threads would only contend
settings = {"no regularization": {}, "dropout p=0.3": {"p": 0.3}, "L2 penalty 1e-3": {"weight_decay": 1e-3}}
runs = {name: fit_noisy_sine(**kwargs, runs=8, steps=300, eval_every=10) for name, kwargs in settings.items()}

fig, ax = plt.subplots()
steps = torch.arange(10, 301, 10)
for (name, run), color in zip(runs.items(), ["C0", "C1", "C2"]):
    ax.plot(steps, run.train_loss.mean(0), color=color, ls="--", lw=1)
    ax.plot(steps, run.val_loss.mean(0), color=color, label=name)
ax.set_yscale("log")
ax.set_xlabel("Adam step")
ax.set_ylabel("MSE, mean of 8 runs (dashed: train, solid: validation)")
ax.set_title("What each regularizer does to the two errors")
ax.legend()

none, drop, l2 = runs.values()
print(
    "dropout raises the final training error in every run:",
    bool((drop.train_loss[:, -1] > none.train_loss[:, -1]).all()),
)
print("so does the L2 penalty:", bool((l2.train_loss[:, -1] > none.train_loss[:, -1]).all()))

# %%
# A tendency, not a guarantee
# ---------------------------
# Each dot is one run: its final validation error without regularization (x) and with dropout (y).
# Below the diagonal dropout helped, above it dropout hurt. On this small problem it does both:
# dropout is a regularizer that tends to reduce overfitting, and a validation set decides whether it
# helps on yours.
fig, ax = plt.subplots()
ax.scatter(none.val_loss[:, -1], drop.val_loss[:, -1], label="dropout p=0.3")
ax.scatter(none.val_loss[:, -1], l2.val_loss[:, -1], marker="s", label="L2 penalty 1e-3")
lims = [
    min(none.val_loss.min(), drop.val_loss.min()).item() * 0.9,
    max(none.val_loss.max(), drop.val_loss.max()).item() * 1.1,
]
ax.plot(lims, lims, "k:", lw=1)
ax.set_xlabel("validation MSE without regularization")
ax.set_ylabel("validation MSE with it")
ax.set_title("Eight runs: below the diagonal, the regularizer helped")
ax.legend()
helped = drop.val_loss[:, -1] < none.val_loss[:, -1]
print("dropout lowers the validation error in some runs but not all:", bool(helped.any() and not helped.all()))

# %%
# Early stopping
# --------------
# Early stopping keeps the weights of the evaluation with the lowest validation error and stops
# once it has not improved for ``patience`` evaluations; it needs no change to the model. For each
# unregularized run, we compare the validation error it keeps with the one at the last step.
kept = []
for curve in none.val_loss:
    best, _ = early_stopping(curve.tolist(), patience=5)
    kept.append(curve[best].item())
print(
    "early stopping never keeps a worse validation error than the last step:",
    all(k <= v.item() for k, v in zip(kept, none.val_loss[:, -1])),
)

# %%
# Takeaway
# --------
# Overfitting is a gap between training and validation error. More (or augmented) data attacks the
# cause; a smaller model, weight decay, dropout and early stopping limit what the model can
# memorize. Each is a tendency, not a guarantee: choose among them on a validation set. See
# :func:`nnfaq.training.regularization.early_stopping`, :func:`nnfaq.training.regularization.dropout` and
# :func:`nnfaq.training.regularization.l2_penalty`.
plt.show()
