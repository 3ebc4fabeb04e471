"""
Why are depthwise-separable convolutions cheaper, and by how much in practice?
==============================================================================

A depthwise-separable convolution (MobileNet) replaces one ``K x K`` convolution over all channels
by a ``K x K`` convolution per channel followed by a 1x1 convolution that mixes channels. Its
weights and multiply-adds shrink to ``1/C_out + 1/K²`` of the standard layer's, about 1/8 for 3x3
kernels and many channels. Here we compute the counts with :func:`nnfaq.convnets.conv_arithmetic.conv_cost`
and then time both layers on this CPU: the measured speed-up is real but smaller than the
arithmetic predicts.

*To run this example yourself:* ``pip install "nnfaq[examples]"`` (PyTorch, matplotlib,
scikit-learn); it runs on a laptop CPU in a few seconds.
"""

# %%
# Counting parameters and multiply-adds
# -------------------------------------
# A 3x3 layer mapping ``C`` channels to ``C`` channels on a 56x56 feature map, for growing ``C``.
# We expect the separable layer's share to fall towards ``1/9`` as ``C`` grows.
import time

import matplotlib.pyplot as plt
import torch
from torch import nn

from nnfaq.convnets.conv_arithmetic import conv_cost

torch.manual_seed(0)
channels = [16, 32, 64, 128]
size, k = 56, 3
for c in channels:
    std = conv_cost("standard", c, c, k, size, padding=1)
    sep = conv_cost("depthwise-separable", c, c, k, size, padding=1)
    print(
        f"C={c:3d}: params {std['params']:6d} vs {sep['params']:5d}, "
        f"MACs {std['macs'] / 1e6:6.1f}M vs {sep['macs'] / 1e6:5.1f}M, ratio {sep['macs'] / std['macs']:.3f}"
    )

# %%
# Timing both layers
# ------------------
# The same layers as ``nn.Conv2d`` modules, one image, forward pass only, on one thread; we keep
# the best of several runs. Depthwise convolutions do little arithmetic per byte of memory they
# read, so expect the time ratio to sit above the MAC ratio.
torch.set_num_threads(1)


def best_time(layer, x, repeats=15):
    with torch.no_grad():
        layer(x)  # warm-up
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            layer(x)
            times.append(time.perf_counter() - start)
    return min(times)


mac_ratio, time_ratio = [], []
for c in channels:
    x = torch.randn(1, c, size, size)
    standard = nn.Conv2d(c, c, k, padding=1, bias=False)
    separable = nn.Sequential(nn.Conv2d(c, c, k, padding=1, groups=c, bias=False), nn.Conv2d(c, c, 1, bias=False))
    t_std, t_sep = best_time(standard, x), best_time(separable, x)
    costs = [conv_cost(kind, c, c, k, size, padding=1)["macs"] for kind in ("depthwise-separable", "standard")]
    mac_ratio.append(costs[0] / costs[1])
    time_ratio.append(t_sep / t_std)

fig, ax = plt.subplots()
ax.plot(channels, mac_ratio, "o-", label="multiply-adds (and weights): 1/C + 1/9")
ax.plot(channels, time_ratio, "s-", label="measured CPU time")
ax.axhline(1.0, color="gray", linestyle=":", linewidth=1)
ax.set_xscale("log", base=2)
ax.set_xticks(channels, [str(c) for c in channels])
ax.set_xlabel("channels C (in = out), 3x3 kernel, 56x56 map")
ax.set_ylabel("separable / standard")
ax.set_ylim(0, 1.2)
ax.set_title("Depthwise-separable vs standard convolution")
ax.legend()

# %%
# Takeaway
# --------
# Depthwise-separable convolution factorises a standard convolution into a per-channel spatial
# filter and a 1x1 channel mix, cutting weights and multiply-adds to ``1/C_out + 1/K²`` of the
# original. That is why MobileNet and EfficientNet use it; the wall-clock gain is smaller because
# depthwise layers are memory-bound, so always measure on the target hardware. See
# :func:`nnfaq.convnets.conv_arithmetic.conv_cost`.

plt.show()
