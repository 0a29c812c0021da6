"""``embedding_bag``: sums, means or maxima of bags of embedding rows (PyTorch's signature).

Bags are runs of a flat index tensor cut at ``offsets`` (or the rows of a 2-D index
tensor). The bag layout is index arithmetic on the host; the values go through
differentiable ops only: the row lookup of :func:`embedding`, then a segment sum
(``embedding``'s own gradient op, whose adjoint is the lookup, so every order of
gradient works) for 'sum' and 'mean', and for 'max' a (bags, longest bag, D) table
padded with -inf whose maximum sends each gradient to the first row holding it.
Entries equal to ``padding_idx`` are left out of every bag (and of a mean's count);
an empty bag gives zeros.

>>> import chainrule as cr
>>> import chainrule.nn.functional as F
>>> w = cr.arange(12.0).reshape(6, 2)
>>> F.embedding_bag(cr.tensor([1, 2, 4, 5]), w, cr.tensor([0, 2]), mode="sum")
tensor([[ 6.,  8.],
        [18., 20.]])
"""
from __future__ import annotations

from ..._host_calls import any_bad, out_of_range
from ...backends import backend_of
from ...errors import DTypeError, IndexingError, ShapeError, op_error
from ...ops.indexing import select_in_range
from ...tensor import Tensor
from ._sparse import _renorm_rows, embedding, row_sums_op

__all__ = ["embedding_bag"]

_OP = "embedding_bag"


def _bag_bounds(xp, input: Tensor, offsets, include_last_offset: bool):
    """``(flat indices, start of each bag, end of each bag)`` on the host."""
    if input.ndim == 2:
        if offsets is not None:
            raise op_error(ValueError, _OP, "if input is 2D, then offsets has to be None, as input "
                           "is treated is a mini-batch of fixed length sequences. However, found "
                           f"offsets of type {type(offsets).__name__}")
        bags, length = input.shape
        starts = xp.arange(bags, dtype=xp.int64) * length
        return input._data.reshape(-1), starts, starts + length
    if input.ndim != 1:
        raise op_error(ShapeError, _OP, f"input has to be 1D or 2D Tensor, but got Tensor of "
                       f"dimension {input.ndim}")
    if not isinstance(offsets, Tensor) or offsets.ndim != 1:
        got = f"shape {tuple(offsets.shape)}" if isinstance(offsets, Tensor) else offsets
        raise op_error(ValueError, _OP, f"offsets has to be a 1D Tensor but got {got}")
    if offsets._data.dtype.kind not in "iu":
        raise op_error(DTypeError, _OP, f"offsets must be an integer tensor, got "
                       f"{offsets.dtype.name}")
    flat = input._data
    off = offsets._data.astype(xp.int64)
    n = flat.shape[0]
    if off.shape[0] and any_bad(off[:1] != 0, ValueError, f"{_OP}: offsets[0] has to be 0"):
        raise op_error(ValueError, _OP, f"offsets[0] has to be 0, i.e., the first sequence in the "
                       f"mini-batch has to start from position 0. However, got {off[0].item()}")
    if off.shape[0] and any_bad(off[-1:] > n, ValueError,
                                f"{_OP}: offsets[-1] can not be greater than input's length {n}"):
        raise op_error(ValueError, _OP, f"offsets[-1] can not be greater than input's length {n} "
                       f"but got offsets[-1] of {off[-1].item()}")
    if off.shape[0] > 1 and any_bad(off[1:] < off[:-1], ValueError,
                                    f"{_OP}: offsets must be non-decreasing"):
        raise op_error(ValueError, _OP, f"offsets must be non-decreasing, got {off.tolist()}")
    if include_last_offset:  # the last offset ends the last bag; later entries are unused
        if off.shape[0] == 0:
            raise op_error(ValueError, _OP, "include_last_offset=True needs at least one offset")
        return flat, off[:-1], off[1:]
    return flat, off, xp.concatenate([off[1:], xp.asarray([n], dtype=xp.int64)])


