"""PyTorch's ``out=`` argument, given to every public function that takes one in PyTorch.

One wrapper, applied by name where the public namespace is built (``install``), rather than
an ``out`` parameter in each op: the op computes its result as usual, and the wrapper writes
it into ``out`` (resized if its shape differs) and returns ``out``, as PyTorch does:

- grad mode on and ``out`` or an input requiring grad: refused (PyTorch's "functions with
  out=... arguments don't support automatic differentiation");
- ``out``'s dtype must fit the result by the op's rule in PyTorch (``RULES``): ``add`` casts
  its result into any dtype it can be cast to (not float into int, nor anything into bool),
  ``mm`` or ``abs`` want the result's dtype exactly, ``eq`` writes into any dtype, and the
  factories (``zeros``, ``arange``, ``randn`` …) and ``sum``-like reductions compute in
  ``out``'s dtype when no ``dtype=`` is given;
- an ``out`` with elements but the wrong shape is resized with PyTorch's warning (factories
  resize silently, ``arange`` warns in its own words);
- an ``out`` that partly overlaps an input is refused (an ``out`` that *is* an input is fine).

>>> import chainrule as cr
>>> buf = cr.empty(0)
>>> cr.add(cr.ones(2), 1, out=buf) is buf, buf
(True, tensor([2., 2.]))
"""
from __future__ import annotations

import functools
from typing import Callable

from .autograd.grad_mode import GRAD, no_grad
from .backends import backend_of
from .errors import ChainruleError, DTypeError, op_error, warn_user
from .tensor import Tensor

# how out's dtype must relate to the result's (PyTorch's kernels differ op by op)
CAST = "cast"          # result castable to out: no float → int, nothing but bool → bool
SAME = "same"          # out's dtype is the result's
ANY = "any"            # any dtype (comparisons, logical ops)
FROM_OUT = "from out"  # computed in out's dtype unless dtype= says otherwise (factories, sum)


def _clamp_rule(args, kwargs) -> str:
    # PyTorch: scalar bounds keep the input's dtype (SAME); tensor bounds promote (CAST)
    bounds = list(args[1:]) + [kwargs.get("min"), kwargs.get("max")]
    return CAST if any(isinstance(b, Tensor) for b in bounds) else SAME


RULES: dict[str, str | Callable] = {}
for _rule, _names in {
    CAST: "add sub subtract mul multiply div divide true_divide pow remainder fmod floor_divide "
          "maximum minimum fmax fmin lerp exp exp2 expm1 log log2 log10 log1p sqrt rsqrt sigmoid "
          "erf erfinv sin cos tan asin acos atan arcsin arccos arctan sinh cosh tanh reciprocal "
          "square outer cat concat concatenate stack hstack vstack mean nanmean nansum std var "
          "logsumexp max min",
    SAME: "abs absolute neg negative sign floor ceil round trunc fix frac where mm matmul mv bmm "
          "dot addmm baddbmm inner tensordot norm amax amin gather index_select masked_select "
          "take_along_dim nonzero tril triu diag msort argmax argmin all any sort topk kthvalue "
          "median aminmax softmax log_softmax bernoulli multinomial",
    ANY: "eq ne lt le gt ge logical_and logical_or logical_xor logical_not bitwise_and bitwise_or "
         "bitwise_xor bitwise_not",
    FROM_OUT: "zeros ones full empty arange linspace logspace eye rand randn randint randperm normal "
              "sum prod cumsum cumprod",
}.items():
    RULES.update(dict.fromkeys(_names.split(), _rule))
RULES.update(clamp=_clamp_rule, clip=_clamp_rule, clamp_min=_clamp_rule, clamp_max=_clamp_rule)
del _rule, _names

# factories resize out silently; arange warns in its own words when out had other elements
_COUNTED = {"arange"}
_FACTORIES = {"zeros", "ones", "full", "empty", "eye", "rand", "randn", "randint", "randperm",
              "normal", "linspace", "logspace"} | _COUNTED


def _kind(dtype) -> int:
    return 0 if dtype.name == "bool" else 2 if dtype.is_floating_point else 1


def _can_cast(source, target) -> bool:
    """PyTorch's canCast: never float → integer, nor a non-bool into bool."""
    return _kind(source) <= _kind(target) or _kind(target) == 2


def _requires_grad(values) -> bool:
    for v in values:
        if isinstance(v, Tensor):
            if v.requires_grad:
                return True
        elif isinstance(v, (list, tuple)) and _requires_grad(v):
            return True
    return False


def _check_dtype(name: str, rule: str, result: Tensor, out: Tensor) -> None:
    if rule == ANY or result.dtype == out.dtype:
        return
    if rule == CAST:
        if not _can_cast(result.dtype, out.dtype):
            raise op_error(DTypeError, name, f"result type {result.dtype.name} can't be cast to "
                                             f"the desired output type {out.dtype.name} (out=)")
        return
    raise op_error(DTypeError, name, f"expected out tensor to have dtype {result.dtype.name} "
                                     f"(the result's), but got {out.dtype.name}")


