"""Functional convolutions: ``conv1d``, ``conv2d``, ``conv_transpose1d``, ``conv_transpose2d``.

Arguments are checked and normalised here (PyTorch's signatures); the work is
done by the ops in ``chainrule/ops/conv.py``. 1-D convolutions run as 2-D ones
over a height of 1.

>>> import chainrule as cr
>>> import chainrule.nn.functional as F
>>> x = cr.ones(1, 1, 4, 4)
>>> F.conv2d(x, cr.ones(2, 1, 3, 3), padding=1)[0, 0]
tensor([[4., 6., 6., 4.],
        [6., 9., 9., 6.],
        [6., 9., 9., 6.],
        [4., 6., 6., 4.]])
"""
from __future__ import annotations

import numbers

from ...amp.autocast_mode import AUTOCAST, autocast_inputs
from ...errors import DTypeError, ShapeError, op_error
from ...ops.conv import conv2d_op, conv_transpose2d_op
from ...tensor import Tensor
from .._args import pair

__all__ = ["conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d"]


def conv_padding(padding, kernel: tuple, stride: tuple, dilation: tuple, op: str) -> tuple:
    """Per-side padding ``((top, bottom), (left, right))`` from an int, tuple, 'same' or 'valid'."""
    n = len(kernel)
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * n
        if padding == "same":
            if any(s != 1 for s in stride):
                raise op_error(ValueError, op, f"padding='same' is not supported for strided "
                               f"convolutions (stride={stride}); use an explicit padding")
            total = [d * (k - 1) for k, d in zip(kernel, dilation)]
            return tuple((t // 2, t - t // 2) for t in total)
        raise op_error(ValueError, op, f"padding must be an int, a tuple, 'same' or 'valid', got "
                       f"{padding!r}")
    pads = pair(padding, n, "padding", op)
    if any(p < 0 for p in pads):
        raise op_error(ValueError, op, f"padding must be non-negative, got {padding!r}")
    return tuple((p, p) for p in pads)


def _check_common(input: Tensor, weight: Tensor, bias, op: str, nd: int):
    for name, t in (("input", input), ("weight", weight)) + ((("bias", bias),) if bias is not None else ()):
        if not isinstance(t, Tensor):
            raise op_error(DTypeError, op, f"{name} must be a Tensor, got {type(t).__name__}")
    if weight.ndim != nd + 2:
        raise op_error(ShapeError, op, f"expected a {nd + 2}-D weight, got weight of shape "
                       f"{tuple(weight.shape)}")
    if input.ndim not in (nd + 1, nd + 2):
        raise op_error(ShapeError, op, f"expected a {nd + 1}-D (unbatched) or {nd + 2}-D (batched) "
                       f"input, got input of shape {tuple(input.shape)}")
    if input.dtype != weight.dtype or (bias is not None and bias.dtype != input.dtype):
        got = f"input {input.dtype.name}, weight {weight.dtype.name}" + \
            (f", bias {bias.dtype.name}" if bias is not None else "")
        raise op_error(DTypeError, op, f"input, weight and bias must have the same dtype, got {got}")
    if not input.is_floating_point():
        raise op_error(DTypeError, op, f"expected floating-point tensors, got {input.dtype.name}")


def _batched_2d(input: Tensor, weight: Tensor, bias, nd: int, op: str):
    """Check the arguments, then return ``(x, w, unbatched)``: the input with a batch dim,
    and for 1-D both input and weight with a height of 1, so every case runs as 2-D."""
    _check_common(input, weight, bias, op, nd)
    unbatched = input.ndim == nd + 1
    x = input.unsqueeze(0) if unbatched else input
    w = weight
    if nd == 1:
        x, w = x.unsqueeze(2), w.unsqueeze(2)
    return x, w, unbatched


def _check_bias(bias: Tensor, out_ch: int, op: str) -> None:
    if bias.shape != (out_ch,):
        raise op_error(ShapeError, op, f"expected bias of shape ({out_ch},), got "
                       f"{tuple(bias.shape)}")


def _add_bias_and_restore(out: Tensor, bias, out_ch: int, unbatched: bool, nd: int,
                          op: str) -> Tensor:
    """Add ``bias`` per channel to the 2-D result, then undo :func:`_batched_2d`'s reshapes."""
    if bias is not None:
        _check_bias(bias, out_ch, op)
        out = out + bias.reshape(1, out_ch, 1, 1)
    if nd == 1:
        out = out.squeeze(2)
    return out.squeeze(0) if unbatched else out


def _per_batch(run, x: Tensor) -> Tensor:
    """``run(x)``. A batch of 0 samples (which the conv kernels cannot lay out) runs on one
    zero sample and keeps none of it: PyTorch's output shape, and zero gradients for the
    weight and bias."""
    if x.shape[0]:
        return run(x)
    from ...creation import zeros
    one = zeros(1, *x.shape[1:], dtype=x.dtype, device=x.device)
    return run(one)[:0] + x.sum() * 0  # the last term keeps x in the graph (its grad: empty)


def _conv(input, weight, bias, stride, padding, dilation, groups, nd: int, op: str) -> Tensor:
    if AUTOCAST.active:  # inside chainrule.autocast: the convolution in its lower precision
        input, weight, bias = autocast_inputs(input, weight, bias)
    x, w, unbatched = _batched_2d(input, weight, bias, nd, op)
    kernel = tuple(w.shape[2:])
    if min(kernel) < 1:
        raise op_error(ShapeError, op, f"kernel size should be greater than zero, got weight of "
                       f"shape {tuple(weight.shape)}")
    stride = pair(stride, nd, "stride", op)
    dilation = pair(dilation, nd, "dilation", op)
    pads = conv_padding(padding, kernel[-nd:], stride, dilation, op)
    if nd == 1:
        stride, dilation, pads = (1,) + stride, (1,) + dilation, ((0, 0),) + pads
    groups = int(groups)
    out_ch, in_per_group = w.shape[0], w.shape[1]
    if min(stride) < 1 or min(dilation) < 1 or groups < 1:
        raise op_error(ValueError, op, f"stride, dilation and groups must be positive, got "
                       f"stride={stride[-nd:]}, dilation={dilation[-nd:]}, groups={groups}")
    if out_ch % groups:
        raise op_error(ShapeError, op, f"out_channels ({out_ch}, weight of shape "
                       f"{tuple(weight.shape)}) must be divisible by groups={groups}")
    if x.shape[1] != in_per_group * groups:
        raise op_error(ShapeError, op, f"expected input with {in_per_group * groups} channels "
                       f"(weight of shape {tuple(weight.shape)}, groups={groups}), got input of "
                       f"shape {tuple(input.shape)} with {x.shape[1]} channels")
    for size, k, s, p, d in zip(x.shape[2:], kernel, stride, pads, dilation):
        if size + sum(p) < d * (k - 1) + 1:
            raise op_error(ShapeError, op, f"input of shape {tuple(input.shape)} (padded by "
                           f"{pads[-nd:]}) is smaller than the dilated kernel of size "
                           f"{tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))[-nd:]}")
    if bias is not None:
        _check_bias(bias, out_ch, op)
    # the op adds the bias in the pass that lays its output out
    out = _per_batch(lambda t: conv2d_op(t, w, *(() if bias is None else (bias,)), stride=stride,
                                         padding=pads, dilation=dilation, groups=groups), x)
    return _add_bias_and_restore(out, None, out_ch, unbatched, nd, op)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """2-D convolution (cross-correlation, as PyTorch) of (N, C, H, W) or (C, H, W) input.

    ``weight`` is (out_channels, in_channels/groups, kH, kW); ``padding`` may be an
    int, a pair, ``'same'`` (stride 1 only) or ``'valid'``.
    """
    return _conv(input, weight, bias, stride, padding, dilation, groups, 2, "conv2d")


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """1-D convolution of (N, C, L) or (C, L) input with weight (out, in/groups, k).

    >>> import chainrule as cr
    >>> cr.nn.functional.conv1d(cr.ones(1, 1, 5), cr.ones(1, 1, 3)).tolist()
    [[[3.0, 3.0, 3.0]]]
    """
    return _conv(input, weight, bias, stride, padding, dilation, groups, 1, "conv1d")


def transposed_output_size(input, x_shape, weight, w_shape, stride, dilation, pads, out_pad,
                           groups: int, nd: int, op: str) -> tuple:
    """The spatial output size of a transposed convolution, after the checks PyTorch makes
    (groups divide the input channels, the input has them, output_padding below stride or
    dilation, a non-empty output). ``x_shape``/``w_shape`` are the batched input's and the
    weight's shapes as the kernel sees them (1-d made 2-d), ``input``/``weight`` the caller's
    tensors, named in the messages; only the last ``nd`` dims are shown there."""
    in_ch = w_shape[0]
    if groups < 1 or in_ch % groups:
        raise op_error(ShapeError, op, f"in_channels ({in_ch}, weight of shape "
                       f"{tuple(weight.shape)}) must be divisible by groups={groups}")
    if x_shape[1] != in_ch:
        raise op_error(ShapeError, op, f"expected input with {in_ch} channels (weight of shape "
                       f"{tuple(weight.shape)}), got input of shape {tuple(input.shape)}")
    for o, s, d in zip(out_pad, stride, dilation):
        if o >= max(s, d):
            raise op_error(ValueError, op, f"output_padding {out_pad[-nd:]} must be smaller than "
                           f"either stride {stride[-nd:]} or dilation {dilation[-nd:]}")
    out_size = tuple((i - 1) * s - 2 * p + d * (k - 1) + o + 1
                     for i, s, p, d, k, o in zip(x_shape[2:], stride, pads, dilation, w_shape[2:],
                                                 out_pad))
    if min(out_size) < 1:
        raise op_error(ShapeError, op, f"input of shape {tuple(input.shape)} gives an empty output "
                       f"{out_size[-nd:]} with padding {pads[-nd:]}")
    return out_size


def _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation,
                    nd: int, op: str) -> Tensor:
    if AUTOCAST.active:  # inside chainrule.autocast: the convolution in its lower precision
        input, weight, bias = autocast_inputs(input, weight, bias)
    x, w, unbatched = _batched_2d(input, weight, bias, nd, op)
    stride = pair(stride, nd, "stride", op)
    dilation = pair(dilation, nd, "dilation", op)
    pads = pair(padding, nd, "padding", op)
    out_pad = pair(output_padding, nd, "output_padding", op)
    if nd == 1:
        stride, dilation, pads, out_pad = (1,) + stride, (1,) + dilation, (0,) + pads, (0,) + out_pad
    groups = int(groups)
    out_hw = transposed_output_size(input, x.shape, weight, w.shape, stride, dilation, pads,
                                    out_pad, groups, nd, op)
    per_side = tuple((p, p) for p in pads)
    # the transposed conv is the input-gradient of the conv it reverses: (out, in/groups) swapped
    out = _per_batch(lambda t: conv_transpose2d_op(t, w, stride=stride, padding=per_side,
                                                   dilation=dilation, groups=groups,
                                                   in_hw=out_hw), x)
    out_ch = w.shape[1] * groups
    return _add_bias_and_restore(out, bias, out_ch, unbatched, nd, op)


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """Transposed 2-D convolution ("deconvolution"): the gradient of ``conv2d`` w.r.t. its input.

    ``weight`` is (in_channels, out_channels/groups, kH, kW).

    >>> import chainrule as cr
    >>> cr.nn.functional.conv_transpose2d(cr.ones(1, 1, 2, 2), cr.ones(1, 1, 2, 2), stride=2).shape
    chainrule.Size([1, 1, 4, 4])
    """
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation,
                           2, "conv_transpose2d")


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """Transposed 1-D convolution; ``weight`` is (in_channels, out_channels/groups, k)."""
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation,
                           1, "conv_transpose1d")
