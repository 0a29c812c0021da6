"""Elementwise ops: arithmetic, unary math, comparisons. One rule a line.

Each op is declared with ``defop`` (forward on arrays) and ``defvjp`` (one rule per
input, on Tensors); the public function below it converts arguments. Gradients
may come back with the broadcast shape: the engine sums them down.
"""
from __future__ import annotations

import math

from ..backends import NUMPY
from ..dtypes import get_default_dtype, scalar_dtype
from ..errors import DTypeError, op_error
from ..tensor import Tensor
from ._operands import binary_operands, check_fill_value, constant, is_scalar, tensor_method
from .registry import REGISTRY, defop, defvjp, defvjp_raw, nondifferentiable


def _broadcast_explain(name):
    def explain(inputs, params):
        shapes = [tuple(t.shape) for t in inputs]
        return (f"cannot broadcast shapes {' and '.join(str(s) for s in shapes)}: from the right, "
                f"each pair of sizes must be equal or one of them 1")
    return explain


def _binary(name, fwd, **kw):
    return defop(name, fwd, explain=_broadcast_explain(name), **kw)


# ---------------------------------------------------------------- arithmetic --
add = _binary("add", lambda xp, a, b: xp.add(a, b), saves=())
sub = _binary("sub", lambda xp, a, b: xp.subtract(a, b), saves=())
mul = _binary("mul", lambda xp, a, b: xp.multiply(a, b), reads=((1,), (0,)))
div = _binary("div", lambda xp, a, b: xp.true_divide(a, b), saves=(1,), saves_ans=True)
neg = defop("neg", lambda xp, a: xp.negative(a), saves=())

defvjp(add, lambda g, ans, a, b: g, lambda g, ans, a, b: g)
defvjp(sub, lambda g, ans, a, b: g, lambda g, ans, a, b: -g)
defvjp(mul, lambda g, ans, a, b: g * b, lambda g, ans, a, b: g * a)
defvjp(div, lambda g, ans, a, b: g / b, lambda g, ans, a, b: -g * ans / b)
defvjp(neg, lambda g, ans, a: -g)
defvjp_raw(add, lambda xp, g, ans, a, b: g, lambda xp, g, ans, a, b: g)
defvjp_raw(sub, lambda xp, g, ans, a, b: g, lambda xp, g, ans, a, b: -g)
defvjp_raw(mul, lambda xp, g, ans, a, b: g * b, lambda xp, g, ans, a, b: g * a)
defvjp_raw(div, lambda xp, g, ans, a, b: g / b, lambda xp, g, ans, a, b: -g * ans / b)
defvjp_raw(neg, lambda xp, g, ans, a: -g)


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
defvjp(floor_divide_op, lambda g, ans, a, b: g * 0, lambda g, ans, a, b: g * 0)
defvjp(remainder, lambda g, ans, a, b: g, lambda g, ans, a, b: -g * floor_divide_fn(a, b))
defvjp(fmod, lambda g, ans, a, b: g, lambda g, ans, a, b: -g * trunc(a / b))


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


def _pow_grad_base(g, ans, a, b):
    # 0 where the exponent is 0, even at a == 0 (PyTorch's convention; not 0 * inf)
    return where_fn(b == 0, 0.0, g * b * pow_fn(a, b - 1))


def _pow_grad_exp(g, ans, a, b):
    # d/db a**b = a**b * log(a); 0 where a == 0 and b >= 0 (PyTorch's convention), but
    # inf * -inf = -inf where a == 0 and b < 0, as PyTorch's. The mask is applied with
    # where, not a product (nan * 0 is nan), and log never sees the masked zeros
    zero = (a == 0) & (b >= 0)
    return where_fn(zero, 0.0, g * ans * log(where_fn(zero, 1.0, a)))


defvjp(pow_op, _pow_grad_base, _pow_grad_exp)


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


def _pow_scalar_grad(g, ans, a, exponent):
    if exponent == 0:
        return g * 0
    if exponent == 1:
        return g
    return g * exponent * pow_scalar(a, exponent - 1)


defvjp(pow_scalar_op, _pow_scalar_grad)


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
    defvjp(op, rule)

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

exp = _unary("exp", lambda xp, x: xp.exp(x), lambda g, ans, x: g * ans, saves=_NO_INPUT, saves_ans=True)
expm1 = _unary("expm1", lambda xp, x: xp.expm1(x), lambda g, ans, x: g * (ans + 1),
               saves=_NO_INPUT, saves_ans=True)
