"""nnfaq.post_training.contrastive against the cross-entropy form of CLIP's loss (forward and gradient, float64)."""

import itertools
import math

import torch
import torch.nn.functional as F
from helpers import gen, leaves, rejects, seeds
from hypothesis import given
from hypothesis import strategies as st
from torch.testing import assert_close

from nnfaq.post_training.contrastive import clip_loss

F64 = torch.float64


def _ref(img, txt, tau):
    logits = F.normalize(img, dim=-1) @ F.normalize(txt, dim=-1).T / tau
    labels = torch.arange(len(img))
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2


@given(seed=seeds, n=st.integers(1, 8), d=st.integers(1, 6), tau=st.sampled_from([0.07, 0.5, 2.0]))
def test_clip_loss_matches_two_cross_entropies(seed, n, d, tau):
    g = gen(seed)
    img, txt = torch.randn(n, d, generator=g, dtype=F64), torch.randn(n, d, generator=g, dtype=F64)
    ours_in, ref_in = leaves(img, txt), leaves(img, txt)
    ours, ref = clip_loss(*ours_in, tau), _ref(*ref_in, tau)
    assert_close(ours, ref)
    ours.backward()
    ref.backward()
    for o, r in zip(ours_in, ref_in):
        assert_close(o.grad, r.grad)


@given(seed=seeds, n=st.integers(2, 10))
def test_uninformative_embeddings_give_log_n(seed, n):
    v = torch.randn(1, 5, generator=gen(seed), dtype=F64).repeat(n, 1)
    assert_close(clip_loss(v, v), torch.tensor(math.log(n), dtype=F64))
    img, txt = (
        torch.randn(n, 16, generator=gen(seed), dtype=F64),
        torch.randn(n, 16, generator=gen(seed + 1), dtype=F64),
    )
    assert abs(clip_loss(img, txt, 1e4).item() - math.log(n)) < 1e-3


@given(seed=seeds)
def test_symmetric_and_invariant_to_the_embeddings_norms(seed):
    img, txt = torch.randn(6, 4, generator=gen(seed), dtype=F64), torch.randn(6, 4, generator=gen(seed + 1), dtype=F64)
    assert_close(clip_loss(img, txt), clip_loss(txt, img))
    assert_close(clip_loss(3 * img, 0.5 * txt), clip_loss(img, txt))


def test_perfect_embeddings_reach_the_temperature_floor():
    eye = torch.eye(16, dtype=F64)
    for tau in (2.0, 1.0, 0.1):
        assert_close(clip_loss(eye, eye, tau), torch.tensor(math.log(1 + 15 * math.exp(-1 / tau)), dtype=F64))


@given(seed=seeds)
def test_lower_temperature_rewards_aligned_pairs_and_punishes_unrelated_ones(seed):
    g = gen(seed)
    img = torch.randn(8, 32, generator=g, dtype=F64)
    aligned = img + 0.3 * torch.randn(8, 32, generator=g, dtype=F64)
    unrelated = torch.randn(8, 32, generator=g, dtype=F64)
    taus = (1.0, 0.3, 0.1, 0.03)
    good = [clip_loss(img, aligned, t).item() for t in taus]
    bad = [clip_loss(img, unrelated, t).item() for t in taus]
    assert all(a > b for a, b in itertools.pairwise(good))
    assert bad[-1] > bad[0]  # confident mistakes cost more (not monotone for every draw at high tau)


def test_clip_loss_rejects_bad_embeddings():
    img = torch.randn(4, 3)
    rejects("text_embeds", clip_loss, img, torch.randn(5, 3))
    rejects("text_embeds", clip_loss, img, img.double())
    rejects("image_embeds", clip_loss, torch.zeros(4, 3), img)
    rejects("image_embeds", clip_loss, img[0], img[0])
