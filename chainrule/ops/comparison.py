"""Comparison, logical and bitwise ops, and ``isclose``/``allclose``/``equal``.

Split from ``elementwise.py`` (which re-exports every name here): these ops have bool or
integer outputs and no gradients, so they share none of the arithmetic's rule machinery.
"""
from __future__ import annotations

from ..errors import DTypeError, op_error
from ..tensor import Tensor
from ._operands import _broadcast_explain, binary_operands, tensor_method
from .registry import defop, nondifferentiable


# ------------------------------------------------ comparisons and logic --
# Their outputs are bool: nothing to differentiate.

def _compare(name, fwd, dunder=None, aliases=()):
    op = nondifferentiable(defop(name, fwd, explain=_broadcast_explain(name)),
                           "comparisons are piecewise constant with bool output")

    def fn(input, other) -> Tensor:
        a, b = binary_operands(input, other, name)
        return op(a, b)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Elementwise ``{name}`` (bool result)."
    tensor_method(name, *aliases, *((dunder,) if dunder else ()))(fn)
    return fn


eq = _compare("eq", lambda xp, a, b: xp.equal(a, b), "__eq__")
ne = _compare("ne", lambda xp, a, b: xp.not_equal(a, b), "__ne__", ("not_equal",))
lt = _compare("lt", lambda xp, a, b: xp.less(a, b), "__lt__", ("less",))
le = _compare("le", lambda xp, a, b: xp.less_equal(a, b), "__le__", ("less_equal",))
gt = _compare("gt", lambda xp, a, b: xp.greater(a, b), "__gt__", ("greater",))
ge = _compare("ge", lambda xp, a, b: xp.greater_equal(a, b), "__ge__", ("greater_equal",))
logical_and = _compare("logical_and", lambda xp, a, b: xp.logical_and(a, b))
logical_or = _compare("logical_or", lambda xp, a, b: xp.logical_or(a, b))
logical_xor = _compare("logical_xor", lambda xp, a, b: xp.logical_xor(a, b))

_bitwise_and = nondifferentiable(defop("bitwise_and", lambda xp, a, b: a & b), "bitwise")
_bitwise_or = nondifferentiable(defop("bitwise_or", lambda xp, a, b: a | b), "bitwise")
_bitwise_xor = nondifferentiable(defop("bitwise_xor", lambda xp, a, b: a ^ b), "bitwise")
_logical_not = nondifferentiable(defop("logical_not", lambda xp, a: xp.logical_not(a)), "bool output")
_bitwise_not = nondifferentiable(defop("bitwise_not", lambda xp, a: ~a), "bitwise")
_isnan = nondifferentiable(defop("isnan", lambda xp, a: xp.isnan(a)), "bool output")
_isinf = nondifferentiable(defop("isinf", lambda xp, a: xp.isinf(a)), "bool output")
_isfinite = nondifferentiable(defop("isfinite", lambda xp, a: xp.isfinite(a)), "bool output")


def _bitwise(op, name):
    def fn(input, other) -> Tensor:
        a, b = binary_operands(input, other, name)
        if a._data.dtype.kind in "fV":
            raise op_error(DTypeError, name, f"expected integer or bool tensors, got {a.dtype.name}")
        return op(a, b)
    fn.__name__ = fn.__qualname__ = name
    return fn


bitwise_and = tensor_method("bitwise_and", "__and__")(_bitwise(_bitwise_and, "bitwise_and"))
bitwise_or = tensor_method("bitwise_or", "__or__")(_bitwise(_bitwise_or, "bitwise_or"))
bitwise_xor = tensor_method("bitwise_xor", "__xor__")(_bitwise(_bitwise_xor, "bitwise_xor"))
Tensor.__rand__ = lambda self, other: bitwise_and(other, self)
Tensor.__ror__ = lambda self, other: bitwise_or(other, self)
Tensor.__rxor__ = lambda self, other: bitwise_xor(other, self)


@tensor_method("logical_not")
def logical_not(input: Tensor) -> Tensor:
    return _logical_not(input)


@tensor_method("bitwise_not", "__invert__")
def bitwise_not(input: Tensor) -> Tensor:
    if input._data.dtype.kind in "fV":
        raise op_error(DTypeError, "bitwise_not", f"expected an integer or bool tensor, got "
                       f"{input.dtype.name}")
    return _bitwise_not(input)


isnan = tensor_method("isnan")(lambda input: _isnan(input))
isinf = tensor_method("isinf")(lambda input: _isinf(input))
isfinite = tensor_method("isfinite")(lambda input: _isfinite(input))


def isclose(input: Tensor, other: Tensor, rtol: float = 1e-5, atol: float = 1e-8,
            equal_nan: bool = False) -> Tensor:
    """``|input - other| <= atol + rtol * |other|`` elementwise."""
    from ..backends import backend_of
    a, b = binary_operands(input, other, "isclose")
    xp = backend_of(a._data)
    return Tensor._make(xp.isclose(a._data, b._data, rtol=rtol, atol=atol, equal_nan=equal_nan))


def allclose(input: Tensor, other: Tensor, rtol: float = 1e-5, atol: float = 1e-8,
             equal_nan: bool = False) -> bool:
    """True when every element is ``isclose``."""
    return isclose(input, other, rtol, atol, equal_nan)._data.all().item()


def equal(input: Tensor, other: Tensor) -> bool:
    """True when both have the same shape and values."""
    return tuple(input.shape) == tuple(other.shape) and eq(input, other)._data.all().item()


Tensor.isclose = isclose
Tensor.allclose = allclose
Tensor.equal = equal
