"""
How do you choose the number of hidden layers and neurons?
==========================================================

By experiment, judged on validation data. This page trains multilayer perceptrons of growing width and
depth on 300 of scikit-learn's bundled 8x8 digits and measures training and validation accuracy, then
shows that a large enough network fits even random labels.

*To run this example yourself:* ``pip install "nnfaq[examples]"`` (PyTorch, matplotlib,
scikit-learn); it runs on a laptop CPU in a few seconds.
"""

# %%
# Accuracy as width and depth grow
# --------------------------------
# Tiny networks underfit: both accuracies are low. As width grows, training accuracy reaches 100% and
# validation accuracy levels off below it; the gap between them is what more capacity alone cannot
# close. A second hidden layer changes little here: on this small problem width, not depth, is the
# limit, and a 1- or 2-unit layer is a bottleneck no later layer can undo.
import matplotlib.pyplot as plt
import torch

from nnfaq.datasets import load_digits
from nnfaq.training.sizing import fit, mlp

torch.manual_seed(0)
torch.set_num_threads(1)  # small tensors: more threads would only contend
digits = load_digits()
x, y = digits.x_train[:300], digits.y_train[:300]
widths = [1, 2, 4, 8, 16, 64]
fig, ax = plt.subplots()
for depth, style in ((1, "-"), (2, "--")):
    runs = [fit(mlp(64, [w] * depth, 10), x, y, digits.x_val, digits.y_val, steps=150) for w in widths]
    ax.plot(widths, [r.train_accuracy for r in runs], "o" + style, color="C0", label=f"train, {depth} hidden")
    ax.plot(widths, [r.val_accuracy for r in runs], "s" + style, color="C1", label=f"validation, {depth} hidden")
    widest, narrowest = runs[-1], runs[0]
    print(f"{depth} hidden layer(s): width 64 fits the training set:", widest.train_accuracy == 1.0)
    print(f"{depth} hidden layer(s): width 64 validates below its training accuracy:", widest.val_accuracy < 1.0)
    print(f"{depth} hidden layer(s): width 1 underfits (train accuracy below 0.5):", narrowest.train_accuracy < 0.5)
ax.set_xscale("log", base=2)
ax.set_xticks(widths, [str(w) for w in widths])
ax.set_xlabel("neurons per hidden layer")
ax.set_ylabel("accuracy")
ax.set_title("From underfitting to a train/validation gap (300 digits)")
ax.legend()

# %%
# A big enough network memorizes random labels
# --------------------------------------------
# Shuffle the labels: there is nothing left to learn, yet a network with 256 hidden units drives its
# training loss towards zero, more slowly than with the true labels. Its validation accuracy stays at
# chance (10%).
random_y = y[torch.randperm(len(y))]
true_run = fit(mlp(64, [256], 10), x, y, digits.x_val, digits.y_val, steps=300)
random_run = fit(mlp(64, [256], 10), x, random_y, digits.x_val, digits.y_val, steps=300)
fig, ax = plt.subplots()
ax.semilogy(true_run.losses, label="true labels")
ax.semilogy(random_run.losses, label="random labels")
ax.set_xlabel("full-batch Adam step")
ax.set_ylabel("training cross-entropy (log scale)")
ax.set_title("256 hidden units fit 300 random labels too")
ax.legend()
print("random labels: training accuracy above 0.95:", random_run.train_accuracy > 0.95)
print("random labels: validation accuracy near chance (below 0.2):", random_run.val_accuracy < 0.2)
print("true labels: validation accuracy above 0.8:", true_run.val_accuracy > 0.8)

# %%
# Takeaway
# --------
# No formula gives the number of layers and neurons. Let the data choose the family (convolutions for
# images), start from a small baseline, grow it until the training set is fitted, then keep the size,
# regularization and training length with the best validation score. Fitting the training set proves only
# capacity: random labels are fitted too. See :func:`nnfaq.training.sizing.fit` and :func:`nnfaq.training.sizing.mlp`.
plt.show()
