"""Elementwise ops: arithmetic, unary math, rounding, maximum/clamp/where/lerp. One rule a line.

Each op is declared with ``defop`` (forward on arrays) and ``defgrad`` (one rule per
input, written once against the namespace ``m``: arrays in a first-order backward,
Tensors under ``create_graph``); the public function below it converts arguments.
Gradients may come back with the broadcast shape: the engine sums them down.

Activations (``activations.py``), comparisons/logic (``comparison.py``) and the array
kernels (``numpy_kernels.py``) live in their own files, above this one.
"""
from __future__ import annotations

import math

from ..dtypes import get_default_dtype, scalar_dtype
from ..errors import DTypeError, op_error
from ..tensor import Tensor
from ._operands import _broadcast_explain, binary_operands, check_fill_value, constant, is_scalar, tensor_method
from .comparison import logical_and, logical_or
from .registry import REGISTRY, defgrad, defop, nondifferentiable
from ..backends.cupy_fused import fused_rule
from .numpy_kernels import (  # noqa: F401  (re-exported: nn and tests use ew.<name>)
    _SIMD_FLOATS, _erf_fwd, _erfinv_fwd, _relu_pass, _sigmoid_fwd, _sigmoid_general, _special,
    sigmoid_, sigmoid_into,
)


def _binary(name, fwd, **kw):
    return defop(name, fwd, explain=_broadcast_explain(name), **kw)


# ---------------------------------------------------------------- arithmetic --
add = _binary("add", lambda xp, a, b: xp.add(a, b), saves=())
sub = _binary("sub", lambda xp, a, b: xp.subtract(a, b), saves=())
mul = _binary("mul", lambda xp, a, b: xp.multiply(a, b), reads=((1,), (0,)))
div = _binary("div", lambda xp, a, b: xp.true_divide(a, b), saves=(1,), saves_ans=True)
neg = defop("neg", lambda xp, a: xp.negative(a), saves=())

defgrad(add, lambda m, g, ans, a, b: g, lambda m, g, ans, a, b: g)
defgrad(sub, lambda m, g, ans, a, b: g, lambda m, g, ans, a, b: -g)
defgrad(mul, lambda m, g, ans, a, b: g * b, lambda m, g, ans, a, b: g * a)
defgrad(div, lambda m, g, ans, a, b: g / b, lambda m, g, ans, a, b: -g * ans / b)
defgrad(neg, lambda m, g, ans, a: -g)


@tensor_method("add", "__add__")
def add_fn(input, other, *, alpha=1) -> Tensor:
    """``input + alpha * other`` with broadcasting and PyTorch's type promotion."""
    if type(input) is Tensor and type(other) is Tensor and alpha == 1:  # two tensors of one float dtype: nothing to promote
        dtype = input._data.dtype
        if dtype is other._data.dtype and dtype.kind == "f":
            return add(input, other)
    if alpha != 1:
        other = mul_fn(other, alpha)
    a, b = binary_operands(input, other, "add")
    if a._data.dtype.kind == "b":
        return logical_or(a, b)
    return add(a, b)


@tensor_method("sub", "subtract", "__sub__")
def sub_fn(input, other, *, alpha=1) -> Tensor:
    """``input - alpha * other``."""
    # PyTorch refuses any bool operand here (tensor or scalar), not only bool results
    if any(isinstance(v, bool) or (isinstance(v, Tensor) and v._data.dtype.kind == "b")
           for v in (input, other)):
        raise op_error(DTypeError, "sub", "subtraction with a bool operand is not supported; "
                       "use logical_xor, ~mask, or convert with .int() first")
    if alpha != 1:
        other = mul_fn(other, alpha)
    a, b = binary_operands(input, other, "sub")
    return sub(a, b)


@tensor_method("mul", "multiply", "__mul__")
def mul_fn(input, other) -> Tensor:
    """Elementwise product."""
    if type(input) is Tensor and type(other) is Tensor:  # two tensors of one float dtype: nothing to promote
        dtype = input._data.dtype
        if dtype is other._data.dtype and dtype.kind == "f":
            return mul(input, other)
    a, b = binary_operands(input, other, "mul")
    if a._data.dtype.kind == "b":
        return logical_and(a, b)
    return mul(a, b)


