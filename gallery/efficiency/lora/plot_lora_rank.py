"""
What rank does a LoRA adapter need?
===================================

LoRA learns a weight change as a product :math:`\\frac{\\alpha}{r} BA` of rank at most :math:`r`.
This page fine-tunes a frozen linear layer toward a target whose true change has rank 4, with
adapters of rank 1 to 16 trained identically, and compares what each reaches with the best any
rank-:math:`r` matrix could do (the truncated SVD), and with the number of parameters it trains.

*To run this example yourself:* ``pip install "nnfaq[examples]"`` (PyTorch, matplotlib,
scikit-learn); it runs on a laptop CPU in a few seconds.
"""

# %%
# The task: a frozen layer and a rank-4 change
# --------------------------------------------
# The "pretrained" weight :math:`W_0` is random; the target layer is :math:`W_0 + \Delta` with
# :math:`\Delta` of rank 4. The adapters start at :math:`B = 0`, so every run starts from the
# pretrained layer's loss.
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from nnfaq.efficiency.lora import lora_init, lora_linear

torch.manual_seed(0)
torch.set_num_threads(1)  # small tensors: more threads would only contend
d_in, d_out, true_rank = 32, 24, 4
W0 = torch.randn(d_out, d_in) / d_in**0.5
U, V = torch.randn(d_out, true_rank), torch.randn(true_rank, d_in)
S = torch.tensor([2.0, 1.0, 0.5, 0.25])  # the change's singular directions, of decreasing size
delta = (U * S) @ V / d_in**0.5
x = torch.randn(256, d_in)
y = F.linear(x, W0 + delta)

# %%
# The same training for every rank
# --------------------------------
# Adam, learning rate 0.05, 200 full-batch steps, :math:`\alpha = r` (scale 1), the same data and the
# same target for every rank: the only difference is :math:`r`. The dashed lines are, for the ranks
# below 4, the best error any rank-:math:`r` change can reach (Eckart-Young: keep the top :math:`r` singular
# values of :math:`\Delta`, weighted by the inputs' covariance).
ranks = [1, 2, 3, 4, 8]
curves, final = {}, {}
for r in ranks:
    A, B = (t.requires_grad_() for t in lora_init(d_in, d_out, r, generator=torch.Generator().manual_seed(r)))
    opt = torch.optim.Adam([A, B], lr=0.05)
    losses = []
    for _ in range(200):
        opt.zero_grad()
        loss = F.mse_loss(lora_linear(x, W0, A, B, alpha=float(r)), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    curves[r], final[r] = losses, losses[-1]

# the best rank-r change for this data: SVD of Delta in the inputs' whitened coordinates
C = x.T @ x / len(x)
L = torch.linalg.cholesky(C)
sv = torch.linalg.svdvals(delta @ L)
best = {r: (sv[r:] ** 2).sum().item() / d_out for r in ranks}

fig, ax = plt.subplots()
for r in ranks:
    line = ax.semilogy(curves[r], label=f"r = {r}")[0]
    if r < true_rank:  # above the true rank the floor is 0
        ax.axhline(best[r], color=line.get_color(), linestyle="--", linewidth=1)
ax.set_xlabel("step")
ax.set_ylabel("training MSE")
ax.set_title("Rank 4 and above fit a rank-4 change; below, the SVD floor")
ax.legend(ncol=2)
for r in ranks:
    print(f"r = {r:2d}: final MSE {final[r]:.1e}, best possible {best[r]:.1e}")
print("ranks below 4 stop at their floor:", all(final[r] < 1.1 * best[r] for r in ranks if r < 4))
print("ranks 4 and above fit (MSE < 1e-4):", all(final[r] < 1e-4 for r in ranks if r >= 4))

# %%
# Parameters trained
# ------------------
# A rank-:math:`r` adapter trains :math:`r(d_{in} + d_{out})` numbers: at rank 4 that is 224 against
# the 768 of the full matrix, and for a 4096 x 4096 projection at rank 8, 0.4%.
params = [sum(t.numel() for t in lora_init(d_in, d_out, r)) for r in ranks]
fig, ax = plt.subplots()
ax.bar([str(r) for r in ranks], params, label="LoRA: r (d_in + d_out)")
ax.axhline(d_in * d_out, color="grey", linestyle=":", label="full fine-tuning: d_in d_out")
ax.set_xlabel("rank r")
ax.set_ylabel("trainable parameters")
ax.set_title("LoRA's parameters grow linearly with the rank")
ax.legend()
print("rank 4 trains", params[ranks.index(4)], "of", d_in * d_out, "parameters")

# %%
# Takeaway
# --------
# A LoRA adapter of rank :math:`r` can represent any change of rank at most :math:`r`, and training
# reaches it; a lower rank stops at the best rank-:math:`r` approximation. The bet of LoRA is that
# fine-tuning changes have low rank, so a small :math:`r` trains a fraction of a percent of the
# parameters. See :func:`nnfaq.efficiency.lora.lora_linear` and :func:`nnfaq.efficiency.lora.lora_init`.
plt.show()
