"""The resampling kernels of ``interpolate`` beyond nearest and linear: 'bicubic' and 'area'.

Bicubic interpolation is separable: along each spatial dim, every output reads four
input neighbours (the indices clamped to the edge, as PyTorch) weighted by Keys'
cubic convolution with A = -0.75. Each dim is four ``index_select`` s and a weighted
sum, so gradients (every order) come from those ops. 'area' is adaptive average
pooling to the output size, which is what PyTorch runs for it.

>>> import chainrule as cr
>>> import chainrule.nn.functional as F
>>> F.interpolate(cr.ones(1, 1, 2, 2), scale_factor=2, mode="bicubic").shape
chainrule.Size([1, 1, 4, 4])
>>> F.interpolate(cr.arange(4.0).reshape(1, 1, 4), size=2, mode="area")
tensor([[[0.5000, 2.5000]]])
"""
from __future__ import annotations

from ...creation import arange
from ...dtypes import float64
from ...ops import elementwise as ew
from ...ops.indexing import select_in_range
from ...tensor import Tensor

__all__: list = []

_A = -0.75  # PyTorch's (and OpenCV's) bicubic coefficient


def _cubic_weights(t: Tensor) -> list:
    """The four tap weights for fractional offsets ``t`` (taps at -1, 0, 1, 2)."""
    def near(x):  # |x| <= 1
        return ((_A + 2) * x - (_A + 3)) * x * x + 1

    def far(x):  # 1 < |x| < 2
        return ((_A * x - 5 * _A) * x + 8 * _A) * x - 4 * _A
    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


def bicubic_along(x: Tensor, dim: int, n_out: int, scale, align_corners: bool) -> Tensor:
    """``x`` resampled to ``n_out`` along ``dim`` by cubic convolution (PyTorch's source
    positions: unlike the linear modes, left of the first pixel is not clamped to 0)."""
    n_in = x.shape[dim]
    dst = arange(n_out, dtype=float64, device=x.device)
    if align_corners:
        src = dst * ((n_in - 1) / (n_out - 1) if n_out > 1 else 0.0)
    else:
        ratio = 1.0 / scale if scale is not None and scale > 0 else n_in / n_out
        src = (dst + 0.5) * ratio - 0.5
    base = ew.floor(src)
    t = (src - base).to(x.dtype)
    shape = [1] * x.ndim
    shape[dim] = n_out
    out = None
    for k, w in enumerate(_cubic_weights(t)):
        index = ew.clamp(base + (k - 1), 0, n_in - 1).long()
        term = select_in_range(x, dim, index) * w.reshape(shape)
        out = term if out is None else out + term
    return out


def area(input: Tensor, sizes: list) -> Tensor:
    """PyTorch's 'area' mode: adaptive average pooling to ``sizes``."""
    from . import _pooling
    nd = len(sizes)
    if nd == 1:
        return _pooling.adaptive_avg_pool1d(input, sizes[0])
    if nd == 2:
        return _pooling.adaptive_avg_pool2d(input, tuple(sizes))
    from ._pooling3d import adaptive_avg_pool3d
    return adaptive_avg_pool3d(input, tuple(sizes))
