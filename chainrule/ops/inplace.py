"""In-place ops (``add_``, ``mul_``, ``x[i] = v`` …) with PyTorch's rules.

Outside the graph (``no_grad``, or nothing involved requires grad) the array is
written in place and the tensor's version counter bumped, so a backward that
saved the old value raises instead of using the new one. Inside the graph the
result is computed out of place from an alias of the old tensor and the tensor
takes on the new value and grad_fn (its old node keeps the old array).

A leaf that requires grad may not be changed in place while grad is recorded: a
clear error, as in PyTorch. A change of a view, or of a tensor that has views,
reaches every view's history as ``ops/views.py`` explains.
"""
from __future__ import annotations

from .._fp import loud as fp_loud, quiet as fp_quiet
from ..autograd.grad_mode import GRAD
from ..autograd.graph import VersionCounter
from ..errors import ChainruleError, DTypeError, IndexingError, ShapeError, op_error
from ..tensor import Tensor
from . import elementwise as ew
from . import comparison as cmp
from ._operands import check_fill_value, is_scalar, tensor_method
from .views import check_view_change, refresh_views, view_scatter_op

_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "V": 2}  # (V: bfloat16)


def _records(self: Tensor, others) -> bool:
    if not GRAD.enabled:
        return False
    if self._requires_grad:
        return True
    if any(isinstance(o, Tensor) and o._requires_grad for o in others):
        return True
    # a view made in no_grad mode of a base in the graph: the change must be refused
    base = self._base
    return base is not None and base._requires_grad


def _check_leaf(self: Tensor, name: str) -> None:
    if self.grad_fn is None and self._requires_grad:
        raise op_error(ChainruleError, name,
                       f"a leaf tensor that requires grad (shape {tuple(self.shape)}) is used in an "
                       "in-place operation; do it under chainrule.no_grad() (as optimizers do) or "
                       "use the out-of-place op")


def _check_graph_inplace(self: Tensor, name: str) -> None:
    """The checks of a recorded in-place fill that does not go through :func:`inplace`."""
    _check_leaf(self, name)
    if self._base is not None:
        raise op_error(ChainruleError, name,
                       f"a random fill, recorded for autograd, of a view (shape {tuple(self.shape)}) "
                       "is not supported; fill the base tensor, or do it under chainrule.no_grad()")


def _writeable(array) -> bool:
    """Whether ``array``'s memory may be written: NumPy's flag (read-only expand views), and
    no element sharing memory with another (a zero stride over a dim longer than 1: an
    expand view on CuPy, whose arrays have no such flag; PyTorch refuses those writes)."""
    flags = getattr(array, "flags", None)
    if flags is None or not getattr(flags, "writeable", True):
        return False
    return 0 not in array.strides or all(n <= 1 for n, s in zip(array.shape, array.strides)
                                         if s == 0)


def _write(self: Tensor, index, value, name: str) -> None:
    """``self._data[index] = value`` with a clear error for read-only (expanded) memory."""
    quiet = fp_quiet()  # a float64 value out of float32's range is written as inf, as PyTorch
    try:
        self._data[index] = value
    except ValueError as e:
        if not _writeable(self._data):
            raise op_error(ChainruleError, name,
                           f"cannot write in place into a tensor of shape {tuple(self.shape)} whose "
                           "memory is read-only: it is an expand()/broadcast_to() view in which "
                           "several elements share one memory location; clone() it first") from None
        raise op_error(ShapeError, name, f"cannot write a value of shape "
                       f"{tuple(getattr(value, 'shape', ()))} into a tensor of shape "
                       f"{tuple(self.shape)}: {e}") from None
    finally:
        fp_loud(quiet)


def _check_result(self: Tensor, new: Tensor, name: str) -> None:
    if tuple(new._data.shape) != tuple(self._data.shape):
        raise op_error(ShapeError, name, f"output with shape {tuple(self.shape)} doesn't match the "
                       f"broadcast shape {tuple(new.shape)}")
    if _CATEGORY[new._data.dtype.kind] > _CATEGORY[self._data.dtype.kind]:
        raise op_error(DTypeError, name, f"result type {new.dtype.name} can't be cast to the "
                       f"tensor's dtype {self.dtype.name} in place")