exp2 = _unary("exp2", lambda xp, x: xp.exp2(x), lambda g, ans, x: g * ans * math.log(2),
              saves=_NO_INPUT, saves_ans=True)
log = _unary("log", lambda xp, x: xp.log(x), lambda g, ans, x: g / x)
log2 = _unary("log2", lambda xp, x: xp.log2(x), lambda g, ans, x: g / (x * math.log(2)))
log10 = _unary("log10", lambda xp, x: xp.log10(x), lambda g, ans, x: g / (x * math.log(10)))
log1p = _unary("log1p", lambda xp, x: xp.log1p(x), lambda g, ans, x: g / (x + 1))
sqrt = _unary("sqrt", lambda xp, x: xp.sqrt(x), lambda g, ans, x: g / (ans * 2),
              saves=_NO_INPUT, saves_ans=True)
rsqrt = _unary("rsqrt", lambda xp, x: 1 / xp.sqrt(x), lambda g, ans, x: g * -0.5 * ans * ans * ans,
               saves=_NO_INPUT, saves_ans=True)
sin = _unary("sin", lambda xp, x: xp.sin(x), lambda g, ans, x: g * cos(x))
cos = _unary("cos", lambda xp, x: xp.cos(x), lambda g, ans, x: -g * sin(x))
tan = _unary("tan", lambda xp, x: xp.tan(x), lambda g, ans, x: g * (ans * ans + 1),
             saves=_NO_INPUT, saves_ans=True)
asin = _unary("asin", lambda xp, x: xp.arcsin(x), lambda g, ans, x: g * rsqrt(1 - x * x),
              aliases=("arcsin",))
acos = _unary("acos", lambda xp, x: xp.arccos(x), lambda g, ans, x: -g * rsqrt(1 - x * x),
              aliases=("arccos",))
atan = _unary("atan", lambda xp, x: xp.arctan(x), lambda g, ans, x: g / (x * x + 1),
              aliases=("arctan",))
sinh = _unary("sinh", lambda xp, x: xp.sinh(x), lambda g, ans, x: g * cosh(x))
cosh = _unary("cosh", lambda xp, x: xp.cosh(x), lambda g, ans, x: g * sinh(x))
tanh = _unary("tanh", lambda xp, x: xp.tanh(x), lambda g, ans, x: g * (1 - ans * ans),
              saves=_NO_INPUT, saves_ans=True)
reciprocal = _unary("reciprocal", lambda xp, x: 1 / x, lambda g, ans, x: -g * ans * ans,
                    saves=_NO_INPUT, saves_ans=True)


_SIMD_FLOATS = (NUMPY.dtype("float32"), NUMPY.dtype("float64"))


def sigmoid_into(xp, x, out):
    """``out = 1 / (1 + exp(-x))`` (``out`` may be ``x``) on NumPy float32/float64 arrays:
    four SIMD passes and no temporaries, about 4x faster than SciPy's ``expit`` loop, within
    a few ulp of it (PyTorch's CPU kernel uses the same formula). ``exp(-x)`` overflows to
    inf below x ≈ -88 (float32), where ``1 / inf`` is the exact limit 0, and underflows to
    0 for large x, where the result is 1: neither warns (nor raises under ``np.seterr``)."""
    with xp.errstate(over="ignore", under="ignore"):
        # not negative(x, out=x): NumPy 2.4's float32 negative in place is wrong on (N, 1)
        # column views (it steps as if contiguous); a multiply by -1 is exact and safe
        xp.multiply(x, out.dtype.type(-1), out=out)
        xp.exp(out, out=out)
        out += 1
        xp.reciprocal(out, out=out)
    return out


def _sigmoid_fwd(xp, x):
    if xp is NUMPY and x.dtype in _SIMD_FLOATS and isinstance(x, xp.ndarray):
        return sigmoid_into(xp, x, xp.empty_like(x))
    return _sigmoid_general(xp, x)


def sigmoid_(xp, a) -> None:
    """``a = sigmoid(a)`` in place (no temporary on NumPy float32/float64)."""
    if xp is NUMPY and a.dtype in _SIMD_FLOATS:
        sigmoid_into(xp, a, a)
    else:
        a[...] = _sigmoid_general(xp, a)


