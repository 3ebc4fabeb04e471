"""Number formats and mixed precision

What fp32, fp16 and bf16 can hold: range (set by the exponent bits) against precision (set by the
mantissa bits), where each one overflows to ``inf`` and underflows to zero, proven by casting real
tensors. Then mixed-precision training: why fp16 gradients need loss scaling and bf16 ones do not,
a dynamic loss scaler that follows ``torch.amp.GradScaler`` step for step, and why the optimizer
keeps fp32 master weights.
"""

from __future__ import annotations

import math

import torch

from nnfaq import _validate as check
from nnfaq._registry import question

__all__ = ["accumulate_updates", "float_limits", "unscale_grads", "update_scale"]

_INF = math.inf
_LOW_PRECISION = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def _float_dtype(name: str, dtype) -> torch.dtype:
    if not isinstance(dtype, torch.dtype):
        raise TypeError(f"{name} must be a torch.dtype such as torch.float16, got {type(dtype).__name__}")
    if dtype not in _LOW_PRECISION:
        raise ValueError(
            f"{name} must be one of torch.float16, torch.bfloat16, torch.float32, torch.float64; got {dtype}"
        )
    return dtype


@question(
    "fp16-vs-bf16",
    level="basic",
    short=(
        "Both use 16 bits. fp16 has 5 exponent and 10 mantissa bits: finer steps (relative spacing 2^-10) "
        "but a small range: it overflows above 65504 and rounds values below 3e-8 to zero. bf16 has fp32's 8 "
        "exponent bits and only 7 mantissa bits: fp32's range (up to 3.4e38) with coarser steps (2^-7). "
        "fp16 is more precise; bf16 rarely overflows."
    ),
    followups=("loss-scaling", "fp32-master-weights"),
)
def float_limits(exponent_bits: int, mantissa_bits: int) -> dict[str, float]:
    r"""The range and precision of an IEEE-754-style binary float, computed from its bit layout.

    **What is the difference between fp32, fp16 and bf16, and where does each overflow or underflow?**

    A float stores a sign, ``e`` exponent bits and ``m`` mantissa bits. The exponent bits set the
    *range*: the largest finite value is about :math:`2^{2^{e-1}}` and the smallest normal one
    :math:`2^{2 - 2^{e-1}}`. The mantissa bits set the *precision*: neighbouring values differ by a
    relative step of :math:`2^{-m}` (``eps``). fp32 is (8, 23), fp16 (5, 10), bf16 (8, 7): bf16
    keeps fp32's range (it is fp32 with the low 16 mantissa bits rounded off) and gives up
    precision, fp16 keeps more precision and gives up range. Values above ``max`` (more exactly,
    from ``max`` plus half a step) round to ``inf``; values below half the smallest subnormal round
    to zero.

    .. math::

        \text{bias} = 2^{e-1} - 1, \quad
        \max = (2 - 2^{-m})\, 2^{\text{bias}}, \quad
        \text{smallest normal} = 2^{1-\text{bias}}, \quad
        \text{smallest subnormal} = 2^{1-\text{bias}-m}, \quad
        \epsilon = 2^{-m}

    Parameters
    ----------
    exponent_bits : int
        :math:`e \ge 2`.
    mantissa_bits : int
        :math:`m \ge 1`, the stored fraction bits (the leading 1 of normal numbers is implicit).

    Returns
    -------
    dict of str to float
        ``"max"``, ``"smallest_normal"``, ``"smallest_subnormal"`` and ``"eps"`` (named as in
        ``torch.finfo``; ``finfo.smallest_normal`` is also called ``tiny``).

    See Also
    --------
    torch.finfo

    Notes
    -----
    .. admonition:: Common mistake

        "bf16 is more precise than fp16; that is why it is used for training."

        It is the other way round: bf16 has 7 mantissa bits against fp16's 10, so its relative
        rounding error is 8 times larger (``eps`` 2^-7 against 2^-10; 1 + 2^-8 is exact in fp16 and
        rounds to 1 in bf16). bf16 is preferred for training because of its *range*: with fp32's 8
        exponent bits it neither overflows at 65504 nor flushes small gradients to zero, so it needs
        no loss scaling. The examples show both sides.

    References
    ----------
    .. [1] IEEE 754-2019, "IEEE Standard for Floating-Point Arithmetic".
    .. [2] D. Kalamkar et al., "A Study of BFLOAT16 for Deep Learning Training", arXiv:1905.12322, 2019.

    Examples
    --------
    The bit layouts reproduce ``torch.finfo`` for fp32, fp16 and bf16:

    >>> layouts = {torch.float32: (8, 23), torch.float16: (5, 10), torch.bfloat16: (8, 7)}
    >>> all(float_limits(e, m) == {"max": torch.finfo(d).max, "smallest_normal": torch.finfo(d).smallest_normal,
    ...                            "smallest_subnormal": torch.finfo(d).smallest_normal * torch.finfo(d).eps,
    ...                            "eps": torch.finfo(d).eps} for d, (e, m) in layouts.items())
    True

    fp16 overflows from ``max`` plus half a step (65520) and underflows below half its smallest
    subnormal (2^-25); bf16 holds all of these:

    >>> fp16 = float_limits(5, 10)
    >>> x = torch.tensor([fp16["max"], 65519.0, 65520.0, 1e5, 2.0**-24, 2.0**-25, 1e-8])
    >>> x.half().tolist()
    [65504.0, 65504.0, inf, inf, 5.960464477539063e-08, 0.0, 0.0]
    >>> bool((x.bfloat16() > 0).all() and x.bfloat16().isfinite().all())
    True

    But fp16 is the more precise: 1 + 2^-8 is exact in fp16 and rounds to 1 in bf16, and bf16's
    relative rounding error is up to 8 times fp16's:

    >>> one_plus = torch.tensor(1 + 2.0**-8)
    >>> one_plus.half().item(), one_plus.bfloat16().item()
    (1.00390625, 1.0)
    >>> u = torch.rand(10_000, dtype=torch.float64) + 1              # values in [1, 2)
    >>> rel = {d: ((u.to(d).double() - u) / u).abs().max().item() for d in (torch.float16, torch.bfloat16)}
    >>> rel[torch.float16] <= 2.0**-11, rel[torch.bfloat16] <= 2.0**-8, rel[torch.bfloat16] > 4 * rel[torch.float16]
    (True, True, True)
    """
    e = check.integer("exponent_bits", exponent_bits, low=2)
    m = check.integer("mantissa_bits", mantissa_bits, low=1)
    bias = 2 ** (e - 1) - 1
    # the all-ones exponent is reserved for inf and NaN, so the largest exponent is bias
    return {
        "max": (2 - 2.0**-m) * 2.0**bias,
        "smallest_normal": 2.0 ** (1 - bias),
        # subnormals drop the implicit leading 1: the last mantissa bit at the smallest exponent
        "smallest_subnormal": 2.0 ** (1 - bias - m),
        "eps": 2.0**-m,
    }


