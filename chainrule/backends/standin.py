"""A CPU stand-in for CuPy: the ``cuda`` device without a GPU, for tests.

``chainrule.backends.standin.module`` is a namespace shaped like the ``cupy`` module
(``ndarray``, array functions, ufuncs with ``reduce``/``accumulate``/``at``,
``asnumpy``, ``random``, ``linalg``, ``get_default_memory_pool``, ``cuda.runtime``) and
``standin.cupyx`` like ``cupyx`` (``scatter_add``, ``scipy.special``). Its arrays hold
NumPy data on the host but behave as device arrays do, only stricter:

* ``numpy.asarray(arr)`` raises (``__array__``), as CuPy's arrays do: every hidden
  device-to-host copy fails on any machine;
* ``bool(arr)``, ``float(arr)``, ``int(arr)``, ``operator.index(arr)`` raise
  :class:`HostSyncError` (CuPy answers them with a silent device sync): host scalars come
  from device data through ``.item()``, ``.tolist()`` or ``.get()`` only;
* array functions and ufuncs refuse NumPy arrays among their operands, as CuPy's do;
* several devices (:mod:`~chainrule.backends.standin_devices`): each array remembers the
  device it was made on, and a kernel given an array of another device than the current one
  raises, as CuPy's do where GPUs have no peer access;
* ``random.RandomState`` draws straight into device arrays (NumPy's PCG64 underneath), and
  every host-to-device copy is counted (:func:`host_to_device_copies`), so a test can assert
  that a step draws on the device rather than on the host and copies.

The CuPy backend is built on this module exactly as on ``cupy`` itself (see
``cupy_backend.cupy_modules``), so what passes here is the code path a GPU takes. Turn it
on with the environment variable ``CHAINRULE_CUDA_STANDIN=1`` or :func:`enable`:

>>> from chainrule.backends import standin
>>> standin.enable()
>>> import chainrule as cr
>>> x = cr.ones(3, device="cuda")
>>> x.device, (x * 2).sum().item()
(device(type='cuda', index=0), 6.0)
>>> float(x._data.sum())       # the device array refuses; chainrule's code calls .item()
Traceback (most recent call last):
...
chainrule.backends.standin.HostSyncError: float() of a cuda array reads device data on the host; use .item() ...
>>> bool(x.sum() > 0)           # a tensor follows PyTorch: its bool() is an explicit .item()
True
>>> standin.disable()
"""
from __future__ import annotations

import os
import types
import weakref

import numpy as np

from . import standin_devices as _devices
from . import standin_fuse
from .standin_fuse import fuse, fused_launches, reset_fused_launches  # noqa: F401 (re-exported)

ENV = "CHAINRULE_CUDA_STANDIN"

IMPLICIT = ("Implicit conversion to a NumPy array is not allowed. Please use `.get()` to "
            "construct a NumPy array explicitly.")  # CuPy's words


class HostSyncError(RuntimeError):
    """A host scalar pulled from device data (``bool(arr)``, ``float(arr)`` …)."""


# ------------------------------------------------------------------ wrapping --
def _wrap(value):
    """Device arrays for NumPy results (scalars become 0-d arrays, as CuPy returns)."""
    if isinstance(value, np.ndarray):
        if not value.flags.writeable:  # NumPy's read-only views (diagonal): CuPy's are writable
            try:
                value.setflags(write=True)
            except ValueError:  # (broadcast views stay read-only: a stricter stand-in)
                pass
        return ndarray(value)
    if isinstance(value, np.generic):
        return ndarray(np.asarray(value))
    if isinstance(value, tuple):
        return tuple(_wrap(v) for v in value)
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    return value


def _unwrap(value, host_ok: bool = False, what: str = ""):
    """The NumPy data of device arrays in ``value``; NumPy arrays refused unless ``host_ok``."""
    if isinstance(value, ndarray):
        return _here(value)
    if isinstance(value, np.ndarray) and not host_ok:
        raise TypeError(f"Unsupported type {type(value)}{' in ' + what if what else ''}: the "
                        "cuda stand-in (as CuPy) takes device arrays, not NumPy arrays")
    if isinstance(value, (tuple, list)):
        return type(value)(_unwrap(v, host_ok, what) for v in value)
    return value


