"""Convolution and pooling ops on NCHW arrays (1-D callers add a size-1 H dim).

Convolution is im2col plus one batched GEMM: a strided *view* of the padded input
(``as_strided``, no index maps) is copied once into columns and multiplied by the
weight. Stride-1 convolutions use a flat-shift layout instead (see its section):
block copies and one GEMM over the whole batch. The three ops below are closed under differentiation, so every rule is
one of them and higher-order gradients come for free:

    conv2d(x, w)               y = x ⋆ w
    conv_transpose2d(g, w)     adjoint in x:  ⟨conv_transpose2d(g, w), x⟩ = ⟨g, conv2d(x, w)⟩
    conv2d_weight(x, g)        adjoint in w:  ⟨conv2d_weight(x, g), w⟩ = ⟨g, conv2d(x, w)⟩

Pooling: max pooling takes a maximum over kernel offsets; its rule finds each
window's argmax offset and ``max_pool2d_place`` puts the gradient there (adjoint
``max_pool2d_select``). Adaptive max pooling gathers by flat index and scatters
back with a bincount. Average pooling is ``window_sum`` and its adjoint ``window_sum_t``.
Padding is always given per side: ``((top, bottom), (left, right))``.
"""
from __future__ import annotations

import contextlib
import weakref

from ..autograd.grad_mode import GRAD
from ..tensor import Tensor
from ..autograd.rule_namespace import records
from .registry import defgrad, defgrad_joint, defop, nondifferentiable


# ----------------------------------------------------------------- helpers --
def out_size(size: int, k: int, stride: int, pad_total: int, dilation: int) -> int:
    """Output length of a window sweep over ``size`` padded by ``pad_total`` in all."""
    return (size + pad_total - dilation * (k - 1) - 1) // stride + 1


def _pad(xp, x, padding, value=0.0):
    (pt, pb), (pl, pr) = padding
    if pt == pb == pl == pr == 0:
        return x
    n, c, h, w = x.shape
    out = xp.full((n, c, h + pt + pb, w + pl + pr), value, dtype=x.dtype)  # cheaper than xp.pad
    out[:, :, pt:pt + h, pl:pl + w] = x
    return out


def _windows(xp, x, kernel, stride, dilation, out_hw, groups=1):
    """A (N, G, C/G, kh, kw, Ho, Wo) strided view of the (padded) input: no copy."""
    n, c, _, _ = x.shape
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = kernel, stride, dilation, out_hw
    s_n, s_c, s_h, s_w = x.strides
    cg = c // groups
    return xp.as_strided(
        x, (n, groups, cg, kh, kw, ho, wo),
        (s_n, cg * s_c, s_c, dh * s_h, dw * s_w, sh * s_h, sw * s_w), writeable=False)


def _im2col(xp, x, kernel, stride, padding, dilation, groups, out_hw):
    """Columns (N, G, C/G·kh·kw, Ho·Wo): the one copy convolution makes of its input."""
    v = _windows(xp, _pad(xp, x, padding), kernel, stride, dilation, out_hw, groups)
    n, g, cg, kh, kw, ho, wo = v.shape
    return v.reshape(n, g, cg * kh * kw, ho * wo)


