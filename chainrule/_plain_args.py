"""Parsers for plain Python arguments (ints, flags, fill values), with no Tensor involved.

Split from ``_args.py`` (which re-exports them) so that ``tensor.py`` and ``backends``,
which sit below ``Tensor``'s parsers, can use them without importing upward.
"""
from __future__ import annotations

import math
import numbers
import operator

from .backends import NUMPY
from .errors import DTypeError, op_error


def _what(value) -> str:
    return f"{type(value).__name__} {value!r}" if not hasattr(value, "shape") else \
        f"{type(value).__name__} of shape {tuple(value.shape)}"


def index_value(value, op: str, name: str) -> int:
    """``value`` as a Python int: ints, NumPy ints and one-element integer tensors (not bools
    or floats, which PyTorch refuses where an int is expected)."""
    if type(value) is int:
        return value
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise op_error(DTypeError, op, f"{name} must be an int, got {_what(value)}")
    try:
        return operator.index(value)
    except TypeError:
        raise op_error(DTypeError, op, f"{name} must be an int, got {_what(value)}") from None


def bool_value(value, op: str, name: str) -> bool:
    """A flag that must be a bool (PyTorch refuses ``keepdim='yes'``); 0 and 1 pass too."""
    if value is True or value is False:
        return value
    if type(value).__name__ == "bool_" or (isinstance(value, numbers.Integral) and value in (0, 1)):
        return bool(value)
    raise op_error(DTypeError, op, f"{name} must be a bool, got {_what(value)}")


_FLOAT32_MAX = 3.4028234663852886e38  # the largest finite float32


def check_fill_value(value, np_dtype, op: str) -> None:
    """A float ``value`` written as is into a float32 tensor (a fill value, a ``where`` or
    ``clamp`` operand) must fit its range: PyTorch raises "value cannot be converted to type
    float without overflow" there, where arithmetic (``x * 1e300``) makes inf instead."""
    # float32 only: a Python float always fits float64, and PyTorch's checks for a half are
    # not consistent (full((1,), 1e5) is inf, full((2,), 1e5) refused): a half gets inf
    if isinstance(value, float) and not -_FLOAT32_MAX <= value <= _FLOAT32_MAX \
            and math.isfinite(value) and NUMPY.dtype(np_dtype).name == "float32":
        raise op_error(DTypeError, op, f"value {value!r} cannot be converted to float32 "
                       "without overflow")
