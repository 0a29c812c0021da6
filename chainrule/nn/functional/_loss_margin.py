"""Margin losses: soft margin, margin ranking, hinge and cosine embedding, triplet, and
the multi-class/multilabel margins (``F.multi_margin_loss`` …), with PyTorch's semantics.

Split from ``_loss.py`` (which re-exports every name here): these losses score a margin
between pairs or triplets of inputs or between classes, rather than a likelihood or a
distance to a target. They are composites of recorded ops (no op of their own), so
their gradients come from the ops they use.

>>> import chainrule as cr
>>> import chainrule.nn.functional as F
>>> F.margin_ranking_loss(cr.tensor([1.0, 0.0]), cr.tensor([0.0, 1.0]), cr.tensor([1.0, 1.0]))
tensor(0.5000)
"""
from __future__ import annotations

import math

from ...backends import on_its_gpu
from ...errors import DTypeError, ShapeError, op_error
from ...ops import elementwise as ew
from ...ops import activations as act
from ...ops.indexing import gather_in_range
from ...tensor import Tensor
from .. import _args
from ._loss import _broadcast_shape, _check_reduction, _legacy, _reduce

__all__ = ["soft_margin_loss", "cosine_embedding_loss", "margin_ranking_loss",
           "hinge_embedding_loss", "triplet_margin_loss", "triplet_margin_with_distance_loss",
           "multi_margin_loss", "multilabel_soft_margin_loss", "multilabel_margin_loss"]


# -------------------------------------------------------- margin and misc --
def soft_margin_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                     reduction: str = "mean") -> Tensor:
    """``log(1 + exp(-y x))``."""
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction(reduction, "soft_margin_loss")
    if _broadcast_shape(input, target, "soft_margin_loss") != tuple(input.shape):
        # PyTorch writes the loss into an input-shaped output: a target that would grow it is an error
        raise op_error(ShapeError, "soft_margin_loss", f"target of shape {tuple(target.shape)} "
                       f"does not broadcast to the input's shape {tuple(input.shape)}")
    return _reduce(act.softplus(-target.to(input.dtype) * input, 1.0, math.inf), reduction)


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                        size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """``max(0, -y (x1 - x2) + margin)``."""
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction(reduction, "margin_ranking_loss")
    if not input1.ndim == input2.ndim == target.ndim:  # as PyTorch: no silent broadcasting here
        raise op_error(ShapeError, "margin_ranking_loss", f"input1, input2 and target must have the "
                       f"same number of dims, got shapes {tuple(input1.shape)}, "
                       f"{tuple(input2.shape)} and {tuple(target.shape)}")
    return _reduce(act.relu(-target * (input1 - input2) + margin), reduction)


def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0, size_average=None,
                         reduce=None, reduction: str = "mean") -> Tensor:
    """``x`` where ``y = 1``, ``max(0, margin - x)`` where ``y = -1``."""
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction(reduction, "hinge_embedding_loss")
    loss = ew.where_fn(target == 1, input, 0.0) + ew.where_fn(target == -1, act.relu(margin - input), 0.0)
    return _reduce(loss, reduction)


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                          size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """``1 - cos(x1, x2)`` where ``y = 1``, ``max(0, cos - margin)`` where ``y = -1``."""
    from ._misc import cosine_similarity
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction(reduction, "cosine_embedding_loss")
    cos = cosine_similarity(input1, input2, dim=-1, eps=1e-8)
    loss = ew.where_fn(target == 1, 1 - cos, 0.0) + ew.where_fn(target == -1, act.relu(cos - margin), 0.0)
    return _reduce(loss, reduction)



# ------------------------------------------------------ triplet and multi-class margins --
def _triplet_dims(anchor, positive, negative, op: str) -> None:
    for name, t in (("anchor", anchor), ("positive", positive), ("negative", negative)):
        _args.tensor(t, name, op)
    if not anchor.ndim == positive.ndim == negative.ndim:
        raise op_error(ShapeError, op, f"The anchor, positive, and negative tensors are expected to "
                       f"have the same number of dimensions, but got: anchor {anchor.ndim}D, "
                       f"positive {positive.ndim}D, and negative {negative.ndim}D inputs")


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0,
                        p: float = 2, eps: float = 1e-6, swap: bool = False, size_average=None,
                        reduce=None, reduction: str = "mean") -> Tensor:
    """``max(d(a, p) - d(a, n) + margin, 0)`` with ``d`` the p-norm pairwise distance
    (``swap``: the smaller of d(a, n) and d(p, n))."""
    from ._misc import pairwise_distance
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction(reduction, "triplet_margin_loss")
    _triplet_dims(anchor, positive, negative, "triplet_margin_loss")
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = ew.minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    return _reduce(ew.clamp(margin + d_pos - d_neg, min=0), reduction)


def triplet_margin_with_distance_loss(anchor: Tensor, positive: Tensor, negative: Tensor, *,
                                      distance_function=None, margin: float = 1.0,
                                      swap: bool = False, reduction: str = "mean") -> Tensor:
    """As :func:`triplet_margin_loss` with any ``distance_function(x1, x2)`` (default: the
    pairwise 2-norm distance)."""
    from ._misc import pairwise_distance
    op = "triplet_margin_with_distance_loss"
    _check_reduction(reduction, op)
    if margin <= 0:
        raise op_error(ValueError, op, f"expected margin to be greater than 0, got {margin} instead")
    _triplet_dims(anchor, positive, negative, op)
    distance = distance_function if distance_function is not None else pairwise_distance
    d_pos = distance(anchor, positive)
    d_neg = distance(anchor, negative)
    if swap:
        d_neg = ew.minimum(d_neg, distance(positive, negative))
    return _reduce(ew.clamp(margin + d_pos - d_neg, min=0), reduction)


