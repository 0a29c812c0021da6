"""The default process group: every process started by ``mpiexec``, over MPI.

``init_process_group`` imports mpi4py (which starts MPI), records the world
communicator, and installs an exception hook: an uncaught exception on one rank prints
its traceback under a line naming the rank, then aborts every rank (``MPI_Abort``).
Without that a plain ``python`` launch hangs: the other ranks wait in a collective for
the rank that died. (``python -m mpi4py script.py`` aborts the job by itself as well.)
With more than one rank it also starts a watchdog process per host (``_watchdog.py``) that
names a rank killed by a signal, which cannot speak for itself.
"""
from __future__ import annotations

import atexit
import sys
import time
import traceback

from ..errors import op_error
from ._mpi import load_mpi, mpi_installed, under_mpiexec
from ._watchdog_client import start as start_watchdog

__all__ = ["ProcessGroup", "init_process_group", "destroy_process_group", "is_initialized",
           "is_available", "is_mpi_available", "is_gloo_available", "is_nccl_available",
           "get_rank", "get_world_size", "get_backend", "default_group", "group_of",
           "not_initialized", "GroupMember", "group"]

# PyTorch programs name these; under chainrule all of them run over MPI
_BACKENDS = ("mpi", "gloo", "nccl", "cpu:gloo,cuda:nccl", "cuda:nccl,cpu:gloo")


class ProcessGroup:
    """A set of ranks that run collectives together (here: an MPI communicator)."""

    def __init__(self, comm) -> None:
        self.comm = comm

    def rank(self) -> int:
        return self.comm.Get_rank()

    def size(self) -> int:
        return self.comm.Get_size()

    def name(self) -> str:
        return "mpi"

    def __repr__(self) -> str:
        return f"ProcessGroup(backend='mpi', rank={self.rank()}, size={self.size()})"


class GroupMember:
    """``dist.GroupMember.WORLD`` / ``dist.group.WORLD``: the default group once made."""
    WORLD: ProcessGroup | None = None
    NON_GROUP_MEMBER = -100


group = GroupMember

_STATE: dict = {"group": None, "excepthook": None, "watchdog": None}
_ABORT_GRACE_S = 0.5  # seconds between a failed rank's message and MPI_Abort


def not_initialized(what: str) -> ValueError:
    """PyTorch's error for a collective called without a process group."""
    return ValueError(f"chainrule.distributed.{what}: Default process group has not been "
                      f"initialized, please make sure to call init_process_group (launch with "
                      f"mpiexec -n N python -m mpi4py script.py)")


def is_available() -> bool:
    """True when the MPI backend can be used (mpi4py is installed).

    >>> import chainrule.distributed as dist
    >>> isinstance(dist.is_available(), bool)
    True
    """
    return mpi_installed()


def is_mpi_available() -> bool:
    """Same as :func:`is_available`: MPI is chainrule's one backend."""
    return mpi_installed()


def is_gloo_available() -> bool:
    """False: chainrule's only backend is MPI (``backend='gloo'`` still runs over MPI)."""
    return False


def is_nccl_available() -> bool:
    """False: chainrule's only backend is MPI."""
    return False


def is_initialized() -> bool:
    """True between ``init_process_group`` and ``destroy_process_group``.

    >>> import chainrule.distributed as dist
    >>> dist.is_initialized()
    False
    """
    return _STATE["group"] is not None


def default_group(what: str) -> ProcessGroup:
    pg = _STATE["group"]
    if pg is None:
        raise not_initialized(what)
    return pg


def group_of(group_arg, what: str) -> ProcessGroup:
    """The group a collective runs on: ``None`` (or WORLD) means the default one."""
    pg = default_group(what)
    if group_arg is None or group_arg is pg:
        return pg
    if isinstance(group_arg, ProcessGroup):
        return group_arg
    raise op_error(TypeError, f"chainrule.distributed.{what}",
                   f"group must be None or a ProcessGroup, got {type(group_arg).__name__}")


