"""Indexing: ``x[...]``, gather/scatter, index_select, masked_fill, take_along_dim, nonzero.

Gradients of reads are scatter-adds into zeros, so repeated indices accumulate.
Index arrays travel as op parameters (they are not differentiable).
"""
from __future__ import annotations

import numbers

from .._host_calls import out_of_range
from .._args import ArgumentError, number_value, tensor_value
from ..backends import NUMPY, backend_of, on_its_gpu
from ..errors import DeviceError, DTypeError, IndexingError, ShapeError, op_error
from ..tensor import Tensor
from ._operands import check_fill_value, constant, tensor_method, wrap_dim
from .elementwise import where_fn, where_op
from ..autograd.engine import IndexedGrad
from .registry import defgrad, defop, defvjp, nondifferentiable


# -------------------------------------------------------- index normalising --
class IndexTypeError(IndexingError, TypeError):
    """An index of a kind tensors cannot be indexed with: PyTorch raises IndexError for some
    (floats, dicts) and TypeError for others (strings)."""


def _normalize_index(index, xp) -> tuple[tuple, bool]:
    """The index as a tuple of ints/slices/None/Ellipsis/arrays, and whether it is advanced."""
    if not isinstance(index, tuple):
        index = (index,)
    out = []
    advanced = False
    for item in index:
        if isinstance(item, Tensor):
            arr = item._data
            if arr.dtype.kind in "fV":
                raise op_error(IndexingError, "getitem", "index tensors must be integer or bool, "
                               f"got dtype {item.dtype.name}")
            if arr.ndim == 0 and arr.dtype.kind in "iu":
                out.append(int(arr))
                continue
            if xp is not NUMPY and type(arr) is xp.ndarray and backend_of(arr) is not xp:
                raise op_error(DeviceError, "getitem", f"indices should be either on cpu or on "
                               f"the same device as the indexed tensor ({xp.device}); got an "
                               f"index on {backend_of(arr).device}")  # (PyTorch's words)
            out.append(arr)
            advanced = True
        elif isinstance(item, (list, tuple, range)) or (hasattr(item, "dtype") and hasattr(item, "shape")):
            arr = xp.asarray(item)
            if arr.size == 0:  # [] is an empty integer index, not a float array
                arr = arr.astype("int64")
            if arr.dtype.kind not in "biu":
                raise op_error(IndexTypeError, "getitem", "index lists must hold integers or bools, "
                               f"got {arr.dtype.kind == 'f' and 'floats' or type(item).__name__}")
            out.append(arr)
            advanced = True
        elif isinstance(item, slice):
            if item.step is not None and not (isinstance(item.step, numbers.Integral)
                                              and item.step > 0):
                raise op_error(ValueError, "getitem", f"slice step must be a positive int, got "
                               f"{item.step!r} (reverse with flip)")
            out.append(item)
        elif item is None or item is Ellipsis:
            out.append(item)
        elif isinstance(item, numbers.Integral) and not isinstance(item, bool):
            out.append(int(item))
        elif isinstance(item, bool):
            out.append(xp.asarray(item))
            advanced = True
        else:
            raise op_error(IndexTypeError, "getitem", f"unsupported index of type {type(item).__name__};"
                           " expected ints, slices, None, ..., or integer/bool tensors")
    return tuple(out), advanced


# ------------------------------------------------------------------ getitem --
# no ``explain``: the registry turns the array library's IndexError (which says which
# axis and size) into an IndexingError naming the op, the shape and the index
getitem_op = defop("getitem", lambda xp, x, index, in_shape: x[index], saves=(), view=True)
defgrad(getitem_op, lambda m, g, ans, x, index, in_shape:
        put_zeros_op.on(m, g, index=index, in_shape=tuple(in_shape), accumulate=False))

getitem_adv_op = defop("getitem_advanced", lambda xp, x, index, in_shape: x[index], saves=())
defgrad(getitem_adv_op, lambda m, g, ans, x, index, in_shape:
        put_zeros_op.on(m, g, index=index, in_shape=tuple(in_shape), accumulate=True))


