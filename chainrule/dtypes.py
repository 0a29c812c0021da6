"""Data types with PyTorch's names and PyTorch's type-promotion rules.

A :class:`DType` wraps the NumPy dtype that the backend arrays carry. Promotion
follows PyTorch, not NumPy: a Python float with a float32 tensor stays float32,
and a Python scalar never widens a tensor of the same category.

>>> import chainrule as cr
>>> cr.promote_types(cr.int64, cr.float32)
chainrule.float32
>>> cr.promote_types(cr.bfloat16, cr.float16)
chainrule.float32

``chainrule.bfloat16`` always exists as a dtype (its name, size and promotion need nothing);
its arrays come from the optional package ml_dtypes (``pip install 'chainrule[bf16]'``),
loaded when the first bfloat16 tensor is made. A bfloat16 array's NumPy kind is ``"V"``,
not ``"f"``: code that asks an array whether it is floating checks ``kind in "fV"``.
"""
from __future__ import annotations

import numpy as np

__all__ = ["DType", "float16", "bfloat16", "float32", "float64", "int8", "int16", "int32", "int64",
           "uint8", "bool", "promote_types", "get_default_dtype", "set_default_dtype"]


class DType:
    """A tensor element type (``chainrule.float32`` …); compares equal to itself only."""

    __slots__ = ("name", "np", "is_floating_point", "is_signed", "itemsize", "_category")

    def __init__(self, name: str, np_dtype: np.dtype, category: int) -> None:
        self.name = name
        self.np = np.dtype(np_dtype)
        self.is_floating_point = category == 2
        self.is_signed = self.np.kind in "fi"
        self.itemsize = self.np.itemsize
        self._category = category  # 0 bool, 1 integer, 2 floating

    def __repr__(self) -> str:
        return f"chainrule.{self.name}"

    def __reduce__(self):  # dtypes are singletons
        return (from_numpy_dtype, (self.np.str,))

    def to_real(self) -> "DType":
        return self


class _MLDType(DType):
    """A floating dtype whose NumPy form lives in the optional package ml_dtypes.

    Its name, size and promotion are known without it; ``.np`` (asked for only when an
    array is made or cast) loads ml_dtypes, or raises an error that names the extra.
    """

    __slots__ = ()

    def __init__(self, name: str, itemsize: int) -> None:
        self.name = name
        self.is_floating_point = True
        self.is_signed = True
        self.itemsize = itemsize
        self._category = 2

    @property
    def np(self) -> np.dtype:  # type: ignore[override]
        from ._mldtypes import numpy_dtype
        return numpy_dtype(self.name)

    def __reduce__(self):
        return (to_dtype, (self.name,))


class _HalfDType(DType):
    """float16: NumPy has it, but its first use (``.np``, or a float16 array met by
    :func:`from_numpy_dtype`) switches on computing half ops in float32 then rounding,
    as PyTorch's CPU kernels do (see chainrule._mldtypes); programs without float16
    never pay for that."""

    __slots__ = ()

    def __init__(self) -> None:
        self.name = "float16"
        self.is_floating_point = True
        self.is_signed = True
        self.itemsize = 2
        self._category = 2

    @property
    def np(self) -> np.dtype:  # type: ignore[override]
        from ._mldtypes import activate_float16
        activate_float16()
        return _HALF


_HALF = np.dtype(np.float16)
bool_ = DType("bool", np.bool_, 0)
uint8 = DType("uint8", np.uint8, 1)
int8 = DType("int8", np.int8, 1)
int16 = DType("int16", np.int16, 1)
int32 = DType("int32", np.int32, 1)
int64 = DType("int64", np.int64, 1)
float16 = _HalfDType()
float32 = DType("float32", np.float32, 2)
float64 = DType("float64", np.float64, 2)
bfloat16 = _MLDType("bfloat16", 2)
globals()["bool"] = bool_  # chainrule.bool, as torch.bool

half, float, double = float16, float32, float64  # noqa: A001 - PyTorch aliases
short, int, long = int16, int32, int64  # noqa: A001

_NUMPY_DTYPES = (bool_, uint8, int8, int16, int32, int64, float16, float32, float64)
ALL_DTYPES = _NUMPY_DTYPES + (bfloat16,)
# (float16's join at its first use, bfloat16's when ml_dtypes is loaded)
_BY_NP = {d.np: d for d in _NUMPY_DTYPES if d is not float16}
_BY_NP_TYPE = {d.np.type: d for d in _NUMPY_DTYPES if d is not float16}

_default_float = float32


def from_numpy_dtype(np_dtype) -> DType:
    """The chainrule dtype for a NumPy dtype; a clear error for unsupported ones."""
    try:
        return _BY_NP[np_dtype]
    except (KeyError, TypeError):
        pass
    dt = np.dtype(np_dtype)
    if dt in _BY_NP:
        return _BY_NP[dt]
    if dt == _HALF:  # the first float16 array: float16.np switches its computing on
        _BY_NP[float16.np] = _BY_NP_TYPE[_HALF.type] = float16
        return float16
    if dt.kind == "u":
        return int64
    if dt.kind == "V" and dt.name == "bfloat16" and bfloat16.np == dt:  # ml_dtypes' bfloat16
        _BY_NP[dt] = bfloat16
        return bfloat16
    raise TypeError(f"chainrule has no dtype for NumPy dtype {dt}; supported: "
                    + ", ".join(d.name for d in ALL_DTYPES))


