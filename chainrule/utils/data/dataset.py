"""Datasets: the map-style and iterable protocols, TensorDataset, subsets and splits.

A map-style dataset answers ``dataset[i]`` and ``len(dataset)``; an iterable one
is consumed with ``for sample in dataset``. Both follow ``torch.utils.data``.

>>> import chainrule as cr
>>> ds = TensorDataset(cr.arange(6).reshape(3, 2), cr.tensor([0, 1, 0]))
>>> len(ds), ds[1]
(3, (tensor([2, 3]), tensor(1)))
>>> a, b = random_split(ds, [2, 1], generator=cr.Generator().manual_seed(0))
>>> len(a), len(b)
(2, 1)
"""
from __future__ import annotations

import bisect
import math
import warnings
from typing import Generic, Iterable, Iterator, Sequence, TypeVar

import numpy as np

from ...errors import op_error
from ._checks import check_iterable, length_of
from ...tensor import Tensor

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset",
           "ChainDataset", "StackDataset", "random_split"]

T_co = TypeVar("T_co", covariant=True)


class Dataset(Generic[T_co]):
    """A map-style dataset: subclasses define ``__getitem__`` (and usually ``__len__``).

    A subclass may also define ``__getitems__(indices) -> list of samples`` to fetch a
    batch in one call, as in PyTorch; the DataLoader uses it when present.
    """

    def __getitem__(self, index) -> T_co:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __add__(self, other: "Dataset") -> "ConcatDataset":
        return ConcatDataset([self, other])


class IterableDataset(Dataset[T_co]):
    """A dataset read as a stream: subclasses define ``__iter__``.

    >>> class Count(IterableDataset):
    ...     def __iter__(self):
    ...         return iter(range(3))
    >>> list(Count())
    [0, 1, 2]
    """

    def __iter__(self) -> Iterator[T_co]:
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")

    def __add__(self, other: "IterableDataset") -> "ChainDataset":
        return ChainDataset([self, other])


class TensorDataset(Dataset):
    """Samples are the ``i``-th rows of tensors that share their first dimension.

    ``dataset[i]`` is the tuple ``(t[i] for t in tensors)``. The DataLoader indexes
    the whole batch at once (``t[indices]``) instead of collating row by row.
    """

    def __init__(self, *tensors: Tensor) -> None:
        if not tensors:
            raise op_error(ValueError, "TensorDataset", "expected at least one tensor, got none")
        for i, t in enumerate(tensors):
            if not isinstance(t, Tensor):
                raise op_error(TypeError, "TensorDataset", f"argument {i} should be a Tensor, got "
                               f"{type(t).__name__}")
            if t.ndim == 0:
                raise op_error(ValueError, "TensorDataset",
                               f"argument {i} is a 0-d tensor; every tensor "
                               "needs a first (sample) dimension")
        sizes = [t.shape[0] for t in tensors]
        if any(s != sizes[0] for s in sizes):
            raise op_error(ValueError, "TensorDataset",
                           f"size mismatch between tensors: first dimensions "
                           f"are {sizes}; expected all equal")
        self.tensors = tuple(tensors)

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    _supports_batch = True

    def _batch(self, indices: Sequence[int]) -> list:
        """The collated batch for ``indices``: one fancy index per tensor."""
        idx = np.asarray(indices, dtype=np.int64)
        return [t[idx] for t in self.tensors]


class StackDataset(Dataset):
    """Zip datasets of equal length: ``StackDataset(a, b)[i] == (a[i], b[i])``,
    or with keywords ``StackDataset(x=a, y=b)[i] == {"x": a[i], "y": b[i]}``."""

    def __init__(self, *args: Dataset, **kwargs: Dataset) -> None:
        if args and kwargs:
            raise op_error(ValueError, "StackDataset", "give datasets as positional or as keyword "
                           "arguments, not both")
        parts = list(args) or list(kwargs.values())
        if not parts:
            raise op_error(ValueError, "StackDataset", "expected at least one dataset")
        lengths = [len(p) for p in parts]
        if any(n != lengths[0] for n in lengths):
            raise op_error(ValueError, "StackDataset", f"size mismatch between datasets: {lengths}")
        self._length = lengths[0]
        self.datasets = kwargs if kwargs else tuple(args)

    def __getitem__(self, index):
        if isinstance(self.datasets, dict):
            return {k: d[index] for k, d in self.datasets.items()}
        return tuple(d[index] for d in self.datasets)

    def __len__(self) -> int:
        return self._length


class ConcatDataset(Dataset):
    """Map-style datasets one after another.

    >>> ds = ConcatDataset([[1, 2], [3]])
    >>> len(ds), ds[2], ds[-1]
    (3, 3, 3)
    """

    def __init__(self, datasets: Iterable[Dataset]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise op_error(ValueError, "ConcatDataset", "datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise op_error(TypeError, "ConcatDataset",
                               "ConcatDataset does not support IterableDataset; use ChainDataset")
        self.cumulative_sizes = list(np.cumsum([len(d) for d in self.datasets]).tolist())

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx: int):
        n = len(self)
        if idx < 0:
            if -idx > n:
                raise op_error(ValueError, "ConcatDataset",
                               f"absolute value of index {idx} should not "
                               f"exceed dataset length {n}")
            idx += n
        if idx >= n:
            raise op_error(IndexError, "ConcatDataset", f"index {idx} out of range for length {n}")
        which = bisect.bisect_right(self.cumulative_sizes, idx)
        start = self.cumulative_sizes[which - 1] if which else 0
        return self.datasets[which][idx - start]


