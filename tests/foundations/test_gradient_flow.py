"""nnfaq.foundations.gradient_flow: per-layer gradient norms, gradients through time, gradient clipping.

Parity with PyTorch (float64), the claims of the answers (the bound with the weights in it, orthogonal
recurrences), and the refusals specific to these functions (the shared ones are rows of
tests/foundations/contract.py).
"""

import itertools
import math

import numpy as np
import pytest
import torch
from helpers import gen, rejects, seeds, sizes
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.testing import assert_close

from nnfaq.foundations.gradient_flow import clip_grad_norm_, grad_norms, unrolled_gradient

F64 = torch.float64
shapes = st.lists(sizes, max_size=3).map(tuple)

# --- parity --------------------------------------------------------------------------------------


@settings(max_examples=15)
@given(widths=st.lists(sizes, min_size=2, max_size=5), frozen=st.lists(st.booleans(), min_size=4), seed=seeds)
def test_grad_norms_are_the_norms_of_the_weight_gradients(widths, frozen, seed):
    torch.manual_seed(seed)
    layers = [torch.nn.Linear(i, o, dtype=F64) for i, o in itertools.pairwise(widths)]
    for layer, f in zip(layers, frozen):
        layer.weight.requires_grad_(not f)
    net = torch.nn.Sequential(*[m for layer in layers for m in (layer, torch.nn.Tanh())])
    net(torch.randn(3, widths[0], generator=gen(seed), dtype=F64)).pow(2).sum().backward()
    ref = {n: p.grad.norm().item() for n, p in net.named_parameters() if p.grad is not None and p.dim() >= 2}
    ours = grad_norms(net)
    assert list(ours) == list(ref)  # registration order, weights only, frozen ones skipped
    assert ours == pytest.approx(ref, rel=1e-12)


@settings(max_examples=15)
@given(C=sizes, steps=st.integers(1, 8), tanh=st.booleans(), seed=seeds)
def test_unrolled_gradient_is_autograd_through_the_loop_and_a_matrix_power(C, steps, tanh, seed):
    W = torch.randn(C, C, generator=gen(seed), dtype=F64) / math.sqrt(C)
    ours = unrolled_gradient(W, steps, "tanh" if tanh else None)
    assert ours.shape == (steps + 1,) and ours.dtype == F64
    if not tanh:  # d(1^T W^k h)/dh = (W^T)^k 1
        ref = [torch.linalg.matrix_power(W.T, k) @ torch.ones(C, dtype=F64) for k in range(steps + 1)]
        assert_close(ours, torch.stack([r.norm() for r in ref]))
    rnn = torch.nn.RNN(C, C, bias=False, nonlinearity="tanh", dtype=F64)
    with torch.no_grad():
        rnn.weight_hh_l0.copy_(W)
        rnn.weight_ih_l0.zero_()
    if tanh:  # nn.RNN with zero input is the same recurrence
        h0 = torch.ones(1, 1, C, dtype=F64, requires_grad=True)
        out, _ = rnn(torch.zeros(steps, 1, C, dtype=F64), h0)
        (g0,) = torch.autograd.grad(out[-1].sum(), h0)
        assert ours[-1].item() == pytest.approx(g0.norm().item(), rel=1e-10)


@settings(max_examples=15)
@given(w=st.floats(-2, 2), steps=st.integers(1, 30))
def test_the_scalar_recurrence_gradient_is_w_to_the_k(w, steps):
    assert_close(unrolled_gradient(w, steps), abs(w) ** torch.arange(steps + 1, dtype=F64), rtol=1e-10, atol=1e-300)


@st.composite
def parameter_sets(draw):
    """Parameters of random shapes and dtypes, some without a gradient, gradients of a random scale."""
    specs = draw(
        st.lists(st.tuples(shapes, st.booleans(), st.sampled_from([F64, torch.float32])), min_size=1, max_size=4)
    )
    return specs, draw(seeds), draw(st.sampled_from([0.0, 1.0, 3.0]))