@tensor_method("div", "divide", "true_divide", "__truediv__")
def div_fn(input, other, *, rounding_mode: str | None = None) -> Tensor:
    """True division (integers give floats); ``rounding_mode`` 'trunc' or 'floor'."""
    if rounding_mode is None:
        a, b = binary_operands(input, other, "div", float_result=True)
        return div(a, b)
    if rounding_mode == "floor":
        return floor_divide(input, other)
    if rounding_mode == "trunc":
        a, b = binary_operands(input, other, "div")
        if a._data.dtype.kind in "fV":
            return trunc(div(a, b))
        _no_bool(a, "div", b)
        return div_trunc_int(a, b)
    raise op_error(ValueError, "div", f"rounding_mode must be None, 'trunc' or 'floor', got "
                   f"{rounding_mode!r}")


div_trunc_int = nondifferentiable(defop(
    "div_trunc_int", lambda xp, a, b: (xp.sign(a) * xp.sign(b) * (xp.abs(a) // xp.abs(b))).astype(a.dtype)),
    "integer division has no derivative")


def _radd(self, other):
    return add_fn(other, self)


def _rsub(self, other):
    return sub_fn(other, self)


def _rmul(self, other):
    return mul_fn(other, self)


def _rtruediv(self, other):
    return div_fn(other, self)


Tensor.__radd__ = _radd
Tensor.__rsub__ = _rsub
Tensor.__rmul__ = _rmul
Tensor.__rtruediv__ = _rtruediv


@tensor_method("neg", "negative", "__neg__")
def neg_fn(input: Tensor) -> Tensor:
    """``-input``."""
    if input._data.dtype.kind == "b":
        raise op_error(DTypeError, "neg", "negation of a bool tensor; use logical_not")
    return neg(input)


def _pos(self):
    return self


Tensor.__pos__ = _pos

# floor division and remainder: piecewise constant / piecewise identity
floor_divide_op = _binary("floor_divide", lambda xp, a, b: xp.floor_divide(a, b), saves=())
remainder = _binary("remainder", lambda xp, a, b: xp.remainder(a, b), saves=(0, 1))
fmod = _binary("fmod", lambda xp, a, b: xp.fmod(a, b), saves=(0, 1))
defgrad(floor_divide_op, lambda m, g, ans, a, b: g * 0, lambda m, g, ans, a, b: g * 0)
defgrad(remainder, lambda m, g, ans, a, b: g, lambda m, g, ans, a, b: -g * m.floor_divide(a, b))
defgrad(fmod, lambda m, g, ans, a, b: g, lambda m, g, ans, a, b: -g * m.trunc(a / b))


@tensor_method("floor_divide", "__floordiv__")
def floor_divide_fn(input, other) -> Tensor:
    """``floor(input / other)`` (Python's ``//``)."""
    a, b = binary_operands(input, other, "floor_divide")
    _no_bool(a, "floor_divide", b)
    return floor_divide_op(a, b)


floor_divide = floor_divide_fn


@tensor_method("remainder", "__mod__")
def remainder_fn(input, other) -> Tensor:
    """Python's ``%``: the result has the sign of the divisor."""
    a, b = binary_operands(input, other, "remainder")
    _no_bool(a, "remainder", b)
    return remainder(a, b)


@tensor_method("fmod")
def fmod_fn(input, other) -> Tensor:
    """C's fmod: the result has the sign of the dividend."""
    a, b = binary_operands(input, other, "fmod")
    _no_bool(a, "fmod", b)
    return fmod(a, b)


def _no_bool(a: Tensor, op: str, b: Tensor | None = None) -> None:
    """PyTorch has no bool kernel for these: refuse rather than compute NumPy's answer;
    and integer division by zero is an error (NumPy would quietly give 0)."""
    if a._data.dtype.kind == "b":
        raise op_error(DTypeError, op, "not supported for two bool operands; convert with .int() "
                       "or .float() first")
    if b is not None and b._data.dtype.kind in "iu" and (b._data == 0).any().item():
        raise op_error(ZeroDivisionError, op, f"integer division by zero (divisor of shape "
                       f"{tuple(b.shape)} and dtype {b.dtype.name} has zeros)")


Tensor.__rfloordiv__ = lambda self, other: floor_divide_fn(other, self)
Tensor.__rmod__ = lambda self, other: remainder_fn(other, self)

# ---------------------------------------------------------------------- pow --
pow_op = _binary("pow", lambda xp, a, b: xp.power(a, b), saves_ans=True)


def _pow_grad_base(m, g, ans, a, b):
    # 0 where the exponent is 0, even at a == 0 (PyTorch's convention; not 0 * inf)
    return m.where(b == 0, 0.0, g * b * m.power(a, b - 1))


def _pow_grad_exp(m, g, ans, a, b):
    # d/db a**b = a**b * log(a); 0 where a == 0 and b >= 0 (PyTorch's convention), but
    # inf * -inf = -inf where a == 0 and b < 0, as PyTorch's. The mask is applied with
    # where, not a product (nan * 0 is nan), and log never sees the masked zeros
    zero = (a == 0) & (b >= 0)
    return m.where(zero, 0.0, g * ans * m.log(m.where(zero, 1.0, a)))


defgrad(pow_op, _pow_grad_base, _pow_grad_exp)


@tensor_method("pow", "__pow__")
def pow_fn(input, exponent) -> Tensor:
    """``input ** exponent`` (either may be a tensor or a number)."""
    if is_scalar(exponent) and isinstance(input, Tensor):
        return pow_scalar(input, exponent)
    a, b = binary_operands(input, exponent, "pow")
    _no_bool(a, "pow")
    return pow_op(a, b)


def _pow_scalar_fwd(xp, a, exponent):
    # PyTorch's CPU kernel computes these float exponents by products and reciprocals, not
    # pow(): same values as it bit for bit, and libm's powf is ~100x slower on negative bases
    # (a GELU's x ** 3)
    if a.dtype.kind == "f" and not isinstance(exponent, bool):
        if exponent == 2:
            return a * a
        if exponent == 3:
            return a * a * a
        if exponent == -1:
            return 1 / a
        if exponent == -2:
            return 1 / (a * a)
        if exponent == -0.5:
            return 1 / xp.sqrt(a)
    return xp.power(a, exponent)


pow_scalar_op = defop("pow_scalar", _pow_scalar_fwd)


def _pow_scalar_grad(m, g, ans, a, exponent):
    if exponent == 0:
        return g * 0
    if exponent == 1:
        return g
    return g * exponent * m.power(a, exponent - 1)


defgrad(pow_scalar_op, _pow_scalar_grad)


def pow_scalar(a: Tensor, exponent) -> Tensor:
    kind = a._data.dtype.kind
    if kind in "iub" and isinstance(exponent, float):
        a = a.to(get_default_dtype())
    elif kind == "b":  # bool ** int is int64 in PyTorch
        a = a.long()
    elif kind in "iu" and isinstance(exponent, int) and exponent < 0:
        raise op_error(ValueError, "pow", "integers to negative integer powers are not allowed")
    return pow_scalar_op(a, exponent=exponent)


Tensor.__rpow__ = lambda self, other: pow_fn(other, self)

# ---------------------------------------------------------------- unary math --
# Rules that can reuse the output take ``ans`` (exp, sqrt, tanh, sigmoid …).


def _unary(name, fwd, rule, *, saves=None, saves_ans=False, method=True, aliases=()):
    """Declare a float unary op, its rule, and its function/method."""
    op = defop(name, fwd, saves=saves, saves_ans=saves_ans)
    defgrad(op, rule)

    def fn(input: Tensor) -> Tensor:
        return op(_floating(input, name))
    fn.__name__ = name
    fn.__qualname__ = name
    fn.__doc__ = f"Elementwise ``{name}``."
    if method:
        tensor_method(name, *aliases)(fn)
    return fn


def _floating(t, name):
    if not isinstance(t, Tensor):
        from ._operands import as_tensor_arg
        t = as_tensor_arg(t, name)
    if t._data.dtype.kind not in "fV":
        return t.to(get_default_dtype())
    return t


_NO_INPUT = ()  # the rule needs only ``ans``

exp = _unary("exp", lambda xp, x: xp.exp(x), lambda m, g, ans, x: g * ans, saves=_NO_INPUT, saves_ans=True)
expm1 = _unary("expm1", lambda xp, x: xp.expm1(x), lambda m, g, ans, x: g * (ans + 1),
               saves=_NO_INPUT, saves_ans=True)
exp2 = _unary("exp2", lambda xp, x: xp.exp2(x), lambda m, g, ans, x: g * ans * math.log(2),
              saves=_NO_INPUT, saves_ans=True)
log = _unary("log", lambda xp, x: xp.log(x), lambda m, g, ans, x: g / x)
log2 = _unary("log2", lambda xp, x: xp.log2(x), lambda m, g, ans, x: g / (x * math.log(2)))
log10 = _unary("log10", lambda xp, x: xp.log10(x), lambda m, g, ans, x: g / (x * math.log(10)))
log1p = _unary("log1p", lambda xp, x: xp.log1p(x), lambda m, g, ans, x: g / (x + 1))
sqrt = _unary("sqrt", lambda xp, x: xp.sqrt(x), lambda m, g, ans, x: g / (ans * 2),
              saves=_NO_INPUT, saves_ans=True)
rsqrt = _unary("rsqrt", lambda xp, x: 1 / xp.sqrt(x), lambda m, g, ans, x: g * -0.5 * ans * ans * ans,
               saves=_NO_INPUT, saves_ans=True)
sin = _unary("sin", lambda xp, x: xp.sin(x), lambda m, g, ans, x: g * m.cos(x))
cos = _unary("cos", lambda xp, x: xp.cos(x), lambda m, g, ans, x: -g * m.sin(x))
tan = _unary("tan", lambda xp, x: xp.tan(x), lambda m, g, ans, x: g * (ans * ans + 1),
             saves=_NO_INPUT, saves_ans=True)
asin = _unary("asin", lambda xp, x: xp.arcsin(x), lambda m, g, ans, x: g / m.sqrt(1 - x * x),
              aliases=("arcsin",))
acos = _unary("acos", lambda xp, x: xp.arccos(x), lambda m, g, ans, x: -g / m.sqrt(1 - x * x),
              aliases=("arccos",))
atan = _unary("atan", lambda xp, x: xp.arctan(x), lambda m, g, ans, x: g / (x * x + 1),
              aliases=("arctan",))
sinh = _unary("sinh", lambda xp, x: xp.sinh(x), lambda m, g, ans, x: g * m.cosh(x))
cosh = _unary("cosh", lambda xp, x: xp.cosh(x), lambda m, g, ans, x: g * m.sinh(x))
tanh = _unary("tanh", lambda xp, x: xp.tanh(x),
              fused_rule("tanh_backward", lambda m, g, ans, x: g * (1 - ans * ans)),
              saves=_NO_INPUT, saves_ans=True)
reciprocal = _unary("reciprocal", lambda xp, x: 1 / x, lambda m, g, ans, x: -g * ans * ans,
                    saves=_NO_INPUT, saves_ans=True)




sigmoid = _unary("sigmoid", _sigmoid_fwd,
                 fused_rule("sigmoid_backward", lambda m, g, ans, x: g * ans * (1 - ans)),
                 saves=_NO_INPUT, saves_ans=True)


sigmoid_op = REGISTRY["sigmoid"]




erf = _unary("erf", _erf_fwd, lambda m, g, ans, x: g * (2 / math.sqrt(math.pi)) * m.exp(-x * x))


erf_op = REGISTRY["erf"]




erfinv = _unary("erfinv", _erfinv_fwd,
                lambda m, g, ans, x: g * (math.sqrt(math.pi) / 2) * m.exp(ans * ans),
                saves=_NO_INPUT, saves_ans=True)

def _sign_fwd(xp, x):
    """``sign(x)``, 0 at nan as PyTorch's (NumPy's is nan): abs' gradient at nan is 0 too."""
    s = xp.sign(x)
    return xp.where(x == x, s, 0) if s.dtype.kind == "f" else s


abs_op = defop("abs", lambda xp, x: xp.abs(x))
defgrad(abs_op, lambda m, g, ans, x: g * sign_op.on(m, x))


@tensor_method("abs", "absolute", "__abs__")
def abs_fn(input: Tensor) -> Tensor:
    """Elementwise absolute value."""
    return abs_op(input)


square_op = defop("square", lambda xp, x: xp.square(x))
defgrad(square_op, lambda m, g, ans, x: g * 2 * x)


@tensor_method("square")
def square(input: Tensor) -> Tensor:
    """``input * input``."""
    if input._data.dtype.kind == "b":
        input = input.long()
    return square_op(input)


# piecewise constant: derivative zero everywhere it exists (as PyTorch)
def _zero_grad(m, g, ans, x):
    return g * 0


def _rounding(name, fwd):
    op = defop(name, fwd, saves=())
    defgrad(op, _zero_grad)

    def fn(input: Tensor) -> Tensor:
        kind = input._data.dtype.kind
        if kind not in "fV" and (name != "sign" or kind == "b"):
            return input.clone()  # integers are already whole; the sign of a bool is itself
        return op(input)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Elementwise ``{name}`` (zero gradient)."
    return tensor_method(name)(fn), op


sign, sign_op = _rounding("sign", _sign_fwd)
floor, _ = _rounding("floor", lambda xp, x: xp.floor(x))
ceil, _ = _rounding("ceil", lambda xp, x: xp.ceil(x))
trunc, _ = _rounding("trunc", lambda xp, x: xp.trunc(x))
tensor_method("fix")(trunc)
frac_op = defop("frac", lambda xp, x: x - xp.trunc(x), saves=())
defgrad(frac_op, lambda m, g, ans, x: g)
frac = tensor_method("frac")(lambda input: frac_op(input))

round_op = defop("round", lambda xp, x, decimals: xp.round(x, decimals), saves=())
defgrad(round_op, lambda m, g, ans, x, decimals: g * 0)


@tensor_method("round")
def round(input: Tensor, *, decimals: int = 0) -> Tensor:  # noqa: A001 - PyTorch's name
    """Round half to even (as PyTorch), optionally to ``decimals`` places."""
    if input._data.dtype.kind not in "fV":
        return input.clone()
    return round_op(input, decimals=int(decimals))


def _sign_int(input):
    return sign_op(input)



# ------------------------------------------------------- maximum / minimum --
maximum_op = _binary("maximum", lambda xp, a, b: xp.maximum(a, b))
minimum_op = _binary("minimum", lambda xp, a, b: xp.minimum(a, b))


def _share(m, a, b):
    """The part of the gradient ``maximum(a, b)`` sends to ``a``, as PyTorch: all where
    a > b, half on ties, none where a < b, and all where the pair is unordered (NaN)."""
    return m.astype(m.where(a == b, 0.5, m.where(a < b, 0.0, 1.0)), a.dtype)


# ties split the gradient evenly, as PyTorch
defgrad(maximum_op, lambda m, g, ans, a, b: g * _share(m, a, b),
        lambda m, g, ans, a, b: g * _share(m, b, a))
defgrad(minimum_op, lambda m, g, ans, a, b: g * _share(m, b, a),
        lambda m, g, ans, a, b: g * _share(m, a, b))


@tensor_method("maximum")
def maximum(input, other) -> Tensor:
    """Elementwise maximum (NaN propagates)."""
    a, b = binary_operands(input, other, "maximum")
    return maximum_op(a, b)


@tensor_method("minimum")
def minimum(input, other) -> Tensor:
    """Elementwise minimum (NaN propagates)."""
    a, b = binary_operands(input, other, "minimum")
    return minimum_op(a, b)



# NumPy's fmax/fmin: a NaN loses to a number (maximum/minimum propagate it). PyTorch's rule
# sends the whole gradient to ``a`` where a wins or ties or ``b`` is NaN, else to ``b``
fmax_op = _binary("fmax", lambda xp, a, b: xp.fmax(a, b))
fmin_op = _binary("fmin", lambda xp, a, b: xp.fmin(a, b))


def _or_nan(first_wins, b):
    return first_wins | (b != b)  # (b != b: b is NaN)


defgrad(fmax_op, lambda m, g, ans, a, b: m.where(_or_nan(a >= b, b), g, 0),
        lambda m, g, ans, a, b: m.where(_or_nan(a >= b, b), 0, g))
defgrad(fmin_op, lambda m, g, ans, a, b: m.where(_or_nan(a <= b, b), g, 0),
        lambda m, g, ans, a, b: m.where(_or_nan(a <= b, b), 0, g))


@tensor_method("fmax")
def fmax(input, other) -> Tensor:
    """Elementwise maximum where a NaN loses to a number (``torch.fmax``).

    >>> import chainrule as cr
    >>> cr.fmax(cr.tensor([1.0, float("nan")]), cr.tensor([2.0, 0.0]))
    tensor([2., 0.])
    """
    a, b = binary_operands(input, other, "fmax")
    return fmax_op(a, b)


@tensor_method("fmin")
def fmin(input, other) -> Tensor:
    """Elementwise minimum where a NaN loses to a number (``torch.fmin``).

    >>> import chainrule as cr
    >>> cr.fmin(cr.tensor([1.0, float("nan")]), cr.tensor([2.0, 0.0]))
    tensor([1., 0.])
    """
    a, b = binary_operands(input, other, "fmin")
    return fmin_op(a, b)

# ------------------------------------------------------------------- clamp --
clamp_op = defop("clamp", lambda xp, x, min, max: xp.clip(x, min, max))
defgrad(clamp_op, lambda m, g, ans, x, min, max: g * m.astype(_inside(x, min, max), g.dtype))


def _inside(x, lo, hi):
    """Where ``lo <= x <= hi`` (a bool mask; a bound of None is no bound)."""
    mask = None
    if lo is not None:
        mask = x >= lo
    if hi is not None:
        below = x <= hi
        mask = below if mask is None else mask & below
    return mask


clamp_tensor_op = defop("clamp_tensor", lambda xp, x, lo, hi: xp.minimum(xp.maximum(x, lo), hi))
defgrad(clamp_tensor_op,
        lambda m, g, ans, x, lo, hi: g * m.astype((x >= lo) & (x <= hi), g.dtype),
        lambda m, g, ans, x, lo, hi: g * m.astype((x < lo) & (lo <= hi), g.dtype),
        lambda m, g, ans, x, lo, hi: g * m.astype((x > hi) | (lo > hi), g.dtype))


@tensor_method("clamp", "clip")
def clamp(input: Tensor, min=None, max=None) -> Tensor:  # noqa: A002 - PyTorch's names
    """Limit values to [min, max]; gradient 1 inside (bounds included), 0 outside."""
    if min is None and max is None:
        from .._args import ArgumentError
        raise op_error(ArgumentError, "clamp", "at least one of min and max must be given")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        big = float("inf")
        lo = min if min is not None else -big
        hi = max if max is not None else big
        x, lo_t = binary_operands(input, lo, "clamp")
        x, hi_t = binary_operands(x, hi, "clamp")
        return clamp_tensor_op(x, lo_t, hi_t)
    from .._args import number_value  # bounds NumPy cannot compare with are refused by name
    min = None if min is None else number_value(min, "clamp", "min")
    max = None if max is None else number_value(max, "clamp", "max")
    if input._data.dtype.kind not in "fV" and (isinstance(min, float) or isinstance(max, float)):
        input = input.to(get_default_dtype())
    for bound in (min, max):  # a bound is converted to the input's dtype: it must fit (as PyTorch)
        check_fill_value(bound, input._data.dtype, "clamp")
    return clamp_op(input, min=min, max=max)


clip = clamp


def clamp_min(input: Tensor, min) -> Tensor:  # noqa: A002
    """``input`` limited to at least ``min`` (``torch.clamp_min``)."""
    return clamp(input, min=min)


def clamp_max(input: Tensor, max) -> Tensor:  # noqa: A002
    """``input`` limited to at most ``max`` (``torch.clamp_max``)."""
    return clamp(input, max=max)


Tensor.clamp_min = clamp_min
Tensor.clamp_max = clamp_max

# -------------------------------------------------------------------- where --
where_op = defop("where", lambda xp, c, a, b: xp.where(c, a, b), saves=(0,),
                 explain=_broadcast_explain("where"))
defgrad(where_op, None, lambda m, g, ans, c, a, b: m.where(c, g, 0),
        lambda m, g, ans, c, a, b: m.where(c, 0, g))


def where_fn(condition, input, other) -> Tensor:
    """``input`` where ``condition`` holds, else ``other`` (the public ``where``, in
    indexing.py, adds the one-argument form)."""
    if not isinstance(condition, Tensor):
        from ._operands import as_tensor_arg
        condition = as_tensor_arg(condition, "where")
    if condition._data.dtype.kind != "b":
        condition = condition != 0
    given = (input, other)
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        input = constant(input, condition, scalar_dtype(input).np)
    a, b = binary_operands(input, other, "where")
    for value in given:  # a float operand is written as is: it must fit (as PyTorch)
        check_fill_value(value, a._data.dtype, "where")
    return where_op(condition, a, b)



# --------------------------------------------------------------------- lerp --
lerp_op = defop("lerp", lambda xp, a, b, w: a + w * (b - a), explain=_broadcast_explain("lerp"))
defgrad(lerp_op, lambda m, g, ans, a, b, w: g * (1 - w), lambda m, g, ans, a, b, w: g * w,
        lambda m, g, ans, a, b, w: g * (b - a))


@tensor_method("lerp")
def lerp(input: Tensor, end: Tensor, weight) -> Tensor:
    """``input + weight * (end - input)``."""
    a, b = binary_operands(input, end, "lerp")
    a, w = binary_operands(a, weight, "lerp")
    return lerp_op(a, b, w)
