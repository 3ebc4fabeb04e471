"""Property tests for nnfaq.classification_losses: random valid shapes and options agree with PyTorch (forward
and gradient, float64); random invalid input raises ValueError/TypeError naming the argument."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import REDUCTIONS, bad_reductions, gen, parity, rejects, seeds, small_shapes
from hypothesis import given
from hypothesis import strategies as st
from torch.testing import assert_close

from nnfaq.classification_losses import cross_entropy, cross_entropy_grad, nll_loss, smooth_one_hot

F64 = torch.float64

# (C,) unbatched, (B, C) or (B, C, *): classes on dimension 0 for 1-D input, else 1
not_tensors = st.sampled_from([None, 1.0, 3, [0, 1], "x", np.zeros(3, dtype=np.int64)])
non_int_dtypes = st.sampled_from([torch.float32, torch.float64, torch.bool, torch.complex64])
not_ints = st.booleans() | st.floats(allow_nan=True) | st.none() | st.just("1")
bad_smoothing = st.floats(max_value=-1e-9) | st.floats(min_value=1 + 1e-9) | st.just(math.nan) | st.booleans()


def _cdim(shape):
    return 0 if len(shape) == 1 else 1


def _tshape(shape):
    """Index targets: input's shape without the class dimension."""
    c = _cdim(shape)
    return shape[:c] + shape[c + 1 :]


@st.composite
def index_case(draw):
    """Logits, index targets (some equal to ignore_index), class weights and the options."""
    shape = draw(small_shapes)
    seed = draw(seeds)
    g = gen(seed)
    C = shape[_cdim(shape)]
    ignore_index = draw(st.sampled_from([-100, -1, C + 2]) | st.integers(0, C - 1))
    y = torch.randint(0, C, _tshape(shape), generator=g)
    drop = torch.rand(y.shape, generator=g) < draw(st.sampled_from([0.0, 0.3, 1.0]))
    y = torch.where(drop, torch.full_like(y, ignore_index), y)
    w = draw(st.none() | st.just(True))
    w = torch.rand(C, generator=g, dtype=F64) + 0.1 if w else None
    x = draw(st.sampled_from([1.0, 10.0, 300.0])) * torch.randn(shape, generator=g, dtype=F64)
    return x, y, w, ignore_index, draw(st.sampled_from(REDUCTIONS)), seed


# --- nll_loss / cross_entropy: valid input -------------------------------------------------------


@given(index_case())
def test_nll_loss_matches_torch(case):
    x, y, w, ignore_index, reduction, seed = case
    logp = x.log_softmax(_cdim(x.shape))
    kw = dict(ignore_index=ignore_index, reduction=reduction)
    # equal_nan: the mean over only ignored targets is 0/0 in both
    parity(lambda a: nll_loss(a, y, w, **kw), lambda b: F.nll_loss(b, y, w, **kw), logp, seed=seed, equal_nan=True)


@given(index_case(), st.floats(0, 1))
def test_cross_entropy_with_indices_matches_torch(case, eps):
    x, y, w, ignore_index, reduction, seed = case
    kw = dict(ignore_index=ignore_index, reduction=reduction, label_smoothing=eps)
    parity(
        lambda a: cross_entropy(a, y, w, **kw), lambda b: F.cross_entropy(b, y, w, **kw), x, seed=seed, equal_nan=True
    )


@given(small_shapes, seeds, st.floats(0, 1), st.sampled_from(REDUCTIONS), st.booleans(), st.booleans())
def test_cross_entropy_with_probabilities_matches_torch(shape, seed, eps, reduction, weighted, hard):
    g = gen(seed)
    cdim, C = _cdim(shape), shape[_cdim(shape)]
    x = 5 * torch.randn(shape, generator=g, dtype=F64)
    if hard:  # one-hot rows: "categorical" targets
        q = F.one_hot(torch.randint(0, C, _tshape(shape), generator=g), C).to(F64).movedim(-1, cdim)
    else:
        q = torch.randn(shape, generator=g, dtype=F64).softmax(cdim)
    w = torch.rand(C, generator=g, dtype=F64) + 0.1 if weighted else None
    kw = dict(reduction=reduction, label_smoothing=eps)
    parity(
        lambda a: cross_entropy(a, q, w, **kw), lambda b: F.cross_entropy(b, q, w, **kw), x, seed=seed, equal_nan=True
    )


@given(small_shapes, seeds, st.sampled_from(REDUCTIONS))
def test_sparse_and_categorical_targets_give_the_same_loss(shape, seed, reduction):
    g = gen(seed)
    cdim, C = _cdim(shape), shape[_cdim(shape)]
    x = 5 * torch.randn(shape, generator=g, dtype=F64)
    y = torch.randint(0, C, _tshape(shape), generator=g)
    onehot = F.one_hot(y, C).to(F64).movedim(-1, cdim)
    assert_close(cross_entropy(x, onehot, reduction=reduction), cross_entropy(x, y, reduction=reduction))
    assert_close(cross_entropy(x, y, reduction=reduction), nll_loss(x.log_softmax(cdim), y, reduction=reduction))