def inplace(self: Tensor, name: str, compute, others=()) -> Tensor:
    """Replace ``self``'s value with ``compute(old_self)``, following the rules above."""
    if _records(self, others):
        if self._base is not None:
            return _inplace_on_view(self, name, compute)
        _check_leaf(self, name)
        old = self._data
        writable = _writeable(old)
        # the op computing the new value keeps the old one for its rule: when the tensor's
        # memory is about to be overwritten, that must be a private copy
        alias = Tensor._make(old.copy() if writable else old, self._requires_grad, self.grad_fn,
                             VersionCounter())
        new = compute(alias)
        _check_result(self, new, name)
        if new._data.dtype != self._data.dtype:
            new = new.to(self.dtype)
        self.grad_fn = new.grad_fn
        self._requires_grad = new._requires_grad
        if self._retains_grad and self.grad_fn is not None:
            import weakref
            self.grad_fn.retained = weakref.ref(self)
        # nodes that saved the old value raise at backward, as in PyTorch
        self._vc.value += 1
        if writable:
            old[...] = new._data  # views and NumPy arrays sharing this memory see the change
            _share_saved_result(new, old, self._vc, name)
        else:  # read-only or scalar memory: the tensor takes the new array
            self._data = new._data
            self._vc = new._vc
        if self._views:
            refresh_views(self)
        return self
    from ..autograd.grad_mode import no_grad
    with no_grad():
        new = compute(self)
    _check_result(self, new, name)
    if new._data is not self._data:
        _write(self, ..., new._data, name)
    self._vc.value += 1
    return self


# in-place ops whose PyTorch derivative reads the result, which then lives in the tensor's
# memory: a later in-place change of it makes backward raise, in PyTorch and here. Other
# ops (div_, pow_ …) keep the values their rules read to themselves, as PyTorch does.
_RESULT_READ = frozenset({"exp_", "sigmoid_", "tanh_", "relu_", "sqrt_", "rsqrt_", "reciprocal_",
                          "expm1_"})


def _share_saved_result(new: Tensor, memory, counter, name: str) -> None:
    """Point the saved result of ``new``'s node at ``memory``, at ``counter``'s version."""
    saved = getattr(new.grad_fn, "saved_ans", None)
    if name in _RESULT_READ and saved is not None and saved.data is new._data:
        saved.data, saved.counter, saved.version = memory, counter, counter.value


def _inplace_on_view(view: Tensor, name: str, compute) -> Tensor:
    """A recorded in-place change of a view: the base's history gains a view_scatter node
    (the base with the view's region replaced), and every view of the base follows."""
    check_view_change(view, name)
    old = view._data
    if not _writeable(old):
        _write(view, ..., old, name)  # raises the read-only error
    base = view._base
    alias = Tensor._make(old.copy(), view._requires_grad, view.grad_fn, VersionCounter())
    new = compute(alias)
    _check_result(view, new, name)
    if new._data.dtype != view._data.dtype:
        new = new.to(view.dtype)
    base_alias = Tensor._make(base._data, base._requires_grad, base.grad_fn, VersionCounter())
    whole = view_scatter_op(base_alias, new, chain=view._view_chain)
    old[...] = new._data  # the base's memory (and every view's) sees the change
    base.grad_fn = whole.grad_fn
    base._requires_grad = whole._requires_grad
    if base._retains_grad and base.grad_fn is not None:
        import weakref
        base.grad_fn.retained = weakref.ref(base)
    base._vc.value += 1  # nodes that saved the base or any of its views raise at backward
    _share_saved_result(new, old, base._vc, name)
    refresh_views(base)
    return view


def _fast(self: Tensor, other, ufunc_name: str, name: str):
    """The plain-array path for arithmetic outside the graph (no temporaries)."""
    if _records(self, (other,)):
        return None
    data = self._data
    if isinstance(other, Tensor):
        o = other._data
        if _CATEGORY[o.dtype.kind] > _CATEGORY[data.dtype.kind] or data.dtype.kind == "b":
            return None
    elif is_scalar(other) and not isinstance(other, bool):
        if data.dtype.kind not in "fV" and isinstance(other, float):
            return None
        if data.dtype.kind == "b":
            return None
        o = other
    else:
        return None
    from ..backends import backend_of
    xp = backend_of(data)
    if not _writeable(data):
        return None  # the general path explains
    quiet = fp_quiet()  # inf/nan as the ops make them: no NumPy warning (chainrule._fp)
    try:
        getattr(xp, ufunc_name)(data, o, out=data, casting="unsafe")
    except (ValueError, OverflowError):
        return None  # broadcasting, or an int out of the dtype's range: the general path handles it
    finally:
        fp_loud(quiet)
    self._vc.value += 1
    return self


# ------------------------------------------------------------ arithmetic --
@tensor_method("add_")
def add_(self: Tensor, other, *, alpha=1) -> Tensor:
    if alpha == 1 and _fast(self, other, "add", "add_") is not None:
        return self
    return inplace(self, "add_", lambda s: ew.add_fn(s, other, alpha=alpha), (other,))


