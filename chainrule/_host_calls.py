"""Calls that a captured step replays as Python calls rather than as array work.

``chainrule.compile`` records the array calls of a step and replays them without the Python
around them. A few calls are Python state machines whose every run must happen for real
(an optimizer's ``step`` reads its hyperparameters and step count afresh each time; an LR
scheduler's ``step`` moves the rate): they are marked with :func:`host_call`, and while a
capture runs, ``HOOK`` receives them, runs them and records "call this again here".

``HOOK`` is set by the compiler (a higher layer), never imported from it. When no capture
runs, a marked call costs one global read.
"""
from __future__ import annotations

import functools
from typing import Callable

HOOK: Callable | None = None  # (function, args, kwargs) -> result, while a capture runs


def host_call(fn: Callable) -> Callable:
    """Mark ``fn`` as a call a captured step replays as itself (see the module docstring)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        hook = HOOK
        if hook is None:
            return fn(*args, **kwargs)
        return hook(fn, args, kwargs)
    wrapper._host_call = True  # type: ignore[attr-defined]
    return wrapper


# -- reading data on the host inside the library --------------------------------------------
# Set by the compiler while a capture records on this thread: ``CAPTURING()`` says so, and
# ``CHECK_HOOK(bad)`` records a validity check that a replay repeats.
CAPTURING: Callable[[], bool] | None = None
CHECK_HOOK: Callable | None = None
FAST_PATH_HOOK: Callable | None = None
CALLBACK_HOOK: Callable | None = None


def capturing() -> bool:
    """Whether ``chainrule.compile`` is recording this thread's array calls now. Code that
    picks a fast path by reading data (``isfinite(x).all()``) takes the path that is right
    for all data instead, so that the choice need not be replayed."""
    return CAPTURING is not None and CAPTURING()


def any_bad(bad, error: type = ValueError, what: str = "") -> bool:
    """``bool(bad.any())`` for a check whose True raises an error. While a capture records,
    the check is recorded too: a replay that finds a bad element runs the step eagerly,
    which raises the error with its message; where the replay has already done what cannot
    be done twice (a BatchNorm update, a draw), it raises ``error(what)`` there instead, as
    the eager step would have at that point."""
    if CHECK_HOOK is not None and capturing():
        return CHECK_HOOK(bad, error, what)
    return bool(bad.any().item())


def fast_path(ok) -> bool:
    """``bool(ok)`` where ``ok`` (a 0-d array) allows a fast path, the other path being right
    for all data (``isfinite(x).all()`` before a kernel that NaN would upset). While a
    capture records, the fast path is taken with a guard that a replay checks (a replay
    whose data fails it runs the step eagerly), as long as nothing could not be undone by
    then; else the path for all data, with no guard."""
    if FAST_PATH_HOOK is not None and capturing():
        return FAST_PATH_HOOK(ok)
    return bool(ok.item())


def user_callback(what: str) -> None:
    """Say that user Python (a hook, a loss observer) is about to run inside the library. A
    capture cannot replay Python, so it breaks there: the step stays eager, hooks and all."""
    if CALLBACK_HOOK is not None and capturing():
        CALLBACK_HOOK(what)


def out_of_range(values, low, high, error: type = IndexError, what: str = "") -> bool:
    """Whether any of ``values`` lies outside ``[low, high)``: two reductions eagerly; while
    a capture records, the same check as :func:`any_bad` (repeated by each replay)."""
    if CHECK_HOOK is not None and capturing():
        return CHECK_HOOK((values < low) | (values >= high), error, what)
    return bool(values.min().item() < low or values.max().item() >= high)