class ChainDataset(IterableDataset):
    """Iterable datasets one after another."""

    def __init__(self, datasets: Iterable[IterableDataset]) -> None:
        self.datasets = list(datasets)

    def __iter__(self):
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise TypeError(f"ChainDataset only supports IterableDataset, got "
                                f"{type(d).__name__}")
            yield from d

    def __len__(self) -> int:
        return sum(len(d) for d in self.datasets)


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order.

    >>> Subset([10, 20, 30], [2, 0])[0]
    30
    """

    def __init__(self, dataset: Dataset, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, idx):
        try:
            inner = [self.indices[i] for i in idx] if isinstance(idx, list) else self.indices[idx]
        except IndexError:
            raise op_error(IndexError, "Subset", f"index {idx} is out of range for a Subset of "
                           f"length {len(self.indices)}") from None
        except TypeError:
            raise op_error(TypeError, "Subset", f"index must be an int or a list of ints, got "
                           f"{idx!r}") from None
        return self.dataset[inner]

    def __getitems__(self, indices: list[int]) -> list:
        inner = [self.indices[i] for i in indices]
        if callable(getattr(self.dataset, "__getitems__", None)):
            return self.dataset.__getitems__(inner)
        return [self.dataset[i] for i in inner]

    def __len__(self) -> int:
        return len(self.indices)

    def _batch(self, indices: Sequence[int]):
        # lets the loader's whole-batch path see through subsets of a TensorDataset
        return self.dataset._batch([int(self.indices[i]) for i in indices])


def _has_fast_batch(dataset) -> bool:
    """Whether ``dataset._batch(indices)`` gives what default_collate would.

    A subclass that overrides ``__getitem__`` (augmentation, say) is read item by item:
    its ``_batch``, inherited, would skip the override.
    """
    while True:
        if not _own_getitem(dataset):
            return False
        if not isinstance(dataset, Subset):
            return bool(getattr(dataset, "_supports_batch", False))
        dataset = dataset.dataset


def _own_getitem(dataset) -> bool:
    """True when ``__getitem__`` comes from the class that defines ``_batch``."""
    cls = type(dataset)
    owner = next((c for c in cls.__mro__ if "_batch" in c.__dict__), None)
    return owner is not None and cls.__getitem__ is owner.__getitem__


def random_split(dataset: Dataset, lengths: Sequence[int | float],
                 generator=None) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random subsets of the given lengths.

    ``lengths`` are counts that sum to ``len(dataset)``, or fractions that sum to 1
    (the remainder after flooring is dealt one by one to the first subsets, as in
    PyTorch). The permutation comes from ``generator`` (default: the global one).

    >>> import chainrule as cr
    >>> parts = random_split(range(10), [0.5, 0.3, 0.2], generator=cr.Generator().manual_seed(1))
    >>> [len(p) for p in parts], sorted(i for p in parts for i in p)  == list(range(10))
    ([5, 3, 2], True)
    """
    from ...random import Generator, default_generator, randperm
    if generator is not None and not isinstance(generator, Generator):
        raise op_error(TypeError, "random_split", f"generator must be a chainrule.Generator, got "
                       f"{type(generator).__name__}")
    check_iterable(lengths, "lengths", "random_split", optional=False)
    n = length_of(dataset, "dataset", "random_split")
    lengths = list(lengths)
    # PyTorch's rule: lengths summing to 1 are fractions (even [0, 1] on a longer dataset)
    if lengths and math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        counts = []
        for i, frac in enumerate(lengths):
            if frac < 0 or frac > 1:
                raise op_error(ValueError, "random_split",
                               f"fraction at index {i} is {frac}; expected a "
                               "value between 0 and 1")
            counts.append(int(math.floor(n * frac)))
        remainder = n - sum(counts)
        for i in range(remainder):
            counts[i % len(counts)] += 1
        for i, c in enumerate(counts):
            if c == 0:
                warnings.warn(f"random_split: length of split at index {i} is 0; this "
                              "might result in an empty dataset", stacklevel=2)
        lengths = counts
    if any(not isinstance(x, (int, np.integer)) or isinstance(x, bool) or x < 0 for x in lengths):
        raise op_error(ValueError, "random_split",
                       f"lengths must be non-negative integers or fractions "
                       f"summing to 1, got {lengths}")
    if sum(lengths) != n:
        raise op_error(ValueError, "random_split",
                       f"sum of input lengths ({sum(lengths)}) does not equal "
                       f"the length of the input dataset ({n})")
    perm = randperm(n, generator=generator or default_generator).tolist()
    out, start = [], 0
    for length in lengths:
        out.append(Subset(dataset, perm[start:start + length]))
        start += length
    return out