_COPIES = [0]  # host-to-device copies made so far (asarray of host data, host values set in)


def host_to_device_copies() -> int:
    """How many host-to-device copies the stand-in has made in this process (compare two
    readings around the code under test)."""
    return _COPIES[0]


def _count_host(value) -> None:
    if not isinstance(value, ndarray) and isinstance(value, (np.ndarray, list, tuple)):
        _COPIES[0] += 1


def _call(fn, args, kwargs, host_ok: bool = False, name: str = ""):
    args = _unwrap(args, host_ok, name)
    kwargs = {k: _unwrap(v, host_ok, name) for k, v in kwargs.items()}
    return fn(*args, **kwargs)


def _wrap_out(result, kwargs):
    """Keep the caller's ``out=`` array as the result (CuPy returns that very object)."""
    out = kwargs.get("out")
    if isinstance(out, ndarray) and result is out._a:
        return out
    if isinstance(out, tuple) and isinstance(result, tuple):
        return tuple(o if isinstance(o, ndarray) and r is o._a else _wrap(r)
                     for o, r in zip(out, result))
    return _wrap(result)


# ------------------------------------------------------------------- memory --
class MemoryHook:
    """``cupy.cuda.memory_hook.MemoryHook``: ``malloc_postprocess`` after each allocation."""

    name = "hook"

    def __enter__(self):
        _POOL.hooks.append(self)
        return self

    def __exit__(self, *exc) -> None:
        _POOL.hooks.remove(self)

    def malloc_postprocess(self, **kwargs) -> None:
        pass


class MemoryPool:
    """Bytes of live device buffers (each base buffer counted once, freed with it)."""

    def __init__(self) -> None:
        self._used: dict = {}  # device → bytes (CuPy's default pool answers for the current device)
        self._live: set = set()
        self.hooks: list = []

    def _track(self, array: np.ndarray, device: int = 0) -> None:
        owner = array
        while isinstance(owner.base, np.ndarray):
            owner = owner.base
        key = id(owner)
        if key in self._live:
            return
        self._live.add(key)
        self._used[device] = self._used.get(device, 0) + owner.nbytes
        weakref.finalize(owner, self._free, key, owner.nbytes, device)
        for hook in self.hooks:
            hook.malloc_postprocess(size=owner.nbytes)

    def _free(self, key, nbytes, device) -> None:
        self._live.discard(key)
        self._used[device] -= nbytes

    def used_bytes(self) -> int:
        return self._used.get(_devices.current(), 0)

    def total_bytes(self) -> int:
        return self.used_bytes()

    def free_all_blocks(self) -> None:
        pass


_POOL = MemoryPool()


# -------------------------------------------------------------------- array --
def _binary(name):
    ufunc = getattr(np, name)

    def method(self, other):
        if isinstance(other, np.ndarray):
            return NotImplemented if ufunc is np.matmul else _refuse_host(other)
        return _wrap(ufunc(_here(self), _unwrap(other)))
    return method


def _reflected(name):
    ufunc = getattr(np, name)

    def method(self, other):
        if isinstance(other, np.ndarray):
            _refuse_host(other)
        return _wrap(ufunc(_unwrap(other), _here(self)))
    return method


def _inplace(name):
    ufunc = getattr(np, name)

    def method(self, other):
        ufunc(_here(self), _unwrap(other), out=self._a)
        return self
    return method


def _refuse_host(other):
    raise TypeError(f"Unsupported type {type(other)}: an operator mixes a cuda (stand-in) "
                    "array with a NumPy array")


def _host_sync(what: str):
    def method(self, *args):
        import sys
        caller = sys._getframe(1)  # named in the message: the line that pulled the scalar
        where = f" (at {caller.f_code.co_filename}:{caller.f_lineno})" if caller else ""
        raise HostSyncError(f"{what}() of a cuda array reads device data on the host; use "
                            f".item(){where}")
    return method


