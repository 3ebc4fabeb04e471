"""
What is the smallest network that computes XOR?
===============================================

No line separates XOR's ones from its zeros; two ReLU units do. This page draws the output of
the best linear fit and of the hand-built two-unit network over the unit square, and the hidden
layer's view of the four points, where the problem has become linear.

*To run this example yourself:* ``pip install "nnfaq[examples]"`` (PyTorch, matplotlib,
scikit-learn); it runs on a laptop CPU in a few seconds.
"""

# %%
# The best line against two ReLU units
# ------------------------------------
# Least squares on the four points gives 0.5 everywhere; the network of
# :func:`nnfaq.foundations.xor.xor_network` gives exactly 0, 1, 1, 0.
import matplotlib.pyplot as plt
import torch

from nnfaq.foundations.xor import xor_network

torch.manual_seed(0)
torch.set_num_threads(1)  # small tensors: more threads would only contend
corners = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
labels = torch.tensor([0.0, 1.0, 1.0, 0.0], dtype=torch.float64)
A = torch.cat([corners, torch.ones(4, 1, dtype=torch.float64)], dim=1)
w = torch.linalg.lstsq(A, labels[:, None]).solution
net = xor_network(dtype=torch.float64)
print(
    "best linear fit predicts 0.5 at every corner:", torch.allclose(A @ w, torch.full((4, 1), 0.5, dtype=torch.float64))
)
print("the network computes XOR exactly:", torch.equal(net(corners).flatten(), labels))

grid = torch.linspace(-0.25, 1.25, 121, dtype=torch.float64)
gx, gy = torch.meshgrid(grid, grid, indexing="xy")
points = torch.stack([gx.flatten(), gy.flatten()], dim=1)
linear_out = (torch.cat([points, torch.ones(len(points), 1, dtype=torch.float64)], 1) @ w).reshape(121, 121)
with torch.no_grad():
    net_out = net(points).reshape(121, 121)

fig, axes = plt.subplots(1, 2, figsize=(9, 4))
for ax, out, title in zip(axes, (linear_out, net_out), ("best linear model", "two ReLU hidden units")):
    im = ax.contourf(gx, gy, out, levels=torch.linspace(-0.5, 1.5, 21).tolist(), cmap="coolwarm", extend="both")
    ax.scatter(corners[:, 0], corners[:, 1], c=labels, cmap="coolwarm", edgecolors="k", s=120, vmin=0, vmax=1)
    ax.set_title(title)
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    fig.colorbar(im, ax=ax)

# %%
# The hidden layer makes it linear
# --------------------------------
# In the hidden units' coordinates ``(h1, h2)`` the two "1" corners land on the same point, and a
# line (the output layer, ``y = h1 - 2 h2``) separates them from the "0" corners.
with torch.no_grad():
    h = torch.relu(net[0](corners))
fig, ax = plt.subplots()
ax.scatter(h[:, 0], h[:, 1], c=labels, cmap="coolwarm", edgecolors="k", s=120, vmin=0, vmax=1)
t = torch.linspace(-0.2, 2.2, 10)
ax.plot(t, (t - 0.5) / 2, "k--", label="h1 - 2 h2 = 0.5")
ax.set_xlabel("h1 = relu(x1 + x2)")
ax.set_ylabel("h2 = relu(x1 + x2 - 1)")
ax.set_title("The four corners in hidden space")
ax.legend()

# %%
# Takeaway
# --------
# Any affine map gives f(0,0) + f(1,1) = f(1,0) + f(0,1), so no line computes XOR; two ReLU units
# (or one with a skip connection) do, by mapping the corners where a line separates them. See
# :func:`nnfaq.foundations.xor.xor_network`.

plt.show()
