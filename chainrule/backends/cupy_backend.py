"""The CuPy backend (NVIDIA GPUs); imported only when a CUDA device is asked for.

It is built on a ``cupy`` module and a ``cupyx`` module: CuPy's own, or, in tests and on
machines without a GPU, the CPU stand-in of :mod:`chainrule.backends.standin` (same
interface, stricter arrays). Everything device-specific goes through these two modules,
so the stand-in runs the very code path a GPU runs.
"""
from __future__ import annotations

import contextlib
import os

import numpy

from . import standin
from .base import Backend, Device
from .cupy_fused import FusedKernels
from .registry import register_backend, unregister_backend

_BACKEND = None
FUSED_ENV = "CHAINRULE_CUDA_FUSED"


class CupyBackend(Backend):
    name = "cupy"

    def __init__(self, cupy, cupyx) -> None:
        super().__init__(cupy)
        self.device = Device("cuda:0")
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

    def to_host(self, array, blocking: bool = True):
        if not isinstance(array, self.module.ndarray):
            return self.module.asnumpy(array)
        return array.get(blocking=blocking)  # (non_blocking=True: an async copy, CuPy's stream)

    def from_host(self, array):
        return self.module.asarray(array)

    def random_state(self):
        """A fresh ``cupy.random.RandomState`` on cuRAND's Philox generator: a CUDA
        generator reseeds it before each draw (see chainrule.random), and Philox reseeds
        without the state-setup kernel XORWOW (CuPy's default) runs on every new seed."""
        curand = getattr(self.module.cuda, "curand", None)
        if curand is None:
            from cupy.cuda import curand
        # (seeds as numpy.uint64: CuPy casts seeds to uint64 "safely", which int64 is not)
        return self.module.random.RandomState(numpy.uint64(0),
                                              method=curand.CURAND_RNG_PSEUDO_PHILOX4_32_10)

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


def get_cupy_backend() -> CupyBackend:
    global _BACKEND
    if _BACKEND is None:
        try:
            cupy, cupyx = cupy_modules()
        except ImportError as e:
            raise RuntimeError(
                "device 'cuda' needs CuPy, which is not installed: "
                "pip install 'chainrule[gpu]' (or a cupy-cudaXXx wheel matching your CUDA)") from e
        _BACKEND = CupyBackend(cupy, cupyx)
        if getattr(cupy, "is_standin", False):  # (CuPy's arrays are found by their module)
            register_backend(cupy.ndarray, _BACKEND)
    return _BACKEND


def reset() -> None:
    """Forget the backend (the stand-in was switched on or off)."""
    global _BACKEND
    unregister_backend(standin.ndarray)
    _BACKEND = None


standin.ON_SWITCH.append(reset)
