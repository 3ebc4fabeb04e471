"""nnfaq.post_training.preference: DPO against BCE-with-logits (forward and gradient, float64), GRPO's claims."""

import math

import torch
import torch.nn.functional as F
from helpers import gen, leaves, rejects, seeds
from hypothesis import given
from hypothesis import strategies as st
from torch.testing import assert_close

from nnfaq.post_training.preference import dpo_loss, grpo_advantages

F64 = torch.float64


def _logps(seed, n=8):
    g = gen(seed)
    return [torch.randn(n, generator=g, dtype=F64) * 3 - 30 for _ in range(4)]


# --- dpo_loss ------------------------------------------------------------------------------------


@given(seed=seeds, beta=st.sampled_from([0.01, 0.1, 0.5, 2.0]))
def test_dpo_loss_matches_logsigmoid_and_bce(seed, beta):
    pc, pr, rc, rr = _logps(seed)
    ours_in, ref_in = leaves(pc, pr), leaves(pc, pr)
    ours = dpo_loss(*ours_in, rc, rr, beta=beta)
    logits = beta * ((ref_in[0] - rc) - (ref_in[1] - rr))
    ref = -F.logsigmoid(logits).mean()
    assert_close(ours, ref)
    assert_close(ours, F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits)))
    ours.backward()
    ref.backward()
    for o, r in zip(ours_in, ref_in):
        assert_close(o.grad, r.grad)


@given(seed=seeds, beta=st.sampled_from([0.1, 1.0]))
def test_at_step_zero_dpo_is_log_2_and_the_gradient_is_symmetric(seed, beta):
    _, _, rc, rr = _logps(seed)
    pc, pr = leaves(rc, rr)
    loss = dpo_loss(pc, pr, rc, rr, beta)
    assert abs(loss.item() - math.log(2)) < 1e-15
    loss.backward()
    assert_close(pc.grad, torch.full_like(rc, -beta / 2 / len(rc)))  # sigma(0) = 1/2
    assert_close(pr.grad, -pc.grad)


@given(seed=seeds, shift=st.sampled_from([-10.0, -1.0, 3.0]))
def test_only_the_margin_counts(seed, shift):
    pc, pr, rc, rr = _logps(seed)
    assert_close(dpo_loss(pc + shift, pr + shift, rc, rr), dpo_loss(pc, pr, rc, rr))
    assert_close(dpo_loss(pc, pr, rc + shift, rr + shift), dpo_loss(pc, pr, rc, rr))


def test_dpo_is_stable_for_huge_margins_and_freezes_the_reference():
    big = torch.tensor([1e4], dtype=F64)
    zero = torch.zeros(1, dtype=F64)
    assert dpo_loss(big, zero, zero, zero).item() == 0.0
    assert_close(dpo_loss(-big, zero, zero, zero), torch.tensor(1e3, dtype=F64))
    rc = zero.clone().requires_grad_()
    dpo_loss(zero.requires_grad_(), zero, rc, zero).backward()
    assert rc.grad is None


def test_dpo_loss_rejects_mismatched_inputs():
    pc, pr, rc, rr = _logps(0)
    rejects("ref_rejected_logps", dpo_loss, pc, pr, rc, rr[:3])
    rejects("policy_rejected_logps", dpo_loss, pc, pr.float(), rc, rr)
    rejects("policy_chosen_logps", dpo_loss, pc[None], pr[None], rc[None], rr[None])


# --- grpo_advantages -----------------------------------------------------------------------------


@given(seed=seeds, groups=st.integers(1, 4), size=st.integers(2, 8))
def test_grpo_advantages_formula_zero_sum_and_invariance(seed, groups, size):
    r = torch.randn(groups, size, generator=gen(seed), dtype=F64)
    A = grpo_advantages(r)
    assert_close(A, (r - r.mean(1, keepdim=True)) / (r.std(1, keepdim=True) + 1e-4))
    assert_close(A.sum(1), torch.zeros(groups, dtype=F64), atol=1e-12, rtol=0)
    assert_close(grpo_advantages(5 * r - 2, eps=0.0), grpo_advantages(r, eps=0.0))
    assert_close(grpo_advantages(r[0]), A[0])  # one group as a 1-D tensor


def test_a_group_of_equal_rewards_teaches_nothing():
    r = torch.tensor([[1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]], dtype=F64)
    A = grpo_advantages(r)
    assert bool((A[:2] == 0).all()) and bool((A[2] != 0).all())


@given(seed=seeds, k=st.integers(2, 6))
def test_any_constant_baseline_leaves_the_expected_policy_gradient_unchanged(seed, k):
    z = torch.randn(k, generator=gen(seed), dtype=F64, requires_grad=True)
    reward = torch.rand(k, generator=gen(seed + 1), dtype=F64)
    p = z.softmax(0)
    score = torch.stack([torch.autograd.grad(p[a].log(), z, retain_graph=True)[0] for a in range(k)])
    expected = [(p[:, None] * score * (reward - b)[:, None]).sum(0) for b in (0.0, (p * reward).sum().item(), 5.0)]
    for e in expected[1:]:
        assert_close(e, expected[0])


def test_grpo_advantages_rejects_groups_of_one():
    rejects("rewards", grpo_advantages, torch.ones(3, 1))
    rejects("rewards", grpo_advantages, torch.ones(2, 2, 2))
