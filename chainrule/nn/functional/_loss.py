"""Loss functions (``F.cross_entropy``, ``F.mse_loss`` …) with PyTorch's semantics.

``cross_entropy`` with class indices is one fused op (log-softmax + NLL + label
smoothing + class weights): one node in the graph and a rule of the form
``p·Σq − q`` (softmax minus the weighted target distribution), since it sits on
the hot path of every classifier. The margin losses (ranking, hinge, embedding, triplet,
multi-class margins) are in ``_loss_margin.py``.

>>> import chainrule as cr
>>> import chainrule.nn.functional as F
>>> logits = cr.zeros(2, 4, requires_grad=True)
>>> loss = F.cross_entropy(logits, cr.tensor([0, 3]))
>>> round(loss.item(), 4)          # log(4)
1.3863
>>> loss.backward(); logits.grad[0]
tensor([-0.3750,  0.1250,  0.1250,  0.1250])
"""
from __future__ import annotations

import math

from ..._host_calls import any_bad
from ...backends import on_its_gpu
from ...errors import DTypeError, ShapeError, op_error, warn_user
from ...ops import elementwise as ew
from ...autograd.rule_namespace import records
from ...ops import activations as act
from ...ops.indexing import gather_in_range
from ...ops.registry import defgrad_joint, defop, defvjp
from ...ops.softmax import log_softmax as _log_softmax, softmax as _softmax
from ...tensor import Tensor
from .. import _args

__all__ = ["cross_entropy", "nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
           "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div",
           "poisson_nll_loss", "gaussian_nll_loss"]

_REDUCTIONS = ("none", "mean", "sum")


def _check_reduction(reduction: str, op: str, extra: tuple = ()) -> None:
    if reduction not in _REDUCTIONS + extra:
        raise op_error(ValueError, op, f"reduction must be one of {_REDUCTIONS + extra}, got "
                       f"{reduction!r}")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _legacy(size_average, reduce, reduction: str) -> str:
    # PyTorch's deprecated size_average/reduce arguments, mapped onto ``reduction``
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    legacy = "none" if not reduce else ("mean" if size_average else "sum")
    # PyTorch warns on every use of the old arguments, naming the reduction they mean
    warn_user(f"size_average and reduce args will be deprecated, please use "
              f"reduction='{legacy}' instead.")
    return legacy


# ------------------------------------------------------------ cross entropy --
# The fused op works on (M, C) logits and (M,) class indices and returns the per-row
# loss  l_n = -Σ_c q_nc log p_nc,  q_n = (1-ls) w[t_n] onehot(t_n) + (ls/C) w.
# Its rule is another op, ``cross_entropy_grad``, which computes
#     dl/dz_n = g_n (a_n p_n - q_n),   a_n = Σ_c q_nc,
# in a few in-place passes (p from the forward's saved log-sum-exp); that op has its
# own rules, so higher-order gradients still work.
#
# When a node is recorded the forward also returns its per-row log-sum-exp (M floats),
# which the node keeps (the registry's ``keeps``) and hands to the rule, so the rule
# rebuilds softmax with one subtract and one exp. The logits themselves are a saved
# input (version-checked as usual).


def _ce_rows(xp, target, weight, ignore_index):
    valid = target != ignore_index
    safe = xp.where(valid, target, 0)
    w_t = weight[0][safe] if weight else None
    return valid, safe, w_t


def _ce_fwd(xp, z, target, *weight, ignore_index, label_smoothing):
    return _ce_lse(xp, z, target, *weight, ignore_index=ignore_index,
                   label_smoothing=label_smoothing)[0]


def _ce_keep(xp, z, target, *weight, needs, ignore_index, label_smoothing):
    """The forward for a recorded node: the losses and the per-row log-sum-exp, kept for
    the rule when the logits need a gradient."""
    loss, lse = _ce_lse(xp, z, target, *weight, ignore_index=ignore_index,
                        label_smoothing=label_smoothing)
    return loss, lse if needs[0] else None


