"""PyTorch's deprecated positional overloads that old programs still use, with its warning:
``p.data.add_(-lr, p.grad.data)`` is ``add_(grad, alpha=-lr)`` (char_rnn tutorials, 0.3-era code).

>>> import chainrule as cr, warnings
>>> with warnings.catch_warnings():
...     warnings.simplefilter("ignore")
...     cr.ones(2).add_(-0.5, cr.full((2,), 2.0)).tolist()
[0.0, 0.0]
"""
from __future__ import annotations

import numbers

from .errors import warn_user
from .tensor import Tensor

# method -> (the scalar's name, names of the tensors after it, keyword the scalar becomes)
_OVERLOADS = {
    "add": ("alpha", ("other",), "alpha"),
    "add_": ("alpha", ("other",), "alpha"),
    "sub": ("alpha", ("other",), "alpha"),
    "sub_": ("alpha", ("other",), "alpha"),
    "addcmul": ("value", ("tensor1", "tensor2"), "value"),
    "addcmul_": ("value", ("tensor1", "tensor2"), "value"),
    "addcdiv": ("value", ("tensor1", "tensor2"), "value"),
    "addcdiv_": ("value", ("tensor1", "tensor2"), "value"),
}


def _message(name: str, scalar: str, tensors: tuple) -> str:
    old = ", ".join([f"Number {scalar}"] + [f"Tensor {t}" for t in tensors])
    new = ", ".join(f"Tensor {t}" for t in tensors)
    return (f"This overload of {name} is deprecated:\n\t{name}({old})\nConsider using one of "
            f"the following signatures instead:\n\t{name}({new}, *, Number {scalar} = 1)")


def _wrap(name: str, fn, scalar: str, tensors: tuple, keyword: str):
    n = 1 + len(tensors)

    def method(self, *args, **kwargs):
        if len(args) == n and isinstance(args[0], numbers.Number) and \
                not isinstance(args[0], bool) and isinstance(args[1], Tensor):
            warn_user(_message(name, scalar, tensors))
            return fn(self, *args[1:], **{keyword: args[0]}, **kwargs)
        return fn(self, *args, **kwargs)
    method.__name__ = name
    method.__doc__ = fn.__doc__
    method.__wrapped__ = fn
    return method


def install() -> None:
    for name, (scalar, tensors, keyword) in _OVERLOADS.items():
        fn = getattr(Tensor, name, None)
        if fn is not None and not hasattr(fn, "__wrapped__"):
            setattr(Tensor, name, _wrap(name, fn, scalar, tensors, keyword))


install()
