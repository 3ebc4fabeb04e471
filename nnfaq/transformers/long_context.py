"""Long context: stretching RoPE

RoPE rotates each pair of query/key features by an angle proportional to the position, one frequency
per pair. A model trained on ``L`` tokens has seen the slow pairs turn only part of the way round; at
longer lengths they reach angles it never saw. This topic proves which pairs those are and builds the
three standard fixes from scratch (position interpolation, NTK-aware scaling and YaRN), each judged by
what it does to the highest and lowest frequencies.
"""

from __future__ import annotations

import math

import torch

from nnfaq import _validate as check
from nnfaq._registry import question
from nnfaq.transformers._models import LLAMA2_7B  # noqa: F401 (the examples use it)

__all__ = ["ntk_aware_frequencies", "position_interpolation", "rope_frequencies", "unseen_angles", "yarn_frequencies"]


def _head_dim(head_dim) -> int:
    D = check.integer("head_dim", head_dim, low=2)
    if D % 2:
        raise ValueError(f"head_dim must be even (RoPE rotates pairs of features), got {D}")
    return D


def rope_frequencies(head_dim: int, base: float = 10000.0) -> torch.Tensor:
    r"""RoPE's rotation frequencies :math:`\theta_i = \mathrm{base}^{-2i/D}`, one per feature pair.

    Pair ``i`` of a query or key at position ``m`` is rotated by the angle :math:`m\theta_i`: pair 0
    turns by 1 radian per token (wavelength :math:`2\pi`), the last pair by about
    :math:`\mathrm{base}^{-1}` (wavelength about :math:`2\pi \cdot \mathrm{base}`).

    .. math::

        \theta_i = \mathrm{base}^{-2i/D}, \qquad \lambda_i = \frac{2\pi}{\theta_i}, \qquad i = 0, \dots, D/2 - 1

    Parameters
    ----------
    head_dim : int
        :math:`D`, even.
    base : float, default 10000.0
        Greater than 1 (Llama 2: 10000; Llama 3: 500000).

    Returns
    -------
    torch.Tensor
        ``(D/2,)`` float64, decreasing from 1.

    See Also
    --------
    unseen_angles, nnfaq.sequences.positional_encoding.rotary_embedding

    References
    ----------
    .. [1] J. Su et al., "RoFormer: Enhanced Transformer with Rotary Position Embedding", 2021.

    Examples
    --------
    >>> theta = rope_frequencies(128)
    >>> theta.shape, theta[0].item(), bool((theta.diff() < 0).all())
    (torch.Size([64]), 1.0, True)
    >>> round(2 * math.pi / theta[-1].item())  # the longest wavelength, in tokens
    54410
    """
    D = _head_dim(head_dim)
    base = check.number("base", base, low=1.0, low_open=True)
    # theta_i = base^(-2i/D)
    return base ** (-torch.arange(0, D, 2, dtype=torch.float64) / D)  # (D/2,)


