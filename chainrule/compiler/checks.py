"""What the library asks a capture about data, through ``_host_calls`` (see there).

- ``any_bad(mask)``: a validity check a replay repeats. Bad data before anything
  irreversible reruns the step eagerly (eager's error, with its message); after, it raises
  in place, as the eager step would have at that point.
- ``fast_path(ok)``: a data-dependent fast path, taken with a guard while the replay could
  still rerun the step eagerly, else the path right for all data.
- ``user_callback(what)``: user Python (a hook) is about to run: the capture breaks.
- ``capturing()``: whether this thread records.

Installed when the compiler is imported (the library's lower layers hold the hooks).
"""
from __future__ import annotations

import numpy as np

from .. import _host_calls
from .traced import Broken, Step, _as_plain, active, user_line


class CheckFailed(Exception):
    """A replayed validity check found bad data: the step is run eagerly, which raises."""


def _fail_if_any(bad) -> None:
    if bad.any():
        raise CheckFailed


class _RaiseIfAny:
    """A check after irreversible work: bad data raises the eager error's type here (the
    eager step would have raised at this point, after the same work)."""
    __slots__ = ("error", "what")

    def __init__(self, error: type, what: str) -> None:
        self.error, self.what = error, what

    def __call__(self, bad) -> None:
        if bad.any():
            raise self.error(f"{self.what} (found by a compiled step's replay; the same "
                             "call run eagerly says which element)")


def _record_check(bad, error: type = ValueError, what: str = "") -> bool:
    """``_host_calls.CHECK_HOOK``: record ``bad`` as a check a replay repeats."""
    rec = active()
    value = bool(np.ndarray.any(_as_plain(bad)) if isinstance(bad, np.ndarray) else bad)
    if rec is not None and not value:  # (a bad value raises now: the capture ends anyway)
        try:
            tpl = rec.template(bad)[0]
        except Broken as e:
            rec.break_(str(e))
            return value
        fn = _RaiseIfAny(error, what or "invalid data") if rec.dirty else _fail_if_any
        rec.steps.append(Step("check", fn, (tpl,), {}, None, [], "check", user_line()))
    return value


def _require(ok) -> None:
    if not ok:
        raise CheckFailed


def _record_fast_path(ok) -> bool:
    """``_host_calls.FAST_PATH_HOOK``: the fast path with a guard while nothing the replay did
    so far would be wrong to do again (``Recorder.dirty``), else the path for all data."""
    rec = active()
    if rec is None:
        return bool(np.ndarray.item(_as_plain(ok)) if isinstance(ok, np.ndarray) else ok)
    if rec.dirty:
        return False
    value = bool(np.ndarray.item(_as_plain(ok)) if isinstance(ok, np.ndarray) else ok)
    if value:
        try:
            tpl = rec.template(ok)[0]
        except Broken as e:
            rec.break_(str(e))
            return value
        rec.steps.append(Step("check", _require, (tpl,), {}, None, [], "guard", user_line()))
    return value


_host_calls.CAPTURING = lambda: active() is not None
_host_calls.CHECK_HOOK = _record_check
_host_calls.FAST_PATH_HOOK = _record_fast_path
_host_calls.CALLBACK_HOOK = lambda what: active().break_(
    f"{what} ran: user Python inside the step is not replayed")
