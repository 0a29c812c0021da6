"""Join and split ops: ``cat``/``stack``/``hstack``/``vstack``, ``narrow``, ``split``/``chunk``/``unbind``, ``select``.

Split from ``shape.py`` (which re-exports every name here): these ops take several
tensors into one or one into several pieces, where the rest of ``shape.py`` rearranges a
single tensor. Imported at the end of ``shape.py``.
"""
from __future__ import annotations

import builtins

from .._args import index_value
from ..errors import DTypeError, ShapeError, op_error
from ..tensor import Tensor
from ._operands import as_tensor_arg, tensor_method, wrap_dim
from ..autograd.engine import IndexedGrad
from .registry import defgrad, defgrad_joint, defop
from .shape import _dim_of, _size_args, squeeze, unsqueeze
from .view_meta import mark_refused


# ------------------------------------------------------------ join & split --
# cat takes any number of inputs: one joint rule slices g for those that need a gradient
cat_op = defop("cat", lambda xp, *xs, dim, sizes: xp.concatenate(xs, axis=dim), saves=())


def _cat_grad(m, g, ans, *xs, needs, dim, sizes):
    """Each input's part of ``g`` (a view), for the inputs that need a gradient."""
    out, start = [], 0
    for need, size in zip(needs, sizes):
        out.append(g[_dim_slice(dim, start, start + size)] if need else None)
        start += size
    return out


defgrad_joint(cat_op, None, _cat_grad)


def _tensor_list(tensors, op: str) -> None:
    """``tensors`` must be a list or tuple (PyTorch refuses one tensor, which would iterate)."""
    if not isinstance(tensors, (list, tuple)):
        raise op_error(DTypeError, op, f"tensors must be a list or tuple of tensors, got "
                       f"{type(tensors).__name__}")


def _cat_check(tensors, op: str, dim) -> int:
    if len(tensors) == 0:
        raise op_error(ShapeError, op, "expected a non-empty list of tensors")
    ref = tensors[0]
    d = wrap_dim(dim, ref.ndim, op) if ref.ndim else None
    if d is None:
        raise op_error(ShapeError, op, "zero-dimensional tensors cannot be concatenated; use stack")
    for i, t in enumerate(tensors[1:], 1):
        if t.ndim != ref.ndim or any(a != b for k, (a, b) in enumerate(zip(t.shape, ref.shape))
                                     if k != d):
            raise op_error(ShapeError, op, f"tensors must match in every dim except dim {dim}: "
                           f"tensor 0 has shape {tuple(ref.shape)}, tensor {i} has shape "
                           f"{tuple(t.shape)}")
    return d


@tensor_method()
def cat(tensors, dim: int = 0) -> Tensor:
    """Join tensors along an existing dim.

    >>> import chainrule as cr
    >>> cr.cat([cr.tensor([1, 2]), cr.tensor([3])])
    tensor([1, 2, 3])
    """
    _tensor_list(tensors, "cat")
    tensors = [as_tensor_arg(t, "cat") for t in tensors]
    tensors = [t for t in tensors if not (t.ndim == 1 and t.shape[0] == 0)] or tensors[:1]
    d = _cat_check(tensors, "cat", dim)
    dtypes = {t._data.dtype for t in tensors}
    if len(dtypes) > 1:
        from ..dtypes import from_numpy_dtype, result_type
        target = result_type([from_numpy_dtype(t._data.dtype) for t in tensors], [], [])
        tensors = [t.to(target) for t in tensors]
    if len(tensors) == 1:
        return tensors[0].clone()  # cat always returns new memory, as in PyTorch
    sizes = tuple(t._data.shape[d] for t in tensors)
    return cat_op(*tensors, dim=d, sizes=sizes)


concat = concatenate = cat


def stack(tensors, dim: int = 0) -> Tensor:
    """Join tensors along a new dim.

    >>> import chainrule as cr
    >>> cr.stack([cr.tensor([1, 2]), cr.tensor([3, 4])], dim=1)
    tensor([[1, 3],
            [2, 4]])
    """
    _tensor_list(tensors, "stack")
    tensors = [as_tensor_arg(t, "stack") for t in tensors]
    if not tensors:
        raise op_error(ShapeError, "stack", "expected a non-empty list of tensors")
    for i, t in enumerate(tensors[1:], 1):
        if tuple(t.shape) != tuple(tensors[0].shape):
            raise op_error(ShapeError, "stack", f"all tensors must have the same shape: tensor 0 "
                           f"has {tuple(tensors[0].shape)}, tensor {i} has {tuple(t.shape)}")
    d = wrap_dim(dim, tensors[0].ndim + 1, "stack")
    return cat([unsqueeze(t, d) for t in tensors], d)


