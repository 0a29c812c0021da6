"""``one_hot``, ``pad`` (all modes), ``interpolate``, ``normalize``, ``cosine_similarity``,
``pairwise_distance``.

Padding and interpolation are index arithmetic: an index tensor per dim, then
``index_select`` (whose rule scatters the gradient back); no loop over pixels.

>>> import chainrule as cr
>>> import chainrule.nn.functional as F
>>> F.pad(cr.tensor([[1.0, 2.0, 3.0]]), (2, 1), mode="reflect")
tensor([[3., 2., 1., 2., 3., 2.]])
>>> F.one_hot(cr.tensor([0, 2]), 3)
tensor([[1, 0, 0],
        [0, 0, 1]])
"""
from __future__ import annotations

import math
import numbers

from ...backends import backend_of
from ...creation import arange
from ...dtypes import float64
from ...errors import DTypeError, ShapeError, op_error
from ...ops import elementwise as ew
from ...ops.indexing import select_in_range
from ...ops.shape import pad as _constant_pad
from ...tensor import Tensor
from .. import _args
from . import _resample

__all__ = ["one_hot", "pad", "interpolate", "upsample", "normalize", "cosine_similarity",
           "pairwise_distance", "pdist", "gumbel_softmax"]


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """Class indices (any shape) → int64 one-hot vectors in a new last dim."""
    _args.tensor(tensor, "input", "one_hot")
    if not _args.is_int(num_classes) or num_classes == 0 or num_classes < -1:
        raise op_error(ValueError, "one_hot", f"num_classes must be a positive int, or -1 to infer "
                       f"it from the input, got {num_classes!r}")
    if tensor.is_floating_point():
        raise op_error(DTypeError, "one_hot", f"expected an integer tensor of class indices, got "
                       f"{tensor.dtype.name}")
    data = tensor._data
    if num_classes < 0:
        if not data.size:
            raise op_error(ValueError, "one_hot", "cannot infer num_classes from an empty tensor; "
                           "pass num_classes")
        num_classes = data.max().item() + 1
    if data.size and (data.min().item() < 0 or data.max().item() >= num_classes):
        raise op_error(ShapeError, "one_hot", f"class values must be in [0, {num_classes}), got "
                       f"min {data.min().item()} and max {data.max().item()}")
    classes = arange(num_classes, device=tensor.device)
    return (tensor.long().unsqueeze(-1) == classes).long()


# ---------------------------------------------------------------------- pad --
def _pad_index(n: int, before: int, after: int, mode: str, like: Tensor) -> Tensor:
    """Source positions along one dim for ``mode`` padding, made on ``like``'s device by the
    array library itself: in range by construction, so no checked op (whose check of
    device data would sync a GPU) is needed."""
    xp = backend_of(like._data)
    i = xp.arange(-before, n + after)
    if mode == "replicate":
        return Tensor._make(xp.clip(i, 0, n - 1))
    if mode == "circular":
        return Tensor._make(i % n)
    # reflect: mirror about the edge elements (which are not repeated)
    period = 2 * (n - 1)
    j = i % period if period > 0 else i * 0
    return Tensor._make(xp.where(j >= n, period - j, j))


