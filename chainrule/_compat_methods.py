"""Tensor methods whose PyTorch behaviour real programs rely on, attached after the op families
have registered theirs.

``x == None`` is ``False`` and ``x != None`` is ``True`` in PyTorch: its ``__eq__``/``__ne__``
return ``NotImplemented`` for anything that is not a tensor, a number or an array (``None``,
strings, lists, arbitrary objects), so Python falls back to identity. Code such as
``if mask == None:`` or ``x in (None, y)`` depends on it.

>>> import chainrule as cr
>>> x = cr.ones(2)
>>> x == None, x != None, x == "a", (x == 1).tolist()
(False, True, False, [True, True])
"""
from __future__ import annotations

import numbers

import numpy as np

from .tensor import Tensor

_COMPARABLE = (Tensor, numbers.Number, np.generic, np.ndarray)
_tensor_eq, _tensor_ne = Tensor.__eq__, Tensor.__ne__


def __eq__(self: Tensor, other):  # noqa: N807 - the dunder itself
    if not isinstance(other, _COMPARABLE):
        return NotImplemented
    return _tensor_eq(self, other)


def __ne__(self: Tensor, other):  # noqa: N807
    if not isinstance(other, _COMPARABLE):
        return NotImplemented
    return _tensor_ne(self, other)


Tensor.__eq__, Tensor.__ne__ = __eq__, __ne__