def _col2im(xp, cols, in_shape, kernel, stride, padding, dilation):
    """The adjoint of im2col: add each kernel offset's columns back (kh·kw vectorised adds)."""
    n, c, h, w = in_shape
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    (pt, pb), (pl, pr) = padding
    ho, wo = cols.shape[-2:]
    out = xp.zeros((n, c, h + pt + pb, w + pl + pr), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            out[:, :, i * dh:i * dh + sh * (ho - 1) + 1:sh, j * dw:j * dw + sw * (wo - 1) + 1:sw] \
                += cols[:, :, i, j]
    if pt or pb or pl or pr:
        out = xp.ascontiguousarray(out[:, :, pt:pt + h, pl:pl + w])
    return out


# ------------------------------------------------ stride 1: flat shifts --
# With stride 1, lay the padded input out channels first and flat, a row every Ws
# cells and a sample every Hs rows, and put output cell (n, y, x) at
# (n·Hs + y)·Ws + x of the same grid. Kernel offset (i, j) then reads, for every
# output of the batch, ONE contiguous run starting at i·dh·Ws + j·dw, ``length``
# long. So im2col is kh·kw block copies, a conv is one GEMM per group for the
# whole batch, and its input gradient adds kh·kw products into shifted runs.
# Neighbouring rows (and samples) share their zero padding: Ws = W + max(left,
# right), as a window that runs off a row's right end reads the next row's left
# padding, which is just as zero. Grid cells with y ≥ Ho or x ≥ Wo are junk:
# computed and dropped by the forward, zero in a gradient so that they add nothing.
def _grid(in_shape, kernel, padding, dilation):
    """``(Hs, Ws, rows, length)``: the sample and row strides, the grid's row count (what the
    last runs read included) and the length of each offset's run."""
    n, _, h, w = in_shape
    (kh, kw), (dh, dw), ((pt, pb), (pl, pr)) = kernel, dilation, padding
    ho, wo = h + pt + pb - (kh - 1) * dh, w + pl + pr - (kw - 1) * dw
    hs = h + max(pt, pb, ho - h)  # never shorter than the output
    ws = w + max(pl, pr, wo - w)
    return hs, ws, (n - 1) * hs + h + pt + pb + 1, ((n - 1) * hs + ho - 1) * ws + wo


def _starts(kernel, dilation, ws):
    """``(i, j, start)`` per kernel offset: where its run begins on the flat grid."""
    (kh, kw), (dh, dw) = kernel, dilation
    for i in range(kh):
        for j in range(kw):
            yield i, j, i * dh * ws + j * dw


def _flat_cols(xp, x, kernel, padding, dilation, groups):
    """Columns (G, C/G·kh·kw, length) on the grid."""
    n, c, h, w = x.shape
    (pt, _), (pl, _) = padding
    hs, ws, rows, length = _grid(x.shape, kernel, padding, dilation)
    flat = xp.zeros((c, rows * ws), dtype=x.dtype)
    cells = flat[:, :n * hs * ws].reshape(c, n, hs, ws)
    cells[:, :, pt:pt + h, pl:pl + w] = x.transpose(1, 0, 2, 3)
    cols = xp.empty((c, *kernel, length), dtype=x.dtype)
    for i, j, start in _starts(kernel, dilation, ws):
        cols[:, i, j] = flat[:, start:start + length]
    return cols.reshape(groups, c // groups * kernel[0] * kernel[1], length)


def _on_grid_last(xp, g, hs, ws, length, grids=None):
    """``g`` (N, O, Ho, Wo) as (length, O) on the grid, channels last, junk cells zero:
    the long side first, as the BLAS prefers for the two GEMMs that read it. ``grids``
    (a dict living for one node's backward) hands one layout to both of those GEMMs."""
    if grids is not None and (hs, ws, length) in grids:
        return grids[hs, ws, length]
    n, o, ho, wo = g.shape
    grid = xp.zeros((n, hs, ws, o), dtype=g.dtype)
    grid[:, :ho, :wo] = g.transpose(0, 2, 3, 1)
    gt = grid.reshape(n * hs * ws, o)[:length]
    if grids is not None:
        grids[hs, ws, length] = gt
    return gt


def _conv2d_flat(xp, x, w, bias, cols, padding, dilation, out_hw):
    n = x.shape[0]
    o = w.shape[0]
    groups, k, length = cols.shape
    hs, ws, _, _ = _grid(x.shape, w.shape[2:], padding, dilation)
    dtype = xp.result_type(x.dtype, w.dtype)
    out = xp.empty((groups, o // groups, n * hs * ws), dtype=dtype)
    wg = w.reshape(groups, o // groups, k)
    for g in range(groups):
        xp.matmul(wg[g], cols[g], out=out[g, :, :length])
    if bias:  # along the GEMM's long rows: twice as fast as adding while laying out
        out[:, :, :length] += bias[0].reshape(groups, o // groups, 1)
    grid = out.reshape(o, n, hs, ws)[:, :, :out_hw[0], :out_hw[1]].transpose(1, 0, 2, 3)
    y = xp.empty((n, o) + tuple(out_hw), dtype=dtype)
    y[...] = grid
    return y


def _conv2d_weight_flat(xp, cols, g, hs, ws, cg, kernel, grids=None):
    groups, k, length = cols.shape
    o = g.shape[1]
    og = o // groups
    gt = _on_grid_last(xp, g, hs, ws, length, grids)
    out = xp.empty((groups, k, og), dtype=xp.result_type(cols.dtype, g.dtype))
    for j in range(groups):
        xp.matmul(cols[j], gt[:, j * og:(j + 1) * og], out=out[j])
    return out.transpose(0, 2, 1).reshape(o, cg, *kernel)


def _conv_transpose2d_flat(xp, g, w, padding, dilation, groups, in_hw, grids=None):
    n, o, _, _ = g.shape
    _, cg, kh, kw = w.shape
    (pt, _), (pl, _) = padding
    og = o // groups
    hs, ws, rows, length = _grid((n, 0) + tuple(in_hw), (kh, kw), padding, dilation)
    gt = _on_grid_last(xp, g, hs, ws, length, grids)
    wt = xp.ascontiguousarray(w.reshape(groups, og, cg, kh, kw).transpose(0, 3, 4, 1, 2))
    dtype = xp.result_type(g.dtype, w.dtype)
    out = xp.empty((rows * ws, groups * cg), dtype=dtype)  # channels last, like gt
    part = xp.empty((length, cg), dtype=dtype)
    # kh·kw GEMMs, each product added into its shifted run while it is still in cache
    for k in range(groups):
        gk, ok = gt[:, k * og:(k + 1) * og], out[:, k * cg:(k + 1) * cg]
        for i, j, start in _starts((kh, kw), dilation, ws):
            if start == 0:  # offset (0, 0) covers [0, length): write it, zero the rest
                xp.matmul(gk, wt[k, i, j], out=ok[:length])
                ok[length:] = 0
            else:
                ok[start:start + length] += xp.matmul(gk, wt[k, i, j], out=part)
    out = out[:n * hs * ws].reshape(n, hs, ws, groups * cg)
    return xp.ascontiguousarray(out[:, pt:pt + in_hw[0], pl:pl + in_hw[1]].transpose(0, 3, 1, 2))


# ------------------------------------------------------ the columns cache --
# The weight gradient needs the same columns as the forward. While a graph is
# being recorded the forward keeps them, keyed by the input array (dropped when
# that array dies), and the weight-gradient op takes them back once; a saved
# input changed in place is caught by the engine's version check before that.
_COLS: dict = {}
COLS_CACHE_LIMIT = 64 << 20  # bytes per entry; bigger columns are recomputed instead


def _stash_cols(x, key, cols) -> None:
    if not GRAD.enabled or cols.nbytes > COLS_CACHE_LIMIT:
        return
    ident = id(x)

    def drop(ref, ident=ident, table=_COLS):  # table bound now: safe at interpreter exit
        entry = table.get(ident)
        if entry is not None and entry[0] is ref:
            del table[ident]
    try:
        _COLS[ident] = (weakref.ref(x, drop), key, cols)
    except TypeError:  # an array type without weak references: no caching
        pass


def _take_cols(x, key):
    entry = _COLS.get(id(x))
    if entry is None or entry[0]() is not x or entry[1] != key:
        return None
    del _COLS[id(x)]
    return entry[2]


# -------------------------------------------------------------- convolution --
def _flat(x, stride, groups, kernel, out_ch) -> bool:
    """Whether a conv takes the flat-shift layout: stride 1, and columns at least as tall as the
    output is deep (fewer, and its cheaper im2col does not pay for laying out the output)."""
    k = x.shape[1] // groups * kernel[0] * kernel[1]
    return tuple(stride) == (1, 1) and x.size > 0 and k >= out_ch // groups


def _cols_key(x, stride, padding, dilation, groups, kernel, out_ch, out_hw):
    """What the columns depend on, their layout included."""
    return (_flat(x, stride, groups, kernel, out_ch), stride, padding, dilation, groups,
            tuple(kernel), tuple(out_hw))


def _conv2d_fwd(xp, x, w, *bias, stride, padding, dilation, groups):
    n = x.shape[0]
    o, cg, kh, kw = w.shape
    h_o = out_size(x.shape[2], kh, stride[0], sum(padding[0]), dilation[0])
    w_o = out_size(x.shape[3], kw, stride[1], sum(padding[1]), dilation[1])
    key = _cols_key(x, stride, padding, dilation, groups, (kh, kw), o, (h_o, w_o))
    if key[0]:
        cols = _flat_cols(xp, x, (kh, kw), padding, dilation, groups)
        _stash_cols(x, key, cols)
        return _conv2d_flat(xp, x, w, bias, cols, padding, dilation, (h_o, w_o))
    cols = _im2col(xp, x, (kh, kw), stride, padding, dilation, groups, (h_o, w_o))
    _stash_cols(x, key, cols)
    out = xp.matmul(w.reshape(groups, o // groups, cg * kh * kw), cols)  # (N, G, O/G, Ho·Wo)
    out = out.reshape(n, o, h_o, w_o)
    if bias:
        out += bias[0].reshape(1, o, 1, 1)  # out is a fresh array: no other allocation
    return out


def _conv_transpose2d_fwd(xp, g, w, stride, padding, dilation, groups, in_hw, grids=None):
    if tuple(stride) == (1, 1) and g.size > 0:
        return _conv_transpose2d_flat(xp, g, w, padding, dilation, groups, in_hw, grids)
    n, o, h_o, w_o = g.shape
    _, cg, kh, kw = w.shape
    wg = w.reshape(groups, o // groups, cg * kh * kw)
    cols = xp.matmul(wg.transpose(0, 2, 1), g.reshape(n, groups, o // groups, h_o * w_o))
    cols = cols.reshape(n, groups * cg, kh, kw, h_o, w_o)
    return _col2im(xp, cols, (n, groups * cg) + tuple(in_hw), (kh, kw), stride, padding, dilation)


def _conv2d_weight_fwd(xp, x, g, stride, padding, dilation, groups, kernel, grids=None):
    n, o, h_o, w_o = g.shape
    # kept by the forward, or made again (same values): (G, K, length) flat, else (N, G, K, P)
    key = _cols_key(x, stride, padding, dilation, groups, kernel, o, (h_o, w_o))
    cols = _take_cols(x, key)
    # flat columns hold input cells in their junk columns: an inf or NaN there must not meet
    # the zero gradient of a junk cell (PyTorch's NaN are where a real window reads them)
    if key[0] and xp.isfinite(x).all().item():
        if cols is None:
            cols = _flat_cols(xp, x, kernel, padding, dilation, groups)
        hs, ws, _, _ = _grid(x.shape, kernel, padding, dilation)
        return _conv2d_weight_flat(xp, cols, g, hs, ws, x.shape[1] // groups, kernel, grids)
    if cols is None or key[0]:  # none kept, or kept in the flat layout
        cols = _im2col(xp, x, kernel, stride, padding, dilation, groups, (h_o, w_o))
    gg = g.reshape(n, groups, o // groups, h_o * w_o)
    # per-sample GEMMs summed over the batch: one formulation, so every backward is bitwise equal
    out = xp.matmul(gg, cols.transpose(0, 1, 3, 2)).sum(axis=0)
    return out.reshape(o, x.shape[1] // groups, *kernel)


def _explain_conv(inputs, params):
    x, w = inputs[:2]
    return (f"cannot convolve input of shape {tuple(x.shape)} with weight of shape "
            f"{tuple(w.shape)} (stride={params['stride']}, padding={params['padding']}, "
            f"dilation={params['dilation']}, groups={params['groups']})")


# conv2d takes an optional bias (added in place into its fresh output)
conv2d_op = defop("conv2d", _conv2d_fwd, explain=_explain_conv, saves=(0, 1))
conv_transpose2d_op = defop("conv_transpose2d", _conv_transpose2d_fwd, explain=_explain_conv)
conv2d_weight_op = defop("conv2d_weight", _conv2d_weight_fwd, explain=_explain_conv)


def _conv2d_grad(m, g, ans, x, w, *b, needs, **p):
    """conv2d's derivative, one multi-output rule told which inputs need a gradient: the
    input and weight gradients are its backward ops (conv_transpose2d, conv2d_weight),
    which on arrays share g laid out on the flat grid, made once for this node (and gone
    with it)."""
    extra = {} if records(m) else {"grids": {}}
    dx = conv_transpose2d_op.on(m, g, w, in_hw=tuple(x.shape[2:]), **extra, **p) \
        if needs[0] else None
    dw = conv2d_weight_op.on(m, x, g, kernel=tuple(w.shape[2:]), **extra, **p) \
        if needs[1] else None
    db = m.sum(m.sum(m.reshape(g, (g.shape[0], g.shape[1], -1)), axis=2), axis=0) \
        if b and needs[2] else None
    return dx, dw, db


defgrad_joint(conv2d_op, 3, _conv2d_grad)


def _crop_to(y, g):
    """``y`` cut to ``g``'s spatial size: with output_padding ≥ stride (allowed when below the
    dilation) the conv of a transposed conv's output has more positions than its input."""
    h, w = g.shape[2:]
    return y if tuple(y.shape[2:]) == (h, w) else y[:, :, :h, :w]


defgrad(conv_transpose2d_op,
        lambda m, c, ans, g, w, in_hw, **p: _crop_to(conv2d_op.on(m, c, w, **p), g),
        lambda m, c, ans, g, w, in_hw, **p: conv2d_weight_op.on(m, c, g, kernel=tuple(w.shape[2:]), **p))
defgrad(conv2d_weight_op,
        lambda m, c, ans, x, g, kernel, **p: conv_transpose2d_op.on(m, g, c, in_hw=tuple(x.shape[2:]), **p),
        lambda m, c, ans, x, g, kernel, **p: _crop_to(conv2d_op.on(m, x, c, **p), g))


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
    nan = xp.isnan(ans).any().item()
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


def _disjoint(kernel, stride, dilation) -> bool:
    return all((k - 1) * d < s for k, s, d in zip(kernel, stride, dilation))


def _all_finite(xp, a) -> bool:
    """Whether ``a`` holds no inf or NaN, from one sum (a sum that overflows says False,
    which only sends the caller down its slower exact path); no warning either way."""
    errstate = getattr(xp, "errstate", None)  # NumPy's; CuPy does not warn
    with errstate(over="ignore", invalid="ignore") if errstate else contextlib.nullcontext():
        return xp.isfinite(a.sum()).item()


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
    if _pairs_tile(x, out_hw, kernel, stride, padding, dilation) and not xp.isnan(ans).any().item():
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
    nan = xp.isnan(ans).any().item()
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
    one uint64 (two contiguous passes instead of two strided ones)."""
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
        spans.append((start, end, (end - start).max().item()))
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


def conv_ops() -> tuple:
    """The ops this family registers (for the op sweep's coverage)."""
    return (conv2d_op, conv_transpose2d_op, conv2d_weight_op, max_pool2d_op, max_pool_argmax_op,
            max_pool_backward_op, pool_select_op, adaptive_max_indices_op, pool_gather_op, pool_scatter_op,
            window_sum_op, window_sum_t_op)


__all__ = ["Tensor", "out_size"]