def _sigmoid_general(xp, x):
    """Any backend and dtype: SciPy/CuPy's expit when installed, else a stable formula."""
    fn = _special(xp, "expit")
    if fn is not None:
        return fn(x).astype(x.dtype, copy=False)  # (SciPy computes float16 in float64)
    # exp of a non-positive number only: no overflow for large |x|
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


sigmoid = _unary("sigmoid", _sigmoid_fwd, lambda g, ans, x: g * ans * (1 - ans),
                 saves=_NO_INPUT, saves_ans=True)


def _special(xp, name: str):
    """``erf``/``erfinv`` from the backend when it has them (SciPy's or CuPy's special
    functions), else None: NumPy itself has no erf, so the callers fall back."""
    return getattr(xp, name, None)


def _erf_fwd(xp, x):
    fn = _special(xp, "erf")
    if fn is not None:
        return fn(x)
    return xp.frompyfunc(math.erf, 1, 1)(x).astype(x.dtype) if x.ndim else \
        xp.asarray(math.erf(float(x)), dtype=x.dtype)


erf = _unary("erf", _erf_fwd, lambda g, ans, x: g * (2 / math.sqrt(math.pi)) * exp(-x * x))


def _erfinv_fwd(xp, x):
    fn = _special(xp, "erfinv")
    if fn is not None:
        return fn(x)
    # Giles' single-precision start, then Newton steps on erf(y) = x (quadratic: 3 suffice)
    inside = xp.abs(x) < 1
    x_in = xp.where(inside, x, 0)  # ±1 map to ±inf below, out of range to nan
    w = -xp.log((1.0 - x_in) * (1.0 + x_in))
    small = w < 5.0
    ws = w - 2.5
    wl = xp.sqrt(xp.maximum(w, 5.0)) - 3.0
    ps = 2.81022636e-08
    for c in (3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503,
              -0.00417768164, 0.246640727, 1.50140941):
        ps = c + ps * ws
    pl = -0.000200214257
    for c in (0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613,
              0.00943887047, 1.00167406, 2.83297682):
        pl = c + pl * wl
    y = xp.where(small, ps, pl) * x_in
    for _ in range(3):
        y = y - (_erf_fwd(xp, y) - x_in) / (2.0 / math.sqrt(math.pi) * xp.exp(-y * y))
    y = xp.where(inside, y, xp.where(x == 1, xp.inf, xp.where(x == -1, -xp.inf, xp.nan)))
    return xp.asarray(y, dtype=x.dtype)


erfinv = _unary("erfinv", _erfinv_fwd,
                lambda g, ans, x: g * (math.sqrt(math.pi) / 2) * exp(ans * ans),
                saves=_NO_INPUT, saves_ans=True)

def _sign_fwd(xp, x):
    """``sign(x)``, 0 at nan as PyTorch's (NumPy's is nan): abs' gradient at nan is 0 too."""
    s = xp.sign(x)
    return xp.where(x == x, s, 0) if s.dtype.kind == "f" else s


abs_op = defop("abs", lambda xp, x: xp.abs(x))
defvjp(abs_op, lambda g, ans, x: g * sign(x))


@tensor_method("abs", "absolute", "__abs__")
def abs_fn(input: Tensor) -> Tensor:
    """Elementwise absolute value."""
    return abs_op(input)


square_op = defop("square", lambda xp, x: xp.square(x))
defvjp(square_op, lambda g, ans, x: g * 2 * x)


@tensor_method("square")
def square(input: Tensor) -> Tensor:
    """``input * input``."""
    if input._data.dtype.kind == "b":
        input = input.long()
    return square_op(input)


# piecewise constant: derivative zero everywhere it exists (as PyTorch)
def _zero_grad(g, ans, x):
    return g * 0


def _rounding(name, fwd):
    op = defop(name, fwd, saves=())
    defvjp(op, _zero_grad)

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
defvjp(frac_op, lambda g, ans, x: g)
frac = tensor_method("frac")(lambda input: frac_op(input))

round_op = defop("round", lambda xp, x, decimals: xp.round(x, decimals), saves=())
defvjp(round_op, lambda g, ans, x, decimals: g * 0)


@tensor_method("round")
def round(input: Tensor, *, decimals: int = 0) -> Tensor:  # noqa: A001 - PyTorch's name
    """Round half to even (as PyTorch), optionally to ``decimals`` places."""
    if input._data.dtype.kind not in "fV":
        return input.clone()
    return round_op(input, decimals=int(decimals))


