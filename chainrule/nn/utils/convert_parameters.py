"""Flatten parameters into one vector and back (``parameters_to_vector``).

>>> import chainrule as cr
>>> net = cr.nn.Linear(2, 3)
>>> v = cr.nn.utils.parameters_to_vector(net.parameters())
>>> v.shape
chainrule.Size([9])
>>> cr.nn.utils.vector_to_parameters(v * 0, net.parameters()); float(net.weight.abs().sum())
0.0
"""
from __future__ import annotations

from typing import Iterable

from ...autograd.grad_mode import no_grad
from ...errors import ShapeError, op_error
from ...tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """One 1-D tensor of every parameter, flattened in order (differentiable)."""
    from ...ops.join import cat
    parameters = list(parameters)
    for p in parameters:
        if not isinstance(p, Tensor):
            raise op_error(TypeError, "parameters_to_vector", f"expected tensors, got "
                           f"{type(p).__name__}")
    return cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of ``vec`` into the parameters (in place)."""
    if not isinstance(vec, Tensor) or vec.ndim != 1:
        raise op_error(ShapeError, "vector_to_parameters", f"expected a 1-D tensor, got "
                       f"{type(vec).__name__} of shape {tuple(getattr(vec, 'shape', ()))}")
    params = list(parameters)
    total = sum(p.numel() for p in params)
    if total != vec.numel():
        raise op_error(ShapeError, "vector_to_parameters", f"the vector has {vec.numel()} entries "
                       f"but the parameters have {total}")
    start = 0
    with no_grad():
        for p in params:
            n = p.numel()
            p.copy_(vec[start:start + n].reshape(tuple(p.shape)))
            start += n
