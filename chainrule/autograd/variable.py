"""``autograd.Variable``: the pre-0.4 wrapper, kept (as in PyTorch) for old programs.

Since PyTorch 0.4 every tensor is a Variable: ``Variable(t, requires_grad=...)`` returns a new
tensor sharing ``t``'s data without its history, and ``isinstance(t, Variable)`` holds for any
tensor.

>>> import chainrule as cr
>>> from chainrule.autograd import Variable
>>> v = Variable(cr.ones(2), requires_grad=True)
>>> v.requires_grad, isinstance(cr.zeros(1), Variable)
(True, True)
"""
from __future__ import annotations

from ..errors import warn_user


class _VariableMeta(type):
    def __instancecheck__(cls, other) -> bool:
        from ..tensor import Tensor
        return isinstance(other, Tensor)


class Variable(metaclass=_VariableMeta):
    """``Variable(data, requires_grad=False, volatile=False)`` -> a history-free alias of ``data``."""

    def __new__(cls, data=None, requires_grad: bool = False, volatile: bool = False):
        from ..tensor import Tensor
        from .. import creation
        if data is None:
            data = creation.empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
        if volatile:
            warn_user("volatile was removed and now has no effect. Use `with torch.no_grad():` "
                      "instead.")
        out = data.detach()
        if requires_grad:
            out.requires_grad_(True)  # refuses integer dtypes, as PyTorch
        return out