class ndarray:  # noqa: N801 - CuPy's name
    """A device array of the stand-in: NumPy data that refuses to leave implicitly."""

    __slots__ = ("_a", "_dev", "__weakref__")
    __array_priority__ = 100  # NumPy defers binary operators to us
    __hash__ = None

    def __init__(self, array: np.ndarray) -> None:
        if not isinstance(array, np.ndarray):
            raise TypeError(f"stand-in ndarray wraps a numpy.ndarray, got {type(array).__name__}")
        self._a = array
        self._dev = _devices.current()  # (allocated on the current device, as CuPy's arrays)
        _POOL._track(array, self._dev)

    # what CuPy refuses, and what CuPy would answer with a hidden sync
    def __array__(self, *args, **kwargs):
        raise TypeError(IMPLICIT)

    __bool__ = _host_sync("bool")
    __float__ = _host_sync("float")
    __int__ = _host_sync("int")
    __index__ = _host_sync("operator.index")
    __complex__ = _host_sync("complex")

    # the explicit ways out
    def get(self, stream=None, order="C", out=None, blocking=True) -> np.ndarray:
        return np.array(self._a, order=order)

    def item(self, *args):
        return self._a.item(*args)

    def tolist(self):
        return self._a.tolist()

    # NumPy's protocols: ufuncs and array functions on device arrays, as CuPy
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if any(isinstance(x, np.ndarray) for x in inputs):
            return NotImplemented
        result = _call(getattr(ufunc, method), inputs, kwargs, name=ufunc.__name__)
        return _wrap_out(result, kwargs)

    def __array_function__(self, func, types_, args, kwargs):
        mirror = getattr(module, func.__name__, None)
        if mirror is None or not callable(mirror):
            return NotImplemented
        return mirror(*args, **kwargs)

    # metadata
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    strides = property(lambda self: self._a.strides)
    flags = property(lambda self: _Flags(self._a.flags))
    T = property(lambda self: ndarray(_here(self).T))
    mT = property(lambda self: ndarray(_here(self).mT))
    real = property(lambda self: ndarray(_here(self).real))
    imag = property(lambda self: ndarray(_here(self).imag))
    base = property(lambda self: None if self._a.base is None else _wrap(self._a.base)
                    if isinstance(self._a.base, np.ndarray) else None)
    device = property(lambda self: _devices.Device(self._dev))

    def __len__(self) -> int:
        return len(self._a)

    def __iter__(self):
        return (_wrap(row) for row in _here(self))

    def __repr__(self) -> str:
        return repr(self._a).replace("array(", "array(", 1)

    def __str__(self) -> str:
        return str(self._a)

    def __getitem__(self, key):
        return _wrap(_here(self)[_unwrap(key, host_ok=True)])

    def __setitem__(self, key, value) -> None:
        _count_host(value)
        _here(self)[_unwrap(key, host_ok=True)] = _unwrap(value, host_ok=True)

    def __getattr__(self, name):
        # the rest of the method surface (astype, reshape, sum …), on device arrays; no
        # dunder (NumPy would read __array_interface__/__array_struct__: a host view)
        if name.startswith("__") or name in _HOST_METHODS or name == "_a":
            raise AttributeError(f"'cupy.ndarray' object has no attribute {name!r}")
        if name == "copy":  # (CuPy copies an array of any device onto the current one)
            return _copy_to_current(self)
        value = getattr(_here(self), name)
        if isinstance(value, np.ndarray):
            return ndarray(value)
        if not callable(value):
            return value

        def method(*args, **kwargs):
            return _wrap_out(_call(value, args, kwargs, name=f"ndarray.{name}"), kwargs)
        return method

    def __reduce__(self):
        return ndarray, (self._a,)

    def __copy__(self):  # (on the array's own device, as CuPy's)
        with _devices.Device(self._dev):
            return ndarray(self._a.copy())

    def __deepcopy__(self, memo):
        return self.__copy__()

    def __neg__(self):
        return _wrap(-_here(self))

    def __pos__(self):
        return _wrap(+_here(self))

    def __abs__(self):
        return _wrap(abs(_here(self)))

    def __invert__(self):
        return _wrap(~_here(self))


standin_fuse.use_array_type(ndarray)  # the type fused functions take (see standin_fuse)


