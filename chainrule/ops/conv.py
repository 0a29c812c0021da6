"""Convolution and pooling ops on NCHW arrays (1-D callers add a size-1 H dim).

Convolution is im2col plus one batched GEMM: a strided *view* of the padded input
(``as_strided``, no index maps) is copied once into columns and multiplied by the
weight. The three ops below are closed under differentiation, so every rule is
one of them and higher-order gradients come for free:

    conv2d(x, w)               y = x ⋆ w
    conv_transpose2d(g, w)     adjoint in x:  ⟨conv_transpose2d(g, w), x⟩ = ⟨g, conv2d(x, w)⟩
    conv2d_weight(x, g)        adjoint in w:  ⟨conv2d_weight(x, g), w⟩ = ⟨g, conv2d(x, w)⟩

Pooling: max pooling finds flat indices (no derivative), then ``pool_gather``
reads them and ``pool_scatter`` (a bincount, not ``add.at``) sends gradients
back; average pooling is ``window_sum`` and its adjoint ``window_sum_t``.
Padding is always given per side: ``((top, bottom), (left, right))``.
"""
from __future__ import annotations

from ..tensor import Tensor
from .registry import defop, defvjp, nondifferentiable


# ----------------------------------------------------------------- helpers --
def out_size(size: int, k: int, stride: int, pad_total: int, dilation: int) -> int:
    """Output length of a window sweep over ``size`` padded by ``pad_total`` in all."""
    return (size + pad_total - dilation * (k - 1) - 1) // stride + 1


def _pad(xp, x, padding, value=0.0):
    (pt, pb), (pl, pr) = padding
    if pt == pb == pl == pr == 0:
        return x
    return xp.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)), constant_values=value)


