"""The arguments of ``backward``/``grad`` checked and made into the walk's roots.

Split from ``engine.py`` (which imports these back): this is argument handling, with
PyTorch's errors (an output that does not require grad, an implicit gradient for a
non-scalar, a gradient of the wrong shape), kept apart from the walk itself.
"""
from __future__ import annotations

from ..backends import backend_of
from ..errors import BackwardError, ShapeError, op_error
from .graph import _tensor_class
from .rule_namespace import TENSORS


def _as_tuple(x) -> tuple:
    Tensor = _tensor_class()
    if isinstance(x, Tensor):
        return (x,)
    return tuple(x)


def _target_node(t, op: str):
    if not t._requires_grad:
        raise op_error(BackwardError, op, f"one of the inputs (shape {tuple(t.shape)}) does not "
                       "require grad")
    return t.grad_fn if t.grad_fn is not None else t._accumulator()


def _roots(tensors, grads, op: str):
    Tensor = _tensor_class()
    tensors = _as_tuple(tensors)
    if grads is None:
        grads = (None,) * len(tensors)
    else:
        grads = _as_tuple(grads) if not isinstance(grads, Tensor) else (grads,)
    if len(grads) != len(tensors):
        raise op_error(BackwardError, op, f"got {len(tensors)} outputs but {len(grads)} gradients")
    out_grads = []
    for t, g in zip(tensors, grads):
        if not t._requires_grad:
            raise op_error(BackwardError, op,
                           f"the tensor (shape {tuple(t.shape)}) does not require grad and has no "
                           "grad_fn: nothing it was computed from requires grad, or it was made "
                           "under no_grad()")
        if g is None:
            if t._data.size != 1:
                raise op_error(BackwardError, op,
                               f"grad can be implicitly created only for scalar outputs; this "
                               f"output has shape {tuple(t.shape)}: pass gradient= of that shape")
            g = Tensor._make(_ones_like(t._data))
            g._grad_owned = True  # made here: a leaf may take it over
        elif not isinstance(g, Tensor):
            g = TENSORS.as_tensor(g, t.dtype)
        if g._data.shape != t._data.shape:
            raise op_error(ShapeError, op, f"gradient has shape {tuple(g.shape)}, but the output "
                           f"has shape {tuple(t.shape)}")
        if g._data.dtype != t._data.dtype:
            g = g.to(t.dtype)  # gradients take their tensor's dtype, as in PyTorch
        out_grads.append(g)
    return tensors, out_grads


def _ones_like(array):
    return backend_of(array).ones_like(array)
