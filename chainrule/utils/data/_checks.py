"""Argument checks shared by the datasets, samplers and the DataLoader.

They turn the bare ``TypeError`` of ``len(None)`` or ``3()`` into an error that names
the class and the argument and points at the caller's line.
"""
from __future__ import annotations

from typing import Any, Iterable

from ...errors import op_error


def length_of(obj: Any, what: str, op: str) -> int:
    """``len(obj)``, or a TypeError naming ``what`` when it has no length."""
    try:
        return len(obj)
    except TypeError:
        raise op_error(TypeError, op, f"{what} ({type(obj).__name__}) has no len(); a length is "
                       "needed here") from None


def check_callable(fn: Any, arg: str, op: str) -> None:
    """Refuse ``fn`` unless it is None or callable."""
    if fn is not None and not callable(fn):
        raise op_error(TypeError, op, f"{arg} must be callable, got {type(fn).__name__}")


def check_iterable(obj: Any, arg: str, op: str, optional: bool = True) -> None:
    """Refuse ``obj`` unless it is iterable (a sampler, a list of lengths …), or None when
    ``optional``."""
    if (obj is not None or not optional) and not isinstance(obj, Iterable):
        raise op_error(TypeError, op, f"{arg} must be iterable, got {type(obj).__name__}")