def init_process_group(backend: str | None = None, init_method: str | None = None,
                       timeout=None, world_size: int = -1, rank: int = -1, store=None,
                       group_name: str = "", pg_options=None, device_id=None) -> None:
    """Join the processes started by ``mpiexec`` into the default process group.

    ``backend`` is ``"mpi"`` (the default); ``"gloo"`` and ``"nccl"`` are accepted so that
    PyTorch scripts run unchanged, and also communicate over MPI. Rank and world size
    come from MPI; ``rank``/``world_size`` when given must agree with them.
    ``init_method``, ``store`` and ``timeout`` have no role: mpiexec did the rendezvous.
    Launch: ``mpiexec -n 2 python -m mpi4py train.py``.
    """
    name = "chainrule.distributed.init_process_group"
    if _STATE["group"] is not None:
        raise ValueError(f"{name}: trying to initialize the default process group twice!")
    if backend is not None and str(backend).lower() not in _BACKENDS:
        raise op_error(ValueError, name, f"unknown backend {backend!r}; chainrule runs "
                       "collectives over MPI: use backend='mpi' (or leave it out)")
    MPI = load_mpi()
    comm = MPI.COMM_WORLD
    if world_size not in (-1, None) and int(world_size) != comm.Get_size():
        raise op_error(ValueError, name, f"world_size={world_size}, but mpiexec started "
                       f"{comm.Get_size()} processes")
    if rank not in (-1, None) and int(rank) != comm.Get_rank():
        raise op_error(ValueError, name, f"rank={rank}, but MPI gave this process rank "
                       f"{comm.Get_rank()}")
    pg = ProcessGroup(comm)
    _STATE["group"] = pg
    GroupMember.WORLD = pg
    if comm.Get_size() > 1 and _STATE["excepthook"] is None:
        _STATE["excepthook"] = sys.excepthook
        sys.excepthook = _abort_all_ranks
    if comm.Get_size() > 1:
        _watch(comm)


def _watch(comm) -> None:
    """Have this host's watchdog name this rank if it dies without a word (a signal)."""
    link = _STATE["watchdog"]
    if link is not None:  # a second init_process_group after destroy_process_group
        link.say("H")
        return
    link = start_watchdog(comm)
    if link is not None:
        _STATE["watchdog"] = link
        atexit.register(link.say, "B")  # a normal exit (sys.exit included) is no death


def _abort_all_ranks(exc_type, exc, tb) -> None:
    """An uncaught exception on this rank: say which rank, then end every rank."""
    pg = _STATE["group"]
    if pg is None or exc_type is KeyboardInterrupt:
        (_STATE["excepthook"] or sys.__excepthook__)(exc_type, exc, tb)
        return
    rank, size = pg.rank(), pg.size()
    text = "".join(traceback.format_exception(exc_type, exc, tb))
    sys.stderr.write(f"chainrule.distributed: rank {rank} of {size} failed with an uncaught "
                     f"exception; aborting all ranks\n{text}")
    sys.stderr.flush()
    if _STATE["watchdog"] is not None:  # this end is announced: the watchdog stays quiet
        _STATE["watchdog"].say("A")
    # MPICH's launcher forwards a rank's output through its proxy; an abort that reaches
    # mpiexec first can end the job before that text is passed on (seen on a loaded CI
    # machine: empty stderr). A short pause lets the proxy drain the pipe first.
    time.sleep(_ABORT_GRACE_S)
    pg.comm.Abort(1)


def destroy_process_group(group: ProcessGroup | None = None) -> None:
    """Leave the default process group (MPI itself is finalized when Python exits)."""
    pg = default_group("destroy_process_group")
    if group is not None and group is not pg:
        return
    _STATE["group"] = None
    GroupMember.WORLD = None
    if _STATE["watchdog"] is not None:
        _STATE["watchdog"].say("B")
    if _STATE["excepthook"] is not None:
        sys.excepthook = _STATE["excepthook"]
        _STATE["excepthook"] = None


def get_rank(group: ProcessGroup | None = None) -> int:
    """This process's rank in ``group`` (0 … world_size − 1)."""
    return group_of(group, "get_rank").rank()


def get_world_size(group: ProcessGroup | None = None) -> int:
    """How many processes are in ``group``."""
    return group_of(group, "get_world_size").size()


def get_backend(group: ProcessGroup | None = None) -> str:
    """``"mpi"``: the backend every group uses."""
    group_of(group, "get_backend")
    return "mpi"


def launched_by_mpiexec() -> bool:
    """True in a process that mpiexec started (so ``init_process_group`` can be implied)."""
    return under_mpiexec()
