"""DistributedDataParallel: one model replica a rank, gradients averaged over MPI.

Each rank runs the wrapped module on its own share of the batch; ``backward()``
leaves in every rank's ``.grad`` the average over ranks (see :mod:`.reducer` for the
buckets, when they start and where they are waited for), so one optimizer step keeps
the replicas identical. Construction copies rank 0's parameters and buffers to every
rank; each forward copies rank 0's buffers (BatchNorm running statistics) again.
"""
from __future__ import annotations

import contextlib

import numpy as np

from ...errors import op_error
from ..module import Module
from .reducer import Reducer

__all__ = ["DistributedDataParallel"]


def _tensors_in(obj) -> list:
    """The tensors in a forward's output (a tensor, or tuples/lists/dicts of them)."""
    from ...tensor import Tensor
    if isinstance(obj, Tensor):
        return [obj]
    if isinstance(obj, dict):
        obj = list(obj.values())
    if isinstance(obj, (list, tuple)):
        return [t for item in obj for t in _tensors_in(item)]
    return []


class DistributedDataParallel(Module):
    """Wraps ``module`` (as ``self.module``) for data-parallel training over the ranks of
    the default process group. Launch with ``mpiexec -n N python -m mpi4py train.py``::

        dist.init_process_group()
        model = DistributedDataParallel(Net())
        loss_fn(model(x_shard), y_shard).backward()   # .grad: averaged over the ranks
        opt.step()

    ``device_ids``/``output_device``/``dim``/``gradient_as_bucket_view``/``static_graph``
    are accepted as PyTorch's (chainrule has one device). ``bucket_cap_mb`` bounds each
    gradient bucket; ``find_unused_parameters=True`` lets some parameters go unused in a
    forward; ``no_sync()`` accumulates gradients locally.
    """

    def __init__(self, module: Module, device_ids=None, output_device=None, dim: int = 0,
                 broadcast_buffers: bool = True, process_group=None,
                 bucket_cap_mb: float | None = None, find_unused_parameters: bool = False,
                 check_reduction: bool = False, gradient_as_bucket_view: bool = False,
                 static_graph: bool = False, **kwargs) -> None:
        from ... import distributed as dist
        pg = dist.process_group.group_of(process_group, "DistributedDataParallel") \
            if dist.is_initialized() else None
        if pg is None:
            raise dist.not_initialized("DistributedDataParallel")
        super().__init__()
        self.module = module
        self.device_ids = device_ids
        self.output_device = output_device
        self.dim = dim
        self.broadcast_buffers = broadcast_buffers
        self.process_group = pg
        self.bucket_cap_mb = 25.0 if bucket_cap_mb is None else float(bucket_cap_mb)
        self.find_unused_parameters = find_unused_parameters
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.static_graph = static_graph
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        named = self._trainable(module)
        if not named:
            raise op_error(RuntimeError, "DistributedDataParallel",
                           "DistributedDataParallel is not needed when a module doesn't have "
                           "any parameter that requires a gradient.")
        comm = pg.comm
        self._check_same_everywhere(comm, named)
        self._broadcast([t for _, t in module.named_parameters()]
                        + [t for _, t in module.named_buffers()])
        object.__setattr__(self, "reducer", Reducer(named, comm, int(self.bucket_cap_mb * 2 ** 20),
                                                    find_unused_parameters))

    @staticmethod
    def _trainable(module: Module) -> list:
        seen, named = set(), []
        for name, p in module.named_parameters():
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                named.append((name, p))
        return named

    def _check_same_everywhere(self, comm, named) -> None:
        """Every rank must wrap the same architecture (else the buckets would not match)."""
        mine = [(n, tuple(p.shape), str(p._data.dtype)) for n, p in named]
        theirs = comm.allgather(mine)
        for rank, other in enumerate(theirs):
            if other != mine:
                diff = next((a, b) for a, b in zip(mine + [None] * len(other),
                                                   other + [None] * len(mine)) if a != b)
                raise op_error(RuntimeError, "DistributedDataParallel",
                               f"rank {comm.Get_rank()} and rank {rank} wrap different models: "
                               f"this rank has {diff[0]}, rank {rank} has {diff[1]} "
                               "(name, shape, dtype)")

    def _broadcast(self, tensors: list) -> None:
        """Rank 0's values into ``tensors`` on every rank: one message a dtype."""
        if self.process_group.size() == 1 or not tensors:
            return
        by_dtype: dict = {}
        for t in tensors:
            by_dtype.setdefault(t._data.dtype.str, []).append(t)
        comm = self.process_group.comm
        for _, group in sorted(by_dtype.items()):
            flat = np.concatenate([np.asarray(t._data).reshape(-1) for t in group])
            comm.Bcast(flat.view(np.uint8), root=0)
            if comm.Get_rank() != 0:
                offset = 0
                for t in group:
                    n = t._data.size
                    t._data[...] = flat[offset:offset + n].reshape(t._data.shape)
                    t._vc.value += 1
                    offset += n

    def forward(self, *inputs, **kwargs):
        from ...autograd.grad_mode import is_grad_enabled
        self.reducer.check_finished()
        if self.broadcast_buffers and self.require_forward_param_sync:
            self._broadcast([t for _, t in self.module.named_buffers()])
        out = self.module(*inputs, **kwargs)
        if is_grad_enabled() and self.require_backward_grad_sync:
            self.reducer.prepare(_tensors_in(out) if self.find_unused_parameters else None)
        return out

    @contextlib.contextmanager
    def no_sync(self):
        """Inside, backward accumulates gradients on each rank without communicating; the
        first backward after it averages the accumulated sums.

        Use as ``with model.no_sync(): loss(model(x)).backward()``.
        """
        before = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = before

    def register_comm_hook(self, state, hook) -> None:
        raise op_error(NotImplementedError, "DistributedDataParallel.register_comm_hook",
                       "communication hooks are not supported by chainrule's MPI reducer")

    def extra_repr(self) -> str:
        return f"world_size={self.process_group.size()}, bucket_cap_mb={self.bucket_cap_mb}"
