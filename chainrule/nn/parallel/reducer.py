"""Gradient averaging for DistributedDataParallel: buckets, started as they fill.

The parameters (those that require grad, in reverse registration order: the order
backward usually reaches them) are packed into buckets of at most ``bucket_cap_mb``
and one dtype. Each parameter has a post-accumulate-grad hook; when it fires the
parameter is *ready*. A bucket whose parameters are all ready is copied into one flat
contiguous buffer and its ``Iallreduce`` (sum) starts at once, so communication runs
while backward computes the rest. Buckets start strictly in index order, the same on
every rank (MPI requires collectives to be issued in one order everywhere).

Where the wait happens: inside the hook that starts the last bucket, the reducer waits
for all the buckets, divides by the world size and writes each average into ``.grad``.
That hook is the last gradient of the backward that reaches a parameter, so ``.grad``
holds the average when ``backward()`` returns. (The hooks also poll the requests in
flight, which lets MPI progress them while backward runs.)

Unused parameters: with ``find_unused_parameters=True`` the forward's graph is walked
from the outputs, and the parameters it does not reach are marked ready when backward
starts (contributing zeros; a parameter no rank used keeps ``.grad`` as it was). Without
it such a parameter's bucket never fills, and the next forward raises a RuntimeError
naming it, as PyTorch does.
"""
from __future__ import annotations

import numpy as np

from ...errors import op_error


class Bucket:
    """Parameters reduced together through one flat buffer."""

    def __init__(self, index: int, params: list, dtype) -> None:
        self.index = index
        self.params = params  # [(position, name, tensor)]
        self.dtype = dtype
        self.sizes = [p._data.size for _, _, p in params]
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)]).astype(int)
        self.flat = np.zeros(int(self.offsets[-1]), dtype=dtype)
        self.waiting = 0  # parameters not ready yet in this backward
        self.request = None

    def nbytes(self) -> int:
        return self.flat.nbytes


def make_buckets(named_params: list, cap_bytes: int) -> list[Bucket]:
    """Reverse registration order, one dtype a bucket, each at most ``cap_bytes`` (a
    parameter larger than the cap gets a bucket of its own)."""
    buckets: list[Bucket] = []
    current: dict = {}  # dtype -> (params, bytes)
    for pos, name, p in reversed(named_params):
        dt = p._data.dtype
        params, size = current.get(dt, ([], 0))
        if params and size + p._data.nbytes > cap_bytes:
            buckets.append(Bucket(len(buckets), params, dt))
            params, size = [], 0
        params.append((pos, name, p))
        current[dt] = (params, size + p._data.nbytes)
    for dt, (params, _) in current.items():
        if params:
            buckets.append(Bucket(len(buckets), params, dt))
    return buckets


def reachable_params(outputs, params: list) -> set:
    """Positions of the parameters the autograd graph of ``outputs`` reaches."""
    from ...autograd.engine import _discover
    roots = [t.grad_fn for t in outputs if t.grad_fn is not None]
    by_id = {id(p): pos for pos, _, p in params}
    reached = set()
    for t in outputs:  # an output may be a parameter itself
        if id(t) in by_id:
            reached.add(by_id[id(t)])
    for node in _discover(roots):
        var = getattr(node, "variable", None) if node.__class__.__name__ == "AccumulateGrad" \
            else None
        if var is not None and id(var) in by_id:
            reached.add(by_id[id(var)])
    return reached


