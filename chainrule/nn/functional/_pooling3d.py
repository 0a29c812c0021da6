"""Functional 3-D pooling (max, average, adaptive) and max unpooling (PyTorch's signatures).

A box window is separable: the maximum (or sum) over (kd, kh, kw) is the maximum over
kd depth positions of the 2-D pools of each depth slice. So the (N, C, D, H, W) input
is pooled as (N, C·D, H, W) by the 2-D ops, then along depth through ``depth_unfold``
(-inf padding for max) and a maximum or sum over the window axis. Picking the first
maximum along depth after the first in each slice is PyTorch's first maximum in
(d, h, w) order, so gradients and ``return_indices`` (flat d·H·W + h·W + w) agree.
Adaptive pooling is separable the same way. ``max_unpool`` scatters values back to
the positions ``indices`` name (its gradient gathers them).

>>> import chainrule as cr
>>> import chainrule.nn.functional as F
>>> x = cr.arange(8.0).reshape(1, 1, 2, 2, 2)
>>> F.max_pool3d(x, 2).flatten().tolist(), F.avg_pool3d(x, 2).flatten().tolist()
([7.0], [3.5])
>>> out, idx = F.max_pool2d(cr.tensor([[[[1.0, 2.0], [4.0, 3.0]]]]), 2, return_indices=True)
>>> F.max_unpool2d(out, idx, 2)
tensor([[[[0., 0.],
          [4., 0.]]]])
"""
from __future__ import annotations

import numpy as np

from ...backends import backend_of
from ...errors import DTypeError, IndexingError, ShapeError, op_error
from ...ops.pooling import max_pool2d_op, max_pool_argmax_op, window_sum_op
from ...ops.depth_windows import depth_unfold_op
from ...tensor import Tensor
from .. import _args
from .._args import pair
from ._pooling import _adaptive_size, _window_matrix, adaptive_max_pool1d, adaptive_max_pool2d, \
    adaptive_avg_pool2d, pool_out_size

__all__ = ["max_pool3d", "max_pool3d_with_indices", "avg_pool3d", "adaptive_avg_pool3d",
           "adaptive_max_pool3d", "adaptive_max_pool3d_with_indices", "max_unpool1d",
           "max_unpool2d", "max_unpool3d"]


def _as_5d(input: Tensor, op: str):
    _args.tensor(input, "input", op)
    if input.ndim not in (4, 5):
        raise op_error(ShapeError, op, f"expected a 4-D (unbatched) or 5-D (batched) input, got "
                       f"input of shape {tuple(input.shape)}")
    if not input.is_floating_point():
        raise op_error(DTypeError, op, f"expected a floating-point input, got {input.dtype.name}")
    unbatched = input.ndim == 4
    x = input.unsqueeze(0) if unbatched else input
    return x, (lambda t: t.squeeze(0)) if unbatched else (lambda t: t)


def _geometry3d(x: Tensor, kernel_size, stride, padding, dilation, ceil_mode, op: str):
    """Kernel, stride, per-side padding, dilation and output size for the 3 spatial dims."""
    kernel = pair(kernel_size, 3, "kernel_size", op)
    stride = kernel if stride is None or (not isinstance(stride, int) and len(stride) == 0) \
        else pair(stride, 3, "stride", op)
    pads = pair(padding, 3, "padding", op)
    dil = pair(dilation, 3, "dilation", op)
    if min(kernel) < 1 or min(stride) < 1 or min(dil) < 1:
        raise op_error(ValueError, op, f"kernel_size, stride and dilation must be positive, got "
                       f"kernel_size={kernel}, stride={stride}, dilation={dil}")
    for k, p, d in zip(kernel, pads, dil):
        if p < 0 or 2 * p > d * (k - 1) + 1:
            raise op_error(ValueError, op, f"pad should be at most half of effective kernel size, "
                           f"but got pad={pads}, kernel_size={kernel} and dilation={dil}")
    sizes = x.shape[2:]
    out = tuple(pool_out_size(n, k, s, p, d, ceil_mode)
                for n, k, s, p, d in zip(sizes, kernel, stride, pads, dil))
    if min(out) < 1:
        raise op_error(ShapeError, op, f"input of shape {tuple(x.shape)} is too small for "
                       f"kernel_size={kernel} (dilation {dil}, padding {pads}): the output would "
                       f"be {out}")
    per_side = tuple((p, max(p, (o - 1) * s + d * (k - 1) + 1 - n - p))
                     for n, k, s, p, d, o in zip(sizes, kernel, stride, pads, dil, out))
    return kernel, stride, per_side, dil, out


def _depth_windows(t: Tensor, kernel, stride, pads, dil, out, value: float) -> Tensor:
    """(N, C, D, h, w) → (N, Do, C, kd, h, w): the depth windows of the 2-D pooled slices."""
    return depth_unfold_op(t, kernel=kernel[0], stride=stride[0], padding=pads[0],
                           dilation=dil[0], in_depth=t.shape[2], out_depth=out[0], value=value)