def _sign_int(input):
    return sign_op(input)


# ------------------------------------------------------ activations (unary) --
relu_op = defop("relu", lambda xp, x: xp.relu(x),
                saves=_NO_INPUT, saves_ans=True)
# the rule is one op on arrays (not a recorded mask and multiply): its own rule passes
# gradients through the same mask, and nothing flows into the mask itself
def _relu_pass(xp, g, ans):
    """``g`` where ``ans`` is not ≤ 0: where relu's output is positive, or NaN (PyTorch lets
    the gradient through a NaN); a mask in g's dtype, then a same-dtype multiply (g × bool is
    a casting loop, ~15% slower)."""
    mask = (~(ans <= 0)).astype(g.dtype)
    mask *= g
    return mask


relu_grad_op = defop("relu_grad", _relu_pass,
                     saves=(1,))
defvjp(relu_grad_op, lambda gg, _, g, ans: relu_grad_op(gg, ans), lambda gg, _, g, ans: None)
defvjp(relu_op, lambda g, ans, x: relu_grad_op(g, ans))


@tensor_method("relu")
def relu(input: Tensor) -> Tensor:
    """``max(input, 0)``; gradient 0 at 0, as PyTorch."""
    return relu_op(input)


leaky_relu_op = defop("leaky_relu", lambda xp, x, negative_slope:
                      xp.where(x > 0, x, x * negative_slope).astype(x.dtype, copy=False))
defvjp(leaky_relu_op, lambda g, ans, x, negative_slope:
       g * where_fn(x > 0, 1.0, negative_slope).to(g.dtype))


def leaky_relu(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """``x`` where positive, else ``negative_slope * x``."""
    return leaky_relu_op(input, negative_slope=float(negative_slope))


elu_op = defop("elu", lambda xp, x, alpha:
               xp.where(x > 0, x, alpha * xp.expm1(xp.minimum(x, 0))).astype(x.dtype, copy=False),
               saves_ans=True)
defvjp(elu_op, lambda g, ans, x, alpha: g * where_fn(x > 0, 1.0, ans + alpha).to(g.dtype))


def elu(input: Tensor, alpha: float = 1.0) -> Tensor:
    """``x`` where positive, else ``alpha * (exp(x) - 1)``."""
    return elu_op(input, alpha=float(alpha))


def _softplus_fwd(xp, x, beta, threshold):
    bx = x * beta
    soft = (xp.maximum(bx, 0) + xp.log1p(xp.exp(-xp.abs(bx)))) / beta
    return xp.where(bx > threshold, x, soft).astype(x.dtype, copy=False)


softplus_op = defop("softplus", _softplus_fwd)
defvjp(softplus_op, lambda g, ans, x, beta, threshold:
       g * where_fn(x * beta > threshold, 1.0, sigmoid(x * beta)).to(g.dtype))


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + exp(beta x)) / beta``, linear above ``threshold`` (as PyTorch)."""
    return softplus_op(input, beta=float(beta), threshold=float(threshold))


def silu(input: Tensor) -> Tensor:
    """``x * sigmoid(x)`` (swish)."""
    return silu_op(input)


silu_op = defop("silu", lambda xp, x: x * _sigmoid_fwd(xp, x))
defvjp(silu_op, lambda g, ans, x: g * (sigmoid(x) * (1 + x * (1 - sigmoid(x)))))

_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)


def _gelu_fwd(xp, x, approximate):
    if approximate == "tanh":
        inner = _SQRT_2_OVER_PI * (x + 0.044715 * x ** 3)
        return (0.5 * x * (1 + xp.tanh(inner))).astype(x.dtype, copy=False)
    return (0.5 * x * (1 + _erf_fwd(xp, x / math.sqrt(2)))).astype(x.dtype, copy=False)


def _gelu_grad(g, ans, x, approximate):
    if approximate == "tanh":
        inner = _SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)
        t = tanh(inner)
        d_inner = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x)
        return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * d_inner)
    cdf = 0.5 * (1 + erf(x / math.sqrt(2)))
    pdf = exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
    return g * (cdf + x * pdf)


gelu_op = defop("gelu", _gelu_fwd)
defvjp(gelu_op, _gelu_grad)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit: exact (``'none'``) or the ``'tanh'`` approximation."""
    if approximate not in ("none", "tanh"):
        raise op_error(ValueError, "gelu", f"approximate must be 'none' or 'tanh', got {approximate!r}")
    return gelu_op(input, approximate=approximate)


