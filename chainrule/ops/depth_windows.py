"""Windows along the depth axis of (N, C, D, H, W) arrays: how the 3-D convolutions and
pools reuse the 2-D kernels of ``conv.py``.

``depth_unfold`` copies, for every output depth position t and kernel offset i, the
input slice at depth ``t·stride + i·dilation`` (of the padded input) into one array
(N, Do, C, k, H, W). A 3-D convolution is then one 2-D convolution of that array read
as (N·Do, C·k, H, W) with the weight read as (O, C/G·k, kh, kw); a 3-D max or sum pool
is a 2-D pool followed by a maximum or sum over the k axis. ``depth_fold`` is the
adjoint (each window slice added back at its depth), which is also the depth half of
a transposed 3-D convolution. The two ops are each other's rule (the padding value
is a constant), so gradients of every order follow.
"""
from __future__ import annotations

from .registry import defop, defvjp


def _unfold_fwd(xp, x, kernel, stride, padding, dilation, in_depth, out_depth, value=0.0):
    n, c, d, h, w = x.shape
    before, after = padding
    if before or after:
        padded = xp.full((n, c, d + before + after, h, w), value, dtype=x.dtype)
        padded[:, :, before:before + d] = x
    else:
        padded = xp.ascontiguousarray(x)
    s_n, s_c, s_d, s_h, s_w = padded.strides
    view = xp.as_strided(
        padded, (n, out_depth, c, kernel, h, w),
        (s_n, stride * s_d, s_c, dilation * s_d, s_h, s_w), writeable=False)
    return xp.ascontiguousarray(view)


def _fold_fwd(xp, g, kernel, stride, padding, dilation, in_depth, out_depth):
    n, out_depth, c, _, h, w = g.shape
    before, after = padding
    out = xp.zeros((n, c, in_depth + before + after, h, w), dtype=g.dtype)
    span = stride * (out_depth - 1) + 1
    for i in range(kernel):
        out[:, :, i * dilation:i * dilation + span:stride] += g[:, :, :, i].transpose(0, 2, 1, 3, 4)
    if before or after:
        out = xp.ascontiguousarray(out[:, :, before:before + in_depth])
    return out


# both carry both depths, so neither rule needs a saved input
depth_unfold_op = defop("depth_unfold", _unfold_fwd, saves=())
depth_fold_op = defop("depth_fold", _fold_fwd, saves=())
defvjp(depth_unfold_op, lambda g, ans, x, value=0.0, **geometry: depth_fold_op(g, **geometry))
defvjp(depth_fold_op, lambda c, ans, g, **geometry: depth_unfold_op(c, **geometry))
