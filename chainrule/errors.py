"""Error types and the helper that points an error at the user's line.

Every error an op raises names the op, what it got (shapes, dtypes) and what it
expected, and ends with the caller's file and line, found by walking the stack to
the first frame outside the chainrule package.
"""
from __future__ import annotations

import os
import sys

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


class ChainruleError(RuntimeError):
    """Base class of chainrule's own errors."""


class ShapeError(ChainruleError, ValueError):
    """Operands whose shapes do not fit the op."""


class DTypeError(ChainruleError, TypeError):
    """Operands whose dtypes do not fit the op."""


class DeviceError(ChainruleError):
    """Operands on different devices."""


class IndexingError(ChainruleError, IndexError):
    """An index out of range or of the wrong kind."""


class BackwardError(ChainruleError):
    """A backward pass that cannot run (freed graph, modified saved tensor, no rule…)."""


class ArgumentError(ChainruleError, ValueError):
    """An argument of the right type but outside its range (``std < 0``, ``low >= high``): a
    RuntimeError as PyTorch raises, and a ValueError as Python code expects."""


class UnsupportedDTypeError(DTypeError, NotImplementedError):
    """A dtype the op has no implementation for (``rand(dtype=int64)``, ``randperm(dtype=bool)``):
    PyTorch's NotImplementedError, and a DTypeError."""


class SerializationError(ChainruleError):
    """A checkpoint file that cannot be read or written."""


def _stdlib_dir() -> str:
    import sysconfig
    return os.path.abspath(sysconfig.get_paths()["stdlib"]) + os.sep


_SKIPPED = (_PACKAGE_DIR + os.sep, _stdlib_dir())


def _user_frame(depth: int):
    """``(frame, d)``: the innermost frame outside chainrule (and the standard library),
    searching outward from the caller's ``sys._getframe(depth)``; ``d`` is its depth as the
    caller's ``sys._getframe(d)`` would count it. ``(None, -1)`` if every frame is inside."""
    frame = sys._getframe(depth + 1)
    while frame is not None:
        name = frame.f_code.co_filename
        if not name.startswith("<frozen") and not os.path.abspath(name).startswith(_SKIPPED):
            return frame, depth
        frame = frame.f_back
        depth += 1
    return None, -1


def user_location() -> str:
    """``file:line`` of the innermost stack frame outside chainrule (or '').

    Frames of the standard library (``functools``, ``contextlib`` wrappers between
    the user and chainrule) are passed over too.
    """
    frame, _ = _user_frame(1)
    return f"{frame.f_code.co_filename}:{frame.f_lineno}" if frame is not None else ""


def warn_user(message: str, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn`` with the warning located at the user's line (the frame
    :func:`user_location` names), however deep in chainrule the call is made."""
    import warnings
    _, depth = _user_frame(1)
    # stacklevel 1 is this frame (the warnings.warn line), so sys._getframe(d) here is d + 1
    warnings.warn(message, category, stacklevel=depth + 1 if depth > 0 else 2)


def op_error(cls, op: str, message: str) -> ChainruleError:
    """An error of ``cls`` whose text starts with the op and ends with the user's line."""
    where = user_location()
    text = f"{op}: {message}"
    if where:
        text += f"\n  (called at {where})"
    return cls(text)


def describe(value) -> str:
    """Short description of an operand for error messages: shape and dtype."""
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    if shape is None:
        return f"{type(value).__name__} {value!r}"
    name = getattr(dtype, "name", str(dtype))
    return f"tensor of shape {tuple(shape)} and dtype {name}"
