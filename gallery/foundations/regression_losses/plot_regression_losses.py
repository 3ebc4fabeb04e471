"""
What is the difference between the L1, L2 (MSE) and Huber losses?
==================================================================

The three regression losses differ in how they weigh large errors. This page plots each loss and
its gradient against the error, then fits a constant to data with one outlier to show what that
difference does.

*To run this example yourself:* ``pip install "nnfaq[examples]"`` (PyTorch, matplotlib,
scikit-learn); it runs on a laptop CPU in a few seconds.
"""

# %%
# The losses against the error
# ----------------------------
# MSE grows quadratically, L1 linearly; Huber (:math:`\delta = 1`) is :math:`\frac12 e^2` inside
# :math:`[-1, 1]` and linear outside, so it meets MSE/2 near zero and runs parallel to L1 far out.
import matplotlib.pyplot as plt
import torch

from nnfaq.foundations.regression_losses import huber_loss, l1_loss, mse_loss

torch.manual_seed(0)
torch.set_num_threads(1)  # small tensors: more threads would only contend
e = torch.linspace(-3, 3, 601, dtype=torch.float64, requires_grad=True)
zero = torch.zeros_like(e)
losses = {
    "MSE  e²": mse_loss(e, zero, reduction="none"),
    "L1  |e|": l1_loss(e, zero, reduction="none"),
    "Huber (delta=1)": huber_loss(e, zero, "none", delta=1.0),
}

fig, ax = plt.subplots()
for name, loss in losses.items():
    ax.plot(e.detach(), loss.detach(), label=name)
ax.set_xlabel("error e = prediction - target")
ax.set_ylabel("loss")
ax.set_title("Regression losses against the error")
ax.legend()

# %%
# Their gradients
# ---------------
# MSE's gradient :math:`2e` grows without bound, so one outlier can dominate a batch; L1's is
# :math:`\pm 1`; Huber's is the error clipped to :math:`[-\delta, \delta]`.
fig, ax = plt.subplots()
for name, loss in losses.items():
    (g,) = torch.autograd.grad(loss.sum(), e)
    ax.plot(e.detach(), g, label=name)
ax.set_xlabel("error e")
ax.set_ylabel("d loss / d prediction")
ax.set_title("MSE's gradient grows with the error; L1 and Huber cap it")
ax.legend()

# %%
# The best constant prediction with an outlier
# --------------------------------------------
# Fitting one number to ``[1, 2, 3, 4, 100]``: MSE picks the mean (22), pulled by the outlier;
# L1 picks the median (3); Huber, whose gradient is clipped at 1, lands on the median here too.
y = torch.tensor([1.0, 2.0, 3.0, 4.0, 100.0], dtype=torch.float64)
c = torch.linspace(0, 30, 3001, dtype=torch.float64)
fig, ax = plt.subplots()
for name, fn in (("MSE", mse_loss), ("L1", l1_loss), ("Huber", lambda a, b: huber_loss(a, b, delta=1.0))):
    curve = torch.stack([fn(ci.expand(5), y) for ci in c])
    curve = curve / curve.max()
    ax.plot(c, curve, label=f"{name}: best c = {c[curve.argmin()].item():.2f}")
ax.set_xlabel("constant prediction c")
ax.set_ylabel("loss (scaled to max 1)")
ax.set_title("Targets [1, 2, 3, 4, 100]: MSE chases the outlier")
ax.legend()

# %%
# Takeaway
# --------
# MSE squares errors: it is smooth and the right loss for Gaussian noise, but outliers dominate it.
# L1 is robust (its optimum is the median) with a constant-size gradient; Huber is quadratic for
# small errors and linear for large ones. See :func:`nnfaq.foundations.regression_losses.l1_loss` and
# :func:`nnfaq.foundations.regression_losses.huber_loss`.
plt.show()
