"""Functional activations (``F.relu``, ``F.gelu`` …).

The elementwise ops themselves live in ``chainrule/ops`` (declared once, with their
rules); these are PyTorch's functional signatures on top, including ``inplace=``.

>>> import chainrule as cr
>>> import chainrule.nn.functional as F
>>> F.relu6(cr.tensor([-1.0, 3.0, 9.0]))
tensor([0., 3., 6.])
"""
from __future__ import annotations

import math

from ...errors import DTypeError, ShapeError, op_error, warn_user
from ...ops import elementwise as ew
from ...ops import activations as act
from ...ops._operands import wrap_dim
from ...ops.inplace import inplace as _inplace
from ...ops.softmax import log_softmax as _log_softmax, softmax as _softmax
from ...tensor import Tensor
from .. import _args

__all__ = ["relu", "relu_", "relu6", "leaky_relu", "leaky_relu_", "elu", "elu_", "selu", "celu",
           "gelu", "silu", "mish", "sigmoid", "tanh", "softplus", "softsign", "softmax",
           "log_softmax", "softmin", "hardtanh", "hardtanh_", "hardsigmoid", "hardswish",
           "logsigmoid", "tanhshrink", "threshold", "prelu", "glu", "hardshrink", "softshrink",
           "rrelu", "rrelu_", "celu_", "selu_", "threshold_"]


def _maybe_inplace(input: Tensor, inplace: bool, name: str, fn) -> Tensor:
    # ``inplace=True`` rewrites ``input`` (version bump, graph rebinding) like PyTorch
    _args.tensor(input, "input", name)
    if inplace:
        return _inplace(input, name + "_", fn)
    return fn(input)


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """``max(x, 0)``."""
    return _maybe_inplace(input, inplace, "relu", act.relu)


def relu_(input: Tensor) -> Tensor:
    return relu(input, inplace=True)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """``x`` where positive, else ``negative_slope * x``."""
    return _maybe_inplace(input, inplace, "leaky_relu", lambda x: act.leaky_relu(x, negative_slope))


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    return leaky_relu(input, negative_slope, inplace=True)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``x`` where positive, else ``alpha * (exp(x) - 1)``."""
    return _maybe_inplace(input, inplace, "elu", lambda x: act.elu(x, alpha))


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    return elu(input, alpha, inplace=True)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """``scale * elu(x, alpha)`` with the self-normalising constants."""
    return _maybe_inplace(input, inplace, "selu", lambda x: act.elu(x, _SELU_ALPHA) * _SELU_SCALE)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``."""
    return _maybe_inplace(input, inplace, "celu", lambda x: act.elu(x / alpha, 1.0) * alpha
                          if alpha != 1.0 else act.elu(x, 1.0))


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit, exact or ``approximate='tanh'``."""
    return act.gelu(input, approximate)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * sigmoid(x)``."""
    return _maybe_inplace(input, inplace, "silu", act.silu)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * tanh(softplus(x))``."""
    return _maybe_inplace(input, inplace, "mish", lambda x: x * ew.tanh(act.softplus(x)))


def sigmoid(input: Tensor) -> Tensor:
    return ew.sigmoid(input)


def tanh(input: Tensor) -> Tensor:
    return ew.tanh(input)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + exp(beta x)) / beta``, linear above ``threshold``."""
    return act.softplus(input, beta, threshold)


def softsign(input: Tensor) -> Tensor:
    """``x / (1 + |x|)``."""
    return input / (ew.abs_fn(input) + 1)


def _softmax_input(input, dtype, op: str) -> None:
    """A floating-point tensor, or one cast to ``dtype`` first (PyTorch has no integer kernel)."""
    _args.tensor(input, "input", op)
    if dtype is None and not input.is_floating_point():
        raise op_error(DTypeError, op, f"expected a floating-point input (or pass dtype=), got "
                       f"{input.dtype.name}")


def _implicit_dim_warning(dim, op: str) -> None:
    """PyTorch still picks a dim when none is given (0 for 0/1/3-D input, else 1), with a warning."""
    if dim is None:
        warn_user(f"Implicit dimension choice for {op} has been deprecated. Change the call to "
                  "include dim=X as an argument.")


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``dim``."""
    _softmax_input(input, dtype, "softmax")
    _implicit_dim_warning(dim, "softmax")
    return _softmax(input, dim, dtype)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """``log(softmax(x))`` along ``dim``, computed stably."""
    _softmax_input(input, dtype, "log_softmax")
    _implicit_dim_warning(dim, "log_softmax")
    return _log_softmax(input, dim, dtype)


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """``softmax(-x)``."""
    _softmax_input(input, dtype, "softmin")
    _implicit_dim_warning(dim, "softmin")
    return _softmax(-input, dim, dtype)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0,
             inplace: bool = False) -> Tensor:
    """``clamp(x, min_val, max_val)``; gradient 0 at and beyond the bounds (as PyTorch)."""
    if min_val > max_val:
        raise op_error(ValueError, "hardtanh", f"min_val ({min_val}) must not exceed max_val ({max_val})")

    def fn(x):
        # PyTorch's hardtanh passes gradient only strictly inside (min, max)
        inside = (x > min_val) & (x < max_val)
        return ew.where_fn(inside, x, ew.clamp(x, min_val, max_val).detach())
    return _maybe_inplace(input, inplace, "hardtanh", fn)


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    return hardtanh(input, min_val, max_val, inplace=True)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """``min(max(x, 0), 6)``."""
    return hardtanh(input, 0.0, 6.0, inplace)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """``relu6(x + 3) / 6``."""
    return _maybe_inplace(input, inplace, "hardsigmoid", lambda x: hardtanh(x + 3, 0.0, 6.0) / 6)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * relu6(x + 3) / 6``; its gradient is that of the product, as PyTorch's
    except exactly at ±3."""
    return _maybe_inplace(input, inplace, "hardswish",
                          lambda x: x * ew.clamp(x + 3, 0.0, 6.0) / 6)


