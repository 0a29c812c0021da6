"""Run by test_mpi.py under ``mpiexec -n N python -m mpi4py``: every collective against
NumPy, computed on each rank from all ranks' (reproducible) data. Prints one OK line a rank."""
from __future__ import annotations

import numpy as np


def rank_data(r: int, shape, dtype) -> np.ndarray:
    rng = np.random.default_rng(100 + r)
    if np.dtype(dtype) == np.bool_:
        return rng.random(shape) < 0.5
    if np.dtype(dtype).kind in "iu":
        return rng.integers(-5, 6, size=shape).astype(dtype)
    return rng.uniform(0.5, 2.0, size=shape).astype(dtype)


def check(ours, ref, what):
    ours = np.asarray(ours)
    assert ours.dtype == ref.dtype, (what, ours.dtype, ref.dtype)
    if ref.dtype.kind == "f":
        tol = {2: 1e-3, 4: 1e-6, 8: 1e-12}[ref.dtype.itemsize]
        np.testing.assert_allclose(ours, ref, rtol=tol, atol=0, err_msg=what)
    else:
        np.testing.assert_array_equal(ours, ref, err_msg=what)


def main() -> None:
    import chainrule as cr
    import chainrule.distributed as dist
    dist.init_process_group(backend="mpi")
    r, n = dist.get_rank(), dist.get_world_size()
    assert dist.is_initialized() and dist.get_backend() == "mpi"
    Op = dist.ReduceOp
    shape = (3, 4)
    # float16 has no MPI type: reduced in float32 and cast back
    dtypes = [np.float64, np.float32, np.float16, np.int64, np.int32, np.bool_]
    refs = {Op.SUM: lambda a: a.sum(0), Op.PRODUCT: lambda a: a.prod(0),
            Op.MIN: lambda a: a.min(0), Op.MAX: lambda a: a.max(0),
            Op.AVG: lambda a: a.sum(0) / n}
    for dt in dtypes:
        every = np.stack([rank_data(q, shape, dt) for q in range(n)])
        mine = every[r]
        for op, ref_fn in refs.items():
            if op is Op.AVG and np.dtype(dt).kind not in "f":
                continue
            if np.dtype(dt) == np.bool_:
                ref = {Op.SUM: every.any(0), Op.MAX: every.any(0), Op.PRODUCT: every.all(0),
                       Op.MIN: every.all(0)}[op]
            else:
                ref = ref_fn(every.astype(np.float64) if np.dtype(dt).kind == "f" else every)
                ref = ref.astype(dt)
            t = cr.tensor(mine.copy())
            ret = dist.all_reduce(t, op=op)
            assert ret is None
            check(t.numpy(), ref, f"all_reduce {op} {dt}")
            # async, on a strided view: written back in place into the base
            base = cr.tensor(np.zeros((shape[0], shape[1] * 2), dtype=dt))
            view = base[:, ::2]
            view.copy_(cr.tensor(mine.copy()))
            work = dist.all_reduce(view, op=op, async_op=True)
            work.wait()
            assert work.is_completed()
            check(base.numpy()[:, ::2], ref, f"async all_reduce on a view {op} {dt}")
            # reduce to rank n-1
            t = cr.tensor(mine.copy())
            dist.reduce(t, dst=n - 1, op=op)
            check(t.numpy(), ref if r == n - 1 else mine, f"reduce {op} {dt}")
            # reduce_scatter: rank q gets block q of the reduction of everyone's lists
            lists = np.stack([np.stack([rank_data(q * 7 + k, shape, dt) for k in range(n)])
                              for q in range(n)])  # [rank, block, ...]
            out = cr.tensor(np.zeros(shape, dtype=dt))
            dist.reduce_scatter(out, [cr.tensor(b.copy()) for b in lists[r]], op=op)
            if np.dtype(dt) == np.bool_:
                rs_ref = ref_bool(lists[:, r], op, Op)
            else:
                col = lists[:, r].astype(np.float64) if np.dtype(dt).kind == "f" else lists[:, r]
                rs_ref = ref_fn(col).astype(dt)
            check(out.numpy(), rs_ref, f"reduce_scatter {op} {dt}")
            out2 = cr.tensor(np.zeros(shape, dtype=dt))
            dist.reduce_scatter_tensor(out2, cr.tensor(np.concatenate(lists[r])), op=op)
            check(out2.numpy(), rs_ref, f"reduce_scatter_tensor {op} {dt}")
        # broadcast from the last rank
        t = cr.tensor(mine.copy())
        dist.broadcast(t, src=n - 1)
        check(t.numpy(), every[n - 1], f"broadcast {dt}")
        # all_gather / all_gather_into_tensor
        outs = [cr.tensor(np.zeros(shape, dtype=dt)) for _ in range(n)]
        dist.all_gather(outs, cr.tensor(mine.copy()))
        for q in range(n):
            check(outs[q].numpy(), every[q], f"all_gather {dt} from {q}")
        big = cr.tensor(np.zeros((n * shape[0], shape[1]), dtype=dt))
        dist.all_gather_into_tensor(big, cr.tensor(mine.copy()))
        check(big.numpy(), np.concatenate(every), f"all_gather_into_tensor {dt}")
        # gather to rank 0
        glist = [cr.tensor(np.zeros(shape, dtype=dt)) for _ in range(n)] if r == 0 else None
        dist.gather(cr.tensor(mine.copy()), glist, dst=0)
        if r == 0:
            for q in range(n):
                check(glist[q].numpy(), every[q], f"gather {dt} from {q}")
        # scatter from rank 0: rank q gets rank 0's q-th piece
        pieces = np.stack([rank_data(50 + q, shape, dt) for q in range(n)])
        t = cr.tensor(np.zeros(shape, dtype=dt))
        dist.scatter(t, [cr.tensor(p.copy()) for p in pieces] if r == 0 else None, src=0)
        check(t.numpy(), pieces[r], f"scatter {dt}")
    # objects, barrier, async barrier
    objs = [None]
    dist.all_gather_object(objs, {"rank": r})
    assert objs == [{"rank": q} for q in range(n)]
    lst = [r, "x"] if r == 0 else [None, None]
    dist.broadcast_object_list(lst, src=0)
    assert lst == [0, "x"]
    dist.barrier()
    dist.barrier(async_op=True).wait()
    # a wrong call names the argument
    try:
        dist.all_gather([cr.zeros(2)], cr.zeros(2))
    except ValueError as exc:
        assert "tensor_list" in str(exc), exc
    else:
        raise AssertionError("all_gather with a short list did not raise")
    try:
        dist.all_reduce(cr.tensor([1, 2]), op=Op.AVG)
    except TypeError as exc:
        assert "AVG" in str(exc)
    else:
        raise AssertionError("integer AVG did not raise")
    dist.destroy_process_group()
    assert not dist.is_initialized()
    print(f"OK collectives rank {r} of {n}", flush=True)


def ref_bool(col, op, Op):
    return col.any(0) if op in (Op.SUM, Op.MAX) else col.all(0)


if __name__ == "__main__":
    main()