# --- cross_entropy_grad and smooth_one_hot: valid input ------------------------------------------


@given(st.integers(1, 6), st.integers(1, 6), seeds, st.sampled_from([1.0, 10.0, 300.0]))
def test_cross_entropy_grad_is_autograd_gradient(B, C, seed, scale):
    g = gen(seed)
    x = (scale * torch.randn(B, C, generator=g, dtype=F64)).requires_grad_()
    y = torch.randint(0, C, (B,), generator=g)
    (ref,) = torch.autograd.grad(F.cross_entropy(x, y), x)
    ours = cross_entropy_grad(x, y)
    assert_close(ours, ref)
    assert_close(ours.sum(1), torch.zeros(B, dtype=F64), atol=1e-12, rtol=0)
    assert (ours.abs() * B <= 1 + 1e-12).all()


@given(st.lists(st.integers(1, 4), max_size=3).map(tuple), st.integers(2, 6), st.floats(0, 1), seeds)
def test_smooth_one_hot_is_pytorch_label_smoothing(tshape, C, eps, seed):
    g = gen(seed)
    y = torch.randint(0, C, tshape, generator=g)
    q = smooth_one_hot(y, C, eps)
    assert q.shape == (*tshape, C) and q.dtype == F64
    assert_close(q.sum(-1), torch.ones(tshape, dtype=F64))
    assert (q >= eps / C - 1e-15).all()
    if len(tshape) >= 1:  # PyTorch wants (C,) with a 0-d target, else (B, C, *)
        x = 3 * torch.randn((*tshape[:1], C, *tshape[1:]), generator=g, dtype=F64)
        ref = F.cross_entropy(x, y, label_smoothing=eps)
        assert_close(cross_entropy(x, q.movedim(-1, 1)), ref)
        assert_close(cross_entropy(x, y, label_smoothing=eps), ref)


# --- invalid input -------------------------------------------------------------------------------

LOSSES = [nll_loss, cross_entropy]


def _ok(shape):
    """Valid zero logits and class-0 targets for ``shape``."""
    return torch.zeros(shape, dtype=F64), torch.zeros(_tshape(shape), dtype=torch.long)


@pytest.mark.parametrize("fn", [*LOSSES, cross_entropy_grad])
@given(bad=not_tensors, which=st.sampled_from(["input", "target"]))
def test_losses_reject_non_tensors(fn, bad, which):
    args = dict(zip(["input", "target"], _ok((3, 4))))
    args[which] = bad
    rejects(which, fn, args["input"], args["target"])


@pytest.mark.parametrize("fn", [*LOSSES, cross_entropy_grad])
@given(
    shape=small_shapes.filter(lambda s: len(s) == 2), dtype=st.sampled_from([torch.int64, torch.bool, torch.complex64])
)
def test_losses_reject_non_float_input(fn, shape, dtype):
    rejects("input", fn, torch.zeros(shape, dtype=dtype), _ok(shape)[1])


@pytest.mark.parametrize("fn", [*LOSSES, cross_entropy_grad])
@given(shape=small_shapes.filter(lambda s: len(s) == 2))
def test_losses_reject_scalar_input_and_zero_classes(fn, shape):
    rejects("input", fn, torch.tensor(0.5, dtype=F64), torch.tensor(0))
    empty = (shape[0], 0)
    rejects("input", fn, torch.zeros(empty, dtype=F64), torch.full((shape[0],), -100))


@pytest.mark.parametrize("fn", [*LOSSES, cross_entropy_grad])
@given(
    shape=small_shapes, seed=seeds, bad=st.integers(-(10**6), -1) | st.integers(0, 10**6), index=st.integers(0, 10**6)
)
def test_losses_reject_out_of_range_class_indices(fn, shape, seed, bad, index):
    if fn is cross_entropy_grad:
        shape = (shape[0], shape[-1]) if len(shape) > 1 else (1, shape[0])
    x, y = _ok(shape)
    C = shape[_cdim(shape)]
    if 0 <= bad < C or (bad == -100 and fn is not cross_entropy_grad):
        bad = C + bad
    if y.dim() == 0:
        y = torch.tensor(bad)
    else:
        y.view(-1)[index % y.numel()] = bad
    rejects("target", fn, x, y)


@pytest.mark.parametrize("fn", [*LOSSES, cross_entropy_grad])
@given(shape=small_shapes, other=st.lists(st.integers(1, 5), max_size=4).map(tuple))
def test_losses_reject_mismatched_target_shape(fn, shape, other):
    if fn is cross_entropy_grad:
        shape = (shape[0], shape[-1]) if len(shape) > 1 else (1, shape[0])
    if other == _tshape(shape):
        other = (*other, 2)
    rejects("target", fn, torch.zeros(shape, dtype=F64), torch.zeros(other, dtype=torch.long))