def logsigmoid(input: Tensor) -> Tensor:
    """``log(sigmoid(x)) = -softplus(-x)``, stable for large |x|."""
    return -act.softplus(-input, 1.0, math.inf)


def tanhshrink(input: Tensor) -> Tensor:
    """``x - tanh(x)``."""
    return input - ew.tanh(input)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """``x`` where ``x > threshold``, else ``value``."""
    return _maybe_inplace(input, inplace, "threshold",
                          lambda x: ew.where_fn(x > threshold, x, value))


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """``x`` where positive, else ``weight * x``; ``weight`` has 1 or C (= dim 1) entries."""
    _args.tensor(input, "input", "prelu")
    _args.tensor(weight, "weight", "prelu")
    n = weight.numel()
    if n != 1:
        if input.ndim < 1 or (input.shape[1] if input.ndim >= 2 else input.shape[0]) != n:
            raise op_error(ShapeError, "prelu", f"weight has {n} entries but input of shape "
                           f"{tuple(input.shape)} has {input.shape[1] if input.ndim >= 2 else input.shape[0]}"
                           " channels (dim 1); expected 1 or that many")
        shape = [1] * input.ndim
        shape[1 if input.ndim >= 2 else 0] = n
        weight = weight.reshape(shape)
    return ew.where_fn(input > 0, input, weight * input)


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """``a * sigmoid(b)`` where ``a, b`` are the halves of ``input`` along ``dim``."""
    _args.tensor(input, "input", "glu")
    dim = wrap_dim(dim, input.ndim, "glu")
    if input.shape[dim] % 2:
        raise op_error(ShapeError, "glu", f"dim {dim} of input of shape {tuple(input.shape)} must "
                       "have an even size")
    a, b = input.chunk(2, dim)
    return a * ew.sigmoid(b)


# ------------------------------------------------ shrinkage, rrelu, in-place --
def _lambd(input: Tensor, lambd: float, op: str) -> None:
    _args.tensor(input, "input", op)
    if lambd < 0:
        raise op_error(ValueError, op, f"lambda must be in range [0, inf) for input dtype "
                       f"{input.dtype.name}, but found {lambd}")


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """``x`` where ``|x| > lambd``, else 0."""
    _lambd(input, lambd, "hardshrink")
    return ew.where_fn((input > lambd) | (input < -lambd), input, 0.0)


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """``x - lambd`` above ``lambd``, ``x + lambd`` below ``-lambd``, else 0."""
    _lambd(input, lambd, "softshrink")
    return ew.where_fn(input > lambd, input - lambd,
                       ew.where_fn(input < -lambd, input + lambd, 0.0))


def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
          inplace: bool = False) -> Tensor:
    """Leaky ReLU with a random slope per element drawn from U(lower, upper) in training, and
    the mean slope ``(lower + upper) / 2`` otherwise."""
    _args.tensor(input, "input", "rrelu")
    if lower > upper:
        raise op_error(ValueError, "rrelu", f"lower bound ({lower}) should be less than or equal "
                       f"to the upper bound ({upper})")
    if not training:
        return leaky_relu(input, (lower + upper) / 2, inplace)
    from ...backends import backend_of
    from ...random import _rng
    dtype = input._data.dtype
    draws = _rng(None, "rrelu", input.device).uniform(lower, upper, tuple(input.shape)).astype(dtype)
    xp = backend_of(input._data)  # (the slopes are drawn on the input's device)
    slopes = Tensor._make(draws if xp.is_array(draws) else xp.from_host(draws))
    return _maybe_inplace(input, inplace, "rrelu",
                          lambda x: ew.where_fn(x >= 0, x, x * slopes))


def rrelu_(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
           training: bool = False) -> Tensor:
    return rrelu(input, lower, upper, training, inplace=True)


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    return celu(input, alpha, inplace=True)


def selu_(input: Tensor) -> Tensor:
    return selu(input, inplace=True)


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    return globals()["threshold"](input, threshold, value, inplace=True)
