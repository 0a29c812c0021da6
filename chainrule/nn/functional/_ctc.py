"""``ctc_loss``: the connectionist temporal classification loss (PyTorch's signature).

Arguments are checked and laid out here (targets padded with the blank to one (N, S)
array, lengths as integer arrays); the forward-backward recursion is the op in
``chainrule/ops/ctc.py``. 'mean' divides each sample's loss by its target length
(at least 1) before averaging over the batch, as PyTorch.

>>> import chainrule as cr
>>> import chainrule.nn.functional as F
>>> lp = cr.full((3, 1, 2), 0.5).log()  # two classes, equally likely, 3 steps
>>> F.ctc_loss(lp, cr.tensor([[1]]), [3], [1], reduction="sum")  # 6 of the 8 paths: -log(6/8)
tensor(0.2877)
"""
from __future__ import annotations

from ...backends import backend_of
from ...errors import DTypeError, ShapeError, op_error
from ...ops.ctc import ctc_loss_op
from ...tensor import Tensor
from .. import _args

__all__ = ["ctc_loss"]

_OP = "ctc_loss"


def _lengths(xp, value, name: str, batch: int):
    if isinstance(value, Tensor):
        if value._data.dtype.kind not in "iu":
            raise op_error(DTypeError, _OP, f"{name} must be integral, got {value.dtype.name}")
        arr = value._data.reshape(-1).astype(xp.int64)
    elif not isinstance(value, (tuple, list)):
        raise op_error(DTypeError, _OP, f"{name} must be a tensor or a tuple of ints, got "
                       f"{type(value).__name__}")
    else:
        if not all(_args.is_int(v) for v in value):
            raise op_error(DTypeError, _OP, f"{name} must be a tensor or a sequence of ints, got "
                           f"{value!r}")
        arr = xp.asarray(list(value), dtype=xp.int64)
    if arr.shape[0] != batch:
        raise op_error(ShapeError, _OP, f"Expected {name} to have {batch} entries (the batch "
                       f"size), but got {arr.shape[0]}")
    if arr.size and arr.min().item() < 0:
        raise op_error(ValueError, _OP, f"{name} must be non-negative, got {arr.tolist()}")
    return arr


def _padded_targets(xp, targets: Tensor, target_lengths, blank: int, batch: int):
    """(N, max(S, 1)) targets, the blank past each target's end."""
    data = targets._data.astype(xp.int64)
    longest = max(target_lengths.max().item() if target_lengths.size else 0, 1)
    out = xp.full((batch, longest), blank, dtype=xp.int64)
    if data.ndim == 2:
        if data.shape[0] != batch:
            raise op_error(ShapeError, _OP, f"targets of shape {tuple(targets.shape)} must have "
                           f"{batch} rows (the batch size)")
        if batch and data.shape[1] < target_lengths.max().item():
            raise op_error(ShapeError, _OP, f"Expected tensor to have size at least "
                           f"{target_lengths.max().item()} at dimension 1, but got size "
                           f"{data.shape[1]} for targets of shape {tuple(targets.shape)}")
        for n, length in enumerate(target_lengths.tolist()):
            out[n, :length] = data[n, :length]
        return out
    if target_lengths.sum().item() > data.shape[0]:
        raise op_error(ShapeError, _OP, f"the target lengths sum to {target_lengths.sum().item()}, "
                       f"more than the {data.shape[0]} concatenated targets")
    start = 0
    for n, length in enumerate(target_lengths.tolist()):
        out[n, :length] = data[start:start + length]
        start += length
    return out


def ctc_loss(log_probs: Tensor, targets: Tensor, input_lengths, target_lengths, blank: int = 0,
             reduction: str = "mean", zero_infinity: bool = False) -> Tensor:
    """CTC loss of ``log_probs`` (T, N, C) (or unbatched (T, C)), log-softmax outputs, for
    ``targets`` (N, S) padded or 1-D concatenated, with each sample's input and target
    lengths. ``reduction`` 'mean' (per target length, then over the batch), 'sum' or 'none'."""
    _args.tensor(log_probs, "log_probs", _OP)
    _args.tensor(targets, "targets", _OP)
    if not log_probs.is_floating_point():
        raise op_error(DTypeError, _OP, f"log_probs must be floating point, got "
                       f"{log_probs.dtype.name}")
    if targets._data.dtype.kind not in "iu":
        raise op_error(DTypeError, _OP, f"targets must be integral, got {targets.dtype.name}")
    if reduction not in ("mean", "sum", "none"):
        raise op_error(ValueError, _OP, f"{reduction} is not a valid value for reduction")
    if log_probs.ndim not in (2, 3):
        raise op_error(ShapeError, _OP, f"log_probs must be (T, N, C) or (T, C), got shape "
                       f"{tuple(log_probs.shape)}")
    unbatched = log_probs.ndim == 2
    lp = log_probs.unsqueeze(1) if unbatched else log_probs
    t_max, batch, classes = lp.shape
    if not 0 <= blank < classes:
        raise op_error(ValueError, _OP, f"blank must be in label range [0, {classes}), got {blank}")
    xp = backend_of(lp._data)
    in_len = _lengths(xp, input_lengths, "input_lengths", batch)
    tgt_len = _lengths(xp, target_lengths, "target_lengths", batch)
    if in_len.size and in_len.max().item() > t_max:
        raise op_error(ShapeError, _OP, f"Expected input_lengths to have value at most {t_max}, "
                       f"but got value {in_len.max().item()}")
    if unbatched and targets.ndim == 1:
        padded = _padded_targets(xp, targets.unsqueeze(0), tgt_len, blank, 1)
    else:
        padded = _padded_targets(xp, targets, tgt_len, blank, batch)
    if padded.size and (padded.min().item() < 0 or padded.max().item() >= classes):
        raise op_error(ValueError, _OP, f"target labels must be in [0, {classes}), got values from "
                       f"{padded.min().item()} to {padded.max().item()}")
    nll = ctc_loss_op(lp, targets=padded, input_lengths=in_len, target_lengths=tgt_len,
                      blank=int(blank), zero_infinity=bool(zero_infinity))
    if reduction == "none":
        return nll.squeeze(0) if unbatched else nll
    if reduction == "sum":
        return nll.sum()
    divisor = Tensor._make(xp.maximum(tgt_len, 1).astype(lp._data.dtype))
    return (nll / divisor).mean()
