"""Pooling ops on NCHW arrays: max, adaptive max and average pooling, with their rules.

Split from ``conv.py`` (which re-exports every name here) because pooling is a separate
job that only shares its window helpers (``_pad``, ``_col2im``). Max pooling takes a
maximum over kernel offsets; its rule finds each window's argmax offset and
``max_pool2d_place`` puts the gradient there (adjoint ``max_pool2d_select``). Adaptive
max pooling gathers by flat index and scatters back with a bincount. Average pooling is
``window_sum`` and its adjoint ``window_sum_t``. Padding is given per side:
``((top, bottom), (left, right))``. Imported at the end of ``conv.py``.
"""
from __future__ import annotations

import contextlib

from .._host_calls import fast_path  # (a capture guards the choice, or takes the path for all data)
from .conv import _col2im, _pad
from .registry import defgrad, defop, nondifferentiable


# ------------------------------------------------------------ max pooling --
# Max pooling works offset by offset: each kernel offset (i, j) reads one strided
# slice of the padded input per output cell, so the max, the argmax and the
# gradient's placement are kh·kw vectorised passes (no window copies, no scatter).
# ``arg`` is the window-local offset i·kw + j of each maximum (first one on ties).
def _offsets(kernel, stride, dilation, out_hw):
    """``(k, index)`` per kernel offset: the padded-input slice that offset reads."""
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = kernel, stride, dilation, out_hw
    for i in range(kh):
        for j in range(kw):
            yield i * kw + j, (Ellipsis, slice(i * dh, i * dh + sh * (ho - 1) + 1, sh),
                               slice(j * dw, j * dw + sw * (wo - 1) + 1, sw))


def _max_pool_fwd(xp, x, kernel, stride, padding, dilation, out_hw):
    """Maximum over the kernel's rows first (whole rows: long contiguous runs), then over its
    columns: kh + kw - 2 passes instead of kh·kw - 1, the first ones the cheap kind."""
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = kernel, stride, dilation, out_hw
    if kh > 1 and _pairs_tile(x, out_hw, kernel, stride, padding, dilation):
        return _max_pool_fwd_pairs(xp, x, kh)
    xpad = _pad(xp, x, padding, value=-xp.inf)
    rows = [xpad[:, :, i * dh:i * dh + sh * (ho - 1) + 1:sh] for i in range(kh)]
    best = rows[0] if kh == 1 else xp.maximum(rows[0], rows[1])
    for r in rows[2:]:
        xp.maximum(best, r, out=best)
    cols = [best[..., j * dw:j * dw + sw * (wo - 1) + 1:sw] for j in range(kw)]
    best = cols[0].copy() if kw == 1 else xp.maximum(cols[0], cols[1])
    for c in cols[2:]:
        xp.maximum(best, c, out=best)
    return best  # NaN propagates through maximum: a window holding NaN gives NaN (as PyTorch)


def _max_pool_argmax_fwd(xp, x, ans, kernel, stride, padding, dilation, out_hw, flat):
    """Offset of each window's maximum (first on ties, first NaN for NaN), or its flat h·W + w."""
    xpad = _pad(xp, x, padding, value=-xp.inf)
    count = kernel[0] * kernel[1]
    dtype = xp.int8 if count <= 127 else xp.int32
    arg = xp.full(ans.shape, count - 1, dtype=dtype)
    nan = _on_device(xp) or not fast_path(~xp.isnan(ans).any())
    # visit offsets last to first, so the earliest match is written last
    for k, index in reversed(list(_offsets(kernel, stride, dilation, out_hw))[:-1]):
        s = xpad[index]
        hit = s == ans
        if nan:
            hit |= xp.isnan(s)
        arg -= (arg - dtype(k)) * hit.astype(dtype)
    if not flat:
        return arg
    ki, kj = xp.divmod(arg.astype(xp.int64), kernel[1])
    (pt, _), (pl, _) = padding
    h, w = x.shape[2:]
    rows = xp.arange(out_hw[0]).reshape(-1, 1) * stride[0] - pt + ki * dilation[0]
    cols = xp.arange(out_hw[1]) * stride[1] - pl + kj * dilation[1]
    return xp.clip(rows, 0, h - 1) * w + xp.clip(cols, 0, w - 1)


def _on_device(xp) -> bool:
    """Whether a question about ``xp``'s data (any NaN? all finite?) costs a host sync, as
    on a GPU: there the general path runs without asking (NumPy asks, to skip work)."""
    return xp.name != "numpy"


def _disjoint(kernel, stride, dilation) -> bool:
    return all((k - 1) * d < s for k, s, d in zip(kernel, stride, dilation))


