"""Allreduce bandwidth and the DDP step time of an MLP, over MPI on this machine.

Run: ``OMP_NUM_THREADS=1 mpiexec -n 2 python -m mpi4py benchmarks/allreduce.py`` (and
``-n 1`` for the single-rank step time). Rank 0 prints a table: message size, median
time of ``MPI_Allreduce`` (sum, float32), and the bus bandwidth 2(N−1)/N × bytes / time
that ring-allreduce cost models use; then the median step time of a DDP MLP.
"""
from __future__ import annotations

import time

import numpy as np


def main() -> None:
    import chainrule as cr
    import chainrule.distributed as dist
    from chainrule.nn.parallel import DistributedDataParallel as DDP
    dist.init_process_group()
    from mpi4py import MPI
    comm = dist.group.WORLD.comm
    rank, n = dist.get_rank(), dist.get_world_size()
    if n > 1:
        if rank == 0:
            print(f"allreduce over {n} ranks (float32 sum)\n{'bytes':>10} {'median s':>11} "
                  f"{'bus GB/s':>9}")
        for nbytes in [2 ** k for k in range(10, 27, 2)]:  # 1 KiB .. 64 MiB
            buf = np.ones(nbytes // 4, np.float32)
            reps = max(3, min(200, (1 << 24) // nbytes))
            times = []
            for _ in range(reps):
                comm.Barrier()
                t0 = time.perf_counter()
                comm.Allreduce(MPI.IN_PLACE, buf)
                times.append(time.perf_counter() - t0)
            med = float(np.median(times))
            if rank == 0:
                print(f"{nbytes:>10} {med:>11.3e} {2 * (n - 1) / n * nbytes / med / 1e9:>9.3f}")
    cr.manual_seed(0)
    model = cr.nn.Sequential(cr.nn.Linear(64, 512), cr.nn.ReLU(), cr.nn.Linear(512, 512),
                             cr.nn.ReLU(), cr.nn.Linear(512, 10))
    model = DDP(model) if n > 1 else model
    opt = cr.optim.SGD(model.parameters(), lr=0.01)
    global_batch = 256
    x = cr.randn(global_batch // n, 64)
    y = cr.randint(0, 10, (global_batch // n,))
    times = []
    for step in range(30):
        comm.Barrier()
        t0 = time.perf_counter()
        opt.zero_grad()
        cr.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        times.append(time.perf_counter() - t0)
    if rank == 0:
        params = sum(p.numel() for p in model.parameters())
        print(f"MLP 64-512-512-10 ({params:,} parameters), global batch {global_batch}, "
              f"{n} rank(s): median step {np.median(times[5:]) * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
