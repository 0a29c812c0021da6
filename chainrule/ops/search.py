"""Searching sorted sequences and counting into bins: searchsorted, bucketize, histc.

These return positions or counts, so none has a gradient (PyTorch's do not either): their
results never require grad. ``searchsorted`` runs a binary search per row of the sorted
sequence (NumPy's, whose ``side`` means what PyTorch's does); ``histc`` follows PyTorch's
binning arithmetic (``int((x - min) * bins / (max - min))``, in the input's dtype, the top
edge counted in the last bin, values outside ``[min, max]`` ignored).

>>> import chainrule as cr
>>> cr.searchsorted(cr.tensor([1.0, 3.0, 5.0]), cr.tensor([3.0, 4.0]))
tensor([1, 2])
>>> cr.bucketize(cr.tensor([3.0, 4.0]), cr.tensor([1.0, 3.0, 5.0]), right=True)
tensor([2, 2])
>>> cr.histc(cr.tensor([1.0, 2.0, 1.0]), bins=4, min=0, max=3)
tensor([0., 2., 1., 0.])
"""
from __future__ import annotations

import math
import numbers

from .._args import ArgumentError, index_value, tensor_value
from ..backends import backend_of
from ..errors import DTypeError, IndexingError, ShapeError, op_error
from ..tensor import Tensor
from ._operands import tensor_method

__all__ = ["searchsorted", "bucketize", "histc"]


def _values(values, like: Tensor, op: str) -> tuple[Tensor, bool]:
    """``values`` as a tensor, and whether it was a Python number (a 0-d result)."""
    if isinstance(values, Tensor):
        return values, False
    if isinstance(values, numbers.Real) and not isinstance(values, bool):
        from ..creation import tensor
        return tensor(values, device=like.device), True
    raise op_error(DTypeError, op, f"values must be a Tensor or a number, got "
                   f"{type(values).__name__}")


def _side(right: bool, side: str | None, op: str) -> str:
    if side is None:
        return "right" if right else "left"
    if side not in ("left", "right"):
        raise op_error(ArgumentError, op, f"side can only be 'left' or 'right', got {side!r}")
    if right and side == "left":
        raise op_error(ArgumentError, op, f"side and right can't be set to opposites, got side of "
                       f"left while right was True")
    return side


def _search(xp, seq, values, side: str):
    """Row-wise binary search: ``seq`` (..., M) sorted on its last dim, ``values`` (..., K)
    with the same leading dims, or ``seq`` 1-D and ``values`` of any shape."""
    if seq.ndim == 1:
        return xp.searchsorted(seq, values, side=side)
    rows = seq.reshape(-1, seq.shape[-1])
    queries = values.reshape(rows.shape[0], -1)
    out = xp.stack([xp.searchsorted(r, q, side=side) for r, q in zip(rows, queries)]) \
        if rows.shape[0] else xp.zeros(queries.shape, "int64")
    return out.reshape(values.shape)