def _all_finite(xp, a) -> bool:
    """Whether ``a`` holds no inf or NaN, from one sum (a sum that overflows says False,
    which only sends the caller down its slower exact path); no warning either way."""
    if _on_device(xp):  # (False only chooses the exact path)
        return False
    errstate = getattr(xp, "errstate", None)  # NumPy's; CuPy does not warn
    with errstate(over="ignore", invalid="ignore") if errstate else contextlib.nullcontext():
        return fast_path(xp.isfinite(a.sum()))


def _place(xp, g, mask, out, finite: bool) -> None:
    """``out = g`` where ``mask``, else 0. With an inf or NaN in ``g`` a multiply by the mask
    would leave NaN (inf·0) in the cells not chosen, where PyTorch has 0."""
    if finite:
        xp.multiply(g, mask, out=out)
    else:
        out[...] = xp.where(mask, g, xp.zeros((), dtype=out.dtype))


def _pool_place_fwd(xp, g, arg, kernel, stride, padding, dilation, out_hw, in_hw):
    """Input-shaped zeros with each ``g`` added at its window's maximum."""
    finite = _all_finite(xp, g)
    n, c = g.shape[:2]
    (pt, pb), (pl, pr) = padding
    h, w = in_hw
    out = xp.zeros((n, c, h + pt + pb, w + pl + pr), dtype=g.dtype)
    disjoint = _disjoint(kernel, stride, dilation)
    for k, index in _offsets(kernel, stride, dilation, out_hw):
        if disjoint:  # each input cell is read by one offset at most: write, don't add
            _place(xp, g, arg == k, out[index], finite)
        else:
            out[index] += g * (arg == k) if finite else xp.where(arg == k, g, 0).astype(g.dtype)
    if pt or pb or pl or pr:
        out = xp.ascontiguousarray(out[:, :, pt:pt + h, pl:pl + w])
    return out


def _pool_select_fwd(xp, c, arg, kernel, stride, padding, dilation, out_hw, in_hw):
    """Adjoint of ``_pool_place_fwd``: the value of ``c`` at each window's maximum."""
    cpad = _pad(xp, c, padding)
    out = None
    for k, index in _offsets(kernel, stride, dilation, out_hw):
        part = cpad[index] * (arg == k)
        out = part if out is None else out.__iadd__(part)
    return out


max_pool2d_op = defop("max_pool2d", _max_pool_fwd, saves=(0,), saves_ans=True)
max_pool_argmax_op = nondifferentiable(
    defop("max_pool2d_argmax", _max_pool_argmax_fwd),
    "the position of a maximum is piecewise constant")


def _max_pool_backward_fwd(xp, g, ans, x, kernel, stride, padding, dilation, out_hw):
    """max_pool2d's backward op: ``g`` at each window's (first) maximum. Disjoint windows skip the argmax: each offset writes its own cells,
    a hit counting only in windows that no earlier offset took (the first on ties, as argmax)."""
    geometry = dict(kernel=kernel, stride=stride, padding=padding, dilation=dilation, out_hw=out_hw)
    if _pairs_tile(x, out_hw, kernel, stride, padding, dilation) and fast_path(~xp.isnan(ans).any()):
        return _max_pool_grad_pairs(xp, g, ans, x, kernel[0], _all_finite(xp, g))
    if not _disjoint(kernel, stride, dilation):  # (pool_place tests g's finiteness itself)
        arg = _max_pool_argmax_fwd(xp, x, ans, flat=False, **geometry)
        return _pool_place_fwd(xp, g, arg, in_hw=tuple(x.shape[2:]), **geometry)
    finite = _all_finite(xp, g)
    xpad = _pad(xp, x, padding, value=-xp.inf)
    covered = xpad is x and all(  # windows tile the input exactly: every cell gets written
        s == k and d == 1 and o * k == n
        for k, s, d, o, n in zip(kernel, stride, dilation, out_hw, x.shape[2:]))
    out = (xp.empty if covered else xp.zeros)(xpad.shape, dtype=g.dtype)
    nan = _on_device(xp) or not fast_path(~xp.isnan(ans).any())
    free = None  # windows whose maximum no offset has claimed yet
    for k, index in _offsets(kernel, stride, dilation, out_hw):
        s = xpad[index]
        hit = s == ans
        if nan:
            hit |= xp.isnan(s)
        if free is None:
            free = ~hit
        else:
            hit &= free
            free ^= hit
        _place(xp, g, hit, out[index], finite)
    if xpad is not x:
        (pt, _), (pl, _) = padding
        out = xp.ascontiguousarray(out[:, :, pt:pt + x.shape[2], pl:pl + x.shape[3]])
    return out


