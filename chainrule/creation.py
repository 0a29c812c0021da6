"""Making tensors: from data, filled, ranges, and the ``*_like`` family.

>>> import chainrule as cr
>>> cr.tensor([1, 2]).dtype, cr.tensor([1.0, 2]).dtype, cr.zeros(2, 3).shape
(chainrule.int64, chainrule.float32, chainrule.Size([2, 3]))
"""
from __future__ import annotations

import numbers
from typing import Any, Sequence

import numpy as np

from ._fp import quiet_calls
from ._args import (ArgumentError, UnsupportedDTypeError, finite_value, index_value, number_value,
                    size_args, tensor_value)
from ._plain_args import check_fill_value
from .backends import NUMPY, backend_for_device, backend_of
from .dtypes import DType, bool_, dtype_arg, from_numpy_dtype, get_default_dtype, int64, to_dtype
from .errors import DTypeError, ShapeError, op_error
from .tensor import Tensor

__all__ = ["tensor", "as_tensor", "from_numpy", "zeros", "ones", "full", "empty", "arange",
           "linspace", "logspace", "eye", "zeros_like", "ones_like", "full_like", "empty_like",
           "scalar_tensor"]


def _backend(device):
    return NUMPY if device is None else backend_for_device(device)


def _infer_dtype(data) -> DType:
    """PyTorch's inference for nested Python data: any float → default float, etc."""
    kinds = set()
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, Tensor):
            kinds.add(item._data.dtype.kind.replace("V", "f"))  # (V: bfloat16)
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, bool) or isinstance(item, np.bool_):
            kinds.add("b")
        elif isinstance(item, numbers.Integral):
            kinds.add("i")
        elif isinstance(item, numbers.Real):
            kinds.add("f")
        elif isinstance(item, np.ndarray):
            kinds.add(item.dtype.kind)
        else:
            raise op_error(DTypeError, "tensor", f"could not infer a dtype for an element of type "
                           f"{type(item).__name__}; expected numbers, lists of numbers or arrays")
    if "c" in kinds:
        raise op_error(DTypeError, "tensor", "complex numbers are not supported")
    if "f" in kinds:
        return get_default_dtype()
    if kinds & {"i", "u"}:
        return int64
    if "b" in kinds:
        return bool_
    return get_default_dtype()  # empty


def _half_seen(array):
    """``array``; a float16 one switches on computing float16 ops in float32 (as
    ``chainrule.float16`` does when named; see chainrule._mldtypes)."""
    if array.dtype.kind == "f" and array.dtype.itemsize == 2:
        from_numpy_dtype(array.dtype)
    return array


@quiet_calls  # out-of-range floats cast to inf, as PyTorch, with no NumPy warning
def _to_array(data: Any, dtype, device, copy: bool = True):
    """The backend array for ``data`` in ``dtype`` on ``device``."""
    bk = _backend(device)
    if isinstance(data, Tensor):
        array = data._data
        if device is None:
            bk = backend_of(array)
        elif backend_of(array) is not bk:
            array = bk.from_host(backend_of(array).to_host(array))
        target = to_dtype(dtype).np if dtype is not None else array.dtype
        return array.astype(target, copy=copy) if (copy or array.dtype != target) else array
    if hasattr(data, "__cuda_array_interface__") or backend_of(data) is not NUMPY:
        array = data
        src = backend_of(array)
        if src is not bk:
            array = bk.from_host(src.to_host(array)) if device is not None else array
            bk = bk if device is not None else src
    elif isinstance(data, np.ndarray) or isinstance(data, np.generic):
        array = np.asarray(data)
        if array.dtype.kind == "u" and array.dtype != np.uint8:
            array = array.astype(np.int64)
        if array.dtype.kind == "c" or array.dtype.kind not in "biuf":
            raise op_error(DTypeError, "tensor", f"cannot make a tensor from a NumPy array of "
                           f"dtype {array.dtype}")
        if bk is not NUMPY:
            array = bk.from_host(array)
    else:
        inferred = _infer_dtype(data) if dtype is None else to_dtype(dtype)
        if isinstance(data, (list, tuple)) and any(isinstance(d, Tensor) for d in _flat(data)):
            data = _lists_from_tensors(data)
        try:
            array = np.array(data, dtype=inferred.np)
        except (ValueError, TypeError) as e:
            raise op_error(ShapeError, "tensor", f"could not make a tensor from {type(data).__name__}"
                           f" data: {e} (nested lists must be rectangular)") from None
        if bk is not NUMPY:
            array = bk.from_host(array)
        return array
    if dtype is not None:
        array = array.astype(to_dtype(dtype).np, copy=copy)
    elif copy:
        array = array.copy()
    return array


