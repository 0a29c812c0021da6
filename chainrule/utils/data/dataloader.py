"""DataLoader: batches of samples from a dataset, in order or shuffled.

Same constructor and semantics as ``torch.utils.data.DataLoader``. Loading runs in
the calling process: ``num_workers`` is accepted for compatibility, but any value
loads in the main process (no worker processes are started, so
``worker_init_fn`` is never called and ``get_worker_info()`` is always None).

Shuffling draws from a :class:`chainrule.Generator` (``generator=``) or, without one,
from a seed taken from the global generator, so ``chainrule.manual_seed`` makes it
repeatable; the permutations are not the ones PyTorch's generator would draw.

When the dataset is a :class:`TensorDataset` (or a Subset of one) and the default
collate function is used, each batch is one fancy index per tensor instead of
``batch_size`` item lookups and a stack — the result is the same.

>>> import chainrule as cr
>>> from chainrule.utils.data import TensorDataset
>>> ds = TensorDataset(cr.arange(10).float().reshape(5, 2), cr.arange(5))
>>> [tuple(x.shape) for x, y in DataLoader(ds, batch_size=2)]
[(2, 2), (2, 2), (1, 2)]
>>> len(DataLoader(ds, batch_size=2, drop_last=True))
2
>>> def order(seed):
...     g = cr.Generator().manual_seed(seed)
...     return [y.tolist() for _, y in DataLoader(ds, batch_size=5, shuffle=True, generator=g)]
>>> order(0) == order(0), sorted(order(0)[0])
(True, [0, 1, 2, 3, 4])
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator

from ... import accelerator
from ...errors import op_error, warn_user
from ._checks import check_callable, check_iterable, length_of
from .collate import default_collate, default_convert
from .dataset import Dataset, IterableDataset, _has_fast_batch
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["DataLoader", "get_worker_info"]


def get_worker_info() -> None:
    """Always None: chainrule loads data in the main process."""
    return None


class DataLoader:
    """Iterate over ``dataset`` in batches (see the module docstring)."""

    def __init__(self, dataset: Dataset, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler: Sampler | Iterable | None = None,
                 batch_sampler: Sampler | Iterable | None = None, num_workers: int = 0,
                 collate_fn: Callable[[list], Any] | None = None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0,
                 worker_init_fn: Callable[[int], None] | None = None,
                 multiprocessing_context=None, generator=None, *,
                 prefetch_factor: int | None = None,
                 persistent_workers: bool = False, pin_memory_device: str = "",
                 in_order: bool = True) -> None:
        if not isinstance(num_workers, int) or num_workers < 0:
            raise op_error(ValueError, "DataLoader",
                           f"num_workers option should be a non-negative integer, "
                           f"got {num_workers!r}")
        if timeout < 0:
            raise op_error(ValueError, "DataLoader",
                           f"timeout option should be non-negative, got {timeout}")
        if num_workers == 0 and prefetch_factor is not None:
            raise op_error(ValueError, "DataLoader",
                           "prefetch_factor option could only be specified in "
                           "multiprocessing; let num_workers > 0 to enable multiprocessing, "
                           "otherwise set prefetch_factor to None")
        if not isinstance(dataset, IterableDataset) and not hasattr(type(dataset), "__getitem__"):
            raise op_error(TypeError, "DataLoader", f"dataset must be indexable (a map-style "
                           f"Dataset) or an IterableDataset, got {type(dataset).__name__}")
        check_callable(collate_fn, "collate_fn", "DataLoader")
        check_iterable(sampler, "sampler", "DataLoader")
        check_iterable(batch_sampler, "batch_sampler", "DataLoader")
        if persistent_workers and num_workers == 0:
            raise op_error(ValueError, "DataLoader",
                           "persistent_workers option needs num_workers > 0")
        self.dataset = dataset
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.prefetch_factor = prefetch_factor
        self.persistent_workers = persistent_workers
        self.generator = generator

        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable:
            if shuffle not in (None, False):
                raise op_error(ValueError, "DataLoader",
                               f"DataLoader with IterableDataset: expected unspecified shuffle "
                               f"option, but got shuffle={shuffle}")
            if sampler is not None:
                raise op_error(ValueError, "DataLoader",
                               f"DataLoader with IterableDataset: expected unspecified sampler "
                               f"option, but got sampler={sampler}")
            if batch_sampler is not None:
                raise op_error(ValueError, "DataLoader",
                               f"DataLoader with IterableDataset: expected unspecified "
                               f"batch_sampler option, but got batch_sampler={batch_sampler}")
        else:
            shuffle = bool(shuffle)
            if sampler is not None and shuffle:
                raise op_error(ValueError, "DataLoader",
                               "sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise op_error(ValueError, "DataLoader",
                               "batch_sampler option is mutually exclusive with "
                               "batch_size, shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise op_error(ValueError, "DataLoader",
                           "batch_size=None option disables auto-batching and is "
                           "mutually exclusive with drop_last")
        if sampler is None and not self._iterable:
            sampler = RandomSampler(dataset, generator=generator) if shuffle \
                else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None and not self._iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        elif batch_size is not None and self._iterable:
            if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
                raise op_error(ValueError, "DataLoader",
                               f"batch_size should be a positive integer value, "
                               f"got batch_size={batch_size!r}")

        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None or (self._iterable and self.batch_size is not None)

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def __iter__(self) -> Iterator[Any]:
        if self.pin_memory and not accelerator.is_available():
            # PyTorch warns each time an iterator is made (its iterator's constructor)
            warn_user("'pin_memory' argument is set as true but no accelerator is found, "
                      "then device pinned memory won't be used.")
        if self._iterable:
            return self._iter_stream()
        return self._iter_map()

    def _iter_map(self) -> Iterator[Any]:
        dataset, collate = self.dataset, self.collate_fn
        if not self._auto_collation:
            for index in self.sampler:
                yield collate(dataset[index])
            return
        fast = collate is default_collate and _has_fast_batch(dataset)
        getitems = getattr(dataset, "__getitems__", None)
        for indices in self.batch_sampler:
            if fast:
                yield dataset._batch(indices)
            elif callable(getitems):
                yield collate(getitems(indices))
            else:
                yield collate([dataset[i] for i in indices])

    def _iter_stream(self) -> Iterator[Any]:
        collate = self.collate_fn
        if not self._auto_collation:
            for sample in self.dataset:
                yield collate(sample)
            return
        batch = []
        for sample in self.dataset:
            batch.append(sample)
            if len(batch) == self.batch_size:
                yield collate(batch)
                batch = []
        if batch and not self.drop_last:
            yield collate(batch)

    def __len__(self) -> int:
        if self._iterable:
            n = length_of(self.dataset, "the IterableDataset", "DataLoader")  # as PyTorch
            if self.batch_size is not None:
                n = n // self.batch_size if self.drop_last else -(-n // self.batch_size)
            return n
        return len(self._index_sampler)
