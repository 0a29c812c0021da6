"""One fused kernel per parameter for the Adam/AdamW and SGD updates on CuPy arrays.

The array code of ``adam_update``/``sgd_update`` launches a kernel per operation (a
dozen for an Adam step); on a GPU each launch costs more than the arithmetic of a small
tensor. Where the backend has fused kernels (CuPy's: chainrule/backends/cupy_fused.py),
these functions run the same update, operation for operation, as one kernel, and return
True; they return False (nothing touched) where it has not (NumPy, whose path stays the
array code, unchanged) or the arrays do not fit one kernel (shapes or dtypes that
differ), and the caller runs its array code.

>>> import numpy as np
>>> from chainrule.backends import NUMPY
>>> fused_sgd_step(NUMPY, np.ones(2), np.ones(2), [], 0, lr=0.1, momentum=0.0,
...                dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False)
False
"""
from __future__ import annotations

from ..backends.cupy_fused import fused_kernel


def _decay(weight_decay: float, decoupled: bool) -> str:
    return "" if weight_decay == 0 else "decoupled" if decoupled else "coupled"


def _flag(on, name: str) -> str:
    """A kernel option: its name when on, "" when off (see backends/cupy_fused.py)."""
    return name if on else ""


def fused_adam_step(xp, p, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step: float, *,
                    amsgrad: bool, beta1: float, beta2: float, lr: float, weight_decay: float,
                    eps: float, maximize: bool, decoupled_weight_decay: bool) -> bool:
    """One Adam (AdamW) step of one parameter as one kernel; False when there is none."""
    arrays = (p, grad, exp_avg, exp_avg_sq) + ((max_exp_avg_sq,) if amsgrad else ())
    shape = p.shape
    if any(a.shape != shape for a in arrays):
        return False
    weight = 1 - beta1
    high = abs(weight) >= 0.5  # lerp's other form (see _kernels.lerp_)
    decay = _decay(weight_decay, decoupled_weight_decay)
    flags = (_flag(amsgrad, "amsgrad"), _flag(maximize, "maximize"), decay,
             _flag(high, "lerp_high"))
    kernel = fused_kernel(xp, "adam", *arrays, flags=flags)
    if kernel is None:
        return False
    # the scalars exactly as adam_update computes them, as Python floats (they take the
    # arrays' dtype inside the kernel, as NumPy's weak scalars do)
    kernel(p, grad, exp_avg, exp_avg_sq, max_exp_avg_sq if amsgrad else None,
           float(1 - lr * weight_decay), float(weight_decay), float(1 - weight if high else weight),
           float(beta2), float(1 - beta2), float((1 - beta2 ** step) ** 0.5), float(eps),
           float(-(lr / (1 - beta1 ** step))))
    return True


def fused_sgd_step(xp, p, grad, momentum_buffers: list, i: int, *, lr: float, momentum: float,
                   dampening: float, weight_decay: float, nesterov: bool, maximize: bool) -> bool:
    """One SGD step of parameter ``i`` as one kernel (a first momentum step allocates the
    buffer and puts it in ``momentum_buffers[i]``); False when there is no kernel."""
    if grad.shape != p.shape:
        return False
    if momentum == 0:
        mode, buf = "", None
    else:
        buf = momentum_buffers[i]
        mode = "first" if buf is None else "running"
    arrays = (p, grad) if buf is None else (p, grad, buf)
    if buf is not None and buf.shape != p.shape:
        return False
    kernel = fused_kernel(xp, "sgd", *arrays,
                          flags=(_flag(maximize, "maximize"), _decay(weight_decay, False), mode,
                                 _flag(nesterov, "nesterov")))
    if kernel is None:
        return False
    if mode == "first":  # (sgd_update's g.copy(): a C-ordered array of the gradient's dtype)
        buf = momentum_buffers[i] = xp.empty(p.shape, dtype=p.dtype)
    kernel(p, grad, buf, float(weight_decay), float(momentum), float(1 - dampening), float(-lr))
    return True
