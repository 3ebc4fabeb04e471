"""Preference optimization: DPO and GRPO

The losses that tune a language model on preferences or rewards, as the math they are (no model is
trained): DPO's loss on log-probability ratios, its value at the first step and what it rewards;
GRPO's group-relative advantages and why they replace PPO's learned critic.
"""

from __future__ import annotations

import math

import torch

from nnfaq import _validate as check
from nnfaq._registry import question

__all__ = ["dpo_loss", "grpo_advantages"]


@question(
    "dpo-loss",
    level="advanced",
    short=(
        "DPO trains on preference pairs without a reward model: the loss is -log sigmoid(beta times the "
        "margin), the margin being how much more than the frozen reference the policy raised the chosen "
        "answer's log-probability over the rejected one's. At step 0 the policy is the reference, so the loss "
        "is log 2. Only the margin counts: both log-probabilities may fall."
    ),
    followups=("grpo-advantages", "kl-divergence", "bce-with-logits"),
)
def dpo_loss(
    policy_chosen_logps: torch.Tensor,
    policy_rejected_logps: torch.Tensor,
    ref_chosen_logps: torch.Tensor,
    ref_rejected_logps: torch.Tensor,
    beta: float = 0.1,
) -> torch.Tensor:
    r"""The DPO loss: :math:`-\log\sigma(\beta m)` of the margin :math:`m` between chosen and rejected log-ratios.

    **What is the DPO loss, what is its value at the start of training, and what does it reward?**

    DPO (direct preference optimization) replaces RLHF's reward model and PPO loop with one
    classification loss on preference pairs. The implicit reward of a response is
    :math:`\beta \log(\pi(y|x) / \pi_{ref}(y|x))`, how much the policy raised its log-probability
    over the frozen reference; the loss is the Bradley-Terry negative log-likelihood that the chosen
    response beats the rejected one. At the first step the policy *is* the reference, every margin is
    0 and the loss is exactly :math:`\log 2`. The gradient pushes the chosen log-probability up and
    the rejected one down by equal amounts, weighted by :math:`\sigma(-\beta m)`: pairs the policy
    still ranks wrongly count most. Only the margin matters, so a policy that lowers both
    log-probabilities can still lower the loss.

    .. math::

        m = (\log\pi_c - \log\pi^{ref}_c) - (\log\pi_r - \log\pi^{ref}_r), \qquad
        L = \frac{1}{B}\sum_b -\log\sigma(\beta m_b) = \frac{1}{B}\sum_b \log(1 + e^{-\beta m_b})

        \frac{\partial L}{\partial \log\pi_c} = -\frac{\partial L}{\partial \log\pi_r}
            = -\frac{\beta}{B}\,\sigma(-\beta m)

    Parameters
    ----------
    policy_chosen_logps, policy_rejected_logps : torch.Tensor
        ``(B,)``: the policy's summed log-probabilities of each chosen and rejected response.
    ref_chosen_logps, ref_rejected_logps : torch.Tensor
        ``(B,)``: the same under the frozen reference model (no gradient flows into them).
    beta : float, default 0.1
        :math:`\beta > 0`, the strength of the implicit KL penalty toward the reference.

    Returns
    -------
    torch.Tensor
        A scalar, the mean over the batch.

    See Also
    --------
    torch.nn.functional.logsigmoid, torch.nn.functional.binary_cross_entropy_with_logits, grpo_advantages

    Notes
    -----
    .. admonition:: Common mistake

        "DPO increases the probability of the chosen response."

        It increases the *margin* between chosen and rejected log-ratios. Lowering both
        log-probabilities by the same amount leaves the loss unchanged, and in practice the chosen
        log-probability often falls during DPO training; the examples prove the invariance.

    References
    ----------
    .. [1] R. Rafailov et al., "Direct Preference Optimization: Your Language Model is Secretly a
       Reward Model", NeurIPS 2023, equation (7).

    Examples
    --------
    Binary cross-entropy with target 1 on the logit :math:`\beta m`, as written in the paper:

    >>> pc, pr, rc, rr = (torch.randn(16, dtype=torch.float64) - 20 for _ in range(4))
    >>> margin = (pc - rc) - (pr - rr)
    >>> ref = F.binary_cross_entropy_with_logits(0.1 * margin, torch.ones(16, dtype=torch.float64))
    >>> torch.allclose(dpo_loss(pc, pr, rc, rr), ref)
    True

    At step 0 the policy is the reference: the loss is :math:`\log 2` whatever the responses:

    >>> abs(dpo_loss(rc, rr, rc, rr).item() - math.log(2)) < 1e-15
    True

    The gradient raises the chosen and lowers the rejected log-probability, equally, and most for
    the pairs ranked wrongly:

    >>> pc_, pr_ = pc.clone().requires_grad_(), pr.clone().requires_grad_()
    >>> dpo_loss(pc_, pr_, rc, rr).backward()
    >>> bool((pc_.grad < 0).all() and (pr_.grad > 0).all()), torch.allclose(pc_.grad, -pr_.grad)
    (True, True)
    >>> torch.allclose(pc_.grad, -0.1 / 16 * torch.sigmoid(-0.1 * margin))
    True

    Only the margin counts: lowering both policy log-probabilities by 5 nats leaves the loss as it was:

    >>> torch.allclose(dpo_loss(pc - 5, pr - 5, rc, rr), dpo_loss(pc, pr, rc, rr))
    True
    """
    tensors = {
        "policy_chosen_logps": policy_chosen_logps,
        "policy_rejected_logps": policy_rejected_logps,
        "ref_chosen_logps": ref_chosen_logps,
        "ref_rejected_logps": ref_rejected_logps,
    }
    for name, t in tensors.items():
        check.tensor(name, t, ndim=1, finite=True)
        check.same_shape(name, t, policy_chosen_logps.shape, "the shape of policy_chosen_logps")
    check.same_dtype("policy_chosen_logps", policy_chosen_logps, **tensors)
    b = check.number("beta", beta, low=0.0, low_open=True, high=math.inf, high_open=True)
    # implicit rewards: beta log(pi / pi_ref); the reference is frozen
    chosen = policy_chosen_logps - ref_chosen_logps.detach()  # (B,)
    rejected = policy_rejected_logps - ref_rejected_logps.detach()  # (B,)
    x = b * (chosen - rejected)  # (B,)
    # -log sigmoid(x) = log(1 + e^-x), computed without overflow
    return torch.logaddexp(torch.zeros_like(x), -x).mean()


