"""``Timer``: PyTorch's benchmark timer over Python's ``timeit``.

A block of ``number`` runs of ``stmt`` is one measurement; ``blocked_autorange`` first grows
``number`` by tens until the timer's own overhead is negligible, then measures blocks until
``min_run_time`` seconds have been spent. ``num_threads`` is set with
:func:`chainrule.set_num_threads` while timing, and restored after.

>>> from chainrule.utils.benchmark import Timer
>>> t = Timer("torch.ones(3).sum()", label="sum", sub_label="3", description="ones")
>>> m = t.blocked_autorange(min_run_time=0.01)
>>> m.title, m.description, m.number_per_run >= 1, len(m.times) >= 1
('sum: 3', 'ones', True, True)
"""
from __future__ import annotations

import contextlib
import sys
import enum
import textwrap
import timeit as _timeit
from typing import Any, Callable

import numpy as np

from ...runtime import get_num_threads, set_num_threads
from .measurement import Measurement, TaskSpec

_MAX_BLOCK = 2_147_483_647  # as PyTorch, whose C++ timer takes an int32


class Language(enum.Enum):
    PYTHON = 0
    CPP = 1


def _clean(code: str) -> str:
    # code written inside a function: dedented, its first newline and trailing blanks dropped
    code = textwrap.dedent(code)
    return (code[1:] if code.startswith("\n") else code).rstrip()


@contextlib.contextmanager
def _threads(n: int):
    before = get_num_threads()
    set_num_threads(n)
    try:
        yield
    finally:
        set_num_threads(before)


class Timer:
    """Time ``stmt`` (a string of Python) after ``setup``, with ``globals`` in scope (``torch``
    names chainrule there unless ``globals`` gives one)."""

    def __init__(self, stmt: str = "pass", setup: str = "pass", global_setup: str = "",
                 timer: Callable[[], float] = _timeit.default_timer,
                 globals: dict[str, Any] | None = None,  # noqa: A002 - PyTorch's name
                 label: str | None = None, sub_label: str | None = None,
                 description: str | None = None, env: str | None = None, num_threads: int = 1,
                 language: Language | str = Language.PYTHON) -> None:
        if not isinstance(stmt, str):
            raise ValueError("Timer: only a str stmt is supported (as PyTorch's); got "
                             f"{type(stmt).__name__}")
        if language not in (Language.PYTHON, "py", "python"):
            if language in (Language.CPP, "cpp", "c++"):
                raise NotImplementedError("Timer: chainrule times Python statements only (no C++)")
            raise ValueError(f"Timer: invalid language {language!r}")
        if global_setup:
            raise ValueError(f"Timer: global_setup is C++ only, got {global_setup!r}; move the "
                             "code into setup")
        self._globals = dict(globals or {})  # a copy: timeit adds __builtins__
        # PyTorch's Timer gives statements ``torch``: here the chainrule package (loaded
        # already: it imports this module), found without importing it from below
        self._globals.setdefault("torch", sys.modules[__name__.partition(".")[0]])
        stmt, setup = _clean(stmt), _clean(setup)
        self._timer = _timeit.Timer(stmt=stmt, setup=setup, timer=timer, globals=self._globals)
        self._task_spec = TaskSpec(stmt=stmt, setup=setup, global_setup=global_setup, label=label,
                                   sub_label=sub_label, description=description, env=env,
                                   num_threads=num_threads)

    def _timeit(self, number: int) -> float:
        return max(self._timer.timeit(number), 1e-9)  # no run takes under a nanosecond

    def _measurement(self, number: int, times: list[float]) -> Measurement:
        return Measurement(number_per_run=number, raw_times=times, task_spec=self._task_spec)

    def timeit(self, number: int = 1000000) -> Measurement:
        """One measurement of ``number`` runs (after a warm-up of ``number // 100``)."""
        with _threads(self._task_spec.num_threads):
            self._timeit(max(number // 100, 2))
            return self._measurement(number, [self._timeit(number)])

    def repeat(self, repeat: int = -1, number: int = -1):
        raise NotImplementedError("See `Timer.blocked_autorange.`")

    def autorange(self, callback=None):
        raise NotImplementedError("See `Timer.blocked_autorange.`")

    def _block_size(self, min_run_time: float) -> int:
        """Runs per block: grown by tens until the timer's overhead is 1e-4 of a block (and a
        block takes a thousandth of ``min_run_time``), or a block alone exceeds it."""
        overhead = float(np.median([self._timeit(0) for _ in range(5)]))
        number = 1
        while True:
            taken = self._timeit(number)
            if (overhead / taken <= 1e-4 and taken >= min_run_time / 1000) or taken > min_run_time:
                return number
            if number * 10 > _MAX_BLOCK:
                return number
            number *= 10

    def _loop(self, number: int, stop, min_run_time: float, max_run_time: float | None,
              callback) -> list[float]:
        times: list[float] = []
        total, can_stop = 0.0, False
        while total < min_run_time or not can_stop:
            spent = self._timeit(number)
            times.append(spent)
            total += spent
            if callback:
                callback(number, spent)
            can_stop = stop(times)
            if max_run_time and total > max_run_time:
                break
        return times

    def blocked_autorange(self, callback: Callable[[int, float], Any] | None = None,
                          min_run_time: float = 0.2) -> Measurement:
        """Blocks of a fixed number of runs until ``min_run_time`` seconds are spent;
        ``callback(number, seconds)`` after each block."""
        with _threads(self._task_spec.num_threads):
            number = self._block_size(min_run_time)
            times = self._loop(number, lambda times: True, min_run_time, None, callback)
        return self._measurement(number, times)

    def adaptive_autorange(self, threshold: float = 0.1, *, min_run_time: float = 0.01,
                           max_run_time: float = 10.0,
                           callback: Callable[[int, float], Any] | None = None) -> Measurement:
        """Blocks until more than 3 are in, ``min_run_time`` is spent and the interquartile
        range is under ``threshold`` of the median, or ``max_run_time`` is spent."""
        with _threads(self._task_spec.num_threads):
            number = self._block_size(0.05)

            def stop(times: list[float]) -> bool:
                return len(times) > 3 and self._measurement(number, times).meets_confidence(threshold)
            times = self._loop(number, stop, min_run_time, max_run_time, callback)
        return self._measurement(number, times)
