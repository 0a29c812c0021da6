"""``F.linear`` (one fused op: ``x @ W.T + b``) and ``F.bilinear``.

>>> import chainrule as cr
>>> import chainrule.nn.functional as F
>>> F.linear(cr.ones(2, 3), cr.ones(4, 3), cr.zeros(4)).shape
chainrule.Size([2, 4])
"""
from __future__ import annotations

from ...backends import NUMPY
from ...amp.autocast_mode import AUTOCAST, autocast_inputs
from ...errors import DTypeError, ShapeError, op_error
from ...ops.registry import defgrad, defop
from ...tensor import Tensor
from .. import _args

__all__ = ["linear", "bilinear"]


def _matmul_rows(xp, x, m):
    """``x @ m`` for ``x`` (..., k) as one 2-D GEMM over all leading dims (``matmul`` of an
    N-D array would run one small GEMM per leading index); ``xp`` a backend or a rule's
    namespace (Tensors: recorded)."""
    if x.ndim <= 2:
        return xp.matmul(x, m)
    return xp.reshape(xp.matmul(xp.reshape(x, (-1, x.shape[-1])), m),
                      tuple(x.shape[:-1]) + (m.shape[-1],))


# Below this many rows, OpenBLAS (0.3.30, AVX-512 kernel) computes (w @ x.T).T about twice
# as fast as x @ w.T, and copying that small (rows, out) result to C order costs a few µs.
_FEW_ROWS = 32


def _linear_fwd(xp, x, w, *b):
    if x.ndim == 2 and x.shape[0] <= _FEW_ROWS and xp is NUMPY:
        out = xp.ascontiguousarray(xp.matmul(w, x.T).T)
    else:
        out = _matmul_rows(xp, x, w.T)
    if b:
        out += b[0]  # out is a fresh array: add the bias without another allocation
    return out


def _weight_grad_fwd(xp, g, x):
    return xp.matmul(g.reshape(-1, g.shape[-1]).T, x.reshape(-1, x.shape[-1]))


def _bias_grad_fwd(xp, g, g_shape):
    return g.reshape(-1, g.shape[-1]).sum(axis=0)


# One node instead of three (transpose, matmul, add): the hot path of every MLP.
# Its weight and bias rules are single ops too (gᵀx over all leading dims, and the
# sum of g over them), each with its own rules so higher orders still work.
linear_weight_grad = defop("linear_weight_grad", _weight_grad_fwd)
defgrad(linear_weight_grad,
        lambda m, v, ans, g, x: m.matmul(x, m.swapaxes(v, -1, -2)),  # (..., in) @ (in, out)
        lambda m, v, ans, g, x: m.matmul(g, v))                      # (..., out) @ (out, in)
linear_bias_grad = defop("linear_bias_grad", _bias_grad_fwd, saves=())
defgrad(linear_bias_grad, lambda m, v, ans, g, g_shape: m.broadcast_to(v, g_shape))

linear_op = defop("linear", _linear_fwd, reads=((1,), (0,), ()))
# on arrays: two GEMMs and a column sum, no Tensors made
defgrad(linear_op,
        lambda m, g, ans, x, w, *b: _matmul_rows(m, g, w),
        lambda m, g, ans, x, w, *b: linear_weight_grad.on(m, g, x),
        lambda m, g, ans, x, w, *b: linear_bias_grad.on(m, g, g_shape=tuple(g.shape)))


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias``; ``weight`` is (out_features, in_features)."""
    if not (isinstance(input, Tensor) and isinstance(weight, Tensor)):
        _args.tensor(input, "input", "linear")
        _args.tensor(weight, "weight", "linear")
    if weight.ndim != 2 or input.ndim < 1 or input.shape[-1] != weight.shape[1]:
        raise op_error(ShapeError, "linear", f"input of shape {tuple(input.shape)} does not fit weight "
                       f"of shape {tuple(weight.shape)}: expected input's last dim to be "
                       f"in_features={weight.shape[1] if weight.ndim == 2 else '?'}")
    if bias is not None and tuple(bias.shape) not in ((weight.shape[0],), ()):
        raise op_error(ShapeError, "linear", f"bias of shape {tuple(bias.shape)} does not fit weight "
                       f"of shape {tuple(weight.shape)}: expected ({weight.shape[0]},)")
    if AUTOCAST.active:  # inside chainrule.autocast: the product in its lower precision
        input, weight, bias = autocast_inputs(input, weight, bias)
    if input.dtype != weight.dtype:
        raise op_error(DTypeError, "linear",
                       f"input has dtype {input.dtype.name} but weight has {weight.dtype.name}; "
                       "convert one (e.g. x.float() or model.double())")
    if bias is None:
        return linear_op(input, weight)
    return linear_op(input, weight, bias)


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``y_k = x1ᵀ W_k x2 + b_k`` for ``weight`` of shape (out, in1, in2)."""
    for arg, t in (("input1", input1), ("input2", input2), ("weight", weight)):
        _args.tensor(t, arg, "bilinear")
    if weight.ndim != 3 or input1.shape[-1] != weight.shape[1] or input2.shape[-1] != weight.shape[2] \
            or tuple(input1.shape[:-1]) != tuple(input2.shape[:-1]):
        raise op_error(ShapeError, "bilinear", f"inputs of shapes {tuple(input1.shape)} and "
                       f"{tuple(input2.shape)} do not fit weight of shape {tuple(weight.shape)}: "
                       "expected (..., in1), (..., in2) with equal leading dims and weight "
                       "(out, in1, in2)")
    out_f, in1, in2 = weight.shape
    lead = tuple(input1.shape[:-1])
    x1 = input1.reshape(-1, in1)
    x2 = input2.reshape(-1, in2)
    # (N, in1) @ (in1, out*in2) → (N, out, in2), then contract in2 with x2
    t = (x1 @ weight.permute(1, 0, 2).reshape(in1, out_f * in2)).reshape(-1, out_f, in2)
    y = (t * x2.unsqueeze(1)).sum(-1)
    if bias is not None:
        y = y + bias
    return y.reshape(*lead, out_f)