def _class_targets(input: Tensor, target: Tensor, op: str) -> tuple[Tensor, Tensor]:
    """(N, C) input and (N,) int64 target, from (C,)/() or (N, C)/(N,)."""
    _args.tensor(input, "input", op)
    _args.tensor(target, "target", op)
    if input.ndim not in (1, 2) or input.numel() == 0 and input.ndim == 1:
        raise op_error(ShapeError, op, f"Expected non-empty vector or matrix with optional 0-dim "
                       f"batch size, but got: {tuple(input.shape)}")
    x = input if input.ndim == 2 else input.unsqueeze(0)
    t = target.reshape(-1) if target.ndim <= 1 else target
    if t.ndim != 1 or t.shape[0] != x.shape[0]:
        raise op_error(ShapeError, op, f"inconsistent target size: {tuple(target.shape)} for input "
                       f"of size: {tuple(input.shape)}")
    if target.is_floating_point():
        raise op_error(DTypeError, op, f"expected an integer target of class indices, got "
                       f"{target.dtype.name}")
    data = on_its_gpu(t._data)
    if data.size and (data.min().item() < 0 or data.max().item() >= x.shape[1]):
        raise op_error(ShapeError, op, f"target out of range: classes must be in [0, "
                       f"{x.shape[1]})")
    return x, t.long()


def multi_margin_loss(input: Tensor, target: Tensor, p: int = 1, margin: float = 1.0,
                      weight: Tensor | None = None, size_average=None, reduce=None,
                      reduction: str = "mean") -> Tensor:
    """Multi-class hinge loss: ``sum_{j≠y} max(0, margin - x[y] + x[j])^p / C`` per sample
    (scaled by ``weight[y]``)."""
    op = "multi_margin_loss"
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction(reduction, op)
    if p not in (1, 2):
        raise op_error(ValueError, op, f"only p == 1 and p == 2 supported, got {p}")
    x, t = _class_targets(input, target, op)
    c = x.shape[1]
    if weight is not None and (weight.ndim != 1 or weight.shape[0] != c):
        raise op_error(ShapeError, op, f"inconsistent weight size, expected {c} but got "
                       f"{tuple(weight.shape)}")
    from ...creation import arange
    x_y = gather_in_range(x, 1, t.unsqueeze(1))  # (t checked by _class_targets)
    z = act.relu(margin - x_y + x)
    h = z if p == 1 else z * z
    if weight is not None:
        h = h * gather_in_range(weight, 0, t).unsqueeze(1)
    others = arange(c, device=x.device).unsqueeze(0) != t.unsqueeze(1)
    loss = ew.where_fn(others, h, 0.0).sum(1) / c
    if input.ndim == 1:
        loss = loss.squeeze(0)
    return _reduce(loss, reduction)


def multilabel_soft_margin_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """Per-class logistic loss averaged over the classes (the last dim)."""
    from ._activation import logsigmoid
    op = "multilabel_soft_margin_loss"
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction(reduction, op)
    _args.tensor(input, "input", op)
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    c = input.shape[-1] if input.ndim else 1
    loss = loss.sum(dim=input.ndim - 1 if input.ndim else None) / c
    return _reduce(loss, reduction)


def multilabel_margin_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                           reduction: str = "mean") -> Tensor:
    """Multi-label hinge loss: ``target`` lists each sample's classes, ended by -1;
    ``sum_{j target, k not} max(0, 1 - (x[j] - x[k])) / C``."""
    op = "multilabel_margin_loss"
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction(reduction, op)
    _args.tensor(input, "input", op)
    _args.tensor(target, "target", op)
    if input.ndim not in (1, 2) or tuple(target.shape) != tuple(input.shape):
        raise op_error(ShapeError, op, f"inconsistent target size: {tuple(target.shape)} for input "
                       f"of size: {tuple(input.shape)}")
    x = input if input.ndim == 2 else input.unsqueeze(0)
    labels = on_its_gpu(target._data).reshape(x.shape)
    from ...backends import backend_of
    xp = backend_of(labels)
    n, c = x.shape
    counts = xp.zeros((n, c), dtype="int64")
    rows = labels.tolist()  # (the class lists are walked on the host: one explicit copy)
    for i in range(n):  # each sample's class list, up to the first -1
        for j in rows[i]:
            if j < 0:
                break
            if j >= c:
                raise op_error(ShapeError, op, f"target class {int(j)} out of range for {c} classes")
            counts[i, j] += 1
    pairs = counts[:, :, None] * (counts == 0)[:, None, :]  # (target j, non-target k)
    weight = Tensor._make(pairs.astype(x._data.dtype))
    hinge = act.relu(1 - x.unsqueeze(2) + x.unsqueeze(1))
    loss = (hinge * weight).sum((1, 2)) / c
    if input.ndim == 1:
        loss = loss.squeeze(0)
    return _reduce(loss, reduction)
