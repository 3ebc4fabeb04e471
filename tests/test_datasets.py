"""nnfaq.datasets: scikit-learn's bundled data as tensors, with the network switched off."""

import socket
import sys

import numpy as np
import pytest
import torch

from nnfaq.datasets import load_digits, load_sample_images


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection or resolve a name raises."""

    def refuse(*args, **kwargs):
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def test_network_is_really_disabled_by_the_fixture(no_network):
    with pytest.raises(OSError, match="network disabled"):
        socket.create_connection(("example.com", 80), timeout=1)


def test_digits_load_offline_and_match_sklearn(no_network):
    import sklearn.datasets  # here, not at collection: about 2 s that only these tests need

    ours = load_digits(val_fraction=0.2, dtype=torch.float64)
    ref = sklearn.datasets.load_digits()
    x = torch.cat([ours.x_train, ours.x_val])
    y = torch.cat([ours.y_train, ours.y_val])
    assert x.shape == (1797, 1, 8, 8) and len(ours.x_val) == round(0.2 * 1797)
    assert x.dtype == torch.float64 and y.dtype == torch.int64
    # the split is a permutation of the whole data set: same multiset of (image, label) rows
    flat = torch.cat([x.flatten(1) * 16, y[:, None].double()], dim=1).numpy()
    expected = np.concatenate([ref.data, ref.target[:, None]], axis=1)
    np.testing.assert_array_equal(flat[np.lexsort(flat.T)], expected[np.lexsort(expected.T)])


def test_digits_split_is_reproducible_and_depends_on_the_seed(no_network):
    a, b, c = load_digits(seed=3), load_digits(seed=3), load_digits(seed=4)
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    assert not torch.equal(a.y_val, c.y_val)
    # the global torch generator is not consumed by the split
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    load_digits()
    assert torch.equal(torch.rand(3), expected)


def test_digits_classes_are_kept_and_relabelled_in_the_given_order(no_network):
    import sklearn.datasets

    ref = sklearn.datasets.load_digits()
    data = load_digits(classes=[7, 2])
    y = torch.cat([data.y_train, data.y_val])
    assert sorted(y.unique().tolist()) == [0, 1]
    assert int((y == 0).sum()) == int((ref.target == 7).sum())
    assert int((y == 1).sum()) == int((ref.target == 2).sum())


def test_sample_images_load_offline_and_match_sklearn(no_network):
    import sklearn.datasets

    photos = load_sample_images(dtype=torch.float64)
    ref = sklearn.datasets.load_sample_images().images
    assert photos.shape == (2, 3, 427, 640)
    for ours, image in zip(photos, ref):
        np.testing.assert_allclose(ours.permute(1, 2, 0).numpy() * 255, image, atol=1e-9)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"val_fraction": 0.0}, ValueError, r"val_fraction must be in \(0, 1\)"),
        ({"val_fraction": 1.0}, ValueError, "val_fraction must be in"),
        ({"seed": 1.5}, TypeError, "seed must be an int"),
        ({"classes": [1, 1]}, ValueError, "classes must be distinct digits"),
        ({"classes": [3, 10]}, ValueError, "classes must be distinct digits"),
        ({"classes": []}, ValueError, "classes must be distinct digits"),
        ({"classes": ["a"]}, TypeError, "classes must be a sequence of ints"),
        ({"classes": [-1]}, ValueError, r"classes\[i\] must be >= 0"),
        ({"dtype": torch.int64}, TypeError, "dtype must be a floating-point torch.dtype"),
    ],
)
def test_load_digits_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        load_digits(**kwargs)


def test_load_sample_images_rejects_bad_dtype():
    with pytest.raises(TypeError, match="dtype must be a floating-point torch.dtype"):
        load_sample_images(dtype="float32")


def test_loading_reads_sklearn_files_without_importing_sklearn(monkeypatch):
    # scikit-learn's own import costs about 2 s: the loaders read its files and never import it
    for name in [m for m in sys.modules if m == "sklearn" or m.startswith("sklearn.")]:
        monkeypatch.delitem(sys.modules, name)  # put back when the test ends
    data, photos = load_digits(), load_sample_images()
    assert not [m for m in sys.modules if m.split(".")[0] == "sklearn"]
    monkeypatch.undo()
    # where the files are not found, scikit-learn's loaders give the same tensors
    import nnfaq.datasets

    monkeypatch.setattr(nnfaq.datasets, "_sklearn_file", lambda *parts: None)
    nnfaq.datasets._digits.cache_clear()  # the digits are read once per process
    try:
        assert all(torch.equal(a, b) for a, b in zip(load_digits(), data))
        assert torch.equal(load_sample_images(), photos)
    finally:
        nnfaq.datasets._digits.cache_clear()
