"""nnfaq.post_training.distillation against F.kl_div on softened distributions (forward and gradient, float64)."""

import pytest
import torch
import torch.nn.functional as F
from helpers import gen, rejects, seeds
from hypothesis import given
from hypothesis import strategies as st
from torch.testing import assert_close

from nnfaq.post_training.distillation import distillation_loss

F64 = torch.float64


def _logits(seed, B=6, C=7):
    g = gen(seed)
    return torch.randn(B, C, generator=g, dtype=F64), torch.randn(B, C, generator=g, dtype=F64)


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides:UserWarning")  # F.kl_div warns about 'mean'
@given(
    seed=seeds, T=st.sampled_from([0.5, 1.0, 2.0, 7.0]), reduction=st.sampled_from(["batchmean", "sum", "mean", "none"])
)
def test_distillation_loss_matches_kl_div_times_t_squared(seed, T, reduction):
    s, t = _logits(seed)
    a, b = s.clone().requires_grad_(), s.clone().requires_grad_()
    ours = distillation_loss(a, t, T, reduction)
    ref = F.kl_div(F.log_softmax(b / T, -1), F.softmax(t / T, -1), reduction=reduction) * T**2
    assert_close(ours, ref)
    g = torch.randn(ref.shape, generator=gen(seed + 1), dtype=F64)
    ours.backward(g)
    ref.backward(g)
    assert_close(a.grad, b.grad)


@given(seed=seeds)
def test_batchmean_is_the_true_kl_and_mean_divides_by_the_classes(seed):
    s, t = _logits(seed)
    p, q = F.softmax(t / 3, -1), F.softmax(s / 3, -1)
    kl = (p * (p / q).log()).sum(-1).mean()
    assert_close(distillation_loss(s, t, 3.0), 9 * kl)
    assert_close(distillation_loss(s, t, 3.0, "mean") * 7, distillation_loss(s, t, 3.0))


@given(seed=seeds)
def test_gradient_is_t_times_q_minus_p_and_t_squared_keeps_its_size(seed):
    s, t = _logits(seed)

    def grad(T):
        x = s.clone().requires_grad_()
        return torch.autograd.grad(distillation_loss(x, t, T), x)[0]

    for T in (1.0, 4.0):
        assert_close(grad(T), T * (F.softmax(s / T, -1) - F.softmax(t / T, -1)) / 6)
    unscaled = [grad(T).norm() / T**2 for T in (10.0, 20.0)]
    assert 3.8 < unscaled[0] / unscaled[1] < 4.2
    assert abs(grad(10.0).norm() / grad(20.0).norm() - 1) < 0.05


def test_the_teacher_gets_no_gradient_and_equal_logits_give_zero():
    s, t = _logits(0)
    t = t.requires_grad_()
    distillation_loss(s.requires_grad_(), t).backward()
    assert t.grad is None
    assert distillation_loss(s, s.detach()).abs().item() < 1e-12


def test_distillation_loss_rejects_mismatched_logits():
    s, t = _logits(0)
    rejects("teacher_logits", distillation_loss, s, t[:, :3])
    rejects("teacher_logits", distillation_loss, s, t.float())
    rejects("student_logits", distillation_loss, s[0], t[0])