def _grads(grads) -> list[torch.Tensor]:
    if isinstance(grads, torch.Tensor) or not isinstance(grads, list | tuple):
        raise TypeError(f"grads must be a list of tensors, got {type(grads).__name__}")
    for i, g in enumerate(grads):
        check.tensor(f"grads[{i}]", g)
    return list(grads)


@question(
    "loss-scaling",
    level="intermediate",
    short=(
        "fp16 rounds values below about 3e-8 to zero, and many gradients are that small, so they vanish. "
        "Loss scaling multiplies the loss by a large S (say 65536) before backward, which shifts every "
        "gradient into fp16's range, then divides the gradients by S in fp32 before the optimizer step. "
        "bf16 has fp32's range, so it needs no scaling."
    ),
    followups=("dynamic-loss-scaling", "fp16-vs-bf16"),
)
def unscale_grads(grads, scale: float) -> tuple[list[torch.Tensor], bool]:
    r"""Divide the gradients of a scaled loss by the scale and report whether any is inf or NaN.

    **Why does fp16 mixed-precision training need loss scaling, and why does bf16 not?**

    Activations' gradients are often tiny (1e-8 and below), and fp16's smallest subnormal is
    :math:`2^{-24} \approx 6 \cdot 10^{-8}`: in an fp16 backward pass they round to zero and the
    weights they belong to stop learning. Multiplying the loss by :math:`S` multiplies every
    gradient by :math:`S` (the chain rule is linear), lifting them into fp16's range; the optimizer
    then works on :math:`g / S` in fp32. Too large an :math:`S` overflows some gradient to ``inf``,
    which this function reports, so the step can be skipped. bf16 shares fp32's exponent range, so
    the same small gradients survive without any scaling.

    .. math::

        \nabla_\theta (S\,L) = S\,\nabla_\theta L, \qquad
        g = \frac{\nabla_\theta (S\,L)}{S}, \qquad
        \text{found\_inf} = \exists\, i: g_i \notin \mathbb{R}

    Parameters
    ----------
    grads : list of torch.Tensor
        Gradients of the scaled loss :math:`S L`, any shapes.
    scale : float
        :math:`S > 0`.

    Returns
    -------
    grads : list of torch.Tensor
        :math:`g / S`, each like its input.
    found_inf : bool
        Whether any gradient holds an ``inf`` or NaN (then the optimizer step must be skipped).

    See Also
    --------
    torch.amp.GradScaler.unscale_, update_scale

    References
    ----------
    .. [1] P. Micikevicius et al., "Mixed Precision Training", ICLR 2018.

    Examples
    --------
    Gives what ``GradScaler.unscale_`` leaves in ``.grad``:

    >>> scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    >>> w = torch.nn.Parameter(torch.randn(3))
    >>> opt = torch.optim.SGD([w], lr=0.1)
    >>> scaler.scale((w**3).sum()).backward()
    >>> scaled = w.grad.clone()
    >>> scaler.unscale_(opt)
    >>> ours, found_inf = unscale_grads([scaled], 1024.0)
    >>> torch.equal(ours[0], w.grad), found_inf
    (True, False)

    Small gradients vanish in fp16 and survive scaling by 65536; unscaled in fp32 they keep three
    significant digits. bf16 keeps them with no scaling at all:

    >>> g = torch.tensor([1e-8, 2e-7, 3e-5])                          # true gradients
    >>> g.half().eq(0).tolist()
    [True, False, False]
    >>> fp16_grads = [(g * 65536).half()]                             # what an fp16 backward of 65536 * loss holds
    >>> back, _ = unscale_grads([fp16_grads[0].float()], 65536.0)
    >>> bool(((back[0] - g) / g).abs().max() < 1e-3)
    True
    >>> bool((g.bfloat16() > 0).all())
    True

    Too large a scale overflows (fp16's max is 65504), and the overflow is reported:

    >>> too_big = (torch.tensor([2.0, 1e-3]) * 65536).half()
    >>> unscale_grads([too_big.float()], 65536.0)[1]
    True
    """
    grads = _grads(grads)
    S = check.number("scale", scale, low=0.0, low_open=True, high=_INF, high_open=True)
    with torch.no_grad():
        # GradScaler multiplies by the reciprocal; for the usual power-of-two scales both are exact
        unscaled = [g * (1.0 / S) for g in grads]
        found_inf = any(not bool(g.isfinite().all()) for g in unscaled)
    return unscaled, found_inf


