"""Rearranging pixels and patches: ``pixel_shuffle``, ``pixel_unshuffle``, ``channel_shuffle``,
``unfold`` (im2col), ``fold`` (col2im), and the deprecated ``upsample_nearest`` /
``upsample_bilinear``.

The shuffles are reshapes and a permute. ``unfold`` reads every patch with one
``index_select`` over the flattened, padded image (an index per patch element), and
``fold`` is its adjoint: one ``scatter_add`` of the columns into that image, then the
padding cropped. Gradients come from those ops' rules, so each is the other's backward.

>>> import chainrule as cr
>>> import chainrule.nn.functional as F
>>> F.pixel_shuffle(cr.ones(1, 8, 2, 3), 2).shape
chainrule.Size([1, 2, 4, 6])
>>> cols = F.unfold(cr.ones(1, 2, 4, 4), kernel_size=2, stride=2)
>>> cols.shape
chainrule.Size([1, 8, 4])
>>> F.fold(cols, output_size=4, kernel_size=2, stride=2).shape
chainrule.Size([1, 2, 4, 4])
"""
from __future__ import annotations

from ...backends import backend_of
from ...errors import ShapeError, op_error, warn_user
from ...ops.indexing import scatter_zeros, select_in_range
from ...tensor import Tensor
from .. import _args

__all__ = ["pixel_shuffle", "pixel_unshuffle", "channel_shuffle", "native_channel_shuffle",
           "unfold", "fold", "upsample_nearest", "upsample_bilinear"]


