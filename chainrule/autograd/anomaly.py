"""Anomaly mode: find the forward op behind a NaN/inf gradient or a failing backward.

While it is on, every recorded op remembers where (in the user's code) it was
called; backward checks each gradient an op's rules return and, when one holds a
NaN or an infinity, or a rule raises, the error names the op and shows that place.
It slows every op down (a stack walk per op): turn it on to debug, not to train.

>>> import chainrule as cr
>>> x = cr.tensor([0.0, 1.0], requires_grad=True)
>>> with cr.autograd.detect_anomaly():
...     y = (x.sqrt() * 0).sum()
...     try:
...         y.backward()
...     except RuntimeError as e:
...         print(str(e).splitlines()[0])
anomaly: SqrtBackward returned non-finite values (nan) in the gradient of input 0 (shape (2,))
"""
from __future__ import annotations

import os
import traceback

from .grad_mode import GRAD

__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled"]

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def is_anomaly_enabled() -> bool:
    """True while anomaly detection is on."""
    return GRAD.anomaly


class detect_anomaly:
    """Context manager/decorator that turns anomaly detection on (``check_nan=False``: only
    record where ops were created, without checking gradients for NaN/inf)."""

    def __init__(self, check_nan: bool = True) -> None:
        self._mode = True
        self._check_nan = bool(check_nan)

    def __enter__(self) -> "detect_anomaly":
        self._prev = (GRAD.anomaly, GRAD.anomaly_check_nan)
        GRAD.anomaly, GRAD.anomaly_check_nan = self._mode, self._check_nan
        return self

    def __exit__(self, *exc) -> None:
        GRAD.anomaly, GRAD.anomaly_check_nan = self._prev

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__(self._check_nan):
                return fn(*args, **kwargs)
        return wrapper


class set_detect_anomaly(detect_anomaly):
    """Turn anomaly detection on or off: as a plain call or as a context manager.

    >>> import chainrule as cr
    >>> with cr.autograd.set_detect_anomaly(True):
    ...     cr.autograd.is_anomaly_enabled()
    True
    >>> cr.autograd.is_anomaly_enabled()
    False
    """

    def __init__(self, mode: bool, check_nan: bool = True) -> None:
        self._mode = bool(mode)
        self._check_nan = bool(check_nan)
        # as a plain call it takes effect at once; __exit__ restores the old state
        self._prev = (GRAD.anomaly, GRAD.anomaly_check_nan)
        GRAD.anomaly, GRAD.anomaly_check_nan = self._mode, self._check_nan

    def __enter__(self) -> "set_detect_anomaly":
        return self

    def __call__(self, fn):
        GRAD.anomaly, GRAD.anomaly_check_nan = self._prev  # a decorator: undo the call's effect
        import functools

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_detect_anomaly(self._mode, self._check_nan):
                return fn(*args, **kwargs)
        return wrapper


def record_stack() -> str:
    """Where the current op was called from: the stack without chainrule's own frames."""
    frames = [f for f in traceback.extract_stack()[:-1]
              if not os.path.abspath(f.filename).startswith(_PACKAGE_DIR + os.sep)]
    return "".join(traceback.format_list(frames[-8:]))


def forward_trace_note(node) -> str:
    """The text added to a backward error under anomaly mode."""
    trace = getattr(node, "trace", None)
    if not trace:
        return ""
    return (f"\nThe forward op {node.op.name!r} (whose backward is {node.name()}) was called at "
            f"(most recent call last):\n{trace.rstrip()}")
