"""Functional pooling: max, average and adaptive pooling in 1-D and 2-D (PyTorch's signatures).

Max pooling returns the maximum of each window and, with ``return_indices``, its
flat position in the input's spatial plane (as PyTorch); the gradient goes to that
position only. 1-D pooling runs as 2-D pooling over a height of 1.

>>> import chainrule as cr
>>> import chainrule.nn.functional as F
>>> x = cr.arange(16.0).reshape(1, 1, 4, 4)
>>> F.max_pool2d(x, 2)
tensor([[[[ 5.,  7.],
          [13., 15.]]]])
>>> F.avg_pool2d(x, 2)
tensor([[[[ 2.5000,  4.5000],
          [10.5000, 12.5000]]]])
"""
from __future__ import annotations

import numpy as np

from ...backends import backend_of
from ...errors import DTypeError, ShapeError, op_error
from ...ops.pooling import (adaptive_max_indices_op, max_pool2d_op, max_pool_argmax_op,
                         pool_gather_op, window_sum_op)
from ...tensor import Tensor
from .. import _args
from .._args import pair

__all__ = ["max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d",
           "adaptive_avg_pool2d", "adaptive_max_pool1d", "adaptive_max_pool2d",
           "max_pool1d_with_indices", "max_pool2d_with_indices", "adaptive_max_pool1d_with_indices",
           "adaptive_max_pool2d_with_indices", "lp_pool1d", "lp_pool2d"]


# --------------------------------------------------------------- geometry --
def pool_out_size(size: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """PyTorch's pooling output length (a ceil-mode window must start inside input or left pad)."""
    span = size + 2 * p - d * (k - 1) - 1
    out = (span + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def _as_4d(input: Tensor, nd: int, op: str):
    """(N, C, H, W) view of a batched or unbatched 1-D/2-D input, and how to undo it."""
    _args.tensor(input, "input", op)
    if input.ndim not in (nd + 1, nd + 2):
        raise op_error(ShapeError, op, f"expected a {nd + 1}-D (unbatched) or {nd + 2}-D (batched) "
                       f"input, got input of shape {tuple(input.shape)}")
    if not input.is_floating_point():
        raise op_error(DTypeError, op, f"expected a floating-point input, got {input.dtype.name}")
    unbatched = input.ndim == nd + 1
    x = input.unsqueeze(0) if unbatched else input
    if nd == 1:
        x = x.unsqueeze(2)

    def undo(t: Tensor) -> Tensor:
        if nd == 1:
            t = t.squeeze(2)
        return t.squeeze(0) if unbatched else t
    return x, undo


def _geometry(x: Tensor, nd: int, kernel_size, stride, padding, dilation, ceil_mode, op: str):
    kernel = pair(kernel_size, nd, "kernel_size", op)
    stride = kernel if stride is None or (not isinstance(stride, int) and len(stride) == 0) \
        else pair(stride, nd, "stride", op)
    pads = pair(padding, nd, "padding", op)
    dil = pair(dilation, nd, "dilation", op)
    if min(kernel) < 1 or min(stride) < 1 or min(dil) < 1:
        raise op_error(ValueError, op, f"kernel_size, stride and dilation must be positive, got "
                       f"kernel_size={kernel}, stride={stride}, dilation={dil}")
    for k, p, d in zip(kernel, pads, dil):
        if p < 0 or 2 * p > d * (k - 1) + 1:
            raise op_error(ValueError, op, f"padding {pads} must be non-negative and at most half "
                           f"of the (dilated) kernel size {kernel}")
    if nd == 1:
        kernel, stride, pads, dil = (1,) + kernel, (1,) + stride, (0,) + pads, (1,) + dil
    sizes = x.shape[2:]
    out = tuple(pool_out_size(n, k, s, p, d, ceil_mode)
                for n, k, s, p, d in zip(sizes, kernel, stride, pads, dil))
    if min(out) < 1:
        raise op_error(ShapeError, op, f"input of shape {tuple(x.shape)} is too small for "
                       f"kernel_size={kernel[-nd:]} (dilation {dil[-nd:]}, padding {pads[-nd:]}): "
                       f"the output would be {out[-nd:]}")
    # per-side padding; a ceil-mode window may run past the right edge
    per_side = tuple((p, max(p, (o - 1) * s + d * (k - 1) + 1 - n - p))
                     for n, k, s, p, d, o in zip(sizes, kernel, stride, pads, dil, out))
    return kernel, stride, per_side, dil, out


# -------------------------------------------------------------- max pooling --
def _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, nd, op):
    x, undo = _as_4d(input, nd, op)
    kernel, stride, pads, dil, out_hw = _geometry(x, nd, kernel_size, stride, padding, dilation,
                                                  ceil_mode, op)
    geometry = dict(kernel=kernel, stride=stride, padding=pads, dilation=dil, out_hw=out_hw)
    out = max_pool2d_op(x, **geometry)
    if not return_indices:
        return undo(out)
    indices = max_pool_argmax_op(x.detach(), out.detach(), flat=True, **geometry)
    return undo(out), undo(indices)


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """Maximum over each window of (N, C, H, W) or (C, H, W) input (stride defaults to kernel)."""
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 2,
                     "max_pool2d")


