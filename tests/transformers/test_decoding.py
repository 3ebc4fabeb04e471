"""nnfaq.transformers.decoding: the sampling filters against reference implementations, beam search against
exhaustive search, and speculative decoding's exactness and speed-up."""

import itertools
import math

import pytest
import torch
from helpers import gen, seeds
from hypothesis import given
from hypothesis import strategies as st
from torch.testing import assert_close

from nnfaq.transformers.decoding import (
    beam_search,
    sampling_probs,
    speculative_decode,
    speculative_output_distribution,
    top_k_filter,
    top_p_filter,
)

F64 = torch.float64


def logits_for(seed, *shape):
    return 2 * torch.randn(*shape, dtype=F64, generator=gen(seed))


def hf_top_k(logits, k):
    """Hugging Face's TopKLogitsWarper."""
    k = min(k, logits.shape[-1])
    return logits.masked_fill(logits < torch.topk(logits, k)[0][..., -1, None], -math.inf)


def hf_top_p(logits, p):
    """Hugging Face's TopPLogitsWarper (ascending sort, keep at least one token)."""
    sorted_logits, sorted_indices = torch.sort(logits, descending=False)
    cumulative = sorted_logits.softmax(-1).cumsum(-1)
    remove = cumulative <= (1 - p)
    remove[..., -1:] = False
    return logits.masked_fill(remove.scatter(-1, sorted_indices, remove), -math.inf)


# --- top-k and top-p -----------------------------------------------------------------------------


@given(seed=seeds, V=st.integers(1, 12), k=st.integers(1, 15))
def test_top_k_matches_hugging_face(seed, V, k):
    logits = logits_for(seed, 3, V)
    ours = top_k_filter(logits, k)
    assert torch.equal(ours, hf_top_k(logits, k))
    assert (torch.isfinite(ours).sum(-1) == min(k, V)).all()  # continuous logits have no ties
    for row, keep in zip(logits, torch.isfinite(ours)):  # the kept ones are the k largest
        assert set(torch.topk(row, min(k, V)).indices.tolist()) == set(keep.nonzero().flatten().tolist())


@given(seed=seeds, V=st.integers(1, 12), p=st.floats(0.01, 0.99))
def test_top_p_matches_hugging_face_and_is_the_smallest_nucleus(seed, V, p):
    logits = logits_for(seed, 4, V)
    ours = top_p_filter(logits, p)
    assert torch.equal(torch.isfinite(ours), torch.isfinite(hf_top_p(logits, p)))
    probs = logits.softmax(-1)
    for row, keep in zip(probs, torch.isfinite(ours)):
        kept = row[keep]
        assert keep.any() and kept.sum() >= p - 1e-12  # reaches p ...
        assert kept.sum() - kept.min() < p  # ... and is the smallest such set
        assert kept.min() >= row[~keep].max() if (~keep).any() else True  # the most likely ones


def test_top_p_of_one_keeps_everything():
    logits = torch.tensor([30.0, 0.0, -30.0], dtype=F64)
    assert torch.equal(top_p_filter(logits, 1.0), logits)


# --- temperature ---------------------------------------------------------------------------------


@given(seed=seeds, T=st.floats(0.05, 20.0))
def test_temperature_divides_the_logits_and_keeps_the_order(seed, T):
    logits = logits_for(seed, 2, 7)
    probs = sampling_probs(logits, temperature=T)
    assert_close(probs, torch.softmax(logits / T, -1))
    assert torch.equal(probs.argsort(-1), logits.argsort(-1))


@given(seed=seeds)
def test_entropy_grows_with_temperature_and_zero_is_greedy(seed):
    logits = logits_for(seed, 9)
    entropy = [
        float(-(p * p.clamp_min(1e-300).log()).sum()) for p in (sampling_probs(logits, t) for t in (0.1, 0.5, 1, 2, 8))
    ]
    assert entropy == sorted(entropy)
    greedy = sampling_probs(logits, temperature=0)
    assert greedy.sum() == 1 and greedy[logits.argmax()] == 1
    # T -> 0 is greedy: at T = gap / 50 every other token has probability below exp(-50)
    top2 = logits.topk(2).values
    assert_close(sampling_probs(logits, temperature=(top2[0] - top2[1]).item() / 50), greedy, atol=1e-20, rtol=0)


def test_pipeline_is_temperature_then_top_k_then_top_p():
    logits = logits_for(0, 3, 10)
    ours = sampling_probs(logits, temperature=0.7, top_k=5, top_p=0.8)
    assert_close(ours, torch.softmax(hf_top_p(hf_top_k(logits / 0.7, 5), 0.8), -1))


def test_the_strategies_disagree_on_one_distribution():
    logits = torch.tensor([0.5, 0.2, 0.15, 0.1, 0.05], dtype=F64).log()
    sizes = [
        int((p > 0).sum())
        for p in (
            sampling_probs(logits, 0),
            sampling_probs(logits, top_k=2),
            sampling_probs(logits, top_p=0.8),
            sampling_probs(logits),
        )
    ]
    assert sizes == [1, 2, 3, 5]


# --- beam search ---------------------------------------------------------------------------------


def random_model(seed, V):
    """A next-token table over every prefix, drawn once per prefix."""
    cache = {}

    def log_probs(tokens):
        if tokens not in cache:
            cache[tokens] = torch.log_softmax(logits_for(hash((seed, tokens)) % 2**31, V), -1)
        return cache[tokens]

    return log_probs


def exhaustive(model, V, n):
    score = lambda seq: sum(model(seq[:i])[t].item() for i, t in enumerate(seq))  # noqa: E731
    return max(itertools.product(range(V), repeat=n), key=score)


