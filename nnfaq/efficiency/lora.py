"""LoRA: low-rank adaptation

Fine-tuning a frozen weight matrix through a trainable low-rank update :math:`\\frac{\\alpha}{r} BA`:
the forward pass, how few parameters it trains, the initialization that leaves the model unchanged
at step 0 and which of the two matrices learns first, and merging the update into the base weight
so that inference costs nothing extra.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from nnfaq import _validate as check
from nnfaq._registry import question

__all__ = ["lora_init", "lora_linear", "merge_lora"]


def _check_lora(weight, lora_A, lora_B, alpha) -> float:
    check.tensor("weight", weight, ndim=2)
    check.tensor("lora_A", lora_A, ndim=2)
    check.tensor("lora_B", lora_B, ndim=2)
    d_out, d_in = weight.shape
    r = lora_A.shape[0]
    check.same_shape("lora_A", lora_A, (r, d_in), "(r, in_features): weight has in_features = weight.shape[1]")
    check.same_shape("lora_B", lora_B, (d_out, r), "(out_features, r) with r = lora_A.shape[0]")
    if r == 0:
        raise ValueError("lora_A must have rank r = lora_A.shape[0] >= 1")
    check.same_dtype("weight", weight, lora_A=lora_A, lora_B=lora_B)
    return check.number("alpha", alpha, low=0.0, low_open=True, high=math.inf, high_open=True)


@question(
    "lora",
    level="intermediate",
    short=(
        "LoRA freezes a pretrained weight W and learns a low-rank update: y = W x + (alpha/r) B A x, with A "
        "of shape r by d_in and B of shape d_out by r. It trains r(d_in + d_out) numbers instead of d_in "
        "d_out, 0.4% of a 4096-square matrix at r = 8; only they need gradients and Adam state."
    ),
    followups=("lora-initialization", "lora-merge", "qlora-bits-per-parameter"),
)
def lora_linear(
    input: torch.Tensor,
    weight: torch.Tensor,
    lora_A: torch.Tensor,
    lora_B: torch.Tensor,
    alpha: float,
    bias: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""A linear layer with a LoRA update: :math:`y = x W^\top + b + \frac{\alpha}{r}\, x A^\top B^\top`.

    **What is LoRA, and how many parameters does it train?**

    LoRA (low-rank adaptation) keeps the pretrained weight :math:`W` frozen and learns the change as a
    product of two thin matrices, :math:`\Delta W = \frac{\alpha}{r} B A` with
    :math:`A \in \mathbb R^{r \times d_{in}}` and :math:`B \in \mathbb R^{d_{out} \times r}`. It trains
    :math:`r(d_{in} + d_{out})` numbers per layer instead of :math:`d_{in} d_{out}`, so gradients and
    Adam's two moment buffers exist only for the small matrices; the bet is that the change
    fine-tuning needs has low rank. The input passes through :math:`A` first, so the extra cost is
    two thin matrix products, and :math:`\alpha / r` keeps the update's scale steady when the rank
    is changed.

    .. math::

        y = x W^\top + b + \frac{\alpha}{r}\,(x A^\top) B^\top
          = x \left(W + \tfrac{\alpha}{r} B A\right)^\top + b, \qquad r = \text{lora\_A.shape[0]}

    Parameters
    ----------
    input : torch.Tensor
        ``(*, d_in)``.
    weight : torch.Tensor
        ``(d_out, d_in)``, the frozen :math:`W`.
    lora_A : torch.Tensor
        ``(r, d_in)``, :math:`A`.
    lora_B : torch.Tensor
        ``(d_out, r)``, :math:`B`.
    alpha : float
        :math:`\alpha > 0`; the update is scaled by :math:`\alpha / r`.
    bias : torch.Tensor, optional
        ``(d_out,)``.

    Returns
    -------
    torch.Tensor
        ``(*, d_out)``.

    See Also
    --------
    torch.nn.functional.linear, lora_init, merge_lora

    References
    ----------
    .. [1] E. J. Hu et al., "LoRA: Low-Rank Adaptation of Large Language Models", ICLR 2022.

    Examples
    --------
    Equals ``F.linear`` with the updated weight :math:`W + \frac{\alpha}{r} BA`:

    >>> x = torch.randn(5, 16, dtype=torch.float64)
    >>> W, b = torch.randn(8, 16, dtype=torch.float64), torch.randn(8, dtype=torch.float64)
    >>> A, B = torch.randn(2, 16, dtype=torch.float64), torch.randn(8, 2, dtype=torch.float64)
    >>> torch.allclose(lora_linear(x, W, A, B, alpha=4.0, bias=b), F.linear(x, W + (4.0 / 2) * B @ A, b))
    True

    The update has rank at most r:

    >>> int(torch.linalg.matrix_rank(B @ A))
    2

    Trainable numbers, :math:`r(d_{in} + d_{out})`, against a full 4096 x 4096 projection (a Llama
    2 7B attention matrix) at r = 8:

    >>> A, B = lora_init(4096, 4096, r=8)
    >>> A.numel() + B.numel(), 8 * (4096 + 4096), round(100 * (A.numel() + B.numel()) / 4096**2, 2)
    (65536, 65536, 0.39)

    Only ``A`` and ``B`` get gradients when ``W`` is frozen:

    >>> W = torch.randn(8, 16)
    >>> A, B = (t.requires_grad_() for t in lora_init(16, 8, r=4))
    >>> lora_linear(torch.randn(3, 16), W, A, B, alpha=8.0).sum().backward()
    >>> W.grad is None, A.grad is not None, B.grad is not None
    (True, True, True)
    """
    check.tensor("input", input, min_ndim=1)
    a = _check_lora(weight, lora_A, lora_B, alpha)
    if input.shape[-1] != weight.shape[1]:
        raise ValueError(f"input must have last dimension in_features = {weight.shape[1]}, got {tuple(input.shape)}")
    if bias is not None:
        check.tensor("bias", bias)
        check.same_shape("bias", bias, (weight.shape[0],), "(out_features,)")
    r = lora_A.shape[0]
    # x A^T first: (*, r), so the update never forms the d_out x d_in matrix
    update = (input @ lora_A.T) @ lora_B.T  # (*, d_out)
    return F.linear(input, weight, bias) + (a / r) * update


