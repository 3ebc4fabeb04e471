"""nnfaq.efficiency.memory against torch.utils.checkpoint and the large-batch gradient (float64), and its claims."""

import pytest
import torch
import torch.nn.functional as F
from helpers import gen, rejects, seeds
from hypothesis import given
from hypothesis import strategies as st
from torch.testing import assert_close
from torch.utils.checkpoint import checkpoint as torch_checkpoint
from torch.utils.flop_counter import FlopCounterMode

from nnfaq.efficiency.memory import accumulate_gradients, checkpoint

F64 = torch.float64


# --- checkpoint ----------------------------------------------------------------------------------


def _mlp(seed, width=8, depth=3):
    torch.manual_seed(seed)
    layers = []
    for _ in range(depth):
        layers += [torch.nn.Linear(width, width, dtype=F64), torch.nn.Tanh()]
    return torch.nn.Sequential(*layers)


def _grads(net, run, x):
    net.zero_grad(set_to_none=True)
    x = x.clone().requires_grad_()
    run(x).pow(2).sum().backward()
    return [x.grad, *(p.grad for p in net.parameters())]


@given(seed=seeds)
def test_checkpoint_gives_the_plain_and_torch_gradients(seed):
    net = _mlp(seed)
    x = torch.randn(5, 8, generator=gen(seed), dtype=F64)
    plain = _grads(net, net, x)
    ours = _grads(net, lambda t: checkpoint(net, t), x)
    ref = _grads(net, lambda t: torch_checkpoint(net, t, use_reentrant=False), x)
    for p, o, r in zip(plain, ours, ref):
        assert_close(o, p)
        assert_close(o, r)


def test_checkpoint_with_several_inputs_and_outputs():
    a, b = (torch.randn(4, 3, dtype=F64, requires_grad=True) for _ in range(2))

    def fn(u, v):
        return (u * v).sin(), u.exp() + v

    y1, y2 = checkpoint(fn, a, b)
    (y1.sum() + y2.pow(2).sum()).backward()
    ga, gb = a.grad.clone(), b.grad.clone()
    a.grad = b.grad = None
    r1, r2 = fn(a, b)
    (r1.sum() + r2.pow(2).sum()).backward()
    assert_close(ga, a.grad)
    assert_close(gb, b.grad)


def test_checkpoint_runs_the_forward_again_and_keeps_only_the_input():
    calls = []

    def four_sins(t):
        calls.append(1)
        return t.sin().sin().sin().sin()

    kept = []

    def pack(t):
        kept.append(t.numel())
        return t

    x = torch.randn(100, requires_grad=True)
    for run, want_calls, want_kept in ((four_sins, 1, 400), (lambda t: checkpoint(four_sins, t), 2, 100)):
        calls.clear()
        kept.clear()
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            y = run(x)
        y.sum().backward()
        assert (len(calls), sum(kept)) == (want_calls, want_kept)


def test_checkpoint_costs_one_extra_forward_four_thirds_of_the_flops():
    net = torch.nn.Sequential(*[torch.nn.Linear(32, 32, bias=False) for _ in range(4)])
    x = torch.randn(16, 32, requires_grad=True)
    flops = []
    for run in (net, lambda t: checkpoint(net, t)):
        with FlopCounterMode(display=False) as counter:
            run(x).sum().backward()
        flops.append(counter.get_total_flops())
    forward = 4 * 2 * 16 * 32 * 32  # four (16, 32) @ (32, 32) products
    assert flops == [3 * forward, 4 * forward]  # backward ~ 2 forwards; checkpointing adds one


def test_checkpoint_restores_the_rng_for_dropout():
    def drop(t):
        return F.dropout(t, p=0.5) * t

    def grad(run):
        x = torch.ones(300, dtype=F64, requires_grad=True)
        torch.manual_seed(7)
        run(x).sum().backward()
        return x.grad

    assert torch.equal(grad(lambda t: checkpoint(drop, t)), grad(drop))
    assert not torch.equal(grad(lambda t: checkpoint(drop, t, preserve_rng_state=False)), grad(drop))


def test_checkpointed_parameters_cannot_be_asked_for_with_autograd_grad():
    W = torch.randn(4, 4, requires_grad=True)
    x = torch.randn(2, 4, requires_grad=True)
    y = checkpoint(lambda t: t @ W, x)
    with pytest.raises(RuntimeError):
        torch.autograd.grad(y.sum(), W)  # the documented limit of the reentrant variant


