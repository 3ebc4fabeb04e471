"""
What is the vanishing gradient problem, and how do you detect it?
=================================================================

Five 20-block networks of the same width get one backward pass at initialization, and
:func:`nnfaq.foundations.gradient_flow.grad_norms` reads the gradient norm of every weight matrix.
Vanishing gradients show up as norms that fall by orders of magnitude from the output towards the
input.

*To run this example yourself:* ``pip install "nnfaq[examples]"`` (PyTorch, matplotlib,
scikit-learn); it runs on a laptop CPU in a few seconds.
"""

# %%
# Per-layer gradient norms at initialization
# ------------------------------------------
# Every layer multiplies the gradient by its activation's slope times its weight matrix, so the
# norm that reaches the input is at most the product of :math:`\max|f'|\cdot\lVert W_l\rVert_2`
# over the layers. With the sigmoid (slope at most 0.25) the first layers should get gradients
# many orders of magnitude smaller than the last. Tanh and ReLU initialized with their gains keep
# the factors near one, but ReLU with PyTorch's default ``nn.Linear`` initialization, whose weights
# are too small for it, vanishes too. The residual network, whose branches start at zero, passes the
# gradient along its identity path unchanged.
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from nnfaq.foundations.gradient_flow import grad_norms
from nnfaq.training.residual import deep_mlp

torch.manual_seed(0)
torch.set_num_threads(1)  # small tensors: more threads would only contend
x = torch.randn(256, 32)
y = torch.randn(256, 1)


def default_init(net):
    for m in net.modules():
        if isinstance(m, torch.nn.Linear):
            m.reset_parameters()  # PyTorch's default: kaiming_uniform_(a=sqrt(5)), variance 1/(3 fan_in)
    return net


fig, ax = plt.subplots()
ratios = {}
for label, make in [
    ("sigmoid", lambda: deep_mlp(32, 32, 1, depth=20, activation="sigmoid")),
    ("tanh", lambda: deep_mlp(32, 32, 1, depth=20, activation="tanh")),
    ("ReLU", lambda: deep_mlp(32, 32, 1, depth=20, activation="relu")),
    ("ReLU, default init", lambda: default_init(deep_mlp(32, 32, 1, depth=20, activation="relu"))),
    ("ReLU + residual", lambda: deep_mlp(32, 32, 1, depth=20, activation="relu", residual=True)),
]:
    net = make()
    F.mse_loss(net(x), y).backward()
    norms = list(grad_norms(net).values())
    ax.semilogy(range(len(norms)), norms, "o-", ms=3, label=label)
    ratios[label] = norms[0] / norms[-1]
ax.set_xlabel("layer (0 = input side)")
ax.set_ylabel("‖∂L/∂W‖ (log scale)")
ax.set_title("Gradient norm per layer, 20 hidden blocks, at initialization")
ax.legend()

# %%
# First layer over last layer
# ---------------------------
# The ratio is tiny for the sigmoid network (below a millionth) and for ReLU with too small weights
# (below a thousandth), and within two orders of magnitude of one for the others.
print("sigmoid: first / last below 1e-6:", ratios["sigmoid"] < 1e-6)
print("ReLU, default init: first / last below 1e-3:", ratios["ReLU, default init"] < 1e-3)
for label in ("tanh", "ReLU", "ReLU + residual"):
    print(f"{label}: first / last between 0.01 and 100:", 0.01 < ratios[label] < 100)

# %%
# Takeaway
# --------
# Vanishing gradients are a product of per-layer factors below one, each the activation's slope
# times the layer's weights; you detect them by logging each layer's gradient norm after
# ``backward()``. ReLU alone does not prevent them: it needs weights of the right scale (He
# initialization); normalization and residual connections keep the factors near one too. See
# :func:`nnfaq.foundations.gradient_flow.grad_norms`.
plt.show()
