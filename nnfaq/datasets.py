"""Real data that ships with scikit-learn, as torch tensors, without touching the network.

Shared by the topic modules and the gallery: the 8x8 handwritten digits (1,797 images, 10 classes) with a
reproducible train/validation split, and the two sample photographs. Both are files inside the installed
scikit-learn package (install ``nnfaq[data]``), so nothing is downloaded. The files are read where
scikit-learn keeps them (``sklearn/datasets/data/digits.csv.gz``, ``sklearn/datasets/images/*.jpg``) as
its own loaders read them, without importing scikit-learn (about 2 s, more than the rest of an example);
if a file is not there, scikit-learn's loader is used. The tests check both against scikit-learn's.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import torch

from nnfaq import _validate as check

__all__ = ["load_digits", "load_sample_images"]


class Digits(NamedTuple):
    """A train/validation split of the digits: images ``(B, 1, 8, 8)`` in [0, 1], labels ``(B,)`` int64."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor


_NEEDS_SKLEARN = "nnfaq.datasets needs scikit-learn: pip install 'nnfaq[data]'"


def _sklearn_datasets():
    try:
        import sklearn.datasets
    except ImportError as error:  # pragma: no cover - the test and docs environments have it
        raise ImportError(_NEEDS_SKLEARN) from error
    return sklearn.datasets


def _sklearn_file(*parts: str):
    """The path of a file inside the installed ``sklearn.datasets``, found without importing it; or None."""
    import importlib.util
    import os

    spec = importlib.util.find_spec("sklearn")
    if spec is None:
        raise ImportError(_NEEDS_SKLEARN)
    for folder in spec.submodule_search_locations or ():
        path = os.path.join(folder, "datasets", *parts)
        if os.path.exists(path):
            return path
    return None


@functools.cache
def _digits() -> tuple[torch.Tensor, torch.Tensor]:
    """The 1,797 digits as ``(images (B, 8, 8) float64 in 0..16, labels (B,) int64)``, as sklearn loads them.

    Read once per process; callers must not change the tensors in place."""
    path = _sklearn_file("data", "digits.csv.gz")
    if path is None:  # pragma: no cover - a scikit-learn that keeps its data elsewhere
        bunch = _sklearn_datasets().load_digits()
        return torch.as_tensor(bunch.images, dtype=torch.float64), torch.as_tensor(bunch.target, dtype=torch.int64)
    import gzip

    with gzip.open(path, "rt", encoding="ascii") as f:  # 64 pixels then the label, per line
        lines = [line for line in f.read().splitlines() if line.strip()]
    values = torch.tensor([float(v) for v in ",".join(lines).split(",")], dtype=torch.float64)
    rows = values.reshape(len(lines), 65)
    return rows[:, :-1].reshape(-1, 8, 8), rows[:, -1].to(torch.int64)