def hstack(tensors) -> Tensor:
    """Join tensors along dim 1 (dim 0 for 1-D tensors; ``torch.hstack``).

    >>> import chainrule as cr
    >>> cr.hstack([cr.tensor([1, 2]), cr.tensor([3])])
    tensor([1, 2, 3])
    """
    if not isinstance(tensors, (list, tuple)) or not tensors:
        raise op_error(ShapeError, "hstack", "expected a non-empty list of tensors")
    return cat(tensors, 0 if tensors[0].ndim == 1 else 1)


def vstack(tensors) -> Tensor:
    """Join tensors along dim 0, after making them at least 2-D (``torch.vstack``).

    >>> import chainrule as cr
    >>> cr.vstack([cr.tensor([1, 2]), cr.tensor([3, 4])])
    tensor([[1, 2],
            [3, 4]])
    """
    if not isinstance(tensors, (list, tuple)) or not tensors:
        raise op_error(ShapeError, "vstack", "expected a non-empty list of tensors")
    return cat([t if t.ndim > 1 else unsqueeze(t, 0) for t in tensors], 0)


def _dim_slice(dim: int, start: int, stop: int) -> tuple:
    """The index that takes ``start:stop`` of dim ``dim`` and all of the dims before it."""
    return (slice(None),) * dim + (slice(start, stop),)


slice_op = defop("slice", lambda xp, x, dim, start, stop, size:
                 x[_dim_slice(dim, start, stop)], saves=(), view=True)
defgrad(slice_op, lambda m, g, ans, x, dim, start, stop, size:
        pad_dim_op.on(m, g, dim=dim, before=start, after=size - stop))


@tensor_method("narrow")
def narrow(input: Tensor, dim: int, start: int, length: int) -> Tensor:
    """``length`` elements of dim ``dim`` from ``start`` (a view).

    >>> import chainrule as cr
    >>> cr.narrow(cr.arange(5), 0, 1, 3)
    tensor([1, 2, 3])
    """
    d = _dim_of(input, dim, "narrow")
    size = input._data.shape[d]
    start, length = index_value(start, "narrow", "start"), index_value(length, "narrow", "length")
    start += size if start < 0 else 0
    if not (0 <= start and start + length <= size and length >= 0):
        raise op_error(ShapeError, "narrow", f"start {start} + length {length} exceeds dim {dim} of "
                       f"size {size}")
    if start == 0 and length == size:
        return input
    return slice_op(input, dim=d, start=start, stop=start + int(length), size=size)


def _pad_dim_fwd(xp, x, dim, before, after):
    # zeros plus one slice assignment: an order of magnitude faster than xp.pad
    shape = list(x.shape)
    shape[dim] += before + after
    out = xp.zeros(shape, dtype=x.dtype)
    out[_dim_slice(dim, before, before + x.shape[dim])] = x
    return out


def _pad_dim_lazy(xp, x, dim, before, after):
    """pad_dim as a backward op on arrays: ``x`` placed into zeros by the engine (T slices
    of one tensor cost T slice-sized writes, not T padded arrays and their sums)."""
    shape = x.shape[:dim] + (x.shape[dim] + before + after,) + x.shape[dim + 1:]
    return IndexedGrad(_dim_slice(dim, before, before + x.shape[dim]), x, shape)


pad_dim_op = defop("pad_dim", _pad_dim_fwd, saves=(), lazy=_pad_dim_lazy)
defgrad(pad_dim_op, lambda m, g, ans, x, dim, before, after:
        g[_dim_slice(dim, before, g.shape[dim] - after)])


def pad_dim(x: Tensor, dim: int, before: int, after: int) -> Tensor:
    """Zero-pad one dim (the rule of slicing)."""
    if before == 0 and after == 0:
        return x
    return pad_dim_op(x, dim=dim, before=before, after=after)


