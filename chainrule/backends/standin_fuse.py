"""``cupy.fuse`` on the CPU stand-in: the fused function run op by op, launches counted.

CuPy's ``fuse`` traces a Python function made of ufunc calls into one elementwise kernel.
The stand-in (:mod:`chainrule.backends.standin`) runs the same Python function on its
device arrays instead, one NumPy ufunc per operation, so the values are those of the
unfused code, and it counts one launch per call under the kernel's name
(:func:`fused_launches`), so a test can assert that the fused path ran.

What CuPy's tracer refuses is refused here for the function's array arguments (the
stand-in does not trace, so intermediates are plain device arrays): attributes other
than ``dtype``, ``ndim``, ``astype`` and ``copy`` (no ``shape``, no reductions, no
``.item()``), indexing other than ``[...]``/``[:]``, ``abs()``, ``len()``, iteration, and
``bool()`` (a data-dependent branch), NumPy's functions (CuPy's ufuncs only). Arguments are device arrays, Python or NumPy scalars
or ``None``; with no device array among them the function is a plain call, as in CuPy.

>>> from chainrule.backends import standin
>>> cp = standin.module
>>> @cp.fuse(kernel_name="doc_axpb")
... def axpb(x, a, b):
...     return x * a + b
>>> axpb(cp.arange(3.0), 2.0, 1.0).tolist(), standin.fused_launches()["doc_axpb"]
([1.0, 3.0, 5.0], 1)
>>> axpb(1.0, 2.0, 1.0)   # no device array: Python runs it, no launch
3.0
"""
from __future__ import annotations

import functools
from collections import Counter

import numpy as np

from .standin_devices import check_current

_LAUNCHES: Counter = Counter()
_SCALARS = (int, float, complex, bool, np.generic, type(None))
_ALLOWED = frozenset({"astype", "copy"})


def fused_launches() -> dict[str, int]:
    """Launches of each fused kernel (by kernel name) since :func:`reset_fused_launches`."""
    return dict(_LAUNCHES)


def reset_fused_launches() -> None:
    _LAUNCHES.clear()


# the stand-in's array type: set by standin.py (which imports this module) once defined
_DEVICE_ARRAY: list = []


def use_array_type(ndarray: type) -> None:
    _DEVICE_ARRAY[:] = [ndarray]


@functools.cache
def _argument_type() -> type:
    """The stand-in array type that fused functions receive: CuPy's tracing variables'
    surface (built on first use)."""
    ndarray = _DEVICE_ARRAY[0]

    def refused(what: str):
        def method(self, *args, **kwargs):
            raise TypeError(f"{what} is not supported in cupy.fuse (a fused function sees one "
                            "element at a time): the stand-in refuses it as CuPy's tracer does")
        return method

    def whole(key) -> bool:
        return key is Ellipsis or key == slice(None)

    class FusedArgument(ndarray):
        __slots__ = ()
        shape = size = strides = nbytes = T = flags = base = property(refused("this attribute"))
        __abs__ = refused("abs()")
        __len__ = refused("len()")
        __iter__ = refused("iteration")
        item = tolist = get = refused("reading an element on the host")
        __array_ufunc__ = __array_function__ = refused("a NumPy function (call cupy's)")

        def __getattr__(self, name):
            if name not in _ALLOWED:
                raise AttributeError(f"cupy.fuse: a fused array has no attribute {name!r} "
                                     "(only dtype, ndim, astype and copy)")
            return ndarray.__getattr__(self, name)

        def __getitem__(self, key):
            if not whole(key):
                raise ValueError("The fusion supports `[...]` or `[:]`.")  # CuPy's words
            return ndarray.__getitem__(self, key)

        def __setitem__(self, key, value) -> None:
            if not whole(key):
                raise ValueError("The fusion supports `[...]` or `[:]`.")
            ndarray.__setitem__(self, key, value)

    return FusedArgument


class Fusion:
    """What ``cupy.fuse`` returns: call it like the function it wraps."""

    def __init__(self, func, name: str | None = None) -> None:
        self.func = func
        self.name = name or func.__name__
        functools.update_wrapper(self, func)

    def __repr__(self) -> str:
        return f"<Fusion {self.name!r} (stand-in)>"

    def __call__(self, *args):
        ndarray = _DEVICE_ARRAY[0]
        if not any(isinstance(a, ndarray) for a in args):
            return self.func(*args)
        for a in args:
            if not isinstance(a, (ndarray,) + _SCALARS):
                types = ", ".join(repr(type(x)) for x in args)
                raise TypeError(f"Invalid argument type for '{self.name}': ({types})")
            if isinstance(a, ndarray):  # (a kernel: on the current device, see standin_devices)
                check_current(a._dev)
        _LAUNCHES[self.name] += 1
        wrap = _argument_type()
        inner = [wrap(a._a) if isinstance(a, ndarray) else a for a in args]
        result = self.func(*inner)
        if isinstance(result, tuple):
            return tuple(_output(r, inner, self.name) for r in result)
        return None if result is None else _output(result, inner, self.name)


def _output(value, inner, name: str):
    """A fresh plain device array, as a kernel's output is (never an argument itself)."""
    ndarray = _DEVICE_ARRAY[0]
    if not isinstance(value, ndarray):
        raise TypeError(f"Fusion function '{name}' can't return {type(value)}")
    if any(value._a is a._a for a in inner if isinstance(a, ndarray)):
        return ndarray(value._a.copy())
    return ndarray(value._a)


def fuse(*args, **kwargs):
    """``cupy.fuse``: ``@fuse``, ``@fuse()`` or ``@fuse(kernel_name=...)``."""
    if len(args) == 1 and not kwargs and callable(args[0]):
        return Fusion(args[0])
    kernel_name = kwargs.pop("kernel_name", None)
    if args or kwargs:
        raise TypeError(f"fuse() takes only kernel_name, got {args!r} {kwargs!r}")
    return lambda f: Fusion(f, kernel_name)
