"""Shape ops: reshape, transpose, broadcast, join and split, flip, roll, pad.

Views (reshape, transpose, expand …) share the input's version counter, so an
in-place change through either is seen by backward's saved-tensor check.
"""
from __future__ import annotations

import builtins
import math
import numbers

from .._args import index_value, size_args, tensor_value
from ..errors import DTypeError, IndexingError, ShapeError, op_error
from ..tensor import Tensor
from ._operands import as_tensor_arg, tensor_method, wrap_dim
from ..autograd.engine import IndexedGrad
from .registry import MAY_COPY, defgrad, defop
from .view_meta import mark_refused

# ----------------------------------------------------------------- helpers --


def _size_args(args, op: str, name: str = "size") -> tuple:
    """Ints or one tuple of ints, where ops give negatives a meaning (-1) or check them."""
    return size_args(args, op, nonnegative=False, name=name)


def _dim_of(input: Tensor, dim, op: str) -> int:
    """``dim`` wrapped, for ops that take a slice of an existing dim (a 0-d tensor has none)."""
    if input.ndim == 0:
        raise op_error(IndexingError, op, f"expects a tensor with at least one dimension, got a "
                       f"0-d tensor (dim {dim!r})")
    return wrap_dim(dim, input.ndim, op)


def _infer_shape(shape: tuple, numel: int, op: str, from_shape: tuple) -> tuple:
    if shape.count(-1) > 1:
        raise op_error(ShapeError, op, f"only one dimension can be -1, got {shape}")
    known = 1
    for s in shape:
        if s != -1:
            if s < 0:
                raise op_error(ShapeError, op, f"invalid size {s} in {shape}")
            known *= s
    if -1 in shape:
        if known == 0 or numel % known:
            raise op_error(ShapeError, op, f"shape {shape} is invalid for input of shape "
                           f"{from_shape} ({numel} elements)")
        shape = tuple(numel // known if s == -1 else s for s in shape)
    elif known != numel:
        raise op_error(ShapeError, op, f"shape {shape} is invalid for input of shape {from_shape} "
                       f"({numel} elements; the new shape holds {known})")
    return shape


# ----------------------------------------------------------------- reshape --
# Rules that need the input's shape get it as a parameter (``in_shape``).
reshape_op = defop("reshape", lambda xp, x, shape, in_shape: x.reshape(shape), saves=(), view=MAY_COPY)
defgrad(reshape_op, lambda m, g, ans, x, shape, in_shape: m.reshape(g, in_shape))


def _reshape(x: Tensor, shape: tuple, op: str) -> Tensor:
    shape = _infer_shape(shape, x._data.size, op, tuple(x._data.shape))
    if shape == x._data.shape:
        return x
    return reshape_op(x, shape=shape, in_shape=x._data.shape)


@tensor_method("reshape")
def reshape(input: Tensor, *shape) -> Tensor:
    """The same elements in a new shape (one size may be -1)."""
    return _reshape(input, _size_args(shape, "reshape"), "reshape")


@tensor_method("view")
def view(self: Tensor, *shape) -> Tensor:
    """As :func:`reshape`; also ``view(dtype)`` is not supported (no bit casts)."""
    if len(shape) == 1 and not isinstance(shape[0], (tuple, list, numbers.Integral)):
        raise op_error(DTypeError, "view", "view(dtype) reinterprets bits and is not supported; "
                       "use .to(dtype)")
    target = _infer_shape(_size_args(shape, "view"), self._data.size, "view", tuple(self._data.shape))
    if not _viewable(self._data, target):
        # a view must share memory (writes reach the base); reshape may copy
        raise op_error(ShapeError, "view", f"shape {target} is not compatible with the input's "
                       f"shape {tuple(self.shape)} and strides (it is not contiguous in the "
                       "dims being merged); use .reshape(...) instead")
    return _reshape(self, target, "view")


def _viewable(array, shape: tuple) -> bool:
    """Whether ``array`` can take ``shape`` without copying."""
    from ..backends import backend_of
    try:
        backend_of(array).reshape(array, shape, copy=False)
    except ValueError:
        return False
    except TypeError:  # an array library without reshape(copy=)
        return array.flags.c_contiguous
    return True


@tensor_method("view_as")
def view_as(self: Tensor, other: Tensor) -> Tensor:
    return _reshape(self, tuple(tensor_value(other, "view_as", "other").shape), "view_as")


@tensor_method("reshape_as")
def reshape_as(self: Tensor, other: Tensor) -> Tensor:
    return _reshape(self, tuple(tensor_value(other, "reshape_as", "other").shape), "reshape_as")


@tensor_method("flatten")
def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims ``start_dim..end_dim`` into one."""
    nd = input.ndim
    if nd == 0:
        return _reshape(input, (1,), "flatten")
    s, e = wrap_dim(start_dim, nd, "flatten"), wrap_dim(end_dim, nd, "flatten")
    if s > e:
        raise op_error(ShapeError, "flatten", f"start_dim {start_dim} comes after end_dim {end_dim}")
    shape = input._data.shape
    return _reshape(input, shape[:s] + (math.prod(shape[s:e + 1]),) + shape[e + 1:], "flatten")


@tensor_method("unflatten")
def unflatten(input: Tensor, dim: int, sizes) -> Tensor:
    """Split dim ``dim`` into ``sizes`` (one may be -1)."""
    d = wrap_dim(dim, input.ndim, "unflatten")
    shape = input._data.shape
    sizes = _infer_shape(_size_args((sizes,), "unflatten", "sizes"), shape[d], "unflatten", (shape[d],))
    return _reshape(input, shape[:d] + sizes + shape[d + 1:], "unflatten")


@tensor_method("ravel")
def ravel(input: Tensor) -> Tensor:
    return _reshape(input, (-1,), "ravel")


@tensor_method("squeeze")
def squeeze(input: Tensor, dim=None) -> Tensor:
    """Remove size-1 dims (all, or those in ``dim``; others are left as they are)."""
    shape = input._data.shape
    if dim is None:
        new = tuple(s for s in shape if s != 1)
    else:
        dims = dim if isinstance(dim, (tuple, list)) else (dim,)
        drop = {wrap_dim(d, input.ndim, "squeeze") for d in dims}
        new = tuple(s for i, s in enumerate(shape) if not (i in drop and s == 1))
    return _reshape(input, new, "squeeze")


@tensor_method("unsqueeze")
def unsqueeze(input: Tensor, dim: int) -> Tensor:
    """Insert a size-1 dim at ``dim``."""
    d = wrap_dim(dim, input.ndim + 1, "unsqueeze")
    shape = input._data.shape
    return _reshape(input, shape[:d] + (1,) + shape[d:], "unsqueeze")


# ----------------------------------------------------------- permutations --
permute_op = defop("permute", lambda xp, x, dims: xp.transpose(x, dims), saves=(), view=True)
defgrad(permute_op, lambda m, g, ans, x, dims: permute_op.on(m, g, dims=_inverse(dims)))


def _inverse(dims):
    inv = [0] * len(dims)
    for i, d in enumerate(dims):
        inv[d] = i
    return tuple(inv)


@tensor_method("permute")
def permute(input: Tensor, *dims) -> Tensor:
    """Reorder the dims: ``x.permute(2, 0, 1)``."""
    dims = _size_args(dims, "permute")
    if len(dims) != input.ndim:
        raise op_error(ShapeError, "permute", f"got {len(dims)} dims {dims} for a tensor with "
                       f"{input.ndim} dimensions")
    dims = tuple(wrap_dim(d, input.ndim, "permute") for d in dims)
    if sorted(dims) != list(range(input.ndim)):
        raise op_error(ShapeError, "permute", f"dims {dims} must be a permutation of 0..{input.ndim - 1}")
    if dims == tuple(range(input.ndim)):
        return input
    return permute_op(input, dims=dims)


@tensor_method("transpose", "swapaxes", "swapdims")
def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap two dims."""
    nd = input.ndim
    if nd == 0:
        return input
    a, b = wrap_dim(dim0, nd, "transpose"), wrap_dim(dim1, nd, "transpose")
    dims = list(range(nd))
    dims[a], dims[b] = dims[b], dims[a]
    return permute(input, *dims)


swapaxes = swapdims = transpose


@tensor_method("t")
def t(input: Tensor) -> Tensor:
    """Transpose of a ≤2-D tensor."""
    if input.ndim > 2:
        raise op_error(ShapeError, "t", f"expects a tensor with <= 2 dimensions, got {input.ndim}; "
                       "use transpose(dim0, dim1) or .mT")
    return transpose(input, 0, -1) if input.ndim == 2 else input


Tensor.T = property(lambda self: permute(self, *reversed(range(self.ndim))) if self.ndim > 1
                    else self, doc="All dims reversed.")
Tensor.mT = property(lambda self: _mT(self), doc="The last two dims swapped (batched transpose).")


def _mT(x: Tensor) -> Tensor:
    if x.ndim < 2:
        raise op_error(ShapeError, "mT", f"expects a tensor with >= 2 dimensions, got {x.ndim}")
    return transpose(x, -2, -1)


@tensor_method("movedim", "moveaxis")
def movedim(input: Tensor, source, destination) -> Tensor:
    src = source if isinstance(source, (tuple, list)) else (source,)
    dst = destination if isinstance(destination, (tuple, list)) else (destination,)
    nd = input.ndim
    src = [wrap_dim(s, nd, "movedim") for s in src]
    dst = [wrap_dim(d, nd, "movedim") for d in dst]
    if len(src) != len(dst) or len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise op_error(ShapeError, "movedim", f"source {source} and destination {destination} must "
                       "name as many dims, each once")
    order = [i for i in range(nd) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return permute(input, *order)


moveaxis = movedim

# ------------------------------------------------------------- broadcasting --
broadcast_to_op = defop("broadcast_to", lambda xp, x, shape: xp.broadcast_to(x, shape),
                        saves=(), view=True)
defgrad(broadcast_to_op, lambda m, g, ans, x, shape: g)  # the engine sums g down to x's shape


def _sum_to_fwd(xp, x, shape):
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, s in enumerate(shape)
                                      if s == 1 and x.shape[i + lead] != 1)
    out = x.sum(axis=axes, keepdims=True) if axes else x
    return out.reshape(shape) if lead or axes else x


sum_to_op = defop("sum_to_size", lambda xp, x, shape, in_shape: _sum_to_fwd(xp, x, shape), saves=())
defgrad(sum_to_op, lambda m, g, ans, x, shape, in_shape: m.broadcast_to(g, in_shape))


def sum_to_size(input: Tensor, *size) -> Tensor:
    """Sum ``input`` down to a shape it was broadcast from (undoes broadcasting)."""
    shape = _size_args(size, "sum_to_size")
    src = tuple(input._data.shape)
    if src == shape:
        return input
    if len(shape) > len(src) or any(t != s and t != 1 for s, t in zip(reversed(src), reversed(shape))):
        raise op_error(ShapeError, "sum_to_size", f"cannot sum shape {src} to {shape}: {shape} must "
                       f"broadcast to {src} (from the right, each size equal or 1)")
    return sum_to_op(input, shape=shape, in_shape=tuple(input._data.shape))


Tensor.sum_to_size = sum_to_size


def _broadcast_shape(shapes, op: str) -> tuple:
    nd = max(len(s) for s in shapes)
    out = []
    for i in range(nd):
        size = 1
        for s in shapes:
            k = i - (nd - len(s))
            if k < 0:
                continue
            if s[k] != 1:
                if size != 1 and s[k] != size:
                    raise op_error(ShapeError, op, "cannot broadcast shapes " +
                                   ", ".join(str(tuple(s)) for s in shapes) +
                                   ": from the right, sizes must be equal or 1")
                size = s[k]
        out.append(size)
    return tuple(out)


def broadcast_shapes(*shapes) -> tuple:
    """The shape that ``shapes`` broadcast to."""
    from ..tensor import Size
    return Size(_broadcast_shape([tuple(s) for s in shapes], "broadcast_shapes"))


@tensor_method("broadcast_to")
def broadcast_to(input: Tensor, *shape) -> Tensor:
    """A view of ``input`` broadcast to ``shape``."""
    return _broadcast_to(input, _size_args(shape, "broadcast_to"), "broadcast_to")


def _broadcast_to(input: Tensor, shape: tuple, op: str) -> Tensor:
    src = tuple(input._data.shape)
    if len(shape) < len(src) or builtins.any(s < 0 for s in shape) or builtins.any(
            s != t and s != 1 for s, t in zip(reversed(src), reversed(shape))):
        raise op_error(ShapeError, op, f"cannot broadcast shape {src} to {shape}: "
                       "from the right, each input size must equal the target or be 1")
    if shape == src:
        return input
    return broadcast_to_op(input, shape=shape)


@tensor_method("expand")
def expand(self: Tensor, *sizes) -> Tensor:
    """Broadcast to ``sizes``; -1 keeps a dim's size."""
    sizes = _size_args(sizes, "expand")
    src = tuple(self._data.shape)
    lead = len(sizes) - len(src)
    if lead < 0:
        raise op_error(ShapeError, "expand", f"the number of sizes ({len(sizes)}) must be at least "
                       f"the number of dims ({len(src)})")
    shape = tuple(src[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(sizes))
    if -1 in shape[:lead]:
        raise op_error(ShapeError, "expand", "-1 is not allowed in a new leading dimension")
    return _broadcast_to(self, shape, "expand")


@tensor_method("expand_as")
def expand_as(self: Tensor, other: Tensor) -> Tensor:
    return _broadcast_to(self, tuple(tensor_value(other, "expand_as", "other").shape), "expand_as")


def broadcast_tensors(*tensors) -> tuple:
    """The tensors broadcast to one shape."""
    shape = _broadcast_shape([tuple(t.shape) for t in tensors], "broadcast_tensors")
    return tuple(broadcast_to(t, shape) for t in tensors)


# ------------------------------------------------------------ join & split --
# cat takes any number of inputs: its rule table grows to the widest call seen
cat_op = defop("cat", lambda xp, *xs, dim, sizes: xp.concatenate(xs, axis=dim), saves=())


def _cat_rule(i):
    def rule(m, g, ans, *xs, dim, sizes):
        start = builtins.sum(sizes[:i])
        return g[_dim_slice(dim, start, start + sizes[i])]
    return rule


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
    """Join tensors along an existing dim."""
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
    op = _cat_op_for(len(tensors))
    return op(*tensors, dim=d, sizes=sizes)


def _cat_op_for(n: int):
    if len(cat_op.vjps) < n:
        width = max(n, 2 * len(cat_op.vjps))
        defgrad(cat_op, *[_cat_rule(i) for i in range(width)])
    return cat_op


concat = concatenate = cat


def stack(tensors, dim: int = 0) -> Tensor:
    """Join tensors along a new dim."""
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
    if not isinstance(tensors, (list, tuple)) or not tensors:
        raise op_error(ShapeError, "hstack", "expected a non-empty list of tensors")
    return cat(tensors, 0 if tensors[0].ndim == 1 else 1)


def vstack(tensors) -> Tensor:
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
    """``length`` elements of dim ``dim`` from ``start`` (a view)."""
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
    """Pieces of ``split_size`` along ``dim`` (the last may be smaller), or of the given sizes."""
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
    """At most ``chunks`` pieces of equal size (the last may be smaller)."""
    if index_value(chunks, "chunk", "chunks") <= 0:
        raise op_error(ShapeError, "chunk", f"chunks must be positive, got {chunks}")
    d = _dim_of(input, dim, "chunk")
    size = input._data.shape[d]
    return mark_refused(_unmarked(split(input, max(1, -(-size // chunks)), d)), "chunk")


@tensor_method("tensor_split")
def tensor_split(input: Tensor, sections: int, dim: int = 0) -> tuple:
    d = _dim_of(input, dim, "tensor_split")
    size = input._data.shape[d]
    if index_value(sections, "tensor_split", "sections") <= 0:
        raise op_error(ShapeError, "tensor_split", f"sections must be positive, got {sections}")
    base, extra = divmod(size, sections)
    pieces = split(input, [base + (1 if i < extra else 0) for i in range(sections)], d)
    return mark_refused(_unmarked(pieces), "tensor_split")


@tensor_method("unbind")
def unbind(input: Tensor, dim: int = 0) -> tuple:
    """The slices along ``dim``, each without that dim."""
    d = _dim_of(input, dim, "unbind")
    return mark_refused([select(input, d, i) for i in range(input._data.shape[d])], "unbind")


@tensor_method("select")
def select(input: Tensor, dim: int, index: int) -> Tensor:
    """The slice at ``index`` of dim ``dim``, without that dim."""
    d = _dim_of(input, dim, "select")
    size = input._data.shape[d]
    index = index_value(index, "select", "index")
    if not -size <= index < size:
        from ..errors import IndexingError
        raise op_error(IndexingError, "select", f"index {index} is out of range for dim {dim} of "
                       f"size {size}")
    index = index % size
    return squeeze(narrow(input, d, index, 1), d)


# ------------------------------------------------------------ repeat & flip --
@tensor_method("repeat")
def repeat(input: Tensor, *sizes) -> Tensor:
    """Tile ``input``: ``sizes`` gives the repeats per dim (at least ``ndim`` of them)."""
    sizes = size_args(sizes, "repeat", name="repeats")
    if len(sizes) < input.ndim:
        raise op_error(ShapeError, "repeat", f"number of repeats ({len(sizes)}) must be at least the "
                       f"number of dims ({input.ndim})")
    x = reshape(input, (1,) * (len(sizes) - input.ndim) + tuple(input.shape))
    # expand an inserted axis before each dim, then merge: gradients sum over the copies
    inter = []
    target = []
    for r, s in zip(sizes, x.shape):
        inter += [1, s]
        target += [r, s]
    y = broadcast_to(reshape(x, tuple(inter)), tuple(target))
    y = reshape(y, tuple(r * s for r, s in zip(sizes, x.shape)))
    if not getattr(y._data, "flags", None) or not y._data.flags.owndata:
        # still a view (all repeats 1, or a merge of the broadcast axis that NumPy can express
        # with a 0 stride: repeat(4, 1, 1, 1) of a (1, C, H, W) tensor): repeat returns new,
        # writable memory, as PyTorch
        from .conversion import clone
        y = clone(y)
    return y


@tensor_method("tile")
def tile(input: Tensor, dims) -> Tensor:
    """As :func:`repeat`, padding ``dims`` with leading 1s when short."""
    dims = _size_args((dims,) if isinstance(dims, (tuple, list)) else (dims,), "tile", "dims")
    if len(dims) < input.ndim:
        dims = (1,) * (input.ndim - len(dims)) + dims
    return repeat(input, *dims)


@tensor_method("repeat_interleave")
def repeat_interleave(input: Tensor, repeats: int, dim: int | None = None) -> Tensor:
    """Repeat each element ``repeats`` times along ``dim`` (flattened when None)."""
    if dim is None:
        input, dim = flatten(input), 0
    d = wrap_dim(dim, input.ndim, "repeat_interleave")
    if index_value(repeats, "repeat_interleave", "repeats") < 0:
        raise op_error(ShapeError, "repeat_interleave", f"repeats must be non-negative, got {repeats}")
    shape = tuple(input.shape)
    x = unsqueeze(input, d + 1)
    x = broadcast_to(x, shape[:d + 1] + (int(repeats),) + shape[d + 1:])
    return reshape(x, shape[:d] + (shape[d] * int(repeats),) + shape[d + 1:])


# xp.flip is a view; PyTorch's flip copies, so a later in-place change of either is independent
flip_op = defop("flip", lambda xp, x, dims: xp.flip(x, dims).copy(), saves=())
defgrad(flip_op, lambda m, g, ans, x, dims: flip_op.on(m, g, dims=dims))


@tensor_method("flip")
def flip(input: Tensor, dims) -> Tensor:
    """Reverse the order along ``dims``."""
    dims = dims if isinstance(dims, (tuple, list)) else (dims,)
    dims = tuple(wrap_dim(d, input.ndim, "flip") for d in dims)
    if len(set(dims)) != len(dims):
        raise op_error(ShapeError, "flip", f"dims {dims} name a dimension more than once")
    if input.ndim == 0:  # nothing to reverse; still a new tensor, as PyTorch
        from .conversion import clone
        return clone(input)
    return flip_op(input, dims=dims) if dims else input


def fliplr(input: Tensor) -> Tensor:
    return flip(input, (1,))


def flipud(input: Tensor) -> Tensor:
    return flip(input, (0,))


roll_op = defop("roll", lambda xp, x, shifts, dims: xp.roll(x, shifts, dims), saves=())
defgrad(roll_op, lambda m, g, ans, x, shifts, dims: roll_op.on(
    m, g, shifts=tuple(-s for s in shifts) if isinstance(shifts, tuple) else -shifts, dims=dims))


@tensor_method("roll")
def roll(input: Tensor, shifts, dims=None) -> Tensor:
    """Shift elements cyclically along ``dims`` (flattened when None)."""
    if dims is None:
        shifts = index_value(shifts, "roll", "shifts")
        return reshape(roll_op(flatten(input), shifts=shifts, dims=0), tuple(input.shape))
    if isinstance(dims, (tuple, list)):
        shifts = _size_args((shifts,), "roll", "shifts")
        dims = tuple(wrap_dim(d, input.ndim, "roll") for d in dims)
        if len(shifts) != len(dims):
            raise op_error(ShapeError, "roll", f"got {len(shifts)} shifts for {len(dims)} dims")
    else:
        shifts, dims = index_value(shifts, "roll", "shifts"), wrap_dim(dims, input.ndim, "roll")
    return roll_op(input, shifts=shifts, dims=dims)


# ---------------------------------------------------------------------- pad --
pad_op = defop("pad", lambda xp, x, widths, value: xp.pad(x, widths, constant_values=value), saves=())
defgrad(pad_op, lambda m, g, ans, x, widths, value: _unpad(g, widths))


def _unpad(g, widths):
    """``g`` (a Tensor or an array) without the ``widths`` padding: pad's rule."""
    index = tuple(slice(b, g.shape[i] - a) for i, (b, a) in enumerate(widths))
    return g[index]


def pad(input: Tensor, pad, mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad the last dims: ``pad=(left, right, top, bottom, …)`` as ``torch.nn.functional.pad``.

    Negative pads crop. Modes: 'constant' (here), others in ``nn.functional``.
    """
    if mode != "constant":
        from ..nn import functional as F
        return F.pad(input, pad, mode=mode, value=value)
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise op_error(ShapeError, "pad", f"pad must have an even length of at most 2*ndim "
                       f"({2 * input.ndim}), got {len(pad)}")
    widths = [(0, 0)] * input.ndim
    for i in range(len(pad) // 2):
        widths[input.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    x = input
    if any(b < 0 or a < 0 for b, a in widths):  # crop first
        index = tuple(slice(-b if b < 0 else 0, s + a if a < 0 else s)
                      for (b, a), s in zip(widths, input.shape))
        x = x[index]
        widths = [(max(b, 0), max(a, 0)) for b, a in widths]
    if all(b == 0 and a == 0 for b, a in widths):  # input or a crop of it: new memory, as PyTorch
        from .conversion import clone
        return clone(x)
    return pad_op(x, widths=tuple(widths), value=0 if value is None else value)


# ------------------------------------------------------- diagonal & unfold --
def _writable_view(view, source):
    """NumPy hands out diagonals read-only; a write through one must reach ``source`` as
    PyTorch's does, so the flag follows the source's."""
    if hasattr(view, "setflags") and not view.flags.writeable and source.flags.writeable:
        view.setflags(write=True)
    return view


def _diagonal_fwd(xp, x, offset, dim1, dim2, in_shape=None):
    return _writable_view(xp.diagonal(x, offset, dim1, dim2), x)


def _diag_embed_fwd(xp, g, in_shape, offset, dim1, dim2):
    out = xp.zeros(in_shape, dtype=g.dtype)
    _diagonal_fwd(xp, out, offset, dim1, dim2)[...] = g
    return out


diagonal_op = defop("diagonal", _diagonal_fwd, saves=(), view=True)
diag_embed_op = defop("diagonal_backward", _diag_embed_fwd, saves=())
defgrad(diagonal_op, lambda m, g, ans, x, offset, dim1, dim2, in_shape:
        diag_embed_op.on(m, g, in_shape=in_shape, offset=offset, dim1=dim1, dim2=dim2))
defgrad(diag_embed_op, lambda m, g, ans, x, in_shape, offset, dim1, dim2:
        diagonal_op.on(m, g, offset=offset, dim1=dim1, dim2=dim2, in_shape=in_shape))


@tensor_method("diagonal")
def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """The diagonal of dims ``dim1`` and ``dim2`` (shifted by ``offset``) as a last dim; a view.

    >>> import chainrule as cr
    >>> cr.arange(9.0).reshape(3, 3).diagonal(1)
    tensor([1., 5.])
    """
    if input.ndim < 2:
        raise op_error(ShapeError, "diagonal", f"expects a tensor with at least 2 dimensions, got "
                       f"{input.ndim}")
    d1, d2 = wrap_dim(dim1, input.ndim, "diagonal"), wrap_dim(dim2, input.ndim, "diagonal")
    if d1 == d2:
        raise op_error(ShapeError, "diagonal", f"dim1 and dim2 cannot be the same dimension ({dim1})")
    return diagonal_op(input, offset=int(offset), dim1=d1, dim2=d2, in_shape=tuple(input.shape))


def _unfold_fwd(xp, x, dim, size, step, in_shape=None):
    count = (x.shape[dim] - size) // step + 1
    shape = x.shape[:dim] + (count,) + x.shape[dim + 1:] + (size,)
    strides = x.strides[:dim] + (x.strides[dim] * step,) + x.strides[dim + 1:] + (x.strides[dim],)
    # windows that overlap share memory: writing through them is refused (read-only)
    return xp.as_strided(x, shape, strides, writeable=xp.writeable(x) and step >= size)


def _unfold_backward_fwd(xp, g, in_shape, dim, size, step):
    out = xp.zeros(in_shape, dtype=g.dtype)
    count = g.shape[dim]
    for k in range(size):  # window element k of every window: one strided add
        index = (slice(None),) * dim + (slice(k, k + step * (count - 1) + 1, step),)
        out[index] += g[..., k]
    return out


unfold_op = defop("unfold", _unfold_fwd, saves=(), view=True)
unfold_backward_op = defop("unfold_backward", _unfold_backward_fwd, saves=())
defgrad(unfold_op, lambda m, g, ans, x, dim, size, step, in_shape:
        unfold_backward_op.on(m, g, in_shape=in_shape, dim=dim, size=size, step=step))
defgrad(unfold_backward_op, lambda m, g, ans, x, in_shape, dim, size, step:
        unfold_op.on(m, g, dim=dim, size=size, step=step, in_shape=in_shape))


@tensor_method("unfold")
def unfold(input: Tensor, dimension: int, size: int, step: int) -> Tensor:
    """Windows of ``size`` elements along ``dimension``, every ``step``, as a new last dim; a view.

    >>> import chainrule as cr
    >>> cr.arange(5.0).unfold(0, 2, 2)
    tensor([[0., 1.],
            [2., 3.]])
    """
    if input.ndim == 0:
        raise op_error(ShapeError, "unfold", "expects a tensor with at least 1 dimension")
    d = wrap_dim(dimension, input.ndim, "unfold")
    length = input._data.shape[d]
    if not 0 <= size <= length:
        raise op_error(ShapeError, "unfold", f"size {size} must be between 0 and the size of "
                       f"dimension {dimension} ({length})")
    if step <= 0:
        raise op_error(ShapeError, "unfold", f"step must be positive, got {step}")
    return unfold_op(input, dim=d, size=int(size), step=int(step), in_shape=tuple(input.shape))


# ---------------------------------------------------------- triangles & diag --
def _triangle_op(name: str, kernel: str):
    """tril/triu: the part of the last two dims on and below (above) diagonal ``k``."""
    op = defop(name, lambda xp, x, k: getattr(xp, kernel)(x, k), saves=())
    defgrad(op, lambda m, g, ans, x, k: op.on(m, g, k=k))
    return op


tril_op = _triangle_op("tril", "tril")
triu_op = _triangle_op("triu", "triu")


def _triangle(op, input: Tensor, diagonal: int, name: str) -> Tensor:
    if input.ndim < 2:
        raise op_error(ShapeError, name, f"expects a tensor with at least 2 dimensions, got "
                       f"{input.ndim}")
    return op(input, k=index_value(diagonal, name, "diagonal"))


@tensor_method("tril")
def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    """The lower triangle of the last two dims (on and below ``diagonal``), zeros elsewhere.

    >>> import chainrule as cr
    >>> cr.tril(cr.ones(2, 3))
    tensor([[1., 0., 0.],
            [1., 1., 0.]])
    """
    return _triangle(tril_op, input, diagonal, "tril")


@tensor_method("triu")
def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    """The upper triangle of the last two dims (on and above ``diagonal``), zeros elsewhere."""
    return _triangle(triu_op, input, diagonal, "triu")


@tensor_method("diag")
def diag(input: Tensor, diagonal: int = 0) -> Tensor:
    """A 1-D input as the ``diagonal``-th diagonal of a square matrix; a 2-D input's diagonal (a copy).

    >>> import chainrule as cr
    >>> cr.diag(cr.tensor([1.0, 2.0]))
    tensor([[1., 0.],
            [0., 2.]])
    """
    k = index_value(diagonal, "diag", "diagonal")
    if input.ndim == 1:
        n = input._data.shape[0] + abs(k)
        return diag_embed_op(input, in_shape=(n, n), offset=k, dim1=0, dim2=1)
    if input.ndim == 2:  # (``diagonal`` is the argument here, not the function)
        return diagonal_op(input, offset=k, dim1=0, dim2=1, in_shape=tuple(input.shape)).clone()
    raise op_error(ShapeError, "diag", f"expects a 1-D or 2-D tensor, got {input.ndim} dimensions")
