"""Dtype and device conversion, copies: ``to``, ``float()``, ``clone`` …"""
from __future__ import annotations

from ..dtypes import (DType, bfloat16, bool_, float16, float32, float64, int32, int64, to_dtype, uint8,
                      int8, int16)
from ..errors import DTypeError, op_error
from ..tensor import Tensor
from ._operands import tensor_method
from .registry import defgrad, defop, defvjp

# The gradient of a cast is the gradient itself; the engine casts it back to the
# input's dtype.
to_dtype_op = defop("to_dtype", lambda xp, x, dtype: x.astype(dtype), saves=())
defgrad(to_dtype_op, lambda m, g, ans, x, dtype: g)  # the engine casts back

clone_op = defop("clone", lambda xp, x: x.copy(), saves=())
defgrad(clone_op, lambda m, g, ans, x: g)


def _cast(t: Tensor, dtype: DType, copy: bool = False) -> Tensor:
    if t._data.dtype == dtype.np and not copy:
        return t
    if not dtype.is_floating_point and t._requires_grad:
        # an integer result leaves the graph, as in PyTorch
        return Tensor._make(t._data.astype(dtype.np))
    return to_dtype_op(t, dtype=dtype.np)


def _to_device(t: Tensor, device) -> Tensor:
    from ..backends import backend_for_device, backend_of
    target = backend_for_device(device)
    if backend_of(t._data) is target:
        return t
    return to_device_op(t, device=str(device), source=str(t.device))


def _move(xp, x, device, source):
    from ..backends import backend_for_device, backend_of
    source_backend, target = backend_of(x), backend_for_device(device)
    if source_backend.module is target.module:  # GPU to GPU: CuPy copies device to device
        return target.from_host(x)
    return target.from_host(source_backend.to_host(x))


to_device_op = defop("to_device", _move, saves=())
defvjp(to_device_op, lambda g, ans, x, device, source: g.to(source))


@tensor_method("to")
def to(self: Tensor, *args, dtype=None, device=None, non_blocking: bool = False,
       copy: bool = False) -> Tensor:
    """Convert dtype and/or device: ``t.to(cr.float64)``, ``t.to('cpu')``, ``t.to(other)``."""
    for a in args:
        if isinstance(a, Tensor):
            dtype, device = a.dtype, a.device
        elif isinstance(a, DType) or (isinstance(a, type) and a in (float, int, bool)):
            dtype = a
        elif isinstance(a, str):
            try:
                dtype = to_dtype(a) if a not in ("cpu", "cuda") and not a.startswith("cuda:") else None
            except TypeError:
                dtype = None
            if dtype is None:
                device = a
        elif a is not None:
            from ..backends import Device
            if isinstance(a, Device):
                device = a
            else:
                raise op_error(DTypeError, "to", f"expected a dtype, a device or a tensor, got {a!r}")
    out = self
    if device is not None:
        out = _to_device(out, device)
    if dtype is not None:
        out = _cast(out, to_dtype(dtype), copy=copy and out is self)
    elif copy and out is self:
        out = clone(out)
    return out


@tensor_method("clone")
def clone(input: Tensor, *, memory_format=None) -> Tensor:
    """A copy that stays in the graph (its gradient flows back to ``input``)."""
    return clone_op(input)


@tensor_method("contiguous")
def contiguous(input: Tensor, memory_format=None) -> Tensor:
    """``input`` itself if its array is C-contiguous, else a contiguous copy."""
    if input._data.flags.c_contiguous:
        return input
    return clone_op(input)


def _caster(dtype: DType, name: str):
    def fn(self: Tensor, memory_format=None) -> Tensor:
        return _cast(self, dtype)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"``self.to({dtype!r})``."
    return fn


for _dt, _names in ((float32, ("float",)), (float64, ("double",)), (float16, ("half",)), (bfloat16, ("bfloat16",)),
                    (int64, ("long",)), (int32, ("int",)), (int16, ("short",)), (int8, ("char",)),
                    (uint8, ("byte",)), (bool_, ("bool",))):
    for _name in _names:
        setattr(Tensor, _name, _caster(_dt, _name))


@tensor_method("type")
def type_(self: Tensor, dtype=None):
    """Without an argument the type name ('chainrule.FloatTensor'); with one, a cast."""
    if dtype is None:
        names = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor", "bfloat16": "BFloat16Tensor",
                 "int64": "LongTensor", "int32": "IntTensor", "int16": "ShortTensor",
                 "int8": "CharTensor", "uint8": "ByteTensor", "bool": "BoolTensor"}
        return "chainrule." + names[self.dtype.name]
    from .._args import ArgumentError
    from ..dtypes import dtype_arg
    try:
        dtype = dtype_arg(dtype, "type")
    except DTypeError:
        if isinstance(dtype, str):  # PyTorch: ValueError for an unknown name
            raise op_error(ArgumentError, "type", f"invalid type {dtype!r}") from None
        raise
    return _cast(self, dtype)


@tensor_method("type_as")
def type_as(self: Tensor, other: Tensor) -> Tensor:
    return _cast(self, other.dtype)


@tensor_method("cpu")
def cpu(self: Tensor) -> Tensor:
    return _to_device(self, "cpu")


@tensor_method("cuda")
def cuda(self: Tensor, device=None) -> Tensor:
    return _to_device(self, "cuda" if device is None else f"cuda:{device}" if isinstance(device, int)
                      else device)
