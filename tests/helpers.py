"""What several test files share: the parity check against PyTorch, the bad-argument check and hypothesis strategies.

Imported as ``from helpers import ...`` (``tests/conftest.py`` puts this folder on ``sys.path``).
"""

import math
import re

import pytest
import torch
from hypothesis import strategies as st
from torch.testing import assert_close

# --- hypothesis strategies -----------------------------------------------------------------------

seeds = st.integers(0, 2**31 - 1)
sizes = st.integers(1, 5)
small_shapes = st.lists(sizes, min_size=1, max_size=4).map(tuple)  # rank 1-4, every size 1-5
batch_shapes = st.lists(st.integers(1, 3), max_size=2).map(tuple)  # leading batch dimensions, () included

REDUCTIONS = ["mean", "sum", "none"]
bad_reductions = st.text(max_size=8).filter(lambda s: s not in REDUCTIONS) | st.none() | st.integers()

not_a_tensor = st.one_of(st.none(), st.integers(), st.floats(), st.text(max_size=3), st.lists(st.floats(), max_size=3))
not_a_bool = st.one_of(st.none(), st.integers(), st.floats(), st.text(max_size=3))
not_an_int = st.one_of(st.none(), st.booleans(), st.floats(), st.text(max_size=3))
not_a_number = st.one_of(st.none(), st.booleans(), st.text(max_size=3), st.lists(st.floats(), max_size=2))
non_finite = st.sampled_from([math.nan, math.inf, -math.inf])
int_dtypes = st.sampled_from([torch.int64, torch.int32, torch.bool, torch.uint8])
non_float_dtypes = st.sampled_from([torch.int64, torch.int32, torch.uint8, torch.bool, torch.complex128])


# --- PyTorch's own sample inputs ------------------------------------------------------------------


def opinfo_samples(name, limit=None):
    """PyTorch's own sample inputs for ``name`` (its OpInfo test database), float64; the first ``limit`` of them."""
    import itertools

    from torch.testing._internal.common_methods_invocations import (
        op_db,  # a slow import, about 2 s once torch's compiler is loaded, paid once per worker
    )

    (op,) = [o for o in op_db if o.name == name and not o.variant_test_name]
    # the generator that PyTorch's own tests iterate, called directly: ``op.sample_inputs`` wraps it to reseed
    # before every sample and to find the calling unittest method by walking the stack with its source lines,
    # seconds of a run under pytest for nothing used here (the test's own seed makes the draws reproducible)
    samples = op.sample_inputs_func(op, "cpu", torch.float64, True)
    return list(itertools.islice(samples, limit))


# --- checks --------------------------------------------------------------------------------------


def gen(seed):
    """A CPU generator seeded with ``seed`` (draws that do not touch the global seed)."""
    return torch.Generator().manual_seed(seed)


def leaves(*tensors):
    """A fresh leaf copy of each tensor, requiring grad."""
    return [t.clone().requires_grad_() for t in tensors]


def rejects(name, fn, *args, **kwargs):
    """``fn`` raises ValueError or TypeError (not an error from inside torch) whose message names ``name``."""
    with pytest.raises((ValueError, TypeError)) as excinfo:
        fn(*args, **kwargs)
    assert re.search(rf"(?<![\w\[]){re.escape(name)}(?![\w])", str(excinfo.value)), str(excinfo.value)


def parity(ours_fn, ref_fn, x, *args, seed=None, equal_nan=False, **kwargs):
    """``ours_fn(x, *args, **kwargs)`` and ``ref_fn`` agree in value and in the gradient with respect to ``x``.

    Both sides get the same random upstream gradient: drawn from ``seed + 1`` when a seed is given (property
    tests), else from the global generator. ``equal_nan`` lets NaN match NaN (a 0/0 both sides compute).
    """
    a, b = leaves(x, x)
    ours, ref = ours_fn(a, *args, **kwargs), ref_fn(b, *args, **kwargs)
    assert ours.shape == ref.shape
    assert_close(ours, ref, equal_nan=equal_nan)
    g = torch.randn_like(ref) if seed is None else torch.randn(ref.shape, generator=gen(seed + 1), dtype=ref.dtype)
    ours.backward(g)
    ref.backward(g)
    assert_close(a.grad, b.grad, equal_nan=equal_nan)


def agree(ours_fn, ref_fn, *args, seed=0, reseed=False, **kwargs):
    """``ours_fn`` and ``ref_fn`` on fresh leaf copies of the floating-point tensors in ``args`` (the other arguments
    as they are): the same output and the same gradient of every such tensor for one random upstream gradient
    (drawn from ``seed``). An output ``(values, indices)`` must have equal indices. ``reseed`` seeds torch with
    ``seed`` before each side runs, so that random operations (dropout) draw the same."""

    def run(fn):
        copies = [
            a.detach().clone().requires_grad_() if torch.is_tensor(a) and a.is_floating_point() else a for a in args
        ]
        if reseed:
            torch.manual_seed(seed)
        return fn(*copies, **kwargs), copies

    (ours, a), (ref, b) = run(ours_fn), run(ref_fn)
    if isinstance(ref, tuple):  # (values, indices)
        assert isinstance(ours, tuple) and len(ours) == 2 and torch.equal(ours[1], ref[1])
        ours, ref = ours[0], ref[0]
    assert ours.shape == ref.shape
    assert_close(ours, ref)
    g = torch.randn(ref.shape, generator=gen(seed), dtype=ref.dtype)
    ours.backward(g)
    ref.backward(g)
    for x, y in zip(a, b):
        if torch.is_tensor(x) and x.requires_grad:
            assert_close(x.grad, y.grad)


def conv_layers(kind, c_in, c_out, k, s, p, d, g, bias):
    """The ``torch.nn`` layers that each kind of ``conv_cost`` describes."""
    conv = torch.nn.Conv2d
    if kind in ("standard", "dilated", "grouped", "depthwise"):
        groups = {"grouped": g, "depthwise": c_in}.get(kind, 1)
        return [conv(c_in, c_out, k, s, p, d, groups=groups, bias=bias)]
    if kind == "pointwise":
        return [conv(c_in, c_out, 1, s, bias=bias)]
    if kind == "depthwise-separable":
        return [conv(c_in, c_in, k, s, p, d, groups=c_in, bias=bias), conv(c_in, c_out, 1, bias=bias)]
    if kind == "spatially-separable":
        return [
            conv(c_in, c_out, (k, 1), (s, 1), (p, 0), d, bias=bias),
            conv(c_out, c_out, (1, k), (1, s), (0, p), d, bias=bias),
        ]
    if kind == "transposed":
        return [torch.nn.ConvTranspose2d(c_in, c_out, k, s, p, dilation=d, bias=bias)]
    raise AssertionError(kind)
