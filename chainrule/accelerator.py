"""``chainrule.accelerator``: PyTorch's device-agnostic accelerator queries.

chainrule's only accelerator is CUDA through CuPy (see :mod:`chainrule.cuda`).

>>> import chainrule as cr
>>> device = cr.accelerator.current_accelerator() or cr.device("cpu")
"""
from __future__ import annotations

from . import cuda as _cuda
from .backends import Device

__all__ = ["is_available", "current_accelerator", "device_count", "current_device_index",
           "set_device_index", "device_index"]


def is_available() -> bool:
    """True when a CUDA GPU is usable through CuPy."""
    return _cuda.is_available()


def current_accelerator(check_available: bool = False) -> Device | None:
    """``device('cuda')`` when a GPU is usable, else None (as CPU-only PyTorch)."""
    return Device("cuda") if _cuda.is_available() else None


def device_count() -> int:
    """The number of GPUs CuPy sees (0 without one)."""
    return _cuda.device_count()


def current_device_index() -> int:
    """The selected GPU's index (``cuda.current_device()``); raises without a GPU, as PyTorch."""
    return _cuda.current_device()


def set_device_index(device) -> None:
    """Select the GPU that ``device="cuda"`` means (``cuda.set_device``)."""
    _cuda.set_device(device)


def device_index(device):
    """``with accelerator.device_index(1):`` selects GPU 1 for the block (``cuda.device``)."""
    return _cuda.device(device)