def _check_overlap(name: str, out: Tensor, inputs) -> None:
    """An input that is ``out`` itself is read before out is written; one that overlaps it
    partly (``out=x.t()``) is refused, as PyTorch does."""
    import numpy as np
    mine = out._data
    if not isinstance(mine, np.ndarray):
        return
    for v in inputs:
        if isinstance(v, (list, tuple)):
            _check_overlap(name, out, v)
            continue
        theirs = getattr(v, "_data", None)
        if not isinstance(theirs, np.ndarray) or not np.may_share_memory(mine, theirs):
            continue
        same = (mine.__array_interface__["data"][0] == theirs.__array_interface__["data"][0]
                and mine.shape == theirs.shape and mine.strides == theirs.strides)
        if not same and np.shares_memory(mine, theirs):
            raise op_error(ChainruleError, name, "unsupported operation: some elements of an input "
                           "and of out refer to a single memory location; clone() the input first")


def _write(name: str, rule: str, result: Tensor, out: Tensor) -> None:
    _check_dtype(name, rule, result, out)
    shape = tuple(result.shape)
    if tuple(out.shape) != shape:
        if out.numel() and name in _COUNTED:
            warn_user(f"{name}: the out tensor of shape {list(out.shape)} has {out.numel()} "
                      f"elements, not the {result.numel()} computed; it is resized to {shape}")
        elif out.numel() and name not in _FACTORIES:
            warn_user(f"{name}: an output with one or more elements was resized since it had shape "
                      f"{list(out.shape)}, which does not match the required output shape "
                      f"{list(shape)}. PyTorch deprecates this; resize out to zero elements with "
                      "out.resize_(0) to reuse it")
        out._data = backend_of(out._data).empty(shape, dtype=out._data.dtype)
    from .ops.inplace import _write as write_in_place
    write_in_place(out, ..., result._data, name)
    out._vc.value += 1


def _call_with_out(fn, name: str, args: tuple, kwargs: dict, out):
    rule = RULES[name]
    if callable(rule):
        rule = rule(args, kwargs)
    outs = tuple(out) if isinstance(out, (tuple, list)) else (out,)
    for o in outs:
        if not isinstance(o, Tensor):
            raise op_error(DTypeError, name, f"argument 'out' must be a Tensor or a tuple of "
                                             f"Tensors, not {type(o).__name__}")
    if GRAD.enabled and (_requires_grad(outs) or _requires_grad(args)
                         or _requires_grad(kwargs.values())):
        raise op_error(ChainruleError, name, "functions with out=... arguments don't support "
                       "automatic differentiation, but one of the arguments requires grad")
    if rule == FROM_OUT:
        dtype = kwargs.get("dtype")
        if dtype is None:
            kwargs = {**kwargs, "dtype": outs[0].dtype}
        elif dtype != outs[0].dtype:
            raise op_error(DTypeError, name, f"dtype {dtype.name} does not match the dtype of "
                                             f"out ({outs[0].dtype.name})")
        rule = ANY  # computed in out's dtype already (sum(dtype=int32) may widen: cast back)
    with no_grad():
        result = fn(*args, **kwargs)
    results = tuple(result) if isinstance(result, tuple) else (result,)
    if isinstance(result, tuple) != isinstance(out, (tuple, list)) or len(results) != len(outs):
        want = f"a tuple of {len(results)} tensors" if isinstance(result, tuple) else "a Tensor"
        raise op_error(DTypeError, name, f"out must be {want} here, got "
                                         f"{type(out).__name__} of {len(outs)}")
    inputs = (args, tuple(kwargs.values()))
    for r, o in zip(results, outs):
        _check_overlap(name, o, inputs)
    for r, o in zip(results, outs):
        _write(name, rule if len(outs) == 1 else SAME, r, o)
    if not isinstance(result, tuple):
        return out
    return tuple(outs) if type(result) is tuple else type(result)(*outs)  # a namedtuple


def with_out(fn: Callable, name: str) -> Callable:
    """``fn`` taking PyTorch's keyword ``out=`` (``RULES[name]`` says how out's dtype fits)."""
    @functools.wraps(fn)
    def call(*args, out=None, **kwargs):
        if out is None:
            return fn(*args, **kwargs)
        return _call_with_out(fn, name, args, kwargs, out)
    return call


def install(namespace: dict) -> None:
    """Give the functions of ``namespace`` (chainrule's globals) named in ``RULES`` ``out=``."""
    for name in RULES:
        if name in namespace:
            namespace[name] = with_out(namespace[name], name)