def _attach_activations():
    for fn in (leaky_relu, elu, softplus, silu, gelu):
        setattr(Tensor, fn.__name__, fn)


_attach_activations()

# ------------------------------------------------------- maximum / minimum --
maximum_op = _binary("maximum", lambda xp, a, b: xp.maximum(a, b))
minimum_op = _binary("minimum", lambda xp, a, b: xp.minimum(a, b))


def _share(a, b):
    """The part of the gradient ``maximum(a, b)`` sends to ``a``, as PyTorch: all where
    a > b, half on ties, none where a < b, and all where the pair is unordered (NaN)."""
    return where_fn(a == b, 0.5, where_fn(a < b, 0.0, 1.0)).to(a.dtype)


# ties split the gradient evenly, as PyTorch
defvjp(maximum_op, lambda g, ans, a, b: g * _share(a, b), lambda g, ans, a, b: g * _share(b, a))
defvjp(minimum_op, lambda g, ans, a, b: g * _share(b, a), lambda g, ans, a, b: g * _share(a, b))


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


fmax, fmin = maximum, minimum

# ------------------------------------------------------------------- clamp --
clamp_op = defop("clamp", lambda xp, x, min, max: xp.clip(x, min, max))
defvjp(clamp_op, lambda g, ans, x, min, max: g * _inside(x, min, max))


def _inside(x, lo, hi):
    mask = None
    if lo is not None:
        mask = x >= lo
    if hi is not None:
        m = x <= hi
        mask = m if mask is None else mask & m
    return mask.to(x.dtype)


clamp_tensor_op = defop("clamp_tensor", lambda xp, x, lo, hi: xp.minimum(xp.maximum(x, lo), hi))
defvjp(clamp_tensor_op,
       lambda g, ans, x, lo, hi: g * ((x >= lo) & (x <= hi)).to(g.dtype),
       lambda g, ans, x, lo, hi: g * ((x < lo) & (lo <= hi)).to(g.dtype),
       lambda g, ans, x, lo, hi: g * ((x > hi) | (lo > hi)).to(g.dtype))


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
    return clamp(input, min=min)


def clamp_max(input: Tensor, max) -> Tensor:  # noqa: A002
    return clamp(input, max=max)


Tensor.clamp_min = clamp_min
Tensor.clamp_max = clamp_max

# -------------------------------------------------------------------- where --
where_op = defop("where", lambda xp, c, a, b: xp.where(c, a, b), saves=(0,),
                 explain=_broadcast_explain("where"))
defvjp(where_op, None, lambda g, ans, c, a, b: where_fn(c, g, 0.0),
       lambda g, ans, c, a, b: where_fn(c, 0.0, g))


@tensor_method("where")
def where_fn(condition, input=None, other=None) -> Tensor:
    """``input`` where ``condition`` holds, else ``other``; one argument: ``nonzero`` tuple."""
    if input is None and other is None:
        from .indexing import nonzero
        return nonzero(condition, as_tuple=True)
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


where = where_fn

# --------------------------------------------------------------------- lerp --
lerp_op = defop("lerp", lambda xp, a, b, w: a + w * (b - a), explain=_broadcast_explain("lerp"))
defvjp(lerp_op, lambda g, ans, a, b, w: g * (1 - w), lambda g, ans, a, b, w: g * w,
       lambda g, ans, a, b, w: g * (b - a))


@tensor_method("lerp")
def lerp(input: Tensor, end: Tensor, weight) -> Tensor:
    """``input + weight * (end - input)``."""
    a, b = binary_operands(input, end, "lerp")
    a, w = binary_operands(a, weight, "lerp")
    return lerp_op(a, b, w)


# ------------------------------------------------ comparisons and logic --
# Their outputs are bool: nothing to differentiate.

def _compare(name, fwd, dunder=None, aliases=()):
    op = nondifferentiable(defop(name, fwd, explain=_broadcast_explain(name)),
                           "comparisons are piecewise constant with bool output")

    def fn(input, other) -> Tensor:
        a, b = binary_operands(input, other, name)
        return op(a, b)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Elementwise ``{name}`` (bool result)."
    tensor_method(name, *aliases, *((dunder,) if dunder else ()))(fn)
    return fn


