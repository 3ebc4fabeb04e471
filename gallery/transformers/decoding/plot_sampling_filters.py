"""
How do temperature, top-k and top-p change the distribution a language model samples from?
==========================================================================================

One next-token distribution over twelve tokens, reshaped by temperature and cut by top-k and by
top-p (nucleus) sampling. The bars are the probabilities the sampler actually draws from.

*To run this example yourself:* ``pip install "nnfaq[examples]"`` (PyTorch, matplotlib,
scikit-learn); it runs on a laptop CPU in a few seconds.
"""

# %%
# Temperature reshapes, it never reorders
# ---------------------------------------
# Dividing the logits by ``T < 1`` sharpens the distribution, ``T > 1`` flattens it; ``T = 0`` is
# greedy decoding, all mass on the most likely token. The ranking of the tokens is the same in every
# panel.
import matplotlib.pyplot as plt
import torch

from nnfaq.transformers.decoding import sampling_probs

torch.manual_seed(0)
torch.set_num_threads(1)  # small tensors: more threads would only contend
logits = torch.randn(12, dtype=torch.float64).sort(descending=True).values * 1.5
tokens = range(len(logits))

temperatures = [0.0, 0.5, 1.0, 2.0]
fig, axes = plt.subplots(1, 4, figsize=(12, 3), sharey=True)
for ax, T in zip(axes, temperatures):
    ax.bar(tokens, sampling_probs(logits, temperature=T))
    ax.set_title(f"T = {T:g}" + (" (greedy)" if T == 0 else ""))
    ax.set_xlabel("token (by logit)")
axes[0].set_ylabel("probability")
fig.suptitle("Temperature")
entropy = lambda p: -(p[p > 0] * p[p > 0].log()).sum().item()  # noqa: E731
H = [entropy(sampling_probs(logits, temperature=T)) for T in temperatures]
print("entropy grows with T:", sorted(H) == H)
same_order = [torch.equal(sampling_probs(logits, temperature=T).argsort(), logits.argsort()) for T in temperatures[1:]]
print("order kept at every T > 0:", all(same_order))

# %%
# Top-k keeps a fixed number, top-p a fixed mass
# ----------------------------------------------
# On a flat distribution (T = 2) and a peaked one (T = 0.5), top-4 keeps four tokens both times;
# top-p with ``p = 0.8`` keeps as many as it takes to reach 80 % of the mass: many when the model is
# unsure, few when it is confident.
fig, axes = plt.subplots(2, 2, figsize=(9, 6), sharex=True)
for row, T in zip(axes, (2.0, 0.5)):
    for ax, (name, kw) in zip(row, (("top-k, k = 4", {"top_k": 4}), ("top-p, p = 0.8", {"top_p": 0.8}))):
        full, cut = sampling_probs(logits, temperature=T), sampling_probs(logits, temperature=T, **kw)
        ax.bar(tokens, full, color="0.8", label="before")
        ax.bar(tokens, cut, width=0.5, label="sampled from")
        ax.set_title(f"{name}, T = {T:g}: {int((cut > 0).sum())} tokens kept")
        ax.legend()
for ax in axes[1]:
    ax.set_xlabel("token (by logit)")
fig.tight_layout()
filters = ({"top_k": 4}, {"top_p": 0.8})
kept = {T: [int((sampling_probs(logits, temperature=T, **kw) > 0).sum()) for kw in filters] for T in (2.0, 0.5)}
print("tokens kept by (top-k, top-p) at T = 2 and T = 0.5:", kept)
print("top-p keeps more on the flat distribution:", kept[2.0][1] > kept[0.5][1])

# %%
# Takeaway
# --------
# Temperature divides the logits (``T = 0`` means greedy); top-k keeps the k most likely tokens
# whatever the distribution; top-p keeps the smallest set of most likely tokens whose probability
# reaches p, so its size adapts to the model's confidence. See
# :func:`nnfaq.transformers.decoding.sampling_probs`, :func:`nnfaq.transformers.decoding.top_k_filter`
# and :func:`nnfaq.transformers.decoding.top_p_filter`.
plt.show()
