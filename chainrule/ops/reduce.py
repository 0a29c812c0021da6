"""Reductions: sum, mean, prod, var/std, logsumexp, cumsum, all/any (max/min: minmax.py;
norm: norms.py).

``dim`` may be None (all dims), an int or a tuple; ``keepdim`` keeps reduced dims
as size 1. Rules first restore the reduced dims, then broadcast.
"""
from __future__ import annotations

import builtins
import math

from .._args import bool_value
from ..backends import NUMPY
from ..dtypes import dtype_arg, get_default_dtype, int64
from ..errors import DTypeError, ShapeError, op_error, warn_user
from ..tensor import Tensor
from ._operands import tensor_method, wrap_dim, wrap_dims
from ..autograd.rule_namespace import TENSORS
from .registry import defgrad, defop, defvjp, nondifferentiable
from .shape import broadcast_to, reshape


def _axes(dims):
    return None if dims is None else dims


def _keep_shape(in_shape, dims) -> tuple:
    """The shape of a keepdim reduction of ``in_shape`` over ``dims``."""
    if dims is None:
        return (1,) * len(in_shape)
    return tuple(1 if i in dims else s for i, s in enumerate(in_shape))


def _restore(g: Tensor, in_shape, dims, keepdim) -> Tensor:
    """``g`` with the reduced dims put back as size 1 (ready to broadcast)."""
    if keepdim:
        return g
    return reshape(g, _keep_shape(in_shape, dims))


def _restored(m, g, in_shape, dims, keepdim):
    """:func:`_restore` in a rule's namespace ``m``."""
    return g if keepdim else m.reshape(g, _keep_shape(in_shape, dims))


def _expand_back(g: Tensor, in_shape, dims, keepdim) -> Tensor:
    return broadcast_to(_restore(g, in_shape, dims, keepdim), in_shape)


# --------------------------------------------------------------------- sum --
# the array method, not xp.sum: NumPy's function form costs microseconds of Python per call
def _sum_fwd(xp, x, dims, keepdim, in_shape):
    if dims is None and not keepdim:  # a 0-d array, not the NumPy scalar apply would convert
        if xp is NUMPY:
            out = xp.empty((), x.dtype)
            xp.add.reduce(x, None, None, out)
            return out
        return x.sum(keepdims=True).reshape(())
    return x.sum(axis=dims, keepdims=keepdim)


def _sum_grad(m, g, ans, x, dims, keepdim, in_shape):
    """sum's rule: the reduced dims restored, then broadcast."""
    if dims is None and m is not TENSORS:  # on arrays, a fresh buffer: later sums go in place
        out = m.empty(in_shape, dtype=g.dtype)
        out[...] = g  # (xp.full is a Python function around these two steps)
        return out
    return m.broadcast_to(_restored(m, g, in_shape, dims, keepdim), in_shape)


sum_op = defop("sum", _sum_fwd, saves=())
defgrad(sum_op, _sum_grad)


def _prepare(input: Tensor, dim, op: str, dtype=None, keepdim=False):
    """The input (converted to ``dtype``) and its reduced dims, after checking the arguments."""
    if not isinstance(input, Tensor):
        raise op_error(DTypeError, op, f"expected a Tensor, got {type(input).__name__}")
    if keepdim is not False and keepdim is not True:
        bool_value(keepdim, op, "keepdim")
    if dtype is not None:
        input = input.to(dtype_arg(dtype, op))
    dims = wrap_dims(dim, input.ndim, op)
    if dims is not None and (len(dims) == input.ndim or dims == () or input.ndim == 0):
        dims = None  # every dim (PyTorch also reads dim=() as "all"; a 0-d tensor has dim 0)
    return input, dims


