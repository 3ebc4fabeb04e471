"""
What is the difference between fp32, fp16 and bf16?
===================================================

fp16 and bf16 both use 16 bits, but split them differently: fp16 spends more on the mantissa
(precision), bf16 on the exponent (range). This page casts real numbers to each format and shows
where each one overflows to ``inf``, where it rounds to zero, and how coarse its steps are; then what
that means for the gradients of mixed-precision training.

*To run this example yourself:* ``pip install "nnfaq[examples]"`` (PyTorch, matplotlib,
scikit-learn); it runs on a laptop CPU in a few seconds.
"""

# %%
# Range: overflow and underflow
# -----------------------------
# Each value from 1e-44 to 1e38 is cast to the format and back; the curves show the worst relative
# error among neighbouring values. It stays at half of ``eps`` across the format's normal range
# (fp16's is 8 times smaller than bf16's), grows in the subnormal range, reaches 1 where the
# value rounds to zero, and becomes infinite where it overflows. fp16's usable range is a sliver of
# bf16's, which is fp32's.
import matplotlib.pyplot as plt
import torch

from nnfaq.efficiency.precision import float_limits, unscale_grads

torch.manual_seed(0)
torch.set_num_threads(1)  # small tensors: more threads would only contend
x = torch.logspace(-44, 38, 4000, dtype=torch.float64).float()  # float32 holds all of them
formats = {"fp16": torch.float16, "bf16": torch.bfloat16}

fig, ax = plt.subplots()
for name, dtype in formats.items():
    back = x.to(dtype).double()
    rel = ((back - x.double()) / x.double()).abs().clamp(max=10.0)  # inf (overflow) drawn at the top
    # the worst error in each run of 20 neighbouring values: the envelope, not the noise
    ax.loglog(x.reshape(-1, 20)[:, 10], rel.reshape(-1, 20).amax(1), label=name)
ax.axhline(1.0, color="grey", linestyle=":", linewidth=1)
ax.set_xlabel("value |x|")
ax.set_ylabel("relative rounding error (1 = rounded to 0, 10 = inf)")
ax.set_title("fp16 overflows at 65520 and flushes below 3e-8; bf16 spans fp32's range")
ax.legend()

limits = {name: float_limits(*bits) for name, bits in {"fp32": (8, 23), "fp16": (5, 10), "bf16": (8, 7)}.items()}
for name, lim in limits.items():
    print(f"{name}: max {lim['max']:.4g}, smallest normal {lim['smallest_normal']:.3g}, eps {lim['eps']:.3g}")

# %%
# Precision: the number line near 1
# ---------------------------------
# Between 1 and 1.06, fp16 has a value every 2^-10 ≈ 0.001, bf16 only every 2^-7 ≈ 0.008. A
# weight of 1.0 cannot move by less than half a step: 0.0005 in fp16, 0.004 in bf16.
grid = torch.linspace(1.0, 1.06, 6001, dtype=torch.float64).float()
fig, ax = plt.subplots(figsize=(6.4, 2.4))
for row, (name, dtype) in enumerate(formats.items()):
    values = torch.unique(grid.to(dtype).double())
    ax.plot(values, torch.full_like(values, row), "|", markersize=14, label=f"{name}: {len(values)} values")
ax.set_yticks([0, 1], list(formats))
ax.set_ylim(-0.5, 1.5)
ax.set_xlabel("value")
ax.set_title("Representable values in [1, 1.06]")
ax.grid(False)
print("fp16 eps is finer than bf16 eps:", limits["fp16"]["eps"] < limits["bf16"]["eps"])

# %%
# What that does to gradients
# ---------------------------
# Gradients spread over many orders of magnitude. Here 100 000 log-uniform magnitudes between 1e-12
# and 1e-2 are stored in fp16 directly, in fp16 after multiplying the loss by 2^16 (and dividing the
# gradients by it again in fp32), and in bf16. The share that becomes exactly 0 is what loss scaling
# is for.
g = 10 ** (torch.rand(100_000) * 10 - 12)
lost_fp16 = (g.half() == 0).double().mean().item()
scaled, _ = unscale_grads([(g * 2**16).half().float()], 2.0**16)
lost_scaled = (scaled[0] == 0).double().mean().item()
lost_bf16 = (g.bfloat16() == 0).double().mean().item()
print(
    f"share of gradients rounded to 0: fp16 {lost_fp16:.0%}, fp16 with scaling {lost_scaled:.0%}, bf16 {lost_bf16:.0%}"
)

fig, ax = plt.subplots()
bins = torch.logspace(-12, -2, 41)
ax.hist(g, bins=bins, alpha=0.3, label="all gradients")
ax.hist(g[g.half() == 0], bins=bins, label="lost in fp16")
ax.hist(g[scaled[0] == 0], bins=bins, label=f"lost in fp16 with loss scale 2^16 ({lost_scaled:.0%})")
ax.set_xscale("log")
ax.set_xlabel("gradient magnitude")
ax.set_ylabel("count")
ax.set_title("Loss scaling shifts small gradients into fp16's range")
ax.legend()

# %%
# Takeaway
# --------
# fp16 has more precision (10 mantissa bits against 7) and far less range (5 exponent bits
# against 8): it overflows above 65504 and loses small values, so fp16 training needs loss scaling.
# bf16 has fp32's range and needs no scaling, at the price of coarser steps, which is why both keep
# fp32 master weights. See :func:`nnfaq.efficiency.precision.float_limits` and
# :func:`nnfaq.efficiency.precision.unscale_grads`.
plt.show()
