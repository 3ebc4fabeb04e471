"""nnfaq.transformers.lm_evaluation: the language-model loss and perplexity against PyTorch's cross-entropy
(forward and gradient, float64) and the claims about padding, accumulation and tokenizers."""

import math

import pytest
import torch
import torch.nn.functional as F
from helpers import gen, seeds
from hypothesis import given
from hypothesis import strategies as st
from torch.testing import assert_close

from nnfaq.transformers.lm_evaluation import causal_lm_loss, perplexity

F64 = torch.float64


def batch(B, T, V, seed=0, pad_from=None, ignore_index=-100):
    g = gen(seed)
    logits = torch.randn(B, T, V, dtype=F64, generator=g)
    labels = torch.randint(0, V, (B, T), generator=g)
    if pad_from is not None:
        labels[-1, pad_from:] = ignore_index
    return logits, labels


# --- causal_lm_loss ------------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("ignore_index", [-100, 0])
@pytest.mark.parametrize(("B", "T", "V", "pad_from"), [(1, 2, 3, None), (2, 6, 11, 3), (3, 5, 7, 1)])
def test_loss_matches_torch_cross_entropy_on_shifted_labels(reduction, ignore_index, B, T, V, pad_from):
    logits, labels = batch(B, T, V, pad_from=pad_from, ignore_index=ignore_index)
    labels[0, 1] = 1  # at least one counted token (an all-ignored mean is NaN: tested below)
    a, b = logits.clone().requires_grad_(), logits.clone().requires_grad_()
    ours = causal_lm_loss(a, labels, ignore_index=ignore_index, reduction=reduction)
    ref = F.cross_entropy(
        b[:, :-1].reshape(-1, V), labels[:, 1:].reshape(-1), ignore_index=ignore_index, reduction=reduction
    )
    ref = ref.view(B, T - 1) if reduction == "none" else ref
    assert_close(ours, ref)
    g = torch.randn_like(ref)
    ours.backward(g)
    ref.backward(g)
    assert_close(a.grad, b.grad)


def test_all_ignored_is_nan_like_torch():
    logits, labels = batch(1, 4, 5)
    labels[:] = -100
    assert math.isnan(causal_lm_loss(logits, labels).item())
    assert math.isnan(F.cross_entropy(logits[:, :-1].reshape(-1, 5), labels[:, 1:].reshape(-1)).item())


def test_without_the_shift_a_copying_model_looks_perfect():
    _, tokens = batch(2, 8, 13)
    copy = 30.0 * F.one_hot(tokens, 13).double()
    assert F.cross_entropy(copy.view(-1, 13), tokens.view(-1)).item() < 1e-9
    assert causal_lm_loss(copy, tokens).item() > 1


@given(T=st.integers(2, 8), pad=st.integers(0, 12), seed=seeds)
def test_padding_changes_nothing_when_the_mean_is_over_real_tokens(T, pad, seed):
    x, y = batch(1, T, 9, seed=seed)
    padded_x = torch.cat([x, torch.randn(1, pad, 9, dtype=F64, generator=gen(seed + 1))], 1)
    padded_y = torch.cat([y, torch.full((1, pad), -100)], 1)
    assert_close(causal_lm_loss(padded_x, padded_y), causal_lm_loss(x, y))
    # averaged over every position, it shrinks by the fraction of real ones
    over_all = causal_lm_loss(padded_x, padded_y, reduction="none").mean()
    assert_close(over_all, causal_lm_loss(x, y) * (T - 1) / (T - 1 + pad))