@question(
    "rope-beyond-trained-length",
    level="advanced",
    short=(
        "RoPE is relative, but each feature pair turns at its own frequency. Pairs whose wavelength exceeds "
        "the trained length never complete a turn in training, so the model saw only part of their circle; "
        "beyond that length they reach angles it never saw. Llama 2 (head size 128, base 10000, 4096 tokens) "
        "has 18 such pairs of 64."
    ),
    followups=("rope-position-interpolation", "ntk-aware-rope", "yarn"),
)
def unseen_angles(
    theta: torch.Tensor, train_len: int, new_len: int, scaled_theta: torch.Tensor | None = None
) -> torch.Tensor:
    r"""Which RoPE pairs rotate, at positions up to ``new_len``, to angles never reached in training.

    **Why does RoPE fail beyond the length a model was trained on?**

    RoPE is relative, but it is built from rotations at :math:`D/2` different frequencies. A pair whose
    wavelength :math:`2\pi/\theta_i` is shorter than the trained length :math:`L` turns through full
    circles during training, so every angle it can take has been seen. A pair whose wavelength is longer
    never completes a turn: training only covers the arc :math:`[0, \theta_i L)`, and positions beyond
    :math:`L` rotate it to angles the model never saw, so the attention scores it contributes are out
    of distribution. The fixes change the frequencies so that those pairs stay on the trained arc.

    .. math::

        \text{unseen}_i = \left(\theta_i L < 2\pi\right) \wedge \left(\theta'_i L' > \theta_i L\right)

    Parameters
    ----------
    theta : torch.Tensor
        ``(D/2,)`` frequencies the model was trained with.
    train_len : int
        :math:`L`, the trained context length.
    new_len : int
        :math:`L'`, the context length to run at.
    scaled_theta : torch.Tensor, optional
        ``(D/2,)`` frequencies used at the new length :math:`\theta'`; default ``theta`` (plain
        extrapolation).

    Returns
    -------
    torch.Tensor
        ``(D/2,)`` bool: True where pair ``i`` never completed a turn in training and now goes beyond its
        trained arc.

    See Also
    --------
    rope_frequencies, position_interpolation, ntk_aware_frequencies, yarn_frequencies

    Notes
    -----
    The trained positions are taken as the continuous range ``[0, L)`` so that position interpolation,
    which maps ``[0, sL)`` onto it exactly, leaves no pair beyond its arc (a relative tolerance of
    1e-9 absorbs rounding).

    .. admonition:: Common mistake

        "RoPE encodes relative positions, so it extrapolates to any length."

        The score depends only on the offset, but it is built from rotations at many frequencies, and the
        slowest ones never complete a turn within the trained length: at longer offsets they take angles
        the model never saw. The examples count 18 such pairs for Llama 2; perplexity explodes beyond the
        trained length in practice (Chen et al. 2023, Figure 1).

    References
    ----------
    .. [1] S. Chen et al., "Extending Context Window of Large Language Models via Positional
       Interpolation", 2023.
    .. [2] B. Peng et al., "YaRN: Efficient Context Window Extension of Large Language Models", ICLR 2024,
       section 3.

    Examples
    --------
    Llama 2 7B: head size 128, base 10000, trained on 4096 tokens. 18 of its 64 pairs have a wavelength
    longer than 4096 tokens; run at 16384 tokens, exactly those leave their trained arc:

    >>> m = LLAMA2_7B
    >>> theta = rope_frequencies(m.head_dim, m.rope_base)
    >>> slow = 2 * math.pi / theta > m.max_seq_len
    >>> int(slow.sum())
    18
    >>> torch.equal(unseen_angles(theta, m.max_seq_len, 4 * m.max_seq_len), slow)
    True

    Within the trained length nothing is new:

    >>> bool(unseen_angles(theta, m.max_seq_len, m.max_seq_len).any())
    False

    A fast pair has turned through every angle; a slow pair covers only part of its circle in training:

    >>> turns = theta * m.max_seq_len / (2 * math.pi)
    >>> round(turns[0].item()), round(turns[-1].item(), 4)
    (652, 0.0753)
    """
    check.tensor("theta", theta, ndim=1)
    L = check.integer("train_len", train_len, low=1)
    L_new = check.integer("new_len", new_len, low=1)
    if scaled_theta is None:
        scaled_theta = theta
    check.tensor("scaled_theta", scaled_theta, ndim=1)
    check.same_shape("scaled_theta", scaled_theta, tuple(theta.shape), "the shape of theta")
    arc = theta * L  # (D/2,) trained angles [0, theta L)
    # never a full turn in training, and the new positions leave the trained arc
    return (arc < 2 * math.pi) & (scaled_theta * L_new > arc * (1 + 1e-9))  # (D/2,)


