"""Parsers for the arguments of the public API: sizes, ints, numbers, tensors.

One parser per kind of argument, shared by every function that takes one, so that
``zeros(2.5)``, ``randint(0, 5, (2.5,))`` and ``x.repeat(1.5, 2)`` are refused the same
way (PyTorch's TypeError / RuntimeError, as chainrule errors that name the op, the
argument and the caller's line) instead of being truncated by ``int()`` or handed to
NumPy. Each parser has a fast path for the common, valid case: they run on every
``reshape``/``view``.
"""
from __future__ import annotations

import math
import numbers
import operator

from .errors import (ArgumentError, ChainruleError, DTypeError, ShapeError,  # noqa: F401
                     UnsupportedDTypeError, op_error)
from .tensor import Tensor


from ._plain_args import _what, bool_value, index_value  # noqa: F401  (re-exported)


def size_args(args: tuple, op: str, *, nonnegative: bool = True, name: str = "size") -> tuple:
    """The shape in ``f(*size)``: ints or one tuple/list/Size of ints.

    ``nonnegative=False`` lets ``-1`` and other negatives through for ops that give them a
    meaning or check them against the input (reshape, view, expand, permute).
    """
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    for a in args:
        if type(a) is not int:  # the common case (plain ints) skips the per-item parse
            args = tuple(index_value(a, op, f"{name} (element {i} of {args!r})")
                         for i, a in enumerate(args))
            break
    if nonnegative and args and min(args) < 0:
        raise op_error(ShapeError, op, f"{name} must be non-negative, got {args}")
    return args


def number_value(value, op: str, name: str):
    """``value`` as a Python number (bool, int or float); one-element tensors are read out."""
    if isinstance(value, numbers.Number) and not isinstance(value, complex):
        return value
    if isinstance(value, Tensor) and value.numel() == 1:
        return value.item()
    if type(value).__name__ == "bool_":  # NumPy's bool is not a numbers.Number
        return bool(value)
    raise op_error(DTypeError, op, f"{name} must be a number, got {_what(value)}")


def finite_value(value, op: str, name: str) -> float:
    """A number that must be finite (range ends, bounds of a distribution)."""
    v = number_value(value, op, name)
    if not math.isfinite(v):
        raise op_error(ArgumentError, op, f"{name} must be finite, got {v}")
    return v


def tensor_value(value, op: str, name: str = "input"):
    """``value`` if it is a Tensor; a TypeError naming ``op`` and ``name`` otherwise."""
    if not isinstance(value, Tensor):
        raise op_error(DTypeError, op, f"{name} must be a Tensor, got {_what(value)}")
    return value


def tensor_first(fn):
    """``fn`` for the public namespace (``chainrule.reshape(x, …)``): its first argument must be
    a Tensor, checked here once rather than in every op (``x.reshape(…)``, the method, does not
    pay for it), so ``reshape(None, …)`` is not an AttributeError from deep inside."""
    import functools

    op = fn.__name__.removesuffix("_fn")

    @functools.wraps(fn)
    def checked(*args, **kwargs):
        if args and not isinstance(args[0], Tensor):
            tensor_value(args[0], op)
        return fn(*args, **kwargs)
    return checked
