"""Whether ops record a graph: ``no_grad``, ``enable_grad``, ``set_grad_enabled``.

Each works as a context manager and as a decorator, as in PyTorch.

>>> import chainrule as cr
>>> x = cr.ones(2, requires_grad=True)
>>> with cr.no_grad():
...     y = x * 2
>>> y.requires_grad
False
"""
from __future__ import annotations

import functools
import inspect
import threading


class _GradState(threading.local):
    """Per thread, as PyTorch's: ``no_grad`` in one thread leaves the others recording."""

    def __init__(self) -> None:
        self.enabled = True
        self.anomaly = False  # see autograd/anomaly.py
        self.anomaly_check_nan = True


GRAD = _GradState()


def is_grad_enabled() -> bool:
    """True while ops record the graph for backward.

    >>> import chainrule as cr
    >>> with cr.no_grad():
    ...     print(cr.is_grad_enabled())
    False
    >>> cr.is_grad_enabled()
    True
    """
    return GRAD.enabled


class _GradModeContext:
    """Base of the grad-mode context managers; usable as decorators too."""

    _target: bool

    def __enter__(self):
        self._prev = GRAD.enabled
        GRAD.enabled = self._target
        return self

    def __exit__(self, *exc) -> None:
        GRAD.enabled = self._prev

    def __call__(self, fn):
        if inspect.isgeneratorfunction(fn):
            return self._wrap_generator(fn)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__(*self._ctor_args()):
                return fn(*args, **kwargs)
        return wrapper

    def _wrap_generator(self, fn):
        """A generator function whose body runs in this mode each time it resumes, while
        the caller's code between two ``next`` calls keeps the caller's mode (as PyTorch)."""
        def mode():
            return self.__class__(*self._ctor_args())

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            gen = fn(*args, **kwargs)
            try:
                with mode():
                    response = gen.send(None)
                while True:
                    try:
                        request = yield response
                    except GeneratorExit:
                        with mode():
                            gen.close()
                        raise
                    except BaseException as error:
                        with mode():
                            response = gen.throw(error)
                    else:
                        with mode():
                            response = gen.send(request)
            except StopIteration as stop:
                return stop.value
        return wrapper

    def _ctor_args(self):
        return ()


class _NoParamContext(_GradModeContext):
    """Also usable as a bare decorator (``@no_grad`` as well as ``@no_grad()``), as PyTorch."""

    def __new__(cls, orig_func=None):
        if orig_func is None:
            return super().__new__(cls)
        if not callable(orig_func):
            raise TypeError(f"{cls.__name__}() takes no arguments, got {orig_func!r}")
        return cls()(orig_func)


class no_grad(_NoParamContext):
    """Context manager/decorator: ops inside record nothing."""
    _target = False


class enable_grad(_NoParamContext):
    """Context manager/decorator: ops inside record the graph, even within ``no_grad``."""
    _target = True


class inference_mode(_GradModeContext):
    """Like :class:`no_grad` (chainrule has no separate inference tensors)."""

    def __init__(self, mode: bool = True) -> None:
        self._target = not mode

    def _ctor_args(self):
        return (not self._target,)


class set_grad_enabled(_GradModeContext):
    """Turn recording on or off: as a call, a context manager or a decorator.

    >>> import chainrule as cr
    >>> with cr.set_grad_enabled(False):
    ...     cr.is_grad_enabled()
    False
    """

    def __init__(self, mode: bool) -> None:
        self._target = bool(mode)
        self._prev = GRAD.enabled
        GRAD.enabled = self._target  # also takes effect as a plain call

    def __enter__(self):
        return self

    def _ctor_args(self):
        return (self._target,)

    def __call__(self, fn):
        GRAD.enabled = self._prev  # used as a decorator: undo the effect of construction
        return super().__call__(fn)
