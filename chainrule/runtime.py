"""Process-wide switches with PyTorch's names, and what each does on chainrule.

* ``use_deterministic_algorithms`` — recorded and reported; chainrule's NumPy kernels
  are deterministic already (same inputs, same bits), so it changes nothing.
* ``set_float32_matmul_precision`` — recorded and reported ('highest', 'high' or
  'medium'); matmuls always run in the arrays' own precision here.
* ``set_num_threads`` / ``set_num_interop_threads`` — recorded and reported only:
  NumPy's BLAS sizes its thread pool when it loads (``OMP_NUM_THREADS``,
  ``OPENBLAS_NUM_THREADS`` …) and chainrule does not depend on threadpoolctl to change
  it later; set those variables before starting Python instead.
* ``get_default_device`` — always ``device('cpu')``: creation functions take
  ``device=`` per call (``set_default_device`` is not provided).

>>> import chainrule as cr
>>> cr.set_float32_matmul_precision("high"); cr.get_float32_matmul_precision()
'high'
>>> cr.set_float32_matmul_precision("highest")
"""
from __future__ import annotations

import os
import warnings

from .backends import Device

__all__ = ["use_deterministic_algorithms", "are_deterministic_algorithms_enabled",
           "is_deterministic_algorithms_warn_only_enabled", "set_float32_matmul_precision",
           "get_float32_matmul_precision", "set_num_threads", "get_num_threads",
           "set_num_interop_threads", "get_num_interop_threads", "get_default_device"]

_STATE = {"deterministic": False, "warn_only": False, "matmul_precision": "highest",
          "num_threads": None, "num_interop_threads": None}


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """Record the switch (chainrule's kernels are deterministic whatever it says).

    >>> import chainrule as cr
    >>> cr.use_deterministic_algorithms(True, warn_only=True)
    >>> (cr.are_deterministic_algorithms_enabled(),
    ...  cr.is_deterministic_algorithms_warn_only_enabled())
    (True, True)
    >>> cr.use_deterministic_algorithms(False)
    """
    _STATE["deterministic"], _STATE["warn_only"] = bool(mode), bool(warn_only)


def are_deterministic_algorithms_enabled() -> bool:
    """Whether :func:`use_deterministic_algorithms` is on
    (``torch.are_deterministic_algorithms_enabled``).

    >>> import chainrule as cr
    >>> cr.are_deterministic_algorithms_enabled()
    False
    """
    return _STATE["deterministic"]


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    """Whether deterministic mode only warns (set by
    ``use_deterministic_algorithms(True, warn_only=True)``;
    ``torch.is_deterministic_algorithms_warn_only_enabled``).

    >>> import chainrule as cr
    >>> cr.is_deterministic_algorithms_warn_only_enabled()
    False
    """
    return _STATE["warn_only"]


def set_float32_matmul_precision(precision: str) -> None:
    """Record 'highest', 'high' or 'medium'; anything else warns and is ignored, as PyTorch.

    >>> import chainrule as cr
    >>> cr.set_float32_matmul_precision("high")
    >>> cr.get_float32_matmul_precision()
    'high'
    >>> cr.set_float32_matmul_precision("highest")
    """
    if precision not in ("highest", "high", "medium"):
        warnings.warn(f"{precision} is not one of 'highest', 'high', or 'medium'; the current "
                      f"set_float32_matmul_precision call has no effect.", UserWarning, stacklevel=2)
        return
    _STATE["matmul_precision"] = precision


def get_float32_matmul_precision() -> str:
    """The float32 matmul precision setting: "highest", "high" or "medium"
    (``torch.get_float32_matmul_precision``).

    >>> import chainrule as cr
    >>> cr.get_float32_matmul_precision()
    'highest'
    """
    return _STATE["matmul_precision"]


def _positive(n, name: str) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        raise RuntimeError(f"{name} expects a positive integer, got {n!r}")
    return n


def _default_threads() -> int:
    # what NumPy's BLAS was most likely started with: the usual variable, else every core
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        if os.environ.get(var, "").isdigit() and int(os.environ[var]) > 0:
            return int(os.environ[var])
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def set_num_threads(n: int) -> None:
    """Record ``n`` for :func:`get_num_threads`; NumPy's BLAS threads stay as they started."""
    _STATE["num_threads"] = _positive(n, "set_num_threads")


def get_num_threads() -> int:
    """The number last set, else the thread count NumPy's BLAS started with (env or cores).

    >>> import chainrule as cr
    >>> cr.get_num_threads() >= 1
    True
    """
    return _STATE["num_threads"] or _default_threads()


def set_num_interop_threads(n: int) -> None:
    """Record ``n``; chainrule runs no inter-op thread pool."""
    _STATE["num_interop_threads"] = _positive(n, "set_num_interop_threads")


def get_num_interop_threads() -> int:
    """The number of threads for inter-op parallelism (``torch.get_num_interop_threads``).

    >>> import chainrule as cr
    >>> cr.get_num_interop_threads() >= 1
    True
    """
    return _STATE["num_interop_threads"] or _default_threads()


def get_default_device() -> Device:
    """``device('cpu')``: tensors are made on the CPU unless ``device=`` says otherwise.

    >>> import chainrule as cr
    >>> cr.get_default_device()
    device(type='cpu')
    """
    return Device("cpu")