# Windows two columns wide that tile a float32 input (the common 2×2 pool). Strided passes
# over every other column are several times slower in NumPy than contiguous ones, so a
# window's two columns are handled as one uint64: the forward splits it into its halves
# to take their maximum, and the backward duplicates a window's value into both halves
# (two integer passes, rows repeated as whole runs) to work at full resolution.
def _pairs_tile(x, out_hw, kernel, stride, padding, dilation) -> bool:
    (kh, kw), (sh, sw) = kernel, stride
    return (kw == 2 and sw == 2 and sh == kh and tuple(dilation) == (1, 1)
            and padding == ((0, 0), (0, 0)) and x.dtype.itemsize == 4 and x.dtype.kind == "f"
            and x.dtype.byteorder in "=<" and x.flags.c_contiguous
            and x.shape[2] == kh * out_hw[0] and x.shape[3] == 2 * out_hw[1])


def _upsample_pairs(xp, a, kh):
    """``a`` (n, c, ho, wo) float32 repeated kh times down and twice across: (n, c, kh·ho, 2·wo)."""
    u = xp.ascontiguousarray(a).view(xp.uint32).astype(xp.uint64)
    u *= xp.uint64(0x100000001)  # u | u << 32 in one pass; little-endian: low half is left
    if kh > 1:
        u = xp.repeat(u, kh, axis=2)
    return u.view(xp.float32)


