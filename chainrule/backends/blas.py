"""``y += a·x`` in one pass, through the BLAS that NumPy itself is linked against.

NumPy has no fused multiply-add of arrays: ``y += a * x`` reads ``x``, writes a
temporary, reads it again and runs on one core. BLAS ``axpy`` does it in one
threaded pass, 2.5-3.5x faster on the optimizer's parameter-sized arrays. The
function is taken from NumPy's own bundled OpenBLAS (found through ``ctypes``), so
it shares NumPy's thread pool: a second BLAS, such as SciPy's, would bring a
second pool whose spinning workers slow every NumPy GEMM that follows.

Where NumPy's BLAS cannot be found (a build that is not the PyPI wheel), ``axpy_``
returns False and callers keep their NumPy expression.

>>> import numpy as np
>>> y = np.ones(100_000, np.float32)
>>> _ = axpy_(y, np.full(100_000, 2, np.float32), -0.5) or np.subtract(y, 1, out=y)
>>> float(y[0])
0.0
"""
from __future__ import annotations

import ctypes
import glob
import os

import numpy as np

# below this many elements NumPy's two passes beat the ctypes call
MIN_SIZE = 32768


def _find_axpy() -> dict:
    """``{dtype: (function, int type)}`` for float32/float64 axpy of NumPy's OpenBLAS."""
    root = os.path.dirname(os.path.dirname(np.__file__))
    candidates = (glob.glob(os.path.join(root, "numpy.libs", "libscipy_openblas*"))
                  + glob.glob(os.path.join(os.path.dirname(np.__file__), ".dylibs", "libscipy_openblas*")))
    for path in candidates:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        # scipy-openblas prefixes its symbols; the ILP64 build suffixes them with 64_
        for suffix, int_type in (("64_", ctypes.c_int64), ("", ctypes.c_int)):
            found = {}
            for dtype, letter, real in ((np.float32, "s", ctypes.c_float), (np.float64, "d", ctypes.c_double)):
                fn = getattr(lib, f"scipy_cblas_{letter}axpy{suffix}", None)
                if fn is None:
                    break
                fn.restype = None
                fn.argtypes = (int_type, real, ctypes.c_void_p, int_type, ctypes.c_void_p, int_type)
                found[np.dtype(dtype)] = fn
            if len(found) == 2:
                return found
    return {}


_AXPY = _find_axpy()


def axpy_(y, x, alpha: float) -> bool:
    """``y += alpha * x`` in place through BLAS; False (``y`` untouched) when it cannot.
    Benchmark row ``axpy_`` (``python -m benchmarks.numpy_kernels``)."""
    fn = _AXPY.get(y.dtype) if type(y) is np.ndarray and type(x) is np.ndarray else None
    if (fn is None or y.size < MIN_SIZE or x.dtype != y.dtype or x.shape != y.shape
            or not (y.flags.c_contiguous and x.flags.c_contiguous and y.flags.writeable)
            or np.may_share_memory(x, y)):
        return False
    fn(y.size, alpha, x.ctypes.data, 1, y.ctypes.data, 1)
    return True