def _put_zeros_fwd(xp, g, index, in_shape, accumulate):
    out = xp.zeros(in_shape, dtype=g.dtype)
    if accumulate:
        from ..backends import backend_of
        backend_of(g).scatter_add(out, index, g)
    else:
        out[index] = g
    return out


def _put_zeros_lazy(xp, g, index, in_shape, accumulate):
    """index_put_zeros as a backward op on arrays: ``g`` added into place by the engine
    (T reads of one tensor cost T read-sized writes, not T full-sized zero arrays)."""
    return IndexedGrad(index, g, in_shape, accumulate)


put_zeros_op = defop("index_put_zeros", _put_zeros_fwd, saves=(), lazy=_put_zeros_lazy)
defgrad(put_zeros_op, lambda m, g, ans, x, index, in_shape, accumulate:
        (getitem_adv_op if accumulate else getitem_op).on(m, g, index=index, in_shape=tuple(g.shape)))


def _read(x: Tensor, index, advanced: bool, in_shape) -> Tensor:
    op = getitem_adv_op if advanced else getitem_op
    return op(x, index=index, in_shape=tuple(x.shape))


def index_put_zeros(g: Tensor, index, in_shape, accumulate: bool) -> Tensor:
    """Zeros of ``in_shape`` with ``g`` added at ``index`` (the rule of every read)."""
    return put_zeros_op(g, index=index, in_shape=tuple(in_shape), accumulate=accumulate)


def split_ints(idx: tuple):
    """For an advanced index that also holds plain ints: (basic part, advanced rest).

    NumPy treats such ints as array indices (and may move the selected dims to the
    front); PyTorch selects with them first. Applying the basic part, then the rest,
    gives PyTorch's result. None when there is nothing to split.
    """
    if not any(type(i) is int for i in idx):
        return None
    basic, rest = [], []
    for item in idx:
        if type(item) is int:
            basic.append(item)
        elif item is None or isinstance(item, slice):
            basic.append(item)
            rest.append(slice(None))
        elif item is Ellipsis:
            basic.append(item)
            rest.append(item)
        else:  # an index array: a bool mask covers as many dims as it has
            basic.extend([slice(None)] * (item.ndim if item.dtype.kind == "b" else 1))
            rest.append(item)
    return tuple(basic), tuple(rest)


def read_index(x: Tensor, idx: tuple, advanced: bool) -> Tensor:
    """``x[idx]`` for a normalised index, with PyTorch's meaning of ints beside arrays."""
    if advanced:
        parts = split_ints(idx)
        if parts is not None:
            basic, rest = parts
            return _read(_read(x, basic, False, None), rest, True, None)
    elif all(type(i) is int for i in idx):
        idx = idx + (Ellipsis,)  # a 0-d view, not a copied scalar (writes reach x)
    return _read(x, idx, advanced, None)


def assign_index(array, idx: tuple, value) -> None:
    """``array[idx] = value`` in place, with the same meaning of ints as :func:`read_index`."""
    _check_value(value, "setitem")
    parts = split_ints(idx) if any(not isinstance(i, (int, slice)) and i is not None
                                   and i is not Ellipsis for i in idx) else None
    if parts is None:
        array[idx] = value
    else:
        basic, rest = parts
        array[basic][rest] = value  # array[basic] is a view: the write reaches array


def _check_value(value, op: str) -> None:
    """A value to write must be a number, a tensor or an array (NumPy would store None as NaN
    and try to parse strings)."""
    if value is None or isinstance(value, (str, bytes)):
        raise op_error(DTypeError, op, f"cannot assign {type(value).__name__} {value!r}; expected a "
                       "number or a tensor")


def getitem(self: Tensor, index) -> Tensor:
    """``x[index]`` with PyTorch's semantics; integer and bool tensors select elements."""
    from ..backends import backend_of
    xp = backend_of(self._data)
    idx, advanced = _normalize_index(index, xp)
    if self._data.ndim == 0 and any(type(i) is int for i in idx):
        # (0.3-era ``loss.data[0]``) PyTorch's own message, which names the fix
        raise op_error(IndexingError, "getitem", "invalid index of a 0-dim tensor. Use "
                       "`tensor.item()` in Python to convert a 0-dim tensor to a number")
    return read_index(self, idx, advanced)