@tensor_method("split")
def split(tensor: Tensor, split_size_or_sections, dim: int = 0) -> tuple:
    """Pieces of ``split_size`` along ``dim`` (the last may be smaller), or of the given sizes.

    >>> import chainrule as cr
    >>> cr.split(cr.arange(5), 2)
    (tensor([0, 1]), tensor([2, 3]), tensor([4]))
    """
    d = _dim_of(tensor, dim, "split")
    size = tensor._data.shape[d]
    if not isinstance(split_size_or_sections, (tuple, list)):
        step = index_value(split_size_or_sections, "split", "split_size")
        if step <= 0:
            raise op_error(ShapeError, "split", f"split_size must be positive, got {step}")
        sizes = [min(step, size - s) for s in range(0, size, step)] or [0]
    else:
        sizes = _size_args((split_size_or_sections,), "split", "split_sizes")
        if builtins.any(s < 0 for s in sizes):
            raise op_error(ShapeError, "split", f"split_sizes must be non-negative, got {sizes}")
        if builtins.sum(sizes) != size:
            raise op_error(ShapeError, "split", f"sections {sizes} sum to {builtins.sum(sizes)}, "
                           f"but dim {dim} has size {size}")
    out, start = [], 0
    for s in sizes:  # always a slice (a view), even of the whole dim, as PyTorch's
        out.append(slice_op(tensor, dim=d, start=start, stop=start + s, size=size))
        start += s
    return mark_refused(out, "split")


def _unmarked(views) -> tuple:
    """``views`` without the multi-output mark of the function that made them (to re-mark)."""
    for v in views:
        if isinstance(v._view_meta, tuple):
            v._view_meta = None
    return views


@tensor_method("chunk")
def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple:
    """At most ``chunks`` pieces of equal size (the last may be smaller).

    >>> import chainrule as cr
    >>> cr.chunk(cr.arange(5), 2)
    (tensor([0, 1, 2]), tensor([3, 4]))
    """
    if index_value(chunks, "chunk", "chunks") <= 0:
        raise op_error(ShapeError, "chunk", f"chunks must be positive, got {chunks}")
    d = _dim_of(input, dim, "chunk")
    size = input._data.shape[d]
    return mark_refused(_unmarked(split(input, max(1, -(-size // chunks)), d)), "chunk")


@tensor_method("tensor_split")
def tensor_split(input: Tensor, sections: int, dim: int = 0) -> tuple:
    """``sections`` nearly equal pieces along ``dim`` (``torch.tensor_split``; a list of split
    indices, which PyTorch also takes, is not supported yet).

    >>> import chainrule as cr
    >>> cr.tensor_split(cr.arange(5), 2)
    (tensor([0, 1, 2]), tensor([3, 4]))
    """
    d = _dim_of(input, dim, "tensor_split")
    size = input._data.shape[d]
    if index_value(sections, "tensor_split", "sections") <= 0:
        raise op_error(ShapeError, "tensor_split", f"sections must be positive, got {sections}")
    base, extra = divmod(size, sections)
    pieces = split(input, [base + (1 if i < extra else 0) for i in range(sections)], d)
    return mark_refused(_unmarked(pieces), "tensor_split")


@tensor_method("unbind")
def unbind(input: Tensor, dim: int = 0) -> tuple:
    """The slices along ``dim``, each without that dim.

    >>> import chainrule as cr
    >>> cr.unbind(cr.tensor([[1, 2], [3, 4]]))
    (tensor([1, 2]), tensor([3, 4]))
    """
    d = _dim_of(input, dim, "unbind")
    return mark_refused([select(input, d, i) for i in range(input._data.shape[d])], "unbind")


@tensor_method("select")
def select(input: Tensor, dim: int, index: int) -> Tensor:
    """The slice at ``index`` of dim ``dim``, without that dim.

    >>> import chainrule as cr
    >>> cr.select(cr.tensor([[1, 2], [3, 4]]), 1, 0)
    tensor([1, 3])
    """
    d = _dim_of(input, dim, "select")
    size = input._data.shape[d]
    index = index_value(index, "select", "index")
    if not -size <= index < size:
        from ..errors import IndexingError
        raise op_error(IndexingError, "select", f"index {index} is out of range for dim {dim} of "
                       f"size {size}")
    index = index % size
    return squeeze(narrow(input, d, index, 1), d)