@question(
    "rope-position-interpolation",
    level="advanced",
    short=(
        "To run a model trained on L tokens at s times L, divide every position, equivalently every RoPE "
        "frequency, by s. Every angle then stays on the trained arc, so nothing is unseen. But the highest "
        "frequency is divided by s too: neighbouring tokens become s times closer in angle, which is why it "
        "needs a short fine-tune."
    ),
    followups=("ntk-aware-rope", "yarn", "rope-beyond-trained-length"),
)
def position_interpolation(theta: torch.Tensor, factor: float) -> torch.Tensor:
    r"""Position interpolation: every RoPE frequency divided by the context extension ``factor``.

    **What does position interpolation do to RoPE, and what does it cost?**

    To run at :math:`sL` tokens a model trained on :math:`L`, position interpolation maps position
    :math:`m` to :math:`m/s`, which is the same as dividing every frequency by :math:`s`. Every pair's
    angle at the new length then equals its angle at the trained length, so nothing is out of range,
    and a short fine-tune suffices. The price is at the high frequencies: the lowest pair is divided by
    :math:`s` as it should be, but so is the highest, so adjacent tokens, 1 radian apart in training,
    are :math:`1/s` radians apart and harder to tell apart.

    .. math::

        \theta'_i = \theta_i / s, \qquad m\,\theta'_i = (m / s)\,\theta_i

    Parameters
    ----------
    theta : torch.Tensor
        ``(D/2,)`` trained frequencies.
    factor : float
        :math:`s \ge 1`, new length over trained length.

    Returns
    -------
    torch.Tensor
        ``(D/2,)`` frequencies :math:`\theta / s`.

    See Also
    --------
    rope_frequencies, ntk_aware_frequencies, yarn_frequencies

    Notes
    -----
    Hugging Face calls this ``rope_scaling={"rope_type": "linear", "factor": s}``.

    References
    ----------
    .. [1] S. Chen et al., "Extending Context Window of Large Language Models via Positional
       Interpolation", 2023.

    Examples
    --------
    Dividing the frequencies is dividing the positions:

    >>> theta = rope_frequencies(LLAMA2_7B.head_dim, LLAMA2_7B.rope_base)
    >>> pi = position_interpolation(theta, factor=4)
    >>> positions = torch.arange(16384, dtype=torch.float64)
    >>> torch.allclose(positions[:, None] * pi, (positions / 4)[:, None] * theta)
    True

    No pair leaves its trained arc at 4 x 4096 tokens, but the highest and the lowest frequencies are
    both divided by 4:

    >>> bool(unseen_angles(theta, 4096, 4 * 4096, pi).any())
    False
    >>> (pi[0] / theta[0]).item(), (pi[-1] / theta[-1]).item()
    (0.25, 0.25)
    """
    check.tensor("theta", theta, ndim=1)
    s = check.number("factor", factor, low=1.0)
    # theta'_i = theta_i / s, i.e. position m -> m / s
    return theta / s  # (D/2,)


@question(
    "ntk-aware-rope",
    level="advanced",
    short=(
        "NTK-aware scaling raises RoPE's base to base times s^(D/(D-2)). The highest frequency is unchanged, "
        "the lowest is divided by exactly s, those between by s to a power between 0 and 1. Local order keeps "
        "its resolution and it works without fine-tuning, but middle slow pairs are divided by less than s "
        "and still leave their trained arc."
    ),
    followups=("yarn", "rope-position-interpolation"),
)
def ntk_aware_frequencies(head_dim: int, base: float = 10000.0, factor: float = 1.0) -> torch.Tensor:
    r"""NTK-aware RoPE scaling: the frequencies of a larger base, :math:`b' = b\,s^{D/(D-2)}`.

    **What is NTK-aware RoPE scaling, and what does it do to the highest and lowest frequencies?**

    Instead of dividing every frequency by :math:`s`, it enlarges the base so that the frequencies are
    divided by :math:`s^{2i/(D-2)}`: by 1 for the first, fastest pair (local order keeps its full
    resolution) and by exactly :math:`s` for the last, slowest pair, geometrically in between. It works
    reasonably even without fine-tuning. Its flaw is in the middle: slow pairs other than the last one
    are divided by less than :math:`s`, so at :math:`sL` tokens they still turn beyond their trained
    arc.

    .. math::

        b' = b\,s^{D/(D-2)}, \qquad
        \theta'_i = b'^{-2i/D} = \theta_i\, s^{-2i/(D-2)}

    Parameters
    ----------
    head_dim : int
        :math:`D`, even, at least 4.
    base : float, default 10000.0
        The trained base :math:`b`.
    factor : float, default 1.0
        :math:`s \ge 1`.

    Returns
    -------
    torch.Tensor
        ``(D/2,)`` scaled frequencies.

    See Also
    --------
    rope_frequencies, position_interpolation, yarn_frequencies

    Notes
    -----
    Hugging Face calls this ``rope_type="dynamic"`` when ``s`` is recomputed from the current length.
    Raising the base and training on it (Code Llama's base 10^6, Llama 3's 500000) is a related but
    different remedy.

    References
    ----------
    .. [1] bloc97, "NTK-Aware Scaled RoPE allows LLaMA models to have extended (8k+) context size
       without any fine-tuning and minimal perplexity degradation", r/LocalLLaMA, 2023.
    .. [2] B. Peng et al., "YaRN: Efficient Context Window Extension of Large Language Models", ICLR 2024,
       section 3.1.

    Examples
    --------
    Highest frequency unchanged, lowest divided by exactly ``s``, the rest by ``s^(2i/(D-2))``:

    >>> D, s = LLAMA2_7B.head_dim, 4.0
    >>> theta, ntk = rope_frequencies(D), ntk_aware_frequencies(D, factor=s)
    >>> round((ntk[0] / theta[0]).item(), 6), round((ntk[-1] / theta[-1]).item(), 6)
    (1.0, 0.25)
    >>> i = torch.arange(D // 2, dtype=torch.float64)
    >>> torch.allclose(ntk / theta, s ** (-2 * i / (D - 2)))
    True

    At 4 x 4096 tokens, 17 of Llama 2's 18 slow pairs still leave their trained arc (all but the last):

    >>> unseen = unseen_angles(theta, 4096, 4 * 4096, ntk)
    >>> int(unseen.sum()), bool(unseen[-1])
    (17, False)
    """
    D = _head_dim(head_dim)
    if D < 4:
        raise ValueError(f"head_dim must be at least 4 for NTK-aware scaling (D - 2 > 0), got {D}")
    base = check.number("base", base, low=1.0, low_open=True)
    s = check.number("factor", factor, low=1.0)
    # b' = b s^(D / (D - 2))
    return rope_frequencies(D, base * s ** (D / (D - 2)))  # (D/2,)