Tensor.__getitem__ = getitem


# ----------------------------------------------------------- gather/scatter --
def _along(xp, index, dim):
    """A full index tuple that addresses ``index`` positions along ``dim``."""
    grids = list(xp.indices(index.shape, sparse=True))
    grids[dim] = index
    return tuple(grids)


def _gather_fwd(xp, x, index, dim):
    return x[_along(xp, index, dim)]


def _scatter_add_zeros_fwd(xp, g, index, dim, in_shape):
    from ..backends import backend_of
    out = xp.zeros(in_shape, dtype=g.dtype)
    backend_of(g).scatter_add(out, _along(xp, index, dim), g)
    return out


gather_op = defop("gather", lambda xp, x, index, dim, in_shape: _gather_fwd(xp, x, index, dim),
                  saves=())
scatter_add_zeros_op = defop("scatter_add_zeros", _scatter_add_zeros_fwd, saves=())
defgrad(gather_op, lambda m, g, ans, x, index, dim, in_shape:
        scatter_add_zeros_op.on(m, g, index=index, dim=dim, in_shape=in_shape))
defgrad(scatter_add_zeros_op, lambda m, g, ans, x, index, dim, in_shape:
        gather_op.on(m, g, index=index, dim=dim, in_shape=tuple(g.shape)))


def _index_array(index, op: str, input: Tensor | None = None):
    tensor_value(index, op, "index")  # PyTorch takes no lists here
    if index._data.dtype.kind not in "iu":
        raise op_error(DTypeError, op, f"index must be an integer tensor, got dtype {index.dtype.name}")
    if input is not None and type(index._data) is type(input._data) and \
            index.device != input.device:  # (two GPUs: the index is a parameter, not an input)
        raise op_error(DeviceError, op, f"expected all tensors on the same device, but found at "
                       f"least two devices, {input.device} and {index.device}: input on "
                       f"{input.device}, index on {index.device}")
    on_its_gpu(index._data)  # (its checks and the index arithmetic below run on its GPU)
    return index


def _check_index_shape(input: Tensor, index: Tensor, dim: int, op: str) -> None:
    if index.ndim != input.ndim:
        raise op_error(ShapeError, op, f"index must have as many dims as input ({input.ndim}), got "
                       f"index of shape {tuple(index.shape)} for input of shape {tuple(input.shape)}")
    for d in range(input.ndim):
        if d != dim and index.shape[d] > input.shape[d]:
            raise op_error(ShapeError, op, f"index of shape {tuple(index.shape)} is larger than input "
                           f"of shape {tuple(input.shape)} in dim {d}")
    size = input.shape[dim]
    arr = index._data
    if arr.size and out_of_range(arr, 0, size, IndexingError, f"{op}: an index is out of range "
                                 f"for dim {dim} of size {size}"):  # no negatives, as PyTorch
        raise op_error(IndexingError, op, f"index values must be in [0, {size}) for dim {dim} of "
                       f"size {size}, got values from {arr.min().item()} to {arr.max().item()}")


def _crop(x: Tensor, shape, dim) -> Tensor:
    """``x`` cut down to ``shape`` in every dim but ``dim``."""
    if all(a == b or d == dim for d, (a, b) in enumerate(zip(x.shape, shape))):
        return x
    return x[tuple(slice(0, s) if d != dim else slice(None) for d, s in enumerate(shape))]


@tensor_method("gather")
def gather(input: Tensor, dim: int, index: Tensor) -> Tensor:
    """``out[i][j] = input[index[i][j]][j]`` (for dim 0), as ``torch.gather``.

    >>> import chainrule as cr
    >>> cr.gather(cr.tensor([[1, 2], [3, 4]]), 1, cr.tensor([[0, 0], [1, 0]]))
    tensor([[1, 1],
            [4, 3]])
    """
    index = _index_array(index, "gather", input)
    d = wrap_dim(dim, input.ndim, "gather")
    if input.ndim <= 1 and index.ndim == 0:  # PyTorch reads 0-d operands as 1-element vectors
        return gather(input.reshape(-1), 0, index.reshape(1)).reshape(())
    _check_index_shape(input, index, d, "gather")
    x = _crop(input, index.shape, d)
    return gather_op(x, index=index._data % max(input.shape[d], 1), dim=d, in_shape=tuple(x.shape))


