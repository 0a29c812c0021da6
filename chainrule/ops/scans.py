"""Running reductions along a dim: cummax, cummin (values and indices), logcumsumexp.

cummax/cummin find, for each position, the index of the running extreme (the latest one
among equal values, and the latest NaN once one is seen, as PyTorch); the values are then
gathered from the input at those indices, so the gradient of each value goes back to the
element it came from, as PyTorch's does.

logcumsumexp is an op of its own (``log(cumsum(exp(x)))`` without overflow); its gradient is
PyTorch's formula, written with differentiable ops so that it has higher derivatives too.

>>> import chainrule as cr
>>> cr.tensor([1.0, 3.0, 2.0, 5.0]).cummax(0)
cummax(values=tensor([1., 3., 3., 5.]), indices=tensor([0, 1, 1, 3]))
>>> cr.logcumsumexp(cr.tensor([0.0, 0.0]), 0)
tensor([0.0000, 0.6931])
"""
from __future__ import annotations

from collections import namedtuple

from .._args import tensor_value
from ..backends import backend_of
from ..errors import DTypeError, op_error
from ..tensor import Tensor
from ._operands import tensor_method, wrap_dim
from .registry import defop, defvjp

__all__ = ["cummax", "cummin", "logcumsumexp"]

cummax_result = namedtuple("cummax", ["values", "indices"])
cummin_result = namedtuple("cummin", ["values", "indices"])


def _running_index(xp, x, dim: int, larger: bool):
    """For each position along ``dim``, the index of the running max (min) so far."""
    accumulate = xp.maximum.accumulate if larger else xp.minimum.accumulate
    running = accumulate(x, axis=dim)  # NaN propagates: NaN from the first NaN on
    record = x == running  # a new extreme, or one equal to it (ties: the latest wins)
    if x.dtype.kind == "f":
        nan = xp.isnan(x)  # every NaN is a new extreme; after one, no number is
        record = (record & (xp.cumsum(nan, axis=dim) == 0)) | nan
    shape = [1] * x.ndim
    shape[dim] = x.shape[dim]
    positions = xp.arange(x.shape[dim]).reshape(shape)
    return xp.maximum.accumulate(xp.where(record, positions, 0), axis=dim).astype("int64")


def _cumextreme(input: Tensor, dim, larger: bool, result):
    op = "cummax" if larger else "cummin"
    tensor_value(input, op)
    d = wrap_dim(dim, max(input.ndim, 1), op)
    if input.ndim == 0:
        from .conversion import clone
        return result(input * 1 if input.requires_grad else clone(input),
                      Tensor._make(backend_of(input._data).zeros((), "int64")))
    if input._data.size == 0:
        from .conversion import clone
        return result(clone(input), Tensor._make(backend_of(input._data).zeros(input.shape, "int64")))
    indices = Tensor._make(_running_index(backend_of(input._data), input._data, d, larger))
    from .indexing import gather
    return result(gather(input, d, indices), indices)


@tensor_method()
def cummax(input: Tensor, dim: int):
    """Running maximum along ``dim`` and the index each value came from.

    >>> import chainrule as cr
    >>> cr.cummax(cr.tensor([1, 3, 2, 5]), dim=0).values
    tensor([1, 3, 3, 5])
    """
    return _cumextreme(input, dim, True, cummax_result)


@tensor_method()
def cummin(input: Tensor, dim: int):
    """Running minimum along ``dim`` and the index each value came from.

    >>> import chainrule as cr
    >>> cr.cummin(cr.tensor([4, 2, 3, 1]), dim=0).indices
    tensor([0, 1, 1, 3])
    """
    return _cumextreme(input, dim, False, cummin_result)


def _logcumsumexp_grad(g: Tensor, ans: Tensor, x: Tensor, dim: int) -> Tensor:
    """PyTorch's stable form: the positive and negative parts of ``g`` summed in log space,
    ``exp(x_j + log sum_{i>=j} g_i exp(-ans_i))``."""
    from .elementwise import where_fn
    from .shape import flip
    lowest = float(backend_of(g._data).finfo(g._data.dtype).min)
    log_abs = g.abs().log()
    positive = where_fn(g > 0, log_abs, lowest)
    negative = where_fn(g < 0, log_abs, lowest)

    def reverse_lcse(t):
        return flip(logcumsumexp(flip(t, (dim,)), dim), (dim,))
    return (reverse_lcse(positive - ans) + x).exp() - (reverse_lcse(negative - ans) + x).exp()


logcumsumexp_op = defop("logcumsumexp", lambda xp, x, dim: xp.logaddexp.accumulate(x, axis=dim),
                        saves_ans=True)
defvjp(logcumsumexp_op, _logcumsumexp_grad)


@tensor_method()
def logcumsumexp(input: Tensor, dim: int) -> Tensor:
    """``log(cumsum(exp(input), dim))``, computed without overflow.

    >>> import chainrule as cr
    >>> cr.logcumsumexp(cr.tensor([0., 0., 0., 0.]), dim=0).exp()
    tensor([1., 2., 3., 4.])
    """
    tensor_value(input, "logcumsumexp")
    if input._data.dtype.kind != "f":
        raise op_error(DTypeError, "logcumsumexp", f"expected a floating-point input, got "
                       f"{input.dtype.name}")
    d = wrap_dim(dim, max(input.ndim, 1), "logcumsumexp")
    if input.ndim == 0:
        return input * 1 if input.requires_grad else input.clone()
    return logcumsumexp_op(input, dim=d)
