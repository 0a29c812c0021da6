"""In-place shape ops (``unsqueeze_``, ``squeeze_``, ``t_``, ``transpose_``, ``swapdims_``,
``swapaxes_``): the tensor itself takes the new shape, over the same memory, as in PyTorch.

Outside the graph only the tensor's array changes (a view of the same memory). In the graph the
tensor takes the view op's history (its old self is the op's input), and a leaf that requires
grad is refused, as PyTorch does.

>>> import chainrule as cr
>>> t = cr.tensor([1, 2])
>>> t.unsqueeze_(-1).shape
chainrule.Size([2, 1])
"""
from __future__ import annotations

from ..errors import ChainruleError, op_error
from ..tensor import Tensor
from . import shape
from ._operands import tensor_method
from .inplace import _check_leaf, _records


def _view_inplace(name: str, view_fn):
    def method(self: Tensor, *args, **kwargs) -> Tensor:
        if _records(self, ()):
            _check_leaf(self, name)
            if self._base is not None or self._views:
                raise op_error(ChainruleError, name,
                               "an in-place shape change of a view, or of a tensor with views, "
                               "is not supported while grad is recorded; use the out-of-place "
                               f"{name[:-1]}()")
            # the op's input is an alias holding the old shape and history
            alias = Tensor._make(self._data, self._requires_grad, self.grad_fn, self._vc)
            new = view_fn(alias, *args, **kwargs)
            self.grad_fn = new.grad_fn
            self._requires_grad = new._requires_grad
        else:
            new = view_fn(Tensor._make(self._data), *args, **kwargs)
        self._data = new._data
        self._vc.value += 1
        return self
    method.__name__ = name
    method.__doc__ = f"In-place ``{name[:-1]}``: this tensor takes the new shape (same memory)."
    tensor_method(name)(method)
    return method


unsqueeze_ = _view_inplace("unsqueeze_", shape.unsqueeze)
squeeze_ = _view_inplace("squeeze_", shape.squeeze)
transpose_ = _view_inplace("transpose_", shape.transpose)
swapdims_ = _view_inplace("swapdims_", shape.transpose)
swapaxes_ = _view_inplace("swapaxes_", shape.transpose)
t_ = _view_inplace("t_", shape.t)
