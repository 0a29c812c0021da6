"""``chainrule.nn.parallel``: ``DataParallel`` and ``DistributedDataParallel``.

chainrule runs on one device at a time (the CPU, or GPU 0 through CuPy), so
:class:`DataParallel` calls its module directly — what PyTorch's does with one device
or none. :class:`DistributedDataParallel` trains one replica a process over MPI (see
:mod:`chainrule.distributed`); without a process group it raises PyTorch's ValueError.

>>> import chainrule as cr
>>> model = cr.nn.parallel.DataParallel(cr.nn.Linear(2, 3))
>>> model(cr.zeros(4, 2)).shape
chainrule.Size([4, 3])
>>> sorted(model.state_dict())
['module.bias', 'module.weight']
"""
from __future__ import annotations

from ..module import Module
from .distributed import DistributedDataParallel

__all__ = ["DataParallel", "DistributedDataParallel"]


class DataParallel(Module):
    """Wraps ``module`` (as ``self.module``) and runs it on the one device chainrule uses."""

    def __init__(self, module: Module, device_ids=None, output_device=None, dim: int = 0) -> None:
        super().__init__()
        self.module = module
        self.device_ids = [] if device_ids is None else list(device_ids)
        self.output_device = output_device
        self.dim = dim

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)
