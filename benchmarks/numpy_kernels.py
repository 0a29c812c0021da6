"""``python -m benchmarks.numpy_kernels``: each NumPy speed trick against the plain NumPy
expression it replaces, on the same inputs, so that a trick can be deleted once NumPy
(or SciPy) catches up.

One row per trick. Rounds alternate the two sides; each side's time is a median of
many calls, and the speed-up (plain / kernel) is taken within a round, then its median
and range over the rounds are printed. A speed-up near 1.0 means the trick no longer
pays for its code.

Run with the OpenBLAS overrides unset in this command only:
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m benchmarks.numpy_kernels
        [--quick] [--only SUBSTRING]

The kernels name their row in their docstrings; ``tests/backends/test_numpy_kernel_rows.py``
checks (without timing anything) that every function of ``chainrule/ops/numpy_kernels.py``
has a row or is listed in ``NOT_TRICKS``, and that each row's two sides agree.
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from chainrule.backends import NUMPY
from chainrule.backends import blas
from chainrule.backends.erf32 import erf32
from chainrule.ops import conv as C
from chainrule.ops import numpy_kernels as K
from chainrule.ops import pooling as P

from .timing import format_table, median_time


@dataclass
class Row:
    """One trick: ``kernel(*inputs)`` against ``plain(*inputs)`` (each returns its result)."""
    name: str
    kernel: Callable
    plain: Callable
    make: Callable[[], tuple]           # fresh inputs (a side may write into them)
    covers: tuple                       # the functions this row measures (they name it)
    plain_text: str                     # the expression the kernel replaces, as printed
    claim: str                          # the speed-up the kernel's docstring claims
    rtol: float = 0.0                   # how closely the two sides agree (see each row)
    atol: float = 0.0
    available: Callable[[], str | None] = field(default=lambda: None)  # None: can run here


# Functions of chainrule/ops/numpy_kernels.py that are not speed tricks (no row), and why.
NOT_TRICKS = {
    "_sigmoid_general": "the portable fallback the sigmoid kernels are measured against",
    "_special": "a lookup of the backend's SciPy/CuPy special functions",
    "_erf_fwd": "dispatch: the backend's erf (SciPy, or erf32 for float32: row 'erf32') or math.erf",
    "_erfinv_fwd": "a fallback for a backend without erfinv (no speed claim)",
}


def _rng():
    return np.random.default_rng(0)


def _f32(*shape):
    return _rng().standard_normal(shape).astype(np.float32)


def _scipy_special(name: str):
    try:
        import scipy.special as S
    except ImportError:
        return None
    return getattr(S, name)


def _needs_scipy() -> str | None:
    return None if _scipy_special("erf") is not None else "SciPy not installed"


def _needs_axpy() -> str | None:
    return None if blas._AXPY else "NumPy's BLAS is not the bundled scipy-openblas"


def _sigmoid_in_place_plain(a):
    a[...] = K._sigmoid_general(NUMPY, a)
    return a


def _sigmoid_in_place(a):
    K.sigmoid_(NUMPY, a)
    return a


def _axpy(y, x):
    assert blas.axpy_(y, x, -0.125)
    return y


def _axpy_plain(y, x):
    y += np.float32(-0.125) * x
    return y


def _pool_make():
    return (_f32(64, 16, 28, 28),)


def _pool_plain(x):
    """The general path's passes for a 2×2 window: rows, then every other column."""
    rows = np.maximum(x[:, :, 0::2], x[:, :, 1::2])
    return np.maximum(rows[..., 0::2], rows[..., 1::2])


# the second convolution of the CNN benchmark: 16 → 32 channels, 3×3, padding 1, batch 64
_CONV = dict(kernel=(3, 3), padding=((1, 1), (1, 1)), dilation=(1, 1), groups=1)


def _conv_make():
    return _f32(64, 16, 14, 14), _f32(32, 16, 3, 3) * np.float32(0.1)


def _conv_flat(x, w):
    cols = C._flat_cols(NUMPY, x, _CONV["kernel"], _CONV["padding"], _CONV["dilation"], 1)
    return C._conv2d_flat(NUMPY, x, w, (), cols, _CONV["padding"], _CONV["dilation"], x.shape[2:])


def _conv_im2col(x, w):
    cols = C._im2col(NUMPY, x, _CONV["kernel"], (1, 1), _CONV["padding"], _CONV["dilation"], 1,
                     x.shape[2:])
    return np.matmul(w.reshape(1, 32, -1), cols).reshape(x.shape[0], 32, *x.shape[2:])


