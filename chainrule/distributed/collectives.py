"""Collectives on tensors, over MPI, with PyTorch's signatures.

Every collective is started with MPI's non-blocking call (``Iallreduce``, ``Ibcast``, …):
``async_op=True`` returns the :class:`Work` at once, otherwise it is waited for before
returning. Results are written into the tensors given, in place, as PyTorch does.
MPI reads and writes contiguous host buffers: a tensor whose data is not one (a
strided view, a GPU array) goes through a copy that is written back on completion; a
dtype MPI cannot reduce (float16, bfloat16) is reduced in float32 and cast back.
"""
from __future__ import annotations

import enum

import numpy as np

from ..errors import op_error
from .process_group import ProcessGroup, group_of

__all__ = ["ReduceOp", "Work", "all_reduce", "broadcast", "all_gather", "all_gather_into_tensor",
           "reduce_scatter", "reduce_scatter_tensor", "gather", "scatter", "reduce", "barrier",
           "broadcast_object_list", "all_gather_object", "gather_object"]


class ReduceOp(enum.Enum):
    """How ``all_reduce``/``reduce``/``reduce_scatter`` combine the ranks' tensors."""
    SUM = "sum"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"
    AVG = "avg"
    BAND = "band"
    BOR = "bor"
    BXOR = "bxor"


# dtypes whose numpy buffer mpi4py maps onto an MPI datatype
_MPI_KINDS = set("?bBhHiIlLqQfdFD")


def _mpi_op(MPI, op: ReduceOp, dtype, what: str):
    if not isinstance(op, ReduceOp):
        raise op_error(TypeError, what, f"op must be a ReduceOp, got {op!r}")
    if op is ReduceOp.AVG and dtype.kind not in "fc":
        raise op_error(TypeError, what, f"ReduceOp.AVG needs a floating-point or complex "
                       f"tensor, got {dtype}")
    if dtype == np.bool_:  # MPI sums and multiplies no booleans: PyTorch's meaning, as logic
        table = {ReduceOp.SUM: MPI.LOR, ReduceOp.MAX: MPI.LOR, ReduceOp.BOR: MPI.LOR,
                 ReduceOp.PRODUCT: MPI.LAND, ReduceOp.MIN: MPI.LAND, ReduceOp.BAND: MPI.LAND,
                 ReduceOp.BXOR: MPI.LXOR}
        return table[op] if op in table else None
    return {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD,
            ReduceOp.MIN: MPI.MIN, ReduceOp.MAX: MPI.MAX, ReduceOp.BAND: MPI.BAND,
            ReduceOp.BOR: MPI.BOR, ReduceOp.BXOR: MPI.BXOR}[op]


class Work:
    """A collective in flight (``async_op=True``): ``wait()`` until done, or poll
    ``is_completed()``. The results are in the tensors once either says done."""

    def __init__(self, requests: list, finish=None, result=None, keep=()) -> None:
        self._requests = requests
        self._finish = finish
        self._result = result or []
        self._keep = keep  # the buffers MPI reads and writes stay alive until done
        self._done = False

    def _complete(self) -> None:
        self._done = True
        self._requests = []
        if self._finish is not None:
            self._finish()
        self._finish = self._keep = None

    def wait(self, timeout=None) -> bool:
        """Block until the collective is done and its results are written; True."""
        if not self._done:
            from ._mpi import load_mpi
            if self._requests:
                load_mpi().Request.Waitall(self._requests)
            self._complete()
        return True

    def is_completed(self) -> bool:
        """True once done (testing also lets MPI make progress on it)."""
        if not self._done:
            from ._mpi import load_mpi
            if self._requests and not load_mpi().Request.Testall(self._requests):
                return False
            self._complete()
        return True

    def is_success(self) -> bool:
        return self.is_completed()

    def exception(self):
        return None

    def synchronize(self) -> None:
        self.wait()

    def result(self) -> list:
        """The output tensors (after ``wait``)."""
        self.wait()
        return list(self._result)


def _start(requests, finish, async_op: bool, result=None, keep=()):
    work = Work(requests, finish, result, keep)
    if async_op:
        return work
    work.wait()
    return None


def _tensor_check(t, what: str, arg: str = "tensor"):
    from ..tensor import Tensor
    if not isinstance(t, Tensor):
        raise op_error(TypeError, f"chainrule.distributed.{what}",
                       f"{arg} must be a Tensor, got {type(t).__name__}")
    return t


