"""nnfaq.foundations.tensors against PyTorch's own layout rules: is_contiguous and view over random views."""

import math

import pytest
import torch
from helpers import rejects
from hypothesis import given
from hypothesis import strategies as st

from nnfaq.foundations.tensors import is_contiguous, view_strides


@st.composite
def strided_views(draw):
    """A random tensor view: permuted, sliced with steps, unsqueezed or expanded."""
    shape = draw(st.lists(st.integers(1, 4), min_size=1, max_size=4))
    t = torch.arange(math.prod(shape), dtype=torch.float32).reshape(shape)
    for _ in range(draw(st.integers(0, 3))):
        op = draw(st.sampled_from(["permute", "slice", "unsqueeze", "expand", "transpose"]))
        if op == "permute":
            t = t.permute(*draw(st.permutations(range(t.dim()))))
        elif op == "transpose" and t.dim() >= 2:
            t = t.transpose(0, t.dim() - 1)
        elif op == "slice":
            d = draw(st.integers(0, t.dim() - 1))
            start = draw(st.integers(0, t.shape[d] - 1))
            step = draw(st.integers(1, 2))
            t = t.narrow(d, 0, t.shape[d])[(slice(None),) * d + (slice(start, None, step),)]
        elif op == "unsqueeze":
            t = t.unsqueeze(draw(st.integers(0, t.dim())))
        elif op == "expand":
            ones = [d for d in range(t.dim()) if t.shape[d] == 1]
            if ones:
                size = list(t.shape)
                size[draw(st.sampled_from(ones))] = draw(st.integers(2, 3))
                t = t.expand(size)
    return t


@st.composite
def view_and_shape(draw):
    t = draw(strided_views())
    n = t.numel()
    # a random factorization of n into 1-4 sizes (with size-1 dimensions sprinkled in)
    sizes, rest = [], n
    for _ in range(draw(st.integers(0, 3))):
        divisors = [d for d in range(1, rest + 1) if rest % d == 0]
        d = draw(st.sampled_from(divisors))
        sizes.append(d)
        rest //= d
    sizes.append(rest)
    return t, tuple(draw(st.permutations(sizes)))


@given(strided_views())
def test_is_contiguous_matches_torch(t):
    assert is_contiguous(t.shape, t.stride()) == t.is_contiguous()


@given(view_and_shape())
def test_view_strides_match_torch(args):
    t, shape = args
    ours = view_strides(t, shape)
    try:
        ref = t.view(shape).stride()
    except RuntimeError:
        ref = None
    assert ours == ref
    # reshape copies exactly when view fails
    assert (t.reshape(shape).data_ptr() == t.data_ptr()) == (ref is not None)


@pytest.mark.parametrize("shape", [(-1,), (2, -1), (-1, 3, 1)])
def test_minus_one_is_inferred(shape):
    t = torch.zeros(6, 1)
    assert view_strides(t, shape) == t.view(shape).stride()


def test_views_share_memory_and_contiguous_copies_only_when_needed():
    t = torch.arange(6.0).reshape(2, 3)
    assert t.contiguous() is t
    u = t.T
    assert u.data_ptr() == t.data_ptr()
    c = u.contiguous()
    assert c.data_ptr() != t.data_ptr() and is_contiguous(c.shape, c.stride())
    assert view_strides(u, (6,)) is None and view_strides(c, (6,)) == (1,)


def test_the_seed_notes_example():
    with pytest.warns(UserWarning, match="deprecated"):
        a = torch.range(3, 4)
    assert a.tolist() == [3.0, 4.0]
    with pytest.raises(RuntimeError, match=r"shape '\[2, 6\]' is invalid for input of size 2"):
        a.view(2, 6)
    rejects("shape", view_strides, a, (2, 6))


def test_size_one_dimensions_have_any_stride():
    assert is_contiguous((3, 1, 4), (4, 100, 1))
    assert not is_contiguous((3, 4), (1, 3))
    assert is_contiguous((0, 5), (7, 3))


@pytest.mark.parametrize(
    ("fn", "name"),
    [
        (lambda: is_contiguous((2, 3), (3,)), "stride"),
        (lambda: is_contiguous("23", (3, 1)), "shape"),
        (lambda: is_contiguous((2, -1), (1, 1)), "shape"),
        (lambda: view_strides(torch.zeros(6), (4, -1)), "shape"),
        (lambda: view_strides(torch.zeros(6), (-1, -1)), "shape"),
        (lambda: view_strides(torch.zeros(6), (2.0, 3)), "shape"),
        (lambda: view_strides([1, 2], (2,)), "input"),
    ],
)
def test_rejects_bad_arguments(fn, name):
    rejects(name, fn)
