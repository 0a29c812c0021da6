"""Functional normalization: ``batch_norm``, ``layer_norm``, ``group_norm``.

All three standardise over some axes with one fused op, ``standardize``
(``(x - mean) / sqrt(var + eps)``, biased variance), followed by an ordinary
affine ``x̂ · weight + bias``. Its rule is the closed form

    dx = rstd · (g - mean(g) - x̂ · mean(g · x̂))

written with chainrule ops, so higher-order gradients work; the statistics come
from the forward pass when no graph is being recorded, and are recomputed from
``x`` (differentiably) under ``create_graph``.

>>> import chainrule as cr
>>> import chainrule.nn.functional as F
>>> F.layer_norm(cr.tensor([[1.0, 2.0, 3.0]]), (3,))
tensor([[-1.2247,  0.0000,  1.2247]])
"""
from __future__ import annotations

from ..._fp import quiet_calls
from ...autograd.grad_mode import GRAD, no_grad
from ...backends import backend_of
from ...errors import DTypeError, ShapeError, op_error
from ...autograd.rule_namespace import records
from ...ops.registry import defgrad, defop
from ...tensor import Tensor
from .. import _args

__all__ = ["batch_norm", "layer_norm", "group_norm", "instance_norm", "rms_norm",
           "local_response_norm"]


# ------------------------------------------------------------- the fused op --
@quiet_calls  # on arrays, outside any op: inf/nan statistics without NumPy warnings
def moments(x, axes, eps):
    """Mean, biased variance and 1/sqrt(var + eps) of the array ``x`` over ``axes`` (kept)."""
    xp = backend_of(x)
    if x.dtype.kind == "V":  # bfloat16: statistics in float32, as PyTorch's kernels keep them
        x = x.astype("float32")
    mean = x.mean(axis=axes, keepdims=True)
    centered = x - mean
    var = xp.mean(centered * centered, axis=axes, keepdims=True)
    return mean, var, 1.0 / xp.sqrt(var + eps)


def _normalize_fwd(xp, x, axes, eps, stats):
    mean, rstd = stats
    return ((x - mean) * rstd).astype(x.dtype, copy=False)


def _normalize_grad(m, g, ans, x, axes, eps, stats):
    if records(m):  # create_graph: rstd must stay a function of x (stats are constants)
        rstd = (x.var(axes, correction=0, keepdim=True) + eps).rsqrt()
    else:
        rstd = stats[1]
    return rstd * (g - m.mean(g, axis=axes, keepdims=True)
                   - ans * m.mean(g * ans, axis=axes, keepdims=True))


# registered as "standardize" (F.normalize is the unrelated p-norm scaling)
normalize_op = defop("standardize", _normalize_fwd, saves_ans=True)
defgrad(normalize_op, _normalize_grad)


def _normalize(x: Tensor, axes: tuple, eps: float, stats=None) -> Tensor:
    """``x`` standardised over ``axes``; ``stats`` = (mean, var, rstd) arrays if already known."""
    if stats is None:
        stats = moments(x._data, axes, eps)
    return normalize_op(x, axes=axes, eps=eps, stats=(stats[0], stats[2]))


def _affine(y: Tensor, weight, bias, shape: tuple) -> Tensor:
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


def _check_float(input, op: str) -> None:
    _args.tensor(input, "input", op)
    if not input.is_floating_point():
        raise op_error(DTypeError, op, f"expected a floating-point input, got {input.dtype.name}")


def _check_vector(t, n: int, name: str, op: str, input: Tensor) -> None:
    if t is not None and tuple(t.shape) != (n,):
        raise op_error(ShapeError, op, f"expected {name} of shape ({n},) for input of shape "
                       f"{tuple(input.shape)}, got {tuple(t.shape)}")