def _host(t) -> tuple[np.ndarray, bool]:
    """A C-contiguous NumPy buffer holding ``t``'s data, and whether it is ``t``'s own
    memory (else it is a copy to be written back)."""
    data = t._data
    if type(data) is np.ndarray and data.flags.c_contiguous and data.flags.writeable:
        return data, True
    if type(data) is not np.ndarray:
        from ..backends import backend_of
        return np.ascontiguousarray(backend_of(data).to_host(data)), False
    return np.ascontiguousarray(data), False


def _write(t, values: np.ndarray) -> None:
    """Write ``values`` into ``t``'s data in place (any layout, any device)."""
    data = t._data
    if type(data) is np.ndarray:
        if data.flags.writeable:
            data[...] = values.reshape(data.shape)
        else:  # a read-only buffer (a broadcast view): the tensor gets a fresh one
            t._data = np.array(values.reshape(data.shape), dtype=data.dtype)
    else:
        from ..backends import backend_of
        data[...] = backend_of(data).from_host(values.reshape(data.shape))
    t._vc.value += 1


def _bytes(a: np.ndarray) -> np.ndarray:
    """A byte view of a contiguous array: MPI moves any dtype as bytes."""
    return a.reshape(-1).view(np.uint8)


def _reducible(buf: np.ndarray) -> np.ndarray:
    return buf if buf.dtype.char in _MPI_KINDS else buf.astype(np.float32)


def all_reduce(tensor, op: ReduceOp = ReduceOp.SUM, group: ProcessGroup | None = None,
               async_op: bool = False):
    """Reduce ``tensor`` over all ranks with ``op``; every rank gets the result in place."""
    what = "all_reduce"
    pg = group_of(group, what)
    _tensor_check(tensor, what)
    from ._mpi import load_mpi
    MPI = load_mpi()
    buf, own = _host(tensor)
    work = _reducible(buf)
    mpi_op = _mpi_op(MPI, op, buf.dtype, f"chainrule.distributed.{what}")
    req = pg.comm.Iallreduce(MPI.IN_PLACE, work, mpi_op)

    def finish():
        if op is ReduceOp.AVG:
            np.divide(work, pg.size(), out=work)
        if work is not buf:
            buf[...] = work
        if own:
            tensor._vc.value += 1
        else:
            _write(tensor, buf)
    return _start([req], finish, async_op, [tensor], (buf, work))


def reduce(tensor, dst: int | None = None, op: ReduceOp = ReduceOp.SUM,
           group: ProcessGroup | None = None, async_op: bool = False, group_dst=None):
    """Reduce ``tensor`` over all ranks into rank ``dst``'s tensor (others unchanged)."""
    what = "reduce"
    pg = group_of(group, what)
    _tensor_check(tensor, what)
    dst = _root(dst, group_dst, pg, what, "dst")
    from ._mpi import load_mpi
    MPI = load_mpi()
    buf, own = _host(tensor)
    work = _reducible(buf)
    mpi_op = _mpi_op(MPI, op, buf.dtype, f"chainrule.distributed.{what}")
    is_root = pg.rank() == dst
    if is_root:
        req = pg.comm.Ireduce(MPI.IN_PLACE, work, mpi_op, root=dst)
    else:
        req = pg.comm.Ireduce(work, None, mpi_op, root=dst)

    def finish():
        if not is_root:
            return
        if op is ReduceOp.AVG:
            np.divide(work, pg.size(), out=work)
        _write(tensor, work.astype(buf.dtype, copy=False))
    return _start([req], finish, async_op, [tensor], (buf, work))


def _root(rank, group_rank, pg: ProcessGroup, what: str, arg: str) -> int:
    if rank is None and group_rank is None:
        rank = 0
    rank = group_rank if rank is None else rank
    size = pg.size()
    if not 0 <= int(rank) < size:
        raise op_error(ValueError, f"chainrule.distributed.{what}",
                       f"{arg}={rank} is not a rank of this group (world size {size})")
    return int(rank)


def broadcast(tensor, src: int | None = None, group: ProcessGroup | None = None,
              async_op: bool = False, group_src=None):
    """Copy rank ``src``'s ``tensor`` into ``tensor`` on every rank."""
    what = "broadcast"
    pg = group_of(group, what)
    _tensor_check(tensor, what)
    src = _root(src, group_src, pg, what, "src")
    buf, own = _host(tensor)
    req = pg.comm.Ibcast(_bytes(buf), root=src)

    def finish():
        if pg.rank() == src:
            return
        if own:
            tensor._vc.value += 1
        else:
            _write(tensor, buf)
    return _start([req], finish, async_op, [tensor], (buf,))