def max_pool1d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """Maximum over each window of (N, C, L) or (C, L) input."""
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 1,
                     "max_pool1d")


def max_pool2d_with_indices(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode: bool = False, return_indices: bool = True):
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool1d_with_indices(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode: bool = False, return_indices: bool = True):
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


# ---------------------------------------------------------- average pooling --
def _divisor(xp, sizes, kernel, stride, pads, out_hw, count_include_pad, dtype):
    """PyTorch's per-window divisor (window clipped to the padded input, or to the input)."""
    per_axis = []
    for n, k, s, (p, _), o in zip(sizes, kernel, stride, pads, out_hw):
        start = xp.arange(o) * s - p
        end = xp.minimum(start + k, n + p)
        if count_include_pad:
            per_axis.append(end - start)
        else:
            per_axis.append(xp.minimum(end, n) - xp.maximum(start, 0))
    return (per_axis[0].reshape(-1, 1) * per_axis[1].reshape(1, -1)).astype(dtype)


def _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override,
              nd, op):
    x, undo = _as_4d(input, nd, op)
    kernel, stride, pads, _, out_hw = _geometry(x, nd, kernel_size, stride, padding, 1,
                                                ceil_mode, op)
    summed = window_sum_op(x, kernel=kernel, stride=stride, padding=pads,
                           in_hw=tuple(x.shape[2:]), out_hw=out_hw)
    if divisor_override is not None:
        if divisor_override == 0:
            raise op_error(ValueError, op, "divisor_override must be non-zero")
        return undo(summed / float(divisor_override))
    # the divisors depend on the geometry alone: told uniform on the host (NumPy), no sync
    div = _divisor(np, x.shape[2:], kernel, stride, pads, out_hw, count_include_pad, np.float64)
    if (div == div.reshape(-1)[0]).all():
        return undo(summed / div.reshape(-1)[0].item())
    xp = backend_of(x._data)
    div = _divisor(xp, x.shape[2:], kernel, stride, pads, out_hw, count_include_pad, x._data.dtype)
    return undo(summed * Tensor._make(1 / div))


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """Mean over each window of (N, C, H, W) or (C, H, W) input (stride defaults to kernel)."""
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override, 2, "avg_pool2d")


def avg_pool1d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """Mean over each window of (N, C, L) or (C, L) input."""
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, None, 1,
                     "avg_pool1d")


# --------------------------------------------------------- adaptive pooling --
def _adaptive_size(output_size, x: Tensor, nd: int, op: str) -> tuple:
    sizes = tuple(x.shape[-nd:])
    if _args.is_int(output_size):
        output_size = (output_size,) * nd
    if not isinstance(output_size, (tuple, list)) or \
            not all(o is None or _args.is_int(o) for o in output_size):
        raise op_error(DTypeError, op, f"output_size must be an int or a tuple of {nd} ints "
                       f"(or None), got {output_size!r}")
    if len(output_size) != nd:
        raise op_error(ShapeError, op, f"output_size must be an int or a tuple of {nd} ints "
                       f"(or None), got {output_size!r}")
    out = tuple(s if o is None else int(o) for o, s in zip(output_size, sizes))
    if min(out) < 0 or min(sizes) < 1:  # an output size of 0 gives an empty result, as PyTorch
        raise op_error(ShapeError, op, f"output_size {out} must be non-negative and the input of "
                       f"shape {tuple(x.shape)} non-empty")
    return out


def _window_matrix(xp, size: int, out: int, dtype):
    """(out, size) matrix averaging PyTorch's adaptive windows [⌊i·n/o⌋, ⌈(i+1)·n/o⌉)."""
    i = xp.arange(out).reshape(-1, 1)
    start, end = (i * size) // out, -((-(i + 1) * size) // out)
    j = xp.arange(size).reshape(1, -1)
    inside = (j >= start) & (j < end)
    return Tensor._make((inside / (end - start)).astype(dtype))


