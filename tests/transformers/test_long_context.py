"""nnfaq.transformers.long_context: RoPE frequencies against the rotation RoPE applies, the unseen-angle
criterion, and what position interpolation, NTK-aware scaling and YaRN do to each frequency."""

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch.testing import assert_close

from nnfaq.sequences.positional_encoding import rotary_embedding
from nnfaq.transformers._models import LLAMA2_7B
from nnfaq.transformers.long_context import (
    ntk_aware_frequencies,
    position_interpolation,
    rope_frequencies,
    unseen_angles,
    yarn_frequencies,
)

F64 = torch.float64
head_dims = st.sampled_from([8, 16, 64, 128])
bases = st.sampled_from([10000.0, 500000.0, 1e6])
factors = st.floats(1.0, 64.0)
lengths = st.sampled_from([512, 2048, 4096, 8192])


def rotate(x, theta):
    """RoPE with the given frequencies: pair (2i, 2i+1) of row m rotated by m theta_i."""
    pairs = torch.view_as_complex(x.reshape(*x.shape[:-1], -1, 2).contiguous())
    turn = torch.polar(torch.ones_like(theta), theta * torch.arange(x.shape[-2], dtype=F64)[:, None])
    return torch.view_as_real(pairs * turn).flatten(-2)


# --- rope_frequencies ----------------------------------------------------------------------------


@pytest.mark.parametrize(("D", "base"), [(8, 10000.0), (64, 500000.0), (128, 10000.0)])
def test_frequencies_are_the_ones_rope_rotates_with(D, base):
    x = torch.randn(2, 10, D, dtype=F64)
    assert_close(rotate(x, rope_frequencies(D, base)), rotary_embedding(x, base=base))


def test_frequencies_rejects_odd_head_dim():
    with pytest.raises(ValueError, match="head_dim must be even"):
        rope_frequencies(7)


# --- unseen_angles -------------------------------------------------------------------------------


@given(D=head_dims, base=bases, L=lengths, s=st.floats(1.01, 64.0))
def test_naive_extrapolation_leaves_exactly_the_pairs_without_a_full_turn(D, base, L, s):
    theta = rope_frequencies(D, base)
    unseen = unseen_angles(theta, L, math.ceil(s * L))
    assert torch.equal(unseen, 2 * math.pi / theta > L)
    assert not bool(unseen_angles(theta, L, L).any())


def test_llama2_has_18_slow_pairs():
    m = LLAMA2_7B
    theta = rope_frequencies(m.head_dim, m.rope_base)
    assert int(unseen_angles(theta, m.max_seq_len, 2 * m.max_seq_len).sum()) == 18


def test_a_turn_completed_in_training_covers_every_angle():
    # a pair with a full turn in [0, L) has seen angles within theta of any angle: a new position adds nothing
    theta, L = rope_frequencies(16), 64
    fast = theta * L >= 2 * math.pi
    seen = torch.remainder(torch.arange(L, dtype=F64)[:, None] * theta, 2 * math.pi)  # (L, D/2)
    new = torch.remainder(torch.arange(L, 4 * L, dtype=F64)[:, None] * theta, 2 * math.pi)
    gap = (new[:, None, :] - seen[None, :, :]).abs()
    gap = torch.minimum(gap, 2 * math.pi - gap).amin(1).amax(0)  # (D/2,) farthest new angle from a seen one
    assert bool((gap[fast] <= theta[fast]).all())
    assert bool((gap[~fast] > theta[~fast]).all())
    assert torch.equal(unseen_angles(theta, L, 4 * L), ~fast)


def test_unseen_angles_rejects_mismatched_frequencies():
    with pytest.raises(ValueError, match=r"scaled_theta must have shape \(4,\)"):
        unseen_angles(rope_frequencies(8), 16, 32, rope_frequencies(10))


# --- the three extensions ------------------------------------------------------------------------