def _same_as(tensors, like, what: str, arg: str, count: int) -> None:
    if tensors is None or len(tensors) != count:
        raise op_error(ValueError, f"chainrule.distributed.{what}",
                       f"{arg} must hold one tensor per rank ({count}), got "
                       f"{'None' if tensors is None else len(tensors)}")
    for i, t in enumerate(tensors):
        _tensor_check(t, what, f"{arg}[{i}]")
        if t._data.shape != like._data.shape or t._data.dtype != like._data.dtype:
            raise op_error(ValueError, f"chainrule.distributed.{what}",
                           f"{arg}[{i}] has shape {tuple(t._data.shape)} and dtype "
                           f"{t._data.dtype}, but the tensor has shape "
                           f"{tuple(like._data.shape)} and dtype {like._data.dtype}")


def all_gather(tensor_list: list, tensor, group: ProcessGroup | None = None,
               async_op: bool = False):
    """Every rank's ``tensor`` into ``tensor_list`` (entry ``i`` from rank ``i``), on all ranks."""
    what = "all_gather"
    pg = group_of(group, what)
    _tensor_check(tensor, what)
    _same_as(tensor_list, tensor, what, "tensor_list", pg.size())
    send, _ = _host(tensor)
    recv = np.empty((pg.size(),) + send.shape, send.dtype)
    req = pg.comm.Iallgather(_bytes(send), _bytes(recv))

    def finish():
        for t, part in zip(tensor_list, recv):
            _write(t, part)
    return _start([req], finish, async_op, list(tensor_list), (send, recv))


def _stacked_view(output, input_, size: int, what: str, big: str):
    """``output`` (or ``input_``) holds ``size`` blocks the shape of the other tensor,
    concatenated along dim 0 or stacked on a new dim 0 (PyTorch accepts both)."""
    small, large = (input_, output) if big == "output" else (output, input_)
    n = small._data.size
    if large._data.size != n * size or large._data.dtype != small._data.dtype:
        raise op_error(ValueError, f"chainrule.distributed.{what}",
                       f"{big} tensor must hold world_size ({size}) × the other tensor's "
                       f"elements ({n}) of the same dtype; got shape {tuple(large._data.shape)}"
                       f" and dtype {large._data.dtype}")


def all_gather_into_tensor(output_tensor, input_tensor, group: ProcessGroup | None = None,
                           async_op: bool = False):
    """Every rank's ``input_tensor`` into one ``output_tensor`` (ranks along dim 0)."""
    what = "all_gather_into_tensor"
    pg = group_of(group, what)
    _tensor_check(output_tensor, what, "output_tensor")
    _tensor_check(input_tensor, what, "input_tensor")
    _stacked_view(output_tensor, input_tensor, pg.size(), what, "output")
    send, _ = _host(input_tensor)
    recv = np.empty(output_tensor._data.shape, send.dtype)
    req = pg.comm.Iallgather(_bytes(send), _bytes(recv))
    return _start([req], lambda: _write(output_tensor, recv), async_op, [output_tensor],
                  (send, recv))


def _reduce_scatter_flat(output, flat: np.ndarray, op, pg, what: str, async_op: bool):
    from ._mpi import load_mpi
    MPI = load_mpi()
    dtype = output._data.dtype
    mpi_op = _mpi_op(MPI, op, dtype, f"chainrule.distributed.{what}")
    send = _reducible(flat)
    recv = np.empty(output._data.size, send.dtype)
    req = pg.comm.Ireduce_scatter_block(send, recv, mpi_op)

    def finish():
        if op is ReduceOp.AVG:
            np.divide(recv, pg.size(), out=recv)
        _write(output, recv.astype(dtype, copy=False))
    return _start([req], finish, async_op, [output], (send, recv))


def reduce_scatter(output, input_list: list, op: ReduceOp = ReduceOp.SUM,
                   group: ProcessGroup | None = None, async_op: bool = False):
    """Reduce ``input_list[i]`` over all ranks into rank ``i``'s ``output``."""
    what = "reduce_scatter"
    pg = group_of(group, what)
    _tensor_check(output, what, "output")
    _same_as(input_list, output, what, "input_list", pg.size())
    flat = np.concatenate([_host(t)[0].reshape(-1) for t in input_list])
    return _reduce_scatter_flat(output, flat, op, pg, what, async_op)


