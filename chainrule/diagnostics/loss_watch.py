"""What the monitor learns from the loss: its value, and what was fed to it.

Every loss of ``nn.functional`` (and so every loss module) reports its input and
target while a monitor is on (see ``nn.functional._loss_observers``), and every
``backward()`` reports its root; :meth:`Monitor.observe` does the same for a
hand-written loss. Per step the record gets ``loss`` (the values backward started
from) and ``loss_call`` — a few facts about the last loss call, computed with plain
array math:

``fn``, ``reduction``, ``batch``, ``input_shape``, ``target_shape``, ``classes``;
``input_probabilities`` (every class row in [0, 1] and summing to 1: a softmax
output), ``input_unit`` (all in [0, 1]: a sigmoid output), ``input_log_probabilities``
(rows whose log-sum-exp is 0), ``integer_targets`` (one value per example, integer
valued, few distinct values: class ids), ``input_layer`` (the layer whose output was
fed in).
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd import engine
from ..backends import backend_of
from ..nn.functional._loss_observers import observe_losses
from ..tensor import Tensor

CLASS_LOSSES = ("cross_entropy", "nll_loss")
REGRESSION_LOSSES = ("mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss")


def _floats(t):
    data = t._data if isinstance(t, Tensor) else None
    return data if data is not None and data.dtype.kind == "f" else None


def describe_call(fn: str, input, target, reduction: str) -> dict:
    """The facts about one loss call that the rules read (see the module docstring)."""
    facts: dict = {"fn": fn, "reduction": reduction}
    x = _floats(input)
    if isinstance(input, Tensor):
        facts["input_shape"] = tuple(input.shape)
        facts["batch"] = int(input.shape[0]) if input.ndim else 1
    if isinstance(target, Tensor):
        facts["target_shape"] = tuple(target.shape)
    if x is None or x.size == 0:
        return facts
    xp = backend_of(x)
    with np.errstate(all="ignore"):
        finite = bool((xp.isfinite(x).all()).item())
        in_unit = finite and x.min().item() >= 0.0 and x.max().item() <= 1.0
        facts["input_unit"] = in_unit
        if fn in CLASS_LOSSES and x.ndim >= 1:
            axis = 1 if x.ndim > 1 else 0
            facts["classes"] = int(x.shape[axis])
            facts["rows"] = int(x.size // max(x.shape[axis], 1))
            if in_unit:
                facts["input_probabilities"] = bool(
                    float((xp.max(xp.abs(x.sum(axis=axis) - 1.0))).item()) < 1e-3)
            if finite:
                m = x.max(axis=axis, keepdims=True)
                lse = xp.log(xp.exp(x - m).sum(axis=axis)) + m.squeeze(axis)
                facts["input_log_probabilities"] = bool(float((xp.max(xp.abs(lse))).item()) < 1e-3)
    if fn in REGRESSION_LOSSES and isinstance(target, Tensor):
        y = target._data
        per_example = y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1)
        if per_example and y.size >= 8:
            xp = backend_of(y)
            if y.dtype.kind in "iub":
                integer = True
            else:
                with np.errstate(all="ignore"):
                    integer = bool((xp.all(y == xp.round(y))).item())
            if integer:
                distinct = int(xp.unique(y).size)
                facts["integer_targets"] = 3 <= distinct <= 20
                facts["distinct_targets"] = distinct
    return facts


def _sums_over_batch(root, batch) -> bool:
    """Is ``root`` a plain ``.sum()`` over a tensor whose first dim is the batch (a
    hand-written loss summed, not averaged, over the examples)?"""
    node = root.grad_fn
    op = getattr(node, "op", None)
    if op is None or getattr(op, "name", "") != "sum" or not batch or batch < 8:
        return False
    params = node.params or {}
    shape = params.get("in_shape") or node.input_meta[0][0]
    dims = params.get("dims")
    return bool(shape) and shape[0] == batch and (dims is None or 0 in tuple(dims))


class LossWatch:
    """Listens to the losses and backward passes while its monitor is on."""

    def __init__(self, monitor) -> None:
        self.monitor = monitor
        self._handles: list = []
        self.attach()

    def attach(self) -> None:
        if not self._handles:
            self._handles = [observe_losses(self._loss_called),
                             engine.observe_backward(self._backward)]

    def _loss_called(self, fn, input, target, reduction, loss) -> None:
        record = self.monitor.current_record()
        if record is None or not isinstance(loss, Tensor) or not loss.requires_grad:
            return
        if not self.monitor.detail:  # what was fed to the loss is read at detail steps
            return
        facts = describe_call(fn, input, target, reduction)
        layer = self.monitor.producer_of(input)
        if layer is not None:
            facts["input_layer"] = layer
        record["loss_call"] = facts

    def _backward(self, tensors) -> None:
        record = self.monitor.current_record()
        if record is None:
            return
        self.monitor.backward_started()
        root = tensors if isinstance(tensors, Tensor) else None
        if root is not None and root._data.size == 1:
            value = float((root._data.reshape(())).item())
            record.setdefault("loss", []).append(value if math.isfinite(value) else math.nan)
            if _sums_over_batch(root, record.get("batch")):
                record["loss_sums_batch"] = True

    def observe(self, loss, output=None, target=None, fn: str = "custom",
                reduction: str = "unknown") -> None:
        record = self.monitor.current_record()
        if record is None:
            return
        if output is not None:
            facts = describe_call(fn, output, target, reduction)
            layer = self.monitor.producer_of(output)
            if layer is not None:
                facts["input_layer"] = layer
            record["loss_call"] = facts
        if isinstance(loss, Tensor) and loss._data.size == 1 and "loss" not in record:
            record["loss"] = [float((loss._data.reshape(())).item())]

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []
