"""Math functions real PyTorch programs use beyond the core families: inverse hyperbolics,
``atan2``, ``logit``, ``logaddexp``, ``xlogy``, ``nan_to_num``, ``trace``, ``diff`` …

Each is either an op with its own rule (``asinh``, ``atan2``: precise near 0) or a composition
of differentiable ops (``logaddexp``, ``trace``), so gradients follow. Counting and set
functions (``unique``, ``bincount``, ``isin``, ``tril_indices``) have integer or bool results,
nothing to differentiate.

>>> import chainrule as cr
>>> cr.atan2(cr.tensor([1.0]), cr.tensor([-1.0])), cr.unique(cr.tensor([3, 1, 3]))
(tensor([2.3562]), tensor([1, 3]))
"""
from __future__ import annotations

import math

from ..backends import NUMPY, backend_of
from ..errors import ShapeError, op_error
from ..tensor import Tensor
from ._operands import binary_operands, tensor_method
from .elementwise import _floating, _unary, erf, exp, log, log1p, maximum, sqrt, where_fn
from .registry import defgrad, defop, defvjp

__all__ = ["asinh", "acosh", "atanh", "arcsinh", "arccosh", "arctanh", "erfc", "atan2", "arctan2",
           "hypot", "logit", "logaddexp", "xlogy", "nan_to_num", "deg2rad", "rad2deg", "sgn",
           "signbit", "trace", "diff", "unique", "bincount", "isin", "tril_indices", "triu_indices"]

asinh = _unary("asinh", lambda xp, x: xp.arcsinh(x), lambda m, g, ans, x: g / m.sqrt(x * x + 1),
               aliases=("arcsinh",))
acosh = _unary("acosh", lambda xp, x: xp.arccosh(x), lambda m, g, ans, x: g / m.sqrt(x * x - 1),
               aliases=("arccosh",))
atanh = _unary("atanh", lambda xp, x: xp.arctanh(x), lambda m, g, ans, x: g / (1 - x * x),
               aliases=("arctanh",))
arcsinh, arccosh, arctanh = asinh, acosh, atanh

_atan2 = defop("atan2", lambda xp, y, x: xp.arctan2(y, x))
defgrad(_atan2, lambda m, g, ans, y, x: g * x / (x * x + y * y),
        lambda m, g, ans, y, x: -g * y / (x * x + y * y))


@tensor_method("atan2", "arctan2")
def atan2(input: Tensor, other) -> Tensor:
    """The angle of the point (``other``, ``input``): ``atan(input / other)`` in its quadrant."""
    y, x = binary_operands(input, other, "atan2", float_result=True)
    return _atan2(y, x)


arctan2 = atan2


@tensor_method("erfc")
def erfc(input: Tensor) -> Tensor:
    """``1 - erf(input)``."""
    return 1 - erf(input)


@tensor_method("hypot")
def hypot(input: Tensor, other) -> Tensor:
    """``sqrt(input² + other²)``."""
    a, b = binary_operands(input, other, "hypot", float_result=True)
    return sqrt(a * a + b * b)


@tensor_method("logit")
def logit(input: Tensor, eps: float | None = None) -> Tensor:
    """``log(p / (1 - p))``, ``p`` clamped to [eps, 1 - eps] when ``eps`` is given."""
    p = _floating(input, "logit")
    if eps is not None:
        p = p.clamp(eps, 1 - eps)
    return log(p / (1 - p))


@tensor_method("logaddexp")
def logaddexp(input: Tensor, other) -> Tensor:
    """``log(exp(input) + exp(other))`` without overflow."""
    a, b = binary_operands(input, other, "logaddexp", float_result=True)
    return maximum(a, b) + log1p(exp(-(a - b).abs()))


@tensor_method("xlogy")
def xlogy(input, other) -> Tensor:
    """``input * log(other)``, 0 where ``input`` is 0 (also where ``other`` is 0) unless
    ``other`` is NaN, as PyTorch."""
    x, y = binary_operands(input, other, "xlogy", float_result=True)
    product = x * log(y)
    return where_fn((x == 0) & ~y.isnan(), 0.0, product)


@tensor_method("nan_to_num")
def nan_to_num(input: Tensor, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None) -> Tensor:
    """NaN, +inf and -inf replaced (by 0 and the dtype's largest and lowest values by default)."""
    if not input.is_floating_point():
        return input.clone()
    info = backend_of(input._data).finfo(input._data.dtype)
    posinf = float(info.max) if posinf is None else posinf
    neginf = float(info.min) if neginf is None else neginf
    out = where_fn(input.isnan(), nan, input)
    out = where_fn(out == math.inf, posinf, out)
    return where_fn(out == -math.inf, neginf, out)


@tensor_method("deg2rad")
def deg2rad(input: Tensor) -> Tensor:
    return _floating(input, "deg2rad") * (math.pi / 180)


@tensor_method("rad2deg")
def rad2deg(input: Tensor) -> Tensor:
    return _floating(input, "rad2deg") * (180 / math.pi)


@tensor_method("sgn")
def sgn(input: Tensor) -> Tensor:
    """``sign`` (chainrule has no complex tensors)."""
    return input.sign()


@tensor_method("signbit")
def signbit(input: Tensor) -> Tensor:
    """Whether the sign bit is set (``-0.0`` included)."""
    return Tensor._make(backend_of(input._data).signbit(input._data))


@tensor_method("trace")
def trace(input: Tensor) -> Tensor:
    """The sum of a matrix's diagonal."""
    if input.ndim != 2:
        raise op_error(ShapeError, "trace", f"expected a matrix, got shape {tuple(input.shape)}")
    return input.diagonal().sum()


@tensor_method("diff")
def diff(input: Tensor, n: int = 1, dim: int = -1, prepend=None, append=None) -> Tensor:
    """The ``n``-th forward difference along ``dim`` (after ``prepend``/``append``)."""
    from .join import cat
    parts = [p for p in (prepend, input, append) if p is not None]
    x = cat(parts, dim) if len(parts) > 1 else input
    for _ in range(n):
        length = x.shape[dim]
        if length == 0:
            break
        later, earlier = x.narrow(dim, 1, length - 1), x.narrow(dim, 0, length - 1)
        x = later ^ earlier if x.dtype.name == "bool" else later - earlier
    return x


@tensor_method("unique")
def unique(input: Tensor, sorted: bool = True, return_inverse: bool = False,  # noqa: A002
           return_counts: bool = False, dim: int | None = None):
    """The distinct values (sorted), with the inverse indices and the counts when asked for."""
    array = input._data
    xp = backend_of(array)
    values, inverse, counts = xp.unique(array, return_inverse=True, return_counts=True, axis=dim)
    if dim is None:
        inverse = inverse.reshape(array.shape)
    result = [Tensor._make(values)]
    if return_inverse:
        result.append(Tensor._make(inverse.astype(xp.int64)))
    if return_counts:
        result.append(Tensor._make(counts.astype(xp.int64)))
    return result[0] if len(result) == 1 else tuple(result)


@tensor_method("bincount")
def bincount(input: Tensor, weights: Tensor | None = None, minlength: int = 0) -> Tensor:
    """How often each non-negative int occurs (summing ``weights`` instead, when given)."""
    from .._args import ArgumentError
    from ..errors import DTypeError
    if input.ndim != 1 or input._data.dtype.kind not in "iu":
        raise op_error(DTypeError, "bincount", f"expected a 1-d integer tensor, got "
                                               f"{input.dtype.name} of shape {tuple(input.shape)}")
    if input.numel() and int(input.min()) < 0:
        raise op_error(ArgumentError, "bincount", "input must be non-negative")
    xp = backend_of(input._data)
    w = None if weights is None else weights._data
    counts = xp.bincount(input._data, weights=w, minlength=minlength)
    if weights is None:
        return Tensor._make(counts.astype(xp.int64))
    # PyTorch: float32 weights give float32 counts, any other weights float64
    return Tensor._make(counts.astype(xp.float32 if w.dtype == xp.float32 else xp.float64))


def isin(elements, test_elements, *, assume_unique: bool = False, invert: bool = False) -> Tensor:
    """Whether each of ``elements`` is among ``test_elements``."""
    xp = backend_of(elements._data if isinstance(elements, Tensor) else test_elements._data)
    e = xp.asarray(elements._data if isinstance(elements, Tensor) else elements)
    t = xp.asarray(test_elements._data if isinstance(test_elements, Tensor) else test_elements)
    return Tensor._make(xp.asarray(xp.isin(e, t, assume_unique=assume_unique, invert=invert)))


def _indices(which, row: int, col: int, offset: int, dtype) -> Tensor:
    from ..dtypes import int64
    rows, cols = which(row, offset, col)
    return Tensor._make(NUMPY.stack([rows, cols]).astype((dtype or int64).np))


def tril_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None) -> Tensor:
    """The (2, N) coordinates of the lower triangle of a ``row`` × ``col`` matrix."""
    return _indices(NUMPY.tril_indices, row, col, offset, dtype)


def triu_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None) -> Tensor:
    """The (2, N) coordinates of the upper triangle of a ``row`` × ``col`` matrix."""
    return _indices(NUMPY.triu_indices, row, col, offset, dtype)

