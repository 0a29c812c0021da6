"""Diagonal, unfold and triangle ops: ``diagonal``/``diag_embed``, ``unfold``, ``tril``/``triu``, ``diag``.

Split from ``shape.py`` (which re-exports every name here): these ops read or write a
strided sub-pattern of a tensor (a diagonal, sliding windows, a triangle) rather than
rearranging the whole of it. Imported at the end of ``shape.py``.
"""
from __future__ import annotations

from .._args import index_value
from ..errors import ShapeError, op_error
from ..tensor import Tensor
from ._operands import tensor_method, wrap_dim
from .registry import defgrad, defop


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
    """The upper triangle of the last two dims (on and above ``diagonal``), zeros elsewhere.

    >>> import chainrule as cr
    >>> cr.triu(cr.ones(3, 3))
    tensor([[1., 1., 1.],
            [0., 1., 1.],
            [0., 0., 1.]])
    """
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
