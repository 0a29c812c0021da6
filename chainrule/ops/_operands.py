"""Turning user arguments into the tensors and parameters an op expects.

Shared by every op family: scalar operands become constant tensors of the
PyTorch-promoted dtype, dims are wrapped and checked, and methods are attached
to Tensor under their PyTorch names.
"""
from __future__ import annotations

import numbers

from .._fp import loud as fp_loud, quiet as fp_quiet
from .._plain_args import check_fill_value  # noqa: F401  (re-exported for the op families)
from ..dtypes import DType, from_numpy_dtype, get_default_dtype, result_type
from ..errors import DTypeError, IndexingError, op_error
from ..tensor import Tensor

_FLOAT_OF = {"float16": "float16", "float32": "float32", "float64": "float64"}


def tensor_method(*names: str):
    """Decorator: attach the function to Tensor under each name (default: its own)."""
    def attach(fn):
        for name in names or (fn.__name__,):
            setattr(Tensor, name, fn)
        return fn
    return attach


def is_scalar(x) -> bool:
    return isinstance(x, numbers.Number) and not isinstance(x, Tensor)


def constant(value, like: Tensor, np_dtype) -> Tensor:
    """A constant (no grad) 0-d tensor of ``value`` on ``like``'s device."""
    from ..backends import backend_of
    xp = backend_of(like._data)
    quiet = fp_quiet()  # 1e300 in float32 is inf, as in PyTorch, without NumPy's cast warning
    try:
        return Tensor._make(xp.asarray(value, dtype=np_dtype))
    except OverflowError:
        # a Python int outside an integer dtype's range wraps around, as in PyTorch
        bits = xp.dtype(np_dtype).itemsize * 8
        return Tensor._make(xp.asarray(int(value) % (1 << bits), dtype="uint64").astype(np_dtype))
    finally:
        fp_loud(quiet)


def as_tensor_arg(x, op: str, like: Tensor | None = None) -> Tensor:
    """A tensor for an argument that must be one (scalars and arrays are converted)."""
    if isinstance(x, Tensor):
        return x
    if is_scalar(x):
        if like is not None:
            return constant(x, like, _scalar_np_dtype(x, like))
    from ..creation import tensor
    try:
        return tensor(x)
    except (TypeError, ValueError) as e:
        raise op_error(DTypeError, op, f"expected a tensor or a number, got {type(x).__name__}") from e


def _scalar_np_dtype(value, like: Tensor):
    kind = like._data.dtype.kind
    if isinstance(value, bool):
        return like._data.dtype
    if isinstance(value, numbers.Integral):
        return like._data.dtype if kind in "iufV" else "int64"
    if isinstance(value, numbers.Real):
        return like._data.dtype if kind in "fV" else get_default_dtype().np  # (V: bfloat16)
    raise op_error(DTypeError, "op", f"complex scalars are not supported, got {value!r}")


def binary_operands(a, b, op: str, float_result: bool = False):
    """The two operands of an elementwise op as tensors of one, PyTorch-promoted dtype.

    ``float_result`` makes integer results floating (true division, pow with a
    negative exponent …).
    """
    ta, tb = isinstance(a, Tensor), isinstance(b, Tensor)
    if ta and tb:
        da, db = a._data.dtype, b._data.dtype
        if da == db and (not float_result or da.kind in "fV"):
            return a, b
        dims = [t for t in (a, b) if t._data.ndim > 0]
        zero = [t for t in (a, b) if t._data.ndim == 0]
        target = result_type([from_numpy_dtype(t._data.dtype) for t in dims],
                             [from_numpy_dtype(t._data.dtype) for t in zero], [])
        target = _floatify(target, float_result)
        return _cast(a, target), _cast(b, target)
    if ta and is_scalar(b):
        return _with_scalar(a, b, float_result, op)
    if tb and is_scalar(a):
        tb_, ta_ = _with_scalar(b, a, float_result, op)
        return ta_, tb_
    # neither is a tensor, or an operand is a list/array: convert and retry
    a = a if ta else as_tensor_arg(a, op)
    b = b if tb else as_tensor_arg(b, op)
    return binary_operands(a, b, op, float_result)


def _with_scalar(t: Tensor, s, float_result: bool, op: str):
    if isinstance(s, complex):
        raise op_error(DTypeError, op, f"complex scalars are not supported, got {s!r}")
    target = result_type([from_numpy_dtype(t._data.dtype)] if t._data.ndim else [],
                         [] if t._data.ndim else [from_numpy_dtype(t._data.dtype)], [s])
    target = _floatify(target, float_result)
    return _cast(t, target), constant(s, t, target.np)


def _floatify(dtype: DType, float_result: bool) -> DType:
    if float_result and not dtype.is_floating_point:
        return get_default_dtype()
    return dtype


def _cast(t: Tensor, dtype: DType) -> Tensor:
    if t._data.dtype == dtype.np:
        return t
    return t.to(dtype)


def wrap_dim(dim, ndim: int, op: str) -> int:
    """``dim`` as a non-negative index into ``ndim`` dimensions, or a clear error."""
    if isinstance(dim, Tensor):
        dim = int(dim)
    if not isinstance(dim, numbers.Integral) or isinstance(dim, bool):
        raise op_error(DTypeError, op, f"dim must be an int, got {type(dim).__name__} {dim!r}")
    lo, hi = (-1, 0) if ndim == 0 else (-ndim, ndim - 1)
    if not lo <= dim <= hi:
        raise op_error(IndexingError, op, f"dim {dim} is out of range for a tensor with {ndim} "
                       f"dimension{'s' if ndim != 1 else ''} (expected {lo} to {hi})")
    return int(dim) % ndim if ndim else 0


def wrap_dims(dim, ndim: int, op: str) -> tuple | None:
    """``dim`` (None, an int, or a tuple/list of ints) as a sorted tuple of indices."""
    if dim is None:
        return None
    if isinstance(dim, (tuple, list)):
        dims = tuple(wrap_dim(d, ndim, op) for d in dim)
        if len(set(dims)) != len(dims):
            raise op_error(IndexingError, op, f"dim {tuple(dim)} names a dimension twice")
        return tuple(sorted(dims))
    return (wrap_dim(dim, ndim, op),)


def _broadcast_explain(name):
    """The message for operands whose shapes do not broadcast (an op's ``explain``)."""
    def explain(inputs, params):
        shapes = [tuple(t.shape) for t in inputs]
        return (f"cannot broadcast shapes {' and '.join(str(s) for s in shapes)}: from the right, "
                f"each pair of sizes must be equal or one of them 1")
    return explain
