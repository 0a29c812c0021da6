"""Spatial transformers: ``affine_grid`` and ``grid_sample`` (PyTorch's signatures).

``affine_grid`` maps the normalised coordinates [-1, 1] of every output pixel
through a batch of affine matrices. ``grid_sample`` reads the input at those
coordinates: it un-normalises them, applies the padding mode to the coordinate
('border' clips it, 'reflection' folds it back; PyTorch's conventions), then
takes the corner values of the cell around each point (bilinear: 2 corners a dim,
weighted) or the nearest value (ties to even, as PyTorch). Corners outside the
input read 0. Everything after the integer cell index is made of differentiable
ops (gathers, products, clamps), so the gradients for the input and for the grid
(and higher orders) come from their rules; 'nearest' gives the grid a zero gradient.
4-D input samples with an (N, H, W, 2) grid, 5-D input with an (N, D, H, W, 3) grid.

>>> import chainrule as cr
>>> import chainrule.nn.functional as F
>>> theta = cr.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
>>> x = cr.arange(6.0).reshape(1, 1, 2, 3)
>>> grid = F.affine_grid(theta, (1, 1, 2, 3), align_corners=False)
>>> F.grid_sample(x, grid, align_corners=False)  # the identity transform
tensor([[[[0., 1., 2.],
          [3., 4., 5.]]]])
"""
from __future__ import annotations

from ...backends import backend_of
from ...errors import DTypeError, ShapeError, op_error, warn_user
from ...ops import elementwise as ew
from ...tensor import Tensor
from .. import _args

__all__ = ["affine_grid", "grid_sample"]

_DEFAULT_WARNING = ("Default grid_sample and affine_grid behavior has changed to align_corners="
                    "False since 1.3.0. Please specify align_corners=True if the old behavior is "
                    "desired. See the documentation of grid_sample for details.")


def _align(align_corners) -> bool:
    if align_corners is None:
        warn_user(_DEFAULT_WARNING)
        return False
    return bool(align_corners)


# ---------------------------------------------------------------- affine_grid --
def _base_coords(xp, n: int, align_corners: bool, dtype):
    """PyTorch's normalised positions of ``n`` pixels: [-1, 1] at the pixel centres' extremes
    (align_corners) or at the image's edges (shrunk by (n-1)/n); a single pixel sits at 0."""
    if n <= 1:
        return xp.zeros(n, dtype=dtype)
    steps = xp.linspace(-1.0, 1.0, n, dtype=dtype)
    return steps if align_corners else steps * dtype.type((n - 1) / n)


def affine_grid(theta: Tensor, size, align_corners: bool | None = None) -> Tensor:
    """Sampling grid (N, H, W, 2) of ``theta`` (N, 2, 3) for ``size`` (N, C, H, W), or
    (N, D, H, W, 3) of ``theta`` (N, 3, 4) for ``size`` (N, C, D, H, W)."""
    op = "affine_grid"
    _args.tensor(theta, "theta", op)
    align = _align(align_corners)
    if not theta.is_floating_point():
        raise op_error(DTypeError, op, f"Expected theta to have floating point type, but got "
                       f"{theta.dtype.name}")
    size = tuple(int(s) for s in size)
    if len(size) not in (4, 5):
        raise op_error(NotImplementedError, op, f"affine_grid only supports 4D and 5D sizes, for "
                       f"2D and 3D affine transforms, respectively. Got size {size}.")
    nd = len(size) - 2
    want = (size[0], nd, nd + 1)
    if tuple(theta.shape) != want:
        raise op_error(ShapeError, op, f"Expected a batch of {nd}D affine matrices of shape "
                       f"Nx{nd}x{nd + 1} for size {size}. Got {tuple(theta.shape)}.")
    if min(size[2:]) <= 0:
        raise op_error(ValueError, op, f"Expected non-zero, positive output size. Got {size}")
    if align and min(size[2:]) == 1:
        warn_user("Since version 1.3.0, affine_grid behavior has changed for unit-size grids when "
                  "align_corners=True. This is not an intended use case of affine_grid. See the "
                  "documentation of affine_grid for details.")
    xp = backend_of(theta._data)
    dtype = theta._data.dtype
    spatial = size[2:]  # (H, W) or (D, H, W); the grid's last dim lists x (W) first
    axes = [_base_coords(xp, s, align, dtype) for s in reversed(spatial)]
    mesh = xp.meshgrid(*axes[::-1], indexing="ij")[::-1]  # x, y(, z), each of shape spatial
    base = xp.stack(list(mesh) + [xp.ones(spatial, dtype=dtype)], axis=-1)
    base = Tensor._make(base.reshape(1, -1, nd + 1))
    grid = base @ theta.transpose(1, 2)  # (N, prod(spatial), nd)
    return grid.reshape(size[0], *spatial, nd)


# ---------------------------------------------------------------- grid_sample --
def _unnormalize(coord: Tensor, size: int, align_corners: bool) -> Tensor:
    if align_corners:
        return (coord + 1) / 2 * (size - 1)
    return ((coord + 1) * size - 1) / 2


def _reflect(coord: Tensor, twice_low: int, twice_high: int) -> Tensor:
    """``coord`` folded back into [low, high] (PyTorch's reflect_coordinates)."""
    if twice_low == twice_high:
        return coord * 0
    low = twice_low / 2
    span = (twice_high - twice_low) / 2
    dist = (coord - low).abs()
    extra = ew.remainder_fn(dist, span)
    flips = ew.floor(dist.detach() / span)
    even = ew.remainder_fn(flips, 2) == 0
    return ew.where_fn(even, extra + low, span - extra + low)


