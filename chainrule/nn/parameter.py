"""``Parameter``: a leaf tensor that a Module registers as trainable."""
from __future__ import annotations

from ..errors import DTypeError, op_error
from ..tensor import Tensor


class Parameter(Tensor):
    """A tensor that is a module's weight: assigning one to a Module attribute registers it.

    >>> import chainrule as cr
    >>> p = cr.nn.Parameter(cr.zeros(2))
    >>> p.requires_grad, p.is_leaf
    (True, True)
    """

    __slots__ = ()

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = True):
        from ..creation import tensor
        if data is None:
            data = tensor([])
        elif not isinstance(data, Tensor):  # as PyTorch: no implicit conversion of lists
            raise op_error(DTypeError, "Parameter", f"data must be a Tensor, got "
                           f"{type(data).__name__}")
        p = object.__new__(cls)
        Tensor._init(p, data._data, False, None, None)
        if requires_grad:
            p.requires_grad = True
        return p

    def __init__(self, data=None, requires_grad: bool = True) -> None:
        pass

    @classmethod
    def _from_tensor(cls, t: Tensor) -> "Parameter":
        return cls(t, requires_grad=t._requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__


class Buffer(Tensor):
    """Marks a tensor to be registered as a buffer when assigned to a Module attribute."""

    __slots__ = ("persistent",)

    def __new__(cls, data: Tensor, *, persistent: bool = True):
        b = object.__new__(cls)
        Tensor._init(b, data._data, False, None, None)
        b.persistent = persistent
        return b

    def __init__(self, data=None, *, persistent: bool = True) -> None:
        pass
