"""3-D convolution and pooling layers (Conv3d, ConvTranspose3d, MaxPool3d, AvgPool3d,
AdaptiveAvgPool3d, AdaptiveMaxPool3d) and the max-unpooling layers (MaxUnpool1d/2d/3d).

They hold their arguments as the 2-D layers do and call the functional forms of
``functional/_conv3d.py`` and ``functional/_pooling3d.py``.

>>> import chainrule as cr
>>> conv = cr.nn.Conv3d(2, 4, 3, padding=1)
>>> conv
Conv3d(2, 4, kernel_size=(3, 3, 3), stride=(1, 1, 1), padding=(1, 1, 1))
>>> cr.nn.MaxPool3d(2)(conv(cr.ones(1, 2, 4, 4, 4))).shape
chainrule.Size([1, 4, 2, 2, 2])
"""
from __future__ import annotations

from ..tensor import Tensor
from .conv import ConvTranspose2d, _ConvNd
from .functional import _conv3d as F3
from .functional import _pooling3d as P3
from .module import Module
from .pooling import _AdaptiveNd, _AvgPoolNd, _MaxPoolNd

__all__ = ["Conv3d", "ConvTranspose3d", "MaxPool3d", "AvgPool3d", "AdaptiveAvgPool3d",
           "AdaptiveMaxPool3d", "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d"]


class Conv3d(_ConvNd):
    """3-D convolution over (N, C_in, D, H, W) or (C_in, D, H, W) input; weight
    (out_channels, in_channels/groups, kD, kH, kW)."""

    _nd = 3

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device=None, dtype=None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, padding_mode, 0, device, dtype)

    def forward(self, input: Tensor) -> Tensor:
        self._check_input(input)
        x, padding = self._conv_args(input)
        return F3.conv3d(x, self.weight, self.bias, self.stride, padding, self.dilation,
                         self.groups)


class ConvTranspose3d(ConvTranspose2d):
    """Transposed 3-D convolution; weight (in_channels, out_channels/groups, kD, kH, kW)."""

    _nd = 3

    def forward(self, input: Tensor, output_size=None) -> Tensor:
        self._check_input(input)
        return F3.conv_transpose3d(input, self.weight, self.bias, self.stride, self.padding,
                                   self._output_padding(input, output_size), self.groups,
                                   self.dilation)


class MaxPool3d(_MaxPoolNd):
    """Maximum over windows of (N, C, D, H, W) input; ``return_indices`` also gives flat
    positions in each (D, H, W) volume."""

    def forward(self, input: Tensor):
        return P3.max_pool3d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                             self.ceil_mode, self.return_indices)


class AvgPool3d(_AvgPoolNd):
    """Mean over windows of (N, C, D, H, W) input (``count_include_pad``, ``divisor_override``)."""

    def forward(self, input: Tensor) -> Tensor:
        return P3.avg_pool3d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                             self.count_include_pad, self.divisor_override)


class AdaptiveAvgPool3d(_AdaptiveNd):
    """Average pooling to a fixed (D, H, W) output size; None keeps that size."""

    def __init__(self, output_size) -> None:
        super().__init__(output_size)

    def forward(self, input: Tensor) -> Tensor:
        return P3.adaptive_avg_pool3d(input, self.output_size)


class AdaptiveMaxPool3d(_AdaptiveNd):
    """Max pooling to a fixed (D, H, W) output size."""

    def forward(self, input: Tensor):
        return P3.adaptive_max_pool3d(input, self.output_size, self.return_indices)


class _MaxUnpoolNd(Module):
    _nd = 2

    def __init__(self, kernel_size, stride=None, padding=0) -> None:
        super().__init__()
        nd = self._nd
        name = type(self).__name__
        self.kernel_size = P3.pair(kernel_size, nd, "kernel_size", name)
        self.stride = P3.pair(stride if stride is not None else kernel_size, nd, "stride", name)
        self.padding = P3.pair(padding, nd, "padding", name)

    def forward(self, input: Tensor, indices: Tensor, output_size=None) -> Tensor:
        return P3._max_unpool(input, indices, self.kernel_size, self.stride, self.padding,
                              output_size, self._nd)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpoolNd):
    """Inverse of MaxPool1d: ``forward(input, indices, output_size=None)``."""

    _nd = 1


class MaxUnpool2d(_MaxUnpoolNd):
    """Inverse of MaxPool2d: ``forward(input, indices, output_size=None)``.

    >>> import chainrule as cr
    >>> pool, unpool = cr.nn.MaxPool2d(2, return_indices=True), cr.nn.MaxUnpool2d(2)
    >>> out, idx = pool(cr.arange(16.0).reshape(1, 1, 4, 4))
    >>> unpool(out, idx)[0, 0]
    tensor([[ 0.,  0.,  0.,  0.],
            [ 0.,  5.,  0.,  7.],
            [ 0.,  0.,  0.,  0.],
            [ 0., 13.,  0., 15.]])
    """

    _nd = 2


class MaxUnpool3d(_MaxUnpoolNd):
    """Inverse of MaxPool3d: ``forward(input, indices, output_size=None)``."""

    _nd = 3
