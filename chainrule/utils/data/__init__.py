"""Datasets and loaders with ``torch.utils.data``'s names and semantics.

>>> import chainrule as cr
>>> from chainrule.utils.data import DataLoader, TensorDataset
>>> loader = DataLoader(TensorDataset(cr.zeros(10, 3), cr.arange(10)), batch_size=4)
>>> len(loader), [tuple(x.shape) for x, _ in loader]
(3, [(4, 3), (4, 3), (2, 3)])
"""
from .collate import default_collate, default_convert
from .dataloader import DataLoader, get_worker_info
from . import distributed  # noqa: F401  (torch.utils.data.distributed)
from .distributed import DistributedSampler
from .dataset import (ChainDataset, ConcatDataset, Dataset, IterableDataset, StackDataset, Subset,
                      TensorDataset, random_split)
from .sampler import (BatchSampler, RandomSampler, Sampler, SequentialSampler,
                      SubsetRandomSampler, WeightedRandomSampler)

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "StackDataset", "ConcatDataset",
           "ChainDataset", "Subset", "random_split", "Sampler", "SequentialSampler",
           "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler", "BatchSampler",
           "DistributedSampler",
           "DataLoader", "get_worker_info", "default_collate", "default_convert"]
