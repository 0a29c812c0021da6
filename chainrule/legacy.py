"""PyTorch's older spellings that real programs still use: ``x.new_zeros(...)`` and the
other ``new_*`` methods, ``torch.FloatTensor(...)``-style constructors, ``x.is_cpu``.

``new_*`` make a tensor with ``self``'s dtype and device unless told otherwise. A legacy
constructor takes sizes (``FloatTensor(2, 3)``: zeros here, uninitialised in PyTorch) or
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
from .creation import full, tensor, zeros
from .tensor import Tensor

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


def _legacy(name: str, dtype) -> type:
    def __new__(cls, *args):
        if len(args) == 1 and not isinstance(args[0], int):  # data: a list, an array, a tensor
            data = args[0].detach() if isinstance(args[0], Tensor) else args[0]
            return tensor(data, dtype=dtype)
        return zeros(*args, dtype=dtype)
    return _LegacyType(name, (), {"__new__": __new__, "dtype": dtype,
                                  "__doc__": f"``{name}(*sizes)`` or ``{name}(data)``: a CPU tensor "
                                             f"of dtype {dtype.name}."})


FloatTensor = _legacy("FloatTensor", dtypes.float32)
DoubleTensor = _legacy("DoubleTensor", dtypes.float64)
HalfTensor = _legacy("HalfTensor", dtypes.float16)
LongTensor = _legacy("LongTensor", dtypes.int64)
IntTensor = _legacy("IntTensor", dtypes.int32)
ShortTensor = _legacy("ShortTensor", dtypes.int16)
ByteTensor = _legacy("ByteTensor", dtypes.uint8)
CharTensor = _legacy("CharTensor", dtypes.int8)
BoolTensor = _legacy("BoolTensor", dtypes.bool_)