@given(D=head_dims, base=bases, s=factors, L=lengths)
def test_position_interpolation_divides_every_frequency_and_leaves_nothing_unseen(D, base, s, L):
    theta = rope_frequencies(D, base)
    pi = position_interpolation(theta, s)
    assert_close(pi, theta / s)
    assert not bool(unseen_angles(theta, L, int(s * L), pi).any())


@given(D=head_dims, base=bases, s=factors)
def test_ntk_keeps_the_highest_frequency_and_divides_the_lowest_by_s(D, base, s):
    theta, ntk = rope_frequencies(D, base), ntk_aware_frequencies(D, base, s)
    assert_close(ntk, rope_frequencies(D, base * s ** (D / (D - 2))))
    assert ntk[0].item() == theta[0].item() == 1.0
    assert ntk[-1].item() == pytest.approx(theta[-1].item() / s, rel=1e-12)
    i = torch.arange(D // 2, dtype=F64)
    assert_close(ntk / theta, s ** (-2 * i / (D - 2)))


def test_ntk_leaves_middle_slow_pairs_beyond_their_arc():
    m = LLAMA2_7B
    theta = rope_frequencies(m.head_dim, m.rope_base)
    unseen = unseen_angles(theta, m.max_seq_len, 4 * m.max_seq_len, ntk_aware_frequencies(m.head_dim, m.rope_base, 4))
    slow = 2 * math.pi / theta > m.max_seq_len
    assert int(unseen.sum()) == 17 and bool((unseen <= slow).all()) and not bool(unseen[-1])


@given(D=head_dims, base=bases, s=factors, L=lengths, beta=st.sampled_from([(32.0, 1.0), (16.0, 2.0)]))
def test_yarn_keeps_fast_pairs_interpolates_slow_ones_and_ramps_between(D, base, s, L, beta):
    beta_fast, beta_slow = beta
    theta = rope_frequencies(D, base)
    yarn, attention_factor = yarn_frequencies(D, base, s, L, beta_fast, beta_slow)
    turns = theta * L / (2 * math.pi)
    assert torch.equal(yarn[turns > beta_fast], theta[turns > beta_fast])
    assert_close(yarn[turns < beta_slow], theta[turns < beta_slow] / s)
    ratio = yarn / theta
    assert bool((ratio >= 1 / s - 1e-12).all() and (ratio <= 1 + 1e-12).all())
    assert bool((ratio.diff() <= 1e-12).all())  # slower pairs are interpolated at least as much
    assert not bool(unseen_angles(theta, L, int(s * L), yarn).any())
    assert attention_factor == pytest.approx(0.1 * math.log(s) + 1)


def test_yarn_on_llama2():
    m = LLAMA2_7B
    theta = rope_frequencies(m.head_dim, m.rope_base)
    yarn, attention_factor = yarn_frequencies(m.head_dim, m.rope_base, 4.0, m.max_seq_len)
    turns = theta * m.max_seq_len / (2 * math.pi)
    assert (int((turns > 32).sum()), int((turns < 1).sum())) == (21, 18)
    assert (yarn[0] / theta[0]).item() == 1.0 and (yarn[-1] / theta[-1]).item() == pytest.approx(0.25)
    assert round(attention_factor, 4) == 1.1386


@pytest.mark.parametrize(
    ("fn", "kwargs", "match"),
    [
        (
            yarn_frequencies,
            {"head_dim": 8, "beta_fast": 1.0, "beta_slow": 2.0},
            "beta_slow must be less than beta_fast",
        ),
        (ntk_aware_frequencies, {"head_dim": 2, "factor": 2.0}, "head_dim must be at least 4"),
        (yarn_frequencies, {"head_dim": 9}, "head_dim must be even"),
    ],
)
def test_extensions_reject_bad_arguments(fn, kwargs, match):
    with pytest.raises(ValueError, match=match):
        fn(**kwargs)
