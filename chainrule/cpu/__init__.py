"""``chainrule.cpu``, as ``torch.cpu``: the CPU is always there, and ``cpu.amp`` holds
the deprecated spellings of CPU autocast and the CPU GradScaler.

>>> import chainrule as cr
>>> cr.cpu.is_available(), cr.cpu.device_count()
(True, 1)
"""
from __future__ import annotations

from . import amp  # noqa: F401

__all__ = ["amp", "current_device", "device_count", "is_available", "synchronize"]


def is_available() -> bool:
    """Always True: chainrule computes on the CPU."""
    return True


def device_count() -> int:
    """1, as PyTorch's ``torch.cpu.device_count()``."""
    return 1


def current_device() -> str:
    """'cpu', as PyTorch."""
    return "cpu"


def synchronize(device=None) -> None:
    """Nothing to wait for: CPU ops finish before they return."""