def test_checkpoint_rejects_bad_arguments():
    rejects("function", checkpoint, 3, torch.ones(2))
    rejects("args", checkpoint, torch.sin)
    rejects("args[0]", checkpoint, torch.sin, [1.0])
    rejects("preserve_rng_state", checkpoint, torch.sin, torch.ones(2), preserve_rng_state=1)


# --- accumulate_gradients ------------------------------------------------------------------------


def _problem(seed, sizes, pad=()):
    g = gen(seed)
    W = torch.randn(6, 4, generator=g, dtype=F64, requires_grad=True)
    batches = [(torch.randn(n, 6, generator=g, dtype=F64), torch.randint(4, (n,), generator=g)) for n in sizes]
    for (_, t), p in zip(batches, pad):
        t[len(t) - p :] = -100
    x = torch.cat([x for x, _ in batches])
    t = torch.cat([t for _, t in batches])
    large = torch.autograd.grad(F.cross_entropy(x @ W, t, ignore_index=-100), W)[0]

    def token_losses(x, t):
        return F.cross_entropy(x @ W, t, reduction="none", ignore_index=-100)

    return W, batches, large, token_losses


@given(seed=seeds, sizes=st.lists(st.integers(1, 7), min_size=1, max_size=4))
def test_dividing_by_the_total_token_count_equals_the_large_batch(seed, sizes):
    W, batches, large, token_losses = _problem(seed, sizes)
    assert_close(accumulate_gradients(token_losses, [W], batches)[0], large)


@given(seed=seeds, n=st.integers(1, 4), size=st.integers(1, 6))
def test_equal_micro_batches_make_both_recipes_exact(seed, n, size):
    W, batches, large, token_losses = _problem(seed, [size] * n)
    for normalize in ("tokens", "micro_batches"):
        assert_close(accumulate_gradients(token_losses, [W], batches, normalize=normalize)[0], large)


@given(seed=seeds)
def test_mean_of_means_is_wrong_for_different_token_counts_and_padding(seed):
    for sizes, pad in (((2, 8), ()), ((5, 5, 5), (0, 3, 4))):
        W, batches, large, token_losses = _problem(seed, sizes, pad)
        assert_close(accumulate_gradients(token_losses, [W], batches, normalize="tokens")[0], large)
        wrong = accumulate_gradients(token_losses, [W], batches, normalize="micro_batches")[0]
        assert not torch.allclose(wrong, large)


def test_batch_norm_breaks_the_equivalence_even_with_equal_sizes():
    W, batches, _, _ = _problem(0, [4, 4])

    def bn_losses(x, t):  # normalized with the statistics of this micro-batch only
        return F.cross_entropy(F.batch_norm(x @ W, None, None, training=True), t, reduction="none")

    x = torch.cat([x for x, _ in batches])
    t = torch.cat([t for _, t in batches])
    large = torch.autograd.grad(bn_losses(x, t).mean(), W)[0]
    assert not torch.allclose(accumulate_gradients(bn_losses, [W], batches)[0], large)


def test_accumulate_gradients_resets_existing_grads():
    W, batches, large, token_losses = _problem(1, [3, 2])
    W.grad = torch.full_like(W, 100.0)
    assert_close(accumulate_gradients(token_losses, [W], batches)[0], large)


def test_accumulate_gradients_rejects_bad_arguments():
    W, batches, _, token_losses = _problem(0, [3, 2])
    rejects("loss_fn", accumulate_gradients, None, [W], batches)
    rejects("params", accumulate_gradients, token_losses, [], batches)
    rejects("params[0]", accumulate_gradients, token_losses, [W.detach()], batches)
    rejects("micro_batches", accumulate_gradients, token_losses, [W], [])
    rejects("micro_batches[0]", accumulate_gradients, token_losses, [W], [batches[0][0]])
    rejects("micro_batches[1] target", accumulate_gradients, token_losses, [W], [batches[0], (batches[1][0], 1.0)])
    float_target = [(batches[0][0], batches[0][1].double())]
    rejects("micro_batches[0] target", accumulate_gradients, token_losses, [W], float_target)
    rejects("loss_fn", accumulate_gradients, lambda x, t: token_losses(x, t).sum(), [W], batches)
    all_padding = [(x, torch.full_like(t, -100)) for x, t in batches]
    rejects("micro_batches", accumulate_gradients, token_losses, [W], all_padding)
