"""Tensors assembled from others or from index patterns: diag_embed, block_diag,
cartesian_prod, combinations, vander, rot90, nan_to_num, tril_indices/triu_indices, and
repeat_interleave with a tensor of repeats.

Each differentiable one is a composition of ops that have rules (diag_embed reuses the
diagonal's own adjoint op; the others flip, transpose, pad, index_select, cumprod or
where), so gradients, and higher ones, follow from those.

>>> import chainrule as cr
>>> cr.diag_embed(cr.tensor([1.0, 2.0]))
tensor([[1., 0.],
        [0., 2.]])
>>> cr.combinations(cr.tensor([1, 2, 3]))
tensor([[1, 2],
        [1, 3],
        [2, 3]])
>>> cr.tril_indices(2, 2)
tensor([[0, 1, 1],
        [0, 0, 1]])
"""
from __future__ import annotations

import itertools

from .._args import index_value, tensor_value
from ..backends import backend_of, on_its_gpu
from ..errors import DTypeError, ShapeError, op_error
from ..tensor import Tensor
from ._operands import tensor_method, wrap_dim
from .shape import flip, repeat_interleave as _repeat_interleave_int, transpose
from .diagonals import diag_embed_op

__all__ = ["diag_embed", "block_diag", "cartesian_prod", "combinations", "vander", "rot90",
           "nan_to_num", "tril_indices", "triu_indices", "repeat_interleave"]


