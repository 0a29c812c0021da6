"""Sorting and selection: sort, argsort, msort, topk, kthvalue, median.

The order is computed on the array (no gradient of its own); the values are then
gathered from the input by those indices with :func:`gather`, so their gradient is
the gather's (each value's gradient goes back to the position it came from). NaN
counts as larger than every number, as in PyTorch; ``stable=True`` keeps equal
elements in their input order (ascending and descending alike).

>>> import chainrule as cr
>>> cr.tensor([3.0, 1.0, 2.0]).sort()
sort(values=tensor([1., 2., 3.]), indices=tensor([1, 2, 0]))
>>> cr.tensor([3.0, 1.0, 2.0]).topk(2).values
tensor([3., 2.])
"""
from __future__ import annotations

from collections import namedtuple

from ..backends import backend_of
from ..errors import IndexingError, ShapeError, op_error
from ..tensor import Tensor
from ._operands import tensor_method, wrap_dim

sort_result = namedtuple("sort", ["values", "indices"])
topk_result = namedtuple("topk", ["values", "indices"])
kthvalue_result = namedtuple("kthvalue", ["values", "indices"])
median_result = namedtuple("median", ["values", "indices"])


def _order(x, dim: int, descending: bool):
    """Indices that sort ``x`` along ``dim`` (stable; NaN largest), as an int64 array."""
    xp = backend_of(x)
    if not descending:
        return xp.argsort(x, axis=dim, kind="stable").astype("int64")
    moved = xp.moveaxis(x, dim, -1)
    if moved.dtype.kind in "fV":
        # keys for lexsort, last one primary: NaN first, then larger values first
        keys = (-moved, ~xp.isnan(moved))
    elif moved.dtype.kind == "b":
        keys = (~moved,)
    else:
        keys = (-moved.astype("int64") if moved.dtype.kind == "u" else -moved,)
    order = xp.lexsort(keys, axis=-1) if len(keys) > 1 else xp.argsort(keys[0], axis=-1, kind="stable")
    return xp.moveaxis(order, -1, dim).astype("int64")


def _dim(input: Tensor, dim, op: str) -> int:
    return wrap_dim(dim, max(input.ndim, 1), op)


def _indices_tensor(array) -> Tensor:
    return Tensor._make(array)


def _gathered(input: Tensor, dim: int, indices: Tensor) -> Tensor:
    from .indexing import gather
    if input.ndim == 0:
        return input * 1 if input.requires_grad else input.clone()
    return gather(input, dim, indices)


@tensor_method("sort")
def sort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False):
    """Sorted values along ``dim`` and the indices they came from.

    >>> import chainrule as cr
    >>> values, indices = cr.sort(cr.tensor([3, 1, 2]), descending=True)
    >>> values, indices
    (tensor([3, 2, 1]), tensor([0, 2, 1]))
    """
    d = _dim(input, dim, "sort")
    if input.ndim == 0:
        return sort_result(_gathered(input, 0, None), Tensor._make(backend_of(input._data).zeros((), "int64")))
    indices = _indices_tensor(_order(input._data, d, bool(descending)))
    return sort_result(_gathered(input, d, indices), indices)


@tensor_method("argsort")
def argsort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    """The indices that sort ``input`` along ``dim``.

    >>> import chainrule as cr
    >>> cr.argsort(cr.tensor([3, 1, 2]))
    tensor([1, 2, 0])
    """
    return sort(input, dim, descending, stable).indices


@tensor_method("msort")
def msort(input: Tensor) -> Tensor:
    """``sort(input, dim=0).values``.

    >>> import chainrule as cr
    >>> cr.msort(cr.tensor([[3, 1], [1, 2]]))
    tensor([[1, 1],
            [3, 2]])
    """
    return sort(input, 0).values