def _params(specs, seed, log_scale):
    g = gen(seed)
    params = []
    for shape, has_grad, dtype in specs:
        p = torch.zeros(shape, dtype=dtype, requires_grad=True)
        if has_grad:
            p.grad = (torch.randn(shape, generator=g, dtype=F64) * 10**log_scale).to(dtype)
        params.append(p)
    return params


@settings(max_examples=25)
@given(
    spec=parameter_sets(),
    max_norm=st.floats(1e-3, 1e3),
    norm_type=st.sampled_from([1.0, 2.0, math.inf]) | st.floats(0.5, 4),
)
def test_clip_grad_norm_matches_torch(spec, max_norm, norm_type):
    ours_p, ref_p = _params(*spec), _params(*spec)
    ours = clip_grad_norm_(ours_p, max_norm, norm_type)
    ref = torch.nn.utils.clip_grad_norm_(ref_p, max_norm, norm_type, foreach=False)
    assert_close(ours, ref, rtol=1e-5, atol=1e-6)
    for p, q in zip(ours_p, ref_p):
        assert (p.grad is None) == (q.grad is None)
        if p.grad is not None:
            assert p.grad.dtype == q.grad.dtype
            assert_close(p.grad, q.grad, rtol=1e-5, atol=1e-7)


# --- claims: vanishing -------------------------------------------------------------------------

SLOPE = {torch.nn.Sigmoid: 0.25, torch.nn.Tanh: 1.0, torch.nn.ReLU: 1.0}


@settings(max_examples=20)
@given(
    act=st.sampled_from(list(SLOPE)),
    depth=st.integers(1, 8),
    width=sizes,
    scale=st.sampled_from([0.3, 1.0, 3.0]),
    seed=seeds,
)
def test_the_input_gradient_is_bounded_by_slope_times_weight_norm_per_layer(act, depth, width, scale, seed):
    torch.manual_seed(seed)
    net = torch.nn.Sequential(*[m for _ in range(depth) for m in (torch.nn.Linear(width, width, dtype=F64), act())])
    with torch.no_grad():
        for m in net[::2]:
            m.weight.mul_(scale)
    h0 = torch.randn(4, width, generator=gen(seed), dtype=F64, requires_grad=True)
    out = net(h0)
    g = torch.randn(out.shape, generator=gen(seed + 1), dtype=F64)
    (g0,) = torch.autograd.grad(out, h0, g)
    bound = g.norm() * math.prod(SLOPE[act] * torch.linalg.matrix_norm(m.weight, 2).item() for m in net[::2])
    assert g0.norm() <= bound * (1 + 1e-9)


@pytest.mark.parametrize("seed", range(3))
def test_relu_with_default_init_vanishes_too_he_does_not(seed):
    torch.manual_seed(seed)
    x = torch.randn(64, 32, generator=gen(seed), dtype=F64)
    ratios = {}
    for name, init in (("sigmoid", "sigmoid"), ("relu", "relu"), ("default", None)):
        act = torch.nn.Sigmoid if name == "sigmoid" else torch.nn.ReLU
        net = torch.nn.Sequential(*[m for _ in range(10) for m in (torch.nn.Linear(32, 32, dtype=F64), act())])
        for m in net[::2]:
            if init:
                torch.nn.init.kaiming_normal_(m.weight, nonlinearity=init)
        net(x).pow(2).mean().backward()
        norms = list(grad_norms(net).values())
        ratios[name] = norms[0] / norms[-1]
    assert ratios["sigmoid"] < 1e-3 and 0.1 < ratios["relu"] < 10 and ratios["default"] < 1e-2


# --- claims: exploding -------------------------------------------------------------------------


def test_the_gradient_explodes_with_the_sequence_length_at_a_fixed_weight():
    assert unrolled_gradient(1.1, 10)[-1] < 3 < 1e4 < unrolled_gradient(1.1, 100)[-1]
    assert unrolled_gradient(0.9, 100)[-1] < 1e-4


