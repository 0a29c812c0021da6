"""Vector norms: ``norm`` with p = 2 ('fro'), 1, 0, inf, -inf or any p.

Above both reductions and max/min: p = ±inf is ``amax``/``amin`` of ``|x|`` (their tie
rule included), p = 0 and 1 are sums, any other p is one op with its own rule.
"""
from __future__ import annotations

import math

from .._args import ArgumentError, number_value
from ..dtypes import dtype_arg
from ..errors import DTypeError, op_error
from ..tensor import Tensor
from ._operands import tensor_method
from .elementwise import abs_fn, pow_fn, sign, where_fn
from .minmax import amax, amin
from .reduce import _axes, _prepare, _restore, sum
from .registry import defop, defvjp


@tensor_method("norm")
def norm(input: Tensor, p="fro", dim=None, keepdim: bool = False, dtype=None) -> Tensor:
    """Vector p-norm over ``dim`` (all elements when None): 2 ('fro'), 1, inf, -inf, 0 or any p."""
    if dtype is not None:
        input = input.to(dtype_arg(dtype, "norm"))
    if isinstance(p, str):
        if p not in ("fro", "nuc", "inf", "-inf"):
            raise op_error(ArgumentError, "norm", f"p must be a number, 'fro' or 'nuc', got {p!r}")
    elif p is not None:
        p = number_value(p, "norm", "p")
    if input._data.dtype.kind not in "fV":
        raise op_error(DTypeError, "norm", f"expected a floating-point tensor, got {input.dtype.name}")
    if p in ("fro", 2, 2.0, None):
        p = 2.0
    if p == "nuc":
        raise op_error(ValueError, "norm", "the nuclear norm is not supported")
    if p in (math.inf, "inf"):
        return amax(abs_fn(input), () if dim is None else dim, keepdim)
    if p in (-math.inf, "-inf"):
        return amin(abs_fn(input), () if dim is None else dim, keepdim)
    if p == 0:
        return sum((input != 0).to(input.dtype), dim, keepdim)
    if p == 1:
        return sum(abs_fn(input), dim, keepdim)
    input, dims = _prepare(input, dim, "norm", keepdim=keepdim)
    return norm_op(input, p=float(p), dims=dims, keepdim=bool(keepdim), in_shape=input._data.shape)


def _norm_fwd(xp, x, p, dims, keepdim, in_shape):
    a = xp.abs(x)
    if p == 2.0:
        return xp.sqrt(xp.sum(a * a, axis=_axes(dims), keepdims=keepdim))
    return xp.sum(a ** p, axis=_axes(dims), keepdims=keepdim) ** (1.0 / p)


def _norm_grad(g, ans, x, p, dims, keepdim, in_shape):
    # d|x|_p/dx = sign(x) |x|^(p-1) / |x|_p^(p-1); 0 where the norm is 0 (PyTorch's subgradient)
    n = _restore(ans, in_shape, dims, keepdim)
    zero = n == 0
    safe = where_fn(zero, 1.0, n)
    if p == 2.0:
        scale = x / safe
    else:
        scale = sign(x) * pow_fn(abs_fn(x), p - 1) / pow_fn(safe, p - 1)
    return _restore(g, in_shape, dims, keepdim) * where_fn(zero, 0.0, scale)


norm_op = defop("norm", _norm_fwd, saves_ans=True)
defvjp(norm_op, _norm_grad)