def to_dtype(dtype) -> DType:
    """Accept a DType, a NumPy dtype, a Python type or a dtype name."""
    if isinstance(dtype, DType):
        return dtype
    if dtype is builtins_float:
        return _default_float
    if dtype is builtins_int:
        return int64
    if dtype is builtins_bool:
        return bool_
    if isinstance(dtype, str) and dtype in _NAMES:
        return _NAMES[dtype]
    try:
        return from_numpy_dtype(np.dtype(dtype))
    except TypeError:
        from .errors import DTypeError, op_error
        raise op_error(DTypeError, "dtype", f"not a dtype: {dtype!r}; expected a chainrule dtype "
                       "such as chainrule.float32") from None


def dtype_arg(dtype, op: str) -> "DType | None":
    """The ``dtype=`` argument of a public function: None, a chainrule dtype, its name
    (``"float32"``, a chainrule extension), a NumPy dtype or the Python types float, int, bool.
    Anything else (``5``, ``"floaty"``) is refused with the op's name, not guessed at."""
    if dtype is None or isinstance(dtype, DType):
        return dtype
    if isinstance(dtype, str) and dtype in _NAMES:
        return _NAMES[dtype]
    if dtype is builtins_float or dtype is builtins_int or dtype is builtins_bool or \
            isinstance(dtype, np.dtype) or (isinstance(dtype, type) and issubclass(dtype, np.generic)):
        return to_dtype(dtype)
    from .errors import DTypeError, op_error
    raise op_error(DTypeError, op, f"dtype must be a chainrule dtype such as chainrule.float32, "
                   f"got {type(dtype).__name__} {dtype!r}")


import builtins as _b  # noqa: E402

builtins_float, builtins_int, builtins_bool = _b.float, _b.int, _b.bool
_NAMES = {d.name: d for d in ALL_DTYPES}
_NAMES.update(half=float16, float=float32, double=float64, short=int16, int=int32, long=int64)


def get_default_dtype() -> DType:
    """The dtype of tensors made from Python floats (float32 unless changed).

    >>> import chainrule as cr
    >>> cr.get_default_dtype()
    chainrule.float32
    """
    return _default_float


def set_default_dtype(dtype) -> None:
    """Set the dtype for tensors made from Python floats (float32 or float64).

    >>> import chainrule as cr
    >>> cr.set_default_dtype(cr.float64)
    >>> cr.tensor([1.5]).dtype
    chainrule.float64
    >>> cr.set_default_dtype(cr.float32)
    """
    global _default_float
    from .errors import DTypeError, op_error
    d = dtype_arg(dtype, "set_default_dtype")
    if d is None or not d.is_floating_point:
        raise op_error(DTypeError, "set_default_dtype", f"expected a floating dtype, got {dtype!r}")
    _default_float = d


def promote_types(a: DType, b: DType) -> DType:
    """The smallest dtype both ``a`` and ``b`` convert to without loss (PyTorch's table).

    >>> import chainrule as cr
    >>> cr.promote_types(cr.int32, cr.float32)
    chainrule.float32
    """
    if not (isinstance(a, DType) and isinstance(b, DType)):
        a, b = dtype_arg(a, "promote_types"), dtype_arg(b, "promote_types")
        if a is None or b is None:
            from .errors import DTypeError, op_error
            raise op_error(DTypeError, "promote_types", "expected two dtypes, got None")
    if a is b:
        return a
    if a._category != b._category:
        hi, lo = (a, b) if a._category > b._category else (b, a)
        if hi is uint8 and lo is bool_:
            return uint8
        return hi
    if a._category == 1 and (a is uint8 or b is uint8):
        other = b if a is uint8 else a
        return int16 if other is int8 else other
    if a.itemsize == b.itemsize == 2 and a._category == 2:  # float16 with bfloat16: neither
        return float32  # holds the other (range against precision), as in PyTorch
    return a if a.itemsize >= b.itemsize else b


def scalar_dtype(value) -> DType:
    """The dtype a Python scalar takes on its own."""
    if isinstance(value, _b.bool):
        return bool_
    if isinstance(value, _b.int):
        return int64
    return _default_float


def result_type(tensor_dtypes, zero_dim_dtypes, scalars) -> DType:
    """PyTorch's promotion over dimensioned tensors, 0-dim tensors and Python scalars.

    Groups are tried in that priority order; a lower-priority group changes the result
    only when its category (bool < integer < floating) is higher.
    """
    result = None
    for group in (tensor_dtypes, zero_dim_dtypes, [scalar_dtype(s) for s in scalars]):
        if not group:
            continue
        g = group[0]
        for d in group[1:]:
            g = promote_types(g, d)
        if result is None or g._category > result._category:
            result = g
    return result
