"""
Why do we need positional encoding in transformers?
====================================================

Self-attention without positions cannot tell the order of its input: permuting the tokens only
permutes the outputs. This page shows it on a transformer encoder layer, shows what a sentence
and its reverse look like to it, and shows that adding a positional encoding breaks the symmetry.

*To run this example yourself:* ``pip install "nnfaq[examples]"`` (PyTorch, matplotlib,
scikit-learn); it runs on a laptop CPU in a few seconds.
"""

# %%
# Shuffle the tokens, the outputs shuffle the same way
# ----------------------------------------------------
# A transformer encoder layer (attention, feed-forward, layer norms) on 6 random token vectors:
# applying it to a permuted sequence gives the permuted outputs, exactly.
import matplotlib.pyplot as plt
import torch
from torch import nn

from nnfaq.sequences.positional_encoding import permutation_equivariance, sinusoidal_encoding

torch.manual_seed(0)
torch.set_num_threads(1)  # small tensors: more threads would only contend
T, d = 6, 16
enc = nn.TransformerEncoderLayer(d, 4, 32, dropout=0.0, batch_first=True, dtype=torch.float64).eval()
x = torch.randn(1, T, d, dtype=torch.float64)
perm = torch.tensor([3, 0, 5, 1, 4, 2])
print("encoder layer is permutation-equivariant:", permutation_equivariance(enc, x, perm))

# %%
# "dog bites man" and "man bites dog"
# -----------------------------------
# Reverse the sequence: each token's output vector is the same as before, only at another place.
# The left panel is token ``t``'s output for the original order, the right panel for the reversed
# order, re-sorted by token: the two panels are identical, so any pooled summary is too.
with torch.no_grad():
    out = enc(x)[0]
    out_rev = enc(x.flip(1))[0].flip(0)  # re-sorted by token
fig, axes = plt.subplots(1, 2, figsize=(8, 3.6), layout="constrained")
for ax, y, title in ((axes[0], out, "original order"), (axes[1], out_rev, "reversed input")):
    ax.imshow(y, cmap="RdBu_r", vmin=-2.5, vmax=2.5, aspect="auto")
    ax.set_xlabel("feature")
    ax.set_ylabel("token")
    ax.set_title(title)
    ax.grid(False)
fig.suptitle("Encoder outputs per token, without positions: identical")
print("same outputs, token by token:", torch.allclose(out, out_rev))

# %%
# Add positions and the order matters
# -----------------------------------
# Adding the sinusoidal encoding to the inputs makes each token's vector depend on where it is, so
# the layer is no longer permutation-equivariant.
pe = sinusoidal_encoding(T, d)
print("with sinusoidal positions:", permutation_equivariance(lambda x: enc(x + pe), x, perm))

# %%
# A causal mask also carries order
# --------------------------------
# Decoder-only models mask the future; token ``t`` then sees ``t + 1`` tokens, so the mask alone
# breaks the symmetry (which is why such models can learn some positional information without an
# encoding).
causal = nn.Transformer.generate_square_subsequent_mask(T, dtype=torch.float64)
print("with a causal mask:", permutation_equivariance(lambda x: enc(x, src_mask=causal, is_causal=True), x, perm))

# %%
# Takeaway
# --------
# Attention compares every pair of tokens with shared weights and sums over them, so without
# positional information a transformer sees a bag of tokens: permuting the input permutes the
# output. Positional encodings (added sinusoids or learned vectors, rotations such as RoPE, or
# distance biases such as ALiBi) make the computation depend on order. See
# :func:`nnfaq.sequences.positional_encoding.permutation_equivariance`.

plt.show()