# --------------------------------------------------------------- max pooling --
def max_pool3d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """Maximum over each window of (N, C, D, H, W) or (C, D, H, W) input."""
    op = "max_pool3d"
    x, undo = _as_5d(input, op)
    kernel, stride, pads, dil, out = _geometry3d(x, kernel_size, stride, padding, dilation,
                                                 ceil_mode, op)
    n, c, d, h, w = x.shape
    plane = dict(kernel=kernel[1:], stride=stride[1:], padding=pads[1:], dilation=dil[1:],
                 out_hw=out[1:])
    slices = x.reshape(n, c * d, h, w)
    pooled = max_pool2d_op(slices, **plane)
    windows = _depth_windows(pooled.reshape(n, c, d, *out[1:]), kernel, stride, pads, dil, out,
                             -float("inf"))
    best, arg = windows.max(3)  # (N, Do, C, Ho, Wo): the first maximum along depth
    result = best.permute(0, 2, 1, 3, 4).contiguous()
    if not return_indices:
        return undo(result)
    xp = backend_of(x._data)
    in_plane = max_pool_argmax_op(slices.detach(), pooled.detach(), flat=True, **plane)._data
    in_plane = in_plane.reshape(n, c, d, *out[1:])
    depth = (xp.arange(out[0]).reshape(1, -1, 1, 1, 1) * stride[0] - pads[0][0]
             + arg._data * dil[0])  # (N, Do, C, Ho, Wo), inside the input
    depth = depth.transpose(0, 2, 1, 3, 4)
    picked = xp.take_along_axis(in_plane, depth, axis=2)
    return undo(result), undo(Tensor._make((depth * (h * w) + picked).astype(xp.int64)))


def max_pool3d_with_indices(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode: bool = False, return_indices: bool = True):
    return max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


# ----------------------------------------------------------- average pooling --
def _axis_counts(xp, n, k, s, pad, o, count_include_pad):
    start = xp.arange(o) * s - pad[0]
    end = xp.minimum(start + k, n + pad[0])
    if count_include_pad:
        return end - start
    return xp.minimum(end, n) - xp.maximum(start, 0)


def avg_pool3d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """Mean over each window of (N, C, D, H, W) or (C, D, H, W) input."""
    op = "avg_pool3d"
    x, undo = _as_5d(input, op)
    kernel, stride, pads, dil, out = _geometry3d(x, kernel_size, stride, padding, 1, ceil_mode, op)
    n, c, d, h, w = x.shape
    summed = window_sum_op(x.reshape(n, c * d, h, w), kernel=kernel[1:], stride=stride[1:],
                           padding=pads[1:], in_hw=(h, w), out_hw=out[1:])
    windows = _depth_windows(summed.reshape(n, c, d, *out[1:]), kernel, stride, pads, dil, out, 0.0)
    total = windows.sum(3).permute(0, 2, 1, 3, 4).contiguous()
    if divisor_override is not None:
        if divisor_override == 0:
            raise op_error(ValueError, op, "divisor must be not zero")
        return undo(total / float(divisor_override))
    def divisors(xp, dtype):  # from the geometry alone
        counts = [_axis_counts(xp, size, k, s, p, o, count_include_pad)
                  for size, k, s, p, o in zip(x.shape[2:], kernel, stride, pads, out)]
        return (counts[0].reshape(-1, 1, 1) * counts[1].reshape(1, -1, 1) *
                counts[2].reshape(1, 1, -1)).astype(dtype)
    div = divisors(np, np.float64)  # told uniform on the host: no sync
    if (div == div.reshape(-1)[0]).all():
        return undo(total / div.reshape(-1)[0].item())
    return undo(total * Tensor._make(1 / divisors(backend_of(x._data), x._data.dtype)))


# ---------------------------------------------------------- adaptive pooling --
def adaptive_avg_pool3d(input: Tensor, output_size) -> Tensor:
    """Average pooling of (N, C, D, H, W) input to a fixed output size (None keeps a size).

    >>> import chainrule as cr
    >>> cr.nn.functional.adaptive_avg_pool3d(cr.ones(2, 3, 5, 7, 4), (2, 3, 1)).shape
    chainrule.Size([2, 3, 2, 3, 1])
    """
    op = "adaptive_avg_pool3d"
    x, undo = _as_5d(input, op)
    do, ho, wo = _adaptive_size(output_size, x, 3, op)
    n, c, d, h, w = x.shape
    plane = adaptive_avg_pool2d(x.reshape(n, c * d, h, w), (ho, wo)).reshape(n, c, d, ho, wo)
    if do == d:
        return undo(plane)
    depth = _window_matrix(backend_of(x._data), d, do, x._data.dtype)  # (Do, D)
    return undo((plane.transpose(2, 4) @ depth.mT).transpose(2, 4).contiguous())