@question(
    "grpo-advantages",
    level="advanced",
    short=(
        "GRPO samples G answers per prompt and uses each answer's reward minus the group mean, divided by the "
        "group's standard deviation, as its advantage. The group mean replaces PPO's learned value function "
        "as the baseline, so no critic network is trained. Advantages sum to zero per group; a group whose "
        "answers all score alike teaches nothing."
    ),
    followups=("dpo-loss", "adam-vs-sgd"),
)
def grpo_advantages(rewards: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    r"""GRPO's group-relative advantages :math:`(r - \bar r) / (\mathrm{std}(r) + \epsilon)`, per group.

    **How does GRPO compute advantages, and why does it need no critic (value network)?**

    A policy gradient weights each sampled answer's :math:`\nabla \log\pi` by an advantage, its
    reward minus a baseline; any baseline that does not depend on the answer leaves the expected
    gradient unchanged and can greatly reduce its variance. PPO learns the baseline with a critic,
    a second network as large as the policy. GRPO samples a group of :math:`G` answers to the same
    prompt and uses the group's mean reward as the baseline, dividing by the group's standard
    deviation to normalize the scale: no critic to train or keep in memory. Each group's advantages
    sum to 0, and a group in which every answer gets the same reward (all right or all wrong)
    contributes no gradient at all.

    .. math::

        A_{g} = \frac{r_g - \bar r}{\mathrm{std}(r) + \epsilon}, \quad
        \bar r = \frac{1}{G}\sum_{g} r_g, \quad
        \mathrm{std}(r) = \sqrt{\tfrac{1}{G - 1}\textstyle\sum_g (r_g - \bar r)^2}; \qquad
        \mathbb E_{a \sim \pi}\!\left[\nabla\log\pi(a)\, b\right] = b\,\nabla \textstyle\sum_a \pi(a) = 0

    Parameters
    ----------
    rewards : torch.Tensor
        ``(B, G)``: the rewards of ``G >= 2`` sampled answers to each of ``B`` prompts (a group per
        row), or ``(G,)`` for one group.
    eps : float, default 1e-4
        :math:`\epsilon \ge 0`, guarding the division for a group of equal rewards.

    Returns
    -------
    torch.Tensor
        Same shape as ``rewards``.

    See Also
    --------
    dpo_loss, torch.std

    Notes
    -----
    The standard deviation is the sample one (``correction=1``) and :math:`\epsilon = 10^{-4}`, as in
    TRL's ``GRPOTrainer``. The group mean includes the answer's own reward, so it is not exactly
    independent of the answer (a leave-one-out mean would be), and dividing by the standard
    deviation re-weights prompts by how much their answers differ; Dr. GRPO (Liu et al. 2025)
    drops that division.

    References
    ----------
    .. [1] Z. Shao et al., "DeepSeekMath: Pushing the Limits of Mathematical Reasoning in Open
       Language Models", arXiv:2402.03300, 2024, section 4.1 (equation 3 and the outcome-supervision
       advantage).

    Examples
    --------
    The formula, for two prompts with four answers each (1 = correct):

    >>> r = torch.tensor([[1.0, 0.0, 0.0, 1.0], [1.0, 1.0, 1.0, 0.0]], dtype=torch.float64)
    >>> A = grpo_advantages(r)
    >>> torch.allclose(A, (r - r.mean(1, keepdim=True)) / (r.std(1, keepdim=True) + 1e-4))
    True
    >>> [round(a, 4) for a in A[1].tolist()]
    [0.4999, 0.4999, 0.4999, -1.4997]

    Advantages sum to zero in each group and do not change when rewards are shifted or scaled; a
    group whose answers all score the same gets zero advantages:

    >>> rewards = torch.randn(3, 8, dtype=torch.float64)
    >>> bool(grpo_advantages(rewards).sum(1).abs().max() < 1e-12)
    True
    >>> torch.allclose(grpo_advantages(10 * rewards + 3, eps=0.0), grpo_advantages(rewards, eps=0.0))
    True
    >>> bool((grpo_advantages(torch.full((8,), 0.7, dtype=torch.float64)) == 0).all())
    True

    Why a baseline needs no critic: for a policy over four answers, the exact expected policy
    gradient is the same with baseline 0 and with the mean reward, while its variance drops fourfold:

    >>> z = torch.zeros(4, dtype=torch.float64, requires_grad=True)       # policy logits: uniform
    >>> reward = torch.tensor([1.0, 0.0, 1.0, 1.0], dtype=torch.float64)
    >>> p = z.softmax(0)
    >>> score = torch.stack([torch.autograd.grad(p[a].log(), z, retain_graph=True)[0] for a in range(4)])
    >>> def moments(b):                               # E[grad log pi (r - b)] and E[|.|^2] over a ~ pi
    ...     g = score * (reward - b)[:, None]
    ...     return (p[:, None] * g).sum(0), (p * g.pow(2).sum(1)).sum().item()
    >>> (mean0, sq0), (mean_b, sq_b) = moments(0.0), moments((p * reward).sum().item())
    >>> torch.allclose(mean0, mean_b), round(sq0 / sq_b, 4)
    (True, 4.0)
    """
    check.tensor("rewards", rewards, ndim=(1, 2), finite=True)
    if rewards.shape[-1] < 2:
        raise ValueError(f"rewards must hold at least 2 answers per group (last dimension), got {tuple(rewards.shape)}")
    e = check.number("eps", eps, low=0.0, high=math.inf, high_open=True)
    mean = rewards.mean(dim=-1, keepdim=True)  # (B, 1): the baseline, the group's mean reward
    std = rewards.std(dim=-1, keepdim=True)  # (B, 1), correction=1 as in TRL
    return (rewards - mean) / (std + e)  # (B, G)