def _windows(xp, x, kernel, stride, dilation, out_hw, groups=1):
    """A (N, G, C/G, kh, kw, Ho, Wo) strided view of the (padded) input: no copy."""
    n, c, _, _ = x.shape
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = kernel, stride, dilation, out_hw
    s_n, s_c, s_h, s_w = x.strides
    cg = c // groups
    return xp.lib.stride_tricks.as_strided(
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


# -------------------------------------------------------------- convolution --
def _conv2d_fwd(xp, x, w, stride, padding, dilation, groups):
    n = x.shape[0]
    o, cg, kh, kw = w.shape
    h_o = out_size(x.shape[2], kh, stride[0], sum(padding[0]), dilation[0])
    w_o = out_size(x.shape[3], kw, stride[1], sum(padding[1]), dilation[1])
    cols = _im2col(xp, x, (kh, kw), stride, padding, dilation, groups, (h_o, w_o))
    out = xp.matmul(w.reshape(groups, o // groups, cg * kh * kw), cols)  # (N, G, O/G, Ho·Wo)
    return out.reshape(n, o, h_o, w_o)


def _conv_transpose2d_fwd(xp, g, w, stride, padding, dilation, groups, in_hw):
    n, o, h_o, w_o = g.shape
    _, cg, kh, kw = w.shape
    wg = w.reshape(groups, o // groups, cg * kh * kw)
    cols = xp.matmul(wg.transpose(0, 2, 1), g.reshape(n, groups, o // groups, h_o * w_o))
    cols = cols.reshape(n, groups * cg, kh, kw, h_o, w_o)
    return _col2im(xp, cols, (n, groups * cg) + tuple(in_hw), (kh, kw), stride, padding, dilation)


def _conv2d_weight_fwd(xp, x, g, stride, padding, dilation, groups, kernel):
    n, o, h_o, w_o = g.shape
    cols = _im2col(xp, x, kernel, stride, padding, dilation, groups, (h_o, w_o))
    gg = g.reshape(n, groups, o // groups, h_o * w_o)
    # one GEMM per group over the batch and pixels together: (O/G, N·P) @ (N·P, K)
    out = xp.einsum("ngop,ngkp->gok", gg, cols, optimize=True)
    return out.reshape(o, x.shape[1] // groups, *kernel)


def _explain_conv(inputs, params):
    x, w = inputs
    return (f"cannot convolve input of shape {tuple(x.shape)} with weight of shape "
            f"{tuple(w.shape)} (stride={params['stride']}, padding={params['padding']}, "
            f"dilation={params['dilation']}, groups={params['groups']})")


conv2d_op = defop("conv2d", _conv2d_fwd, explain=_explain_conv)
conv_transpose2d_op = defop("conv_transpose2d", _conv_transpose2d_fwd, explain=_explain_conv)
conv2d_weight_op = defop("conv2d_weight", _conv2d_weight_fwd, explain=_explain_conv)


defvjp(conv2d_op,
       lambda g, ans, x, w, **p: conv_transpose2d_op(g, w, in_hw=tuple(x.shape[2:]), **p),
       lambda g, ans, x, w, **p: conv2d_weight_op(x, g, kernel=tuple(w.shape[2:]), **p))
defvjp(conv_transpose2d_op,
       lambda c, ans, g, w, in_hw, **p: conv2d_op(c, w, **p),
       lambda c, ans, g, w, in_hw, **p: conv2d_weight_op(c, g, kernel=tuple(w.shape[2:]), **p))
defvjp(conv2d_weight_op,
       lambda c, ans, x, g, kernel, **p: conv_transpose2d_op(g, c, in_hw=tuple(x.shape[2:]), **p),
       lambda c, ans, x, g, kernel, **p: conv2d_op(x, c, **p))


# ------------------------------------------------------------ max pooling --
def _max_pool_indices_fwd(xp, x, kernel, stride, padding, dilation, out_hw):
    """Flat (h·W + w) index of each window's maximum; the first one wins ties, NaN wins all."""
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = kernel, stride, dilation, out_hw
    (pt, _), (pl, _) = padding
    xpad = _pad(xp, x, padding, value=-xp.inf)
    best = None
    arg = xp.zeros((n, c, ho, wo), dtype=xp.int64)
    for i in range(kh):
        for j in range(kw):
            s = xpad[:, :, i * dh:i * dh + sh * (ho - 1) + 1:sh, j * dw:j * dw + sw * (wo - 1) + 1:sw]
            if best is None:
                best = s.copy()
                continue
            better = (s > best) | (xp.isnan(s) & ~xp.isnan(best))
            xp.copyto(best, s, where=better)
            xp.copyto(arg, i * kw + j, where=better)
    ki, kj = xp.divmod(arg, kw)
    rows = xp.arange(ho).reshape(ho, 1) * sh - pt + ki * dh
    cols = xp.arange(wo) * sw - pl + kj * dw
    return rows * w + cols


max_pool_indices_op = nondifferentiable(
    defop("max_pool2d_indices", _max_pool_indices_fwd),
    "the position of a maximum is piecewise constant")


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
        spans.append((start, end, int((end - start).max())))
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
defvjp(pool_gather_op, lambda g, ans, x, indices, in_shape:
       pool_scatter_op(g, indices=indices, in_shape=in_shape))
defvjp(pool_scatter_op, lambda c, ans, g, indices, in_shape:
       pool_gather_op(c, indices=indices, in_shape=tuple(c.shape)))


# -------------------------------------------------------- average pooling --
def _window_sum_fwd(xp, x, kernel, stride, padding, in_hw, out_hw):
    """Sum of every (zero-padded) window: kh·kw strided adds, vectorised over the rest."""
    (kh, kw), (sh, sw), (ho, wo) = kernel, stride, out_hw
    xpad = _pad(xp, x, padding)
    if kh == sh and kw == sw and xpad.shape[2] >= kh * ho and xpad.shape[3] >= kw * wo:
        # non-overlapping windows: one reshaped reduction
        n, c = xpad.shape[:2]
        blocks = xpad[:, :, :kh * ho, :kw * wo].reshape(n, c, ho, kh, wo, kw)
        return blocks.sum(axis=(3, 5))
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
defvjp(window_sum_op, lambda g, ans, x, **p: window_sum_t_op(g, **p))
defvjp(window_sum_t_op, lambda c, ans, g, **p: window_sum_op(c, **p))


def conv_ops() -> tuple:
    """The ops this family registers (for the op sweep's coverage)."""
    return (conv2d_op, conv_transpose2d_op, conv2d_weight_op, max_pool_indices_op,
            adaptive_max_indices_op, pool_gather_op, pool_scatter_op, window_sum_op, window_sum_t_op)


__all__ = ["Tensor", "out_size"]
