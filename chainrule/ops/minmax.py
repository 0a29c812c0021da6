"""Max/min reductions: ``amax``/``amin``, ``argmax``/``argmin``, ``max``/``min`` (values and
indices, or elementwise with ``other``) and ``aminmax``.

Split from ``reduce.py`` (which re-exports every name here and gives these functions
NumPy's ``axis``/``keepdims`` names with the other reductions): these reductions select
elements rather than combine them, so their rules route the gradient to the selected
positions (ties share it for ``amax``/``amin``). Imported from ``reduce.py`` once its
helpers exist.
"""
from __future__ import annotations

import builtins
from collections import namedtuple

from ..errors import op_error
from ..tensor import Tensor
from ._operands import tensor_method, wrap_dim
from .reduce import EmptyReductionError, _axes, _prepare, _restored, alias_numpy_names
from .registry import defgrad, defop, nondifferentiable


# ------------------------------------------------------------ max/min/amax --
def _amax_grad(m, g, ans, x, dims, keepdim, in_shape):
    # ties share the gradient evenly (PyTorch's amax convention)
    mask = m.astype(x == _restored(m, ans, in_shape, dims, keepdim), g.dtype)
    count = m.sum(mask, axis=_axes(dims), keepdims=True)
    return _restored(m, g, in_shape, dims, keepdim) * mask / count


amax_op = defop("amax", lambda xp, x, dims, keepdim, in_shape: xp.amax(x, axis=_axes(dims), keepdims=keepdim),
                saves_ans=True)
amin_op = defop("amin", lambda xp, x, dims, keepdim, in_shape: xp.amin(x, axis=_axes(dims), keepdims=keepdim),
                saves_ans=True)
defgrad(amax_op, _amax_grad)
defgrad(amin_op, _amax_grad)


def _nonempty(input: Tensor, dims, op: str) -> None:
    shape = input._data.shape
    if input._data.ndim == 0:
        return  # a 0-d tensor holds one element whatever dim says
    if (dims is None and input._data.size == 0) or (dims is not None and builtins.any(shape[d] == 0 for d in dims)):
        raise op_error(EmptyReductionError, op, f"cannot reduce an empty dimension (input shape {tuple(shape)})"
                       " because the operation has no identity")


@tensor_method("amax")
def amax(input: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    """Maximum over ``dim`` (all dims for ``()``); ties share the gradient."""
    input, dims = _prepare(input, None if dim == () else dim, "amax", keepdim=keepdim)
    _nonempty(input, dims, "amax")
    return amax_op(input, dims=dims, keepdim=bool(keepdim), in_shape=input._data.shape)


@tensor_method("amin")
def amin(input: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    """Minimum over ``dim`` (all dims for ``()``); ties share the gradient."""
    input, dims = _prepare(input, None if dim == () else dim, "amin", keepdim=keepdim)
    _nonempty(input, dims, "amin")
    return amin_op(input, dims=dims, keepdim=bool(keepdim), in_shape=input._data.shape)


argmax_op = nondifferentiable(defop("argmax", lambda xp, x, dim, keepdim: _arg(xp.argmax, x, dim, keepdim)),
                              "indices are integers")
argmin_op = nondifferentiable(defop("argmin", lambda xp, x, dim, keepdim: _arg(xp.argmin, x, dim, keepdim)),
                              "indices are integers")


def _arg(fn, x, dim, keepdim):
    if dim is None or x.ndim == 0:
        out = fn(x.reshape(-1))
        return out.reshape((1,) * x.ndim) if keepdim else out.astype("int64")
    return fn(x, axis=dim, keepdims=keepdim).astype("int64")


@tensor_method("argmax")
def argmax(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the maximum (first one on ties), over all elements or along ``dim``."""
    d = None if dim is None else wrap_dim(dim, input.ndim, "argmax")
    _nonempty(input, None if d is None else (d,), "argmax")
    return argmax_op(input, dim=d, keepdim=bool(keepdim))


@tensor_method("argmin")
def argmin(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the minimum (first one on ties)."""
    d = None if dim is None else wrap_dim(dim, input.ndim, "argmin")
    _nonempty(input, None if d is None else (d,), "argmin")
    return argmin_op(input, dim=d, keepdim=bool(keepdim))


ValuesIndices = namedtuple("ValuesIndices", ["values", "indices"])
max_values = namedtuple("max", ["values", "indices"])
min_values = namedtuple("min", ["values", "indices"])


def _select_grad(m, g, ans, x, indices, dim, keepdim, in_shape):
    """The rule of max/min along a dim: the gradient goes to the chosen index only."""
    from .indexing import scatter_add_zeros_op
    index = getattr(indices, "_data", indices)  # (an index: an array in either namespace)
    if not keepdim:
        index, g = index[(slice(None),) * dim + (None,)], m.expand_dims(g, dim)
    return scatter_add_zeros_op.on(m, g, index=index, dim=dim, in_shape=tuple(in_shape))


take_max_op = defop("max_dim", lambda xp, x, indices, dim, keepdim, in_shape:
                    _take(xp, x, indices, dim, keepdim), saves=(1,))
defgrad(take_max_op, _select_grad, None)


def _take(xp, x, indices, dim, keepdim):
    idx = indices if keepdim else xp.expand_dims(indices, dim)
    out = xp.take_along_axis(x, idx, axis=dim)
    return out if keepdim else xp.squeeze(out, axis=dim)


def _max_min(input: Tensor, dim, keepdim, other, which: str):
    from .elementwise import maximum, minimum
    if isinstance(dim, Tensor) and other is None:
        return (maximum if which == "max" else minimum)(input, dim)
    if other is not None:
        return (maximum if which == "max" else minimum)(input, other)
    if dim is None:
        return amax(input) if which == "max" else amin(input)
    d = wrap_dim(dim, input.ndim, which)
    if input.ndim == 0:  # PyTorch: the value itself, at index 0
        from .conversion import clone
        indices = (argmax if which == "max" else argmin)(input)
        return (max_values if which == "max" else min_values)(clone(input), indices)
    _nonempty(input, (d,), which)
    indices = (argmax if which == "max" else argmin)(input, d, keepdim=bool(keepdim))
    values = take_max_op(input, indices, dim=d, keepdim=bool(keepdim), in_shape=tuple(input.shape))
    return (max_values if which == "max" else min_values)(values, indices)


@tensor_method("max")
def max(input: Tensor, dim=None, keepdim: bool = False, *, other=None):  # noqa: A001
    """``max(x)``: the maximum; ``max(x, dim)``: (values, indices); ``max(x, y)``: elementwise."""
    return _max_min(input, dim, keepdim, other, "max")


@tensor_method("min")
def min(input: Tensor, dim=None, keepdim: bool = False, *, other=None):  # noqa: A001
    """``min(x)``: the minimum; ``min(x, dim)``: (values, indices); ``min(x, y)``: elementwise."""
    return _max_min(input, dim, keepdim, other, "min")


def aminmax(input: Tensor, *, dim=None, keepdim: bool = False):
    return amin(input, () if dim is None else dim, keepdim), amax(input, () if dim is None else dim, keepdim)


alias_numpy_names(globals(), __name__)  # x.max(axis=0, keepdims=True), as NumPy spells them