def _adaptive_avg(input, output_size, nd, op):
    x, undo = _as_4d(input, nd, op)
    h, w = x.shape[2:]
    ho, wo = (1,) + _adaptive_size(output_size, input, 1, op) if nd == 1 else \
        _adaptive_size(output_size, input, 2, op)
    if ho == 1 and wo == 1:
        return undo(x.mean((2, 3), keepdim=True))
    if ho and wo and h % ho == 0 and w % wo == 0:  # uniform windows: plain average pooling
        return undo(avg_pool2d(x, (h // ho, w // wo)))
    xp = backend_of(x._data)
    rows = _window_matrix(xp, h, ho, x._data.dtype)
    cols = _window_matrix(xp, w, wo, x._data.dtype)
    return undo(rows @ x @ cols.mT)  # linear in x: autograd handles every order


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """Average pooling to a fixed output size (windows as PyTorch); None keeps a size.

    >>> import chainrule as cr
    >>> cr.nn.functional.adaptive_avg_pool2d(cr.ones(2, 3, 7, 5), (3, 2)).shape
    chainrule.Size([2, 3, 3, 2])
    """
    return _adaptive_avg(input, output_size, 2, "adaptive_avg_pool2d")


def adaptive_avg_pool1d(input: Tensor, output_size) -> Tensor:
    """Average pooling of (N, C, L) input to a fixed output length."""
    return _adaptive_avg(input, output_size, 1, "adaptive_avg_pool1d")


def _adaptive_max(input, output_size, return_indices, nd, op):
    x, undo = _as_4d(input, nd, op)
    out_hw = (1,) + _adaptive_size(output_size, input, 1, op) if nd == 1 else \
        _adaptive_size(output_size, input, 2, op)
    if 0 in out_hw:  # an empty output (PyTorch allows it): no windows to take a max over
        out = undo(x[:, :, :1, :1].expand(*x.shape[:2], *out_hw))
        return (out, undo(out.detach().long())) if return_indices else out
    indices = adaptive_max_indices_op(x.detach(), out_hw=out_hw)
    out = undo(pool_gather_op(x, indices=indices._data, in_shape=tuple(x.shape)))
    return (out, undo(indices)) if return_indices else out


def adaptive_max_pool2d(input: Tensor, output_size, return_indices: bool = False):
    """Max pooling to a fixed output size (windows as PyTorch)."""
    return _adaptive_max(input, output_size, return_indices, 2, "adaptive_max_pool2d")


def adaptive_max_pool1d(input: Tensor, output_size, return_indices: bool = False):
    """Max pooling of (N, C, L) input to a fixed output length."""
    return _adaptive_max(input, output_size, return_indices, 1, "adaptive_max_pool1d")


def adaptive_max_pool2d_with_indices(input: Tensor, output_size, return_indices: bool = False):
    return adaptive_max_pool2d(input, output_size, return_indices=True)


def adaptive_max_pool1d_with_indices(input: Tensor, output_size, return_indices: bool = False):
    return adaptive_max_pool1d(input, output_size, return_indices=True)


# ---------------------------------------------------------------- lp pool --
def _lp_pool(input: Tensor, norm_type, kernel_size, stride, ceil_mode: bool, nd: int) -> Tensor:
    """PyTorch's composition: ``(sum over the window of x^p)^(1/p)`` through an average pool
    (the window sum is the average times the window size); ±inf norms are max pools of |x|."""
    from ...ops import elementwise as ew
    from ...ops import activations as act
    op = f"lp_pool{nd}d"
    _args.tensor(input, "input", op)
    avg, mx = (avg_pool1d, max_pool1d) if nd == 1 else (avg_pool2d, max_pool2d)
    if norm_type == float("inf"):
        return mx(input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    if norm_type == -float("inf"):
        return -mx(-input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    area = 1
    for k in pair(kernel_size, nd, "kernel_size", op):
        area *= k
    out = avg(input ** norm_type, kernel_size, stride, 0, ceil_mode)
    return ((ew.sign(out) * act.relu(out.abs())) * area) ** (1.0 / norm_type)


def lp_pool2d(input: Tensor, norm_type, kernel_size, stride=None, ceil_mode: bool = False) -> Tensor:
    """The p-norm of each window of (N, C, H, W) input."""
    return _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, 2)


def lp_pool1d(input: Tensor, norm_type, kernel_size, stride=None, ceil_mode: bool = False) -> Tensor:
    """The p-norm of each window of (N, C, L) input."""
    return _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, 1)