def _source_coord(coord: Tensor, size: int, padding_mode: str, align_corners: bool) -> Tensor:
    coord = _unnormalize(coord, size, align_corners)
    if padding_mode == "border":
        return ew.clamp(coord, 0, size - 1)
    if padding_mode == "reflection":
        coord = _reflect(coord, 0, 2 * (size - 1)) if align_corners else \
            _reflect(coord, -1, 2 * size - 1)
        return ew.clamp(coord, 0, size - 1)
    return coord


def _read(flat: Tensor, cells: list, spatial: tuple) -> Tensor:
    """Values of ``flat`` (N, C, prod(spatial)) at integer cells (one (N, P) array a dim,
    fastest dim first); cells outside the input read 0."""
    xp = backend_of(flat._data)
    inside = None
    index = None
    stride = 1
    for cell, size in zip(cells, reversed(spatial)):
        ok = (cell >= 0) & (cell < size)
        inside = ok if inside is None else inside & ok
        part = xp.clip(cell, 0, size - 1) * stride
        index = part if index is None else index + part
        stride *= size
    n, c, _ = flat.shape
    index = xp.broadcast_to(index[:, None, :], (n, c, index.shape[-1]))
    values = flat.gather(2, Tensor._make(xp.ascontiguousarray(index)))
    if inside.all().item():
        return values
    return values * Tensor._make(inside[:, None, :].astype(flat._data.dtype))


def grid_sample(input: Tensor, grid: Tensor, mode: str = "bilinear", padding_mode: str = "zeros",
                align_corners: bool | None = None) -> Tensor:
    """Values of ``input`` (N, C, H, W) at the normalised points of ``grid`` (N, Ho, Wo, 2),
    as (N, C, Ho, Wo); 5-D input with an (N, Do, Ho, Wo, 3) grid likewise. ``mode``
    'bilinear' or 'nearest'; ``padding_mode`` 'zeros', 'border' or 'reflection'."""
    op = "grid_sample"
    _args.tensor(input, "input", op)
    _args.tensor(grid, "grid", op)
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise op_error(ValueError, op, f"nn.functional.grid_sample(): expected mode to be "
                       f"'bilinear', 'nearest' or 'bicubic', but got: '{mode}'")
    if mode == "bicubic":
        raise op_error(NotImplementedError, op, "mode='bicubic' is not supported; use "
                       "'bilinear' or 'nearest'")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise op_error(ValueError, op, f"nn.functional.grid_sample(): expected padding_mode to be "
                       f"'zeros', 'border', or 'reflection', but got: '{padding_mode}'")
    align = _align(align_corners)
    if input.ndim not in (4, 5) or grid.ndim != input.ndim:
        raise op_error(ShapeError, op, f"grid_sampler(): expected 4D or 5D input and grid with "
                       f"same number of dimensions, but got input with sizes "
                       f"{tuple(input.shape)} and grid with sizes {tuple(grid.shape)}")
    nd = input.ndim - 2
    if grid.shape[0] != input.shape[0]:
        raise op_error(ShapeError, op, f"grid_sampler(): expected grid and input to have same "
                       f"batch size, but got input with sizes {tuple(input.shape)} and grid with "
                       f"sizes {tuple(grid.shape)}")
    if grid.shape[-1] != nd:
        raise op_error(ShapeError, op, f"grid_sampler(): expected grid to have size {nd} in last "
                       f"dimension, but got grid with sizes {tuple(grid.shape)}")
    if input.dtype != grid.dtype:
        raise op_error(DTypeError, op, f"grid_sampler(): expected input and grid to have same "
                       f"dtype, but input has {input.dtype.name} and grid has {grid.dtype.name}")
    if not input.is_floating_point():
        raise op_error(DTypeError, op, f"expected floating-point input, got {input.dtype.name}")
    if min(input.shape[2:]) <= 0:
        raise op_error(ShapeError, op, f"grid_sampler(): expected input to have non-empty spatial "
                       f"dimensions, but input has sizes {tuple(input.shape)}")
    n, c = input.shape[:2]
    spatial = tuple(input.shape[2:])
    out_spatial = tuple(grid.shape[1:-1])
    xp = backend_of(input._data)
    flat = input.reshape(n, c, -1)
    points = grid.reshape(n, -1, nd)
    # one coordinate per dim, fastest (x, the last spatial dim) first
    coords = [_source_coord(points[..., k], spatial[nd - 1 - k], padding_mode, align)
              for k in range(nd)]
    if mode == "nearest":
        cells = [ew.round(co.detach())._data.astype(xp.int64) for co in coords]
        out = _read(flat, cells, spatial)
        # the grid gets PyTorch's zero gradient (not None) when it requires grad
        if grid.requires_grad:
            out = out + (points.sum() * 0).reshape(1, 1, 1)
        return out.reshape(n, c, *out_spatial)
    lows = [ew.floor(co.detach())._data.astype(xp.int64) for co in coords]
    fracs = [co - Tensor._make(low.astype(co._data.dtype)) for co, low in zip(coords, lows)]
    out = None
    for corner in range(2 ** nd):  # bit k set: the upper neighbour along dim k
        weight = None
        cells = []
        for k in range(nd):
            upper = (corner >> k) & 1
            cells.append(lows[k] + upper)
            w = fracs[k] if upper else 1 - fracs[k]
            weight = w if weight is None else weight * w
        term = _read(flat, cells, spatial) * weight.unsqueeze(1)
        out = term if out is None else out + term
    return out.reshape(n, c, *out_spatial)
