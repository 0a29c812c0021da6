"""PyTorch's older spellings that real programs still use: ``x.new_zeros(...)`` and the
other ``new_*`` methods, ``torch.FloatTensor(...)``-style constructors, ``x.is_cpu``.

``new_*`` make a tensor with ``self``'s dtype and device unless told otherwise. A legacy
constructor takes sizes (``FloatTensor(2, 3)``: zeros here, uninitialised in PyTorch), a tensor
(an alias, of its own dtype only) or
data (``LongTensor([1, 2])``); ``isinstance(x, cr.FloatTensor)`` asks for a float32 CPU
tensor, as in PyTorch.

>>> import chainrule as cr
>>> w = cr.ones(2, dtype=cr.float64)
>>> w.new_zeros(1, 3).dtype, cr.LongTensor([1, 2]).dtype, isinstance(cr.zeros(1), cr.FloatTensor)
(chainrule.float64, chainrule.int64, True)
"""
from __future__ import annotations

from typing import Any

from . import dtypes
from ._args import ArgumentError
from .backends import Device
from .creation import full, tensor, zeros
from .errors import DTypeError, op_error
from .tensor import Size, Tensor

__all__ = ["FloatTensor", "DoubleTensor", "HalfTensor", "LongTensor", "IntTensor", "ShortTensor",
           "ByteTensor", "CharTensor", "BoolTensor"]


def _like(self: Tensor, dtype, device) -> dict:
    return {"dtype": self.dtype if dtype is None else dtype,
            "device": self.device if device is None else device}


def new_zeros(self: Tensor, *size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Zeros of ``size`` with this tensor's dtype and device."""
    return zeros(*size, **_like(self, dtype, device), requires_grad=requires_grad)


def new_ones(self: Tensor, *size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Ones of ``size`` with this tensor's dtype and device."""
    return new_full(self, size[0] if len(size) == 1 and isinstance(size[0], (tuple, list)) else size,
                    1, dtype=dtype, device=device, requires_grad=requires_grad)


def new_full(self: Tensor, size, fill_value, *, dtype=None, device=None,
             requires_grad: bool = False) -> Tensor:
    """``fill_value`` in ``size`` with this tensor's dtype and device."""
    return full(size, fill_value, **_like(self, dtype, device), requires_grad=requires_grad)


def new_tensor(self: Tensor, data: Any, *, dtype=None, device=None,
               requires_grad: bool = False) -> Tensor:
    """A copy of ``data`` with this tensor's dtype and device (unless given)."""
    if isinstance(data, Tensor):
        data = data.detach()
    return tensor(data, **_like(self, dtype, device), requires_grad=requires_grad)


Tensor.new_zeros = new_zeros
Tensor.new_empty = new_zeros  # (PyTorch leaves it uninitialised; zeros are one valid content)
Tensor.new_ones = new_ones
Tensor.new_full = new_full
Tensor.new_tensor = new_tensor
Tensor.is_cpu = property(lambda self: self.device.type == "cpu")
Tensor.is_xpu = property(lambda self: False)  # chainrule has no Intel GPU backend
Tensor.is_mps = property(lambda self: False)  # nor a Metal one


class _LegacyType(type):
    """``isinstance(x, FloatTensor)``: a CPU tensor of that dtype."""

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, Tensor) and obj.dtype == cls.dtype and obj.device.type == "cpu"


def legacy_array(name: str, args: tuple, dtype, device=None):
    """``(array, version counter or None)`` for PyTorch's legacy constructors, ``name(*args)``:
    no argument is an empty tensor, ints or a ``Size`` are sizes (zeros here; uninitialised in
    PyTorch), a tensor is shared (an alias: same memory, same version counter; of ``dtype``
    only), one sequence or array is data converted to ``dtype`` (the default float dtype when
    None). ``name(2.5)``, ``name("ab")`` and ``name([1], [2])`` are refused, as PyTorch does."""
    import numpy as np

    from .creation import _to_array
    if device is not None and Device(device).type != "cpu":
        raise op_error(ArgumentError, name, f"legacy constructors make CPU tensors; got device "
                                            f"{str(device)!r} (use tensor(data, device=...))")
    target = dtypes.get_default_dtype() if dtype is None else dtype
    if not args:
        return np.empty(0, dtype=target.np), None
    if len(args) == 1 and isinstance(args[0], Tensor):
        t = args[0]
        if dtype is not None and t.dtype != dtype:
            raise op_error(DTypeError, name, f"expected a tensor of dtype {dtype.name}, got one "
                                             f"of dtype {t.dtype.name}; convert it with .to()")
        return t._data, t._vc
    if isinstance(args[0], Size) or all(isinstance(a, int) and not isinstance(a, bool) for a in args):
        return zeros(*args, dtype=target)._data, None
    if len(args) == 1 and not isinstance(args[0], (str, bytes)) and \
            isinstance(args[0], (list, tuple, np.ndarray)):
        return _to_array(args[0], target, None), None
    got = ", ".join(type(a).__name__ for a in args)
    raise op_error(DTypeError, name, f"expected sizes (ints or a Size), or one sequence of data, "
                                     f"or a tensor; got ({got})")


def _legacy(name: str, dtype) -> type:
    def __new__(cls, *args, device=None):
        if len(args) == 1 and isinstance(args[0], Tensor):  # an alias, tracked by autograd
            legacy_array(name, args, dtype, device)  # (the dtype check)
            return args[0][...]  # (a view: view(same shape) would return the tensor itself)
        array, _ = legacy_array(name, args, dtype, device)
        return Tensor._make(array)
    return _LegacyType(name, (), {"__new__": __new__, "dtype": dtype,
                                  "__doc__": f"``{name}(*sizes)``, ``{name}(data)`` or "
                                             f"``{name}(tensor)`` (an alias): a CPU tensor of "
                                             f"dtype {dtype.name}."})


FloatTensor = _legacy("FloatTensor", dtypes.float32)
DoubleTensor = _legacy("DoubleTensor", dtypes.float64)
HalfTensor = _legacy("HalfTensor", dtypes.float16)
LongTensor = _legacy("LongTensor", dtypes.int64)
IntTensor = _legacy("IntTensor", dtypes.int32)
ShortTensor = _legacy("ShortTensor", dtypes.int16)
ByteTensor = _legacy("ByteTensor", dtypes.uint8)
CharTensor = _legacy("CharTensor", dtypes.int8)
BoolTensor = _legacy("BoolTensor", dtypes.bool_)

_LEGACY_TYPES = {t.__name__: t for t in (FloatTensor, DoubleTensor, HalfTensor, LongTensor, IntTensor,
                                        ShortTensor, ByteTensor, CharTensor, BoolTensor)}
_cast_type = Tensor.type


def _type(self: Tensor, dtype=None, non_blocking: bool = False, **kwargs):
    """``x.type()``: the type name; ``x.type(cr.FloatTensor)`` or ``x.type("torch.FloatTensor")``
    (PyTorch's legacy spellings of a dtype) and ``x.type(cr.float32)``: a cast."""
    if isinstance(dtype, _LegacyType):
        dtype = dtype.dtype
    elif isinstance(dtype, str):
        prefix, _, short = dtype.rpartition(".")
        if prefix in ("torch", "chainrule") and short in _LEGACY_TYPES:
            dtype = _LEGACY_TYPES[short].dtype
    return _cast_type(self, dtype)


Tensor.type = _type