class _Flags:
    """CuPy's ``ndarray.flags``: contiguity and ownership, no ``writeable`` (device memory
    has no read-only arrays)."""

    __slots__ = ("c_contiguous", "f_contiguous", "owndata")

    def __init__(self, flags) -> None:
        self.c_contiguous, self.f_contiguous = flags.c_contiguous, flags.f_contiguous
        self.owndata = flags.owndata


_OPERATORS = {"add": "add", "sub": "subtract", "mul": "multiply", "truediv": "true_divide",
              "floordiv": "floor_divide", "mod": "remainder", "pow": "power", "matmul": "matmul",
              "and": "bitwise_and", "or": "bitwise_or", "xor": "bitwise_xor",
              "lshift": "left_shift", "rshift": "right_shift"}
for _op, _ufunc in _OPERATORS.items():
    setattr(ndarray, f"__{_op}__", _binary(_ufunc))
    setattr(ndarray, f"__r{_op}__", _reflected(_ufunc))
    setattr(ndarray, f"__i{_op}__", _inplace(_ufunc))
for _op, _ufunc in {"lt": "less", "le": "less_equal", "gt": "greater", "ge": "greater_equal",
                    "eq": "equal", "ne": "not_equal"}.items():
    setattr(ndarray, f"__{_op}__", _binary(_ufunc))
ndarray.__divmod__ = lambda self, other: _wrap(np.divmod(_here(self), _unwrap(other)))

# NumPy methods that hand host objects out (CuPy's arrays lack them)
_HOST_METHODS = frozenset({"tobytes", "tofile", "dump", "dumps", "ctypes", "data", "byteswap", "setflags", "getfield", "setfield"})


# --------------------------------------------------------------- namespaces --
class _Ufunc:
    """A ufunc of the stand-in: call, ``reduce``, ``accumulate``, ``outer``, ``at``."""

    def __init__(self, ufunc) -> None:
        self._u = ufunc
        self.__name__ = ufunc.__name__
        self.nin, self.nout, self.nargs = ufunc.nin, ufunc.nout, ufunc.nargs
        self.identity = ufunc.identity

    def __call__(self, *args, **kwargs):
        return _wrap_out(_call(self._u, args, kwargs, name=self.__name__), kwargs)

    def _method(self, name):
        def method(*args, **kwargs):
            fn = getattr(self._u, name)
            return _wrap_out(_call(fn, args, kwargs, name=f"{self.__name__}.{name}"), kwargs)
        return method

    def __getattr__(self, name):
        if name in ("reduce", "accumulate", "outer", "at", "reduceat"):
            return self._method(name)
        return getattr(self._u, name)

    def __repr__(self) -> str:
        return f"<stand-in ufunc {self.__name__!r}>"


def _function(fn, name: str, host_ok: bool = False):
    def function(*args, **kwargs):
        if host_ok and args:  # asarray/array of host data: a host-to-device copy
            _count_host(args[0])
            if isinstance(args[0], np.ndarray):  # (a copy: the host array's later changes
                args = (args[0].copy(order="K"),) + args[1:]  # do not reach the device)
        return _wrap_out(_call(fn, args, kwargs, host_ok, name), kwargs)
    function.__name__ = name
    function.__doc__ = getattr(fn, "__doc__", None)
    return function


# functions that take host data (a NumPy array becomes a device array: a host-to-device copy)
_FROM_HOST = frozenset({"asarray", "array", "asanyarray"})
# NumPy names CuPy does not have (kept out so that code using them fails here as on a GPU)
_NOT_IN_CUPY = frozenset({"add_docstring", "busday_count", "datetime_as_string", "nditer",
                          "frompyfunc", "vectorize", "piecewise", "fromfile", "fromstring",
                          "genfromtxt", "loadtxt", "savetxt", "memmap", "recarray", "chararray",
                          "matrix", "asmatrix", "bmat", "ma", "char", "rec", "ctypeslib", "testing",
                          "polynomial", "f2py", "typing", "dtypes", "strings",
                          "errstate", "seterr", "geterr", "seterrcall"})