@question(
    "lora-initialization",
    level="intermediate",
    short=(
        "A is random (Kaiming-uniform in PEFT, Gaussian in the paper) and B is zero, so B A = 0 and the model "
        "starts exactly as pretrained. A's gradient is proportional to B, so at step 0 only B learns; A "
        "follows from the second step. Both zero would never learn; both random would change the model before "
        "training."
    ),
    followups=("lora", "zero-initialization", "why-random-init"),
)
def lora_init(
    in_features: int, out_features: int, r: int, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""LoRA's initialization as in PEFT: :math:`A` Kaiming-uniform (``a = sqrt(5)``), :math:`B = 0`.

    **How is LoRA initialized, and which of its two matrices learns first?**

    :math:`B = 0` makes the update :math:`BA` zero, so fine-tuning starts exactly from the pretrained
    model; :math:`A` is random, as a linear layer's weight would be. The gradients explain why one of
    them must be nonzero: :math:`\partial L / \partial A` contains :math:`B`, and
    :math:`\partial L / \partial B` contains :math:`A x`. At step 0 :math:`A` therefore gets a zero
    gradient and only :math:`B` learns; once :math:`B \ne 0`, :math:`A` moves too. With both zero
    neither gradient would ever become nonzero (a saddle point); with both random the model would
    change before seeing any data.

    .. math::

        G = \frac{\partial L}{\partial y}, \qquad
        \frac{\partial L}{\partial B} = \frac{\alpha}{r}\, G^\top (x A^\top), \qquad
        \frac{\partial L}{\partial A} = \frac{\alpha}{r}\, (G B)^\top x = 0 \ \text{ when } B = 0

    Parameters
    ----------
    in_features, out_features : int
        :math:`d_{in}, d_{out} \ge 1`.
    r : int
        The rank, at least 1.
    generator : torch.Generator, optional
        For the draw of :math:`A`.

    Returns
    -------
    lora_A : torch.Tensor
        ``(r, in_features)``, uniform on :math:`\pm 1/\sqrt{d_{in}}` (``nn.Linear``'s default).
    lora_B : torch.Tensor
        ``(out_features, r)``, zeros.

    See Also
    --------
    lora_linear, torch.nn.init.kaiming_uniform_

    Notes
    -----
    .. admonition:: Common mistake

        "LoRA initializes both matrices randomly."

        Only :math:`A` is random; :math:`B` starts at zero so that :math:`BA = 0` and the adapted
        model equals the pretrained one at step 0. The examples show that random :math:`B` would
        change the output, and that zero :math:`A` as well as zero :math:`B` would never learn.

    References
    ----------
    .. [1] E. J. Hu et al., "LoRA: Low-Rank Adaptation of Large Language Models", ICLR 2022,
       section 4.1 ("random Gaussian initialization for A and zero for B").

    Examples
    --------
    ``A`` is drawn as ``nn.Linear``'s weight would be (the same generator gives the same numbers), ``B``
    is zero:

    >>> A, B = lora_init(16, 8, r=4, generator=torch.Generator().manual_seed(1))
    >>> ref = torch.empty(4, 16)
    >>> _ = nn.init.kaiming_uniform_(ref, a=5**0.5, generator=torch.Generator().manual_seed(1))
    >>> torch.allclose(A, ref), bool((B == 0).all())
    (True, True)

    At step 0 the adapted layer equals the pretrained one, and only ``B`` has a gradient:

    >>> x, W = torch.randn(32, 16, dtype=torch.float64), torch.randn(8, 16, dtype=torch.float64)
    >>> A, B = (t.double().requires_grad_() for t in lora_init(16, 8, r=4))
    >>> y = lora_linear(x, W, A, B, alpha=8.0)
    >>> torch.equal(y, F.linear(x, W))
    True
    >>> y.pow(2).sum().backward()
    >>> bool((A.grad == 0).all()), bool((B.grad != 0).any())
    (True, True)

    After one SGD step on ``B``, ``A`` gets a gradient as well:

    >>> with torch.no_grad():
    ...     B -= 0.01 * B.grad
    >>> A.grad = None
    >>> lora_linear(x, W, A, B, alpha=8.0).pow(2).sum().backward()
    >>> bool((A.grad != 0).any())
    True

    Both matrices zero: neither ever learns. Both random: the model changes before training:

    >>> A0, B0 = (torch.zeros(*s, dtype=torch.float64, requires_grad=True) for s in ((4, 16), (8, 4)))
    >>> lora_linear(x, W, A0, B0, alpha=8.0).pow(2).sum().backward()
    >>> bool((A0.grad == 0).all() and (B0.grad == 0).all())
    True
    >>> torch.allclose(lora_linear(x, W, A.detach(), torch.randn(8, 4, dtype=torch.float64), 8.0), F.linear(x, W))
    False
    """
    d_in = check.integer("in_features", in_features, low=1)
    d_out = check.integer("out_features", out_features, low=1)
    rank = check.integer("r", r, low=1)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    # kaiming_uniform_(a=sqrt(5)): bound = sqrt(6 / ((1 + a^2) d_in)) = 1 / sqrt(d_in)
    bound = 1 / math.sqrt(d_in)
    lora_A = torch.empty(rank, d_in).uniform_(-bound, bound, generator=generator)  # (r, d_in)
    lora_B = torch.zeros(d_out, rank)  # (d_out, r)
    return lora_A, lora_B


@question(
    "lora-merge",
    level="intermediate",
    short=(
        "Yes: the update (alpha / r) B A has the base weight's shape, so W' = W + (alpha / r) B A is computed "
        "once after training and the layer runs as a plain linear layer: same outputs, no extra latency. "
        "Subtracting it unmerges, so one base model can switch adapters; a QLoRA base must be dequantized "
        "first."
    ),
    followups=("lora", "lora-initialization"),
)
def merge_lora(weight: torch.Tensor, lora_A: torch.Tensor, lora_B: torch.Tensor, alpha: float) -> torch.Tensor:
    r"""The merged weight :math:`W' = W + \frac{\alpha}{r} B A`, of ``weight``'s shape.

    **Can a LoRA adapter be merged into the base weights, and does it slow down inference?**

    The adapter's contribution :math:`\frac{\alpha}{r} x A^\top B^\top` is linear in :math:`x` with
    the matrix :math:`\frac{\alpha}{r} BA`, which has the base weight's shape. Adding it to
    :math:`W` once, after training, gives an ordinary linear layer with the same outputs: no extra
    matrix products at inference, unlike adapter layers inserted between blocks. Keeping them
    separate instead lets one base model serve many adapters (subtracting the product unmerges
    one); merging into a 4-bit base requires dequantizing it first.

    .. math::

        W' = W + \frac{\alpha}{r} B A, \qquad x W'^\top + b = x W^\top + b + \frac{\alpha}{r} x A^\top B^\top

    Parameters
    ----------
    weight : torch.Tensor
        ``(d_out, d_in)``.
    lora_A : torch.Tensor
        ``(r, d_in)``.
    lora_B : torch.Tensor
        ``(d_out, r)``.
    alpha : float
        :math:`\alpha > 0`.

    Returns
    -------
    torch.Tensor
        ``(d_out, d_in)``, a new tensor (``weight`` is not modified).

    See Also
    --------
    lora_linear

    References
    ----------
    .. [1] E. J. Hu et al., "LoRA: Low-Rank Adaptation of Large Language Models", ICLR 2022,
       section 4.1 ("no additional inference latency").

    Examples
    --------
    The merged layer gives the adapter's outputs, in float64 to rounding:

    >>> x = torch.randn(10, 32, dtype=torch.float64)
    >>> W, b = torch.randn(24, 32, dtype=torch.float64), torch.randn(24, dtype=torch.float64)
    >>> A, B = torch.randn(4, 32, dtype=torch.float64), torch.randn(24, 4, dtype=torch.float64)
    >>> merged = merge_lora(W, A, B, alpha=16.0)
    >>> merged.shape == W.shape
    True
    >>> torch.allclose(F.linear(x, merged, b), lora_linear(x, W, A, B, alpha=16.0, bias=b))
    True

    Unmerging gives the base weight back (to rounding), and ``weight`` itself was never modified:

    >>> torch.allclose(merged - (16.0 / 4) * B @ A, W)
    True
    >>> torch.equal(merge_lora(W, A, torch.zeros(24, 4, dtype=torch.float64), alpha=16.0), W)
    True
    """
    a = _check_lora(weight, lora_A, lora_B, alpha)
    r = lora_A.shape[0]
    # Delta W = (alpha / r) B A: (d_out, r) @ (r, d_in)
    return weight + (a / r) * (lora_B @ lora_A)  # (d_out, d_in)