@tensor_method()
def diag_embed(input: Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """A tensor whose diagonals (of dims ``dim1``, ``dim2``, shifted by ``offset``) are the
    last dim of ``input``; zeros elsewhere. The adjoint of :func:`diagonal`."""
    tensor_value(input, "diag_embed")
    offset = index_value(offset, "diag_embed", "offset")
    nd = input.ndim + 1
    d1, d2 = wrap_dim(dim1, nd, "diag_embed"), wrap_dim(dim2, nd, "diag_embed")
    if d1 == d2:
        raise op_error(ShapeError, "diag_embed", f"diagonal dimensions cannot be identical "
                       f"({dim1}, {dim2})")
    if input.ndim == 0:
        input = input.reshape(1)
    n = input.shape[-1] + abs(offset)
    rest = list(input.shape[:-1])
    shape = []
    for d in range(nd):
        shape.append(n if d in (d1, d2) else rest.pop(0))
    return diag_embed_op(input, in_shape=tuple(shape), offset=offset, dim1=d1, dim2=d2)


def _promoted(tensors: list, op: str) -> list:
    from ..dtypes import from_numpy_dtype, result_type
    if len({t._data.dtype for t in tensors}) > 1:
        target = result_type([from_numpy_dtype(t._data.dtype) for t in tensors], [], [])
        return [t.to(target) for t in tensors]
    return tensors


def block_diag(*tensors: Tensor) -> Tensor:
    """The tensors (0-, 1- or 2-D) as blocks on the diagonal of one matrix."""
    from ..creation import zeros
    from .shape import pad
    from .join import cat
    blocks = []
    for k, t in enumerate(tensors):
        tensor_value(t, "block_diag", f"tensor {k}")
        if t.ndim > 2:
            raise op_error(ShapeError, "block_diag", f"input tensors must have 2 or fewer dims, "
                           f"tensor {k} has {t.ndim}")
        blocks.append(t.reshape(1, 1) if t.ndim == 0 else t.reshape(1, -1) if t.ndim == 1 else t)
    if not blocks:
        return zeros(1, 0)
    blocks = _promoted(blocks, "block_diag")
    width = sum(b.shape[1] for b in blocks)
    rows, left = [], 0
    for b in blocks:
        rows.append(pad(b, (left, width - left - b.shape[1])))
        left += b.shape[1]
    return cat(rows, 0)


def _vectors(tensors, op: str) -> list:
    for k, t in enumerate(tensors):
        tensor_value(t, op, f"tensor {k}")
        if t.ndim != 1:
            raise op_error(ShapeError, op, f"expects 1-D tensors, tensor {k} has shape "
                           f"{tuple(t.shape)}")
    return list(tensors)


def cartesian_prod(*tensors: Tensor) -> Tensor:
    """Every combination of one element from each 1-D tensor, as rows (itertools.product)."""
    from .join import stack
    tensors = _vectors(tensors, "cartesian_prod")
    if not tensors:
        raise op_error(ShapeError, "cartesian_prod", "expects at least one tensor")
    if len({t.dtype for t in tensors}) > 1:
        raise op_error(DTypeError, "cartesian_prod", "expects all tensors to have the same dtype, "
                       "got " + ", ".join(t.dtype.name for t in tensors))
    if len(tensors) == 1:
        return tensors[0]
    sizes = tuple(t.shape[0] for t in tensors)
    columns = []
    for k, t in enumerate(tensors):
        view = [1] * len(sizes)
        view[k] = sizes[k]
        columns.append(t.reshape(tuple(view)).expand(*sizes).reshape(-1))
    return stack(columns, 1)


@tensor_method()
def combinations(input: Tensor, r: int = 2, with_replacement: bool = False) -> Tensor:
    """Length-``r`` combinations of a 1-D tensor's elements, as rows (itertools.combinations)."""
    from ..creation import tensor as make
    from .join import stack
    (input,) = _vectors((input,), "combinations")
    r = index_value(r, "combinations", "r")
    if r < 0:
        raise op_error(ShapeError, "combinations", f"expects a non-negative r, got {r}")
    if r == 0:
        return input[:0]
    pick = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    rows = list(pick(range(input.shape[0]), r))
    if not rows:
        return input[:0].reshape(0, 1).expand(0, r).clone()
    index = make(rows, device=input.device)
    return stack([input.index_select(0, index[:, k]) for k in range(r)], 1)


@tensor_method()
def vander(x: Tensor, N: int | None = None, increasing: bool = False) -> Tensor:
    """The Vandermonde matrix of a 1-D tensor: columns ``x**(N-1), …, x, 1`` (reversed with
    ``increasing=True``); integer inputs give int64, as PyTorch."""
    from ..creation import ones
    from ..dtypes import int64
    from .reduce import cumprod
    from .join import cat
    tensor_value(x, "vander", "x")
    if x.ndim != 1:
        raise op_error(ShapeError, "vander", f"x must be a one-dimensional tensor, got shape "
                       f"{tuple(x.shape)}")
    n = x.shape[0] if N is None else index_value(N, "vander", "N")
    if n < 0:
        raise op_error(ShapeError, "vander", f"N must be non-negative, got {n}")
    if not x.is_floating_point():
        x = x.to(int64)
    first = ones(x.shape[0], min(n, 1), dtype=x.dtype, device=x.device)
    if n > 1:
        powers = cumprod(x.unsqueeze(1).expand(x.shape[0], n - 1), 1)
        result = cat([first, powers], 1)
    else:
        result = first  # (ones only: no gradient, as PyTorch's)
    return result if increasing else flip(result, (1,))


@tensor_method()
def rot90(input: Tensor, k: int = 1, dims=(0, 1)) -> Tensor:
    """Rotate by 90° ``k`` times in the plane of ``dims`` (from the first towards the second)."""
    tensor_value(input, "rot90")
    k = index_value(k, "rot90", "k")
    dims = tuple(dims)
    if len(dims) != 2:
        raise op_error(ShapeError, "rot90", f"expected total rotation dims == 2, but got dims = "
                       f"{len(dims)}")
    if input.ndim < 2:
        raise op_error(ShapeError, "rot90", f"expected total dims >= 2, but got total dims = "
                       f"{input.ndim}")
    d0, d1 = (wrap_dim(d, input.ndim, "rot90") for d in dims)
    if d0 == d1:
        raise op_error(ShapeError, "rot90", f"expected rotation dims to be different, but got "
                       f"dim0 = {d0} and dim1 = {d1}")
    k %= 4
    if k == 1:
        return transpose(flip(input, (d1,)), d0, d1)
    if k == 2:
        return flip(input, (d0, d1))
    if k == 3:
        return transpose(flip(input, (d0,)), d0, d1)
    return input.clone()


@tensor_method()
def nan_to_num(input: Tensor, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None, *, out=None) -> Tensor:
    """NaN, +inf and -inf replaced by ``nan``, ``posinf`` and ``neginf`` (by default the
    dtype's largest and lowest finite values); the gradient passes where ``input`` is finite."""
    from .elementwise import where_fn
    tensor_value(input, "nan_to_num")
    if not input.is_floating_point():
        result = input.clone()
    else:
        info = backend_of(input._data).finfo(input._data.dtype)
        hi = float(info.max) if posinf is None else posinf
        lo = float(info.min) if neginf is None else neginf
        x = input
        result = where_fn(x.isnan(), float(nan),
                          where_fn(x == float("inf"), hi, where_fn(x == float("-inf"), lo, x)))
    return out.copy_(result) if out is not None else result


def _nan_to_num_(self: Tensor, nan: float = 0.0, posinf: float | None = None,
                 neginf: float | None = None) -> Tensor:
    return self.copy_(nan_to_num(self, nan, posinf, neginf))


Tensor.nan_to_num_ = _nan_to_num_


def _triangle_indices(row, col, offset, dtype, device, lower: bool, op: str) -> Tensor:
    from ..creation import tensor as make
    from ..dtypes import int64
    row, col = index_value(row, op, "row"), index_value(col, op, "col")
    offset = index_value(offset, op, "offset")
    if row < 0 or col < 0:
        raise op_error(ShapeError, op, f"row and col must be non-negative, got {row} and {col}")
    xp = backend_of(make(0)._data)
    pick = xp.tril_indices if lower else xp.triu_indices
    rows, cols = pick(row, offset, col)
    indices = xp.stack([rows, cols]).astype("int64").reshape(2, -1)
    return make(indices, dtype=dtype or int64, device=device)


def tril_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None,
                 layout=None) -> Tensor:
    """The (row, column) indices of the lower triangle of a ``row`` × ``col`` matrix, as a
    2 × N tensor, row by row."""
    return _triangle_indices(row, col, offset, dtype, device, True, "tril_indices")