eq = _compare("eq", lambda xp, a, b: xp.equal(a, b), "__eq__")
ne = _compare("ne", lambda xp, a, b: xp.not_equal(a, b), "__ne__", ("not_equal",))
lt = _compare("lt", lambda xp, a, b: xp.less(a, b), "__lt__", ("less",))
le = _compare("le", lambda xp, a, b: xp.less_equal(a, b), "__le__", ("less_equal",))
gt = _compare("gt", lambda xp, a, b: xp.greater(a, b), "__gt__", ("greater",))
ge = _compare("ge", lambda xp, a, b: xp.greater_equal(a, b), "__ge__", ("greater_equal",))
logical_and = _compare("logical_and", lambda xp, a, b: xp.logical_and(a, b))
logical_or = _compare("logical_or", lambda xp, a, b: xp.logical_or(a, b))
logical_xor = _compare("logical_xor", lambda xp, a, b: xp.logical_xor(a, b))

_bitwise_and = nondifferentiable(defop("bitwise_and", lambda xp, a, b: a & b), "bitwise")
_bitwise_or = nondifferentiable(defop("bitwise_or", lambda xp, a, b: a | b), "bitwise")
_bitwise_xor = nondifferentiable(defop("bitwise_xor", lambda xp, a, b: a ^ b), "bitwise")
_logical_not = nondifferentiable(defop("logical_not", lambda xp, a: xp.logical_not(a)), "bool output")
_bitwise_not = nondifferentiable(defop("bitwise_not", lambda xp, a: ~a), "bitwise")
_isnan = nondifferentiable(defop("isnan", lambda xp, a: xp.isnan(a)), "bool output")
_isinf = nondifferentiable(defop("isinf", lambda xp, a: xp.isinf(a)), "bool output")
_isfinite = nondifferentiable(defop("isfinite", lambda xp, a: xp.isfinite(a)), "bool output")


def _bitwise(op, name):
    def fn(input, other) -> Tensor:
        a, b = binary_operands(input, other, name)
        if a._data.dtype.kind in "fV":
            raise op_error(DTypeError, name, f"expected integer or bool tensors, got {a.dtype.name}")
        return op(a, b)
    fn.__name__ = fn.__qualname__ = name
    return fn


bitwise_and = tensor_method("bitwise_and", "__and__")(_bitwise(_bitwise_and, "bitwise_and"))
bitwise_or = tensor_method("bitwise_or", "__or__")(_bitwise(_bitwise_or, "bitwise_or"))
bitwise_xor = tensor_method("bitwise_xor", "__xor__")(_bitwise(_bitwise_xor, "bitwise_xor"))
Tensor.__rand__ = lambda self, other: bitwise_and(other, self)
Tensor.__ror__ = lambda self, other: bitwise_or(other, self)
Tensor.__rxor__ = lambda self, other: bitwise_xor(other, self)


@tensor_method("logical_not")
def logical_not(input: Tensor) -> Tensor:
    return _logical_not(input)


@tensor_method("bitwise_not", "__invert__")
def bitwise_not(input: Tensor) -> Tensor:
    if input._data.dtype.kind in "fV":
        raise op_error(DTypeError, "bitwise_not", f"expected an integer or bool tensor, got "
                       f"{input.dtype.name}")
    return _bitwise_not(input)


isnan = tensor_method("isnan")(lambda input: _isnan(input))
isinf = tensor_method("isinf")(lambda input: _isinf(input))
isfinite = tensor_method("isfinite")(lambda input: _isfinite(input))


def isclose(input: Tensor, other: Tensor, rtol: float = 1e-5, atol: float = 1e-8,
            equal_nan: bool = False) -> Tensor:
    """``|input - other| <= atol + rtol * |other|`` elementwise."""
    from ..backends import backend_of
    a, b = binary_operands(input, other, "isclose")
    xp = backend_of(a._data)
    return Tensor._make(xp.isclose(a._data, b._data, rtol=rtol, atol=atol, equal_nan=equal_nan))


def allclose(input: Tensor, other: Tensor, rtol: float = 1e-5, atol: float = 1e-8,
             equal_nan: bool = False) -> bool:
    """True when every element is ``isclose``."""
    return isclose(input, other, rtol, atol, equal_nan)._data.all().item()


