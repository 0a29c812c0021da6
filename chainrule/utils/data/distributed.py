"""DistributedSampler: each of ``num_replicas`` processes sees its own share of the data.

Same semantics as ``torch.utils.data.distributed.DistributedSampler``: the indices
are (optionally) shuffled with ``seed + epoch`` — call :meth:`set_epoch` at the start
of each epoch — then padded by repeating indices (or cut, with ``drop_last``) to a
multiple of ``num_replicas``, and rank ``r`` takes every ``num_replicas``-th index
from position ``r``.

>>> shares = [list(DistributedSampler(range(5), num_replicas=2, rank=r, shuffle=False))
...           for r in range(2)]
>>> shares
[[0, 2, 4], [1, 3, 0]]
"""
from __future__ import annotations

import math
from typing import Iterator, Sized

import numpy as np

from ...errors import op_error
from .sampler import Sampler

__all__ = ["DistributedSampler"]


def _world() -> tuple[int, int]:
    try:
        from ... import distributed as dist
        if dist.is_initialized():
            return dist.get_world_size(), dist.get_rank()
    except (ImportError, AttributeError):
        pass
    raise op_error(RuntimeError, "DistributedSampler", "pass num_replicas and rank, or initialise "
                   "chainrule.distributed first")


class DistributedSampler(Sampler[int]):
    """This process's share of the indices of ``dataset`` (see the module docstring)."""

    def __init__(self, dataset: Sized, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False) -> None:
        if num_replicas is None or rank is None:
            world, me = _world()
            num_replicas = world if num_replicas is None else num_replicas
            rank = me if rank is None else rank
        if not isinstance(num_replicas, int) or num_replicas < 1:
            raise op_error(ValueError, "DistributedSampler",
                           f"num_replicas should be a positive integer, "
                           f"got {num_replicas!r}")
        if not isinstance(rank, int) or not 0 <= rank < num_replicas:
            raise op_error(ValueError, "DistributedSampler",
                           f"invalid rank {rank}, rank should be in the "
                           f"interval [0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        self.shuffle = shuffle
        self.seed = seed
        n = len(dataset)
        if drop_last and n % num_replicas:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def __iter__(self) -> Iterator[int]:
        n = len(self.dataset)
        if self.shuffle:
            # every rank draws the same permutation: same seed, same epoch
            rng = np.random.Generator(np.random.PCG64(self.seed + self.epoch))
            indices = rng.permutation(n).tolist()
        else:
            indices = list(range(n))
        if not self.drop_last:
            pad = self.total_size - len(indices)
            if pad <= len(indices):
                indices += indices[:pad]
            elif indices:
                indices += (indices * math.ceil(pad / len(indices)))[:pad]
        else:
            indices = indices[:self.total_size]
        return iter(indices[self.rank:self.total_size:self.num_replicas])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Use a new shuffle for ``epoch`` (the same on every rank)."""
        self.epoch = epoch