@tensor_method("sub_", "subtract_")
def sub_(self: Tensor, other, *, alpha=1) -> Tensor:
    if alpha == 1 and _fast(self, other, "subtract", "sub_") is not None:
        return self
    return inplace(self, "sub_", lambda s: ew.sub_fn(s, other, alpha=alpha), (other,))


@tensor_method("mul_", "multiply_")
def mul_(self: Tensor, other) -> Tensor:
    if _fast(self, other, "multiply", "mul_") is not None:
        return self
    return inplace(self, "mul_", lambda s: ew.mul_fn(s, other), (other,))


@tensor_method("div_", "divide_", "true_divide_")
def div_(self: Tensor, other, *, rounding_mode=None) -> Tensor:
    if rounding_mode is None and self._data.dtype.kind in "fV" and \
            _fast(self, other, "true_divide", "div_") is not None:
        return self
    return inplace(self, "div_", lambda s: ew.div_fn(s, other, rounding_mode=rounding_mode), (other,))


@tensor_method("pow_")
def pow_(self: Tensor, exponent) -> Tensor:
    return inplace(self, "pow_", lambda s: ew.pow_fn(s, exponent), (exponent,))


@tensor_method("neg_", "negative_")
def neg_(self: Tensor) -> Tensor:
    return inplace(self, "neg_", lambda s: ew.neg_fn(s))


@tensor_method("addcmul_")
def addcmul_(self: Tensor, tensor1: Tensor, tensor2: Tensor, *, value=1) -> Tensor:
    """``self += value * tensor1 * tensor2``."""
    return inplace(self, "addcmul_", lambda s: s + ew.mul_fn(tensor1, tensor2) * value, (tensor1, tensor2))


@tensor_method("addcdiv_")
def addcdiv_(self: Tensor, tensor1: Tensor, tensor2: Tensor, *, value=1) -> Tensor:
    """``self += value * tensor1 / tensor2``."""
    return inplace(self, "addcdiv_", lambda s: s + ew.div_fn(tensor1, tensor2) * value, (tensor1, tensor2))


@tensor_method("lerp_")
def lerp_(self: Tensor, end: Tensor, weight) -> Tensor:
    return inplace(self, "lerp_", lambda s: ew.lerp(s, end, weight), (end, weight))


@tensor_method("clamp_", "clip_")
def clamp_(self: Tensor, min=None, max=None) -> Tensor:  # noqa: A002
    return inplace(self, "clamp_", lambda s: ew.clamp(s, min, max), (min, max))


@tensor_method("clamp_min_")
def clamp_min_(self: Tensor, min) -> Tensor:  # noqa: A002
    return inplace(self, "clamp_min_", lambda s: ew.clamp(s, min=min), (min,))


@tensor_method("clamp_max_")
def clamp_max_(self: Tensor, max) -> Tensor:  # noqa: A002
    return inplace(self, "clamp_max_", lambda s: ew.clamp(s, max=max), (max,))


@tensor_method("maximum_")
def _maximum_(self: Tensor, other) -> Tensor:
    return inplace(self, "maximum_", lambda s: ew.maximum(s, other), (other,))


def _unary_inplace(name: str, fn):
    def method(self: Tensor) -> Tensor:
        return inplace(self, name + "_", fn)
    method.__name__ = method.__qualname__ = name + "_"
    method.__doc__ = f"In-place ``{name}``."
    setattr(Tensor, name + "_", method)


for _name in ("exp", "log", "sqrt", "rsqrt", "sin", "cos", "tanh", "sigmoid", "relu", "abs",
              "floor", "ceil", "round", "trunc", "sign", "reciprocal", "square", "log1p", "expm1",
              "erf", "frac"):
    _unary_inplace(_name, getattr(Tensor, _name))

# ------------------------------------------------------------- fills/copy --


@tensor_method("zero_")
def zero_(self: Tensor) -> Tensor:
    """Fill with zeros in place."""
    return fill_(self, 0)


@tensor_method("fill_")
def fill_(self: Tensor, value) -> Tensor:
    """Fill with ``value`` (a number or a 0-dim tensor) in place."""
    check_fill_value(value, self._data.dtype, "fill_")
    if not _records(self, (value,)):
        v = value._data if isinstance(value, Tensor) else value
        _write(self, ..., v, "fill_")
        self._vc.value += 1
        return self

    def compute(s):
        v = value if isinstance(value, Tensor) else ew.constant(value, s, s._data.dtype)
        return _replaced(s, v.to(s.dtype))
    return inplace(self, "fill_", compute, (value,))