def equal(input: Tensor, other: Tensor) -> bool:
    """True when both have the same shape and values."""
    return tuple(input.shape) == tuple(other.shape) and eq(input, other)._data.all().item()


Tensor.isclose = isclose
Tensor.allclose = allclose
Tensor.equal = equal


# -------------------------------------------- array twins of the rules above --
# The same derivatives on raw arrays, for a first-order backward (see defvjp_raw);
# the Tensor rules above stay the definition, used for higher orders.
def _twin(name: str, *rules) -> None:
    defvjp_raw(REGISTRY[name], *rules)


def _pow_scalar_raw(xp, g, ans, a, exponent):
    if exponent == 0:
        return g * 0
    if exponent == 1:
        return g
    return g * exponent * xp.power(a, exponent - 1)


def _silu_raw(xp, g, ans, x):
    s = _sigmoid_fwd(xp, x)
    return g * (s * (1 + x * (1 - s)))


def _gelu_raw(xp, g, ans, x, approximate):
    if approximate == "tanh":
        t = xp.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x))
        d_inner = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x)
        return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * d_inner)
    cdf = 0.5 * (1 + _erf_fwd(xp, x / math.sqrt(2)))
    pdf = xp.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
    return g * (cdf + x * pdf)


def _share_raw(xp, a, b):
    return xp.where(a == b, 0.5, xp.where(a < b, 0.0, 1.0)).astype(a.dtype)


def _inside_raw(x, lo, hi):
    mask = None
    if lo is not None:
        mask = x >= lo
    if hi is not None:
        mask = (x <= hi) if mask is None else mask & (x <= hi)
    return mask


_twin("exp", lambda xp, g, ans, x: g * ans)
_twin("expm1", lambda xp, g, ans, x: g * (ans + 1))
_twin("log", lambda xp, g, ans, x: g / x)
_twin("log1p", lambda xp, g, ans, x: g / (x + 1))
_twin("sqrt", lambda xp, g, ans, x: g / (ans * 2))
_twin("rsqrt", lambda xp, g, ans, x: g * -0.5 * ans * ans * ans)
_twin("sin", lambda xp, g, ans, x: g * xp.cos(x))
_twin("cos", lambda xp, g, ans, x: -g * xp.sin(x))
_twin("tanh", lambda xp, g, ans, x: g * (1 - ans * ans))
_twin("reciprocal", lambda xp, g, ans, x: -g * ans * ans)
_twin("sigmoid", lambda xp, g, ans, x: g * ans * (1 - ans))
_twin("abs", lambda xp, g, ans, x: g * _sign_fwd(xp, x))
_twin("square", lambda xp, g, ans, x: g * 2 * x)
_twin("pow_scalar", _pow_scalar_raw)
_twin("relu", lambda xp, g, ans, x: _relu_pass(xp, g, ans))
_twin("leaky_relu", lambda xp, g, ans, x, negative_slope:
      g * xp.where(x > 0, 1.0, negative_slope).astype(g.dtype))
_twin("elu", lambda xp, g, ans, x, alpha: g * xp.where(x > 0, 1.0, ans + alpha).astype(g.dtype))
_twin("silu", _silu_raw)
_twin("softplus", lambda xp, g, ans, x, beta, threshold:
      g * xp.where(x * beta > threshold, 1.0, _sigmoid_fwd(xp, x * beta)).astype(g.dtype))
_twin("gelu", _gelu_raw)
_twin("maximum", lambda xp, g, ans, a, b: g * _share_raw(xp, a, b),
      lambda xp, g, ans, a, b: g * _share_raw(xp, b, a))
_twin("minimum", lambda xp, g, ans, a, b: g * _share_raw(xp, b, a),
      lambda xp, g, ans, a, b: g * _share_raw(xp, a, b))
_twin("clamp", lambda xp, g, ans, x, min, max: xp.multiply(g, _inside_raw(x, min, max), dtype=g.dtype))
_twin("where", None, lambda xp, g, ans, c, a, b: xp.where(c, g, 0).astype(g.dtype, copy=False),
      lambda xp, g, ans, c, a, b: xp.where(c, 0, g).astype(g.dtype, copy=False))
_twin("lerp", lambda xp, g, ans, a, b, w: g * (1 - w), lambda xp, g, ans, a, b, w: g * w,
      lambda xp, g, ans, a, b, w: g * (b - a))