class Reducer:
    """Runs the buckets of one DistributedDataParallel (see the module docstring)."""

    def __init__(self, named_params: list, comm, cap_bytes: int, find_unused: bool) -> None:
        self.params = [(i, n, p) for i, (n, p) in enumerate(named_params)]
        self.comm = comm
        self.world = comm.Get_size()
        self.find_unused = find_unused
        self.buckets = make_buckets(self.params, cap_bytes)
        self.where = {}  # position -> (bucket, slot)
        for b in self.buckets:
            for slot, (pos, _, _) in enumerate(b.params):
                self.where[pos] = (b, slot)
        self.armed = False        # a forward prepared this backward's reduction
        self.started = False      # some hook of it has fired
        self.ready = np.zeros(len(self.params), dtype=bool)
        self.used = np.zeros(len(self.params), dtype=np.int32)
        self.used_request = None
        self.unused_now: set = set()
        self.next_bucket = 0
        self.events: list = []    # ("launch", bucket) / ("wait",): read by tests of overlap
        self.record_events = False
        self.handles = [p.register_post_accumulate_grad_hook(self._hook(pos))
                        for pos, _, p in self.params]

    def remove_hooks(self) -> None:
        for h in self.handles:
            h.remove()

    # -- one iteration -----------------------------------------------------------------
    def check_finished(self) -> None:
        """Called at each forward: the previous backward's reduction must be complete."""
        if not (self.armed and self.started):
            self.armed = False
            return
        missing = [name for pos, name, _ in self.params if not self.ready[pos]]
        raise op_error(RuntimeError, "DistributedDataParallel",
                       "Expected to have finished reduction in the prior iteration before "
                       "starting a new one. This error indicates that your module has "
                       "parameters that were not used in producing loss: "
                       f"{', '.join(missing)}. Pass find_unused_parameters=True to "
                       "DistributedDataParallel, or make sure every forward output takes "
                       "part in the loss")

    def prepare(self, outputs) -> None:
        """A forward that needs synchronised gradients ran: arm the hooks."""
        self.armed, self.started = True, False
        self.ready[:] = False
        self.used[:] = 0
        self.next_bucket = 0
        for b in self.buckets:
            b.waiting = len(b.params)
            b.request = None
        self.unused_now = set()
        if self.find_unused:
            reached = reachable_params(outputs, self.params)
            self.unused_now = {pos for pos, _, p in self.params if pos not in reached}
            self.used[sorted(reached)] = 1  # known now: sent to the others with bucket 0

    def _hook(self, pos: int):
        def hook(param) -> None:
            if self.armed:
                self._ready(pos)
        return hook

    def _ready(self, pos: int) -> None:
        if not self.started:
            self.started = True
            if self.unused_now:
                self._mark(sorted(self.unused_now))
        if self.record_events:
            self.events.append(("ready", pos))
        if self.ready[pos]:
            name = self.params[pos][1]
            raise op_error(RuntimeError, "DistributedDataParallel",
                           f"Expected to mark a variable ready only once: parameter {name} "
                           "got a second gradient in one backward (used in two backward "
                           "passes of one forward, or marked unused by find_unused_parameters "
                           "but reached by backward)")
        self._mark([pos])
        self._poll()

    def _mark(self, q_list) -> None:
        for q in q_list:
            self.ready[q] = True
            bucket, _ = self.where[q]
            bucket.waiting -= 1
        while self.next_bucket < len(self.buckets) and self.buckets[self.next_bucket].waiting == 0:
            self._launch(self.buckets[self.next_bucket])
            self.next_bucket += 1
        if self.next_bucket == len(self.buckets) and self.armed:
            self._finish()

    def _launch(self, b: Bucket) -> None:
        from mpi4py import MPI
        if b.index == 0 and self.find_unused:  # which parameters any rank used
            self.used_request = self.comm.Iallreduce(MPI.IN_PLACE, self.used, MPI.MAX)
        for (pos, _, p), lo, hi in zip(b.params, b.offsets[:-1], b.offsets[1:]):
            g = p._grad
            if g is None:
                b.flat[lo:hi] = 0
            else:
                data = g._data
                b.flat[lo:hi] = (data if type(data) is np.ndarray else np.asarray(
                    data.get())).reshape(-1)
        b.request = self.comm.Iallreduce(MPI.IN_PLACE, b.flat, MPI.SUM)
        if self.record_events:
            self.events.append(("launch", b.index))

    def _poll(self) -> None:
        from mpi4py import MPI
        live = [b.request for b in self.buckets[:self.next_bucket] if b.request is not None]
        if live:
            MPI.Request.Testall(live)

    def _finish(self) -> None:
        """Every bucket started: wait for them and write the averages into ``.grad``."""
        from mpi4py import MPI
        from ...tensor import wrap_array
        MPI.Request.Waitall([b.request for b in self.buckets]
                            + ([self.used_request] if self.used_request is not None else []))
        self.used_request = None
        if self.record_events:
            self.events.append(("wait",))
        for b in self.buckets:
            b.flat /= self.world
            for (pos, _, p), lo, hi in zip(b.params, b.offsets[:-1], b.offsets[1:]):
                if self.find_unused and not self.used[pos]:
                    continue  # no rank used it: its .grad stays as it was
                avg = b.flat[lo:hi].reshape(p._data.shape)
                g = p._grad
                if g is not None and type(g._data) is np.ndarray and g._data.flags.writeable:
                    g._data[...] = avg
                    g._vc.value += 1
                elif g is not None and type(g._data) is not np.ndarray:
                    from ...backends import backend_of
                    g._data[...] = backend_of(g._data).from_host(avg)
                else:
                    p._grad = wrap_array(avg.copy())
                    p._grad_owned = True
        self.armed = False
