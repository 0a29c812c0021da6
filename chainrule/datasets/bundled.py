"""Data sets that ship with the installed packages (no download): scikit-learn's digits."""
from __future__ import annotations

import functools
import importlib.util
import math
import os

import numpy as np

from ..tensor import Tensor
from ..utils.data import TensorDataset

__all__ = ["digits"]


@functools.lru_cache(maxsize=1)
def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """(pixels (1797, 64), labels) from scikit-learn's bundled CSV.

    Read directly: importing ``sklearn.datasets`` takes seconds, the file a tenth of one.
    Falls back to ``load_digits`` if the file is not where scikit-learn keeps it.
    """
    spec = importlib.util.find_spec("sklearn")
    if spec is None:
        raise ImportError("digits: scikit-learn is needed for the bundled digits "
                          "(pip install scikit-learn)")
    path = os.path.join(spec.submodule_search_locations[0], "datasets", "data", "digits.csv.gz")
    if os.path.isfile(path):
        table = np.loadtxt(path, delimiter=",")
        if table.shape == (1797, 65):
            return table[:, :64].copy(), table[:, 64].astype(np.int64)
    from sklearn.datasets import load_digits
    bunch = load_digits()
    return bunch.data.astype(np.float64), bunch.target.astype(np.int64)


def digits(split: str = "train", test_size: float = 0.2, seed: int = 0) -> TensorDataset:
    """The 1,797 8×8 handwritten digits of scikit-learn, offline.

    Images are float32 of shape (N, 1, 8, 8) scaled to [0, 1]; labels are int64.
    ``split`` is "train", "test" or "all"; the train/test split is a permutation
    seeded by ``seed`` with ``ceil(test_size * 1797)`` test images (scikit-learn's
    rounding), so the two
    parts never overlap and are the same on every machine.

    >>> train, test = digits("train"), digits("test")
    >>> len(train) + len(test), tuple(train.tensors[0].shape[1:]), train.tensors[1].dtype
    (1797, (1, 8, 8), chainrule.int64)
    """
    if split not in ("train", "test", "all"):
        raise ValueError(f"digits: split should be 'train', 'test' or 'all', got {split!r}")
    if not 0 < test_size < 1:
        raise ValueError(f"digits: test_size should be between 0 and 1 (exclusive), got "
                         f"{test_size!r}")
    pixels, labels = _digits_arrays()
    labels = labels.copy()  # the cached arrays must not be shared with callers
    images = (pixels.reshape(-1, 1, 8, 8) / 16.0).astype(np.float32)  # pixel values are 0..16
    if split != "all":
        order = np.random.Generator(np.random.PCG64(seed)).permutation(len(labels))
        n_test = math.ceil(test_size * len(labels))
        keep = order[:n_test] if split == "test" else order[n_test:]
        images, labels = images[keep], labels[keep]
    return TensorDataset(Tensor._make(np.ascontiguousarray(images)), Tensor._make(labels))
