"""Array backends: the one place that knows NumPy from CuPy.

Ops receive a backend object ``xp``; any array-module function (``xp.exp``,
``xp.matmul`` …) is reached through it, and the few things that differ between
array libraries (scatter-add, host transfer) are methods of the backend.
The backend is derived from the arrays themselves, never from a global switch.
"""
from __future__ import annotations

from . import host_memory  # noqa: F401  (opt-in: keeps freed host memory for reuse; see there)
from .base import Backend, Device
from .numpy_backend import NUMPY
from .registry import REGISTERED as _REGISTERED, register_backend, unregister_backend

__all__ = ["Backend", "Device", "NUMPY", "backend_of", "backend_for_device", "device_of_array",
           "on_its_gpu", "register_backend", "unregister_backend"]


def backend_of(array) -> Backend:
    """The backend that owns ``array`` (NumPy for NumPy arrays and scalars)."""
    if _REGISTERED:
        found = _REGISTERED.get(type(array))
        if found is not None:
            return found.of_array(array)  # (a backend of several devices picks the array's)
    if type(array).__module__.startswith("cupy"):
        from .cupy_backend import get_cupy_backend
        return get_cupy_backend().of_array(array)
    return NUMPY


def on_its_gpu(array):
    """``array``, its GPU made CuPy's current device (nothing to do for NumPy arrays). Array
    methods run on the current device: code that computes on a tensor's array outside an op
    (an index check: ``arr.min().item()``) takes the array through here first, as the user's
    previous line may have left another GPU current. Ops do this themselves."""
    backend_of(array)
    return array


def device_of_array(array) -> Device:
    return backend_of(array).device


def backend_for_device(device) -> Backend:
    """The backend for a device spec: ``"cpu"``, ``"cuda"``, ``"cuda:0"`` or a Device."""
    dev = Device(device)
    if dev.type == "cpu":
        return NUMPY
    if dev.type == "cuda":
        from .cupy_backend import get_cupy_backend
        backend = get_cupy_backend(dev.index)  # (None: the selected GPU, cuda.set_device's)
        backend.activate()  # (what is made next is made there)
        return backend
    raise AssertionError(f"unknown device type {dev.type!r}")  # Device() refuses those already