scatter_op = defop("scatter", lambda xp, x, src, index, dim: _scatter_fwd(xp, x, src, index, dim),
                   saves=())
defvjp(scatter_op, lambda g, ans, x, src, index, dim: _zero_at(g, index, dim),
       lambda g, ans, x, src, index, dim: gather_op(g, index=index, dim=dim, in_shape=tuple(g.shape)))


def _scatter_fwd(xp, x, src, index, dim):
    out = x.copy()
    out[_along(xp, index, dim)] = src[tuple(slice(0, s) for s in index.shape)]
    return out


def _zero_at(g: Tensor, index, dim) -> Tensor:
    from ..backends import backend_of
    xp = backend_of(g._data)
    mask = xp.ones(g._data.shape, dtype=bool)
    mask[_along(xp, index, dim)] = False
    return g * Tensor._make(mask)


scatter_add_op = defop("scatter_add", lambda xp, x, src, index, dim: _scatter_add_fwd(xp, x, src, index, dim),
                       saves=())
defvjp(scatter_add_op, lambda g, ans, x, src, index, dim: g,
       lambda g, ans, x, src, index, dim: gather_op(g, index=index, dim=dim, in_shape=tuple(g.shape)))


def _scatter_add_fwd(xp, x, src, index, dim):
    from ..backends import backend_of
    out = x.copy()
    backend_of(x).scatter_add(out, _along(xp, index, dim), src[tuple(slice(0, s) for s in index.shape)])
    return out


def _scatter_args(input, dim, index, src, op, value=None):
    index = _index_array(index, op, input)
    if index.ndim == 0 and input.ndim == 1:  # PyTorch reads a 0-d index (and src) as 1-element
        index = index.reshape(1)
        if isinstance(src, Tensor) and src.ndim == 0:
            src = src.reshape(1)
    d = wrap_dim(dim, input.ndim, op)
    _check_index_shape(input, index, d, op)
    if not isinstance(src, Tensor):
        if op == "scatter_add":
            tensor_value(src, op, "src")
        src = number_value(src, op, "src" if value is None else "value")
        from .shape import broadcast_to
        src = broadcast_to(constant(src, input, input._data.dtype), tuple(index.shape))
    if src.ndim != input.ndim or any(s < i for s, i in zip(src.shape, index.shape)):
        raise op_error(ShapeError, op, f"src of shape {tuple(src.shape)} must be at least as large as "
                       f"index of shape {tuple(index.shape)} in every dim")
    if src._data.dtype != input._data.dtype:
        src = src.to(input.dtype)
    idx = index._data % max(input.shape[d], 1)
    return idx, d, src


@tensor_method("scatter")
def scatter(input: Tensor, dim: int, index: Tensor, src=None, *, value=None, reduce=None) -> Tensor:
    """A copy of ``input`` with ``src`` (or ``value``) written at ``index`` along ``dim``.

    >>> import chainrule as cr
    >>> cr.scatter(cr.zeros(3), 0, cr.tensor([2, 0]), cr.tensor([5., 7.]))
    tensor([7., 0., 5.])
    """
    if reduce is not None:
        if reduce == "add":
            return scatter_add(input, dim, index, src if src is not None else value)
        raise op_error(ArgumentError, "scatter", f"reduce={reduce!r} is not supported; use "
                       "scatter_add")
    if (src is None) == (value is None):
        raise op_error(DTypeError, "scatter", "give exactly one of src and value")
    src = value if src is None else src
    idx, d, src = _scatter_args(input, dim, index, src, "scatter", value)
    # the src rule reads g at index, so src must be cropped to index's shape first
    src = _crop_all(src, idx.shape)
    return scatter_op(input, src, index=idx, dim=d)


def _crop_all(x: Tensor, shape) -> Tensor:
    if tuple(x.shape) == tuple(shape):
        return x
    return x[tuple(slice(0, s) for s in shape)]