def adaptive_max_pool3d(input: Tensor, output_size, return_indices: bool = False):
    """Max pooling of (N, C, D, H, W) input to a fixed output size."""
    op = "adaptive_max_pool3d"
    x, undo = _as_5d(input, op)
    do, ho, wo = _adaptive_size(output_size, x, 3, op)
    n, c, d, h, w = x.shape
    if 0 in (do, ho, wo):
        raise op_error(ShapeError, op, f"output_size {(do, ho, wo)} must be positive")
    plane, in_plane = adaptive_max_pool2d(x.reshape(n, c * d, h, w), (ho, wo), True)
    # depth last: (N, C·Ho·Wo, D), pooled by the 1-D adaptive max
    runs = plane.reshape(n, c, d, ho, wo).permute(0, 1, 3, 4, 2).reshape(n, c * ho * wo, d)
    best, depth = adaptive_max_pool1d(runs, do, True)
    result = best.reshape(n, c, ho, wo, do).permute(0, 1, 4, 2, 3).contiguous()
    if not return_indices:
        return undo(result)
    xp = backend_of(x._data)
    depth = depth._data.reshape(n, c, ho, wo, do).transpose(0, 1, 4, 2, 3)
    picked = xp.take_along_axis(in_plane._data.reshape(n, c, d, ho, wo), depth, axis=2)
    return undo(result), undo(Tensor._make((depth * (h * w) + picked).astype(xp.int64)))


def adaptive_max_pool3d_with_indices(input: Tensor, output_size, return_indices: bool = False):
    return adaptive_max_pool3d(input, output_size, return_indices=True)


# ------------------------------------------------------------ max unpooling --
def _max_unpool(input: Tensor, indices: Tensor, kernel_size, stride, padding, output_size,
                nd: int) -> Tensor:
    op = f"max_unpool{nd}d"
    _args.tensor(input, "input", op)
    _args.tensor(indices, "indices", op)
    if indices._data.dtype.kind not in "iu":
        raise op_error(DTypeError, op, f"elements in indices should be type int64 but got: "
                       f"{indices.dtype.name}")
    if input.ndim not in (nd + 1, nd + 2):
        raise op_error(ShapeError, op, f"Input to max_unpooling{nd}d should be a {nd + 1}d or "
                       f"{nd + 2}d Tensor, but got a tensor with {input.ndim} dimensions.")
    if tuple(indices.shape) != tuple(input.shape):
        raise op_error(ShapeError, op, f"Expected shape of indices to be same as that of the "
                       f"input tensor ({tuple(input.shape)}) but got indices tensor with shape: "
                       f"{tuple(indices.shape)}")
    kernel = pair(kernel_size, nd, "kernel_size", op)
    stride = kernel if stride is None else pair(stride, nd, "stride", op)
    pads = pair(padding, nd, "padding", op)
    spatial = tuple(input.shape[-nd:])
    default = tuple((i - 1) * s - 2 * p + k for i, s, p, k in zip(spatial, stride, pads, kernel))
    if output_size is None:
        out = default
    else:
        out = tuple(int(s) for s in output_size)
        if len(out) == nd + 2 or (len(out) == nd + 1 and input.ndim == nd + 1):
            out = out[-nd:]
        if len(out) != nd:
            raise op_error(ShapeError, op, f"output_size should be a sequence containing {nd} or "
                           f"{nd + 2} elements, but it has a length of '{len(output_size)}'")
        for size, base, s in zip(out, default, stride):
            if not base - s < size < base + s:
                raise op_error(ValueError, op, f"invalid output_size {tuple(output_size)} (dim "
                               f"sizes must be between {tuple(b - s + 1 for b, s in zip(default, stride))} "
                               f"and {tuple(b + s - 1 for b, s in zip(default, stride))})")
    unbatched = input.ndim == nd + 1
    x = input.unsqueeze(0) if unbatched else input
    idx = indices._data.reshape(x.shape[0], x.shape[1], -1).astype("int64")
    total = 1
    for s in out:
        total *= s
    if idx.size and (idx.min().item() < 0 or idx.max().item() >= total):
        bad = idx.min().item() if idx.min().item() < 0 else idx.max().item()
        raise op_error(IndexingError, op, f"Found an invalid max index: {bad} (output volumes are "
                       f"of size {'x'.join(str(s) for s in out)})")
    from ...creation import zeros
    base = zeros(x.shape[0], x.shape[1], total, dtype=x.dtype, device=x.device)
    result = base.scatter(2, Tensor._make(idx), x.reshape(x.shape[0], x.shape[1], -1))
    result = result.reshape(*x.shape[:2], *out)
    return result.squeeze(0) if unbatched else result


def max_unpool1d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0,
                 output_size=None) -> Tensor:
    """Inverse of :func:`max_pool1d`: values put back at ``indices``, zeros elsewhere."""
    return _max_unpool(input, indices, kernel_size, stride, padding, output_size, 1)


def max_unpool2d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0,
                 output_size=None) -> Tensor:
    """Inverse of :func:`max_pool2d`: values put back at ``indices``, zeros elsewhere."""
    return _max_unpool(input, indices, kernel_size, stride, padding, output_size, 2)


def max_unpool3d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0,
                 output_size=None) -> Tensor:
    """Inverse of :func:`max_pool3d`: values put back at ``indices``, zeros elsewhere."""
    return _max_unpool(input, indices, kernel_size, stride, padding, output_size, 3)
