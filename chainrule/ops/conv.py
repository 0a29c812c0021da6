"""Convolution ops on NCHW arrays (1-D callers add a size-1 H dim).

Convolution is im2col plus one batched GEMM: a strided *view* of the padded input
(``as_strided``, no index maps) is copied once into columns and multiplied by the
weight. Stride-1 convolutions use a flat-shift layout instead (see its section):
block copies and one GEMM over the whole batch. The three ops below are closed under differentiation, so every rule is
one of them and higher-order gradients come for free:

    conv2d(x, w)               y = x ⋆ w
    conv_transpose2d(g, w)     adjoint in x:  ⟨conv_transpose2d(g, w), x⟩ = ⟨g, conv2d(x, w)⟩
    conv2d_weight(x, g)        adjoint in w:  ⟨conv2d_weight(x, g), w⟩ = ⟨g, conv2d(x, w)⟩

Pooling lives in ``pooling.py`` (re-exported here) and reuses the window helpers below.
Padding is always given per side: ``((top, bottom), (left, right))``.
"""
from __future__ import annotations

from .._host_calls import fast_path  # (a capture guards the choice, or takes the path for all data)
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
    """Columns (G, C/G·kh·kw, length) on the grid. Benchmark row
    ``conv2d flat-shift grid (stride 1)`` (``python -m benchmarks.numpy_kernels``)."""
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
    """conv2d on the flat grid: one GEMM per group for the whole batch. Benchmark row
    ``conv2d flat-shift grid (stride 1)``."""
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


# ---------------------------------------------------------- kept columns --
# The weight gradient needs the same columns as the forward. When a node is recorded
# and the weight needs a gradient, the forward returns them alongside its output
# (the registry's ``keeps``); the node holds them and the engine hands them to the
# joint rule once. A saved input changed in place is caught by the engine's version
# check before that, so kept columns always match the saved input.
COLS_KEEP_LIMIT = 64 << 20  # bytes; bigger columns are recomputed instead of held


# -------------------------------------------------------------- convolution --
def _flat(x, stride, groups, kernel, out_ch) -> bool:
    """Whether a conv takes the flat-shift layout: stride 1, and columns at least as tall as the
    output is deep (fewer, and its cheaper im2col does not pay for laying out the output)."""
    k = x.shape[1] // groups * kernel[0] * kernel[1]
    return tuple(stride) == (1, 1) and x.size > 0 and k >= out_ch // groups


def _conv2d_cols(xp, x, w, bias, stride, padding, dilation, groups):
    """``(out, cols)``: the convolution and the columns it multiplied."""
    n = x.shape[0]
    o, cg, kh, kw = w.shape
    h_o = out_size(x.shape[2], kh, stride[0], sum(padding[0]), dilation[0])
    w_o = out_size(x.shape[3], kw, stride[1], sum(padding[1]), dilation[1])
    if _flat(x, stride, groups, (kh, kw), o):
        cols = _flat_cols(xp, x, (kh, kw), padding, dilation, groups)
        return _conv2d_flat(xp, x, w, bias, cols, padding, dilation, (h_o, w_o)), cols
    cols = _im2col(xp, x, (kh, kw), stride, padding, dilation, groups, (h_o, w_o))
    out = xp.matmul(w.reshape(groups, o // groups, cg * kh * kw), cols)  # (N, G, O/G, Ho·Wo)
    out = out.reshape(n, o, h_o, w_o)
    if bias:
        out += bias[0].reshape(1, o, 1, 1)  # out is a fresh array: no other allocation
    return out, cols


def _conv2d_fwd(xp, x, w, *bias, stride, padding, dilation, groups):
    return _conv2d_cols(xp, x, w, bias, stride, padding, dilation, groups)[0]


def _conv2d_keep(xp, x, w, *bias, needs, stride, padding, dilation, groups):
    """conv2d's forward for a recorded node: also its columns, kept for the weight gradient
    (when the weight needs one and they are not too big)."""
    out, cols = _conv2d_cols(xp, x, w, bias, stride, padding, dilation, groups)
    return out, cols if needs[1] and cols.nbytes <= COLS_KEEP_LIMIT else None


def _conv_transpose2d_fwd(xp, g, w, stride, padding, dilation, groups, in_hw, grids=None):
    if tuple(stride) == (1, 1) and g.size > 0:
        return _conv_transpose2d_flat(xp, g, w, padding, dilation, groups, in_hw, grids)
    n, o, h_o, w_o = g.shape
    _, cg, kh, kw = w.shape
    wg = w.reshape(groups, o // groups, cg * kh * kw)
    cols = xp.matmul(wg.transpose(0, 2, 1), g.reshape(n, groups, o // groups, h_o * w_o))
    cols = cols.reshape(n, groups * cg, kh, kw, h_o, w_o)
    return _col2im(xp, cols, (n, groups * cg) + tuple(in_hw), (kh, kw), stride, padding, dilation)


def _conv2d_weight_fwd(xp, x, g, stride, padding, dilation, groups, kernel, grids=None,
                       cols=None):
    n, o, h_o, w_o = g.shape
    # ``cols``: kept by conv2d's forward (its node's), else made again (same values):
    # (G, K, length) on the flat grid, else (N, G, K, P)
    flat = _flat(x, stride, groups, kernel, o)
    # flat columns hold input cells in their junk columns: an inf or NaN there must not meet
    # the zero gradient of a junk cell (PyTorch's NaN are where a real window reads them)
    if flat and fast_path(xp.isfinite(x).all()):
        if cols is None:
            cols = _flat_cols(xp, x, kernel, padding, dilation, groups)
        hs, ws, _, _ = _grid(x.shape, kernel, padding, dilation)
        return _conv2d_weight_flat(xp, cols, g, hs, ws, x.shape[1] // groups, kernel, grids)
    if cols is None or flat:  # none kept, or kept in the flat layout
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
conv2d_op = defop("conv2d", _conv2d_fwd, explain=_explain_conv, saves=(0, 1), keeps=_conv2d_keep)
conv_transpose2d_op = defop("conv_transpose2d", _conv_transpose2d_fwd, explain=_explain_conv)
conv2d_weight_op = defop("conv2d_weight", _conv2d_weight_fwd, explain=_explain_conv)


def _conv2d_grad(m, g, ans, x, w, *b, needs, kept=None, **p):
    """conv2d's derivative, one multi-output rule told which inputs need a gradient: the
    input and weight gradients are its backward ops (conv_transpose2d, conv2d_weight),
    which on arrays share g laid out on the flat grid, made once for this node (and gone
    with it); the weight gradient reuses the columns the forward ``kept`` for this node."""
    extra = {} if records(m) else {"grids": {}}
    dx = conv_transpose2d_op.on(m, g, w, in_hw=tuple(x.shape[2:]), **extra, **p) \
        if needs[0] else None
    if needs[1] and not records(m):
        extra["cols"] = kept
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


__all__ = ["Tensor", "out_size"]