@question(
    "dynamic-loss-scaling",
    level="advanced",
    short=(
        "Start with a large scale such as 65536. After backward, if any gradient is inf or NaN, skip the "
        "optimizer step and multiply the scale by backoff_factor (0.5); otherwise step, and after "
        "growth_interval (2000) clean steps in a row multiply the scale by growth_factor (2). The scale "
        "settles just below the overflow point, as large as fp16 allows."
    ),
    followups=("loss-scaling", "gradient-clipping"),
)
def update_scale(
    scale: float,
    growth_tracker: int,
    found_inf: bool,
    growth_factor: float = 2.0,
    backoff_factor: float = 0.5,
    growth_interval: int = 2000,
) -> tuple[float, int]:
    r"""One update of a dynamic loss scale, as ``torch.amp.GradScaler.update``; the new scale and counter.

    **How does a dynamic loss scaler (GradScaler) choose the scale, and what does it do on overflow?**

    No fixed scale suits a whole run: gradients shrink as training progresses, and a scale that
    overflows once would waste the run. The dynamic scaler probes: on an overflow (any ``inf`` or
    NaN gradient) the step is skipped, the weights stay as they were, and the scale is multiplied by
    ``backoff_factor``; after ``growth_interval`` clean steps in a row it is multiplied by
    ``growth_factor``. The scale so hovers near the largest value that does not overflow, and only
    about one step in ``growth_interval`` is lost.

    .. math::

        (S, n) \leftarrow
        \begin{cases}
            (S \cdot \text{backoff}, 0) & \text{found\_inf (step skipped)} \\
            (S \cdot \text{growth}, 0) & n + 1 = \text{growth\_interval} \\
            (S, n + 1) & \text{else}
        \end{cases}

    Parameters
    ----------
    scale : float
        The current scale :math:`S > 0`.
    growth_tracker : int
        :math:`n \ge 0`, clean steps in a row since the last change.
    found_inf : bool
        Whether this step's unscaled gradients held an ``inf`` or NaN (see :func:`unscale_grads`).
    growth_factor : float, default 2.0
        Greater than 1.
    backoff_factor : float, default 0.5
        In ``(0, 1)``.
    growth_interval : int, default 2000
        At least 1.

    Returns
    -------
    scale : float
        The next scale.
    growth_tracker : int
        The next counter.

    See Also
    --------
    torch.amp.GradScaler, unscale_grads

    Examples
    --------
    Follows ``GradScaler`` on the CPU, step for step, through an ``inf`` and a NaN gradient, and the
    skipped steps leave the weights unchanged (four clean steps of 0.1 from 1.0):

    >>> ref = torch.amp.GradScaler("cpu", init_scale=1024.0, growth_interval=2)
    >>> w = torch.nn.Parameter(torch.ones(2))
    >>> opt = torch.optim.SGD([w], lr=0.1)
    >>> scale, tracker, ours, refs = 1024.0, 0, [], []
    >>> for g in [1.0, float("inf"), 1.0, 1.0, 1.0, float("nan")]:
    ...     opt.zero_grad()
    ...     ref.scale((w * g).sum()).backward(); ref.step(opt); ref.update()
    ...     _, found_inf = unscale_grads([torch.full((2,), g * scale)], scale)
    ...     scale, tracker = update_scale(scale, tracker, found_inf, growth_interval=2)
    ...     ours.append(scale); refs.append(ref.get_scale())
    >>> ours == refs
    True
    >>> ours
    [1024.0, 512.0, 512.0, 1024.0, 1024.0, 512.0]
    >>> [round(v, 4) for v in w.tolist()]
    [0.6, 0.6]

    A scaled gradient of 1.0 overflows fp16 once :math:`S > 65504`: started at 2^16, the scale
    settles between 2^15 and 2^16, and one step in ``growth_interval + 1`` is skipped:

    >>> scale, tracker, seen, skipped = 2.0**16, 0, set(), 0
    >>> for _ in range(220):
    ...     _, found_inf = unscale_grads([(torch.ones(1) * scale).half().float()], scale)
    ...     scale, tracker = update_scale(scale, tracker, found_inf, growth_interval=10)
    ...     seen.add(scale); skipped += found_inf
    >>> sorted(seen), skipped
    ([32768.0, 65536.0], 20)
    """
    S = check.number("scale", scale, low=0.0, low_open=True, high=_INF, high_open=True)
    n = check.integer("growth_tracker", growth_tracker, low=0)
    check.flag("found_inf", found_inf)
    growth = check.number("growth_factor", growth_factor, low=1.0, low_open=True, high=_INF, high_open=True)
    backoff = check.number("backoff_factor", backoff_factor, low=0.0, high=1.0, low_open=True, high_open=True)
    interval = check.integer("growth_interval", growth_interval, low=1)
    if found_inf:
        return S * backoff, 0
    if n + 1 == interval:
        return S * growth, 0
    return S, n + 1


