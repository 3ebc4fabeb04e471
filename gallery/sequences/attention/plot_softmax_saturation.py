"""
Why is dot-product attention scaled by one over the square root of d_k?
========================================================================

Random queries and keys with unit-variance entries, scored against each other with and without the
:math:`1/\\sqrt{d_k}` factor. Unscaled, the score variance grows like :math:`d_k`, the softmax
collapses onto one key and its gradient vanishes; scaled, nothing changes as :math:`d_k` grows.

*To run this example yourself:* ``pip install "nnfaq[examples]"`` (PyTorch, matplotlib,
scikit-learn); it runs on a laptop CPU in a few seconds.
"""

# %%
# Score variance grows like d_k
# -----------------------------
# A dot product of two random vectors sums :math:`d_k` products of variance 1, so its variance is
# :math:`d_k`: the unscaled points lie on the line :math:`y = d_k`, the scaled ones on :math:`y = 1`.
import matplotlib.pyplot as plt

from nnfaq.sequences.attention import softmax_saturation

dims = [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]
unscaled = [softmax_saturation(d, scaled=False) for d in dims]
scaled = [softmax_saturation(d) for d in dims]

fig, ax = plt.subplots()
ax.loglog(dims, [r["score_var"] for r in unscaled], "o-", label=r"$q \cdot k$")
ax.loglog(dims, [r["score_var"] for r in scaled], "s-", label=r"$q \cdot k / \sqrt{d_k}$")
ax.loglog(dims, dims, "k:", label=r"$d_k$")
ax.set_xlabel(r"$d_k$")
ax.set_ylabel("variance of the scores")
ax.set_title("Unscaled scores have variance d_k")
ax.legend()

# %%
# The softmax saturates and its gradient vanishes
# -----------------------------------------------
# Over 32 keys, the largest weight of a row tends to 1 without scaling (the softmax becomes an
# argmax), and the norm of its Jacobian :math:`\mathrm{diag}(a) - a a^\top`, which multiplies every
# gradient flowing back into the scores, falls towards 0. With scaling both stay flat.
fig, ax = plt.subplots()
ax.semilogx(dims, [r["max_weight"] for r in unscaled], "o-", color="C0", label="largest weight, unscaled")
ax.semilogx(dims, [r["max_weight"] for r in scaled], "s-", color="C1", label="largest weight, scaled")
ax.semilogx(dims, [r["jacobian_norm"] for r in unscaled], "o--", color="C0", label="softmax Jacobian norm, unscaled")
ax.semilogx(dims, [r["jacobian_norm"] for r in scaled], "s--", color="C1", label="softmax Jacobian norm, scaled")
ax.set_xlabel(r"$d_k$")
ax.set_ylabel("mean over 512 queries, 32 keys")
ax.set_title("Without 1/sqrt(d_k) the softmax saturates")
ax.legend(fontsize="small")

# %%
# The gradient shrinks by a factor
# --------------------------------
# From :math:`d_k = 4` to :math:`d_k = 1024` the unscaled softmax passes back less than a third of the
# gradient; the scaled one passes back the same, to 10%.
unscaled_ratio = unscaled[-1]["jacobian_norm"] / unscaled[dims.index(4)]["jacobian_norm"]
scaled_ratio = scaled[-1]["jacobian_norm"] / scaled[dims.index(4)]["jacobian_norm"]
print("unscaled, d_k=1024 passes back less than 1/3 of d_k=4's gradient:", unscaled_ratio < 1 / 3)
print("scaled, d_k=1024 passes back d_k=4's gradient to 10%:", abs(scaled_ratio - 1) < 0.1)

# %%
# Takeaway
# --------
# With unit-variance entries a dot product has variance :math:`d_k`; large scores push the softmax
# into saturation, where it is nearly one-hot and its gradient nearly zero, so training stalls.
# Dividing by :math:`\sqrt{d_k}` keeps the score variance at 1 for every head size. See
# :func:`nnfaq.sequences.attention.softmax_saturation` and
# :func:`nnfaq.sequences.attention.scaled_dot_product_attention`.

plt.show()
