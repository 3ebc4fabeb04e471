"""
Why do gradients explode in recurrent networks, and how does clipping help?
===========================================================================

A recurrent network applies the same weight matrix at every time step, so the gradient through
:math:`n` steps is a product of :math:`n` similar factors. This page first measures that product
with :func:`nnfaq.foundations.gradient_flow.unrolled_gradient`, then trains a small RNN with a large recurrent
weight twice, with and without :func:`nnfaq.foundations.gradient_flow.clip_grad_norm_`.

*To run this example yourself:* ``pip install "nnfaq[examples]"`` (PyTorch, matplotlib,
scikit-learn); it runs on a laptop CPU in a few seconds.
"""

# %%
# The gradient through time is :math:`w^n`
# ----------------------------------------
# For :math:`h_t = w\,h_{t-1}` the gradient of :math:`h_n` with respect to :math:`h_{n-k}` is
# :math:`w^k`: a straight line on a log scale, rising for :math:`|w| > 1`, falling for
# :math:`|w| < 1`. Only the sequence length changes along the x-axis, never the weight. A matrix
# behaves like its spectral radius: an orthogonal one (radius 1) keeps the gradient's norm at any
# length, so this initialization does not explode.
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from nnfaq.foundations.gradient_flow import clip_grad_norm_, unrolled_gradient

torch.manual_seed(0)
torch.set_num_threads(1)  # small tensors: more threads would only contend
fig, ax = plt.subplots()
for w in (0.9, 1.0, 1.1):
    ax.semilogy(unrolled_gradient(w, steps=100), label=f"w = {w}")
Q = torch.linalg.qr(torch.randn(16, 16, dtype=torch.float64)).Q
orthogonal = unrolled_gradient(Q, steps=100) / 4  # divided by sqrt(16), the norm of the all-ones start
ax.semilogy(orthogonal, ":", lw=3, label="orthogonal 16 x 16 W (÷ √16)")
ax.set_xlabel("steps back in time k")
ax.set_ylabel("|∂h_n / ∂h_(n-k)| (log scale)")
ax.set_title("h_t = w·h_(t-1): the gradient is w^k")
ax.legend()
kept = torch.allclose(orthogonal, torch.ones(101, dtype=torch.float64))
print("orthogonal W keeps the gradient norm over 100 steps:", kept)

# %%
# Training an RNN with and without clipping
# -----------------------------------------
# The task: read a sequence of 30 numbers and output the mean of the first 10, so the gradient must
# travel back through time. The recurrent weights start at twice PyTorch's default. We expect the
# unclipped run's gradient norm to grow until one update throws the weights so far that the loss
# overflows (the curve stops: the loss is no longer a finite number); in the clipped run every
# update is bounded and the loss keeps falling.
x = torch.randn(128, 30, 1, generator=torch.Generator().manual_seed(1))
y = x[:, :10, 0].mean(dim=1, keepdim=True)


def train(max_norm):
    torch.manual_seed(0)
    rnn, head = torch.nn.RNN(1, 32, batch_first=True), torch.nn.Linear(32, 1)
    with torch.no_grad():
        rnn.weight_hh_l0.mul_(2.0)
    params = [*rnn.parameters(), *head.parameters()]
    opt = torch.optim.SGD(params, lr=0.1, momentum=0.9)
    losses, norms = [], []
    for _ in range(150):
        opt.zero_grad()
        out, _ = rnn(x)
        loss = F.mse_loss(head(out[:, -1]), y)
        loss.backward()
        norms.append(clip_grad_norm_(params, max_norm).item())
        opt.step()
        losses.append(loss.item())
    return losses, norms


runs = {"no clipping": train(float("inf")), "clip_grad_norm_(max_norm=1)": train(1.0)}
fig, ax = plt.subplots()
for label, (losses, _) in runs.items():
    ax.semilogy(losses, label=label)
ax.set_xlabel("step")
ax.set_ylabel("training loss (log scale)")
ax.set_title("RNN training: an exploding gradient, with and without clipping")
ax.legend()

# %%
# Gradient norms before clipping
# ------------------------------
# ``clip_grad_norm_`` returns the norm *before* clipping, so both runs record how large the
# gradient got. The exact numbers of the unclipped run depend on rounding (it is chaotic), so we
# print the facts that do not: it blew up, and the clipped run did not.
for label, (losses, norms) in runs.items():
    finite = torch.isfinite(torch.tensor(losses[-1])).item()
    print(f"{label:>28}: largest gradient norm above 1000: {max(norms) > 1e3}, loss finite at the end: {finite}")
clipped_losses, _ = runs["clip_grad_norm_(max_norm=1)"]
print(f"clipped run: final loss below 1% of the first: {clipped_losses[-1] < 0.01 * clipped_losses[0]}")

# %%
# Takeaway
# --------
# Gradients explode because backpropagation multiplies one Jacobian per layer or time step; an RNN
# reuses the same weight at every step, so the gradient scales like :math:`w^n`: long sequences make
# it extreme unless the spectral radius is exactly one, as for an orthogonal initialization, and
# training moves the weights away from any initialization. Gated cells (LSTM, GRU) address the
# opposite problem, vanishing gradients, and are still trained with clipping. Clipping the total
# norm (between ``backward()`` and ``step()``) keeps the direction and bounds the step. See
# :func:`nnfaq.foundations.gradient_flow.unrolled_gradient` and :func:`nnfaq.foundations.gradient_flow.clip_grad_norm_`.
plt.show()
