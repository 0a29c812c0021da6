"""Checks that depend on what a layer is: batch statistics, symmetric starts, padding
rows and gradients through time.

Each check writes a few numbers into the layer's record for the step:

- BatchNorm in training mode: ``values_per_channel`` (how many numbers each channel's
  mean and variance were estimated from);
- Linear / convolution weights: ``identical_rows`` while every output unit's weights
  are equal (a zero or constant start; checked until the rows first differ);
- Embedding: ``padding_row_change`` (with ``padding_idx``: how far that row moved since
  the first step) or, without one, ``pad_token`` / ``pad_fraction`` when one id fills
  the ends of most sequences (padding the layer is not told about);
- recurrent layers (RNN/LSTM/GRU): ``time_ratio``, the gradient reaching the first
  time step of the input divided by the one reaching the last.
"""
from __future__ import annotations

import math

import numpy as np

from ..backends import backend_of
from ..tensor import Tensor

NORM_KINDS = ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm", "BatchNorm")
MATRIX_KINDS = ("Linear", "Conv1d", "Conv2d", "Conv3d", "Bilinear")
RECURRENT_KINDS = ("RNN", "LSTM", "GRU")
# layers whose forward differs between train() and eval()
MODE_KINDS = ("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout",
              "FeatureAlphaDropout") + NORM_KINDS + ("InstanceNorm1d", "InstanceNorm2d",
                                                     "InstanceNorm3d")


def family(module, kinds) -> bool:
    """Is ``module`` one of ``kinds`` (by class name, or a base class's)?"""
    return any(cls.__name__ in kinds for cls in type(module).__mro__)


class StructureWatch:
    """Per-layer checks run from the monitor's forward hooks."""

    def __init__(self, monitor) -> None:
        self.monitor = monitor
        self.symmetric: set[str] = {name for name, m in monitor.modules.items()
                                    if family(m, MATRIX_KINDS)}
        self.padding_start: dict[str, object] = {}

    # -- forward pre-hook of recurrent layers: see the gradient per time step --------
    def before_recurrent(self, name: str, module, args):
        if not args or not isinstance(args[0], Tensor) or args[0]._data.dtype.kind != "f":
            return None
        x = args[0]
        if x.ndim < 2 or x.shape[-2 if x.ndim == 2 else (1 if module.batch_first else 0)] < 4:
            return None
        if not x.requires_grad:
            # raw data: an alias that requires grad lets us see the gradient reaching each
            # time step; nothing upstream records a graph, so nothing else changes
            x = x.detach().requires_grad_(True)
            args = (x,) + tuple(args[1:])
        elif x.grad_fn is None:
            return None  # a leaf the user trains: leave its hooks alone
        time_axis = 0 if x.ndim == 2 else (1 if module.batch_first else 0)
        monitor = self.monitor

        def hook(g) -> None:
            layer = monitor.layer_record(name)
            if layer is None:
                return
            data = g._data
            xp = backend_of(data)
            moved = xp.moveaxis(data, time_axis, 0).reshape(data.shape[time_axis], -1)
            with np.errstate(all="ignore"):
                per_step = xp.sqrt((moved * moved).sum(axis=1))
            first, last = float(per_step[0]), float(per_step[-1])
            if last > 0 and math.isfinite(first) and math.isfinite(last):
                layer["time_ratio"] = first / last
                layer["time_steps"] = int(data.shape[time_axis])
        x.register_hook(hook)
        return args

    # -- forward hook ---------------------------------------------------------------
    def after_forward(self, name: str, module, args, layer: dict) -> None:
        if family(module, NORM_KINDS) and module.training and args and \
                isinstance(args[0], Tensor) and args[0].ndim >= 2:
            x = args[0]
            layer["values_per_channel"] = int(x._data.size // max(int(x.shape[1]), 1))
        if name in self.symmetric:
            self._check_rows(name, module, layer)
        if type(module).__name__ == "Embedding" and args and isinstance(args[0], Tensor):
            self._check_padding(name, module, args[0], layer)

    def _check_rows(self, name: str, module, layer: dict) -> None:
        w = getattr(module, "weight", None)
        if not isinstance(w, Tensor) or w.ndim < 2 or w.shape[0] < 2 or not w.requires_grad:
            self.symmetric.discard(name)
            return
        rows = w._data.reshape(w.shape[0], -1)
        xp = backend_of(rows)
        with np.errstate(all="ignore"):
            spread = float((xp.max(xp.abs(rows - rows[:1]))).item())
            scale = float((xp.max(xp.abs(rows))).item())
        if spread <= 1e-6 * scale or scale == 0.0:
            layer["identical_rows"] = True
        else:
            self.symmetric.discard(name)  # rows that differ never become equal again

    def _check_padding(self, name: str, module, ids: Tensor, layer: dict) -> None:
        pad = getattr(module, "padding_idx", None)
        w = module.weight._data
        if pad is not None:
            row = w[pad].copy()
            start = self.padding_start.setdefault(name, row)
            with np.errstate(all="ignore"):
                layer["padding_row_change"] = float(((row - start) ** 2).sum().item() ** 0.5)
            return
        data = ids._data
        if data.ndim != 2 or data.shape[1] < 4 or data.size == 0:
            return
        xp = backend_of(data)
        values, counts = xp.unique(data, return_counts=True)
        token = values[int((xp.argmax(counts)).item())]
        fraction = counts.max().item() / data.size
        is_tok = data == token
        # padding fills each sequence's end (or start): a run reaching the last position
        with_tok = is_tok.any(axis=1)
        if not with_tok.any().item():
            return
        first = xp.where(with_tok, xp.argmax(is_tok, axis=1), data.shape[1])
        tail_run = xp.all(is_tok | (xp.arange(data.shape[1])[None, :] < first[:, None]), axis=1)
        ends = (tail_run & with_tok).sum().item() / with_tok.sum().item()
        if ends >= 0.8 and fraction >= 0.15:
            layer["pad_token"] = int(token)
            layer["pad_fraction"] = fraction
