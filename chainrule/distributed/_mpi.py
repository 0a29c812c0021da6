"""The one place that imports mpi4py: lazily, with an error that says how to install it.

chainrule imports without mpi4py; only ``init_process_group`` (and what runs after it)
needs it. ``mpi4py`` initialises MPI when imported, so the import waits until then.
"""
from __future__ import annotations

import importlib.util

_INSTALL = ("pip install 'chainrule[mpi]' (mpi4py and the mpich wheel, which provides "
            "mpiexec), then launch with: mpiexec -n 2 python -m mpi4py your_script.py")


def mpi_installed() -> bool:
    """True when mpi4py can be imported (checked without importing it, which starts MPI)."""
    return importlib.util.find_spec("mpi4py") is not None


def load_mpi():
    """``mpi4py.MPI``, or a RuntimeError naming the missing piece and the install line."""
    try:
        from mpi4py import MPI
    except ImportError as exc:  # mpi4py missing, or its MPI library missing/broken
        what = "mpi4py is not installed" if not mpi_installed() else \
            f"mpi4py is installed but cannot load an MPI library ({exc})"
        raise RuntimeError(f"chainrule.distributed (backend 'mpi'): {what}; install it with "
                           f"{_INSTALL}") from exc
    return MPI


def under_mpiexec() -> bool:
    """True in a process started by mpiexec/mpirun (their environment variables say so)."""
    import os
    return any(k in os.environ for k in ("PMI_RANK", "PMI_SIZE", "PMIX_RANK",
                                         "OMPI_COMM_WORLD_RANK", "HYDI_CONTROL_FD", "PMI_FD"))
