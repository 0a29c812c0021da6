"""Convolution layers: Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d (PyTorch's init).

>>> import chainrule as cr
>>> conv = cr.nn.Conv2d(1, 4, kernel_size=3, padding=1)
>>> conv
Conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))
>>> conv(cr.ones(2, 1, 8, 8)).shape
chainrule.Size([2, 4, 8, 8])
"""
from __future__ import annotations

import math

from ..creation import empty
from ..errors import ShapeError, op_error
from ..tensor import Tensor
from . import _args, init
from .functional import _conv as F
from .module import Module
from .parameter import Parameter

__all__ = ["Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    """Shared state of the convolution layers."""

    _nd = 2
    _transposed = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 output_padding=0, device=None, dtype=None) -> None:
        super().__init__()
        name, nd = type(self).__name__, self._nd
        _args.size(in_channels, "in_channels", name)
        _args.size(out_channels, "out_channels", name)
        _args.size(groups, "groups", name, minimum=1)
        if in_channels % groups or out_channels % groups:
            raise op_error(ValueError, name, f"in_channels ({in_channels}) and out_channels "
                           f"({out_channels}) must both be divisible by groups ({groups})")
        if padding_mode not in _PADDING_MODES or (self._transposed and padding_mode != "zeros"):
            allowed = "'zeros'" if self._transposed else ", ".join(repr(m) for m in _PADDING_MODES)
            raise op_error(ValueError, name, f"padding_mode must be one of {allowed}, got "
                           f"{padding_mode!r}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = F.pair(kernel_size, nd, "kernel_size", name)
        if min(self.kernel_size) < 0:  # 0 makes an empty weight (PyTorch warns at init)
            raise op_error(ShapeError, name,
                           f"kernel_size must be non-negative, got {kernel_size!r}")
        self.stride = F.pair(stride, nd, "stride", name)
        self.dilation = F.pair(dilation, nd, "dilation", name)
        if isinstance(padding, str):
            F.conv_padding(padding, self.kernel_size, self.stride, self.dilation, name)  # validate
            self.padding = padding
        else:
            self.padding = F.pair(padding, nd, "padding", name)
        self.output_padding = F.pair(output_padding, nd, "output_padding", name)
        self.groups = groups
        self.padding_mode = padding_mode
        self.transposed = self._transposed
        shape = ((in_channels, out_channels // groups) if self._transposed
                 else (out_channels, in_channels // groups)) + self.kernel_size
        self.weight = Parameter(empty(*shape, dtype=dtype, device=device))
        if bias:
            self.bias = Parameter(empty(out_channels, dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """U(-1/√fan_in, 1/√fan_in) for weight and bias (kaiming_uniform_ with a=√5, as PyTorch)."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * math.prod(self.kernel_size)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def _check_input(self, input: Tensor) -> None:
        nd = self._nd
        if not isinstance(input, Tensor) or input.ndim not in (nd + 1, nd + 2):
            got = f"input of shape {tuple(input.shape)}" if isinstance(input, Tensor) else \
                type(input).__name__
            raise op_error(ShapeError, type(self).__name__,
                           f"expected a {nd + 1}-D (unbatched) or {nd + 2}-D (batched) input, "
                           f"got {got}")
        channels = input.shape[-nd - 1]
        if channels != self.in_channels:
            raise op_error(ShapeError, type(self).__name__,
                           f"{self!r} was given an input of shape {tuple(input.shape)} with "
                           f"{channels} channels, but it expects {self.in_channels} channels")

    def _conv_args(self, input: Tensor):
        """Input and padding for the functional call; other padding modes pad here first."""
        if self.padding_mode == "zeros":
            return input, self.padding
        from .functional import _misc
        pads = F.conv_padding(self.padding, self.kernel_size, self.stride, self.dilation,
                              type(self).__name__)
        flat = tuple(p for pair in reversed(pads) for p in pair)  # F.pad: last dim first
        return _misc.pad(input, flat, mode=self.padding_mode), 0

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * self._nd:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self._nd:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self._nd:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv2d(_ConvNd):
    """2-D convolution over (N, C_in, H, W) or (C_in, H, W) input.

    Weight (out_channels, in_channels/groups, kH, kW); ``padding`` an int, a pair,
    ``'same'`` or ``'valid'``; ``padding_mode`` 'zeros', 'reflect', 'replicate' or 'circular'.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device=None, dtype=None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, padding_mode, 0, device, dtype)

    def forward(self, input: Tensor) -> Tensor:
        self._check_input(input)
        x, padding = self._conv_args(input)
        return F.conv2d(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)


class Conv1d(_ConvNd):
    """1-D convolution over (N, C_in, L) or (C_in, L) input; weight (out, in/groups, k).

    >>> import chainrule as cr
    >>> cr.nn.Conv1d(2, 3, 5, stride=2)(cr.ones(4, 2, 11)).shape
    chainrule.Size([4, 3, 4])
    """

    _nd = 1

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device=None, dtype=None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, padding_mode, 0, device, dtype)

    def forward(self, input: Tensor) -> Tensor:
        self._check_input(input)
        x, padding = self._conv_args(input)
        return F.conv1d(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)


class ConvTranspose2d(_ConvNd):
    """Transposed 2-D convolution; weight (in_channels, out_channels/groups, kH, kW).

    >>> import chainrule as cr
    >>> up = cr.nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1)
    >>> up(cr.ones(1, 4, 5, 5)).shape
    chainrule.Size([1, 2, 10, 10])
    """

    _transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 output_padding=0, groups: int = 1, bias: bool = True, dilation=1,
                 padding_mode: str = "zeros", device=None, dtype=None) -> None:
        if isinstance(padding, str):
            raise op_error(ValueError, type(self).__name__, f"padding must be an int or a tuple, "
                           f"got {padding!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, padding_mode, output_padding, device, dtype)

    def forward(self, input: Tensor, output_size=None) -> Tensor:
        self._check_input(input)
        return F.conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding,
                                  self._output_padding(input, output_size), self.groups,
                                  self.dilation)

    def _output_padding(self, input: Tensor, output_size) -> tuple:
        """The output_padding that gives ``output_size`` (PyTorch's forward argument)."""
        if output_size is None:
            return self.output_padding
        nd = self._nd
        want = tuple(int(s) for s in output_size)[-nd:]
        pads = []
        for i, (size, s, p, d, k) in enumerate(zip(input.shape[-nd:], self.stride, self.padding,
                                                   self.dilation, self.kernel_size)):
            smallest = (size - 1) * s - 2 * p + d * (k - 1) + 1
            extra = want[i] - smallest
            if not 0 <= extra < max(s, d):
                raise op_error(ShapeError, type(self).__name__,
                               f"requested output_size {tuple(output_size)} is not reachable from "
                               f"input of shape {tuple(input.shape)}: each size must be in "
                               f"[{smallest}, {smallest + max(s, d) - 1}] for dim {i}")
            pads.append(extra)
        return tuple(pads)


class ConvTranspose1d(ConvTranspose2d):
    """Transposed 1-D convolution; weight (in_channels, out_channels/groups, k)."""

    _nd = 1

    def forward(self, input: Tensor, output_size=None) -> Tensor:
        self._check_input(input)
        return F.conv_transpose1d(input, self.weight, self.bias, self.stride, self.padding,
                                  self._output_padding(input, output_size), self.groups,
                                  self.dilation)
