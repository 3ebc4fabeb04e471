"""Property-based tests for nnfaq.datasets: for random class subsets, split fractions, seeds and dtypes the digits
split is a reproducible partition of scikit-learn's data, relabelled in the given order, with both parts non-empty;
random invalid input raises ValueError/TypeError naming the argument (issue 10)."""

import functools
import math

import numpy as np
import torch
from helpers import not_a_number, not_an_int, rejects
from hypothesis import example, given, settings
from hypothesis import strategies as st

from nnfaq.datasets import load_digits, load_sample_images

float_dtypes = st.sampled_from([torch.float16, torch.bfloat16, torch.float32, torch.float64])
not_a_float_dtype = st.one_of(
    st.none(),
    st.text(max_size=8),
    st.sampled_from([float, np.float32, torch.int64, torch.uint8, torch.bool, torch.complex64, torch.Tensor]),
)


@functools.cache
def sklearn_digits():
    import sklearn.datasets  # here, not at collection: about 2 s that only these tests need

    bunch = sklearn.datasets.load_digits()
    return bunch.data, bunch.target


# --- load_digits -----------------------------------------------------------------------------------


@settings(max_examples=30)
@given(
    classes=st.one_of(st.none(), st.lists(st.integers(0, 9), min_size=1, max_size=10, unique=True)),
    container=st.sampled_from([list, tuple, np.array]),
    val_fraction=st.one_of(st.floats(1e-9, 1 - 1e-9), st.sampled_from([1e-12, 0.5, 1 - 1e-12])),
    seed=st.one_of(st.integers(0, 2**64 - 1), st.integers(-(2**63), -1)),
    dtype=float_dtypes,
)
@example(classes=[4], container=list, val_fraction=1 - 1e-12, seed=0, dtype=torch.float32)  # one class, ~all val
def test_digits_split_is_a_relabelled_partition_of_the_sklearn_data(classes, container, val_fraction, seed, dtype):
    data, target = sklearn_digits()
    digits = list(range(10)) if classes is None else classes
    rng = torch.get_rng_state()
    ours = load_digits(
        None if classes is None else container(classes), val_fraction=val_fraction, seed=seed, dtype=dtype
    )
    assert torch.equal(torch.get_rng_state(), rng)  # the global generator is not consumed
    n = int(np.isin(target, digits).sum())
    n_val = min(n - 1, max(1, round(val_fraction * n)))  # both parts keep at least one image
    assert ours.x_train.shape == (n - n_val, 1, 8, 8) and ours.x_val.shape == (n_val, 1, 8, 8)
    assert ours.y_train.shape == (n - n_val,) and ours.y_val.shape == (n_val,)
    assert ours.x_train.dtype == ours.x_val.dtype == dtype and ours.y_train.dtype == ours.y_val.dtype == torch.int64
    x, y = torch.cat([ours.x_train, ours.x_val]), torch.cat([ours.y_train, ours.y_val])
    assert bool((x >= 0).all() and (x <= 1).all())
    assert bool(((y >= 0) & (y < len(digits))).all())
    # the same (image, digit) rows as scikit-learn's, digit = classes[label]; pixels are exact (0..16)/16 in
    # any float dtype
    ours_rows = np.concatenate([x.flatten(1).double().numpy() * 16, np.array(digits)[y.numpy()][:, None]], axis=1)
    keep = np.isin(target, digits)
    ref_rows = np.concatenate([data[keep], target[keep][:, None]], axis=1)
    np.testing.assert_array_equal(ours_rows[np.lexsort(ours_rows.T)], ref_rows[np.lexsort(ref_rows.T)])
    again = load_digits(None if classes is None else list(classes), val_fraction=val_fraction, seed=seed, dtype=dtype)
    assert all(torch.equal(a, b) for a, b in zip(ours, again))  # reproducible


@given(
    case=st.one_of(
        st.tuples(st.just("classes"), st.one_of(st.integers(), st.floats(), st.just(""))),
        st.tuples(st.just("classes"), st.lists(st.one_of(not_an_int, st.text(min_size=1, max_size=2)), min_size=1)),
        st.tuples(st.just("classes"), st.lists(st.integers(10, 99), min_size=1, max_size=3)),
        st.tuples(st.just("classes"), st.lists(st.integers(-99, -1), min_size=1, max_size=3)),
        st.tuples(st.just("classes"), st.integers(0, 9).map(lambda c: [c, 3, c] if c != 3 else [3, 3])),
        st.tuples(st.just("classes"), st.sampled_from([[], ()])),
        st.tuples(
            st.just("val_fraction"),
            st.one_of(not_a_number, st.floats(max_value=0.0), st.floats(min_value=1.0), st.just(math.nan)),
        ),
        st.tuples(
            st.just("seed"), st.one_of(not_an_int, st.integers(min_value=2**64), st.integers(max_value=-(2**63) - 1))
        ),
        st.tuples(st.just("dtype"), not_a_float_dtype),
    )
)
@example(case=("seed", 2**64))  # beyond what torch.Generator.manual_seed takes
def test_load_digits_rejects_bad_arguments(case):
    name, bad = case
    rejects(name, load_digits, **{name: bad})


# --- load_sample_images ----------------------------------------------------------------------------


@settings(max_examples=3)  # each call decodes two JPEG photographs
@given(dtype=st.sampled_from([torch.float16, torch.float32, torch.float64]))
def test_sample_images_in_any_float_dtype(dtype):
    photos = load_sample_images(dtype=dtype)
    assert photos.shape == (2, 3, 427, 640) and photos.dtype == dtype and photos.is_contiguous()
    assert bool((photos >= 0).all() and (photos <= 1).all())
    import sklearn.datasets

    ref = torch.stack([torch.from_numpy(im.copy()) for im in sklearn.datasets.load_sample_images().images])
    assert torch.equal(photos, ref.permute(0, 3, 1, 2).to(dtype) / 255)


@given(dtype=not_a_float_dtype)
def test_load_sample_images_rejects_bad_dtype(dtype):
    rejects("dtype", load_sample_images, dtype=dtype)