def _ce_lse(xp, z, target, *weight, ignore_index, label_smoothing):
    """``(loss per row, log-sum-exp per row)``."""
    m, c = z.shape
    valid, safe, w_t = _ce_rows(xp, target, weight, ignore_index)
    top = xp.amax(z, axis=1, keepdims=True) if c else xp.zeros((m, 1), z.dtype)
    e = z - top
    picked = e[xp.arange(m), safe] if c else xp.zeros(m, z.dtype)  # shifted logit of the target
    xp.exp(e, out=e)
    lse_shift = xp.log(e.sum(axis=1))
    lse = top[:, 0] + lse_shift
    logp_t = picked - lse_shift
    loss = -(1 - label_smoothing) * (logp_t if w_t is None else w_t * logp_t)
    if label_smoothing:
        # Σ_c w_c log p_c = z·w - lse Σw  (or Σz - C lse without weights)
        smooth = (z @ weight[0] - lse * weight[0].sum()) if weight else (z.sum(axis=1) - c * lse)
        loss = loss - (label_smoothing / c) * smooth
    return xp.where(valid, loss, 0).astype(z.dtype, copy=False), lse


def _ce_grad_fwd(xp, g, z, target, *weight, ignore_index, label_smoothing, lse=None):
    m, c = z.shape
    valid, safe, w_t = _ce_rows(xp, target, weight, ignore_index)
    if lse is None:  # none kept by the forward's node: recompute
        top = xp.amax(z, axis=1, keepdims=True)
        lse = top[:, 0] + xp.log(xp.exp(z - top).sum(axis=1))
    p = z - lse[:, None]
    xp.exp(p, out=p)
    gv = xp.where(valid, g, 0).astype(z.dtype, copy=False)
    hard = gv * (1 - label_smoothing) * (1 if w_t is None else w_t)
    total = hard
    if label_smoothing:
        total = hard + gv * label_smoothing * (weight[0].sum() / c if weight else 1.0)
    p *= total[:, None]
    p[xp.arange(m), safe] -= hard
    if label_smoothing:
        p -= (gv * (label_smoothing / c))[:, None] * (weight[0] if weight else 1.0)
    return p


def _ce_q(z: Tensor, target: Tensor, weight, ignore_index: int, label_smoothing: float):
    """(valid mask, safe targets, a_n = Σ_c q_nc, and q·V for a cotangent V) as Tensors."""
    m, c = z.shape
    valid = target != ignore_index
    safe = ew.where_fn(valid, target, 0)
    w_t = weight[0][safe] if weight else 1.0
    a = (1 - label_smoothing) * w_t + label_smoothing * (weight[0].sum() / c if weight else 1.0)

    def q_dot(v: Tensor) -> Tensor:
        out = (1 - label_smoothing) * w_t * gather_in_range(v, 1, safe.unsqueeze(1)).squeeze(1)
        if label_smoothing:
            out = out + (label_smoothing / c) * ((v * weight[0]).sum(1) if weight else v.sum(1))
        return out
    return valid, a, q_dot


def _ce_grad_rule_g(v, ans, g, z, target, *weight, ignore_index, label_smoothing, lse=None):
    # ∂G_n/∂g_n = valid_n (a_n p_n - q_n)
    valid, a, q_dot = _ce_q(z, target, weight, ignore_index, label_smoothing)
    p = _softmax(z, 1)
    return ew.where_fn(valid, (v * p).sum(1) * a - q_dot(v), 0.0)


def _ce_grad_rule_z(v, ans, g, z, target, *weight, ignore_index, label_smoothing, lse=None):
    # G_n = g_n (a_n p_n - q_n) depends on z through p only: the softmax VJP, scaled
    valid, a, _ = _ce_q(z, target, weight, ignore_index, label_smoothing)
    p = _softmax(z, 1)
    scale = ew.where_fn(valid, g, 0.0) * a
    return p * (v - (v * p).sum(1, keepdim=True)) * scale.unsqueeze(1)


def _ce_grad(m, g, ans, z, target, *w, needs, kept=None, **kw):
    """The logits' gradient (the only one): the backward op, on arrays with the
    log-sum-exp the forward ``kept`` for this node."""
    lse = {} if records(m) or kept is None else {"lse": kept}
    return [cross_entropy_grad_op.on(m, g, z, target, *w, **lse, **kw), None, None]


cross_entropy_op = defop("cross_entropy", _ce_fwd, saves=(0, 1, 2), keeps=_ce_keep)
cross_entropy_grad_op = defop("cross_entropy_grad", _ce_grad_fwd, saves=(0, 1, 2, 3))
defgrad_joint(cross_entropy_op, 3, _ce_grad, without=(1, 2))
defvjp(cross_entropy_grad_op, _ce_grad_rule_g, _ce_grad_rule_z, None, None)


def _soft_ce_fwd(xp, z, q):
    shifted = z - xp.amax(z, axis=1, keepdims=True)
    logp = shifted - xp.log(xp.sum(xp.exp(shifted), axis=1, keepdims=True))
    return -(q * logp).sum(axis=1)


