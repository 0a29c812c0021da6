"""Gradient clipping: ``clip_grad_norm_`` and ``clip_grad_value_`` (in place, as PyTorch).

>>> import chainrule as cr
>>> p = cr.nn.Parameter(cr.zeros(2)); p.grad = cr.tensor([3.0, 4.0])
>>> cr.nn.utils.clip_grad_norm_([p], max_norm=1.0)
tensor(5.)
>>> p.grad
tensor([0.6000, 0.8000])
"""
from __future__ import annotations

import math
from typing import Iterable

import numpy as np

from ..._host_calls import capturing
from ...autograd.grad_mode import no_grad
from ...errors import op_error
from ...tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_norm", "clip_grad_value_", "get_total_norm",
           "clip_grads_with_norm_"]


def _tensors(tensors, arg: str, op: str) -> list[Tensor]:
    """``tensors`` (one tensor or an iterable of them) as a list, each checked."""
    if isinstance(tensors, Tensor):
        return [tensors]
    if not isinstance(tensors, Iterable):
        raise op_error(TypeError, op, f"{arg} must be a tensor or an iterable of tensors, got "
                       f"{type(tensors).__name__}")
    tensors = list(tensors)
    for t in tensors:
        if not isinstance(t, Tensor):
            raise op_error(TypeError, op, f"{arg} must hold tensors, got {type(t).__name__}")
    return tensors


def _grads(parameters, op: str) -> list[Tensor]:
    return [p.grad for p in _tensors(parameters, "parameters", op) if p.grad is not None]


def _norm_type(norm_type, op: str) -> float:
    """``norm_type`` as a float: a number, or a string such as 'inf' that float() reads."""
    try:
        return float(norm_type)
    except (TypeError, ValueError):
        raise op_error(ValueError, op, f"norm_type must be a number (or 'inf'), got "
                       f"{norm_type!r}") from None


def get_total_norm(tensors: Iterable[Tensor], norm_type: float = 2.0,
                   error_if_nonfinite: bool = False, foreach=None) -> Tensor:
    """The ``norm_type``-norm of all ``tensors`` taken together (as one vector)."""
    from ...creation import tensor
    from ...ops.join import stack
    tensors = _tensors(tensors, "tensors", "get_total_norm")
    norm_type = _norm_type(norm_type, "get_total_norm")
    if not tensors:
        return tensor(0.0)
    with no_grad():
        if norm_type == math.inf:
            norms = [t.detach().abs().max().to(tensors[0].dtype) for t in tensors]
            total = stack(norms).max()
        else:
            norms = [t.detach().norm(norm_type) for t in tensors]
            total = stack([n.to(norms[0].dtype) for n in norms]).norm(norm_type)
    if error_if_nonfinite and not math.isfinite(total.item()):
        raise op_error(RuntimeError, "clip_grad_norm_", f"the total norm of order {norm_type} of the "
                       f"gradients is {total.item()}, so they cannot be clipped; pass "
                       "error_if_nonfinite=False to clip anyway")
    return total


def clip_grads_with_norm_(parameters, max_norm: float, total_norm: Tensor, foreach=None) -> None:
    """Scale gradients by ``min(1, max_norm / (total_norm + 1e-6))`` in place.

    As PyTorch, the factor is computed in the norm's dtype, and a non-finite norm still
    scales: an infinite one by 0 (an infinite entry becomes nan), a nan one by nan.
    """
    grads = _grads(parameters, "clip_grads_with_norm_")
    if not grads:
        return
    if not isinstance(total_norm, Tensor):
        from ...creation import tensor
        total_norm = tensor(float(total_norm))
    with no_grad():
        coef = (float(max_norm) / (total_norm + 1e-6)).clamp(max=1.0)
        if not capturing() and coef.item() == 1.0:  # multiplying by one changes nothing (a
            return  # compiled step multiplies: x * 1.0 is x, and no data is read on the host)
        with np.errstate(invalid="ignore", over="ignore"):  # inf * 0 is nan, as in PyTorch
            for g in grads:
                g.mul_(coef)


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach=None) -> Tensor:
    """Rescale the gradients so their joint norm is at most ``max_norm``; returns the norm
    they had. ``norm_type`` may be ``inf`` (the largest absolute entry)."""
    parameters = _tensors(parameters, "parameters", "clip_grad_norm_")
    total = get_total_norm(_grads(parameters, "clip_grad_norm_"), norm_type, error_if_nonfinite)
    clip_grads_with_norm_(parameters, max_norm, total)
    return total


def clip_grad_norm(parameters, max_norm: float, norm_type: float = 2.0,
                   error_if_nonfinite: bool = False, foreach=None) -> Tensor:
    """Deprecated alias of :func:`clip_grad_norm_`."""
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite)


def clip_grad_value_(parameters, clip_value: float, foreach=None) -> None:
    """Clamp every gradient entry to ``[-clip_value, clip_value]`` in place."""
    try:
        clip_value = float(clip_value)  # as PyTorch, anything float() reads ('1' too)
    except (TypeError, ValueError):
        raise op_error(TypeError, "clip_grad_value_", f"clip_value must be a number, got "
                       f"{type(clip_value).__name__} {clip_value!r}") from None
    with no_grad():
        for g in _grads(parameters, "clip_grad_value_"):
            g.clamp_(-clip_value, clip_value)