def load_digits(classes=None, val_fraction: float = 0.25, seed: int = 0, dtype: torch.dtype = torch.float32) -> Digits:
    r"""scikit-learn's bundled 8x8 digits as float tensors, split into train and validation sets.

    Pixel values (0 to 16 in the file) are divided by 16, so images lie in [0, 1]. The split is a random
    permutation drawn from its own generator seeded with ``seed`` (the global torch seed is untouched), so
    it is the same on every machine. With ``classes``, only those digits are kept and relabelled
    ``0 .. len(classes) - 1`` in the order given.

    Parameters
    ----------
    classes : sequence of int, optional
        The digits to keep (distinct values in 0..9); all ten if None.
    val_fraction : float, default 0.25
        Fraction of the images held out for validation, in (0, 1).
    seed : int, default 0
        Seed of the split.
    dtype : torch.dtype, default torch.float32
        Floating-point dtype of the images.

    Returns
    -------
    Digits
        Named tuple ``(x_train, y_train, x_val, y_val)``: images ``(B, 1, 8, 8)`` of ``dtype`` and labels
        ``(B,)`` of int64.

    See Also
    --------
    sklearn.datasets.load_digits

    Examples
    --------
    >>> from nnfaq.datasets import load_digits
    >>> data = load_digits()
    >>> data.x_train.shape, data.x_val.shape
    (torch.Size([1348, 1, 8, 8]), torch.Size([449, 1, 8, 8]))
    >>> float(data.x_train.min()), float(data.x_train.max()), data.y_train.dtype
    (0.0, 1.0, torch.int64)
    >>> torch.equal(load_digits().x_val, data.x_val)  # the split is reproducible
    True

    Keep a subset of the classes, relabelled from 0:

    >>> high = load_digits(classes=[5, 6, 7, 8, 9])
    >>> sorted(high.y_train.unique().tolist())
    [0, 1, 2, 3, 4]
    """
    if classes is not None:
        try:
            classes = [check.integer("classes[i]", c, low=0) for c in classes]
        except TypeError as error:
            raise TypeError(f"classes must be a sequence of ints in 0..9 or None, got {classes!r}") from error
        if not classes or max(classes) > 9 or len(set(classes)) != len(classes):
            raise ValueError(f"classes must be distinct digits in 0..9, got {classes!r}")
    val_fraction = check.number("val_fraction", val_fraction, low=0.0, high=1.0, low_open=True, high_open=True)
    seed = check.integer("seed", seed)
    if not -(2**63) <= seed < 2**64:  # what torch.Generator.manual_seed accepts
        raise ValueError(f"seed must be in [-2**63, 2**64), got {seed}")
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating-point torch.dtype, got {dtype!r}")
    images, y = _digits()  # (B, 8, 8) in 0..16, (B,); shared, so not changed in place
    x = images.to(dtype).div(16.0).unsqueeze(1)  # (B, 1, 8, 8)
    if classes is not None:
        keep = torch.isin(y, torch.tensor(classes))
        relabel = torch.full((10,), -1, dtype=torch.int64)
        relabel[torch.tensor(classes)] = torch.arange(len(classes))
        x, y = x[keep], relabel[y[keep]]
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    # at least one image in each part, whatever the fraction
    n_val = min(len(y) - 1, max(1, round(val_fraction * len(y))))
    val, train = order[:n_val], order[n_val:]
    return Digits(x[train], y[train], x[val], y[val])


def load_sample_images(dtype: torch.dtype = torch.float32) -> torch.Tensor:
    r"""scikit-learn's two bundled sample photographs as one ``(2, 3, 427, 640)`` RGB tensor in [0, 1].

    The photographs (a Chinese temple and a flower) are JPEG files inside scikit-learn; reading them needs
    Pillow, which matplotlib already depends on. Pixel values (0 to 255) are divided by 255.

    Parameters
    ----------
    dtype : torch.dtype, default torch.float32
        Floating-point dtype of the result.

    Returns
    -------
    torch.Tensor
        ``(2, 3, 427, 640)``: batch, RGB channels, height, width.

    See Also
    --------
    sklearn.datasets.load_sample_images

    Examples
    --------
    >>> from nnfaq.datasets import load_sample_images
    >>> photos = load_sample_images()
    >>> photos.shape, photos.dtype
    (torch.Size([2, 3, 427, 640]), torch.float32)
    >>> bool(photos.min() >= 0) and bool(photos.max() <= 1)
    True
    """
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating-point torch.dtype, got {dtype!r}")
    folder = _sklearn_file("images")
    if folder is None:  # pragma: no cover - a scikit-learn that keeps its images elsewhere
        images = _sklearn_datasets().load_sample_images().images  # two (H, W, 3) uint8 arrays
    else:  # what sklearn's loader does: every .jpg of the folder, by name, read by Pillow
        import os

        import numpy as np
        from PIL import Image

        names = sorted(n for n in os.listdir(folder) if n.endswith(".jpg"))
        images = []
        for name in names:
            with Image.open(os.path.join(folder, name)) as image:
                images.append(np.asarray(image))
    x = torch.stack([torch.tensor(im) for im in images])  # (B, H, W, 3); copies, the arrays are read-only
    return x.permute(0, 3, 1, 2).to(dtype).div_(255.0).contiguous()  # (B, 3, H, W)
