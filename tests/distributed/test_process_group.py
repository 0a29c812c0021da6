"""chainrule.distributed in one process, without MPI started: what PyTorch does without a
process group, and the errors that say how to get one."""
from __future__ import annotations

import sys

import pytest

import chainrule as cr
import chainrule.distributed as dist
from chainrule.distributed import _mpi
from chainrule.nn.parallel import DistributedDataParallel


@pytest.mark.parametrize("call", [
    lambda: dist.get_rank(), lambda: dist.get_world_size(), lambda: dist.barrier(),
    lambda: dist.all_reduce(cr.ones(2)), lambda: dist.broadcast(cr.ones(2), 0),
    lambda: dist.all_gather([cr.ones(2)], cr.ones(2)), lambda: dist.destroy_process_group(),
    lambda: DistributedDataParallel(cr.nn.Linear(2, 2))])
def test_without_a_process_group_calls_raise_as_pytorch(call):
    import torch.distributed as tdist
    assert not tdist.is_initialized()
    with pytest.raises(ValueError, match="init_process_group"):
        call()


def test_missing_mpi4py_names_the_install_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # import mpi4py now fails
    monkeypatch.setattr(_mpi, "mpi_installed", lambda: False)
    with pytest.raises(RuntimeError, match=r"pip install 'chainrule\[mpi\]'.*mpiexec"):
        dist.init_process_group(backend="mpi")
    assert not dist.is_initialized()
    assert dist.is_available() is dist.is_mpi_available()


def test_unknown_backend_is_named():
    with pytest.raises(ValueError, match="unknown backend 'ucc'"):
        dist.init_process_group(backend="ucc")


def test_reduce_op_names_match_pytorch():
    import torch.distributed as tdist
    for name in ("SUM", "AVG", "MAX", "MIN", "PRODUCT", "BAND", "BOR", "BXOR"):
        assert hasattr(tdist.ReduceOp, name) and hasattr(dist.ReduceOp, name)