@tensor_method()
def searchsorted(sorted_sequence: Tensor, input, *, out_int32: bool = False, right: bool = False,
                 side: str | None = None, out=None, sorter: Tensor | None = None) -> Tensor:
    """Indices where ``input``'s values would be inserted into ``sorted_sequence`` (sorted on
    its last dim) to keep it sorted: the first such place, or the last with ``right=True``
    (``side='right'``). ``sorter`` gives the order of an unsorted sequence.

    >>> import chainrule as cr
    >>> cr.searchsorted(cr.tensor([1, 3, 5, 7]), cr.tensor([3, 6]))
    tensor([1, 3])
    """
    op = "searchsorted"
    tensor_value(sorted_sequence, op, "sorted_sequence")
    values, scalar = _values(input, sorted_sequence, op)
    side = _side(right, side, op)
    seq = sorted_sequence._data
    if seq.ndim == 0:
        raise op_error(ShapeError, op, "sorted_sequence must have at least one dimension, got a "
                       "0-d tensor")
    if seq.ndim > 1 and (values.ndim != seq.ndim or values.shape[:-1] != sorted_sequence.shape[:-1]):
        raise op_error(ShapeError, op, "sorted_sequence should be 1-D, or its first N-1 dims must "
                       f"match those of input; got sorted_sequence of shape {tuple(seq.shape)} "
                       f"and input of shape {tuple(values.shape)}")
    xp = backend_of(seq)
    if sorter is not None:
        tensor_value(sorter, op, "sorter")
        if tuple(sorter.shape) != tuple(seq.shape) or sorter._data.dtype.kind not in "iu":
            raise op_error(ShapeError, op, f"sorter must be an int64 tensor of the shape of "
                           f"sorted_sequence {tuple(seq.shape)}, got {sorter.dtype.name} of shape "
                           f"{tuple(sorter.shape)}")
        s = sorter._data
        if s.size and (s.min().item() < 0 or s.max().item() >= seq.shape[-1]):
            raise op_error(IndexingError, op, f"sorter index out of range for a last dim of size "
                           f"{seq.shape[-1]}")
        seq = xp.take_along_axis(seq, s, axis=-1)
    found = _search(xp, seq, values._data, side)
    result = Tensor._make(xp.asarray(found, dtype="int32" if out_int32 else "int64"))
    if scalar:
        result = Tensor._make(result._data.reshape(()))
    return out.copy_(result) if out is not None else result


def bucketize(input, boundaries: Tensor, *, out_int32: bool = False, right: bool = False,
              out=None) -> Tensor:
    """The bucket of each value of ``input`` given 1-D, increasing ``boundaries``:
    ``boundaries[i-1] < x <= boundaries[i]`` (``right=False``) or
    ``boundaries[i-1] <= x < boundaries[i]`` (``right=True``).

    >>> import chainrule as cr
    >>> cr.bucketize(cr.tensor([1, 5, 9]), cr.tensor([2, 4, 6, 8]))
    tensor([0, 2, 4])
    """
    tensor_value(boundaries, "bucketize", "boundaries")
    if boundaries.ndim != 1:
        raise op_error(ShapeError, "bucketize", f"boundaries tensor must be 1 dimension, but got "
                       f"dim({boundaries.ndim})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right, out=out)


@tensor_method()
def histc(input: Tensor, bins: int = 100, min=0, max=0, *, out=None) -> Tensor:  # noqa: A002
    """A histogram of ``input``'s values in ``bins`` equal bins over ``[min, max]`` (the data's
    range when both are equal); values outside are ignored. A float tensor of counts.

    >>> import chainrule as cr
    >>> cr.histc(cr.tensor([1., 2., 1., 4.]), bins=4, min=0, max=4)
    tensor([0., 2., 1., 1.])
    """
    op = "histc"
    tensor_value(input, op)
    bins = index_value(bins, op, "bins")
    if bins <= 0:
        raise op_error(ShapeError, op, f"bins must be > 0, got {bins}")
    data = input._data
    if data.dtype.kind != "f":
        raise op_error(DTypeError, op, f"histc is not implemented for {input.dtype.name} input; "
                       "use a floating-point tensor")
    xp = backend_of(data)
    dt = data.dtype.type
    lo, hi = dt(min), dt(max)
    if lo == hi and data.size:
        lo, hi = dt(data.min().item()), dt(data.max().item())
    if lo == hi:
        lo, hi = lo - dt(1), hi + dt(1)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise op_error(ArgumentError, op, f"range of [{lo}, {hi}] is not finite")
    if lo > hi:
        raise op_error(ArgumentError, op, "max must be larger than min")
    flat = data.reshape(-1)
    inside = flat[(flat >= lo) & (flat <= hi)]  # NaN fails both: ignored
    pos = ((inside - lo) * dt(bins) / (hi - lo)).astype("int64")
    pos[pos == bins] = bins - 1
    counts = xp.bincount(pos, minlength=bins).astype(data.dtype)
    result = Tensor._make(counts)
    return out.copy_(result) if out is not None else result