def reduce_scatter_tensor(output, input, op: ReduceOp = ReduceOp.SUM,
                          group: ProcessGroup | None = None, async_op: bool = False):
    """``reduce_scatter`` with the inputs as one tensor (rank ``i``'s block along dim 0)."""
    what = "reduce_scatter_tensor"
    pg = group_of(group, what)
    _tensor_check(output, what, "output")
    _tensor_check(input, what, "input")
    _stacked_view(output, input, pg.size(), what, "input")
    flat = _host(input)[0].reshape(-1)
    return _reduce_scatter_flat(output, flat, op, pg, what, async_op)


def gather(tensor, gather_list: list | None = None, dst: int | None = None,
           group: ProcessGroup | None = None, async_op: bool = False, group_dst=None):
    """Every rank's ``tensor`` into rank ``dst``'s ``gather_list`` (None elsewhere)."""
    what = "gather"
    pg = group_of(group, what)
    _tensor_check(tensor, what)
    dst = _root(dst, group_dst, pg, what, "dst")
    is_root = pg.rank() == dst
    if is_root:
        _same_as(gather_list, tensor, what, "gather_list", pg.size())
    elif gather_list:
        raise op_error(ValueError, f"chainrule.distributed.{what}",
                       "Argument ``gather_list`` must NOT be specified on non-destination ranks.")
    send, _ = _host(tensor)
    recv = np.empty((pg.size(),) + send.shape, send.dtype) if is_root else None
    req = pg.comm.Igather(_bytes(send), _bytes(recv) if is_root else None, root=dst)

    def finish():
        if is_root:
            for t, part in zip(gather_list, recv):
                _write(t, part)
    return _start([req], finish, async_op, list(gather_list or []), (send, recv))


def scatter(tensor, scatter_list: list | None = None, src: int | None = None,
            group: ProcessGroup | None = None, async_op: bool = False, group_src=None):
    """Rank ``src``'s ``scatter_list[i]`` into rank ``i``'s ``tensor``."""
    what = "scatter"
    pg = group_of(group, what)
    _tensor_check(tensor, what)
    src = _root(src, group_src, pg, what, "src")
    is_root = pg.rank() == src
    if is_root:
        _same_as(scatter_list, tensor, what, "scatter_list", pg.size())
        send = np.stack([_host(t)[0] for t in scatter_list])
    elif scatter_list:
        raise op_error(ValueError, f"chainrule.distributed.{what}",
                       "Argument ``scatter_list`` must NOT be specified on non-source ranks.")
    else:
        send = None
    recv = np.empty(tensor._data.shape, tensor._data.dtype)
    req = pg.comm.Iscatter(_bytes(send) if is_root else None, _bytes(recv), root=src)
    return _start([req], lambda: _write(tensor, recv), async_op, [tensor], (send, recv))


def barrier(group: ProcessGroup | None = None, async_op: bool = False, device_ids=None):
    """Wait until every rank of ``group`` has reached this call."""
    pg = group_of(group, "barrier")
    return _start([pg.comm.Ibarrier()], None, async_op)


def broadcast_object_list(object_list: list, src: int | None = None,
                          group: ProcessGroup | None = None, device=None, group_src=None) -> None:
    """Rank ``src``'s picklable objects into ``object_list`` on every rank (in place)."""
    what = "broadcast_object_list"
    pg = group_of(group, what)
    src = _root(src, group_src, pg, what, "src")
    got = pg.comm.bcast(list(object_list) if pg.rank() == src else None, root=src)
    object_list[:] = got


def all_gather_object(object_list: list, obj, group: ProcessGroup | None = None) -> None:
    """Every rank's picklable ``obj`` into ``object_list`` (entry ``i`` from rank ``i``)."""
    pg = group_of(group, "all_gather_object")
    object_list[:] = pg.comm.allgather(obj)


def gather_object(obj, object_gather_list: list | None = None, dst: int | None = None,
                  group: ProcessGroup | None = None, group_dst=None) -> None:
    """Every rank's picklable ``obj`` into rank ``dst``'s ``object_gather_list``."""
    what = "gather_object"
    pg = group_of(group, what)
    dst = _root(dst, group_dst, pg, what, "dst")
    got = pg.comm.gather(obj, root=dst)
    if pg.rank() == dst:
        object_gather_list[:] = got
