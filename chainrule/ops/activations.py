"""Activation ops (relu, leaky_relu, elu, softplus, silu, gelu): forwards and rules.

Split from ``elementwise.py`` (which re-exports every name here) because activations are
a family of their own that ``nn.functional`` builds on; sigmoid and tanh stay with the
unary math they are. Imported at the end of ``elementwise.py``: the rules here reuse the
``sigmoid`` and ``erf`` ops registered there.
"""
from __future__ import annotations

import math

from ..backends import NUMPY
from ..backends.cupy_fused import fused_kernel
from ..errors import op_error
from ..tensor import Tensor
from ._operands import tensor_method
from .numpy_kernels import _erf_fwd, _relu_pass, _sigmoid_fwd
from .registry import REGISTRY, defgrad, defop

_NO_INPUT = ()  # the rule needs only ``ans``
sigmoid_op = REGISTRY["sigmoid"]
erf_op = REGISTRY["erf"]

# ------------------------------------------------------ activations (unary) --
relu_op = defop("relu", lambda xp, x: xp.relu(x),
                saves=_NO_INPUT, saves_ans=True)
# the rule is a backward op (a kernel on arrays, not a recorded mask and multiply): its own
# rule passes gradients through the same mask, and nothing flows into the mask itself


def _relu_grad_fwd(xp, g, ans):
    if xp is not NUMPY:  # CuPy: the mask and the multiply in one kernel
        kernel = fused_kernel(xp, "relu_backward", g, ans)
        if kernel is not None:
            return kernel(g, ans)
    return _relu_pass(xp, g, ans)


relu_grad_op = defop("relu_grad", _relu_grad_fwd,
                     saves=(1,))
defgrad(relu_grad_op, lambda m, gg, _, g, ans: relu_grad_op.on(m, gg, ans),
        lambda m, gg, _, g, ans: None)
defgrad(relu_op, lambda m, g, ans, x: relu_grad_op.on(m, g, ans))


@tensor_method("relu")
def relu(input: Tensor) -> Tensor:
    """``max(input, 0)``; gradient 0 at 0, as PyTorch."""
    return relu_op(input)


leaky_relu_op = defop("leaky_relu", lambda xp, x, negative_slope:
                      xp.where(x > 0, x, x * negative_slope).astype(x.dtype, copy=False))
defgrad(leaky_relu_op, lambda m, g, ans, x, negative_slope:
        g * m.astype(m.where(x > 0, 1.0, negative_slope), g.dtype))


def leaky_relu(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """``x`` where positive, else ``negative_slope * x``."""
    return leaky_relu_op(input, negative_slope=float(negative_slope))


elu_op = defop("elu", lambda xp, x, alpha:
               xp.where(x > 0, x, alpha * xp.expm1(xp.minimum(x, 0))).astype(x.dtype, copy=False),
               saves_ans=True)
defgrad(elu_op, lambda m, g, ans, x, alpha: g * m.astype(m.where(x > 0, 1.0, ans + alpha), g.dtype))


def elu(input: Tensor, alpha: float = 1.0) -> Tensor:
    """``x`` where positive, else ``alpha * (exp(x) - 1)``."""
    return elu_op(input, alpha=float(alpha))


def _softplus_fwd(xp, x, beta, threshold):
    bx = x * beta
    soft = (xp.maximum(bx, 0) + xp.log1p(xp.exp(-xp.abs(bx)))) / beta
    return xp.where(bx > threshold, x, soft).astype(x.dtype, copy=False)


softplus_op = defop("softplus", _softplus_fwd)
defgrad(softplus_op, lambda m, g, ans, x, beta, threshold:
        g * m.astype(m.where(x * beta > threshold, 1.0, sigmoid_op.on(m, x * beta)), g.dtype))


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + exp(beta x)) / beta``, linear above ``threshold`` (as PyTorch)."""
    return softplus_op(input, beta=float(beta), threshold=float(threshold))


def silu(input: Tensor) -> Tensor:
    """``x * sigmoid(x)`` (swish)."""
    return silu_op(input)


silu_op = defop("silu", lambda xp, x: x * _sigmoid_fwd(xp, x))
def _silu_grad(m, g, ans, x):
    if m is not NUMPY:  # CuPy: one kernel (m is the backend; Tensors under create_graph)
        kernel = fused_kernel(m, "silu_backward", g, x)
        if kernel is not None:
            return kernel(g, x)
    s = sigmoid_op.on(m, x)
    return g * (s * (1 + x * (1 - s)))


defgrad(silu_op, _silu_grad)

_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)


def _gelu_fwd(xp, x, approximate):
    if approximate == "tanh":
        inner = _SQRT_2_OVER_PI * (x + 0.044715 * x ** 3)
        return (0.5 * x * (1 + xp.tanh(inner))).astype(x.dtype, copy=False)
    return (0.5 * x * (1 + _erf_fwd(xp, x / math.sqrt(2)))).astype(x.dtype, copy=False)


def _gelu_grad(m, g, ans, x, approximate):
    if m is not NUMPY:  # CuPy: one kernel
        flags = ("tanh" if approximate == "tanh" else "",)
        kernel = fused_kernel(m, "gelu_backward", g, x, flags=flags)
        if kernel is not None:
            return kernel(g, x)
    if approximate == "tanh":
        t = m.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x))
        d_inner = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x)
        return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * d_inner)
    cdf = 0.5 * (1 + erf_op.on(m, x / math.sqrt(2)))
    pdf = m.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
    return g * (cdf + x * pdf)


gelu_op = defop("gelu", _gelu_fwd)
defgrad(gelu_op, _gelu_grad)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit: exact (``'none'``) or the ``'tanh'`` approximation."""
    if approximate not in ("none", "tanh"):
        raise op_error(ValueError, "gelu", f"approximate must be 'none' or 'tanh', got {approximate!r}")
    return gelu_op(input, approximate=approximate)


def _attach_activations():
    for fn in (leaky_relu, elu, softplus, silu, gelu):
        setattr(Tensor, fn.__name__, fn)


_attach_activations()