class _Namespace(types.ModuleType):
    """A module whose attributes are NumPy's (or a NumPy submodule's), acting on device arrays."""

    def __init__(self, name: str, source) -> None:
        super().__init__(name)
        self._source = source

    def __getattr__(self, attr):
        if attr.startswith("__") or attr in _NOT_IN_CUPY:
            raise AttributeError(f"module {self.__name__!r} has no attribute {attr!r}")
        value = getattr(self._source, attr)
        if isinstance(value, np.ufunc):
            value = _Ufunc(value)
        elif isinstance(value, (type, np.dtype)) or not callable(value):
            pass  # dtypes (cupy.float32 is numpy.float32), constants (pi, inf, newaxis)
        else:
            value = _function(value, attr, host_ok=attr in _FROM_HOST)
        setattr(self, attr, value)
        return value


def _asnumpy(a, stream=None, order="C", out=None, blocking=True) -> np.ndarray:
    """``cupy.asnumpy``: the explicit device-to-host copy."""
    if isinstance(a, ndarray):
        return a.get(order=order)
    return np.asarray(a, order=order)


def _scatter_add(a, slices, value) -> None:
    """``cupyx.scatter_add``: ``a[slices] += value`` with repeats accumulated."""
    np.add.at(_unwrap(a), _unwrap(slices, host_ok=True), _unwrap(value))


def _repeat(a, repeats, axis=None):
    """``cupy.repeat``: ``repeats`` is an int or a list (CuPy refuses arrays)."""
    if isinstance(repeats, (ndarray, np.ndarray)):
        raise ValueError("cupy.repeat: repeats must be an int or a list of ints, got an array "
                         "(the stand-in follows CuPy)")
    return ndarray(np.repeat(_unwrap(a), repeats, axis))


def _as_strided(x, shape=None, strides=None):
    """``cupy.lib.stride_tricks.as_strided``: CuPy's signature (no ``writeable``)."""
    return ndarray(np.lib.stride_tricks.as_strided(_unwrap(x), shape, strides))


class RandomState:
    """``cupy.random.RandomState``: draws made on the device, in CuPy's signatures (``size``
    and ``dtype`` keywords; float32/float64 only where CuPy has only those). NumPy's PCG64
    makes the numbers: the streams differ from cuRAND's, the interface does not."""

    def __init__(self, seed=None, method=None) -> None:
        self.method = method
        self.seed(seed)

    def seed(self, seed=None) -> None:
        if seed is not None:  # CuPy's cast: a Python int (int64 to NumPy 2) is refused there too
            seed = int(np.asarray(seed).astype(np.uint64, casting="safe"))
        self._g = np.random.Generator(np.random.PCG64(seed))

    @staticmethod
    def _float(dtype, what: str):
        dtype = np.dtype(float if dtype is None else dtype)
        if dtype not in (np.float32, np.float64):
            raise TypeError(f"cupy.random.{what}: dtype must be float32 or float64, got {dtype}")
        return dtype

    def random_sample(self, size=None, dtype=float):
        return ndarray(np.asarray(self._g.random(size, dtype=self._float(dtype, "random_sample"))))

    def standard_normal(self, size=None, dtype=float):
        dtype = self._float(dtype, "standard_normal")
        return ndarray(np.asarray(self._g.standard_normal(size, dtype=dtype)))

    def uniform(self, low=0.0, high=1.0, size=None, dtype=float):
        dtype = self._float(dtype, "uniform")
        return ndarray(np.asarray(self._g.uniform(low, high, size)).astype(dtype))

    def normal(self, loc=0.0, scale=1.0, size=None, dtype=float):
        dtype = self._float(dtype, "normal")
        return ndarray(np.asarray(self._g.normal(loc, scale, size)).astype(dtype))

    def exponential(self, scale=1.0, size=None, dtype=float):
        dtype = self._float(dtype, "exponential")
        return ndarray(np.asarray(self._g.exponential(scale, size)).astype(dtype))

    def randint(self, low, high=None, size=None, dtype="l"):
        if high is None:
            low, high = 0, low
        return ndarray(np.asarray(self._g.integers(low, high, size, dtype=np.dtype(dtype))))

    def permutation(self, num):
        if isinstance(num, ndarray):
            return ndarray(self._g.permutation(num._a))
        return ndarray(self._g.permutation(int(num)))


