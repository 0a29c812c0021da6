"""Small synthetic data sets as NumPy arrays (float32 inputs, int64 or float32 targets).

Every function takes its own seed, so a case sees the same data under both libraries.

>>> x, y = blobs(seed=0, n=8, d=3, classes=2)
>>> x.shape, x.dtype.name, y.dtype.name
((8, 3), 'float32', 'int64')
"""
from __future__ import annotations

import numpy as np


def blobs(seed: int, n: int = 512, d: int = 16, classes: int = 4,
          spread: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian clusters, one per class, centres on a sphere of radius 2 (inputs of order 1)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((classes, d))
    centres *= 2.0 / np.linalg.norm(centres, axis=1, keepdims=True)
    y = rng.integers(0, classes, n)
    x = centres[y] + spread * rng.standard_normal((n, d)) / np.sqrt(d) * 2.0
    return x.astype(np.float32), y.astype(np.int64)


def rings(seed: int, n: int = 512, d: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Two classes told apart by the radius only: a linear model cannot do better than chance."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    r = np.linalg.norm(x, axis=1)
    y = (r > np.median(r)).astype(np.int64)
    return x.astype(np.float32), y


def regression(seed: int, n: int = 256, d: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """A smooth nonlinear target of shape (n, 1)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    y = np.sin(x[:, :1]) + 0.5 * x[:, 1:2] * x[:, 2:3] + 0.3 * x[:, 3:4]
    return x.astype(np.float32), y.astype(np.float32)


def digits(n: int = 512, image: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` of scikit-learn's 8x8 digits, pixels in [0, 1]: (n, 64) or (n, 1, 8, 8)."""
    from sklearn.datasets import load_digits
    d = load_digits()
    x = (d.data[:n] / 16.0).astype(np.float32)
    return (x.reshape(-1, 1, 8, 8) if image else x), d.target[:n].astype(np.int64)


def sequences(seed: int, n: int = 256, length: int = 20, d: int = 4,
              cue_at: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(n, length, d) noise; the binary label is the sign of feature 0 at time ``cue_at``
    (or of its sum over time when ``cue_at`` is None)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, length, d))
    signal = x[:, :, 0].sum(1) if cue_at is None else x[:, cue_at, 0]
    return x.astype(np.float32), (signal > 0).astype(np.int64)


def counting_tokens(seed: int, n: int = 128, length: int = 12,
                    vocab: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Token sequences that count up by a per-sequence step (mod vocab): inputs and next tokens."""
    rng = np.random.default_rng(seed)
    start = rng.integers(0, vocab, (n, 1))
    step = rng.integers(1, 3, (n, 1))
    seq = (start + step * np.arange(length + 1)) % vocab
    return seq[:, :-1].astype(np.int64), seq[:, 1:].astype(np.int64)


def padded_bags(seed: int, n: int = 256, vocab: int = 20, max_len: int = 24,
                pad: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Variable-length token bags, right-padded with ``pad``: most positions are padding.
    The label is whether the bag holds more tokens from the upper half of the vocabulary."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(2, 7, n)
    tokens = np.full((n, max_len), pad, dtype=np.int64)
    y = np.zeros(n, dtype=np.int64)
    for i, k in enumerate(lengths):
        words = rng.integers(1, vocab, k)
        tokens[i, :k] = words
        y[i] = int((words > vocab // 2).sum() * 2 > k)
    return tokens, y
