"""``chainrule.finfo`` and ``chainrule.iinfo``: the numeric limits of a dtype, as PyTorch's.

bfloat16's limits are fixed by its format (8 exponent bits, 7 stored mantissa bits), so
``finfo(chainrule.bfloat16)`` needs no ml_dtypes.

>>> import chainrule as cr
>>> cr.finfo(cr.bfloat16).eps, cr.finfo(cr.bfloat16).bits
(0.0078125, 16)
>>> cr.iinfo(cr.uint8).max
255
"""
from __future__ import annotations

import numpy as np

from .dtypes import DType, bfloat16, dtype_arg, get_default_dtype
from .errors import DTypeError, op_error

__all__ = ["finfo", "iinfo"]

# bfloat16 is float32 with the low 16 mantissa bits dropped: float32's exponent range,
# 8 bits of precision (eps 2**-7), largest finite (2 - 2**-7) * 2**127
_BFLOAT16 = dict(bits=16, eps=2.0 ** -7, max=(2 - 2.0 ** -7) * 2.0 ** 127, tiny=2.0 ** -126,
                 resolution=0.01)


class finfo:  # noqa: N801 - PyTorch's name
    """Limits of a floating dtype: ``bits``, ``eps``, ``max``, ``min``, ``tiny`` (=
    ``smallest_normal``), ``resolution`` and ``dtype`` (its name)."""

    __slots__ = ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution", "dtype")

    def __init__(self, type: DType | None = None) -> None:  # noqa: A002 - PyTorch's name
        dtype = get_default_dtype() if type is None else dtype_arg(type, "finfo")
        if not dtype.is_floating_point:
            raise op_error(DTypeError, "finfo", f"requires a floating point dtype, got "
                           f"{dtype.name}; use chainrule.iinfo for integer dtypes")
        if dtype is bfloat16:
            limits = _BFLOAT16
        else:
            info = np.finfo(dtype.np)
            limits = dict(bits=info.bits, eps=float(info.eps), max=float(info.max),
                          tiny=float(info.smallest_normal), resolution=10.0 ** -info.precision)
        self.bits, self.eps, self.max = limits["bits"], limits["eps"], limits["max"]
        self.min, self.tiny = -limits["max"], limits["tiny"]
        self.smallest_normal, self.resolution = limits["tiny"], limits["resolution"]
        self.dtype = dtype.name

    def __eq__(self, other) -> bool:
        return isinstance(other, finfo) and self.dtype == other.dtype

    def __hash__(self) -> int:
        return hash(("finfo", self.dtype))

    def __repr__(self) -> str:
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, "
                f"eps={self.eps:g}, smallest_normal={self.smallest_normal:g}, "
                f"tiny={self.tiny:g}, dtype={self.dtype})")


class iinfo:  # noqa: N801 - PyTorch's name
    """Limits of an integer dtype: ``bits``, ``min``, ``max`` and ``dtype`` (its name)."""

    __slots__ = ("bits", "min", "max", "dtype")

    def __init__(self, type: DType) -> None:  # noqa: A002 - PyTorch's name
        dtype = dtype_arg(type, "iinfo")
        if dtype is None or dtype.is_floating_point or dtype.name == "bool":
            raise op_error(DTypeError, "iinfo", f"requires an integer dtype, got "
                           f"{getattr(dtype, 'name', dtype)}; use chainrule.finfo for floating dtypes")
        info = np.iinfo(dtype.np)
        self.bits, self.min, self.max, self.dtype = info.bits, int(info.min), int(info.max), dtype.name

    def __eq__(self, other) -> bool:
        return isinstance(other, iinfo) and self.dtype == other.dtype

    def __hash__(self) -> int:
        return hash(("iinfo", self.dtype))

    def __repr__(self) -> str:
        return f"iinfo(min={float(self.min):g}, max={float(self.max):g}, dtype={self.dtype})"