@tensor_method("sum")
def sum(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:  # noqa: A001
    """Sum over ``dim`` (all dims when None). Bool and integer sums are int64."""
    if dim is None and dtype is None and keepdim is False and type(input) is Tensor and \
            input._data.dtype.kind in "fV":
        # the loss.sum() of every training step: nothing to convert or check
        return sum_op(input, dims=None, keepdim=False, in_shape=input._data.shape)
    input, dims = _prepare(input, dim, "sum", dtype, keepdim)
    if input._data.dtype.kind in "bui" and dtype is None:
        input = input.to(int64)
    return sum_op(input, dims=dims, keepdim=bool(keepdim), in_shape=input._data.shape)


@tensor_method("nansum")
def nansum(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Sum treating NaN as zero."""
    from .elementwise import where_fn
    return sum(where_fn(input != input, 0.0, input), dim, keepdim)


@tensor_method("mean")
def mean(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Arithmetic mean over ``dim``; floating inputs only (as PyTorch)."""
    input, dims = _prepare(input, dim, "mean", dtype, keepdim)
    if input._data.dtype.kind not in "fV":
        raise op_error(DTypeError, "mean", f"expected a floating-point tensor, got dtype "
                       f"{input.dtype.name}; convert with .float() or pass dtype=")
    count = _count(input._data.shape, dims)
    total = sum_op(input, dims=dims, keepdim=bool(keepdim), in_shape=input._data.shape)
    if not count:  # an empty slice: nan, as PyTorch. Added, not multiplied: the input is
        # empty, and a double backward through ``* nan`` would give nan where PyTorch gives 0
        return total + float("nan")
    return total / count


def _count(shape, dims) -> int:
    return math.prod(shape) if dims is None else math.prod(shape[d] for d in dims)


@tensor_method("nanmean")
def nanmean(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    valid = (input == input)
    return nansum(input, dim, keepdim) / sum(valid, dim, keepdim).to(input.dtype)


# -------------------------------------------------------------------- prod --
def _prod_grad(g, ans, x, dims, keepdim, in_shape):
    # product of all the others, without dividing (zeros are handled exactly):
    # exclusive cumulative products from the left and from the right
    if dims is None:
        flat = reshape(x, (-1,))
        grad = _prod_others(flat, 0)
        return _expand_back(g, in_shape, None, keepdim) * reshape(grad, in_shape)
    (d,) = dims
    return _expand_back(g, in_shape, dims, keepdim) * _prod_others(x, d)


def _prod_others(x: Tensor, d: int) -> Tensor:
    from .shape import flip
    from .join import narrow, pad_dim
    n = x.shape[d]
    if n == 0:
        return x
    # left[i] = prod(x[:i]), right[i] = prod(x[i+1:])
    if n == 1:
        return x * 0 + 1
    left = cumprod(pad_dim(narrow(x, d, 0, n - 1), d, 1, 0) + _first_one(x, d), d)
    xr = flip(x, d)
    right = flip(cumprod(pad_dim(narrow(xr, d, 0, n - 1), d, 1, 0) + _first_one(x, d), d), d)
    return left * right


def _first_one(x: Tensor, d: int) -> Tensor:
    """A constant with 1 at index 0 of dim ``d`` and 0 elsewhere (shape broadcastable to x)."""
    from ..backends import backend_of
    xp = backend_of(x._data)
    shape = [1] * x.ndim
    shape[d] = x.shape[d]
    arr = xp.zeros(shape, dtype=x._data.dtype)
    arr[(0,) * x.ndim] = 1
    return Tensor._make(arr)


prod_op = defop("prod", lambda xp, x, dims, keepdim, in_shape: xp.prod(x, axis=_axes(dims), keepdims=keepdim))
defvjp(prod_op, _prod_grad)


@tensor_method("prod")
def prod(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Product over all elements, or over one ``dim``."""
    if isinstance(dim, (tuple, list)):
        raise op_error(DTypeError, "prod", "dim must be a single int (as in PyTorch)")
    input, dims = _prepare(input, dim, "prod", dtype, keepdim)
    if input._data.dtype.kind in "bui" and dtype is None:
        input = input.to(int64)
    return prod_op(input, dims=dims, keepdim=bool(keepdim), in_shape=input._data.shape)


# ----------------------------------------------------------------- cumsum --
cumsum_op = defop("cumsum", lambda xp, x, dim: xp.cumsum(x, axis=dim), saves=())
defvjp(cumsum_op, lambda g, ans, x, dim: _reverse_cumsum(g, dim))


def _reverse_cumsum(g: Tensor, dim: int) -> Tensor:
    from .shape import flip
    return flip(cumsum_op(flip(g, dim), dim=dim), dim)


@tensor_method("cumsum")
def cumsum(input: Tensor, dim: int, *, dtype=None) -> Tensor:
    """Running sum along ``dim``."""
    if dtype is not None:
        input = input.to(dtype_arg(dtype, "cumsum"))
    elif input._data.dtype.kind in "bui":
        input = input.to(int64)
    d = wrap_dim(dim, input.ndim, "cumsum")
    if input.ndim == 0:
        return input.clone()
    return cumsum_op(input, dim=d)


def _cumprod_grad(g, ans, x, dim):
    # exact where x has no zeros: reverse-cumsum(g * ans) / x; zeros are masked out
    from .elementwise import where_fn
    safe = where_fn(x == 0, 1.0, x)
    return where_fn(x == 0, _cumprod_grad_slow(g, x, dim), _reverse_cumsum(g * ans, dim) / safe)


def _cumprod_grad_slow(g: Tensor, x: Tensor, dim: int) -> Tensor:
    """The exact gradient for positions whose input is zero (loop over the dim)."""
    from .join import narrow, stack
    n = x.shape[dim]
    cols = []
    for k in range(n):
        # d out[j] / d x[k] = prod_{i<=j, i!=k} x[i] for j >= k
        total = None
        prefix = None if k == 0 else prod(narrow(x, dim, 0, k), dim, keepdim=True)
        running = prefix
        for j in range(k, n):
            if j > k:
                xj = narrow(x, dim, j, 1)
                running = xj if running is None else running * xj
            term = narrow(g, dim, j, 1) * (running if running is not None else 1.0)
            total = term if total is None else total + term
        cols.append(total)
    from .join import cat
    return cat(cols, dim)


cumprod_op = defop("cumprod", lambda xp, x, dim: xp.cumprod(x, axis=dim), saves_ans=True)
defvjp(cumprod_op, _cumprod_grad)


@tensor_method("cumprod")
def cumprod(input: Tensor, dim: int, *, dtype=None) -> Tensor:
    """Running product along ``dim``."""
    if dtype is not None:
        input = input.to(dtype_arg(dtype, "cumprod"))
    d = wrap_dim(dim, input.ndim, "cumprod")
    if input.ndim == 0:
        return input.clone()
    return cumprod_op(input, dim=d)


# ----------------------------------------------------------------- var/std --
def _var_fwd(xp, x, dims, correction, keepdim, in_shape):
    n = _count(x.shape, dims)
    out = xp.sum((x - _mean_raw(x, dims, n)) ** 2, axis=_axes(dims), keepdims=keepdim)
    # PyTorch divides by max(0, n - correction): inf (or nan for 0/0) past no degrees of freedom
    return (out / builtins.max(0, n - correction)).astype(x.dtype, copy=False)


def _mean_raw(x, dims, n: int):
    """``x.mean(dims, keepdims=True)`` as NumPy computes it, without its "Mean of empty
    slice" warning: an empty slice's mean is nan, as PyTorch's."""
    return x.sum(axis=_axes(dims), keepdims=True) / n if n else x.sum(axis=_axes(dims), keepdims=True) * math.nan


def _var_scale(n: int, correction) -> float:
    """``2 / (n - correction)``, the rule's factor; inf with no degrees of freedom (as the forward)."""
    dof = builtins.max(0, n - correction)
    return 2.0 / dof if dof else math.inf


def _var_grad(m, g, ans, x, dims, correction, keepdim, in_shape):
    n = _count(in_shape, dims)
    total = m.sum(x, axis=_axes(dims), keepdims=True)
    centered = x - (total / n if n else total * math.nan)  # (empty: nothing to center)
    return _restored(m, g, in_shape, dims, keepdim) * centered * _var_scale(n, correction)


var_op = defop("var", _var_fwd)
defgrad(var_op, _var_grad)


def _correction(unbiased, correction, op):
    if correction is not None:
        return correction
    if unbiased is None:
        return 1
    if not isinstance(unbiased, bool):
        raise op_error(DTypeError, op, f"unbiased must be a bool, got {unbiased!r}")
    return 1 if unbiased else 0


def _var(input: Tensor, dim, unbiased, keepdim: bool, correction, op: str) -> Tensor:
    """``var`` for the public ``op`` (var, std, var_mean, std_mean), which names it in messages."""
    if isinstance(dim, bool):  # var(x, False): the old positional ``unbiased``
        dim, unbiased = None, dim
    input, dims = _prepare(input, dim, op, keepdim=keepdim)
    if input._data.dtype.kind not in "fV":
        raise op_error(DTypeError, op, f"expected a floating-point tensor, got {input.dtype.name}")
    correction = _correction(unbiased, correction, op)
    if _count(input._data.shape, dims) - correction <= 0:  # PyTorch's warning: the result is inf/nan
        warn_user(f"{op}(): degrees of freedom is <= 0. Correction should be strictly less than the "
                  "reduction factor (input numel divided by output numel).")
    return var_op(input, dims=dims, correction=correction, keepdim=bool(keepdim),
                  in_shape=input._data.shape)


@tensor_method("var")
def var(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None) -> Tensor:
    """Variance over ``dim`` with Bessel's ``correction`` (default 1); with no degrees of
    freedom left (elements ≤ correction) it warns and is inf or nan, as PyTorch."""
    return _var(input, dim, unbiased, keepdim, correction, "var")


@tensor_method("std")
def std(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None) -> Tensor:
    """Standard deviation: ``sqrt(var)``."""
    return _sqrt_var(_var(input, dim, unbiased, keepdim, correction, "std"))


def _sqrt_var(v: Tensor) -> Tensor:
    """``sqrt(v)`` whose gradient is 0 where ``v`` is 0, as PyTorch's std (a constant slice
    has std 0 and gradient 0 there, not sqrt's inf times var's 0 = nan)."""
    from .elementwise import sqrt, where_fn
    zero = v == 0
    return where_fn(zero, 0.0, sqrt(where_fn(zero, 1.0, v)))


def var_mean(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    """``(var, mean)`` over ``dim``."""
    return _var(input, dim, unbiased, keepdim, correction, "var_mean"), mean(input, dim, keepdim)


def std_mean(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    """``(std, mean)`` over ``dim``."""
    return _sqrt_var(_var(input, dim, unbiased, keepdim, correction, "std_mean")), mean(input, dim, keepdim)


# --------------------------------------------------------------- logsumexp --
def _logsumexp_fwd(xp, x, dims, keepdim, in_shape):
    if x.size == 0:  # an empty sum is 0: log gives -inf (as PyTorch); amax has no identity
        return xp.full_like(xp.sum(x, axis=_axes(dims), keepdims=keepdim), -math.inf)
    m = xp.amax(x, axis=_axes(dims), keepdims=True)
    m = xp.where(xp.isfinite(m), m, 0)
    out = xp.log(xp.sum(xp.exp(x - m), axis=_axes(dims), keepdims=True)) + m
    return out if keepdim else (out.reshape(()) if dims is None else xp.squeeze(out, axis=dims))


def _logsumexp_grad(m, g, ans, x, dims, keepdim, in_shape):
    return _restored(m, g, in_shape, dims, keepdim) * m.exp(x - _restored(m, ans, in_shape, dims, keepdim))


logsumexp_op = defop("logsumexp", _logsumexp_fwd, saves_ans=True)
defgrad(logsumexp_op, _logsumexp_grad)


@tensor_method("logsumexp")
def logsumexp(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """``log(sum(exp(x)))`` over ``dim``, computed without overflow."""
    if dim is None:
        dim = tuple(range(input.ndim))
    input, dims = _prepare(input, dim, "logsumexp", keepdim=keepdim)
    if input._data.dtype.kind not in "fV":
        input = input.to(get_default_dtype())
    return logsumexp_op(input, dims=dims, keepdim=bool(keepdim), in_shape=input._data.shape)


# ------------------------------------------------------------------ all/any --
all_op = nondifferentiable(defop("all", lambda xp, x, dims, keepdim: xp.all(x, axis=_axes(dims), keepdims=keepdim)),
                           "bool output")
any_op = nondifferentiable(defop("any", lambda xp, x, dims, keepdim: xp.any(x, axis=_axes(dims), keepdims=keepdim)),
                           "bool output")


@tensor_method("all")
def all(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """True where every element over ``dim`` is nonzero."""
    input, dims = _prepare(input, dim, "all", keepdim=keepdim)
    return all_op(input, dims=dims, keepdim=bool(keepdim))


@tensor_method("any")
def any(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """True where some element over ``dim`` is nonzero."""
    input, dims = _prepare(input, dim, "any", keepdim=keepdim)
    return any_op(input, dims=dims, keepdim=bool(keepdim))


def count_nonzero(input: Tensor, dim=None) -> Tensor:
    _prepare(input, dim, "count_nonzero")  # the checks, naming this op
    return sum(input != 0, dim)


Tensor.count_nonzero = count_nonzero


class EmptyReductionError(ShapeError, IndexError):
    """A max/min/argmax over an empty dim: PyTorch raises IndexError or RuntimeError."""


# ------------------------------------------------ NumPy's argument names --
# PyTorch's argument parser takes NumPy's names for the reductions' arguments: ``axis`` for
# ``dim`` and ``keepdims`` for ``keepdim`` (x.sum(axis=0), x.mean(axis=1, keepdims=True),
# as d2l's code writes them). Wrapped once, for every reduction here and in minmax.py.
def _numpy_names(fn):
    import functools
    import inspect
    params = inspect.signature(fn).parameters
    aliases = {a: d for a, d in (("axis", "dim"), ("keepdims", "keepdim")) if d in params}
    if not aliases:
        return fn

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        for alias, name in aliases.items():
            if alias in kwargs:
                if name in kwargs:
                    raise TypeError(f"{fn.__name__}() got both '{name}' and its alias '{alias}'")
                kwargs[name] = kwargs.pop(alias)
        return fn(*args, **kwargs)
    return wrapper


def alias_numpy_names(table: dict, module: str) -> None:
    """Give the reductions defined in ``module`` (whose globals are ``table``) NumPy's argument
    names, as functions and as the Tensor methods they were attached as (minmax.py calls it
    for max/min too)."""
    for name, fn in list(table.items()):
        if name.startswith("_") or not _is_function(fn) or fn.__module__ != module:
            continue
        wrapped = _numpy_names(fn)
        if wrapped is fn:
            continue
        table[name] = wrapped
        for attr, value in list(vars(Tensor).items()):  # the Tensor methods it was attached as
            if value is fn:
                setattr(Tensor, attr, wrapped)


def _is_function(obj) -> bool:
    import inspect
    return inspect.isfunction(obj)


alias_numpy_names(globals(), __name__)