@tensor_method("topk")
def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):  # noqa: A002
    """The ``k`` largest (or smallest) elements along ``dim``, with their indices.

    >>> import chainrule as cr
    >>> cr.topk(cr.tensor([1., 5., 3., 4.]), 2).indices
    tensor([1, 3])
    """
    d = _dim(input, dim, "topk")
    size = input._data.shape[d] if input.ndim else 1
    if not isinstance(k, int) or isinstance(k, bool) or not 0 <= k <= size:
        raise op_error(IndexingError, "topk", f"k ({k!r}) must be an int between 0 and the size of "
                       f"dim {dim} ({size})")
    if input.ndim == 0:
        return topk_result(*sort(input))
    order = _order(input._data, d, bool(largest))
    index = (slice(None),) * d + (slice(0, k),)
    indices = _indices_tensor(order[index].copy())
    return topk_result(_gathered(input, d, indices), indices)


def _pick(input: Tensor, dim, keepdim: bool, position, op: str, result):
    """The element at sorted ``position(size)`` along ``dim`` (ascending), with its index."""
    d = _dim(input, dim, op)
    size = input._data.shape[d] if input.ndim else 1
    if size == 0:
        raise op_error(IndexingError, op, f"cannot take the {op} of an empty dim {dim}")
    at = position(size)
    if input.ndim == 0:
        return result(*sort(input))
    order = _order(input._data, d, False)
    index = (slice(None),) * d + (slice(at, at + 1),)
    indices = _indices_tensor(order[index].copy())
    values = _gathered(input, d, indices)
    if not keepdim:
        values, indices = values.squeeze(d), indices.squeeze(d)
    return result(values, indices)


@tensor_method("kthvalue")
def kthvalue(input: Tensor, k: int, dim: int = -1, keepdim: bool = False):
    """The ``k``-th smallest element along ``dim`` (k counts from 1), with its index.

    >>> import chainrule as cr
    >>> value, index = cr.kthvalue(cr.tensor([3., 1., 2.]), 2)
    >>> value, index
    (tensor(2.), tensor(2))
    """
    size = input._data.shape[_dim(input, dim, "kthvalue")] if input.ndim else 1
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= size:
        raise op_error(IndexingError, "kthvalue", f"k ({k!r}) must be an int between 1 and the size "
                       f"of dim {dim} ({size})")
    return _pick(input, dim, keepdim, lambda n: k - 1, "kthvalue", kthvalue_result)


@tensor_method("median")
def median(input: Tensor, dim=None, keepdim: bool = False):
    """The lower median (of all elements, or along ``dim`` with its index), as PyTorch; NaN
    wherever a NaN is present.

    >>> import chainrule as cr
    >>> cr.median(cr.tensor([3., 1., 2., 4.]))
    tensor(2.)
    """
    if dim is None:
        if input.numel() == 0:  # nan, as PyTorch
            if input._data.dtype.kind not in "fV":
                raise op_error(ShapeError, "median", "cannot take the median of an empty "
                               f"{input.dtype.name} tensor")
            return Tensor._make(backend_of(input._data).full((), float("nan"), dtype=input._data.dtype))
        return _median_of(input.reshape(-1), 0, False).values
    return _median_of(input, dim, keepdim)


def _median_of(input: Tensor, dim, keepdim: bool):
    xp = backend_of(input._data)
    d = _dim(input, dim, "median")
    result = _pick(input, d, True, lambda n: (n - 1) // 2, "median", median_result)
    if input._data.dtype.kind in "fV" and input.ndim:
        nan_rows = xp.isnan(input._data).any(axis=d, keepdims=True)
        if nan_rows.any().item():  # the first NaN of each such row, as PyTorch
            first_nan = xp.argmax(xp.isnan(input._data), axis=d)
            indices = xp.where(nan_rows, xp.expand_dims(first_nan, d), result.indices._data)
            result = median_result(_gathered(input, d, _indices_tensor(indices)), _indices_tensor(indices))
    if not keepdim and input.ndim:
        result = median_result(result.values.squeeze(d), result.indices.squeeze(d))
    return result