def _max_pool_fwd_pairs(xp, x, kh):
    """The maximum over each window's rows, then over its two columns read as the halves of
    one uint64 (two contiguous passes instead of two strided ones). Benchmark row
    ``max_pool 2x2 as uint64 pairs`` (``python -m benchmarks.numpy_kernels``)."""
    n, c, h, w = x.shape
    runs = x.reshape(n * c * (h // kh), kh, w)
    best = xp.maximum(runs[:, 0], runs[:, 1])
    for i in range(2, kh):
        xp.maximum(best, runs[:, i], out=best)
    pairs = best.view(xp.uint64)
    left = pairs.astype(xp.uint32).view(x.dtype)  # the cast keeps the low half: the left column
    pairs >>= xp.uint64(32)
    right = pairs.astype(xp.uint32).view(x.dtype)
    xp.maximum(left, right, out=left)  # NaN propagates, as in the strided passes
    return left.reshape(n, c, h // kh, w // 2)


def _max_pool_grad_pairs(xp, g, ans, x, kh, finite: bool):
    """Each window's gradient at its first maximum in row-major order (NaN-free ``ans``)."""
    n, c, h, w = x.shape
    wo = w // 2
    hit = x == _upsample_pairs(xp, ans, kh)
    rows = hit.view(xp.uint16).reshape(n * c, h * wo)  # one window-row a number: low byte left
    rows &= ~(rows << xp.uint16(8))  # both columns hit: the left one wins
    if kh > 1:  # a hit in an earlier row of the window wins over every later row
        claimed = rows != 0  # before any blocking: any earlier hit in the window wins
        row_in_window = xp.repeat(xp.arange(h) % kh, wo)
        for d in range(1, kh):
            later = claimed[:, :-d * wo] & (row_in_window[d * wo:] >= d)
            rows[:, d * wo:] *= ~later
    out = _upsample_pairs(xp, g.astype(x.dtype, copy=False), kh)
    _place(xp, out, hit, out, finite)
    return out


def _max_pool_select_fwd(xp, c, ans, x, **geometry):
    """The adjoint of max_pool2d_backward: ``c`` (input-shaped) read at each window's maximum."""
    arg = _max_pool_argmax_fwd(xp, x, ans, flat=False, **geometry)
    return _pool_select_fwd(xp, c, arg, in_hw=tuple(x.shape[2:]), **geometry)


# max_pool2d's backward op and its adjoint: each is linear in its first input and the rule
# of the other. The maxima's positions are piecewise constant in the saved output and
# input, so no gradient flows to those (as PyTorch's max_pool2d_with_indices_backward)
max_pool_backward_op = defop("max_pool2d_backward", _max_pool_backward_fwd, saves=(1, 2))
pool_select_op = defop("max_pool2d_select", _max_pool_select_fwd, saves=(1, 2))
defgrad(max_pool2d_op, lambda m, g, ans, x, **geometry:
        max_pool_backward_op.on(m, g, ans, x, **geometry))
defgrad(max_pool_backward_op,
        lambda m, c, _, g, ans, x, **geometry: pool_select_op.on(m, c, ans, x, **geometry),
        lambda m, c, _, g, ans, x, **geometry: None,
        lambda m, c, _, g, ans, x, **geometry: None)
defgrad(pool_select_op,
        lambda m, g, _, c, ans, x, **geometry: max_pool_backward_op.on(m, g, ans, x, **geometry),
        lambda m, g, _, c, ans, x, **geometry: None,
        lambda m, g, _, c, ans, x, **geometry: None)


# ------------------------------------------------- adaptive max pooling --
# Windows of different sizes: maxima by flat index, gathered and scattered.
def _adaptive_max_indices_fwd(xp, x, out_hw):
    """Flat indices of the maxima of PyTorch's adaptive windows [⌊i·H/Ho⌋, ⌈(i+1)·H/Ho⌉).

    Loops over offsets inside a window (each vectorised over every output cell);
    offsets past a short window's end repeat its last element, which cannot change a max.
    """
    n, c, h, w = x.shape
    ho, wo = out_hw
    spans = []
    for size, out in ((h, ho), (w, wo)):
        start = (xp.arange(out) * size) // out
        end = -((-(xp.arange(out) + 1) * size) // out)
        longest = max(-(-(i + 1) * size // out) - i * size // out for i in range(out))
        spans.append((start, end, longest))  # (the longest window from Python ints: no sync)
    (h0, h1, lh), (w0, w1, lw) = spans
    best = arg = None
    for a in range(lh):
        rows = xp.minimum(h0 + a, h1 - 1).reshape(ho, 1)
        for b in range(lw):
            flat = rows * w + xp.minimum(w0 + b, w1 - 1)
            s = x[:, :, rows, xp.minimum(w0 + b, w1 - 1)]
            if best is None:
                best, arg = s, xp.broadcast_to(flat, s.shape).copy()
                continue
            better = (s > best) | (xp.isnan(s) & ~xp.isnan(best))
            xp.copyto(best, s, where=better)
            xp.copyto(arg, xp.broadcast_to(flat, s.shape), where=better)
    return arg


adaptive_max_indices_op = nondifferentiable(
    defop("adaptive_max_pool2d_indices", _adaptive_max_indices_fwd),
    "the position of a maximum is piecewise constant")


def _pool_gather_fwd(xp, x, indices):
    n, c = x.shape[:2]
    flat = x.reshape(n, c, -1)
    out = xp.take_along_axis(flat, indices.reshape(n, c, -1), axis=2)
    return out.reshape(indices.shape)


def _pool_scatter_fwd(xp, g, indices, in_shape):
    """Zeros of ``in_shape`` with ``g`` added at ``indices`` (repeats accumulate)."""
    n, c = in_shape[:2]
    plane = 1
    for s in in_shape[2:]:
        plane *= s
    base = xp.arange(n * c, dtype=xp.int64).reshape(n, c, *([1] * (indices.ndim - 2))) * plane
    total = n * c * plane
    summed = xp.bincount((indices + base).ravel(), weights=g.ravel(), minlength=total)
    return summed.astype(g.dtype, copy=False).reshape(in_shape)


pool_gather_op = defop("pool_gather", lambda xp, x, indices, in_shape: _pool_gather_fwd(xp, x, indices),
                       saves=())
pool_scatter_op = defop("pool_scatter", _pool_scatter_fwd, saves=())
defgrad(pool_gather_op, lambda m, g, ans, x, indices, in_shape:
        pool_scatter_op.on(m, g, indices=indices, in_shape=in_shape))
defgrad(pool_scatter_op, lambda m, c, ans, g, indices, in_shape:
        pool_gather_op.on(m, c, indices=indices, in_shape=tuple(c.shape)))


# -------------------------------------------------------- average pooling --
def _window_sum_fwd(xp, x, kernel, stride, padding, in_hw, out_hw):
    """Sum of every (zero-padded) window: kh·kw strided adds, vectorised over the rest."""
    (kh, kw), (sh, sw), (ho, wo) = kernel, stride, out_hw
    xpad = _pad(xp, x, padding)
    out = None
    for i in range(kh):
        for j in range(kw):
            s = xpad[:, :, i:i + sh * (ho - 1) + 1:sh, j:j + sw * (wo - 1) + 1:sw]
            out = s.copy() if out is None else out.__iadd__(s)
    return out


def _window_sum_t_fwd(xp, g, kernel, stride, padding, in_hw, out_hw):
    """Adjoint of ``window_sum``: every output's value added back over its window."""
    n, c, ho, wo = g.shape
    kh, kw = kernel
    cols = xp.broadcast_to(g.reshape(n, c, 1, 1, ho, wo), (n, c, kh, kw, ho, wo))
    return _col2im(xp, cols, (n, c) + tuple(in_hw), kernel, stride, padding, (1, 1))


window_sum_op = defop("window_sum", _window_sum_fwd, saves=())
window_sum_t_op = defop("window_sum_t", _window_sum_t_fwd, saves=())
# both directions carry both spatial sizes, so neither rule needs a saved input
defgrad(window_sum_op, lambda m, g, ans, x, **p: window_sum_t_op.on(m, g, **p))
defgrad(window_sum_t_op, lambda m, c, ans, g, **p: window_sum_op.on(m, c, **p))