# probability targets: loss_n = -Σ_c q_nc log p_nc; q may itself require grad
soft_cross_entropy_op = defop("soft_cross_entropy", _soft_ce_fwd)
defvjp(soft_cross_entropy_op,
       lambda g, ans, z, q: g.unsqueeze(1) * (_softmax(z, 1) * q.sum(1, keepdim=True) - q),
       lambda g, ans, z, q: -g.unsqueeze(1) * _log_softmax(z, 1))


def _class_last(input: Tensor, op: str) -> tuple[Tensor, tuple]:
    """(N, C, d1, …) → (N·d1·…, C) and the batch shape (N, d1, …)."""
    if input.ndim == 1:
        return input.unsqueeze(0), ()
    if input.ndim == 2:
        return input, (input.shape[0],)
    batch = (input.shape[0],) + tuple(input.shape[2:])
    return input.movedim(1, -1).reshape(-1, input.shape[1]), batch


def _check_weight(weight, c: int, op: str) -> None:
    if weight is not None and tuple(weight.shape) != (c,):
        raise op_error(ShapeError, op, f"weight of shape {tuple(weight.shape)} does not fit {c} "
                       f"classes; expected shape ({c},)")


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
                  ignore_index: int = -100, reduce=None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Cross entropy between logits ``input`` (N, C, d1, …) or (C,) and ``target``.

    ``target`` holds class indices (N, d1, …) — with ``weight``, ``ignore_index``
    and ``label_smoothing`` — or class probabilities of ``input``'s shape.
    """
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction(reduction, "cross_entropy")
    _args.tensor(input, "input", "cross_entropy")
    _args.tensor(target, "target", "cross_entropy")
    if not 0.0 <= label_smoothing <= 1.0:
        raise op_error(ValueError, "cross_entropy", f"label_smoothing must be in [0, 1], got "
                       f"{label_smoothing}")
    if input.ndim == 0:
        raise op_error(ShapeError, "cross_entropy", "input must have a class dim: (C,), (N, C) or "
                       "(N, C, d1, ...), got a 0-d tensor")
    if not input.is_floating_point():
        raise op_error(DTypeError, "cross_entropy", f"input (logits) must be floating point, got "
                       f"{input.dtype.name}")
    c = input.shape[1] if input.ndim > 1 else input.shape[0]
    _check_weight(weight, c, "cross_entropy")
    if target.is_floating_point():
        return _soft_cross_entropy(input, target, weight, reduction, label_smoothing, c)
    expected = tuple(input.shape[:1]) + tuple(input.shape[2:]) if input.ndim > 1 else ()
    if tuple(target.shape) != expected:
        raise op_error(ShapeError, "cross_entropy", f"target of shape {tuple(target.shape)} does not "
                       f"fit input of shape {tuple(input.shape)}: class-index targets must have shape "
                       f"{expected} (input without its class dim), probability targets the input's "
                       "shape")
    z, batch = _class_last(input, "cross_entropy")
    t = target.reshape(-1)
    _check_targets(t, c, ignore_index, "cross_entropy")
    w = () if weight is None else (weight.to(input.dtype),)
    rows = cross_entropy_op(z, t, *w, ignore_index=int(ignore_index),
                            label_smoothing=float(label_smoothing))
    if reduction == "none":
        return rows.reshape(batch)
    if reduction == "sum":
        return rows.sum()
    return rows.sum() / _weight_total(t, weight, ignore_index, input)


def _check_targets(t: Tensor, c: int, ignore_index: int, op: str) -> None:
    data = on_its_gpu(t._data)
    if data.dtype.name not in ("int64", "uint8"):  # PyTorch's kernels take Long or Byte only
        raise op_error(DTypeError, op, f"class-index target must be int64 (or uint8), got "
                       f"{data.dtype.name}")
    if data.size == 0:
        return
    bad = (data != ignore_index) & ((data < 0) | (data >= c))
    if any_bad(bad, IndexError, f"{op}: a target is out of bounds for {c} classes"):
        raise op_error(IndexError, op, f"target {int(data[bad][0])} is out of bounds for {c} classes "
                       f"(expected 0 to {c - 1}, or ignore_index={ignore_index})")


def _weight_total(t: Tensor, weight, ignore_index: int, like: Tensor) -> Tensor:
    """The mean's divisor: the summed class weights of the rows not ignored (a constant)."""
    valid = t != ignore_index
    if weight is None:
        return valid.sum().to(like.dtype)
    safe = ew.where_fn(valid, t, 0)
    return (weight.detach().to(like.dtype)[safe] * valid).sum()


