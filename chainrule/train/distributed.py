"""What ``fit`` and ``chainrule train`` do when run by ``mpiexec`` on several ranks.

Each rank trains on its shard (a :class:`DistributedSampler`) with the model wrapped in
:class:`DistributedDataParallel`; the epoch's training metrics are summed over the ranks,
and rank 0 alone prints and writes files. Launch::

    mpiexec -n 2 python -m mpi4py -m chainrule train --data digits
"""
from __future__ import annotations


def world() -> tuple[int, int]:
    """(rank, world size) of the default process group, (0, 1) without one."""
    from .. import distributed as dist
    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def start_if_launched() -> tuple[int, int]:
    """Join the process group when mpiexec started several ranks; (rank, world size)."""
    import os
    from .. import distributed as dist
    if not dist.is_initialized() and dist.launched_by_mpiexec() \
            and int(os.environ.get("PMI_SIZE", os.environ.get("OMPI_COMM_WORLD_SIZE", "1"))) > 1:
        dist.init_process_group(backend="mpi")
    return world()


def sharded_sampler(train_data):
    """The DistributedSampler of ``train_data`` (a DataLoader), or None."""
    from ..utils.data.distributed import DistributedSampler
    sampler = getattr(train_data, "sampler", None)
    return sampler if isinstance(sampler, DistributedSampler) else None


def start_epoch(train_data, epoch: int) -> None:
    """A DistributedSampler shuffles by epoch: tell it which one starts (PyTorch's
    ``sampler.set_epoch``, which ``fit`` calls for you)."""
    sampler = sharded_sampler(train_data)
    if sampler is not None:
        sampler.set_epoch(epoch)


def combine_sums(sums: dict, train_data) -> dict:
    """The epoch's loss/accuracy sums over every rank's shard (each rank saw only its own)."""
    rank, size = world()
    if size == 1 or sharded_sampler(train_data) is None:
        return sums
    from .. import distributed as dist
    everyone = [None] * size
    dist.all_gather_object(everyone, sums)
    return {"loss": sum(s["loss"] for s in everyone), "count": sum(s["count"] for s in everyone),
            "correct": sum(s["correct"] for s in everyone),
            "acc_ok": all(s["acc_ok"] for s in everyone)}
