"""Samplers: which indices a DataLoader visits, and how they are grouped into batches.

>>> import chainrule as cr
>>> list(BatchSampler(SequentialSampler(range(5)), batch_size=2, drop_last=False))
[[0, 1], [2, 3], [4]]
>>> g = cr.Generator().manual_seed(0)
>>> sorted(RandomSampler(range(4), generator=g))
[0, 1, 2, 3]
"""
from __future__ import annotations

from ...errors import op_error
from ._checks import length_of
from typing import Generic, Iterable, Iterator, Sequence, Sized, TypeVar

import numpy as np

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
           "WeightedRandomSampler", "BatchSampler"]

T_co = TypeVar("T_co", covariant=True)


# indices drawn with replacement come in chunks of this many (PyTorch draws 32 at a time):
# ``RandomSampler(ds, replacement=True, num_samples=10**10)`` must not allocate 10**10 of them
_CHUNK = 1024


class Sampler(Generic[T_co]):
    """Base class: subclasses define ``__iter__`` over indices (and ``__len__``)."""

    def __init__(self, data_source: Sized | None = None) -> None:
        pass

    def __iter__(self) -> Iterator[T_co]:
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")


def _numpy_rng(generator) -> np.random.Generator:
    """The NumPy generator to draw from: ``generator``'s own, or, as PyTorch does, a fresh
    one seeded from the global generator (so ``manual_seed`` makes shuffling repeatable)."""
    if generator is not None:
        return generator.numpy
    from ...random import default_generator
    seed = int(default_generator.numpy.integers(0, 2 ** 63 - 1))
    return np.random.Generator(np.random.PCG64(seed))


class SequentialSampler(Sampler[int]):
    """Indices ``0 .. len(data_source) - 1`` in order."""

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return length_of(self.data_source, "data_source", type(self).__name__)


class RandomSampler(Sampler[int]):
    """A random permutation of the indices (or ``num_samples`` draws with replacement)."""

    def __init__(self, data_source: Sized, replacement: bool = False,
                 num_samples: int | None = None, generator=None) -> None:
        if not isinstance(replacement, bool):
            raise op_error(TypeError, "RandomSampler",
                           f"replacement should be a boolean value, got "
                           f"{replacement!r}")
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        n = self.num_samples
        if not isinstance(n, int) or isinstance(n, bool) or n <= 0:
            raise op_error(ValueError, "RandomSampler",
                           f"num_samples should be a positive integer, got {n!r}")

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self) -> Iterator[int]:
        n = len(self.data_source)
        rng = _numpy_rng(self.generator)
        if self.replacement:  # drawn in chunks: memory does not grow with num_samples
            for start in range(0, self.num_samples, _CHUNK):
                yield from rng.integers(0, n, size=min(_CHUNK, self.num_samples - start)).tolist()
            return
        for _ in range(self.num_samples // n):
            yield from rng.permutation(n).tolist()
        yield from rng.permutation(n)[: self.num_samples % n].tolist()

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler[int]):
    """The given indices, in a random order."""

    def __init__(self, indices: Sequence[int], generator=None) -> None:
        self.indices = indices
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        for i in _numpy_rng(self.generator).permutation(len(self.indices)).tolist():
            yield self.indices[i]

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler[int]):
    """``num_samples`` indices drawn with probabilities proportional to ``weights``."""

    def __init__(self, weights: Sequence[float], num_samples: int, replacement: bool = True,
                 generator=None) -> None:
        if not isinstance(num_samples, int) or isinstance(num_samples, bool) or num_samples <= 0:
            raise op_error(ValueError, "WeightedRandomSampler",
                           f"num_samples should be a positive integer, "
                           f"got {num_samples!r}")
        w = np.asarray(weights, dtype=np.float64)
        if w.ndim != 1 or w.size == 0 or np.any(w < 0) or not np.isfinite(w).all() or w.sum() <= 0:
            raise op_error(ValueError, "WeightedRandomSampler",
                           "weights must be a non-empty 1-d sequence "
                           "of finite non-negative numbers with a positive sum")
        if not replacement and num_samples > np.count_nonzero(w):
            raise op_error(ValueError, "WeightedRandomSampler",
                           f"cannot draw {num_samples} samples without "
                           f"replacement from {np.count_nonzero(w)} non-zero weights")
        self.weights = w
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        rng = _numpy_rng(self.generator)
        p = self.weights / self.weights.sum()
        if not self.replacement:  # at most len(weights) samples: one draw
            yield from rng.choice(p.size, size=self.num_samples, replace=False, p=p).tolist()
            return
        for start in range(0, self.num_samples, _CHUNK):  # chunks, as RandomSampler
            yield from rng.choice(p.size, size=min(_CHUNK, self.num_samples - start), p=p).tolist()

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler[list]):
    """Group another sampler's indices into lists of ``batch_size``.

    >>> len(BatchSampler(range(10), 3, drop_last=True)), len(BatchSampler(range(10), 3, False))
    (3, 4)
    """

    def __init__(self, sampler: Sampler[int] | Iterable[int], batch_size: int,
                 drop_last: bool) -> None:
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise op_error(ValueError, "BatchSampler",
                           f"batch_size should be a positive integer value, "
                           f"got batch_size={batch_size!r}")
        if not isinstance(drop_last, bool):
            raise op_error(ValueError, "BatchSampler", f"drop_last should be a boolean value, got "
                           f"drop_last={drop_last!r}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self) -> Iterator[list]:
        batch = []
        for idx in self.sampler:
            batch.append(idx)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