@given(seed=seeds, V=st.integers(2, 4), n=st.integers(1, 3))
def test_a_full_width_beam_is_exhaustive_and_greedy_is_argmax(seed, V, n):
    model = random_model(seed, V)
    best, log_prob = beam_search(model, V**n, n)
    assert best == exhaustive(model, V, n)
    assert log_prob == pytest.approx(sum(model(best[:i])[t].item() for i, t in enumerate(best)))
    greedy, seq = beam_search(model, 1, n)[0], ()
    for _ in range(n):
        seq += (int(model(seq).argmax()),)
    assert greedy == seq


def test_greedy_loses_to_beam_and_beam_to_exhaustive():
    table = {(): [0.5, 0.4, 0.1], (0,): [0.4, 0.3, 0.3], (1,): [0.9, 0.05, 0.05], (2,): [0.4, 0.3, 0.3]}
    model = lambda t: torch.tensor(table[t], dtype=F64).log()  # noqa: E731
    assert [beam_search(model, b, 2)[0] for b in (1, 2, 9)] == [(0, 0), (1, 0), (1, 0)]
    trap = {(): [0.4, 0.35, 0.25], (0,): [0.5, 0.5, 0.0], (1,): [0.5, 0.5, 0.0], (2,): [1.0, 0.0, 0.0]}
    model = lambda t: torch.tensor(trap[t], dtype=F64).log()  # noqa: E731
    found = [beam_search(model, b, 2) for b in (2, 9)]
    assert [t for t, _ in found] == [(0, 0), (2, 0)]
    assert found[0][1] < found[1][1]


def test_beam_search_continues_a_prefix():
    model = random_model(3, 3)
    tokens, _ = beam_search(model, 2, 2, prefix=(1,))
    assert len(tokens) == 2


def test_beam_search_rejects_bad_models():
    with pytest.raises(TypeError, match="log_prob_fn must be callable"):
        beam_search(None, 2, 2)
    with pytest.raises(ValueError, match="log_prob_fn must return a 1-D"):
        beam_search(lambda t: [0.0, 0.0], 2, 2)
    with pytest.raises(TypeError, match="prefix must be a tuple"):
        beam_search(random_model(0, 2), 2, 2, prefix=[0])


# --- speculative decoding ------------------------------------------------------------------------


def distributions(seed, *shape, zeros=False):
    p = torch.softmax(logits_for(seed, *shape), -1)
    if zeros:  # some tokens impossible under this model
        p = p * (torch.rand(*shape, generator=gen(seed + 7), dtype=F64) > 0.4)
        p[..., 0] += 1e-3
        p = p / p.sum(-1, keepdim=True)
    return p


@given(seed=seeds, V=st.integers(1, 10), p_zeros=st.booleans(), q_zeros=st.booleans())
def test_the_emitted_token_has_exactly_the_target_distribution(seed, V, p_zeros, q_zeros):
    p, q = distributions(seed, 3, V, zeros=p_zeros), distributions(seed + 1, 3, V, zeros=q_zeros)
    assert_close(speculative_output_distribution(p, q), p)
    assert_close(speculative_output_distribution(p, p), p)
    alpha = torch.minimum(p, q).sum(-1)
    assert_close(alpha, 1 - 0.5 * (p - q).abs().sum(-1))


@given(seed=seeds, V=st.integers(2, 10))
def test_resampling_from_the_target_on_rejection_is_biased(seed, V):
    p, q = distributions(seed, V), distributions(seed + 1, V)
    alpha = torch.minimum(p, q).sum()
    wrong = torch.minimum(p, q) + (1 - alpha) * p
    assert not torch.allclose(wrong, p)


@pytest.mark.parametrize(
    ("k", "q"), [(1, [0.25, 0.25, 0.25, 0.25]), (4, [0.25, 0.25, 0.25, 0.25]), (3, [0.4, 0.3, 0.2, 0.1])]
)
def test_tokens_per_pass_and_the_emitted_distribution(k, q):
    p = torch.tensor([0.5, 0.3, 0.15, 0.05], dtype=F64)
    q = torch.tensor(q, dtype=F64)
    N = 30000
    tokens, n = speculative_decode(p.expand(N, k + 1, 4), q.expand(N, k, 4), generator=gen(11))
    alpha = torch.minimum(p, q).sum().item()
    assert n.double().mean().item() == pytest.approx((1 - alpha ** (k + 1)) / (1 - alpha), abs=0.05)
    assert bool((n >= 1).all() and (n <= k + 1).all())
    emitted = torch.arange(k + 1)[None, :] < n[:, None]
    assert torch.equal(tokens >= 0, emitted)  # the emitted tokens, then -1
    for i in range(min(k, 2) + 1):  # every position's emitted token follows p
        seen = tokens[emitted[:, i], i]
        assert (torch.bincount(seen, minlength=4).double() / len(seen) - p).abs().max() < 0.025


def test_a_perfect_draft_is_always_accepted():
    p = torch.tensor([0.5, 0.3, 0.2], dtype=F64)
    _, n = speculative_decode(p.expand(100, 4, 3), p.expand(100, 3, 3), generator=gen(0))
    assert bool((n == 4).all())


def test_speculative_rejects_bad_inputs():
    p = torch.full((2, 4, 3), 1 / 3, dtype=F64)
    with pytest.raises(ValueError, match=r"target_probs must have shape \(2, 5, 3\)"):
        speculative_decode(p, p)
    with pytest.raises(ValueError, match="draft_probs must sum to 1"):
        speculative_output_distribution(p[0, 0], torch.tensor([0.5, 0.5, 0.5], dtype=F64))
    with pytest.raises(ValueError, match="target_probs must contain probabilities"):
        speculative_output_distribution(torch.tensor([1.5, -0.5, 0.0], dtype=F64), p[0, 0])
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        speculative_decode(p, p[:, :3], generator=0)