def _flat(data):
    for d in data:
        if isinstance(d, (list, tuple)):
            yield from _flat(d)
        else:
            yield d


def _lists_from_tensors(data):
    if isinstance(data, Tensor):
        return data.tolist()
    if isinstance(data, (list, tuple)):
        return [_lists_from_tensors(d) for d in data]
    return data


def tensor(data: Any, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (numbers, nested lists, arrays, tensors).

    >>> import chainrule as cr
    >>> cr.tensor([[1.0, 2.0]], requires_grad=True)
    tensor([[1., 2.]], requires_grad=True)
    """
    t = Tensor._make(_half_seen(_to_array(data, dtype_arg(dtype, "tensor"), device)))
    if requires_grad:
        t.requires_grad = True
    return t


def as_tensor(data: Any, dtype=None, device=None) -> Tensor:
    """Like :func:`tensor` but shares memory with ``data`` where it can."""
    if isinstance(data, Tensor) and dtype is None and device is None:
        return data
    if isinstance(data, str) or data is None:
        raise op_error(DTypeError, "as_tensor", f"expected numbers, lists of numbers, arrays or "
                       f"tensors, got {type(data).__name__} {data!r}")
    return Tensor._make(_half_seen(_to_array(data, dtype_arg(dtype, "as_tensor"), device, copy=False)))


def from_numpy(array) -> Tensor:
    """A tensor sharing memory with the NumPy array ``array``."""
    if not isinstance(array, np.ndarray):
        raise op_error(DTypeError, "from_numpy", f"expected a numpy.ndarray, got {type(array).__name__}")
    return Tensor._make(_half_seen(_to_array(array, None, None, copy=False)))


def scalar_tensor(value, *, dtype=None, device=None) -> Tensor:
    return tensor(value, dtype=dtype or get_default_dtype(), device=device)


def _sizes(args: tuple, size, op: str) -> tuple:
    """``f(2, 3)``, ``f((2, 3))`` or ``f(size=(2, 3))`` (PyTorch accepts size by keyword); both
    is refused as Python refuses a doubled argument."""
    if size is None:
        return args
    if args:
        raise TypeError(f"{op}() got multiple values for argument 'size'")
    return (size,)


def _shape(size: Sequence, op: str) -> tuple:
    """The shape from ``f(*size)`` (ints, or one tuple/list of ints): see :func:`size_args`."""
    if not size:
        raise op_error(DTypeError, op, "missing the size argument (ints or a tuple of ints)")
    return size_args(size, op)


@quiet_calls  # a half overflows to inf, as PyTorch; float32 overflow is refused below
def _filled(fill, size, dtype, device, requires_grad: bool, op: str) -> Tensor:
    bk = _backend(device)
    dt = (dtype_arg(dtype, op) or get_default_dtype()).np
    check_fill_value(fill, dt, op)
    t = Tensor._make(bk.full(_shape(size, op), fill, dtype=dt))
    if requires_grad:
        t.requires_grad = True
    return t


def zeros(*sizes, size=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros of the given shape."""
    return _filled(0, _sizes(sizes, size, "zeros"), dtype, device, requires_grad, "zeros")


def ones(*sizes, size=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones of the given shape."""
    return _filled(1, _sizes(sizes, size, "ones"), dtype, device, requires_grad, "ones")


def empty(*sizes, size=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """An uninitialised tensor (chainrule fills it with zeros: nothing is left undefined)."""
    return _filled(0, _sizes(sizes, size, "empty"), dtype, device, requires_grad, "empty")


def full(size, fill_value, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor filled with ``fill_value``; the dtype follows the value as in PyTorch."""
    fill_value = number_value(fill_value, "full", "fill_value")
    if dtype is None:
        dtype = bool_ if isinstance(fill_value, (bool, np.bool_)) else \
            int64 if isinstance(fill_value, numbers.Integral) else get_default_dtype()
    if not isinstance(size, (tuple, list)):  # full(3, v) is refused by PyTorch: size is a tuple
        raise op_error(DTypeError, "full", f"size must be a tuple of ints, got "
                       f"{type(size).__name__} {size!r}")
    return _filled(fill_value, (tuple(size),), dtype, device, requires_grad, "full")


def _like(t: Tensor, fill, dtype, device, requires_grad, op):
    tensor_value(t, op)
    dtype = t.dtype if dtype is None else dtype
    device = t.device if device is None else device
    return _filled(fill, (tuple(t.shape),), dtype, device, requires_grad, op)


def zeros_like(input: Tensor, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _like(input, 0, dtype, device, requires_grad, "zeros_like")


def ones_like(input: Tensor, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _like(input, 1, dtype, device, requires_grad, "ones_like")


def empty_like(input: Tensor, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _like(input, 0, dtype, device, requires_grad, "empty_like")


def full_like(input: Tensor, fill_value, *, dtype=None, device=None,
              requires_grad: bool = False) -> Tensor:
    return _like(input, number_value(fill_value, "full_like", "fill_value"), dtype, device,
                 requires_grad, "full_like")


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Values from ``start`` to ``end`` (exclusive) by ``step``; int64 for integer arguments.

    >>> import chainrule as cr
    >>> cr.arange(3), cr.arange(0, 1, 0.25)
    (tensor([0, 1, 2]), tensor([0.0000, 0.2500, 0.5000, 0.7500]))
    """
    if end is None:
        start, end = 0, start
    start, end, step = (finite_value(v, "arange", n) for v, n in ((start, "start"), (end, "end"),
                                                                  (step, "step")))
    dtype = dtype_arg(dtype, "arange")
    if dtype is not None and not dtype.is_floating_point:  # the bounds are cast first, as PyTorch
        start, end, step = int(start), int(end), int(step)
    if step == 0:
        raise op_error(ArgumentError, "arange", "step must be nonzero")
    if (end - start) * step < 0:
        raise op_error(ArgumentError, "arange", f"end ({end}) is on the wrong side of start "
                       f"({start}) for step {step}: the bounds are inconsistent with the step's sign")
    if dtype is None:
        ints = all(isinstance(v, numbers.Integral) for v in (start, end, step))
        dtype = int64 if ints else get_default_dtype()
    if dtype is bool_:
        raise op_error(UnsupportedDTypeError, "arange", "bool is not a supported dtype for arange")
    dt = to_dtype(dtype)
    bk = _backend(device)
    if dt.is_floating_point:
        import math
        n = max(0, math.ceil((float(end) - float(start)) / float(step)))
        array = (bk.arange(n, dtype=np.float64) * float(step) + float(start)).astype(dt.np)
    else:
        array = bk.arange(start, end, step, dtype=dt.np)
    t = Tensor._make(array)
    if requires_grad:
        t.requires_grad = True
    return t


def _spaced(start, end, steps, device, op: str):
    """``steps`` evenly spaced float64 values from ``start`` to ``end`` (inclusive)."""
    start = float(number_value(start, op, "start"))
    end = float(number_value(end, op, "end"))
    steps = index_value(steps, op, "steps")
    if steps < 0:
        raise op_error(ArgumentError, op, f"number of steps must be non-negative, got {steps}")
    with np.errstate(invalid="ignore", over="ignore"):  # infinite ends give inf/nan, as in PyTorch
        return _backend(device).linspace(start, end, steps)


def linspace(start, end, steps: int, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    dt = dtype_arg(dtype, "linspace") or get_default_dtype()
    t = Tensor._make(_spaced(start, end, steps, device, "linspace").astype(dt.np))
    if requires_grad:
        t.requires_grad = True
    return t


def logspace(start, end, steps: int, base: float = 10.0, *, dtype=None, device=None,
             requires_grad: bool = False) -> Tensor:
    dt = dtype_arg(dtype, "logspace") or get_default_dtype()
    base = float(number_value(base, "logspace", "base"))
    t = Tensor._make((base ** _spaced(start, end, steps, device, "logspace")).astype(dt.np))
    if requires_grad:
        t.requires_grad = True
    return t


def eye(n: int, m: int | None = None, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """The identity matrix (``n`` × ``m``)."""
    dt = dtype_arg(dtype, "eye") or get_default_dtype()
    rows = index_value(n, "eye", "n")
    cols = rows if m is None else index_value(m, "eye", "m")
    if rows < 0 or cols < 0:
        raise op_error(ArgumentError, "eye", f"n and m must be non-negative, got n={rows}, m={cols}")
    t = Tensor._make(_backend(device).eye(rows, cols, dtype=dt.np))
    if requires_grad:
        t.requires_grad = True
    return t