def _special() -> types.ModuleType:
    special = types.ModuleType("cupyx.scipy.special")
    try:
        import scipy.special as host_special
    except ImportError:
        return special
    for name in ("erf", "erfc", "erfinv", "expit", "logit", "gammaln", "digamma", "polygamma",
                 "i0", "i0e", "i1", "i1e", "ndtr", "ndtri", "log_ndtr", "xlogy", "xlog1py",
                 "zeta", "gammainc", "gammaincc", "entr", "sinc", "erfcx", "log_expit"):
        if hasattr(host_special, name):
            fn = getattr(host_special, name)
            setattr(special, name, _Ufunc(fn) if isinstance(fn, np.ufunc) else _function(fn, name))
    return special


def _build():
    cupy = _Namespace("cupy", np)
    cupy.ndarray = ndarray
    cupy.asnumpy = _asnumpy
    cupy.repeat = _repeat
    cupy.linalg = _Namespace("cupy.linalg", np.linalg)
    cupy.fft = _Namespace("cupy.fft", np.fft)
    cupy.lib = types.SimpleNamespace(stride_tricks=types.SimpleNamespace(
        as_strided=_as_strided, sliding_window_view=_function(
            np.lib.stride_tricks.sliding_window_view, "sliding_window_view")))
    cupy.random = _Namespace("cupy.random", np.random)
    cupy.random.RandomState = RandomState
    cupy.get_default_memory_pool = lambda: _POOL
    cupy.get_default_pinned_memory_pool = lambda: types.SimpleNamespace(free_all_blocks=lambda: None)
    cupy.cuda = types.SimpleNamespace(
        runtime=_devices.runtime(), Device=_devices.Device,
        curand=types.SimpleNamespace(CURAND_RNG_PSEUDO_DEFAULT=100, CURAND_RNG_PSEUDO_XORWOW=101,
                                     CURAND_RNG_PSEUDO_PHILOX4_32_10=161),
        memory_hook=types.SimpleNamespace(MemoryHook=MemoryHook),
        get_current_stream=lambda: types.SimpleNamespace(synchronize=lambda: None))
    cupy.fuse = fuse  # runs the function op by op, counting launches (see standin_fuse.py)
    cupy.is_standin = True
    cupyx = types.ModuleType("cupyx")
    cupyx.scatter_add = _scatter_add
    cupyx.scipy = types.SimpleNamespace(special=_special())
    return cupy, cupyx


module, cupyx = _build()


# ----------------------------------------------------------- several devices --
# (see standin_devices: each array remembers the device it was made on; a kernel takes
# arrays of the current device only; asarray and copy() bring arrays over from another)
def _here(array: ndarray) -> np.ndarray:
    """The data of ``array`` for a kernel on the current device (CuPy's error for another)."""
    if array._dev != _devices.current():
        _devices.check_current(array._dev)
    return array._a


def _copy_to_current(array: ndarray):
    """``arr.copy``: a copy on the current device, from any device (as CuPy's)."""
    def copy(order="C"):
        return ndarray(array._a.copy(order=order))
    return copy


def _onto_current_device(function):
    """``cupy.asarray``/``array`` of an array on another device: a copy onto the current one
    (the way CuPy moves arrays between devices), never a view across devices."""
    def onto_current(obj, *args, **kwargs):
        if isinstance(obj, ndarray) and obj._dev != _devices.current():
            obj = ndarray(obj._a.copy())
        return function(obj, *args, **kwargs)
    onto_current.__name__ = function.__name__
    return onto_current


for _name in sorted(_FROM_HOST):
    setattr(module, _name, _onto_current_device(getattr(module, _name)))

_ENABLED = [os.environ.get(ENV, "") not in ("", "0")]
# called when the stand-in is switched on or off: the CuPy backend (which imports this
# module) puts its reset here, so that it is rebuilt on the right module pair
ON_SWITCH: list = []


def enabled() -> bool:
    """Whether the ``cuda`` device is this stand-in (rather than CuPy)."""
    return _ENABLED[0]


def enable() -> None:
    """Make ``device="cuda"`` use the stand-in (in this process, until :func:`disable`)."""
    _ENABLED[0] = True
    _reset_backend()


def disable() -> None:
    _ENABLED[0] = False
    _reset_backend()


def _reset_backend() -> None:
    for reset in ON_SWITCH:
        reset()