def _replaced(s: Tensor, value: Tensor) -> Tensor:
    """A new tensor of ``s``'s shape holding ``value`` (broadcast), in the graph of both:
    the gradient reaches ``value`` and is zero for ``s`` (as PyTorch's fill_/copy_).
    ``where`` rather than ``value + s * 0``, which turns an inf or nan in ``s`` into nan."""
    never = ew.constant(False, s, "bool")
    return ew.where_fn(never, s, value)


@tensor_method("copy_")
def copy_(self: Tensor, src, non_blocking: bool = False) -> Tensor:
    """Copy ``src`` (broadcast, cast, moved) into this tensor in place."""
    if not isinstance(src, Tensor):
        from ..creation import tensor
        src = tensor(src)
    try:
        from .shape import broadcast_shapes
        if tuple(broadcast_shapes(src.shape, self.shape)) != tuple(self.shape):
            raise ValueError
    except Exception:
        raise op_error(ShapeError, "copy_", f"src of shape {tuple(src.shape)} cannot be broadcast to "
                       f"the destination's shape {tuple(self.shape)}") from None
    if not _records(self, (src,)):
        moved = src.to(self.device)._data
        _write(self, ..., moved, "copy_")
        self._vc.value += 1
        return self
    return inplace(self, "copy_", lambda s: _replaced(s, src.to(s.device).to(s.dtype)), (src,))


@tensor_method("masked_fill_")
def masked_fill_(self: Tensor, mask: Tensor, value) -> Tensor:
    return inplace(self, "masked_fill_", lambda s: s.masked_fill(mask, value), (value,))


@tensor_method("scatter_")
def scatter_(self: Tensor, dim: int, index: Tensor, src=None, *, value=None, reduce=None) -> Tensor:
    return inplace(self, "scatter_", lambda s: s.scatter(dim, index, src, value=value, reduce=reduce),
                   (src,))


