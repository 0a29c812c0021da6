"""bfloat16 and float16 through composite functions: computed in float32, rounded once.

A chainrule op on bfloat16/float16 arrays computes in float32 and rounds its result
(chainrule._mldtypes), as one PyTorch CPU kernel does. A function that chainrule builds
from several ops (a norm, a pooling with padding, a log-cumsum-exp, cross-entropy with
probabilities) would round after each of them, where PyTorch's fused kernel keeps float32
inside and rounds once: measured on the low-precision op sweep, those differed from
PyTorch by more than its own bfloat16/float16 tolerances. The functions listed here
therefore widen their bfloat16/float16 tensor arguments to float32, run, and round their
floating results back (the casts are recorded: the backward also runs in float32 and
rounds once). Only when every floating tensor argument has the same narrow dtype; mixed
calls run as they are.

>>> import chainrule as cr
>>> x = cr.tensor([[1.0, 2.0, 3.0, 4.0]], dtype=cr.bfloat16)
>>> cr.nn.functional.rms_norm(x, (4,)).dtype
chainrule.bfloat16
"""
from __future__ import annotations

import functools
from typing import Callable

# (namespace, names): composites that PyTorch computes in one float32-accumulating kernel
FUSED = {
    "chainrule": ("logsumexp", "logcumsumexp", "std", "var", "std_mean", "var_mean",
                  "addmm", "addbmm", "baddbmm", "addcmul", "addcdiv", "cdist",
                  "histc", "cummax", "cummin"),
    "chainrule.nn.functional": (
        "rms_norm", "instance_norm", "group_norm", "batch_norm", "layer_norm",
        "cross_entropy", "triplet_margin_with_distance_loss",
        "avg_pool1d", "avg_pool2d", "avg_pool3d", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
        "adaptive_avg_pool3d", "lp_pool1d", "lp_pool2d", "lp_pool3d", "embedding_bag",
        "grid_sample", "interpolate", "upsample", "pad", "conv3d", "conv_transpose2d",
        "conv_transpose3d", "max_pool3d", "scaled_dot_product_attention"),
    "Tensor": ("logsumexp", "logcumsumexp", "std", "var", "addmm", "addbmm", "baddbmm",
               "addcmul", "addcdiv", "histc", "cummax", "cummin"),
}


def _narrow_dtype(args, kwargs):
    """The one narrow dtype of the floating tensor arguments, or None (none, or mixed)."""
    from .dtypes import bfloat16, float16
    from .tensor import Tensor
    found = None
    for value in (*args, *kwargs.values()):
        for t in (value if isinstance(value, (list, tuple)) else (value,)):
            if isinstance(t, Tensor) and t.dtype.is_floating_point:
                if t.dtype is not bfloat16 and t.dtype is not float16:
                    return None
                if found is None:
                    found = t.dtype
                elif found is not t.dtype:
                    return None
    return found


def _convert(value, dtype, only):
    from .tensor import Tensor
    if isinstance(value, Tensor):
        return value.to(dtype) if value.dtype is only else value
    if isinstance(value, (list, tuple)) and any(isinstance(v, Tensor) for v in value):
        return type(value)(_convert(v, dtype, only) for v in value)
    return value


def in_float32(fn: Callable) -> Callable:
    """``fn`` computed in float32 on bfloat16/float16 arguments, its results rounded back."""
    @functools.wraps(fn)
    def widened(*args, **kwargs):
        from . import _mldtypes
        if not _mldtypes._HOOKED:  # (no narrow tensor exists yet)
            return fn(*args, **kwargs)
        narrow = _narrow_dtype(args, kwargs)
        if narrow is None or kwargs.get("dtype") is not None or kwargs.get("out") is not None:
            return fn(*args, **kwargs)
        from .dtypes import float32
        args = tuple(_convert(a, float32, narrow) for a in args)
        kwargs = {k: _convert(v, float32, narrow) for k, v in kwargs.items()}
        result = fn(*args, **kwargs)
        if isinstance(result, tuple) and not hasattr(result, "_fields"):
            return tuple(_convert(r, narrow, float32) for r in result)
        if hasattr(result, "_fields"):  # a named tuple (std_mean ...): same type back
            return type(result)(*(_convert(r, narrow, float32) for r in result))
        return _convert(result, narrow, float32)
    widened.__opmath__ = fn
    return widened


def install() -> None:
    """Wrap the listed functions in their public namespaces (once, at import)."""
    import importlib

    from .tensor import Tensor
    for where, names in FUSED.items():
        home = Tensor if where == "Tensor" else importlib.import_module(where)
        for name in names:
            fn = getattr(home, name, None)
            if fn is not None and not hasattr(fn, "__opmath__"):
                setattr(home, name, in_float32(fn))
