"""Small synthetic 2-d classification sets for demos: moons and spirals.

Both return a TensorDataset of float32 points (n, 2) and int64 labels, the same
for the same seed.

>>> ds = moons(100, noise=0.1, seed=0)
>>> len(ds), ds.tensors[0].dtype, sorted(set(ds.tensors[1].tolist()))
(100, chainrule.float32, [0, 1])
"""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from ..utils.data import TensorDataset

__all__ = ["moons", "spirals"]


def _check(n: int, noise: float, what: str) -> None:
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ValueError(f"{what}: n should be a positive integer, got {n!r}")
    if not noise >= 0:
        raise ValueError(f"{what}: noise should be non-negative, got {noise!r}")


def _dataset(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> TensorDataset:
    order = rng.permutation(len(y))  # mixed classes, so a plain loader sees both early
    return TensorDataset(Tensor._make(x[order].astype(np.float32)),
                         Tensor._make(y[order].astype(np.int64)))


def moons(n: int = 200, noise: float = 0.1, seed: int = 0) -> TensorDataset:
    """Two interleaving half circles (as scikit-learn's ``make_moons``), ``n`` points in all."""
    _check(n, noise, "moons")
    rng = np.random.Generator(np.random.PCG64(seed))
    n_out = n // 2
    n_in = n - n_out
    t_out = np.linspace(0, np.pi, n_out)
    t_in = np.linspace(0, np.pi, n_in)
    x = np.concatenate([np.stack([np.cos(t_out), np.sin(t_out)], 1),
                        np.stack([1 - np.cos(t_in), 0.5 - np.sin(t_in)], 1)])
    x = x + rng.normal(scale=noise, size=x.shape)
    y = np.concatenate([np.zeros(n_out), np.ones(n_in)])
    return _dataset(x, y, rng)


def spirals(n: int = 300, classes: int = 3, noise: float = 0.2, seed: int = 0) -> TensorDataset:
    """``classes`` interleaved spiral arms in the unit disc, ``n`` points in all.

    >>> ds = spirals(90, classes=3, seed=1)
    >>> [int((ds.tensors[1] == c).sum()) for c in range(3)]
    [30, 30, 30]
    """
    _check(n, noise, "spirals")
    if not isinstance(classes, (int, np.integer)) or classes < 1:
        raise ValueError(f"spirals: classes should be a positive integer, got {classes!r}")
    rng = np.random.Generator(np.random.PCG64(seed))
    xs, ys = [], []
    for c in range(classes):
        m = n // classes + (1 if c < n % classes else 0)
        r = np.linspace(0.0, 1.0, m)
        t = np.linspace(c * 4.0, (c + 1) * 4.0, m) + rng.normal(scale=noise, size=m)
        xs.append(np.stack([r * np.sin(t), r * np.cos(t)], 1))
        ys.append(np.full(m, c))
    return _dataset(np.concatenate(xs), np.concatenate(ys), rng)
