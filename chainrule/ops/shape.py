"""Shape ops: reshape, transpose, broadcast, repeat, flip, roll, pad.

Views (reshape, transpose, expand …) share the input's version counter, so an
in-place change through either is seen by backward's saved-tensor check.

Join and split (``join.py``) and diagonal/unfold/triangle ops (``diagonals.py``) live in
their own files, above this one.
"""
from __future__ import annotations

import builtins
import math
import numbers

from .._args import index_value, size_args, tensor_value
from ..errors import DTypeError, IndexingError, ShapeError, op_error
from ..tensor import Tensor
from ._operands import tensor_method, wrap_dim
from .registry import MAY_COPY, defgrad, defop

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

    Negative pads crop. Only 'constant' here: ``nn.functional.pad`` (above the ops, which
    calls this) has the other modes.
    """
    if mode != "constant":
        raise op_error(ValueError, "pad", f"this is the constant pad; mode={mode!r} is "
                       "chainrule.nn.functional.pad's")
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