@question(
    "fp32-master-weights",
    level="intermediate",
    short=(
        "An update below half the spacing between a weight and its neighbours is rounded away: next to 1.0, "
        "fp16 values are 2^-10 apart, so 1.0 + 1e-4 is 1.0 again, a thousand times over. Mixed precision "
        "keeps an fp32 master copy that accumulates the small updates and is cast to fp16 or bf16 for the "
        "forward pass."
    ),
    followups=("fp16-vs-bf16", "adam-vs-sgd"),
)
def accumulate_updates(
    weight: float, update: float, steps: int, dtype: torch.dtype, master_weights: bool = True
) -> torch.Tensor:
    r"""Add ``update`` to ``weight`` ``steps`` times; the weight as the model sees it, in ``dtype``.

    **Why does mixed-precision training keep fp32 master weights?**

    A float can only move to its neighbours: an update smaller than half the gap between a weight and
    the next representable value rounds away entirely. Next to 1.0 that gap is ``eps``: 2^-10 in
    fp16 and 2^-7 in bf16, while ``lr * grad`` is routinely 1e-4 or less; stored in 16 bits, the
    weight would never move. Mixed-precision training therefore keeps an fp32 master copy that the
    optimizer updates (where 1e-4 is far above fp32's gap of 1.2e-7) and casts it to 16 bits for the
    forward and backward passes; the optimizer state (Adam's moments) stays in fp32 too.

    .. math::

        \text{16-bit only: } w \leftarrow \mathrm{round}_{16}(w + \Delta), \qquad
        \text{master: } w_{32} \leftarrow w_{32} + \Delta, \ w = \mathrm{round}_{16}(w_{32}); \qquad
        \mathrm{round}(w + \Delta) = w \ \text{ if } |\Delta| < \tfrac12\,\mathrm{ulp}(w)

    Parameters
    ----------
    weight : float
        The starting weight.
    update : float
        :math:`\Delta`, added at every step (``-lr * grad``).
    steps : int
        At least 1.
    dtype : torch.dtype
        The model's format: ``torch.float16``, ``torch.bfloat16``, ``torch.float32`` or ``torch.float64``.
    master_weights : bool, default True
        Accumulate in an fp32 master copy (``True``) or in ``dtype`` itself (``False``).

    Returns
    -------
    torch.Tensor
        0-d, of ``dtype``: the weight after ``steps`` updates.

    See Also
    --------
    torch.amp.autocast, float_limits

    References
    ----------
    .. [1] P. Micikevicius et al., "Mixed Precision Training", ICLR 2018, section 3.1.

    Examples
    --------
    In fp16 and bf16, 1.0 + 1e-4 is 1.0, a thousand times over; the fp32 master copy moves by 0.1:

    >>> [accumulate_updates(1.0, 1e-4, 1000, d, master_weights=False).item() for d in (torch.float16, torch.bfloat16)]
    [1.0, 1.0]
    >>> round(accumulate_updates(1.0, 1e-4, 1000, torch.float16).item(), 3)
    1.1

    The threshold is half the gap to the next value, ``eps / 2`` at 1.0 (2^-11 in fp16):

    >>> [accumulate_updates(1.0, d, 1, torch.float16, master_weights=False).item() for d in (4.8e-4, 4.9e-4)]
    [1.0, 1.0009765625]

    The same ``+1e-4`` in plain torch arithmetic:

    >>> w = torch.tensor(1.0, dtype=torch.float16)
    >>> bool(w + 1e-4 == w) and bool(w.float() + 1e-4 != w.float())
    True
    """
    w0 = check.number("weight", weight, low=-_INF, low_open=True, high=_INF, high_open=True)
    delta = check.number("update", update, low=-_INF, low_open=True, high=_INF, high_open=True)
    n = check.integer("steps", steps, low=1)
    dtype = _float_dtype("dtype", dtype)
    master = check.flag("master_weights", master_weights)
    # the master copy is fp32 (fp64 stays fp64); without it the sum is rounded to dtype at every step
    acc_dtype = torch.promote_types(dtype, torch.float32) if master else dtype
    w = torch.tensor(w0, dtype=acc_dtype)
    for _ in range(n):
        w = w + torch.tensor(delta, dtype=acc_dtype)
    return w.to(dtype)