def _factor(value, name: str, op: str) -> int:
    return _args.size(value, name, op, minimum=1)


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """(*, C·r², H, W) → (*, C, H·r, W·r): channel blocks become r×r pixel blocks."""
    op = "pixel_shuffle"
    _args.tensor(input, "input", op)
    r = _factor(upscale_factor, "upscale_factor", op)
    if input.ndim < 3:
        raise op_error(ShapeError, op, f"expects input to have at least 3 dimensions, but got "
                       f"input with {input.ndim} dimension(s)")
    *lead, c, h, w = input.shape
    if c % (r * r):
        raise op_error(ShapeError, op, f"expects its input's 'channel' dimension to be divisible "
                       f"by the square of upscale_factor, but input.size(-3)={c} is not divisible "
                       f"by {r * r}")
    n = len(lead)
    x = input.reshape(*lead, c // (r * r), r, r, h, w)
    x = x.permute(*range(n), n, n + 3, n + 1, n + 4, n + 2)
    return x.reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """(*, C, H·r, W·r) → (*, C·r², H, W): the inverse of :func:`pixel_shuffle`."""
    op = "pixel_unshuffle"
    _args.tensor(input, "input", op)
    r = _factor(downscale_factor, "downscale_factor", op)
    if input.ndim < 3:
        raise op_error(ShapeError, op, f"expects input to have at least 3 dimensions, but got "
                       f"input with {input.ndim} dimension(s)")
    *lead, c, h, w = input.shape
    if h % r or w % r:
        raise op_error(ShapeError, op, f"expects height and width to be divisible by "
                       f"downscale_factor, but got height={h} and width={w} for downscale_factor={r}")
    n = len(lead)
    x = input.reshape(*lead, c, h // r, r, w // r, r)
    x = x.permute(*range(n), n, n + 2, n + 4, n + 1, n + 3)
    return x.reshape(*lead, c * r * r, h // r, w // r)


def channel_shuffle(input: Tensor, groups: int) -> Tensor:
    """(N, C, *) with C = g·k: the channels reordered from g groups of k to k groups of g."""
    op = "channel_shuffle"
    _args.tensor(input, "input", op)
    g = _factor(groups, "groups", op)
    if input.ndim < 3:
        raise op_error(ShapeError, op, f"expects input to have at least 3 dimensions, but got "
                       f"input with {input.ndim} dimension(s)")
    n, c, *rest = input.shape
    if c % g:
        raise op_error(ShapeError, op, f"number of channels must be divisible by groups, got "
                       f"{c} channels and groups={g}")
    x = input.reshape(n, g, c // g, *rest).transpose(1, 2)
    return x.reshape(n, c, *rest)


native_channel_shuffle = channel_shuffle


# ----------------------------------------------------------- unfold / fold --
def _geometry(kernel_size, dilation, padding, stride, op: str):
    k = _args.pair(kernel_size, 2, "kernel_size", op)
    d = _args.pair(dilation, 2, "dilation", op)
    p = _args.pair(padding, 2, "padding", op)
    s = _args.pair(stride, 2, "stride", op)
    if min(k) <= 0 or min(d) <= 0 or min(s) <= 0 or min(p) < 0:
        raise op_error(ShapeError, op, f"kernel_size {k}, dilation {d} and stride {s} must be "
                       f"positive and padding {p} non-negative")
    return k, d, p, s


def _blocks(size: tuple, k, d, p, s, op: str) -> tuple:
    """The number of patch positions along each spatial dim."""
    out = tuple((size[i] + 2 * p[i] - d[i] * (k[i] - 1) - 1) // s[i] + 1 for i in range(2))
    if min(out) <= 0:
        raise op_error(ShapeError, op, f"given input with spatial size {size}, kernel_size {k}, "
                       f"dilation {d}, padding {p}, calculated shape of the array of sliding "
                       f"blocks as {out}, but its components must be at least one")
    return out


def _patch_index(padded: tuple, k, d, s, blocks, like: Tensor) -> Tensor:
    """Flat positions in the padded image of element (ki, kj) of patch (bi, bj), ordered
    (ki, kj, bi, bj): the layout of unfold's output."""
    from ...creation import tensor
    xp = backend_of(like._data)
    ki = xp.arange(k[0]).reshape(-1, 1, 1, 1) * d[0]
    kj = xp.arange(k[1]).reshape(1, -1, 1, 1) * d[1]
    bi = xp.arange(blocks[0]).reshape(1, 1, -1, 1) * s[0]
    bj = xp.arange(blocks[1]).reshape(1, 1, 1, -1) * s[1]
    flat = (ki + bi) * padded[1] + (kj + bj)
    return tensor(flat.reshape(-1).astype("int64"), device=like.device)


def unfold(input: Tensor, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Sliding patches of (N, C, H, W) (or unbatched (C, H, W)) input as columns:
    (N, C·kh·kw, L), L the number of patch positions (im2col)."""
    op = "unfold"
    _args.tensor(input, "input", op)
    if input.ndim not in (3, 4):
        raise op_error(ShapeError, op, f"Input Error: Only 3D or 4D input Tensors are supported "
                       f"(got {input.ndim}D)")
    k, d, p, s = _geometry(kernel_size, dilation, padding, stride, op)
    batched = input.ndim == 4
    x = input if batched else input.unsqueeze(0)
    n, c, h, w = x.shape
    blocks = _blocks((h, w), k, d, p, s, op)
    if p != (0, 0):
        from ...ops.shape import pad
        x = pad(x, (p[1], p[1], p[0], p[0]))
    padded = (h + 2 * p[0], w + 2 * p[1])
    index = _patch_index(padded, k, d, s, blocks, x)
    cols = select_in_range(x.reshape(n, c, padded[0] * padded[1]), 2, index)
    cols = cols.reshape(n, c * k[0] * k[1], blocks[0] * blocks[1])
    return cols if batched else cols.squeeze(0)


def fold(input: Tensor, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Columns (N, C·kh·kw, L) (or unbatched (C·kh·kw, L)) summed back into an image
    (N, C, H, W), overlapping patches adding up (col2im; the adjoint of :func:`unfold`)."""
    op = "fold"
    _args.tensor(input, "input", op)
    if input.ndim not in (2, 3):
        raise op_error(ShapeError, op, f"Input Error: Only unbatched (2D) or batched (3D) input "
                       f"Tensors are supported (got {input.ndim}D)")
    size = _args.pair(output_size, 2, "output_size", op)
    k, d, p, s = _geometry(kernel_size, dilation, padding, stride, op)
    batched = input.ndim == 3
    x = input if batched else input.unsqueeze(0)
    n, ckk, length = x.shape
    if ckk % (k[0] * k[1]):
        raise op_error(ShapeError, op, f"Expected size of input's dimension 1 to be divisible by "
                       f"the product of kernel_size, but got input.size(1)={ckk} and "
                       f"kernel_size={k}")
    blocks = _blocks(size, k, d, p, s, op)
    if blocks[0] * blocks[1] != length:
        raise op_error(ShapeError, op, f"Given output_size={size}, kernel_size={k}, dilation={d}, "
                       f"padding={p}, stride={s}, expected size of input's dimension 2 to match "
                       f"the calculated number of sliding blocks {blocks[0]} * {blocks[1]} = "
                       f"{blocks[0] * blocks[1]}, but got input.size(2)={length}")
    c = ckk // (k[0] * k[1])
    padded = (size[0] + 2 * p[0], size[1] + 2 * p[1])
    index = _patch_index(padded, k, d, s, blocks, x)
    src = x.reshape(n, c, k[0] * k[1] * length)
    # (the index is in range by construction: scatter_add's check of it would sync a GPU)
    image = scatter_zeros((n, c, padded[0] * padded[1]), 2,
                          index.reshape(1, 1, -1).expand(n, c, index.shape[0]), src)
    image = image.reshape(n, c, *padded)[:, :, p[0]:p[0] + size[0], p[1]:p[1] + size[1]]
    return image if batched else image.squeeze(0)


# ------------------------------------------------------- deprecated resizes --
def upsample_nearest(input: Tensor, size=None, scale_factor=None) -> Tensor:
    """Deprecated (warns, as PyTorch): ``interpolate(..., mode='nearest')``."""
    from ._misc import interpolate
    warn_user("`nn.functional.upsample_nearest` is deprecated. Use `nn.functional.interpolate` "
              "instead.")
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input: Tensor, size=None, scale_factor=None) -> Tensor:
    """Deprecated (warns, as PyTorch): ``interpolate(..., mode='bilinear', align_corners=True)``."""
    from ._misc import interpolate
    warn_user("`nn.functional.upsample_bilinear` is deprecated. Use `nn.functional.interpolate` "
              "instead.")
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)
