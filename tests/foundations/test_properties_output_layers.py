"""Property tests for nnfaq.output_layers: random valid shapes and options agree with PyTorch (forward and
gradient, float64); random invalid input raises ValueError/TypeError naming the argument."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import REDUCTIONS, bad_reductions, gen, non_float_dtypes, parity, rejects, seeds, small_shapes
from hypothesis import given
from hypothesis import strategies as st
from torch.testing import assert_close

from nnfaq.output_layers import binary_cross_entropy, binary_cross_entropy_with_logits, log_softmax, softmax

F64 = torch.float64

not_tensors = st.sampled_from([None, 1.0, 3, [0.5, 0.5], "x", np.ones(3)])


@st.composite
def shape_and_dim(draw):
    shape = draw(small_shapes)
    return shape, draw(st.integers(-len(shape), len(shape) - 1))


@st.composite
def broadcastable(draw, shape):
    """A shape that broadcasts to ``shape`` without growing it: a suffix of it, some sizes set to 1."""
    k = draw(st.integers(0, len(shape)))
    suffix = shape[len(shape) - k :]
    return tuple(draw(st.sampled_from([1, n])) for n in suffix)


@st.composite
def not_broadcastable(draw, shape):
    """A shape whose broadcast with ``shape`` fails or differs from ``shape``."""
    other = draw(st.lists(st.integers(1, 6), min_size=1, max_size=5).map(tuple))
    try:
        ok = torch.broadcast_shapes(other, shape) == torch.Size(shape)
    except RuntimeError:
        ok = False
    if ok:  # grow it by one leading dimension of size 2, which never broadcasts back
        other = (2, *shape)
    return other


# --- softmax / log_softmax: valid input ----------------------------------------------------------


@given(shape_and_dim(), seeds, st.sampled_from([1.0, 20.0, 500.0]))
def test_softmax_and_log_softmax_match_torch(sd, seed, scale):
    shape, dim = sd
    x = scale * torch.randn(shape, generator=gen(seed), dtype=F64)
    parity(lambda a: softmax(a, dim), lambda b: F.softmax(b, dim), x, seed=seed)
    parity(lambda a: log_softmax(a, dim), lambda b: F.log_softmax(b, dim), x, seed=seed)


@given(shape_and_dim(), seeds, st.floats(-1e3, 1e3))
def test_softmax_is_a_shift_invariant_distribution(sd, seed, shift):
    shape, dim = sd
    x = 10 * torch.randn(shape, generator=gen(seed), dtype=F64)
    p = softmax(x, dim)
    assert ((p >= 0) & (p <= 1)).all()
    assert_close(p.sum(dim), torch.ones_like(p.sum(dim)))
    assert_close(softmax(x + shift, dim), p)
    lp = log_softmax(x, dim)
    assert (lp <= 0).all()
    assert_close(lp.exp(), p)


# --- softmax / log_softmax: invalid input --------------------------------------------------------


@pytest.mark.parametrize("fn", [softmax, log_softmax])
@given(bad=not_tensors)
def test_softmax_rejects_non_tensors(fn, bad):
    rejects("input", fn, bad, 0)


@pytest.mark.parametrize("fn", [softmax, log_softmax])
@given(shape=small_shapes, dtype=non_float_dtypes)
def test_softmax_rejects_non_float_dtypes(fn, shape, dtype):
    rejects("input", fn, torch.zeros(shape, dtype=dtype), 0)


@pytest.mark.parametrize("fn", [softmax, log_softmax])
@given(shape=small_shapes, data=st.data())
def test_softmax_rejects_bad_dim(fn, shape, data):
    n = len(shape)
    bad = data.draw(
        st.integers(max_value=-n - 1)
        | st.integers(min_value=n)
        | st.booleans()
        | st.floats(allow_nan=True)
        | st.none()
        | st.just("1")
    )
    rejects("dim", fn, torch.zeros(shape, dtype=F64), bad)


@pytest.mark.parametrize("fn", [softmax, log_softmax])
@given(shape_and_dim())
def test_softmax_rejects_scalar_and_empty_class_dim(fn, sd):
    shape, dim = sd
    rejects("input", fn, torch.tensor(1.0, dtype=F64), 0)
    empty = list(shape)
    empty[dim] = 0
    rejects("input", fn, torch.zeros(empty, dtype=F64), dim)


# --- binary cross-entropy: valid input -----------------------------------------------------------


@st.composite
def bce_case(draw):
    shape = draw(small_shapes)
    weight = draw(st.none() | broadcastable(shape))
    pos_weight = draw(st.none() | broadcastable(shape))
    return shape, weight, pos_weight, draw(st.sampled_from(REDUCTIONS)), draw(seeds)


@given(bce_case())
def test_binary_cross_entropy_matches_torch(case):
    shape, wshape, _, reduction, seed = case
    g = gen(seed)
    p = torch.rand(shape, generator=g, dtype=F64) * 0.98 + 0.01
    y = torch.rand(shape, generator=g, dtype=F64)
    y = torch.where(torch.rand(shape, generator=g) < 0.5, y.round(), y)  # mix hard and soft targets
    w = None if wshape is None else torch.rand(wshape, generator=g, dtype=F64) * 2
    parity(
        lambda a: binary_cross_entropy(a, y, w, reduction=reduction),
        lambda b: F.binary_cross_entropy(b, y, w, reduction=reduction),
        p,
        seed=seed,
    )


@given(small_shapes, seeds)
def test_binary_cross_entropy_at_exact_zero_and_one_matches_torch_clamp(shape, seed):
    g = gen(seed)
    p = torch.randint(0, 2, shape, generator=g).to(F64)
    y = torch.rand(shape, generator=g, dtype=F64)
    ours = binary_cross_entropy(p, y, reduction="none")
    assert_close(ours, F.binary_cross_entropy(p, y, reduction="none"))
    assert torch.isfinite(ours).all() and (ours <= 100).all()


@given(bce_case(), st.sampled_from([1.0, 5.0, 100.0]))
def test_binary_cross_entropy_with_logits_matches_torch(case, scale):
    shape, wshape, pwshape, reduction, seed = case
    g = gen(seed)
    x = scale * torch.randn(shape, generator=g, dtype=F64)
    x.view(-1)[0] = 0.0  # the kink of |x| in the stable form must not show in the gradient
    y = torch.rand(shape, generator=g, dtype=F64)
    w = None if wshape is None else torch.rand(wshape, generator=g, dtype=F64) * 2
    pw = None if pwshape is None else torch.rand(pwshape, generator=g, dtype=F64) * 4
    parity(
        lambda a: binary_cross_entropy_with_logits(a, y, w, reduction=reduction, pos_weight=pw),
        lambda b: F.binary_cross_entropy_with_logits(b, y, w, reduction=reduction, pos_weight=pw),
        x,
        seed=seed,
    )


@given(small_shapes, seeds)
def test_bce_with_logits_equals_bce_of_sigmoid_where_sigmoid_is_not_saturated(shape, seed):
    g = gen(seed)
    x = 3 * torch.randn(shape, generator=g, dtype=F64)
    y = torch.rand(shape, generator=g, dtype=F64)
    a = binary_cross_entropy_with_logits(x, y, reduction="none")
    assert_close(a, binary_cross_entropy(torch.sigmoid(x), y, reduction="none"))
    xg = x.clone().requires_grad_()
    binary_cross_entropy_with_logits(xg, y, reduction="sum").backward()
    assert_close(xg.grad, torch.sigmoid(x) - y)


# --- binary cross-entropy: invalid input ---------------------------------------------------------

BINARY = [binary_cross_entropy, binary_cross_entropy_with_logits]


def _half(shape):
    return torch.full(shape, 0.5, dtype=F64)


@pytest.mark.parametrize("fn", BINARY)
@given(shape=small_shapes, bad=not_tensors, which=st.sampled_from(["input", "target"]))
def test_binary_losses_reject_non_tensors(fn, shape, bad, which):
    args = {"input": _half(shape), "target": _half(shape), which: bad}
    rejects(which, fn, args["input"], args["target"])


@pytest.mark.parametrize("fn", BINARY)
@given(shape=small_shapes, dtype=non_float_dtypes, which=st.sampled_from(["input", "target", "weight"]))
def test_binary_losses_reject_non_float_dtypes(fn, shape, dtype, which):
    args = {"input": _half(shape), "target": _half(shape), "weight": None, which: torch.zeros(shape, dtype=dtype)}
    rejects(which, fn, **args)


@pytest.mark.parametrize("fn", BINARY)
@given(shape=small_shapes, other=small_shapes)
def test_binary_losses_reject_mismatched_target_shape(fn, shape, other):
    if other == shape:
        other = (*shape, 2)
    rejects("target", fn, _half(shape), _half(other))


@pytest.mark.parametrize("fn", BINARY)
@given(shape=small_shapes, data=st.data())
def test_binary_losses_reject_non_broadcasting_weights(fn, shape, data):
    w = torch.ones(data.draw(not_broadcastable(shape)), dtype=F64)
    rejects("weight", fn, _half(shape), _half(shape), w)
    if fn is binary_cross_entropy_with_logits:
        rejects("pos_weight", fn, _half(shape), _half(shape), pos_weight=w)


@pytest.mark.parametrize("fn", BINARY)
@given(shape=small_shapes, bad=bad_reductions)
def test_binary_losses_reject_bad_reduction(fn, shape, bad):
    rejects("reduction", fn, _half(shape), _half(shape), reduction=bad)


out_of_unit = st.floats(max_value=-1e-9) | st.floats(min_value=1 + 1e-9) | st.just(math.nan)


@given(shape=small_shapes, bad=out_of_unit, index=st.integers(0, 10**6), which=st.sampled_from(["input", "target"]))
def test_binary_cross_entropy_rejects_out_of_range_probabilities(shape, bad, index, which):
    args = {"input": _half(shape), "target": _half(shape)}
    args[which].view(-1)[index % args[which].numel()] = bad
    rejects(which, binary_cross_entropy, args["input"], args["target"])


@given(shape=small_shapes, bad=out_of_unit, index=st.integers(0, 10**6))
def test_bce_with_logits_rejects_out_of_range_targets(shape, bad, index):
    y = _half(shape)
    y.view(-1)[index % y.numel()] = bad
    rejects("target", binary_cross_entropy_with_logits, torch.zeros(shape, dtype=F64), y)
