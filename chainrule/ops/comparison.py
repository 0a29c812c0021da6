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
    """Elementwise logical NOT; nonzero counts as True (``torch.logical_not``).

    >>> import chainrule as cr
    >>> cr.logical_not(cr.tensor([0., 2.]))
    tensor([ True, False])
    """
    return _logical_not(input)


@tensor_method("bitwise_not", "__invert__")
def bitwise_not(input: Tensor) -> Tensor:
    """Elementwise bitwise NOT of integer or bool tensors (``torch.bitwise_not``).

    >>> import chainrule as cr
    >>> cr.bitwise_not(cr.tensor([0, 5]))
    tensor([-1, -6])
    """
    if input._data.dtype.kind in "fV":
        raise op_error(DTypeError, "bitwise_not", f"expected an integer or bool tensor, got "
                       f"{input.dtype.name}")
    return _bitwise_not(input)


isnan = tensor_method("isnan")(lambda input: _isnan(input))
isinf = tensor_method("isinf")(lambda input: _isinf(input))
isfinite = tensor_method("isfinite")(lambda input: _isfinite(input))


def isclose(input: Tensor, other: Tensor, rtol: float = 1e-5, atol: float = 1e-8,
            equal_nan: bool = False) -> Tensor:
    """``|input - other| <= atol + rtol * |other|`` elementwise.

    >>> import chainrule as cr
    >>> cr.isclose(cr.tensor([1., 2.]), cr.tensor([1., 2.1]))
    tensor([ True, False])
    """
    from ..backends import backend_of
    a, b = binary_operands(input, other, "isclose")
    xp = backend_of(a._data)
    return Tensor._make(xp.isclose(a._data, b._data, rtol=rtol, atol=atol, equal_nan=equal_nan))


def allclose(input: Tensor, other: Tensor, rtol: float = 1e-5, atol: float = 1e-8,
             equal_nan: bool = False) -> bool:
    """True when every element is ``isclose``.

    >>> import chainrule as cr
    >>> cr.allclose(cr.tensor([1., 2.]), cr.tensor([1., 2.000001]))
    True
    """
    return isclose(input, other, rtol, atol, equal_nan)._data.all().item()


def equal(input: Tensor, other: Tensor) -> bool:
    """True when both have the same shape and values.

    >>> import chainrule as cr
    >>> cr.equal(cr.tensor([1, 2]), cr.tensor([1, 2]))
    True
    """
    return tuple(input.shape) == tuple(other.shape) and eq(input, other)._data.all().item()


Tensor.isclose = isclose
Tensor.allclose = allclose
Tensor.equal = equal


# ---------------------------------------------------------------- examples --
# The functions above made by factories or lambdas get their docstrings (with a doctest) here.

bitwise_and.__doc__ = """Elementwise bitwise AND of integer or bool tensors (``torch.bitwise_and``).

>>> import chainrule as cr
>>> cr.bitwise_and(cr.tensor([12, 10]), cr.tensor([10, 6]))
tensor([8, 2])
"""

bitwise_or.__doc__ = """Elementwise bitwise OR of integer or bool tensors (``torch.bitwise_or``).

>>> import chainrule as cr
>>> cr.bitwise_or(cr.tensor([12, 10]), cr.tensor([10, 6]))
tensor([14, 14])
"""

bitwise_xor.__doc__ = """Elementwise bitwise XOR of integer or bool tensors (``torch.bitwise_xor``).

>>> import chainrule as cr
>>> cr.bitwise_xor(cr.tensor([12, 10]), cr.tensor([10, 6]))
tensor([ 6, 12])
"""

eq.__doc__ = """Elementwise ``eq`` (bool result).

>>> import chainrule as cr
>>> cr.eq(cr.tensor([1, 2, 3]), 2)
tensor([False,  True, False])
"""

ge.__doc__ = """Elementwise ``ge`` (bool result).

>>> import chainrule as cr
>>> cr.ge(cr.tensor([1, 2, 3]), 2)
tensor([False,  True,  True])
"""

gt.__doc__ = """Elementwise ``gt`` (bool result).

>>> import chainrule as cr
>>> cr.gt(cr.tensor([1, 2, 3]), 2)
tensor([False, False,  True])
"""

isfinite.__doc__ = """Elementwise: True where ``input`` is neither inf nor NaN (``torch.isfinite``).

>>> import chainrule as cr
>>> cr.isfinite(cr.tensor([1., float("inf"), float("nan")]))
tensor([ True, False, False])
"""

isinf.__doc__ = """Elementwise: True where ``input`` is +inf or -inf (``torch.isinf``).

>>> import chainrule as cr
>>> cr.isinf(cr.tensor([1., float("inf"), -float("inf")]))
tensor([False,  True,  True])
"""

isnan.__doc__ = """Elementwise: True where ``input`` is NaN (``torch.isnan``).

>>> import chainrule as cr
>>> cr.isnan(cr.tensor([1., float("nan")]))
tensor([False,  True])
"""

le.__doc__ = """Elementwise ``le`` (bool result).

>>> import chainrule as cr
>>> cr.le(cr.tensor([1, 2, 3]), 2)
tensor([ True,  True, False])
"""

logical_and.__doc__ = """Elementwise ``logical_and`` (bool result).

>>> import chainrule as cr
>>> cr.logical_and(cr.tensor([True, True, False]), cr.tensor([True, False, False]))
tensor([ True, False, False])
"""

logical_or.__doc__ = """Elementwise ``logical_or`` (bool result).

>>> import chainrule as cr
>>> cr.logical_or(cr.tensor([True, False, False]), cr.tensor([True, True, False]))
tensor([ True,  True, False])
"""

logical_xor.__doc__ = """Elementwise ``logical_xor`` (bool result).

>>> import chainrule as cr
>>> cr.logical_xor(cr.tensor([True, False, False]), cr.tensor([True, True, False]))
tensor([False,  True, False])
"""

lt.__doc__ = """Elementwise ``lt`` (bool result).

>>> import chainrule as cr
>>> cr.lt(cr.tensor([1, 2, 3]), 2)
tensor([ True, False, False])
"""

ne.__doc__ = """Elementwise ``ne`` (bool result).

>>> import chainrule as cr
>>> cr.ne(cr.tensor([1, 2, 3]), 2)
tensor([ True, False,  True])
"""