# --------------------------------------------------------------- batch norm --
def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each channel (dim 1) of (N, C, ...) input over the batch and spatial dims.

    In training the batch statistics are used and, when given, ``running_mean`` /
    ``running_var`` are updated in place with ``momentum`` (unbiased variance);
    otherwise the running statistics are used.
    """
    op = "batch_norm"
    _check_float(input, op)
    if input.ndim < 2:
        raise op_error(ShapeError, op, f"expected input of at least 2 dims (N, C, ...), got shape "
                       f"{tuple(input.shape)}")
    c = input.shape[1]
    for name, t in (("weight", weight), ("bias", bias), ("running_mean", running_mean),
                    ("running_var", running_var)):
        _check_vector(t, c, name, op, input)
    shape = (1, c) + (1,) * (input.ndim - 2)
    axes = (0,) + tuple(range(2, input.ndim))
    if training:
        count = input.numel() // c if c else 0
        if count == 0:  # an empty batch: an empty output, running stats untouched (as PyTorch)
            return _affine(input * 1, weight, bias, shape)
        if count == 1:
            raise op_error(ValueError, op, f"expected more than 1 value per channel when training, "
                           f"got input of shape {tuple(input.shape)}")
        stats = moments(input._data, axes, eps)
        if running_mean is not None or running_var is not None:
            _update_running(running_mean, running_var, stats, count, momentum)
        y = _normalize(input, axes, eps, stats)
    else:
        if running_mean is None or running_var is None:
            raise op_error(ValueError, op, "running_mean and running_var are needed when not "
                           "training (pass training=True to use batch statistics)")
        scale = (running_var.reshape(shape) + eps).rsqrt()
        y = (input - running_mean.reshape(shape)) * scale
    return _affine(y, weight, bias, shape)


def _update_running(running_mean, running_var, stats, count: int, momentum: float) -> None:
    mean, var, _ = stats
    with no_grad():
        if running_mean is not None:
            new = Tensor._make(mean.reshape(-1).astype(running_mean._data.dtype, copy=False))
            running_mean.mul_(1 - momentum).add_(new * momentum)
        if running_var is not None:
            unbiased = var.reshape(-1) * (count / (count - 1))
            new = Tensor._make(unbiased.astype(running_var._data.dtype, copy=False))
            running_var.mul_(1 - momentum).add_(new * momentum)


# --------------------------------------------------------------- layer norm --
def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise over the last ``len(normalized_shape)`` dims, then scale and shift elementwise."""
    op = "layer_norm"
    _check_float(input, op)
    if not isinstance(normalized_shape, (tuple, list)):  # nn.LayerNorm turns an int into a tuple
        raise op_error(DTypeError, op, f"normalized_shape must be a tuple or list of ints, got "
                       f"{normalized_shape!r}")
    shape = _args.pair(normalized_shape, len(normalized_shape), "normalized_shape", op)
    k = len(shape)
    if k == 0 or input.ndim < k or tuple(input.shape[-k:]) != shape:
        raise op_error(ShapeError, op, f"normalized_shape {shape} must match the last dims of the "
                       f"input, got input of shape {tuple(input.shape)}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != shape:
            raise op_error(ShapeError, op, f"expected {name} of shape {shape}, got "
                           f"{tuple(t.shape)}")
    if input._data.dtype.itemsize == 2:  # PyTorch computes a half or bfloat16 layer norm
        wide = [None if t is None else t.float() for t in (input, weight, bias)]  # in float32
        return layer_norm(*wide[:1], shape, *wide[1:], eps).to(input.dtype)  # and rounds once
    axes = tuple(range(input.ndim - k, input.ndim))
    return _affine(_normalize(input, axes, eps), weight, bias, shape)


# --------------------------------------------------------------- group norm --
def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise each group of ``C/num_groups`` channels over its channels and spatial dims."""
    op = "group_norm"
    _check_float(input, op)
    if input.ndim < 2:
        raise op_error(ShapeError, op, f"expected input of at least 2 dims (N, C, ...), got shape "
                       f"{tuple(input.shape)}")
    n, c = input.shape[:2]
    if num_groups < 1 or c % num_groups:
        raise op_error(ShapeError, op, f"the {c} channels of input of shape {tuple(input.shape)} "
                       f"cannot be split into num_groups={num_groups} groups")
    for name, t in (("weight", weight), ("bias", bias)):
        _check_vector(t, c, name, op, input)
    grouped = input.reshape(n, num_groups, -1)
    y = _normalize(grouped, (2,), eps).reshape(tuple(input.shape))
    return _affine(y, weight, bias, (1, c) + (1,) * (input.ndim - 2))


def instance_norm(input: Tensor, running_mean: Tensor | None = None,
                  running_var: Tensor | None = None, weight: Tensor | None = None,
                  bias: Tensor | None = None, use_input_stats: bool = True, momentum: float = 0.1,
                  eps: float = 1e-5) -> Tensor:
    """Normalise each channel of each sample of (N, C, ...) input over its spatial dims.

    With ``use_input_stats`` the instance statistics are used and, when given, the running
    statistics move towards their mean over the batch (PyTorch's update); otherwise the
    running statistics are used, as batch norm in evaluation."""
    op = "instance_norm"
    _check_float(input, op)
    if input.ndim < 3:
        raise op_error(ShapeError, op, f"expected (N, C, ...) input with spatial dims, "
                       f"got shape {tuple(input.shape)}")
    c = input.shape[1]
    for name, t in (("weight", weight), ("bias", bias), ("running_mean", running_mean),
                    ("running_var", running_var)):
        _check_vector(t, c, name, op, input)
    shape = (1, c) + (1,) * (input.ndim - 2)
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise op_error(ValueError, op, "running_mean and running_var are needed when "
                           "use_input_stats=False")
        y = (input - running_mean.reshape(shape)) * (running_var.reshape(shape) + eps).rsqrt()
        return _affine(y, weight, bias, shape)
    count = input.numel() // max(input.shape[0] * c, 1)
    if count <= 1 and input.numel():
        raise op_error(ValueError, op, f"Expected more than 1 spatial element when training, got "
                       f"input size {list(input.shape)}")
    axes = tuple(range(2, input.ndim))
    stats = moments(input._data, axes, eps)
    if running_mean is not None or running_var is not None:
        mean, var, rstd = stats  # the batch's mean of the instance statistics
        _update_running(running_mean, running_var,
                        (mean.mean(axis=0), var.mean(axis=0), None), count, momentum)
    return _affine(_normalize(input, axes, eps, stats), weight, bias, shape)


def rms_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
             eps: float | None = None) -> Tensor:
    """``x / sqrt(mean(x², last dims) + eps) * weight``; ``eps`` defaults to the dtype's
    machine epsilon, as PyTorch."""
    op = "rms_norm"
    _check_float(input, op)
    shape = (normalized_shape,) if _args.is_int(normalized_shape) else tuple(normalized_shape)
    k = len(shape)
    if input.ndim < k or tuple(input.shape[input.ndim - k:]) != shape:
        raise op_error(ShapeError, op, f"normalized_shape {shape} does not match the last dims of "
                       f"input of shape {tuple(input.shape)}")
    if weight is not None and tuple(weight.shape) != shape:
        raise op_error(ShapeError, op, f"expected weight of shape {shape}, got "
                       f"{tuple(weight.shape)}")
    if eps is None:
        eps = float(backend_of(input._data).finfo(input._data.dtype).eps)
    dims = tuple(range(input.ndim - k, input.ndim))
    y = input * ((input * input).mean(dims, keepdim=True) + eps).rsqrt() if k else input * 1
    return y * weight if weight is not None else y


def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75,
                        k: float = 1.0) -> Tensor:
    """Divide each element by ``(k + alpha * mean of x² over size neighbouring channels)^beta``
    (the window is zero-padded at the ends, as PyTorch's)."""
    op = "local_response_norm"
    _check_float(input, op)
    if input.ndim < 3:
        raise op_error(ValueError, op, f"Expected 3D or higher dimensionality input (got "
                       f"{input.ndim} dimensions)")
    size = _args.size(size, "size", op, minimum=1)
    if input.numel() == 0:
        return input
    from ...ops.shape import pad
    squares = input * input
    # pad the channel dim (dim 1) with size//2 before and (size-1)//2 after
    widths = [0, 0] * (input.ndim - 2) + [size // 2, (size - 1) // 2]
    windows = pad(squares, tuple(widths)).unfold(1, size, 1)
    div = (windows.mean(-1) * alpha + k) ** beta
    return input / div
