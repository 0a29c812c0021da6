"""softmax and log_softmax along a dim, computed stably (max subtracted first)."""
from __future__ import annotations

from ..dtypes import to_dtype
from ..tensor import Tensor
from ._operands import tensor_method, wrap_dim
from .registry import defgrad, defop


def _softmax_fwd(xp, x, dim):
    e = xp.exp(x - xp.amax(x, axis=dim, keepdims=True))
    return e / xp.sum(e, axis=dim, keepdims=True)


def _log_softmax_fwd(xp, x, dim):
    shifted = x - xp.amax(x, axis=dim, keepdims=True)
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=dim, keepdims=True))


softmax_op = defop("softmax", _softmax_fwd, saves=(), saves_ans=True)
log_softmax_op = defop("log_softmax", _log_softmax_fwd, saves=(), saves_ans=True)
# both rules use only the output (STYLE: rules see ``ans``)
defgrad(softmax_op, lambda m, g, ans, x, dim: ans * (g - m.sum(g * ans, axis=dim, keepdims=True)))
defgrad(log_softmax_op, lambda m, g, ans, x, dim: g - m.exp(ans) * m.sum(g, axis=dim, keepdims=True))


def _prep(input: Tensor, dim, dtype, op: str):
    if dtype is not None:
        input = input.to(to_dtype(dtype))
    elif input._data.dtype.kind not in "fV":
        from ..dtypes import get_default_dtype
        input = input.to(get_default_dtype())
    if dim is None:
        dim = 0 if input.ndim in (0, 1, 3) else 1  # PyTorch's legacy implicit choice
    return input, wrap_dim(dim, input.ndim, op) if input.ndim else 0


@tensor_method("softmax")
def softmax(input: Tensor, dim: int | None = None, dtype=None) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``dim``.

    >>> import chainrule as cr
    >>> cr.softmax(cr.tensor([0.0, 0.0]), dim=0)
    tensor([0.5000, 0.5000])
    """
    input, d = _prep(input, dim, dtype, "softmax")
    if input.ndim == 0:
        return input * 0 + 1
    if input.shape[d] == 0:
        return input * 1  # nothing to normalise: an empty result, as in PyTorch
    return softmax_op(input, dim=d)


@tensor_method("log_softmax")
def log_softmax(input: Tensor, dim: int | None = None, dtype=None) -> Tensor:
    """``log(softmax(x))`` along ``dim``, without the loss of precision of taking logs.

    >>> import chainrule as cr
    >>> cr.log_softmax(cr.tensor([0., 0.]), dim=0).exp()
    tensor([0.5000, 0.5000])
    """
    input, d = _prep(input, dim, dtype, "log_softmax")
    if input.ndim == 0:
        return input * 0
    if input.shape[d] == 0:
        return input * 1
    return log_softmax_op(input, dim=d)