@pytest.mark.parametrize("fn", [*LOSSES, cross_entropy_grad])
@given(shape=small_shapes.filter(lambda s: len(s) > 1), dtype=st.sampled_from([torch.bool, torch.complex64]))
def test_losses_reject_non_integer_index_targets(fn, shape, dtype):
    shape = shape[:2]
    rejects("target", fn, torch.zeros(shape, dtype=F64), torch.zeros(shape[:1], dtype=dtype))


@given(shape=small_shapes.filter(lambda s: len(s) > 1))
def test_nll_and_grad_reject_float_targets(shape):
    shape = shape[:2]
    for fn in (nll_loss, cross_entropy_grad):
        rejects("target", fn, torch.zeros(shape, dtype=F64), torch.zeros(shape[:1], dtype=F64))


@pytest.mark.parametrize("fn", LOSSES)
@given(shape=small_shapes, data=st.data())
def test_losses_reject_bad_weight(fn, shape, data):
    x, y = _ok(shape)
    C = shape[_cdim(shape)]
    bad = data.draw(
        st.integers(1, 7).filter(lambda n: n != C).map(lambda n: torch.ones(n, dtype=F64))
        | st.just(torch.ones(C, 1, dtype=F64))
        | st.just(torch.ones(C, dtype=torch.long))
        | st.just([1.0] * C)
    )
    rejects("weight", fn, x, y, bad)


@pytest.mark.parametrize("fn", LOSSES)
@given(bad=bad_reductions)
def test_losses_reject_bad_reduction(fn, bad):
    rejects("reduction", fn, *_ok((3, 4)), reduction=bad)


@pytest.mark.parametrize("fn", LOSSES)
@given(bad=not_ints)
def test_losses_reject_non_int_ignore_index(fn, bad):
    rejects("ignore_index", fn, *_ok((3, 4)), ignore_index=bad)


@given(bad=bad_smoothing)
def test_cross_entropy_rejects_bad_label_smoothing(bad):
    rejects("label_smoothing", cross_entropy, *_ok((3, 4)), label_smoothing=bad)


@given(shape=small_shapes, seed=seeds, index=st.integers(0, 10**6), data=st.data())
def test_cross_entropy_rejects_invalid_probability_targets(shape, seed, index, data):
    cdim = _cdim(shape)
    q = torch.randn(shape, generator=gen(seed), dtype=F64).softmax(cdim)
    kind = data.draw(st.sampled_from(["out_of_range", "nan", "not_normalized"]))
    if kind == "not_normalized":
        q = q * data.draw(st.floats(0, 0.9) | st.floats(1.1, 10))
    else:
        bad = math.nan if kind == "nan" else data.draw(st.floats(max_value=-1e-6) | st.floats(min_value=1 + 1e-6))
        q.view(-1)[index % q.numel()] = bad
    rejects("target", cross_entropy, torch.zeros(shape, dtype=F64), q)


@given(shape=small_shapes.filter(lambda s: len(s) > 1), seed=seeds)
def test_cross_entropy_rejects_probability_targets_of_wrong_shape(shape, seed):
    q = torch.randn((*shape[:1], shape[1] + 1, *shape[2:]), generator=gen(seed), dtype=F64).softmax(1)
    rejects("target", cross_entropy, torch.zeros(shape, dtype=F64), q)


@given(bad=st.integers(max_value=1) | not_ints)
def test_smooth_one_hot_rejects_bad_num_classes(bad):
    rejects("num_classes", smooth_one_hot, torch.tensor([0, 1]), bad)


@given(bad=bad_smoothing)
def test_smooth_one_hot_rejects_bad_label_smoothing(bad):
    rejects("label_smoothing", smooth_one_hot, torch.tensor([0, 1]), 3, bad)


@given(shape=st.lists(st.integers(1, 4), max_size=3).map(tuple), C=st.integers(2, 6), data=st.data())
def test_smooth_one_hot_rejects_bad_targets(shape, C, data):
    kind = data.draw(st.sampled_from(["dtype", "range", "object"]))
    if kind == "dtype":
        y = torch.zeros(shape, dtype=data.draw(non_int_dtypes))
    elif kind == "range":
        y = torch.zeros(shape, dtype=torch.long)
        y.view(-1)[data.draw(st.integers(0, 10**6)) % y.numel()] = data.draw(
            st.integers(-(2**63), -1) | st.integers(C, 2**63 - 1)  # out of range, but an int64
        )
    else:
        y = data.draw(not_tensors)
    rejects("target", smooth_one_hot, y, C)
