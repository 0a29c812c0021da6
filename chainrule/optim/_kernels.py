"""Array helpers shared by the functional optimizer updates.

Everything here works on raw backend arrays (NumPy or CuPy), given their backend
``xp``, and writes into preallocated buffers, so a step allocates nothing once the
buffers exist.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..backends import backend_of
from ..backends.blas import _AXPY, axpy_


class Scratch:
    """Reusable temporaries for the update functions.

    One flat buffer per (slot, dtype, array type, device), grown to the largest
    parameter seen; each request returns a view of it shaped like ``like``. The
    parameters of a group are updated one after another, so a slot can be shared
    by all of them: the cost is ``slots x largest parameter`` of memory, paid once,
    instead of fresh temporaries on every step.

    >>> import numpy as np
    >>> s = Scratch()
    >>> a = s.get(np.zeros((2, 3)), 0)
    >>> a.shape, s.get(np.zeros(4), 0).base is a.base
    ((2, 3), True)
    """

    __slots__ = ("_buffers",)

    def __init__(self) -> None:
        self._buffers: dict = {}

    def get(self, like: Any, slot: int) -> Any:
        key = (slot, like.dtype.str, type(like), getattr(like, "device", None))
        buf = self._buffers.get(key)
        n = like.size
        if buf is None or buf.size < n:
            buf = backend_of(like).empty(n, dtype=like.dtype)
            self._buffers[key] = buf
        return buf[:n].reshape(like.shape)


def advance_step(step_t) -> float:
    """Increment a 0-dim step-count array in place and return the new count as a float."""
    step_t += 1
    return float(step_t)


def effective_grad(xp, grad, param, weight_decay: float, maximize: bool, scratch: Scratch, slot: int):
    """``(-grad if maximize else grad) + weight_decay * param``, leaving ``grad`` untouched.

    Returns ``grad`` itself when there is nothing to add, else a scratch view.
    """
    if weight_decay == 0 and not maximize:
        return grad
    out = scratch.get(grad, slot)
    if weight_decay == 0:
        xp.negative(grad, out=out)
        return out
    xp.multiply(param, weight_decay, out=out)
    if maximize:
        out -= grad
    else:
        out += grad
    return out


def lerp_(xp, start, end, weight: float, tmp) -> None:
    """``start += weight * (end - start)`` in place, rounding as PyTorch's ``lerp_`` does.

    (PyTorch switches to ``end - (end - start) * (1 - weight)`` for weight >= 0.5
    so the result lands exactly on ``end`` at weight 1.)
    """
    xp.subtract(end, start, out=tmp)
    if abs(weight) < 0.5:
        tmp *= weight
        start += tmp
    else:
        tmp *= 1 - weight
        xp.subtract(end, tmp, out=start)


def add_scaled_(xp, param, value, alpha: float, tmp) -> None:
    """``param += alpha * value`` (``value`` may be ``tmp`` itself)."""
    if axpy_(param, value, alpha):  # one threaded pass through NumPy's own BLAS
        return
    xp.multiply(value, alpha, out=tmp)
    param += tmp


def addcdiv_(xp, param, num, den, value: float, tmp) -> None:
    """``param += value * num / den``; ``tmp`` may be ``den`` itself."""
    xp.divide(num, den, out=tmp)
    tmp *= value
    param += tmp


def mul_add_sq_(xp, acc, grad, decay: float, weight: float, tmp) -> None:
    """``acc = decay * acc + weight * grad²`` (the running second moment)."""
    if decay != 1:
        acc *= decay
    xp.multiply(grad, grad, out=tmp)
    if weight != 1:
        tmp *= weight
    acc += tmp


def fused_axpy_(y, x, alpha) -> None:
    """``y += alpha * x`` rounded once per element (a fused multiply-add), as PyTorch's
    ``add_(x, alpha=...)`` on the CPU rounds; NumPy's two passes round twice.

    Used where trajectories are compared to the last bits (L-BFGS); BLAS's axpy does
    the fused form, so it is called at any size (NumPy's form when it is not there).

    >>> import numpy as np
    >>> y = np.array([1.0, 2.0])
    >>> fused_axpy_(y, np.array([0.5, 0.25]), 2.0)
    >>> y
    array([2. , 2.5])
    """
    fn = _AXPY.get(y.dtype) if type(y) is np.ndarray and type(x) is np.ndarray else None
    if (fn is None or x.dtype != y.dtype or x.shape != y.shape or not y.flags.writeable
            or not (y.flags.c_contiguous and x.flags.c_contiguous) or np.may_share_memory(x, y)):
        y += alpha * x
        return
    fn(y.size, float(alpha), x.ctypes.data, 1, y.ctypes.data, 1)
