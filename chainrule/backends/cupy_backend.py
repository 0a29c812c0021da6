"""The CuPy backend (NVIDIA GPUs); imported only when a CUDA device is asked for.

It is built on a ``cupy`` module and a ``cupyx`` module: CuPy's own, or, in tests and on
machines without a GPU, the CPU stand-in of :mod:`chainrule.backends.standin` (same
interface, stricter arrays). Everything device-specific goes through these two modules,
so the stand-in runs the very code path a GPU runs.

Several GPUs (``cuda:0``, ``cuda:1`` …) are one backend each, found from an array's own
device (``arr.device.id``, CuPy's). CuPy runs a kernel on its *current* device, so a
backend makes its GPU current when it is looked up for an array (:meth:`CupyBackend.of_array`)
or asked to allocate or copy: ops on ``cuda:1`` tensors run on GPU 1 whatever was current
before. The current device that PyTorch programs choose (``cuda.set_device``, ``with
cuda.device(1):``; what ``device="cuda"`` without an index means) is chainrule's own record,
:func:`selected_device`, kept apart from CuPy's, which follows the tensors. With one GPU
none of this costs anything: there is one backend and no switching.
"""
from __future__ import annotations

import contextlib
import os
import threading

import numpy

from . import standin
from .base import Backend, Device
from .cupy_fused import FusedKernels
from .registry import register_backend, unregister_backend

_BACKENDS: dict = {}  # device index → its CupyBackend
FUSED_ENV = "CHAINRULE_CUDA_FUSED"


class CupyBackend(Backend):
    name = "cupy"

    def __init__(self, cupy, cupyx, index: int = 0) -> None:
        super().__init__(cupy)
        self.index = index
        self.device = Device("cuda", index)
        self._runtime = cupy.cuda.runtime
        self.several = self._runtime.getDeviceCount() > 1  # (one GPU: never switch)
        self.ndarray = cupy.ndarray
        self._cupyx = cupyx
        special = getattr(getattr(cupyx, "scipy", None), "special", None)
        if special is not None and hasattr(special, "erf"):
            self.erf, self.erfinv, self.expit = special.erf, special.erfinv, special.expit
        # one kernel for the hot elementwise chains (activation backwards, optimizer steps);
        # each is built on first use (see cupy_fused.py). CHAINRULE_CUDA_FUSED=0 turns them
        # off (a benchmark's baseline: the same steps as separate array operations)
        self._kernels = FusedKernels(cupy, special) if hasattr(cupy, "fuse") else None
        self._fused = None  # the kernels in use (fused_kernel reads it), or None: off
        self.use_fused_kernels(os.environ.get(FUSED_ENV, "1") != "0")

    def use_fused_kernels(self, enabled: bool = True) -> bool:
        """Turn the fused kernels on or off (off: the same steps as separate array
        operations, e.g. to time one against the other); returns whether they were on."""
        was = self._fused is not None
        self._fused = self._kernels if enabled else None
        return was

    @staticmethod
    def errstate(**kwargs):
        """CuPy has no floating-point error state (its kernels never warn): nothing to set."""
        return contextlib.nullcontext()

    def scatter_add(self, target, index, values) -> None:
        self._cupyx.scatter_add(target, index, values)

    def activate(self) -> None:
        """Make this backend's GPU CuPy's current device (where kernels run, arrays are made)."""
        if self.several and self._runtime.getDevice() != self.index:
            self._runtime.setDevice(self.index)

    def of_array(self, array) -> "CupyBackend":
        """The backend of ``array``'s GPU, made current (see the module doc)."""
        if not self.several:
            return self
        backend = _BACKENDS.get(array.device.id) or get_cupy_backend(array.device.id)
        backend.activate()
        return backend

    def to_host(self, array, blocking: bool = True):
        if not isinstance(array, self.module.ndarray):
            return self.module.asnumpy(array)
        return array.get(blocking=blocking)  # (non_blocking=True: an async copy, CuPy's stream)

    def from_host(self, array):
        """This GPU's copy of a host array, or of an array on another GPU (CuPy's asarray
        copies across devices inside the target's context)."""
        self.activate()
        return self.module.asarray(array)

    def random_state(self):
        """A fresh ``cupy.random.RandomState`` on cuRAND's Philox generator: a CUDA
        generator reseeds it before each draw (see chainrule.random), and Philox reseeds
        without the state-setup kernel XORWOW (CuPy's default) runs on every new seed."""
        curand = getattr(self.module.cuda, "curand", None)
        if curand is None:
            from cupy.cuda import curand
        # (seeds as numpy.uint64: CuPy casts seeds to uint64 "safely", which int64 is not)
        self.activate()
        state = self.module.random.RandomState(numpy.uint64(0),
                                               method=curand.CURAND_RNG_PSEUDO_PHILOX4_32_10)
        return _OnDevice(state, self) if self.several else state

    def is_array(self, obj) -> bool:
        return isinstance(obj, self.module.ndarray)


