"""
What is deep residual learning, and what problem did it solve?
==============================================================

He et al. (2015) added identity shortcuts because their deeper *plain* networks reached a higher
training error than shallower ones: the degradation problem. A CPU cannot rerun ImageNet, so this
page shows what a small network can show honestly, and says where it stops matching the paper:
the gradient of the identity path, and how fast a 30-block residual and a 30-block plain network
(:func:`nnfaq.training.residual.deep_mlp`, width 16, batch norm) train at a fixed, small budget.

*To run this example yourself:* ``pip install "nnfaq[examples]"`` (PyTorch, matplotlib,
scikit-learn); it runs on a laptop CPU in a few seconds.
"""

# %%
# The gradient at initialization
# ------------------------------
# A residual block's Jacobian is :math:`I + \partial F/\partial x`; with every branch starting at
# zero (``zero_init_residual``) the whole stack is the identity, so each block passes the gradient
# on unchanged. The plain network with batch norm shows no vanishing gradient either: its gradients
# *grow* towards the input. Whatever slows it down, it is not a vanishing gradient.
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from nnfaq.training.residual import HE_2015, deep_mlp, fit

torch.manual_seed(0)
torch.set_num_threads(1)  # small tensors: more threads would only contend
SEEDS = (0, 1)


def task(seed):
    """64 points of [-1, 1]^2 and the target sin(3 x1) cos(3 x2), from their own generator."""
    x = torch.rand(64, 2, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    return x, torch.sin(3 * x[:, :1]) * torch.cos(3 * x[:, 1:])


x, y = task(0)
norms = {}
for residual in (False, True):
    torch.manual_seed(0)
    net = deep_mlp(2, 16, 1, depth=30, residual=residual, batch_norm=True)
    h = net[0](x)
    h.retain_grad()
    blocks_in = [h]
    for block in net[1:-1]:  # keep each block's input gradient
        h = block(h)
        h.retain_grad()
        blocks_in.append(h)
    F.mse_loss(net[-1](h), y).backward()
    norms["residual" if residual else "plain"] = [t.grad.norm().item() for t in blocks_in]

fig, ax = plt.subplots()
for name, values in norms.items():
    ax.semilogy(values, "o-", ms=3, label=f"{name}, 30 blocks")
ax.set_xlabel("block (0 = input side)")
ax.set_ylabel("‖∂L/∂h‖ at the block's input (log scale)")
ax.set_title("At initialization: identity path vs plain network with batch norm")
ax.legend()
res, plain = norms["residual"], norms["plain"]
print("residual: every block receives the same gradient:", max(res) - min(res) < 1e-6 * max(res))
print("plain: the gradient grows towards the input (first block > last):", plain[0] > plain[-1])

# %%
# Training loss at a fixed budget, two seeds
# ------------------------------------------
# A fair comparison: the same data, width, depth, batch norm, initialization seed, learning rate
# (Adam, 3e-3) and 100 full-batch steps; only the shortcut differs. A 3-block plain network is the
# reference. At this budget the residual network should train like the shallow one and end far
# below the deep plain one, for every seed.
configs = {"plain, 3 blocks": (3, False), "plain, 30 blocks": (30, False), "residual, 30 blocks": (30, True)}
curves = {label: [] for label in configs}
for seed in SEEDS:
    x, y = task(seed)
    for label, (depth, residual) in configs.items():
        torch.manual_seed(seed)
        curves[label].append(fit(deep_mlp(2, 16, 1, depth=depth, residual=residual, batch_norm=True), x, y, steps=100))

fig, ax = plt.subplots()
for color, (label, runs) in zip(("C0", "C1", "C2"), curves.items()):
    for i, losses in enumerate(runs):
        ax.semilogy(losses, color=color, lw=1, label=label if i == 0 else None)
ax.set_xlabel("Adam step")
ax.set_ylabel("training MSE (log scale)")
ax.set_title("100 steps, 2 seeds: the residual network trains faster")
ax.legend()
plain_end = [run[-1] for run in curves["plain, 30 blocks"]]
res_end = [run[-1] for run in curves["residual, 30 blocks"]]
print(
    "after 100 steps, residual-30 is 5x below plain-30 in every seed:",
    all(p > 5 * r for p, r in zip(plain_end, res_end)),
)
print(
    "the plain network is slow, not stuck (its loss fell 2x or more):",
    all(run[-1] < run[0] / 2 for run in curves["plain, 30 blocks"]),
)

# %%
# Where the toy stops matching the paper
# --------------------------------------
# This is optimization *speed* at one budget. Trained for several hundred more steps, this toy's
# 30-block plain network catches up and can end with the lowest training loss of the three, which
# is not what He et al. saw: their deeper plain networks stayed above the shallower ones through a
# full training schedule, on real images, with convolutions and SGD. Their own numbers
# (``nnfaq.training.residual.HE_2015``) also show that shortcuts do not make depth free: the
# 1202-layer CIFAR-10 ResNet tested worse than the 110-layer one.
top1, cifar = HE_2015["imagenet_top1_error"], HE_2015["cifar10_test_error"]
fig, ax = plt.subplots()
names = ["plain-18", "plain-34", "resnet-18", "resnet-34"]
ax.bar(names, [top1[n] for n in names], color=["C1", "C1", "C2", "C2"])
ax.set_ylim(20, 30)
ax.set_ylabel("ImageNet top-1 validation error (%)")
ax.set_title("He et al. 2015, Table 2: deeper plain worse, deeper residual better")
print("paper: plain-34 worse than plain-18:", top1["plain-34"] > top1["plain-18"])
print("paper: resnet-34 better than resnet-18:", top1["resnet-34"] < top1["resnet-18"])
print("paper: resnet-1202 tests worse than resnet-110:", cifar["resnet-1202"] > cifar["resnet-110"])

# %%
# Takeaway
# --------
# A residual block computes :math:`x + F(x)`, so its layers learn a change to the identity; He et
# al. introduced it because deeper plain networks trained *worse*, not because gradients vanished.
# The identity path gives the block the Jacobian :math:`I + \partial F/\partial x`, and at a small
# budget a deep residual network trains much faster than its plain twin. Depth is still not free:
# the paper's 1202-layer network tested worse than its 110-layer one. See
# :func:`nnfaq.training.residual.residual_block`.
plt.show()
