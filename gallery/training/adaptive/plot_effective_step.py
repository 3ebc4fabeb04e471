"""
How do Adagrad, RMSprop and Adam scale their steps?
===================================================

Each adaptive optimizer divides the gradient by a running measure of its size. Fed the same
constant gradient, their step sizes show the difference: Adagrad's sum keeps growing, RMSprop's
moving average settles (after an oversized start), Adam's bias correction removes that start.

*To run this example yourself:* ``pip install "nnfaq[examples]"`` (PyTorch, matplotlib,
scikit-learn); it runs on a laptop CPU in a few seconds.
"""

# %%
# Step size under a constant gradient
# -----------------------------------
# The gradient is 1 at every step and the learning rate 0.01; we record how far each optimizer
# moves the parameter. Adagrad decays like ``lr / sqrt(t)``; RMSprop starts at ``10 lr`` (its
# average starts at zero, ``1 / sqrt(1 - 0.99)``) and settles at ``lr``; Adam steps ``lr`` from
# the first step.
import matplotlib.pyplot as plt
import torch

from nnfaq.training.adaptive import adagrad_step, rmsprop_step

torch.set_num_threads(1)  # small tensors: more threads would only contend
torch.manual_seed(0)
steps, lr = 1000, 0.01
g = torch.ones(1, dtype=torch.float64)
sizes = {"Adagrad": [], "RMSprop": [], "Adam": []}
w_a, s_a = torch.zeros(1, dtype=torch.float64), {}
w_r, s_r = torch.zeros(1, dtype=torch.float64), {}
p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
adam = torch.optim.Adam([p], lr=lr)
for _ in range(steps):
    new = adagrad_step(w_a, g, s_a, lr=lr)
    sizes["Adagrad"].append((w_a - new).item())
    w_a = new
    new = rmsprop_step(w_r, g, s_r, lr=lr)
    sizes["RMSprop"].append((w_r - new).item())
    w_r = new
    before = p.detach().clone()
    p.grad = g.clone()
    adam.step()
    sizes["Adam"].append((before - p.detach()).item())

print("Adagrad's step after 100 steps is lr / 10:", abs(sizes["Adagrad"][99] - lr / 10) < 1e-9)
print("RMSprop's first step is 10 lr:", abs(sizes["RMSprop"][0] - 10 * lr) < 1e-6)
print("RMSprop and Adam end at lr:", abs(sizes["RMSprop"][-1] - lr) < 1e-6, abs(sizes["Adam"][-1] - lr) < 1e-6)

fig, ax = plt.subplots()
for name, s in sizes.items():
    ax.loglog(range(1, steps + 1), s, label=name)
ax.axhline(lr, color="k", lw=0.8, ls="--", label="lr")
ax.set_xlabel("step")
ax.set_ylabel("step size")
ax.set_title("Adaptive step sizes under a constant gradient")
ax.legend()

# %%
# Takeaway
# --------
# Adagrad divides by the root of a growing sum, so its effective learning rate decays for ever;
# RMSprop uses a moving average, which adapts but, without bias correction, overshoots at the
# start; Adam is RMSprop with momentum and bias correction. See
# :func:`nnfaq.training.adaptive.adagrad_step` and :func:`nnfaq.training.adaptive.rmsprop_step`.

plt.show()
