"""
Why decay the learning rate, and why warm it up?
================================================

PyTorch's step, cosine and linear-warmup schedules, drawn from the closed formulas in
:mod:`nnfaq.training.schedules` (which equal the schedulers' values step for step), and what a
decaying rate buys on the simplest noisy problem: SGD on a quadratic with noisy gradients.

*To run this example yourself:* ``pip install "nnfaq[examples]"`` (PyTorch, matplotlib,
scikit-learn); it runs on a laptop CPU in a few seconds.
"""

# %%
# Three schedules
# ---------------
# Step decay divides the rate by 10 after 100 steps; cosine annealing lowers it smoothly to 0 over
# 200 steps; warmup then cosine raises it linearly over the first 20 steps first.
import matplotlib.pyplot as plt
import torch

from nnfaq.training.schedules import cosine_annealing_lr, linear_lr, step_lr

torch.set_num_threads(1)  # small tensors: more threads would only contend
torch.manual_seed(0)
T = 200
schedules = {
    "constant": [0.1] * T,
    "step (x0.1 every 100)": [step_lr(0.1, t, 100) for t in range(T)],
    "cosine": [cosine_annealing_lr(0.1, t, T) for t in range(T)],
    "warmup 20 + cosine": [
        linear_lr(0.1, t, 0.05, 1.0, 20) if t < 20 else cosine_annealing_lr(0.1, t - 20, T - 20) for t in range(T)
    ],
}
fig, ax = plt.subplots()
for name, lrs in schedules.items():
    ax.plot(lrs, label=name)
ax.set_xlabel("step")
ax.set_ylabel("learning rate")
ax.set_title("Learning-rate schedules")
ax.legend()

# %%
# A constant rate stalls at a noise floor
# ---------------------------------------
# SGD on ``w^2 / 2`` with unit gradient noise, 2000 independent coordinates, the same 200 steps
# and the same noise for every schedule. The constant rate stops improving at a floor proportional
# to the rate; every decaying schedule ends well below it.
noise = torch.randn(T, 2000, dtype=torch.float64)
curves = {}
for name, lrs in schedules.items():
    w, curve = torch.ones(2000, dtype=torch.float64), []
    for lr, xi in zip(lrs, noise):
        w = w - lr * (w + xi)
        curve.append((0.5 * w**2).mean().item())
    curves[name] = curve
constant = curves["constant"][-1]
for name in list(schedules)[1:]:
    print(f"{name} ends below 30% of the constant rate's loss:", curves[name][-1] < 0.3 * constant)

fig, ax = plt.subplots()
for name, curve in curves.items():
    ax.semilogy(curve, label=name)
ax.set_xlabel("step")
ax.set_ylabel("loss (mean over coordinates)")
ax.set_title("Decaying the rate lowers the noise floor")
ax.legend()

# %%
# Takeaway
# --------
# With noisy gradients a constant learning rate bounces at a loss proportional to the rate, so
# schedules start large and decay: step decay at fixed epochs, cosine smoothly. Warmup keeps the
# first steps small, which adaptive optimizers need while their statistics settle. See
# :func:`nnfaq.training.schedules.cosine_annealing_lr` and
# :func:`nnfaq.training.schedules.linear_lr`.

plt.show()
