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


# ---- queries and no-ops PyTorch programs call on tensors (CPU memory, no storage sharing) ----
def _get_device(self: Tensor) -> int:
    """-1 for a CPU tensor, else the CUDA device's index."""
    return -1 if self.device.type == "cpu" else (self.device.index or 0)


def _data_ptr(self: Tensor) -> int:
    data = self._data
    iface = getattr(data, "__array_interface__", None) or getattr(data, "__cuda_array_interface__")
    return int(iface["data"][0])


def _storage_offset(self: Tensor) -> int:
    """Elements between the start of the root base's memory and this tensor's first element."""
    root = self._data
    while getattr(root, "base", None) is not None and hasattr(root.base, "__array_interface__"):
        root = root.base
    if not hasattr(root, "__array_interface__"):
        return 0
    return (_data_ptr(self) - int(root.__array_interface__["data"][0])) // self._data.itemsize


def _is_nonzero(self: Tensor) -> bool:
    from .more_api import is_nonzero
    return is_nonzero(self)


def _is_same_size(self: Tensor, other: Tensor) -> bool:
    return tuple(self.shape) == tuple(other.shape)


_QUERIES = {
    "get_device": _get_device, "data_ptr": _data_ptr, "storage_offset": _storage_offset,
    "is_nonzero": _is_nonzero, "is_same_size": _is_same_size,
    "is_signed": lambda self: self.dtype.name not in ("bool", "uint8"),
    "is_complex": lambda self: False,
    "is_inference": lambda self: False,
    "pin_memory": lambda self, device=None: self,  # pinned memory matters for GPU copies only
    "is_pinned": lambda self, device=None: False,
    "share_memory_": lambda self: self,  # chainrule's tensors live in one process
    "is_shared": lambda self: False,
}
for _name, _fn in _QUERIES.items():
    setattr(Tensor, _name, _fn)
Tensor.nbytes = property(lambda self: int(self._data.nbytes))
Tensor.itemsize = property(lambda self: int(self._data.itemsize))
Tensor.mH = property(lambda self: self.mT)  # (real tensors: the conjugate is the tensor)


def _adjoint(self: Tensor) -> Tensor:
    """The conjugate transpose of the last two dims (the transpose, for real tensors)."""
    return self.transpose(-2, -1)


Tensor.adjoint = _adjoint
Tensor.H = property(lambda self: self.t() if self.ndim <= 2 else _h_error(self))


def _h_error(self: Tensor):
    from .errors import ShapeError, op_error
    raise op_error(ShapeError, "H", f"is for matrices (or 0-/1-d tensors); got shape "
                                    f"{tuple(self.shape)}: use .mH for batches of matrices")


# ---- functions that PyTorch also offers as methods ----
def _as_methods(chainrule) -> None:
    for name in ("fliplr", "flipud", "argwhere", "inner", "aminmax", "bernoulli",
                 "isin", "numel"):
        if not hasattr(Tensor, name) and hasattr(chainrule, name):
            setattr(Tensor, name, getattr(chainrule.ops.functions, name, None) or getattr(chainrule, name))


# ---- in-place twins of out-of-place methods: x.op_(...) is x.copy_(x.op(...)), recorded ----
_INPLACE = ("acos asin atan arccos arcsin arctan asinh acosh atanh arcsinh arccosh arctanh cosh sinh "
            "tan log2 log10 exp2 erfinv erfc cumsum cumprod remainder fmod floor_divide eq ne lt le "
            "gt ge greater greater_equal less less_equal not_equal logical_and logical_or "
            "logical_xor logical_not bitwise_and bitwise_or bitwise_xor bitwise_not atan2 arctan2 "
            "hypot logit xlogy nan_to_num deg2rad rad2deg sgn fix absolute")


def _inplace_twin(name: str):
    from .ops.inplace import inplace
    method = getattr(Tensor, name)

    def twin(self: Tensor, *args, **kwargs) -> Tensor:
        return inplace(self, name + "_", lambda s: method(s, *args, **kwargs), args)
    twin.__name__ = twin.__qualname__ = name + "_"
    twin.__doc__ = f"In-place ``{name}``."
    return twin


def install_methods(chainrule) -> None:
    """Attach the methods that need the whole namespace: ``chainrule``, the package itself,
    which calls this once it is built (this module sits below it: it never imports it)."""
    _as_methods(chainrule)
    for name in _INPLACE.split():
        if hasattr(Tensor, name) and not hasattr(Tensor, name + "_"):
            setattr(Tensor, name + "_", _inplace_twin(name))