def cupy_modules():
    """``(cupy, cupyx)``: the stand-in's when it is enabled, else CuPy's (ImportError without)."""
    if standin.enabled():
        return standin.module, standin.cupyx
    import cupy
    import cupyx
    import cupyx.scipy.special  # noqa: F401  (erf, erfinv, expit on the device)
    return cupy, cupyx


def get_cupy_backend(index: int | None = None) -> CupyBackend:
    """The backend of GPU ``index`` (None: :func:`selected_device`); an index past the last
    GPU raises PyTorch's "CUDA error: invalid device ordinal"."""
    if index is None:
        index = selected_device()
    backend = _BACKENDS.get(index)
    if backend is None:
        try:
            cupy, cupyx = cupy_modules()
        except ImportError as e:
            raise RuntimeError(
                "device 'cuda' needs CuPy, which is not installed: "
                "pip install 'chainrule[gpu]' (or a cupy-cudaXXx wheel matching your CUDA)") from e
        count = cupy.cuda.runtime.getDeviceCount()
        if not 0 <= index < count:
            from ..errors import DeviceError, op_error
            raise op_error(DeviceError, "device", f"cuda:{index}: CUDA error: invalid device "
                           f"ordinal ({count} CUDA device(s) visible, cuda:0 to cuda:{count - 1})")
        backend = _BACKENDS[index] = CupyBackend(cupy, cupyx, index)
        if getattr(cupy, "is_standin", False):  # (CuPy's arrays are found by their module)
            register_backend(cupy.ndarray, backend)  # (any GPU's: of_array picks the array's)
    return backend


def reset() -> None:
    """Forget the backends (the stand-in was switched on or off)."""
    unregister_backend(standin.ndarray)
    _BACKENDS.clear()
    _SELECTED.__dict__.clear()


# ------------------------------------------------------ the selected device --
_SELECTED = threading.local()  # chainrule's current CUDA device, per thread as PyTorch's


def selected_device() -> int:
    """The index ``device="cuda"`` means: ``cuda.set_device``'s choice (0 until then)."""
    return getattr(_SELECTED, "index", 0)


def select_device(index: int) -> None:
    """Make GPU ``index`` the one ``device="cuda"`` means (checked against the GPUs present)."""
    get_cupy_backend(index).activate()
    _SELECTED.index = index


class _OnDevice:
    """An object whose methods run with its GPU current: a cuRAND state lives on one GPU,
    and its draws are made there whatever device the caller's last op used."""

    def __init__(self, obj, backend: CupyBackend) -> None:
        self._obj, self._backend = obj, backend

    def __getattr__(self, name):
        attr = getattr(self._obj, name)
        if not callable(attr):
            return attr

        def on_device(*args, **kwargs):
            self._backend.activate()
            return attr(*args, **kwargs)
        return on_device


standin.ON_SWITCH.append(reset)
