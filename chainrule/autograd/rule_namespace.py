"""The namespace ``m`` that derivative rules are written against.

A rule is written once, in NumPy's spelling, against ``m``::

    defgrad(exp, lambda m, g, ans, x: g * ans)
    defgrad(sin, lambda m, g, ans, x: g * m.cos(x))

For a first-order backward the engine passes the arrays' backend (``xp``): the rule runs
on raw arrays and records nothing (no Tensor, no Node per rule). Under ``create_graph``
it passes :data:`TENSORS`: the same names on Tensors, so the same line records a graph
that can be differentiated again. Operators (``*``, ``-``, ``>``, ``&``, ``~``) and the
attributes ``shape``, ``ndim``, ``dtype`` work on both; everything else goes through ``m``.
A rule that needs a kernel (relu's mask pass, conv's weight gradient) calls a backward op
through :meth:`Op.on <chainrule.ops.registry.Op.on>`: its forward on arrays, the op itself
(recorded, with its own rules) on Tensors.

>>> import numpy as np
>>> from chainrule.backends import NUMPY
>>> import chainrule as cr
>>> rule = lambda m, g, ans, x: g * m.cos(x)
>>> rule(NUMPY, np.ones(1), None, np.zeros(1))
array([1.])
>>> rule(TENSORS, cr.ones(1), None, cr.zeros(1))
tensor([1.])
"""
from __future__ import annotations

from ..dtypes import DType, from_numpy_dtype

# the op modules (by short name: "elementwise", "reduce" …) whose functions the Tensor
# namespace calls. They sit above this module (they import the registry, which imports
# it), so chainrule/_late_bindings.py fills this table once everything is imported.
OP_MODULES: dict = {}


def _ops(module: str):
    return OP_MODULES[module]


class TensorNamespace:
    """NumPy's names (the subset rules use) on Tensors, recorded as ops."""

    def __repr__(self) -> str:
        return "<rule namespace: Tensors>"

    # -------------------------------------------------------------- unary math --
    def exp(self, x):
        return _ops("elementwise").exp(x)

    def log(self, x):
        return _ops("elementwise").log(x)

    def sin(self, x):
        return _ops("elementwise").sin(x)

    def cos(self, x):
        return _ops("elementwise").cos(x)

    def sinh(self, x):
        return _ops("elementwise").sinh(x)

    def cosh(self, x):
        return _ops("elementwise").cosh(x)

    def tanh(self, x):
        return _ops("elementwise").tanh(x)

    def sqrt(self, x):
        return _ops("elementwise").sqrt(x)

    def abs(self, x):
        return _ops("elementwise").abs_fn(x)

    def power(self, x, p):
        return _ops("elementwise").pow_fn(x, p)

    def floor_divide(self, a, b):
        return _ops("elementwise").floor_divide_fn(a, b)

    def trunc(self, x):
        return _ops("elementwise").trunc(x)

    def maximum(self, a, b):
        return _ops("elementwise").maximum(a, b)

    def minimum(self, a, b):
        return _ops("elementwise").minimum(a, b)

    def where(self, condition, a, b):
        return _ops("elementwise").where_fn(condition, a, b)

    def astype(self, x, dtype, copy: bool = True):
        if not isinstance(dtype, DType):
            dtype = from_numpy_dtype(dtype)
        return x.to(dtype)

    # -------------------------------------------------------------- reductions --
    def sum(self, x, axis=None, keepdims: bool = False):
        reduce = _ops("reduce")
        if axis is None:
            out = reduce.sum(x)
            return out.reshape((1,) * x.ndim) if keepdims else out
        return reduce.sum(x, axis, keepdim=keepdims)

    def mean(self, x, axis=None, keepdims: bool = False):
        reduce = _ops("reduce")
        if axis is None:
            out = reduce.mean(x)
            return out.reshape((1,) * x.ndim) if keepdims else out
        return reduce.mean(x, axis, keepdim=keepdims)

    # ------------------------------------------------------------ shape, linalg --
    def reshape(self, x, shape):
        return _ops("shape").reshape(x, tuple(shape))

    def swapaxes(self, x, a: int, b: int):
        return _ops("shape").transpose(x, a, b)

    def broadcast_to(self, x, shape):
        return _ops("shape").broadcast_to(x, tuple(shape))

    def expand_dims(self, x, axis: int):
        return _ops("shape").unsqueeze(x, axis)

    def matmul(self, a, b):
        return _ops("linalg").matmul(a, b)

    def zeros_like(self, x):
        return _ops("elementwise").mul_fn(x, 0)

    # ------------------------------------------ what the engine does on Tensors --
    def sum_to_size(self, x, shape):
        return _ops("shape").sum_to_size(x, shape)

    def clone(self, x):
        return _ops("conversion").clone(x)

    def as_tensor(self, value, dtype):
        return _ops("creation").tensor(value, dtype=dtype)


TENSORS = TensorNamespace()


def records(m) -> bool:
    """True when ``m`` records a graph (the rule runs on Tensors, under ``create_graph``)."""
    return m is TENSORS