def embedding_bag(input: Tensor, weight: Tensor, offsets: Tensor | None = None,
                  max_norm: float | None = None, norm_type: float = 2,
                  scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                  per_sample_weights: Tensor | None = None, include_last_offset: bool = False,
                  padding_idx: int | None = None) -> Tensor:
    """The 'sum', 'mean' or 'max' of each bag of rows of ``weight`` (num_embeddings, D):
    (bags, D). A 1-D ``input`` is cut into bags at ``offsets``; a 2-D input's rows are bags.
    ``per_sample_weights`` (input's shape, mode 'sum' only) scale each row first."""
    for name, t in (("input", input), ("weight", weight)):
        if not isinstance(t, Tensor):
            raise op_error(DTypeError, _OP, f"{name} must be a Tensor, got {type(t).__name__}")
    if input._data.dtype.kind not in "iu":
        raise op_error(DTypeError, _OP, f"input must be an integer tensor of indices, got "
                       f"{input.dtype.name}")
    if weight.ndim != 2:
        raise op_error(ShapeError, _OP, f"weight has to be a 2D Tensor, but got Tensor of "
                       f"dimension {weight.ndim}")
    if mode not in ("sum", "mean", "max"):
        raise op_error(ValueError, _OP, f"mode has to be one of sum, mean or max, got {mode!r}")
    if scale_grad_by_freq or sparse:
        raise op_error(ValueError, _OP, "scale_grad_by_freq and sparse gradients are not supported")
    if per_sample_weights is not None:
        if mode != "sum":
            raise op_error(NotImplementedError, _OP, f"embedding_bag: per_sample_weights was not "
                           f"None. per_sample_weights is only supported for mode='sum' (got "
                           f"mode='{mode}'). Please open a feature request on GitHub.")
        if not isinstance(per_sample_weights, Tensor) or \
                tuple(per_sample_weights.shape) != tuple(input.shape):
            got = tuple(per_sample_weights.shape) if isinstance(per_sample_weights, Tensor) else \
                type(per_sample_weights).__name__
            raise op_error(ShapeError, _OP, f"per_sample_weights must have the shape of input "
                           f"{tuple(input.shape)}, got {got}")
        if per_sample_weights.dtype != weight.dtype:
            raise op_error(DTypeError, _OP, f"per_sample_weights ({per_sample_weights.dtype.name}) "
                           f"must have the dtype of weight ({weight.dtype.name})")
    xp = backend_of(weight._data)
    num, dim = weight.shape
    if padding_idx is not None:
        if not -num <= padding_idx < num:
            raise op_error(IndexingError, _OP, f"padding_idx {padding_idx} must be within the "
                           f"{num} rows of weight")
        padding_idx %= num
    flat, starts, ends = _bag_bounds(xp, input, offsets, include_last_offset)
    if flat.size and out_of_range(flat, 0, num, IndexingError,
                                  f"embedding_bag: an index is out of range for {num} rows"):
        bad = flat.min().item() if flat.min().item() < 0 else flat.max().item()
        raise op_error(IndexingError, _OP, f"index {bad} is out of range for a weight with {num} "
                       f"rows (expected 0 to {num - 1})")
    if max_norm is not None:
        _renorm_rows(weight, flat, max_norm, norm_type)
    bags = int(starts.shape[0])
    sizes = ends - starts
    # each used position's bag (bags are contiguous and start at 0), minus padding entries
    used = ends[-1].item() if bags else 0
    bag_of = xp.repeat(xp.arange(bags, dtype=xp.int64), sizes.tolist())  # (CuPy: a list)
    keep = flat[:used] != padding_idx if padding_idx is not None else xp.ones(used, dtype=bool)
    kept = xp.flatnonzero(keep)
    bag_of = bag_of[kept]
    rows = embedding(Tensor._make(flat[kept]), weight)  # (kept, D), differentiable in weight
    if per_sample_weights is not None:
        scale = select_in_range(per_sample_weights.reshape(-1), 0, Tensor._make(kept))
        rows = rows * scale.unsqueeze(1)
    counts = xp.bincount(bag_of, minlength=bags)[:bags] if bags else xp.zeros(0, dtype=xp.int64)
    if mode != "max":
        out = row_sums_op(rows, indices=bag_of, num_weights=bags, padding_idx=None)
        if mode == "mean":
            out = out / Tensor._make(xp.maximum(counts, 1).astype(weight._data.dtype)[:, None])
        return out
    return _bag_max(xp, rows, bag_of, counts, bags, dim)


def _bag_max(xp, rows: Tensor, bag_of, counts, bags: int, dim: int) -> Tensor:
    """Per-bag maximum of ``rows`` (sorted by bag): a -inf padded (bags, longest, D) table."""
    longest = counts.max().item() if counts.size else 0
    dtype = rows._data.dtype
    if longest == 0:  # every bag empty: zeros that still depend on the weight (zero gradient)
        return rows.sum() * 0 + Tensor._make(xp.zeros((bags, dim), dtype=dtype))
    first = xp.concatenate([xp.zeros(1, dtype=xp.int64), xp.cumsum(counts)[:-1]])
    rank = xp.arange(bag_of.shape[0]) - first[bag_of]
    slot = xp.full(bags * longest, bag_of.shape[0], dtype=xp.int64)  # empty slots: the -inf row
    slot[bag_of * longest + rank] = xp.arange(bag_of.shape[0])
    from ...ops.join import cat
    table = cat([rows, Tensor._make(xp.full((1, dim), -xp.inf, dtype=dtype))], 0)
    best = select_in_range(table, 0, Tensor._make(slot)).reshape(bags, longest, dim).max(1)[0]
    if (counts == 0).any().item():  # an empty bag's maximum is -inf: PyTorch gives zeros
        from ...ops.elementwise import where_fn
        best = where_fn(Tensor._make((counts > 0)[:, None]), best, 0.0)
    return best