@tensor_method("scatter_add_")
def scatter_add_(self: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    return inplace(self, "scatter_add_", lambda s: s.scatter_add(dim, index, src), (src,))


@tensor_method("index_put_")
def index_put_(self: Tensor, indices, values, accumulate: bool = False) -> Tensor:
    from .indexing import index_put
    return inplace(self, "index_put_", lambda s: index_put(s, indices, values, accumulate), (values,))


def _setitem(self: Tensor, index, value) -> None:
    """``x[index] = value``: in place outside the graph, an index_put inside it."""
    from ..backends import backend_of
    from .indexing import assign_index, index_put, normalize_index
    if isinstance(value, Tensor) and type(value._data) is type(self._data) and \
            value.device != self.device:  # another GPU's value: copied over, as PyTorch's copy_
        value = value.to(self.device)
    if not _records(self, (value,)):
        idx, _ = normalize_index(index, backend_of(self._data))
        v = value._data if isinstance(value, Tensor) else value
        if not _writeable(self._data):
            _write(self, idx, v, "setitem")  # raises the read-only error
        try:
            assign_index(self._data, idx, v)
        except (ValueError, IndexError) as e:
            what = (f"a value of shape {tuple(value.shape)}" if hasattr(value, "shape")
                    else f"a {type(value).__name__}")
            raise op_error(ShapeError if isinstance(e, ValueError) else IndexingError, "setitem",
                           f"cannot assign {what} to index {index!r} of a tensor of shape "
                           f"{tuple(self.shape)}: {e}") from None
        self._vc.value += 1
        return
    inplace(self, "setitem", lambda s: index_put(s, index if isinstance(index, tuple) else (index,),
                                                 value), (value,))


Tensor.__setitem__ = _setitem


def _iop(name, fn):
    def method(self, other):
        return fn(self, other)
    method.__name__ = name
    setattr(Tensor, name, method)


_iop("__iadd__", add_)
_iop("__isub__", sub_)
_iop("__imul__", mul_)
_iop("__itruediv__", div_)
_iop("__ipow__", pow_)
Tensor.__ifloordiv__ = lambda self, other: inplace(self, "floor_divide_",
                                                   lambda s: ew.floor_divide_fn(s, other), (other,))
Tensor.__imod__ = lambda self, other: inplace(self, "remainder_", lambda s: ew.remainder_fn(s, other),
                                              (other,))
Tensor.__iand__ = lambda self, other: inplace(self, "bitwise_and_", lambda s: cmp.bitwise_and(s, other))
Tensor.__ior__ = lambda self, other: inplace(self, "bitwise_or_", lambda s: cmp.bitwise_or(s, other))
Tensor.__ixor__ = lambda self, other: inplace(self, "bitwise_xor_", lambda s: cmp.bitwise_xor(s, other))

# ------------------------------------------------------ random fills (init) --


def _random_fill(self: Tensor, sample, name: str) -> Tensor:
    if _records(self, ()):
        _check_graph_inplace(self, name)
    from ..backends import backend_of
    array = sample(tuple(self.shape))
    backend = backend_of(self._data)
    if not backend.is_array(array):  # (a CUDA tensor's draws are made on its device)
        array = backend.from_host(array)
    _write(self, ..., array.astype(self._data.dtype), name)
    self._vc.value += 1
    return self


@tensor_method("uniform_")
def uniform_(self: Tensor, a: float = 0.0, b: float = 1.0, *, generator=None) -> Tensor:
    """Fill with samples from U(a, b)."""
    from .._args import ArgumentError, finite_value
    from ..random import _rng, floating_input
    floating_input(self, "uniform_")
    a, b = finite_value(a, "uniform_", "from"), finite_value(b, "uniform_", "to")
    if a > b:
        raise op_error(ArgumentError, "uniform_", f"from ({a}) must be <= to ({b})")
    rng = _rng(generator, "uniform_", self.device)
    return _random_fill(self, lambda shape: rng.uniform(a, b, shape), "uniform_")


@tensor_method("normal_")
def normal_(self: Tensor, mean: float = 0.0, std: float = 1.0, *, generator=None) -> Tensor:
    """Fill with samples from N(mean, std²)."""
    from .._args import ArgumentError, number_value
    from ..random import _rng, floating_input
    floating_input(self, "normal_")
    mean, std = number_value(mean, "normal_", "mean"), number_value(std, "normal_", "std")
    if not std >= 0:  # NaN fails too
        raise op_error(ArgumentError, "normal_", f"std must be >= 0, got {std}")
    rng = _rng(generator, "normal_", self.device)
    return _random_fill(self, lambda shape: rng.normal(mean, std, shape), "normal_")


@tensor_method("bernoulli_")
def bernoulli_(self: Tensor, p: float = 0.5, *, generator=None) -> Tensor:
    """Fill with 1 with probability ``p`` (a number, or a tensor broadcast to ``self``), else 0."""
    from .._args import ArgumentError
    from ..random import _rng, probability
    if isinstance(p, Tensor):
        p = p._data if p.device == self.device else p.to(self.device)._data
        if not bool(((p >= 0) & (p <= 1)).all().item()):  # NaN fails too
            raise op_error(ArgumentError, "bernoulli_", "every element of p must be in [0, 1]")
    else:
        p = probability(p, "bernoulli_")
    rng = _rng(generator, "bernoulli_", self.device)
    return _random_fill(self, lambda shape: rng.random(shape) < p, "bernoulli_")


@tensor_method("random_")
def random_(self: Tensor, low: int = 0, high: int | None = None, *, generator=None) -> Tensor:
    """Fill with integers from [low, high) (``random_(high)``: from [0, high))."""
    from .._args import ArgumentError, index_value
    from ..random import _rng
    if high is None:
        low, high = 0, low if low else 2 ** 24
    low, high = index_value(low, "random_", "from"), index_value(high, "random_", "to")
    if low >= high:
        raise op_error(ArgumentError, "random_", f"from ({low}) must be less than to ({high})")
    rng = _rng(generator, "random_", self.device)
    return _random_fill(self, lambda shape: rng.integers(low, high, shape), "random_")


@tensor_method("exponential_")
def exponential_(self: Tensor, lambd: float = 1.0, *, generator=None) -> Tensor:
    """Fill with samples from the exponential distribution of rate ``lambd``."""
    from .._args import ArgumentError, number_value
    from ..random import _rng, floating_input
    floating_input(self, "exponential_")
    lambd = number_value(lambd, "exponential_", "lambd")
    if not lambd > 0:
        raise op_error(ArgumentError, "exponential_", f"lambd must be > 0, got {lambd}")
    rng = _rng(generator, "exponential_", self.device)
    return _random_fill(self, lambda shape: rng.exponential(1.0 / lambd, shape), "exponential_")


@tensor_method("tril_")
def tril_(self: Tensor, diagonal: int = 0) -> Tensor:
    """In-place ``tril``."""
    return inplace(self, "tril_", lambda s: s.tril(diagonal))


@tensor_method("triu_")
def triu_(self: Tensor, diagonal: int = 0) -> Tensor:
    """In-place ``triu``."""
    return inplace(self, "triu_", lambda s: s.triu(diagonal))