@question(
    "yarn",
    level="advanced",
    short=(
        "YaRN scales each RoPE pair by the turns it makes in the trained length: pairs with over 32 turns "
        "keep their frequency, pairs with under one are divided by s as in interpolation, with a linear ramp "
        "between; attention logits are sharpened by (0.1 ln s + 1) squared. High frequencies stay intact and "
        "no pair leaves its trained arc."
    ),
    followups=("ntk-aware-rope", "rope-position-interpolation", "rope-beyond-trained-length"),
)
def yarn_frequencies(
    head_dim: int,
    base: float = 10000.0,
    factor: float = 1.0,
    original_max_position_embeddings: int = 4096,
    beta_fast: float = 32.0,
    beta_slow: float = 1.0,
) -> tuple[torch.Tensor, float]:
    r"""YaRN: RoPE frequencies interpolated "by parts", and its attention scale factor.

    **What does YaRN do to RoPE's frequencies, and why is it better than interpolation or NTK-aware
    scaling?**

    YaRN treats each pair by how many turns :math:`r_i = L / \lambda_i` it completes in the trained
    length. Pairs with more than :math:`\beta = 32` turns are left alone: they have seen every angle, and
    they carry local order. Pairs with fewer than :math:`\alpha = 1` turn are divided by :math:`s` exactly
    as in position interpolation, so they stay on their trained arc. In between the factor ramps
    linearly in :math:`r`. Longer contexts flatten the attention, so YaRN also multiplies the logits by
    :math:`1/t = (0.1 \ln s + 1)^2` (both queries and keys are scaled by :math:`0.1 \ln s + 1`).

    .. math::

        r_i = \frac{L\,\theta_i}{2\pi}, \qquad
        \gamma_i = \mathrm{clamp}\!\left(\frac{r_i - \alpha}{\beta - \alpha}, 0, 1\right), \qquad
        \theta'_i = (1 - \gamma_i)\frac{\theta_i}{s} + \gamma_i\,\theta_i, \qquad
        \sqrt{1/t} = 0.1 \ln s + 1

    Parameters
    ----------
    head_dim : int
        :math:`D`, even.
    base : float, default 10000.0
        The trained base.
    factor : float, default 1.0
        :math:`s \ge 1`.
    original_max_position_embeddings : int, default 4096
        :math:`L`, the trained length.
    beta_fast : float, default 32.0
        :math:`\beta`: pairs with more turns than this are not interpolated.
    beta_slow : float, default 1.0
        :math:`\alpha`: pairs with fewer turns than this are fully interpolated; less than ``beta_fast``.

    Returns
    -------
    theta : torch.Tensor
        ``(D/2,)`` scaled frequencies.
    attention_factor : float
        :math:`0.1 \ln s + 1`, by which queries and keys are multiplied.

    See Also
    --------
    rope_frequencies, position_interpolation, ntk_aware_frequencies

    Notes
    -----
    This is the paper's ramp, linear in the number of turns. Hugging Face's ``rope_type="yarn"`` ramps
    linearly over the pair index between the rounded boundary pairs instead, which gives slightly
    different middle frequencies and the same ends. Llama 3.1's ``rope_type="llama3"`` is the same idea
    with a ramp in wavelength.

    .. admonition:: Common mistake

        "Context extension methods all just stretch the positions."

        Position interpolation does, and pays at the high frequencies; NTK-aware scaling keeps the
        highest frequency but leaves middle pairs beyond their arc; YaRN keeps every pair with many turns
        exactly and interpolates exactly those that never completed one. The examples compare the three
        on Llama 2's frequencies.

    References
    ----------
    .. [1] B. Peng et al., "YaRN: Efficient Context Window Extension of Large Language Models", ICLR 2024,
       sections 3.2 ("NTK-by-parts") and 3.4.

    Examples
    --------
    Llama 2 extended 4 times: pairs with more than 32 turns are unchanged, pairs with less than one are
    divided by 4, and the highest and lowest frequencies are the original and the interpolated ones:

    >>> m, s = LLAMA2_7B, 4.0
    >>> theta = rope_frequencies(m.head_dim, m.rope_base)
    >>> yarn, attention_factor = yarn_frequencies(m.head_dim, m.rope_base, s, m.max_seq_len)
    >>> turns = theta * m.max_seq_len / (2 * math.pi)
    >>> torch.equal(yarn[turns > 32], theta[turns > 32]), torch.allclose(yarn[turns < 1], theta[turns < 1] / s)
    (True, True)
    >>> int((turns > 32).sum()), int((turns < 1).sum()), (yarn[0] / theta[0]).item(), (yarn[-1] / theta[-1]).item()
    (21, 18, 1.0, 0.25)

    No pair leaves its trained arc at 4 x 4096 tokens, and the logits are sharpened by ``(0.1 ln 4 + 1)^2``:

    >>> bool(unseen_angles(theta, m.max_seq_len, 4 * m.max_seq_len, yarn).any())
    False
    >>> round(attention_factor, 4), round(attention_factor**2, 4)
    (1.1386, 1.2965)

    With ``s = 1`` nothing changes:

    >>> torch.allclose(yarn_frequencies(m.head_dim, m.rope_base, 1.0)[0], theta)
    True
    """
    D = _head_dim(head_dim)
    base = check.number("base", base, low=1.0, low_open=True)
    s = check.number("factor", factor, low=1.0)
    L = check.integer("original_max_position_embeddings", original_max_position_embeddings, low=1)
    beta = check.number("beta_fast", beta_fast, low=0.0, low_open=True)
    alpha = check.number("beta_slow", beta_slow, low=0.0, low_open=True)
    if alpha >= beta:
        raise ValueError(f"beta_slow must be less than beta_fast ({beta:g}), got {alpha:g}")
    theta = rope_frequencies(D, base)  # (D/2,)
    # r_i = L / lambda_i: turns of pair i within the trained length
    r = L * theta / (2 * math.pi)  # (D/2,)
    # gamma = 0 below alpha turns (interpolate), 1 above beta (keep), linear between
    gamma = ((r - alpha) / (beta - alpha)).clamp(0.0, 1.0)  # (D/2,)
    # theta' = (1 - gamma) theta / s + gamma theta
    scaled = torch.where(gamma == 1, theta, (1 - gamma) * theta / s + gamma * theta)  # (D/2,)
    # sqrt(1/t) = 0.1 ln s + 1
    return scaled, 0.1 * math.log(s) + 1.0
