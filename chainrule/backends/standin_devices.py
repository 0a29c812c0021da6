"""Several devices for the CuPy stand-in (:mod:`chainrule.backends.standin`), as CuPy has them.

CuPy keeps a *current device* per thread (``cupy.cuda.Device(n)`` as a context manager, or
``.use()``; ``cupy.cuda.runtime.getDevice``/``setDevice``): arrays are allocated on the
current device and each remembers its own (``arr.device.id``); a kernel runs on the current
device; ``cupy.asarray(arr)`` and ``arr.copy()`` copy an array of another device onto the
current one. A kernel given an array of another device reads it through peer access where
the GPUs allow it, and otherwise raises ``ValueError`` ("The device where the array resides
(1) is different from the current device (0). Peer access is unavailable …"). The stand-in
has no peer access: it always raises, so code that forgets to make a tensor's device current
fails here rather than running slowly (or on the wrong GPU) on a machine with peer access.

The number of devices comes from the environment variable ``CHAINRULE_CUDA_STANDIN_DEVICES``
(read on each query; default 2, so that every test on the stand-in runs the multi-device
code path: the device switching, per-device pools and checks, not a single-device shortcut).

>>> from chainrule.backends import standin, standin_devices
>>> with standin_devices.Device(1):
...     a = standin.module.ones(2)
>>> a.device.id, standin_devices.current()
(1, 0)
>>> a + a
Traceback (most recent call last):
...
ValueError: The device where the array resides (1) is different from the current device (0). Peer access is unavailable between these devices (the CuPy stand-in has no peer access).
"""
from __future__ import annotations

import os
import threading
import types

ENV = "CHAINRULE_CUDA_STANDIN_DEVICES"
DEFAULT = 2


class CUDARuntimeError(RuntimeError):
    """``cupy.cuda.runtime.CUDARuntimeError``: what the CUDA runtime answers a bad call with."""


def count() -> int:
    """How many devices the stand-in has (``cupy.cuda.runtime.getDeviceCount()``)."""
    value = os.environ.get(ENV, "")
    try:
        n = int(value) if value else DEFAULT
    except ValueError:
        raise CUDARuntimeError(f"{ENV}={value!r}: expected a number of devices") from None
    return max(n, 0)


_LOCAL = threading.local()  # the current device, per thread as CUDA's


def current() -> int:
    """The current device of this thread (``cupy.cuda.runtime.getDevice()``)."""
    return getattr(_LOCAL, "device", 0)


def set_current(index: int) -> None:
    """``cupy.cuda.runtime.setDevice(index)``: refused past the last device, as CUDA does."""
    index = int(index)
    if not 0 <= index < count():
        raise CUDARuntimeError("cudaErrorInvalidDevice: invalid device ordinal")
    _LOCAL.device = index


def check_current(device: int) -> None:
    """Raise CuPy's error for a kernel given an array of ``device`` (not the current one)."""
    here = current()
    if device != here:
        raise ValueError(f"The device where the array resides ({device}) is different from the "
                         f"current device ({here}). Peer access is unavailable between these "
                         "devices (the CuPy stand-in has no peer access).")


class Device:
    """``cupy.cuda.Device``: ``with Device(1):`` makes device 1 current for the block."""

    def __init__(self, device=None) -> None:
        self.id = current() if device is None else int(device)
        self._previous: list = []

    def use(self) -> None:
        set_current(self.id)

    def synchronize(self) -> None:
        if not 0 <= self.id < count():
            raise CUDARuntimeError("cudaErrorInvalidDevice: invalid device ordinal")

    def __enter__(self) -> "Device":
        self._previous.append(current())
        self.use()
        return self

    def __exit__(self, *exc) -> None:
        _LOCAL.device = self._previous.pop()

    def __eq__(self, other) -> bool:
        return isinstance(other, Device) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        return f"<CUDA Device {self.id}>"


def _properties(index: int) -> dict:
    if not 0 <= int(index) < count():
        raise CUDARuntimeError("cudaErrorInvalidDevice: invalid device ordinal")
    return {"name": b"chainrule CPU stand-in", "totalGlobalMem": 8 * 2 ** 30, "major": 0,
            "minor": 0, "multiProcessorCount": 1}


def runtime() -> types.SimpleNamespace:
    """``cupy.cuda.runtime``: the calls chainrule makes."""
    return types.SimpleNamespace(getDeviceCount=count, getDevice=current, setDevice=set_current,
                                 deviceSynchronize=lambda: None, getDeviceProperties=_properties,
                                 CUDARuntimeError=CUDARuntimeError)
