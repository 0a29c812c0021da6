"""``chainrule.backends.cudnn``: PyTorch's cuDNN switches, accepted and ignored.

chainrule never calls cuDNN (its GPU kernels are CuPy's own), so ``is_available()``
is False and the flags change nothing: ``benchmark`` (autotuning), ``deterministic``
(chainrule's kernels are deterministic on the CPU anyway), ``enabled``, ``allow_tf32``.
They keep the values programs set, with PyTorch's defaults.

>>> import chainrule as cr
>>> cr.backends.cudnn.benchmark = True      # accepted; does nothing here
>>> cr.backends.cudnn.is_available()
False
"""
from __future__ import annotations

benchmark: bool = False
deterministic: bool = False
enabled: bool = True
allow_tf32: bool = True


def is_available() -> bool:
    """False: chainrule does not use cuDNN."""
    return False


def version() -> None:
    """None: no cuDNN is loaded (as CPU-only PyTorch)."""
    return None
