"""
How would you prevent a neural network from overfitting?
========================================================

A network much larger than its data can fit the noise. Here a two-hidden-layer MLP learns a noisy
sine wave from 24 points; we compare training and validation error with no regularization, with
dropout, with weight decay (an L2 penalty), and with early stopping.
"""

# %%
# The data: 24 noisy training points
# -----------------------------------
# The validation set comes from the same curve and noise. A model that overfits will thread every
# training point and get worse on the validation points.
import matplotlib.pyplot as plt
import torch
from torch import nn

from nnfaq.regularization import dropout, early_stopping, l2_penalty

torch.manual_seed(0)


def sample(n):
    x = torch.rand(n, 1) * 6 - 3
    return x, torch.sin(x) + 0.3 * torch.randn(n, 1)


x_train, y_train = sample(24)
x_val, y_val = sample(400)


class MLP(nn.Module):
    """1 -> 128 -> 128 -> 1 (tanh) with optional dropout after each hidden layer."""

    def __init__(self, p=0.0):
        super().__init__()
        self.fc1, self.fc2, self.out = nn.Linear(1, 128), nn.Linear(128, 128), nn.Linear(128, 1)
        self.p = p

    def forward(self, x):
        h = dropout(torch.tanh(self.fc1(x)), self.p, self.training)
        h = dropout(torch.tanh(self.fc2(h)), self.p, self.training)
        return self.out(h)


def train(p=0.0, weight_decay=0.0, epochs=1000):
    torch.manual_seed(1)
    model = MLP(p)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    train_curve, val_curve = [], []
    for _ in range(epochs):
        model.train()
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x_train), y_train)
        (loss + l2_penalty(model.parameters(), weight_decay)).backward()
        opt.step()
        model.eval()
        with torch.no_grad():
            train_curve.append(nn.functional.mse_loss(model(x_train), y_train).item())
            val_curve.append(nn.functional.mse_loss(model(x_val), y_val).item())
    return model, train_curve, val_curve


runs = {
    "no regularization": train(),
    "dropout p=0.3": train(p=0.3),
    "L2 penalty 1e-3": train(weight_decay=1e-3),
}

# %%
# Training and validation curves
# ------------------------------
# Without regularization the training error keeps falling while the validation error turns up:
# the signature of overfitting. Dropout and the L2 penalty keep the two curves closer. Early
# stopping (the dot) keeps the unregularized weights from the epoch with the lowest validation
# error.
fig, ax = plt.subplots()
for (name, (_, tr, va)), color in zip(runs.items(), ["C0", "C1", "C2"]):
    ax.plot(tr, color=color, ls="--", lw=1)
    ax.plot(va, color=color, label=name)
_, _, val_none = runs["no regularization"]
best, stop = early_stopping(val_none, patience=100)
ax.plot([best], [val_none[best]], "ko", label=f"early stopping keeps epoch {best}")
ax.set_yscale("log")
ax.set_xlabel("epoch")
ax.set_ylabel("MSE (dashed: train, solid: validation)")
ax.set_title("Regularization narrows the train/validation gap")
ax.legend()

for name, (_, tr, va) in runs.items():
    print(f"{name:18s} final train {tr[-1]:.3f}  validation {va[-1]:.3f}")
print(f"early stopping     best epoch {best}, validation {val_none[best]:.3f} (stops at epoch {stop})")

# %%
# The fitted functions
# --------------------
# The unregularized fit wiggles through the noise; the regularized fits stay closer to the sine.
grid = torch.linspace(-3, 3, 300).unsqueeze(1)
fig, ax = plt.subplots()
ax.plot(grid, torch.sin(grid), "k", lw=1, label="true function")
ax.plot(x_train, y_train, "ko", ms=4, label="training points")
for name, (model, _, _) in runs.items():
    model.eval()
    with torch.no_grad():
        ax.plot(grid, model(grid), label=name)
ax.set_xlabel("x")
ax.set_ylabel("y")
ax.set_title("What each model learned")
ax.legend()

# %%
# Takeaway
# --------
# Overfitting is a gap between training and validation error. More (or augmented) data attacks
# the cause; a smaller model, weight decay, dropout and early stopping limit what the model can
# memorize. Choose among them on a validation set. See
# :func:`nnfaq.regularization.early_stopping`, :func:`nnfaq.regularization.dropout` and
# :func:`nnfaq.regularization.l2_penalty`.