@tensor_method("scatter_add")
def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """A copy of ``input`` with ``src`` added at ``index`` along ``dim`` (repeats accumulate).

    >>> import chainrule as cr
    >>> cr.scatter_add(cr.zeros(3), 0, cr.tensor([1, 1]), cr.tensor([5., 7.]))
    tensor([ 0., 12.,  0.])
    """
    idx, d, src = _scatter_args(input, dim, index, src, "scatter_add")
    src = _crop_all(src, idx.shape)
    return scatter_add_op(input, src, index=idx, dim=d)


def scatter_zeros(shape, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """Zeros of ``shape`` with ``src`` added at ``index`` along ``dim`` (rule helper)."""
    return scatter_add_zeros_op(src, index=index._data, dim=dim, in_shape=tuple(shape))


def select_in_range(input: Tensor, dim: int, index: Tensor) -> Tensor:
    """``index_select`` along ``dim`` (>= 0) with an index in range by construction (made or
    already checked by the caller): no check of its values, which would read device data on
    the host (a GPU sync) at every call."""
    return input[(slice(None),) * dim + (index,)]


def gather_in_range(input: Tensor, dim: int, index: Tensor) -> Tensor:
    """``gather`` along ``dim`` (>= 0) with an index in range by construction and of
    ``input``'s size in every other dim: no check of its values (a GPU sync)."""
    return gather_op(input, index=index._data, dim=dim, in_shape=tuple(input.shape))


@tensor_method("index_select")
def index_select(input: Tensor, dim: int, index: Tensor) -> Tensor:
    """The entries of ``input`` at ``index`` (1-D) along ``dim``.

    >>> import chainrule as cr
    >>> cr.index_select(cr.tensor([[1, 2], [3, 4], [5, 6]]), 0, cr.tensor([2, 0]))
    tensor([[5, 6],
            [1, 2]])
    """
    index = _index_array(index, "index_select", input)
    if index.ndim > 1:
        raise op_error(IndexingError, "index_select", f"index must be 1-D, got shape "
                       f"{tuple(index.shape)}")
    d = wrap_dim(dim, input.ndim, "index_select")
    size = input.shape[d] if input.ndim else 1
    arr = index._data.reshape(-1)
    if arr.size and out_of_range(arr, 0, size, IndexingError, "index_select: an index is out of "
                                 f"range for dim {dim} of size {size}"):  # no negatives, as PyTorch
        raise op_error(IndexingError, "index_select", f"index values must be in [0, {size}) for "
                       f"dim {dim} of size {size}, got values from {arr.min().item()} to {arr.max().item()}")
    return input[(slice(None),) * d + (Tensor._make(arr),)]


@tensor_method("masked_fill")
def masked_fill(input: Tensor, mask: Tensor, value) -> Tensor:
    """``value`` where ``mask`` is True, else ``input`` (mask broadcasts).

    >>> import chainrule as cr
    >>> cr.masked_fill(cr.zeros(3), cr.tensor([True, False, True]), 9.)
    tensor([9., 0., 9.])
    """
    if not isinstance(mask, Tensor) or mask._data.dtype.kind != "b":
        raise op_error(DTypeError, "masked_fill", f"mask must be a bool tensor, got "
                       f"{getattr(mask, 'dtype', type(mask).__name__)}")
    if isinstance(value, Tensor):
        if value.ndim:
            raise op_error(ShapeError, "masked_fill", "value must be a number or a 0-dim tensor")
        v = value.to(input.dtype)
    else:
        value = number_value(value, "masked_fill", "value")
        check_fill_value(value, input._data.dtype, "masked_fill")
        v = constant(value, input, input._data.dtype)
    _mask_fits(input, mask, "masked_fill")
    return where_op(mask, v, input)


def _mask_fits(input: Tensor, mask: Tensor, op: str) -> None:
    """``mask`` must broadcast to ``input``'s shape."""
    src, dst = tuple(mask.shape), tuple(input.shape)
    if len(src) > len(dst) or any(s != t and s != 1 for s, t in zip(reversed(src), reversed(dst))):
        raise op_error(ShapeError, op, f"mask of shape {src} does not broadcast to input of "
                       f"shape {dst}")


@tensor_method("masked_select")
def masked_select(input: Tensor, mask: Tensor) -> Tensor:
    """The elements where ``mask`` (broadcast) is True, as a 1-D tensor.

    >>> import chainrule as cr
    >>> cr.masked_select(cr.tensor([1, 2, 3]), cr.tensor([True, False, True]))
    tensor([1, 3])
    """
    from .shape import broadcast_tensors
    if not isinstance(mask, Tensor) or mask._data.dtype.kind != "b":
        raise op_error(DTypeError, "masked_select", f"mask must be a bool tensor, got "
                       f"{getattr(mask, 'dtype', type(mask).__name__)}")
    try:
        x, m = broadcast_tensors(input, mask)
    except ShapeError:
        raise op_error(ShapeError, "masked_select", f"mask of shape {tuple(mask.shape)} and input "
                       f"of shape {tuple(input.shape)} do not broadcast") from None
    return x[m]


@tensor_method("take_along_dim")
def take_along_dim(input: Tensor, indices: Tensor, dim: int | None = None) -> Tensor:
    """Values at ``indices`` along ``dim``; the other dims broadcast (as ``torch.take_along_dim``).

    >>> import chainrule as cr
    >>> x = cr.tensor([[3, 1], [2, 4]])
    >>> cr.take_along_dim(x, cr.argsort(x, dim=1), dim=1)
    tensor([[1, 3],
            [2, 4]])
    """
    indices = _index_array(indices, "take_along_dim", input)
    if dim is None:
        from .shape import flatten
        return gather(flatten(input), 0, flatten(indices))
    d = wrap_dim(dim, input.ndim, "take_along_dim")
    if indices.ndim != input.ndim:
        raise op_error(ShapeError, "take_along_dim", f"indices must have {input.ndim} dims, got "
                       f"{indices.ndim}")
    from .shape import broadcast_to
    shape_x = tuple(max(a, b) if i != d else a for i, (a, b) in enumerate(zip(input.shape, indices.shape)))
    shape_i = tuple(max(a, b) if i != d else b for i, (a, b) in enumerate(zip(input.shape, indices.shape)))
    try:
        x = broadcast_to(input, shape_x)
        idx = broadcast_to(indices, shape_i)
    except Exception:
        raise op_error(ShapeError, "take_along_dim", f"input of shape {tuple(input.shape)} and indices "
                       f"of shape {tuple(indices.shape)} do not broadcast outside dim {dim}") from None
    return gather(x, d, Tensor._make(idx._data))


@tensor_method("take")
def take(input: Tensor, index: Tensor) -> Tensor:
    """Elements of the flattened ``input`` at ``index``; the result has ``index``'s shape.

    >>> import chainrule as cr
    >>> cr.take(cr.tensor([[1, 2], [3, 4]]), cr.tensor([0, 3]))
    tensor([1, 4])
    """
    from .shape import flatten
    index = _index_array(index, "take", input)
    n, arr = input.numel(), index._data
    if arr.size and (arr.min().item() < -n or arr.max().item() >= n):
        raise op_error(IndexingError, "take", f"index values must be in [{-n}, {n}) for an input of "
                       f"{n} elements, got values from {arr.min().item()} to {arr.max().item()}")
    return flatten(input)[index]


nonzero_op = nondifferentiable(defop("nonzero", lambda xp, x: xp.stack(xp.nonzero(x), axis=-1).astype("int64")
                                     if x.ndim else xp.zeros((int(x.item() != 0), 0), dtype="int64")),
                               "indices are integers")


@tensor_method("nonzero")
def nonzero(input: Tensor, *, as_tuple: bool = False):
    """Indices of the nonzero elements: an (N, ndim) tensor, or one 1-D tensor per dim.

    >>> import chainrule as cr
    >>> cr.nonzero(cr.tensor([0, 5, 0, 7]))
    tensor([[1],
            [3]])
    """
    out = nonzero_op(input)
    if as_tuple:
        if input.ndim == 0:
            return (Tensor._make(out._data.reshape(-1)),)
        return tuple(Tensor._make(out._data[:, i].copy()) for i in range(input.ndim))
    return out


def where(condition, input=None, other=None) -> Tensor:
    """``input`` where ``condition`` holds, else ``other``; with the condition alone, the
    indices where it holds (``nonzero(as_tuple=True)``), as ``torch.where``.

    >>> import chainrule as cr
    >>> cr.where(cr.tensor([True, False]), cr.tensor([1, 2]), 0)
    tensor([1, 0])
    >>> cr.where(cr.tensor([False, True]))
    (tensor([1]),)
    """
    if input is None and other is None:
        return nonzero(condition, as_tuple=True)
    return where_fn(condition, input, other)


@tensor_method("where")
def _where_method(self: Tensor, condition, other) -> Tensor:
    """``x.where(condition, y)``: ``x`` where ``condition`` holds, else ``y`` (PyTorch's method
    takes the tensor as the values, not as the condition).

    >>> import chainrule as cr
    >>> cr.tensor([1.0, 2.0]).where(cr.tensor([True, False]), 5)
    tensor([1., 5.])
    """
    return where_fn(condition, self, other)


_where_method.__name__ = _where_method.__qualname__ = "where"  # (named so in errors)


def argwhere(input: Tensor) -> Tensor:
    """The indices of the nonzero elements, one row each (``torch.argwhere``).

    >>> import chainrule as cr
    >>> cr.argwhere(cr.tensor([[1, 0], [0, 3]]))
    tensor([[0, 0],
            [1, 1]])
    """
    return nonzero(input)


# --------------------------------------------------------------- index_put --
def _index_put_fwd(xp, x, value, index, accumulate):
    out = x.copy()
    parts = split_ints(index)
    if parts is not None:  # select with the ints first (PyTorch's meaning), then write
        basic = parts[0] if Ellipsis in parts[0] else parts[0] + (Ellipsis,)  # a view, never
        target, index = out[basic], parts[1]  # a copied scalar (x[1] = v on a 1-D x)
    else:
        target = out
    if accumulate:
        from ..backends import backend_of
        backend_of(x).scatter_add(target, index, xp.broadcast_to(value, target[index].shape))
    else:
        target[index] = value
    return out


index_put_op = defop("index_put", _index_put_fwd, saves=())
defvjp(index_put_op,
       lambda g, ans, x, value, index, accumulate: g if accumulate else _zero_index(g, index),
       lambda g, ans, x, value, index, accumulate: read_index(g, index, True))


def _zero_index(g: Tensor, index) -> Tensor:
    from ..backends import backend_of
    xp = backend_of(g._data)
    mask = xp.ones(g._data.shape, dtype=bool)
    assign_index(mask, index, False)
    return g * Tensor._make(mask)


def index_put(input: Tensor, indices, values, accumulate: bool = False) -> Tensor:
    """A copy of ``input`` with ``values`` written (or added) at ``indices``.

    >>> import chainrule as cr
    >>> cr.index_put(cr.zeros(3), (cr.tensor([0, 2]),), cr.tensor([5., 7.]))
    tensor([5., 0., 7.])
    """
    from ..backends import backend_of
    idx, _ = _normalize_index(indices, backend_of(input._data))
    if not isinstance(values, Tensor):
        _check_value(values, "index_put")
        values = constant(values, input, input._data.dtype)
    elif values._data.dtype != input._data.dtype:
        values = values.to(input.dtype)
    target_shape = tuple(read_index(Tensor._make(input._data), idx, True).shape)
    from .shape import broadcast_shapes
    try:
        broadcast_shapes(values.shape, target_shape)
    except Exception:
        raise op_error(ShapeError, "index_put", f"values of shape {tuple(values.shape)} cannot be "
                       f"broadcast to the indexed shape {tuple(target_shape)}") from None
    return index_put_op(input, values, index=idx, accumulate=bool(accumulate))


Tensor.index_put = index_put


def normalize_index(index, xp):
    """Public to the in-place module: the index in array form."""
    return _normalize_index(index, xp)