@given(len_a=st.integers(2, 9), len_b=st.integers(2, 9), seed=seeds)
def test_gradient_accumulation_needs_the_total_token_count(len_a, len_b, seed):
    (a, ya), (b, yb) = batch(1, len_a, 7, seed=seed), batch(1, len_b, 7, seed=seed + 1)
    T = max(len_a, len_b)

    def pad(z, t):
        n = T - z.shape[1]
        return torch.cat([z, torch.zeros(1, n, 7, dtype=F64)], 1), torch.cat([t, torch.full((1, n), -100)], 1)

    (za, ta), (zb, tb) = pad(a, ya), pad(b, yb)
    whole = causal_lm_loss(torch.cat([za, zb]), torch.cat([ta, tb]))
    summed = (causal_lm_loss(a, ya, reduction="sum") + causal_lm_loss(b, yb, reduction="sum")) / (len_a + len_b - 2)
    assert_close(summed, whole)
    mean_of_means = (causal_lm_loss(a, ya) + causal_lm_loss(b, yb)) / 2
    if len_a != len_b:
        assert not torch.allclose(mean_of_means, whole)


@pytest.mark.parametrize(
    ("logits", "labels", "error", "match"),
    [
        (torch.randn(4, 5, dtype=F64), torch.zeros(4, dtype=torch.long), ValueError, "logits must have 3 dimensions"),
        (
            torch.randn(2, 4, 5, dtype=F64),
            torch.zeros(2, 3, dtype=torch.long),
            ValueError,
            "labels must have the shape",
        ),
        (torch.randn(2, 4, 5, dtype=F64), torch.zeros(2, 4), TypeError, "labels must be an integer tensor"),
        (torch.randn(2, 4, 5, dtype=F64), torch.full((2, 4), 5), ValueError, "target must hold class indices"),
    ],
)
def test_loss_rejects_bad_labels(logits, labels, error, match):
    with pytest.raises(error, match=match):
        causal_lm_loss(logits, labels)


# --- perplexity ----------------------------------------------------------------------------------


@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3), V=st.integers(2, 9), seed=seeds)
def test_perplexity_is_exp_of_torch_cross_entropy(shape, V, seed):
    g = gen(seed)
    logits = torch.randn(*shape, V, dtype=F64, generator=g)
    target = torch.randint(0, V, shape, generator=g)
    target.view(-1)[0] = -100 if target.numel() > 1 else target.view(-1)[0]
    ce = F.cross_entropy(logits.reshape(-1, V), target.reshape(-1), ignore_index=-100)
    assert perplexity(logits, target) == pytest.approx(math.exp(ce.item()), rel=1e-12)


@given(V=st.integers(2, 1000), n=st.integers(1, 20))
def test_uniform_model_has_perplexity_equal_to_the_vocabulary(V, n):
    assert perplexity(torch.zeros(n, V, dtype=F64), torch.randint(0, V, (n,))) == pytest.approx(V, rel=1e-12)


def test_perplexity_depends_on_the_tokenizer_bits_per_character_do_not():
    # the text "abab": characters a, b, a, b, or two tokens "ab"; the same probability 0.16 either way
    as_logits = lambda p: torch.stack([p.log(), (1 - p).log()], -1)  # noqa: E731
    chars = as_logits(torch.tensor([0.5, 0.8, 0.5, 0.8], dtype=F64))
    words = as_logits(torch.tensor([0.4, 0.4], dtype=F64))
    ppl_c, ppl_w = (
        perplexity(chars, torch.zeros(4, dtype=torch.long)),
        perplexity(words, torch.zeros(2, dtype=torch.long)),
    )
    assert ppl_c == pytest.approx(math.sqrt(2.5)) and ppl_w == pytest.approx(2.5)
    text_nll = [4 * math.log(ppl_c), 2 * math.log(ppl_w)]  # total nats of the text
    assert text_nll[0] == pytest.approx(text_nll[1]) == pytest.approx(-math.log(0.16))


def test_perplexity_rejects_mismatched_targets():
    with pytest.raises(ValueError, match="target must have the shape of logits"):
        perplexity(torch.randn(3, 5, dtype=F64), torch.zeros(4, dtype=torch.long))
    with pytest.raises(TypeError, match="target must be an integer tensor"):
        perplexity(torch.randn(3, 5, dtype=F64), torch.zeros(3, dtype=torch.bool))