def rows() -> list[Row]:
    return [
        Row("sigmoid_into", lambda x: K.sigmoid_into(NUMPY, x, np.empty_like(x)),
            lambda x: K._sigmoid_general(NUMPY, x), lambda: (_f32(64, 4096) * 4,),
            (K.sigmoid_into, K._sigmoid_fwd), "scipy.special.expit(x)", "about 4x",
            rtol=4e-7, atol=0.0),  # within a few float32 ulp of expit (docstring)
        Row("sigmoid_ (in place)", _sigmoid_in_place, _sigmoid_in_place_plain,
            lambda: (_f32(32, 768) * 4,), (K.sigmoid_,), "a[...] = expit(a)",
            "no temporary", rtol=4e-7, atol=0.0),
        Row("relu_pass", lambda g, ans: K._relu_pass(NUMPY, g, ans),
            lambda g, ans: g * ~(ans <= 0), lambda: (_f32(64, 16384), NUMPY.relu(_f32(64, 16384))),
            (K._relu_pass,), "g * ~(ans <= 0)", "about 15%"),
        Row("relu (zero row)", NUMPY.relu, lambda x: np.maximum(x, np.float32(0)),
            lambda: (_f32(64, 16384),), (type(NUMPY).relu,), "np.maximum(x, 0)", "about 3x"),
        Row("erf32", erf32, lambda x: _scipy_special("erf")(x), lambda: (_f32(16, 64, 1024),),
            (erf32,), "scipy.special.erf(x)", "7x", rtol=0.0, atol=1e-6,  # ≤ 8 ulp (docstring)
            available=_needs_scipy),
        Row("axpy_", _axpy, _axpy_plain, lambda: (_f32(1024, 1024), _f32(1024, 1024)),
            (blas.axpy_,), "y += a * x", "2.5-3.5x", rtol=1e-6, atol=1e-6,  # (an FMA rounds once)
            available=_needs_axpy),
        Row("max_pool 2x2 as uint64 pairs", lambda x: P._max_pool_fwd_pairs(NUMPY, x, 2),
            _pool_plain, _pool_make, (P._max_pool_fwd_pairs,),
            "maximum of rows, then of strided columns", "strided passes are several times slower"),
        Row("conv2d flat-shift grid (stride 1)", _conv_flat, _conv_im2col, _conv_make,
            (C._flat_cols, C._conv2d_flat), "im2col (as_strided copy) + matmul", "one GEMM, block copies",
            rtol=1e-5, atol=1e-5),  # the same products, summed in another order by the BLAS
    ]


# BLAS and OpenMP workers spin for about 0.1 s after their last call: let the other
# side's threads go to sleep before timing (as benchmarks/__main__.py does)
SETTLE_S = 0.3


def _time(fn, make, repeats: int) -> float:
    args = make()
    time.sleep(SETTLE_S)
    return median_time(lambda: fn(*args), repeats=repeats, min_time=0.02, max_time=1.0)


def measure(row: Row, rounds: int, repeats: int) -> dict:
    kernel, plain, ratios = [], [], []
    for _ in range(rounds):  # alternate: a machine that slows down mid-run slows both
        kernel.append(_time(row.kernel, row.make, repeats))
        plain.append(_time(row.plain, row.make, repeats))
        ratios.append(plain[-1] / kernel[-1])
    return {"trick": row.name, "kernel_us": f"{np.median(kernel) * 1e6:.1f}",
            "plain_us": f"{np.median(plain) * 1e6:.1f}", "speedup": f"{np.median(ratios):.2f}",
            "speedup_range": f"{min(ratios):.2f}-{max(ratios):.2f}", "claimed": row.claim,
            "replaces": row.plain_text}


COLUMNS = ["trick", "kernel_us", "plain_us", "speedup", "speedup_range", "claimed", "replaces"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.numpy_kernels")
    parser.add_argument("--quick", action="store_true", help="fewer rounds and repeats")
    parser.add_argument("--only", metavar="SUBSTRING", default="",
                        help="run only the rows whose name contains SUBSTRING (any case)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    rounds, repeats = (3, 5) if args.quick else (7, 15)
    out, skipped = [], []
    for row in rows():
        if args.only.lower() not in row.name.lower():
            continue
        why = row.available()
        if why is not None:
            skipped.append(f"{row.name}: {why}")
            continue
        out.append(measure(row, rounds, repeats))
    from .timing import blas_info
    print(f"numpy {np.__version__}; BLAS: {blas_info()}; speedup = plain / kernel, median "
          f"and range of {rounds} rounds")
    if out:
        print(format_table(out, COLUMNS))
    for line in skipped:
        print(f"skipped {line}")


if __name__ == "__main__":
    main()
