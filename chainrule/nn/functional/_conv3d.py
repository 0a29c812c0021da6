"""Functional 3-D convolutions: ``conv3d`` and ``conv_transpose3d`` (PyTorch's signatures).

Both run on the 2-D convolution ops: the depth windows of the input are laid side by
side as channels (``ops/depth_windows.py``), so a 3-D convolution is one 2-D
convolution over (N·Do, C·kd, H, W) with the weight read as (O, C/G·kd, kh, kw). The
transposed convolution is the 2-D transposed convolution of every depth slice with
the weight read as (C_in, C_out/G·kd, kh, kw), its kd output blocks then added back
at their depths (``depth_fold``). The 2-D paths are untouched.

>>> import chainrule as cr
>>> import chainrule.nn.functional as F
>>> F.conv3d(cr.ones(1, 1, 3, 3, 3), cr.ones(1, 1, 2, 2, 2)).shape
chainrule.Size([1, 1, 2, 2, 2])
>>> F.conv_transpose3d(cr.ones(1, 1, 2, 2, 2), cr.ones(1, 1, 2, 2, 2), stride=2).shape
chainrule.Size([1, 1, 4, 4, 4])
"""
from __future__ import annotations

from ...amp.autocast_mode import AUTOCAST, autocast_inputs
from ...errors import ShapeError, op_error
from ...ops.conv import conv2d_op, conv_transpose2d_op
from ...ops.depth_windows import depth_fold_op, depth_unfold_op
from ...tensor import Tensor
from .._args import pair
from ._conv import _check_bias, _check_common, _per_batch, conv_padding, transposed_output_size

__all__ = ["conv3d", "conv_transpose3d"]


def _batched(input: Tensor, weight: Tensor, bias, op: str):
    _check_common(input, weight, bias, op, 3)
    unbatched = input.ndim == 4
    return (input.unsqueeze(0) if unbatched else input), unbatched


def conv3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """3-D convolution of (N, C, D, H, W) or (C, D, H, W) input with weight
    (out_channels, in_channels/groups, kD, kH, kW); ``padding`` as :func:`conv2d`'s."""
    op = "conv3d"
    if AUTOCAST.active:
        input, weight, bias = autocast_inputs(input, weight, bias)
    x, unbatched = _batched(input, weight, bias, op)
    kernel = tuple(weight.shape[2:])
    if min(kernel) < 1:
        raise op_error(ShapeError, op, f"kernel size should be greater than zero, got weight of "
                       f"shape {tuple(weight.shape)}")
    stride = pair(stride, 3, "stride", op)
    dilation = pair(dilation, 3, "dilation", op)
    pads = conv_padding(padding, kernel, stride, dilation, op)
    groups = int(groups)
    out_ch, in_per_group = weight.shape[:2]
    if min(stride) < 1 or min(dilation) < 1 or groups < 1:
        raise op_error(ValueError, op, f"stride, dilation and groups must be positive, got "
                       f"stride={stride}, dilation={dilation}, groups={groups}")
    if out_ch % groups:
        raise op_error(ShapeError, op, f"out_channels ({out_ch}, weight of shape "
                       f"{tuple(weight.shape)}) must be divisible by groups={groups}")
    if x.shape[1] != in_per_group * groups:
        raise op_error(ShapeError, op, f"expected input with {in_per_group * groups} channels "
                       f"(weight of shape {tuple(weight.shape)}, groups={groups}), got input of "
                       f"shape {tuple(input.shape)} with {x.shape[1]} channels")
    for size, k, p, d in zip(x.shape[2:], kernel, pads, dilation):
        if size + sum(p) < d * (k - 1) + 1:
            raise op_error(ShapeError, op, f"input of shape {tuple(input.shape)} (padded by "
                           f"{pads}) is smaller than the dilated kernel of size "
                           f"{tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))}")
    if bias is not None:
        _check_bias(bias, out_ch, op)
    kd = kernel[0]
    depth = (x.shape[2] + sum(pads[0]) - dilation[0] * (kd - 1) - 1) // stride[0] + 1
    w2 = weight.reshape(out_ch, in_per_group * kd, *kernel[1:])

    def run(t: Tensor) -> Tensor:
        n, c, _, h, w = t.shape
        cols = depth_unfold_op(t, kernel=kd, stride=stride[0], padding=pads[0],
                               dilation=dilation[0], in_depth=t.shape[2], out_depth=depth)
        y = conv2d_op(cols.reshape(n * depth, c * kd, h, w), w2,
                      *(() if bias is None else (bias,)), stride=stride[1:], padding=pads[1:],
                      dilation=dilation[1:], groups=groups)
        y = y.reshape(n, depth, out_ch, *y.shape[2:]).permute(0, 2, 1, 3, 4)
        return y.contiguous()
    out = _per_batch(run, x)
    return out.squeeze(0) if unbatched else out


def conv_transpose3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """Transposed 3-D convolution; ``weight`` is (in_channels, out_channels/groups, kD, kH, kW).

    >>> import chainrule as cr
    >>> up = cr.nn.functional.conv_transpose3d
    >>> up(cr.ones(1, 2, 3, 3, 3), cr.ones(2, 4, 3, 3, 3), stride=2, padding=1).shape
    chainrule.Size([1, 4, 5, 5, 5])
    """
    op = "conv_transpose3d"
    if AUTOCAST.active:
        input, weight, bias = autocast_inputs(input, weight, bias)
    x, unbatched = _batched(input, weight, bias, op)
    stride = pair(stride, 3, "stride", op)
    dilation = pair(dilation, 3, "dilation", op)
    pads = pair(padding, 3, "padding", op)
    out_pad = pair(output_padding, 3, "output_padding", op)
    groups = int(groups)
    in_ch, out_per_group = weight.shape[:2]
    if min(stride) < 1 or min(dilation) < 1 or min(pads) < 0:
        raise op_error(ValueError, op, f"stride and dilation must be positive and padding "
                       f"non-negative, got stride={stride}, dilation={dilation}, padding={pads}")
    out_size = transposed_output_size(input, x.shape, weight, weight.shape, stride, dilation,
                                      pads, out_pad, groups, 3, op)
    kernel = tuple(weight.shape[2:])
    out_ch = out_per_group * groups
    if bias is not None:
        _check_bias(bias, out_ch, op)
    kd = kernel[0]
    w2 = weight.reshape(in_ch, out_per_group * kd, *kernel[1:])

    def run(t: Tensor) -> Tensor:
        n, _, depth, h, w = t.shape
        slices = t.permute(0, 2, 1, 3, 4).reshape(n * depth, in_ch, h, w)
        z = conv_transpose2d_op(slices, w2, stride=stride[1:],
                                padding=tuple((p, p) for p in pads[1:]), dilation=dilation[1:],
                                groups=groups, in_hw=out_size[1:])
        z = z.reshape(n, depth, out_ch, kd, *out_size[1:])
        return depth_fold_op(z, kernel=kd, stride=stride[0], padding=(pads[0], pads[0]),
                             dilation=dilation[0], in_depth=out_size[0], out_depth=depth)
    out = _per_batch(run, x)
    if bias is not None:
        out = out + bias.reshape(1, out_ch, 1, 1, 1)
    return out.squeeze(0) if unbatched else out
