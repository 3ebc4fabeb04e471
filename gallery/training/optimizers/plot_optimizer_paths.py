"""
How do momentum and Adam change the path to the minimum?
========================================================

On an ill-conditioned loss, :math:`f(w) = \\frac12(w_1^2 + 25 w_2^2)`, the gradient points mostly
across the narrow valley, not along it. This page runs SGD, SGD with momentum, and Adam (all from
:mod:`nnfaq.training.optimizers`, which match ``torch.optim`` step for step) and draws their paths.

*To run this example yourself:* ``pip install "nnfaq[examples]"`` (PyTorch, matplotlib,
scikit-learn); it runs on a laptop CPU in a few seconds.
"""

# %%
# Paths on the contour plot
# -------------------------
# Plain SGD is limited by the steep direction: a larger rate would diverge there, so it crawls
# along the shallow one. Momentum builds up speed along the valley. Adam takes steps of about
# ``lr`` in each coordinate, so it heads diagonally at first, then circles the minimum.
import matplotlib.pyplot as plt
import torch

from nnfaq.training.optimizers import adam_step, sgd_step

torch.manual_seed(0)
torch.set_num_threads(1)  # small tensors: more threads would only contend
A = torch.tensor([1.0, 25.0], dtype=torch.float64)


def loss(w):
    return 0.5 * (A * w**2).sum(-1)


def path(step, n=60, **hyper):
    w, state, ws = torch.tensor([-9.0, 1.5], dtype=torch.float64), {}, []
    for _ in range(n + 1):
        ws.append(w)
        w = step(w, A * w, state, **hyper)  # the gradient of f is A * w
    return torch.stack(ws)  # (n + 1, 2)


runs = {
    "SGD lr=0.035": path(sgd_step, lr=0.035),
    "SGD + momentum 0.7": path(sgd_step, lr=0.035, momentum=0.7),
    "Adam lr=0.5": path(adam_step, lr=0.5),
}
g1, g2 = torch.meshgrid(torch.linspace(-10, 2, 200), torch.linspace(-2.5, 2.5, 200), indexing="xy")
fig, ax = plt.subplots()
ax.contour(g1, g2, loss(torch.stack([g1, g2], -1).double()), levels=20, colors="lightgray", linewidths=0.8)
for name, ws in runs.items():
    ax.plot(ws[:, 0], ws[:, 1], "o-", ms=2.5, lw=1.2, label=name)
ax.plot(0, 0, "k*", ms=12)
ax.set_xlabel("w1 (shallow direction)")
ax.set_ylabel("w2 (steep direction)")
ax.set_title("60 steps on f = (w1² + 25 w2²) / 2")
ax.legend(loc="upper right")

# %%
# Loss against step
# -----------------
# The same runs as loss curves: momentum reaches a loss more than seven orders of magnitude below
# plain SGD's. Adam also beats SGD, but with a fixed learning rate its steps stay about ``lr`` in size,
# so it keeps oscillating around the minimum (a decaying schedule would settle it).
fig, ax = plt.subplots()
for name, ws in runs.items():
    ax.semilogy(loss(ws), label=name)
ax.set_xlabel("step")
ax.set_ylabel("loss (log scale)")
ax.set_title("Momentum converges fastest; Adam beats SGD but oscillates")
ax.legend()
sgd, momentum, adam = (loss(ws) for ws in runs.values())
print("momentum's loss after 60 steps is below 1e-7 times SGD's:", bool(momentum[-1] < 1e-7 * sgd[-1]))
print("Adam's loss after 60 steps is below SGD's:", bool(adam[-1] < sgd[-1]))
print("Adam still oscillates (its loss rose during the last 10 steps):", bool((adam[-10:].diff() > 0).any()))

# %%
# Takeaway
# --------
# Momentum accumulates gradients that keep their direction and cancels those that flip, so it
# moves along narrow valleys much faster than SGD at the same learning rate. Adam rescales each
# coordinate by its own gradient history, so its steps have size about ``lr`` whatever the
# gradient's scale. See :func:`nnfaq.training.optimizers.sgd_step` and :func:`nnfaq.training.optimizers.adam_step`.
plt.show()