def _soft_cross_entropy(input, target, weight, reduction, label_smoothing, c) -> Tensor:
    if tuple(target.shape) != tuple(input.shape):
        raise op_error(ShapeError, "cross_entropy", f"probability target of shape "
                       f"{tuple(target.shape)} must have the input's shape {tuple(input.shape)}")
    target = target.to(input.dtype)
    if label_smoothing:
        target = target * (1 - label_smoothing) + label_smoothing / c
    z, batch = _class_last(input, "cross_entropy")
    q, _ = _class_last(target, "cross_entropy")
    if weight is not None:
        q = q * weight.to(input.dtype)
    rows = soft_cross_entropy_op(z, q)
    if reduction == "none":
        return rows.reshape(batch)
    if reduction == "sum":
        return rows.sum()
    return rows.mean()


# ------------------------------------------------------------------- NLL --
def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
             ignore_index: int = -100, reduce=None, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of log-probabilities ``input`` (N, C, …) at ``target`` indices."""
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction(reduction, "nll_loss")
    _args.tensor(input, "input", "nll_loss")
    _args.tensor(target, "target", "nll_loss")
    if input.ndim == 0:
        raise op_error(ShapeError, "nll_loss", "input must have a class dim: (C,), (N, C) or "
                       "(N, C, d1, ...), got a 0-d tensor")
    c = input.shape[1] if input.ndim > 1 else input.shape[0]
    _check_weight(weight, c, "nll_loss")
    expected = tuple(input.shape[:1]) + tuple(input.shape[2:]) if input.ndim > 1 else ()
    if tuple(target.shape) != expected or target.is_floating_point():
        raise op_error(ShapeError, "nll_loss", f"target of shape {tuple(target.shape)} and dtype "
                       f"{target.dtype.name} does not fit input of shape {tuple(input.shape)}: "
                       f"expected integer class indices of shape {expected}")
    z, batch = _class_last(input, "nll_loss")
    t = target.reshape(-1)
    _check_targets(t, c, ignore_index, "nll_loss")
    valid = t != ignore_index
    safe = ew.where_fn(valid, t, 0)
    picked = gather_in_range(z, 1, safe.unsqueeze(1)).squeeze(1)  # (targets checked above)
    scale = valid.to(input.dtype)
    if weight is not None:
        scale = scale * weight.to(input.dtype)[safe]
    rows = -picked * scale
    if reduction == "none":
        return rows.reshape(batch)
    if reduction == "sum":
        return rows.sum()
    return rows.sum() / scale.detach().sum()


# ---------------------------------------------------------- regression --
def _pair(input: Tensor, target: Tensor, op: str, warn: bool = True) -> tuple[Tensor, Tensor]:
    """``input`` and ``target`` (cast to the input's float dtype), checked to broadcast;
    with ``warn``, a UserWarning when their shapes differ, as PyTorch's regression losses:
    an (N, 1) input and an (N,) target broadcast to (N, N), silently wrong."""
    _args.tensor(input, "input", op)
    if not isinstance(target, Tensor):
        raise op_error(DTypeError, op, f"target must be a Tensor, got {type(target).__name__}")
    _broadcast_shape(input, target, op)
    if warn and tuple(target.shape) != tuple(input.shape):
        warn_user(f"{op}: Using a target size {tuple(target.shape)} that is different to the input "
                  f"size {tuple(input.shape)}. This will likely lead to incorrect results due to "
                  "broadcasting. Please ensure they have the same size.")
    if target.dtype != input.dtype and input.is_floating_point():
        target = target.to(input.dtype)
    return input, target


def mse_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
             reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """Mean squared error ``(input - target)²``, reduced."""
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction(reduction, "mse_loss")
    input, target = _pair(input, target, "mse_loss")
    d = input - target
    loss = d * d
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
            reduction: str = "mean") -> Tensor:
    """Mean absolute error ``|input - target|``, reduced."""
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction(reduction, "l1_loss")
    input, target = _pair(input, target, "l1_loss")
    return _reduce(ew.abs_fn(input - target), reduction)


def smooth_l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                   reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """``0.5 d² / beta`` where ``|d| < beta``, else ``|d| - 0.5 beta``; beta=0 is L1."""
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction(reduction, "smooth_l1_loss")
    if beta < 0:
        raise op_error(ValueError, "smooth_l1_loss", f"beta must be non-negative, got {beta}")
    input, target = _pair(input, target, "smooth_l1_loss")
    d = input - target
    a = ew.abs_fn(d)
    if beta == 0:
        return _reduce(a, reduction)
    near = a < beta
    dq = ew.where_fn(near, d, 0.0)  # the quadratic branch sees only its own d: inf there
    loss = ew.where_fn(near, dq * dq * (0.5 / beta), a - 0.5 * beta)  # would make a nan gradient
    return _reduce(loss, reduction)


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: Tensor | None = None) -> Tensor:
    """``0.5 d²`` where ``|d| < delta``, else ``delta (|d| - 0.5 delta)``."""
    _check_reduction(reduction, "huber_loss")
    if delta <= 0:
        raise op_error(ValueError, "huber_loss", f"delta must be positive, got {delta}")
    input, target = _pair(input, target, "huber_loss")
    d = input - target
    a = ew.abs_fn(d)
    near = a < delta
    dq = ew.where_fn(near, d, 0.0)  # as smooth_l1_loss: no inf * 0 in the untaken branch's gradient
    loss = ew.where_fn(near, dq * dq * 0.5, (a - 0.5 * delta) * delta)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def _broadcast_shape(input: Tensor, target: Tensor, op: str) -> tuple:
    """The shape ``input`` and ``target`` broadcast to; a ShapeError naming ``op`` if none."""
    from ...ops.shape import broadcast_shapes
    try:
        return tuple(broadcast_shapes(tuple(input.shape), tuple(target.shape)))
    except Exception:
        raise op_error(ShapeError, op, f"input of shape {tuple(input.shape)} and target of shape "
                       f"{tuple(target.shape)} cannot be broadcast together") from None


# ----------------------------------------------------------- binary --
def _broadcasts(t: Tensor, to: Tensor) -> bool:
    """Whether ``t``'s shape broadcasts to ``to``'s (PyTorch's rule for a loss weight)."""
    a, b = tuple(t.shape), tuple(to.shape)
    return len(a) <= len(b) and all(x in (1, y) for x, y in zip(a[::-1], b[::-1]))


def _check_same_shape(input: Tensor, target: Tensor, op: str) -> None:
    if tuple(target.shape) != tuple(input.shape):
        raise op_error(ShapeError, op, f"target of shape {tuple(target.shape)} must have the "
                       f"input's shape {tuple(input.shape)}")


# One op with PyTorch's rules: through the clamped logs the input's gradient would be
# 0 * inf = nan where a probability is exactly 0 or 1; PyTorch's is (x - y) / max(x (1 - x), 1e-12)
def _bce_fwd(xp, x, y):
    log_x = xp.maximum(xp.log(x), -100.0)
    log_1mx = xp.maximum(xp.log1p(-x), -100.0)
    return (-(y * log_x + (1 - y) * log_1mx)).astype(x.dtype, copy=False)


binary_cross_entropy_op = defop("binary_cross_entropy", _bce_fwd)
defvjp(binary_cross_entropy_op,
       lambda g, ans, x, y: g * (x - y) / ew.clamp(x * (1 - x), min=1e-12),
       lambda g, ans, x, y: g * (ew.clamp(ew.log1p(-x), min=-100.0) - ew.clamp(ew.log(x), min=-100.0)))


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """``-w (y log x + (1 - y) log(1 - x))`` on probabilities; logs clamped at -100 as PyTorch."""
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction(reduction, "binary_cross_entropy")
    _check_same_shape(input, target, "binary_cross_entropy")
    if weight is not None and not _broadcasts(weight, input):
        raise op_error(ShapeError, "binary_cross_entropy", f"weight of shape {tuple(weight.shape)} "
                       f"cannot be broadcast to the input's shape {tuple(input.shape)}")
    data = on_its_gpu(input._data)
    if data.size and any_bad((data < 0) | (data > 1), ValueError, "binary_cross_entropy: an "
                             "input value is not a probability in [0, 1]"):
        raise op_error(ValueError, "binary_cross_entropy", "all input values must be probabilities "
                       "in [0, 1]; for logits use binary_cross_entropy_with_logits")
    loss = binary_cross_entropy_op(input, target.to(input.dtype))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                     size_average=None, reduce=None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """BCE on logits, stable for any magnitude:
    ``(1 - y) x + (1 + (pw - 1) y) softplus(-x)``, times ``weight``."""
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    _check_same_shape(input, target, "binary_cross_entropy_with_logits")
    target = target.to(input.dtype)
    # softplus with no threshold is max(z, 0) + log1p(exp(-|z|)): exact and never overflows
    sp = act.softplus(-input, 1.0, math.inf)
    if pos_weight is not None:
        loss = (1 - target) * input + (1 + (pos_weight - 1) * target) * sp
    else:
        loss = (1 - target) * input + sp
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


# ----------------------------------------------------------------- KL --
def kl_div(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
           log_target: bool = False) -> Tensor:
    """``target (log target - input)`` for log-probabilities ``input``.

    ``reduction='batchmean'`` divides the sum by the batch size (the true KL
    divergence); ``'mean'`` divides by the number of elements, as PyTorch.
    """
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction(reduction, "kl_div", ("batchmean",))
    if reduction == "mean":  # as PyTorch: 'mean' is rarely the KL divergence one wants
        warn_user("kl_div: reduction='mean' divides the total loss by both the batch size and the "
                  "support size; 'batchmean' divides only by the batch size, which is the KL "
                  "divergence's definition")
    input, target = _pair(input, target, "kl_div", warn=False)
    if log_target:
        loss = ew.exp(target) * (target - input)
    else:
        # xlogy: 0 log 0 = 0, and no gradient NaN from log(0) where target == 0
        positive = target > 0
        safe = ew.where_fn(positive, target, 1.0)
        loss = ew.where_fn(positive, target * ew.log(safe), 0.0) - target * input
    if reduction == "batchmean":
        return loss.sum() / (input.shape[0] if input.ndim else 1)
    return _reduce(loss, reduction)


# ---------------------------------------------------------- likelihoods --
def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool = True, full: bool = False,
                     size_average=None, eps: float = 1e-8, reduce=None,
                     reduction: str = "mean") -> Tensor:
    """Poisson negative log-likelihood (``exp(x) - y x`` for log-rate inputs)."""
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction(reduction, "poisson_nll_loss")
    if log_input:
        loss = ew.exp(input) - target * input
    else:
        loss = input - target * ew.log(input + eps)
    if full:
        safe = ew.where_fn(target > 1, target, 1.0)
        stirling = safe * ew.log(safe) - safe + 0.5 * ew.log(2 * math.pi * safe)
        loss = loss + ew.where_fn(target > 1, stirling, 0.0)
    return _reduce(loss, reduction)


def gaussian_nll_loss(input: Tensor, target: Tensor, var: Tensor, full: bool = False,
                      eps: float = 1e-6, reduction: str = "mean") -> Tensor:
    """``0.5 (log var + (x - y)² / var)`` (+ ``0.5 log 2π`` when ``full``)."""
    _check_reduction(reduction, "gaussian_nll_loss")
    shape, var_shape = tuple(input.shape), tuple(var.shape)
    if var_shape != shape:  # PyTorch's rule: var is input-shaped, or one size short of it
        if var_shape == shape[:-1]:
            var = var.unsqueeze(-1)
        elif not (var.ndim == input.ndim
                  and sum(v for i, v in zip(shape, var_shape) if i != v) == 1):
            raise op_error(ValueError, "gaussian_nll_loss", f"var of shape {var_shape} does not fit "
                           f"input of shape {shape}: expected {shape}, {shape[:-1]}, or {shape} "
                           f"with one size made 1")
    if (var._data < 0).any().item():
        raise op_error(ValueError, "gaussian_nll_loss", "var has negative entries")
    # PyTorch clamps under no_grad: the value is clamped, the gradient flows as if it were not
    var = var + (ew.clamp(var.detach(), min=eps) - var.detach())
    d = input - target
    loss = 0.5 * (ew.log(var) + d * d / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


# Instruments (the training diagnostics) see the losses computed: each public loss
# reports its input, target and reduction to the registered observers.
from ._loss_observers import observed as _observed  # noqa: E402

cross_entropy = _observed(cross_entropy)
nll_loss = _observed(nll_loss)
mse_loss = _observed(mse_loss)
l1_loss = _observed(l1_loss)
smooth_l1_loss = _observed(smooth_l1_loss)
huber_loss = _observed(huber_loss)
binary_cross_entropy = _observed(binary_cross_entropy)
binary_cross_entropy_with_logits = _observed(binary_cross_entropy_with_logits)
kl_div = _observed(kl_div)
