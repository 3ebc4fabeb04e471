"""nnfaq.efficiency.lora against F.linear with the merged weight (forward and gradient, float64) and its claims."""

import math

import pytest
import torch
import torch.nn.functional as F
from helpers import batch_shapes, gen, leaves, rejects, seeds
from hypothesis import given
from hypothesis import strategies as st
from torch.testing import assert_close

from nnfaq.efficiency.lora import lora_init, lora_linear, merge_lora

F64 = torch.float64


def _layer(seed, d_in=6, d_out=5, r=3, batch=(4,)):
    g = gen(seed)
    x = torch.randn(*batch, d_in, generator=g, dtype=F64)
    W, b = torch.randn(d_out, d_in, generator=g, dtype=F64), torch.randn(d_out, generator=g, dtype=F64)
    A, B = torch.randn(r, d_in, generator=g, dtype=F64), torch.randn(d_out, r, generator=g, dtype=F64)
    return x, W, b, A, B


# --- lora_linear ---------------------------------------------------------------------------------


@given(seed=seeds, batch=batch_shapes, r=st.integers(1, 4), alpha=st.sampled_from([1.0, 8.0, 16.0]))
def test_lora_linear_matches_f_linear_with_the_updated_weight(seed, batch, r, alpha):
    x, W, b, A, B = _layer(seed, r=r, batch=batch)
    ours_in, ref_in = leaves(x, W, b, A, B), leaves(x, W, b, A, B)
    x, W, b, A, B = ours_in
    ours = lora_linear(x, W, A, B, alpha, bias=b)
    x_, W_, b_, A_, B_ = ref_in
    ref = F.linear(x_, W_ + (alpha / r) * B_ @ A_, b_)
    assert_close(ours, ref)
    g = torch.randn(ref.shape, generator=gen(seed + 1), dtype=F64)
    ours.backward(g)
    ref.backward(g)
    for o, r_ in zip(ours_in, ref_in):
        assert_close(o.grad, r_.grad)


@pytest.mark.parametrize(("d_in", "d_out", "r"), [(4096, 4096, 8), (4096, 11008, 16), (768, 3072, 4), (10, 3, 1)])
def test_trainable_parameters_are_r_times_in_plus_out(d_in, d_out, r):
    A, B = lora_init(d_in, d_out, r)
    assert A.shape == (r, d_in) and B.shape == (d_out, r)
    assert A.numel() + B.numel() == r * (d_in + d_out) < d_in * d_out


def test_the_update_has_rank_at_most_r():
    _, _, _, A, B = _layer(0, d_in=12, d_out=10, r=3)
    assert int(torch.linalg.matrix_rank(B @ A)) == 3


def test_lora_linear_rejects_mismatched_shapes_and_dtypes():
    x, W, b, A, B = _layer(0)
    rejects("lora_A", lora_linear, x, W, A[:, :4], B, 1.0)
    rejects("lora_B", lora_linear, x, W, A, B[:, :2], 1.0)
    rejects("lora_B", lora_linear, x, W, A, B.float(), 1.0)
    rejects("input", lora_linear, x[:, :4], W, A, B, 1.0)
    rejects("bias", lora_linear, x, W, A, B, 1.0, bias=b[:3])
    rejects("lora_A", lora_linear, x, W, A[:0], B[:, :0], 1.0)


# --- lora_init -----------------------------------------------------------------------------------


def test_lora_a_is_drawn_like_an_nn_linear_weight_and_b_is_zero():
    torch.manual_seed(3)
    ref = torch.nn.Linear(16, 4).weight.detach()  # kaiming_uniform_(a=sqrt(5)), PEFT's init of A
    torch.manual_seed(3)
    A, B = lora_init(16, 8, r=4)
    assert_close(A, ref)
    assert bool((B == 0).all())
    assert A.abs().max() <= 1 / math.sqrt(16)


@given(seed=seeds)
def test_at_step_zero_the_model_is_unchanged_and_only_b_learns(seed):
    x, W, b, _, _ = _layer(seed)
    A, B = lora_init(6, 5, r=3, generator=gen(seed + 2))
    A, B = A.double().requires_grad_(), B.double().requires_grad_()
    y = lora_linear(x, W, A, B, alpha=16.0, bias=b)
    assert torch.equal(y, F.linear(x, W, b))
    (y - torch.randn(y.shape, generator=gen(seed + 3), dtype=F64)).pow(2).sum().backward()
    assert bool((A.grad == 0).all())
    assert bool((B.grad != 0).all())
    # dL/dB = (alpha / r) G^T (x A^T), with G = dL/dy
    G = 2 * (y.detach() - torch.randn(y.shape, generator=gen(seed + 3), dtype=F64))
    assert_close(B.grad, (16.0 / 3) * G.T @ (x @ A.detach().T))
    # one step on B, and A's gradient is nonzero
    with torch.no_grad():
        B -= 0.1 * B.grad
    A.grad = None
    lora_linear(x, W, A, B, alpha=16.0).pow(2).sum().backward()
    assert bool((A.grad != 0).any())


def test_both_zero_never_learns_both_random_changes_the_model():
    x, W, _, A, B = _layer(0)
    A0, B0 = leaves(torch.zeros_like(A), torch.zeros_like(B))
    for _ in range(3):
        lora_linear(x, W, A0, B0, 8.0).pow(2).sum().backward()
        assert bool((A0.grad == 0).all() and (B0.grad == 0).all())  # a saddle: nothing ever moves
    assert not torch.allclose(lora_linear(x, W, A, B, 8.0), F.linear(x, W))


def test_lora_init_rejects_a_bad_generator():
    rejects("generator", lora_init, 4, 4, 2, generator=0)


# --- merge_lora ----------------------------------------------------------------------------------


@given(seed=seeds, batch=batch_shapes, r=st.integers(1, 4))
def test_merged_weight_gives_identical_outputs(seed, batch, r):
    x, W, b, A, B = _layer(seed, r=r, batch=batch)
    merged = merge_lora(W, A, B, alpha=8.0)
    assert merged.shape == W.shape
    assert_close(F.linear(x, merged, b), lora_linear(x, W, A, B, 8.0, b))
    assert_close(merged - (8.0 / r) * B @ A, W)  # unmerge


def test_merge_does_not_modify_the_base_weight():
    _, W, _, A, B = _layer(1)
    before = W.clone()
    merge_lora(W, A, B, 2.0)
    assert torch.equal(W, before)
