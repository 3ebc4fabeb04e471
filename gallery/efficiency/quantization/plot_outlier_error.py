"""
What does one outlier do to int8 quantization?
==============================================

Absmax quantization rounds every value that shares a scale on a grid set by the largest of them.
This page plants a single outlier in an otherwise normal weight matrix and measures the error of
*all the other* weights under one scale per tensor, one per row (channel) and one per block of 64,
then looks at the levels a row is left with.

*To run this example yourself:* ``pip install "nnfaq[examples]"`` (PyTorch, matplotlib,
scikit-learn); it runs on a laptop CPU in a few seconds.
"""

# %%
# Error of the other weights as the outlier grows
# -----------------------------------------------
# A (16, 256) matrix of standard normal weights; entry (0, 0) is set to a growing value. Per tensor,
# the error of the other 15 rows grows in proportion to the outlier. Per row, those rows never see
# it: their error is flat. Block-wise scales (as in QLoRA) leave only the outlier's own block of 64
# affected.
import matplotlib.pyplot as plt
import torch

from nnfaq.efficiency.quantization import absmax_quantize, dequantize

torch.manual_seed(0)
torch.set_num_threads(1)  # small tensors: more threads would only contend
W = torch.randn(16, 256, dtype=torch.float64)


def others_error(W, scheme):
    """Mean absolute round-trip error of rows 1..15 under one scale per tensor, row or block of 64."""
    if scheme == "per tensor":
        q, s = absmax_quantize(W)
        back = dequantize(q, s)
    elif scheme == "per row":
        q, s = absmax_quantize(W, dim=0)
        back = dequantize(q, s, dim=0)
    else:
        blocks = W.reshape(-1, 64)
        q, s = absmax_quantize(blocks, dim=0)
        back = dequantize(q, s, dim=0).reshape(W.shape)
    return (back - W)[1:].abs().mean().item()


outliers = torch.logspace(0, 3, 25, dtype=torch.float64)
schemes = ("per tensor", "per row", "per block of 64")
errors = {scheme: [] for scheme in schemes}
for value in outliers:
    W_out = W.clone()
    W_out[0, 0] = value
    for scheme in schemes:
        errors[scheme].append(others_error(W_out, scheme))

fig, ax = plt.subplots()
for scheme in schemes:
    ax.loglog(outliers, errors[scheme], "o-", markersize=3, label=scheme)
ax.set_xlabel("outlier value (the other weights are N(0, 1))")
ax.set_ylabel("mean |error| of the other rows")
ax.set_title("One outlier degrades every weight that shares its scale")
ax.legend()
print("per-row error of the other rows unchanged by the outlier:", len(set(errors["per row"])) == 1)
print(f"per-tensor error, outlier 100 vs none: {errors['per tensor'][16] / others_error(W, 'per tensor'):.0f}x")

# %%
# The levels a row is left with
# -----------------------------
# With the outlier at 100 and one scale per tensor, the step is 100/127 ≈ 0.79: a row of N(0, 1)
# weights is stored with only a handful of distinct values, a third of them exactly 0. Its own
# per-row scale uses the full grid.
W_out = W.clone()
W_out[0, 0] = 100.0
q_tensor, s_tensor = absmax_quantize(W_out)
q_row, s_row = absmax_quantize(W_out, dim=0)
row_tensor = dequantize(q_tensor, s_tensor)[5]
row_row = dequantize(q_row, s_row, dim=0)[5]
print("distinct values in row 5: per tensor", row_tensor.unique().numel(), "| per row", row_row.unique().numel())
print(f"other rows rounded to exactly 0 per tensor: {(q_tensor[1:] == 0).double().mean():.0%}")

fig, ax = plt.subplots()
ax.scatter(W_out[5], row_row, s=8, label=f"per row ({row_row.unique().numel()} levels used)")
ax.scatter(W_out[5], row_tensor, s=8, label=f"per tensor ({row_tensor.unique().numel()} levels used)")
ax.plot([-3, 3], [-3, 3], color="grey", linewidth=1, linestyle=":")
ax.set_xlabel("original weight (row 5)")
ax.set_ylabel("after int8 round trip")
ax.set_title("An outlier elsewhere in the tensor coarsens this row's grid")
ax.legend()

# %%
# Takeaway
# --------
# All values that share an absmax scale are rounded on a grid set by the largest one, so one outlier
# makes everyone's error grow with it. Per-channel scales confine it to its channel, block-wise
# scales to its block; LLM.int8 instead keeps the few outlier features in 16 bits. See
# :func:`nnfaq.efficiency.quantization.dequantize` and
# :func:`nnfaq.efficiency.quantization.absmax_quantize`.
plt.show()