def pad(input: Tensor, pad, mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad the last ``len(pad) // 2`` dims; ``pad=(left, right, top, bottom, …)`` starts from
    the last dim. Modes: 'constant' (``value``), 'reflect', 'replicate', 'circular'."""
    _args.tensor(input, "input", "pad")
    if not isinstance(pad, (tuple, list)):
        raise op_error(DTypeError, "pad", f"pad must be a tuple of ints, got {pad!r}")
    pad = _args.pair(pad, len(pad), "pad", "pad")
    if mode == "constant":
        return _constant_pad(input, pad, "constant", value)
    if mode not in ("reflect", "replicate", "circular"):
        raise op_error(ValueError, "pad", f"mode must be 'constant', 'reflect', 'replicate' or "
                       f"'circular', got {mode!r}")
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise op_error(ShapeError, "pad", f"pad must have an even length of at most 2*ndim "
                       f"({2 * input.ndim}), got {len(pad)}")
    if input.ndim not in (len(pad) // 2 + 1, len(pad) // 2 + 2):  # (C, ...) or (N, C, ...)
        raise op_error(ShapeError, "pad", f"{mode} padding of {len(pad) // 2} dims expects a "
                       f"{len(pad) // 2 + 1}-D or {len(pad) // 2 + 2}-D input, got shape "
                       f"{tuple(input.shape)}")
    if value:
        raise op_error(ValueError, "pad", f"padding mode {mode!r} does not take a value")
    out = input
    for k in range(len(pad) // 2):
        dim = input.ndim - 1 - k
        before, after = pad[2 * k], pad[2 * k + 1]
        if before == 0 and after == 0:
            continue
        n = input.shape[dim]
        if before < 0 or after < 0:
            raise op_error(ShapeError, "pad", f"negative padding is only supported in 'constant' "
                           f"mode, got {pad} with mode {mode!r}")
        limit = n - 1 if mode == "reflect" else n if mode == "circular" else None
        if n == 0 or (limit is not None and max(before, after) > limit):
            raise op_error(ShapeError, "pad", f"{mode} padding of ({before}, {after}) on dim {dim} of "
                           f"size {n}: pads must be at most {limit} (the input of shape "
                           f"{tuple(input.shape)} is too small)")
        out = out[(slice(None),) * dim + (_pad_index(n, before, after, mode, input),)]
    return out


# -------------------------------------------------------------- interpolate --
def _out_sizes(input: Tensor, size, scale_factor, nd: int) -> tuple[list[int], list]:
    spatial = list(input.shape[2:])
    if (size is None) == (scale_factor is None):
        raise op_error(ValueError, "interpolate", "exactly one of size and scale_factor must be given")
    if size is not None:
        sizes = list(_args.pair(size, nd, "size", "interpolate"))
        if min(sizes) < 1:
            raise op_error(ValueError, "interpolate", f"output size must be positive, got "
                           f"size={size} for input of shape {tuple(input.shape)}")
        return sizes, [None] * nd
    scales = [scale_factor] * nd if not isinstance(scale_factor, (tuple, list)) else \
        list(scale_factor)
    if not all(isinstance(s, numbers.Real) and not isinstance(s, bool) for s in scales):
        raise op_error(DTypeError, "interpolate", f"scale_factor must be a number or a tuple of "
                       f"numbers, got {scale_factor!r}")
    scales = [float(s) for s in scales]
    if len(scales) != nd:
        raise op_error(ShapeError, "interpolate", f"scale_factor {scale_factor} has {len(scales)} "
                       f"entries for {nd} spatial dims of input {tuple(input.shape)}")
    sizes = [int(math.floor(n * s)) for n, s in zip(spatial, scales)]
    if min(sizes) < 1:
        raise op_error(ValueError, "interpolate", f"scale_factor {scale_factor} gives an empty "
                       f"output size {tuple(sizes)} for input of shape {tuple(input.shape)}")
    return sizes, scales


def _source_coords(n_in: int, n_out: int, scale, align_corners: bool, device) -> Tensor:
    """Where each output position samples the input (float64, PyTorch's conventions)."""
    dst = arange(n_out, dtype=float64, device=device)
    if align_corners:
        step = (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
        return dst * step
    ratio = 1.0 / scale if scale is not None else n_in / n_out
    return ew.clamp((dst + 0.5) * ratio - 0.5, min=0.0)


def _linear_along(x: Tensor, dim: int, n_out: int, scale, align_corners: bool) -> Tensor:
    n_in = x.shape[dim]
    src = _source_coords(n_in, n_out, scale, align_corners, x.device)
    i0 = ew.clamp(ew.floor(src), max=n_in - 1).long()
    i1 = ew.clamp(i0 + 1, max=n_in - 1)
    w = (src - i0.to(float64)).to(x.dtype)
    shape = [1] * x.ndim
    shape[dim] = n_out
    w = w.reshape(shape)
    return select_in_range(x, dim, i0) * (1 - w) + select_in_range(x, dim, i1) * w


def _nearest_along(x: Tensor, dim: int, n_out: int, scale, exact: bool) -> Tensor:
    n_in = x.shape[dim]
    ratio = 1.0 / scale if scale is not None else n_in / n_out
    dst = arange(n_out, dtype=float64, device=x.device)
    src = ew.floor((dst + 0.5) * ratio) if exact else ew.floor(dst * ratio)
    return select_in_range(x, dim, ew.clamp(src, max=n_in - 1).long())


_MODES = {"nearest": 0, "nearest-exact": 0, "linear": 1, "bilinear": 2, "trilinear": 3,
          "bicubic": 2, "area": 0}


def interpolate(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Tensor:
    """Resize the spatial dims of (N, C, d1, …) input: 'nearest', 'nearest-exact', 'linear'
    (3-D), 'bilinear' and 'bicubic' (4-D), 'trilinear' (5-D), 'area' (adaptive average)."""
    _args.tensor(input, "input", "interpolate")
    if mode not in _MODES:
        raise op_error(ValueError, "interpolate", f"mode {mode!r} is not supported; expected one of "
                       f"{sorted(_MODES)}")
    if antialias:
        raise op_error(ValueError, "interpolate", "antialias=True is not supported")
    nd = input.ndim - 2
    if nd < 1 or (_MODES[mode] and _MODES[mode] != nd):
        want = f"{_MODES[mode] + 2}-D" if _MODES[mode] else "3- to 5-D"
        raise op_error(ShapeError, "interpolate", f"mode {mode!r} expects a {want} input (N, C, ...), "
                       f"got shape {tuple(input.shape)}")
    if align_corners is not None and not _MODES[mode]:
        raise op_error(ValueError, "interpolate", "align_corners only applies to the linear modes")
    sizes, scales = _out_sizes(input, size, scale_factor, nd)
    if recompute_scale_factor:
        scales = [None] * nd
    if mode == "area":
        return _resample.area(input, sizes)
    out = input
    for k, (n_out, s) in enumerate(zip(sizes, scales)):
        dim = 2 + k
        if mode == "bicubic":
            out = _resample.bicubic_along(out, dim, n_out, s, bool(align_corners))
        elif _MODES[mode]:
            out = _linear_along(out, dim, n_out, s, bool(align_corners))
        else:
            out = _nearest_along(out, dim, n_out, s, mode == "nearest-exact")
    return out


def upsample(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",
             align_corners: bool | None = None) -> Tensor:
    """Deprecated (warns, as PyTorch): :func:`interpolate`."""
    from ...errors import warn_user
    warn_user("`nn.functional.upsample` is deprecated. Use `nn.functional.interpolate` instead.")
    return interpolate(input, size, scale_factor, mode, align_corners)


# ------------------------------------------------------------ similarity --
def _two_inputs(x1, x2, op: str) -> None:
    """Both tensors, of shapes that broadcast together (else an error naming ``op``)."""
    _args.tensor(x1, "x1", op)
    _args.tensor(x2, "x2", op)
    a, b = tuple(x1.shape)[::-1], tuple(x2.shape)[::-1]
    if any(p != q and 1 not in (p, q) for p, q in zip(a, b)):
        raise op_error(ShapeError, op, f"x1 of shape {tuple(x1.shape)} and x2 of shape "
                       f"{tuple(x2.shape)} cannot be broadcast together")


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out=None) -> Tensor:
    """``input / max(‖input‖_p, eps)`` along ``dim``."""
    _args.tensor(input, "input", "normalize")
    norm = ew.clamp(input.norm(p, dim, keepdim=True), min=eps)
    return input / norm


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """``x1·x2 / (max(‖x1‖, eps) max(‖x2‖, eps))`` along ``dim`` (inputs broadcast)."""
    _two_inputs(x1, x2, "cosine_similarity")
    n1 = ew.clamp(x1.norm(2, dim, keepdim=True), min=eps)
    n2 = ew.clamp(x2.norm(2, dim, keepdim=True), min=eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:
    """``‖x1 - x2 + eps‖_p`` along the last dim."""
    _two_inputs(x1, x2, "pairwise_distance")
    return (x1 - x2 + eps).norm(p, -1, keepdim=keepdim)


def pdist(input: Tensor, p: float = 2.0) -> Tensor:
    """The p-norm distance between every pair of rows (i < j) of an (N, M) input, as the
    N(N-1)/2 upper-triangle entries, row by row."""
    from ...ops.structure import triu_indices
    _args.tensor(input, "input", "pdist")
    if input.ndim != 2:
        raise op_error(ShapeError, "pdist", f"only supports 2D tensors, got: {input.ndim}D")
    if not input.is_floating_point():
        raise op_error(DTypeError, "pdist", f"only supports floating-point dtypes, got "
                       f"{input.dtype.name}")
    if p < 0:
        raise op_error(ValueError, "pdist", f"only supports non-negative p values, got {p}")
    n = input.shape[0]
    i, j = triu_indices(n, n, 1, device=input.device)
    diff = select_in_range(input, 0, i) - select_in_range(input, 0, j)
    if p == 0:
        return (diff != 0).to(input.dtype).sum(-1)
    return diff.norm(p, dim=-1)


def gumbel_softmax(logits: Tensor, tau: float = 1.0, hard: bool = False, eps: float = 1e-10,
                   dim: int = -1) -> Tensor:
    """A sample of the Gumbel-softmax distribution: ``softmax((logits + g) / tau)`` with
    Gumbel(0, 1) noise ``g``; ``hard=True`` gives one-hot samples whose gradient is the soft
    sample's (straight-through)."""
    from ...autograd.grad_mode import no_grad
    from ...backends import backend_of
    from ...errors import warn_user
    from ...ops.softmax import softmax
    from ...random import _rng
    _args.tensor(logits, "logits", "gumbel_softmax")
    if eps != 1e-10:
        warn_user("`eps` parameter is deprecated and has no effect.")
    draws = _rng(None, "gumbel_softmax", logits.device).exponential(  # (on the logits' device)
        1.0, tuple(logits.shape)).astype(logits._data.dtype)
    xp = backend_of(logits._data)
    noise = -Tensor._make(draws if xp.is_array(draws) else xp.from_host(draws)).log()
    y_soft = softmax((logits + noise) / tau, dim)
    if not hard:
        return y_soft
    index = y_soft.argmax(dim, keepdim=True)
    with no_grad():
        y_hard = (y_soft * 0).scatter(dim, index, 1.0)
    return y_hard - y_soft.detach() + y_soft
