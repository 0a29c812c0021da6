"""``chainrule.distributed``: PyTorch's process group and collectives, over MPI.

Launch one process per rank with MPI and join them into the default group::

    pip install 'chainrule[mpi]'             # mpi4py and the mpich wheel (mpiexec)
    mpiexec -n 2 python -m mpi4py train.py   # in train.py: dist.init_process_group()

Then ``all_reduce``, ``broadcast``, ``all_gather``, ``reduce_scatter``, ``gather``,
``scatter``, ``reduce`` and ``barrier`` work as PyTorch's: tensors are changed in place,
``async_op=True`` returns a :class:`Work` (``wait()``, ``is_completed()``). An uncaught
exception on one rank ends all of them, naming the rank (``python -m mpi4py`` does so
too; a plain ``python`` launch without ``init_process_group`` hangs the other ranks). A rank
killed by a signal is named by a watchdog process that each host's first rank starts
(see docs/distributed.md, "Faults").
mpi4py is imported only by ``init_process_group``: without it chainrule still imports,
and ``is_available()`` is False.

>>> import chainrule.distributed as dist
>>> dist.is_initialized()
False
>>> dist.ReduceOp.SUM
<ReduceOp.SUM: 'sum'>
"""
from __future__ import annotations

from .collectives import (ReduceOp, Work, all_gather, all_gather_into_tensor, all_gather_object,
                          all_reduce, barrier, broadcast, broadcast_object_list, gather,
                          gather_object, reduce, reduce_scatter, reduce_scatter_tensor, scatter)
from .rank_stats import gather_grad_stats
from .process_group import (GroupMember, ProcessGroup, destroy_process_group, get_backend,
                            get_rank, get_world_size, group, init_process_group, is_available,
                            is_gloo_available, is_initialized, is_mpi_available,
                            is_nccl_available, launched_by_mpiexec, not_initialized)

__all__ = ["is_available", "is_initialized", "init_process_group", "destroy_process_group",
           "get_rank", "get_world_size", "get_backend", "barrier", "all_reduce", "broadcast",
           "all_gather", "all_gather_into_tensor", "reduce_scatter", "reduce_scatter_tensor",
           "gather", "scatter", "reduce", "broadcast_object_list", "all_gather_object",
           "gather_object", "ReduceOp", "Work", "ProcessGroup", "GroupMember", "group",
           "is_mpi_available", "is_gloo_available", "is_nccl_available", "launched_by_mpiexec",
           "not_initialized", "gather_grad_stats"]
