"""Array kernels behind the elementwise ops: code on backend arrays (``xp``), no Tensors.

Kept apart from the op table in ``elementwise.py`` because these are about *how* a
forward is computed fast or portably (NumPy's SIMD loops without temporaries, SciPy/CuPy
special functions when present, fallbacks when not), not about which op has which rule.
``nn``'s LSTM cell calls ``sigmoid_`` directly on its gate buffers.
"""
from __future__ import annotations

import math

from ..backends import NUMPY


_SIMD_FLOATS = (NUMPY.dtype("float32"), NUMPY.dtype("float64"))


def sigmoid_into(xp, x, out):
    """``out = 1 / (1 + exp(-x))`` (``out`` may be ``x``) on NumPy float32/float64 arrays:
    four SIMD passes and no temporaries, about 4x faster than SciPy's ``expit`` loop, within
    a few ulp of it (PyTorch's CPU kernel uses the same formula). ``exp(-x)`` overflows to
    inf below x ≈ -88 (float32), where ``1 / inf`` is the exact limit 0, and underflows to
    0 for large x, where the result is 1: neither warns (nor raises under ``np.seterr``).
    Measured by benchmark row ``sigmoid_into`` (``python -m benchmarks.numpy_kernels``)."""
    with xp.errstate(over="ignore", under="ignore"):
        # not negative(x, out=x): NumPy 2.4's float32 negative in place is wrong on (N, 1)
        # column views (it steps as if contiguous); a multiply by -1 is exact and safe
        xp.multiply(x, out.dtype.type(-1), out=out)
        xp.exp(out, out=out)
        out += 1
        xp.reciprocal(out, out=out)
    return out


def _sigmoid_fwd(xp, x):
    """sigmoid's forward: :func:`sigmoid_into` where it applies (benchmark row
    ``sigmoid_into``), else the portable :func:`_sigmoid_general`."""
    if xp is NUMPY and x.dtype in _SIMD_FLOATS and isinstance(x, xp.ndarray):
        return sigmoid_into(xp, x, xp.empty_like(x))
    return _sigmoid_general(xp, x)


def sigmoid_(xp, a) -> None:
    """``a = sigmoid(a)`` in place (no temporary on NumPy float32/float64); benchmark row
    ``sigmoid_ (in place)``."""
    if xp is NUMPY and a.dtype in _SIMD_FLOATS:
        sigmoid_into(xp, a, a)
    else:
        a[...] = _sigmoid_general(xp, a)


def _sigmoid_general(xp, x):
    """Any backend and dtype: SciPy/CuPy's expit when installed, else a stable formula."""
    fn = _special(xp, "expit")
    if fn is not None:
        return fn(x).astype(x.dtype, copy=False)  # (SciPy computes float16 in float64)
    # exp of a non-positive number only: no overflow for large |x|
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


def _special(xp, name: str):
    """``erf``/``erfinv`` from the backend when it has them (SciPy's or CuPy's special
    functions), else None: NumPy itself has no erf, so the callers fall back."""
    return getattr(xp, name, None)


def _erf_fwd(xp, x):
    fn = _special(xp, "erf")
    if fn is not None:
        return fn(x)
    return xp.frompyfunc(math.erf, 1, 1)(x).astype(x.dtype) if x.ndim else \
        xp.asarray(math.erf(float(x)), dtype=x.dtype)



def _erfinv_fwd(xp, x):
    fn = _special(xp, "erfinv")
    if fn is not None:
        return fn(x)
    # Giles' single-precision start, then Newton steps on erf(y) = x (quadratic: 3 suffice)
    inside = xp.abs(x) < 1
    x_in = xp.where(inside, x, 0)  # ±1 map to ±inf below, out of range to nan
    w = -xp.log((1.0 - x_in) * (1.0 + x_in))
    small = w < 5.0
    ws = w - 2.5
    wl = xp.sqrt(xp.maximum(w, 5.0)) - 3.0
    ps = 2.81022636e-08
    for c in (3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503,
              -0.00417768164, 0.246640727, 1.50140941):
        ps = c + ps * ws
    pl = -0.000200214257
    for c in (0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613,
              0.00943887047, 1.00167406, 2.83297682):
        pl = c + pl * wl
    y = xp.where(small, ps, pl) * x_in
    for _ in range(3):
        y = y - (_erf_fwd(xp, y) - x_in) / (2.0 / math.sqrt(math.pi) * xp.exp(-y * y))
    y = xp.where(inside, y, xp.where(x == 1, xp.inf, xp.where(x == -1, -xp.inf, xp.nan)))
    return xp.asarray(y, dtype=x.dtype)


def _relu_pass(xp, g, ans):
    """``g`` where ``ans`` is not ≤ 0: where relu's output is positive, or NaN (PyTorch lets
    the gradient through a NaN); a mask in g's dtype, then a same-dtype multiply (g × bool is
    a casting loop, ~15% slower). Benchmark row ``relu_pass``."""
    mask = (~(ans <= 0)).astype(g.dtype)
    mask *= g
    return mask