def triu_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None,
                 layout=None) -> Tensor:
    """The (row, column) indices of the upper triangle of a ``row`` × ``col`` matrix."""
    return _triangle_indices(row, col, offset, dtype, device, False, "triu_indices")


def repeat_interleave(input: Tensor, repeats=None, dim: int | None = None, *,
                      output_size: int | None = None) -> Tensor:
    """Repeat each element (or slice along ``dim``) ``repeats`` times: an int, or a tensor of
    one count per element. ``repeat_interleave(counts)`` alone gives ``[0]*counts[0] + [1]*…``."""
    from ..creation import tensor as make
    tensor_value(input, "repeat_interleave")
    if repeats is None:  # the index form: input holds the counts
        counts = _counts(input, None)
        xp = backend_of(counts)
        return make(xp.repeat(xp.arange(counts.shape[0]), counts.tolist()).astype("int64"),
                    device=input.device)
    if isinstance(repeats, Tensor) and repeats.numel() == 1 and repeats.ndim <= 1:
        repeats = _counts(repeats, None)[0].item()  # one count: the same for every element
    if not isinstance(repeats, Tensor):
        return _repeat_interleave_int(input, repeats, dim)
    if dim is None:
        input, dim = input.reshape(-1), 0
    d = wrap_dim(dim, input.ndim, "repeat_interleave")
    counts = _counts(repeats, input.shape[d])
    xp = backend_of(counts)
    index = make(xp.repeat(xp.arange(input.shape[d]), counts.tolist()).astype("int64"),
                 device=input.device)  # (CuPy repeats by a list: the counts come to the host)
    return input.index_select(d, index)


def _repeat_interleave_method(self: Tensor, repeats, dim: int | None = None, *,
                              output_size: int | None = None) -> Tensor:
    return repeat_interleave(self, repeats, dim, output_size=output_size)


Tensor.repeat_interleave = _repeat_interleave_method


def _counts(repeats: Tensor, n: int | None):
    """The repeat counts as an int64 array of ``n`` entries (a single count broadcasts)."""
    data = on_its_gpu(repeats._data)
    if data.dtype.kind not in "iu" or data.ndim > 1:
        raise op_error(DTypeError, "repeat_interleave", f"repeats must be a 0-d or 1-d integer "
                       f"tensor, got {repeats.dtype.name} of shape {tuple(repeats.shape)}")
    data = data.reshape(-1)
    if data.size and data.min().item() < 0:
        raise op_error(ShapeError, "repeat_interleave", "repeats can not be negative")
    if n is not None and data.size == 1:
        data = backend_of(data).full((n,), data[0].item(), dtype="int64")
    if n is not None and data.shape[0] != n:
        raise op_error(ShapeError, "repeat_interleave", f"repeats must have the same size as input "
                       f"along dim, got {data.shape[0]} repeats for size {n}")
    return data.astype("int64")