@pytest.mark.parametrize("C", [1, 4, 16])
def test_an_orthogonal_recurrence_keeps_the_gradient_norm_at_any_length(C):
    Q = torch.linalg.qr(torch.randn(C, C, generator=gen(C), dtype=F64)).Q
    assert_close(unrolled_gradient(Q, 500), torch.full((501,), math.sqrt(C), dtype=F64))
    assert (unrolled_gradient(Q, 500, "tanh") <= math.sqrt(C) * (1 + 1e-12)).all()
    for rho in (0.8, 1.3):  # a scaled one follows rho^n exactly
        assert unrolled_gradient(rho * Q, 15)[-1].item() == pytest.approx(rho**15 * math.sqrt(C), rel=1e-9)


# --- claims: clipping --------------------------------------------------------------------------


def test_clipping_returns_the_norm_before_keeps_the_direction_and_skips_missing_gradients():
    p, q, r = torch.ones(3, requires_grad=True), torch.ones(2, requires_grad=True), torch.ones(1, requires_grad=True)
    p.grad, r.grad = torch.tensor([3.0, 0.0, 4.0]), torch.tensor([12.0])
    before = torch.cat([p.grad, r.grad])
    assert clip_grad_norm_([p, q, r], 1.0).item() == pytest.approx(13.0)
    after = torch.cat([p.grad, r.grad])
    assert q.grad is None and after.norm().item() == pytest.approx(1.0, rel=1e-5)
    assert_close(after / after.norm(), before / before.norm())
    assert clip_grad_norm_([p, r], 10.0).item() == pytest.approx(1.0, rel=1e-5)  # below max_norm: unchanged
    assert_close(torch.cat([p.grad, r.grad]), after)
    assert clip_grad_norm_(p, 1.0).item() == pytest.approx(p.grad.norm().item())  # one tensor is accepted
    assert clip_grad_norm_([q], 1.0).item() == 0.0


def test_clipping_by_value_turns_the_gradient():
    p = torch.zeros(2, requires_grad=True)
    p.grad = torch.tensor([3.0, 0.5])
    torch.nn.utils.clip_grad_value_([p], 1.0)
    assert p.grad.tolist() == [1.0, 0.5]  # no longer parallel to (3, 0.5)


# --- bad input -----------------------------------------------------------------------------------


def test_grad_norms_refuses_what_is_not_a_module():
    for bad in (None, [torch.nn.Linear(2, 2)], torch.nn.Linear, torch.ones(2, 2)):
        rejects("model", grad_norms, bad)


def test_unrolled_gradient_refuses_non_square_or_non_finite_matrices_and_other_nonlinearities():
    for bad in (torch.ones(2, 3), torch.ones(0, 0), torch.ones(3), torch.ones(2, 2, dtype=torch.int64)):
        rejects("weight", unrolled_gradient, bad, 3)
    for v in (math.nan, math.inf):
        rejects("weight", unrolled_gradient, torch.eye(3).index_fill_(0, torch.tensor([1]), v), 3)
    for bad in ("relu", 0, "Tanh"):
        rejects("nonlinearity", unrolled_gradient, 1.5, 3, bad)


def test_clip_grad_norm_refuses_non_iterables_and_names_the_bad_parameter():
    for bad in (None, 1, 1.5, True, object()):
        rejects("parameters", clip_grad_norm_, bad, 1.0)
    for bad in (None, 1.0, "x", [1.0], np.ones(2), torch.ones(2, dtype=torch.int64)):
        params = [torch.ones(2, requires_grad=True) for _ in range(3)]
        params[1] = bad
        rejects("parameters[1]", clip_grad_norm_, params, 1.0)
    p = torch.ones(2, requires_grad=True)
    p.grad = torch.ones(2)
    rejects("max_norm", clip_grad_norm_, [p], 0.0)
    assert torch.equal(p.grad, torch.ones(2))  # refused before touching any gradient
