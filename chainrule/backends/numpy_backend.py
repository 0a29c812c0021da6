"""The NumPy backend (CPU)."""
from __future__ import annotations

import numpy as np

from .base import Backend, Device
from .erf32 import erf32

# NumPy's maximum runs its SIMD loop only when both operands are strided arrays; against a
# broadcast scalar it is ~3x slower (NumPy 2.4, AVX-512). ReLU therefore takes the maximum
# against a row of zeros this long, broadcast over rows of the flattened input.
_ZERO_ROW = 16384
_zero_rows: dict = {}


class NumpyBackend(Backend):
    name = "numpy"

    def __init__(self) -> None:
        super().__init__(np)
        self.device = Device("cpu")
        self.ndarray = np.ndarray
        self.load_special_functions("scipy")
        scipy_erf = getattr(self, "erf", None)
        if scipy_erf is not None:  # float32 through the SIMD-friendly kernel (see erf32.py)
            self.erf = lambda x: erf32(x) if x.dtype == np.float32 else scipy_erf(x)

    def relu(self, x):
        """``maximum(x, 0)``; float arrays against a row of zeros (see ``_ZERO_ROW``).
        Benchmark row ``relu (zero row)`` (``python -m benchmarks.numpy_kernels``)."""
        if x.dtype.kind != "f" or x.size < _ZERO_ROW or not x.flags.c_contiguous:
            return np.maximum(x, x.dtype.type(0))
        zeros = _zero_rows.get(x.dtype)
        if zeros is None:
            zeros = _zero_rows[x.dtype] = np.zeros(_ZERO_ROW, x.dtype)
        out = np.empty_like(x)
        flat, flat_out = x.reshape(-1), out.reshape(-1)
        body = x.size - x.size % _ZERO_ROW
        np.maximum(flat[:body].reshape(-1, _ZERO_ROW), zeros, out=flat_out[:body].reshape(-1, _ZERO_ROW))
        np.maximum(flat[body:], zeros[:x.size - body], out=flat_out[body:])
        return out

    def as_strided(self, x, shape, strides, writeable: bool = True):
        return np.lib.stride_tricks.as_strided(x, shape, strides, writeable=writeable)

    def scatter_add(self, target, index, values) -> None:
        np.add.at(target, index, values)

    def to_host(self, array):
        return np.asarray(array)

    def from_host(self, array):
        return np.asarray(array)

    def is_array(self, obj) -> bool:
        return isinstance(obj, np.ndarray)


NUMPY = NumpyBackend()
