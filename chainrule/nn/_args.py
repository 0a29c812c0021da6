"""Checks of the arguments of layers and functional ops, shared by all of ``chainrule.nn``.

One helper per kind of argument (a size, an n-tuple of ints, a probability, a
tensor), each raising through :func:`op_error` with the op and
the argument's name, so every layer refuses a bad value with the same words. Layers
call them once, in ``__init__``; functional ops on each call (they are cheap).
"""
from __future__ import annotations

import numbers
from typing import Any, Iterable

from ..errors import DTypeError, ShapeError, op_error
from ..tensor import Tensor


def is_int(value: Any) -> bool:
    """An integer that is not a bool (PyTorch's sizes refuse floats, strings and None)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def size(value: Any, arg: str, op: str, *, minimum: int = 0) -> int:
    """``value`` as an int size of at least ``minimum`` (a TypeError for a non-int)."""
    if not is_int(value):
        raise op_error(DTypeError, op,
                       f"{arg} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        need = "non-negative" if minimum == 0 else f"at least {minimum}"
        raise op_error(ShapeError, op, f"{arg} must be {need}, got {value}")
    return int(value)


def pair(value: Any, n: int, arg: str, op: str) -> tuple:
    """``value`` as an ``n``-tuple of ints (an int is repeated); range checks are the caller's."""
    if is_int(value):
        return (int(value),) * n
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise op_error(DTypeError, op,
                       f"{arg} must be an int or a tuple of {n} ints, got {value!r}")
    out = tuple(value)
    if not all(is_int(v) for v in out):
        raise op_error(DTypeError, op,
                       f"{arg} must be an int or a tuple of {n} ints, got {value!r}")
    if len(out) != n:
        raise op_error(ShapeError, op,
                       f"{arg} must be an int or a tuple of {n} ints, got {value!r}")
    return tuple(int(v) for v in out)


def probability(p: Any, arg: str, op: str) -> float:
    """``p`` itself when it is a number in [0, 1] (a dropout or smoothing probability)."""
    if not isinstance(p, numbers.Real) or isinstance(p, bool):
        raise op_error(DTypeError, op, f"{arg} must be a number in [0, 1], got "
                       f"{type(p).__name__} {p!r}")
    if not 0.0 <= p <= 1.0:
        raise op_error(ValueError, op, f"{arg} is a probability and has to be between 0 and 1, "
                       f"got {p}")
    return p


def tensor(value: Any, arg: str, op: str) -> Tensor:
    """``value`` itself when it is a Tensor; a TypeError naming ``arg`` otherwise."""
    if not isinstance(value, Tensor):
        raise op_error(DTypeError, op, f"argument '{arg}' must be a Tensor, got "
                       f"{type(value).__name__}")
    return value

