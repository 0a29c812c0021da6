"""Callbacks for :func:`chainrule.train.fit`: checkpoints, early stopping, CSV and
TensorBoard logging."""
from __future__ import annotations

import csv
import math
import os

from .loop import Callback, TrainState


class ModelCheckpoint(Callback):
    """Save the run so it can be resumed exactly: ``last.safetensors`` (every epoch, and every
    ``every_n_steps`` steps when given) and ``best.safetensors`` (when ``monitor`` improves).

    Writes are atomic (``chainrule.save``): an interrupted save leaves the previous file.
    """

    def __init__(self, directory: str, monitor: str = "val_loss", mode: str = "min",
                 every_n_steps: int | None = None, save_best: bool = True) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"ModelCheckpoint: mode must be 'min' or 'max', got {mode!r}")
        if every_n_steps is not None and every_n_steps < 1:
            raise ValueError(f"ModelCheckpoint: every_n_steps must be a positive int or None, "
                             f"got {every_n_steps!r}")
        self.directory = directory
        self.monitor = monitor
        self.mode = mode
        self.every_n_steps = every_n_steps
        self.save_best = save_best
        self.best = math.inf if mode == "min" else -math.inf
        os.makedirs(directory, exist_ok=True)

    @property
    def last_path(self) -> str:
        return os.path.join(self.directory, "last.safetensors")

    @property
    def best_path(self) -> str:
        return os.path.join(self.directory, "best.safetensors")

    def _save(self, state: TrainState, path: str) -> None:
        from ..serialization import save
        save(state.checkpoint(), path)

    def _value(self, metrics: dict):
        value = metrics.get(self.monitor)
        if value is None and self.monitor.startswith("val_"):
            value = metrics.get(self.monitor[4:])  # no validation data: the training metric
        return value

    def _better(self, value) -> bool:
        return value < self.best if self.mode == "min" else value > self.best

    def on_train_begin(self, state: TrainState) -> None:
        # a resumed run keeps its best so far: a worse epoch must not replace best.safetensors
        for metrics in state.history.epochs:
            value = self._value(metrics)
            if value is not None and math.isfinite(value) and self._better(value):
                self.best = value

    def on_batch_end(self, state: TrainState) -> None:
        if self.every_n_steps and state.step % self.every_n_steps == 0:
            self._save(state, self.last_path)

    def on_epoch_end(self, state: TrainState) -> None:
        self._save(state, self.last_path)
        value = self._value(state.history.last)
        if self.save_best and value is not None and math.isfinite(value):
            if self._better(value):
                self.best = value
                self._save(state, self.best_path)


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs."""

    def __init__(self, monitor: str = "val_loss", patience: int = 5, min_delta: float = 0.0,
                 mode: str = "min") -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'min' or 'max', got {mode!r}")
        self.monitor, self.patience, self.min_delta, self.mode = monitor, patience, min_delta, mode
        self.best = math.inf if mode == "min" else -math.inf
        self.wait = 0
        self.stopped_epoch: int | None = None

    def on_train_begin(self, state: TrainState) -> None:
        # a resumed run continues counting where it stopped
        for metrics in state.history.epochs:
            value = metrics.get(self.monitor)
            if value is not None:
                self._update(value, state)

    def on_epoch_end(self, state: TrainState) -> None:
        value = state.history.last.get(self.monitor)
        if value is None:
            raise KeyError(f"EarlyStopping: metric {self.monitor!r} not found; available: "
                           f"{sorted(state.history.last)}")
        self._update(value, state)

    def _update(self, value: float, state: TrainState) -> None:
        improved = (value < self.best - self.min_delta) if self.mode == "min" else \
            (value > self.best + self.min_delta)
        if improved:
            self.best, self.wait = value, 0
        else:
            self.wait += 1
            if self.wait >= self.patience:
                state.stop_training = True
                self.stopped_epoch = state.epoch


class CSVLogger(Callback):
    """Append one row per epoch to a CSV file (header from the first epoch's keys)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fields: list[str] | None = None

    def on_train_begin(self, state: TrainState) -> None:
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        if state.history.epochs:  # resumed: rewrite what came before
            self._fields = list(state.history.epochs[0].keys())
            with open(self.path, "w", newline="") as f:
                w = csv.DictWriter(f, fieldnames=self._fields, extrasaction="ignore")
                w.writeheader()
                w.writerows(state.history.epochs)

    def on_epoch_end(self, state: TrainState) -> None:
        row = state.history.last
        new = self._fields is None
        if new:
            self._fields = list(row.keys())
        with open(self.path, "w" if new else "a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=self._fields, extrasaction="ignore")
            if new:
                w.writeheader()
            w.writerow(row)


class TensorBoardLogger(Callback):
    """Write per-step loss and per-epoch metrics with tensorboardX (optional dependency)."""

    def __init__(self, logdir: str) -> None:
        try:
            from tensorboardX import SummaryWriter
        except ImportError as e:
            raise ImportError("TensorBoardLogger needs tensorboardX: pip install tensorboardX") from e
        self.writer = SummaryWriter(logdir)

    def on_batch_end(self, state: TrainState) -> None:
        self.writer.add_scalar("train/batch_loss", state.batch_loss, state.step)

    def on_epoch_end(self, state: TrainState) -> None:
        for k, v in state.history.last.items():
            if isinstance(v, (int, float)) and k != "epoch":
                self.writer.add_scalar(f"epoch/{k}", v, state.epoch)

    def on_train_end(self, state: TrainState) -> None:
        self.writer.close()


class LambdaCallback(Callback):
    """A callback from plain functions: ``LambdaCallback(on_epoch_end=lambda s: ...)``."""

    def __init__(self, **hooks) -> None:
        for name, fn in hooks.items():
            if not name.startswith("on_"):
                raise ValueError(f"LambdaCallback: unknown hook {name!r}")
            setattr(self, name, fn)


class SampledWatch(Callback):
    """Let a diagnostics monitor watch some steps only: the first ``first`` and then one in
    ``every``. Between them its hooks are off, so a compiled step
    (``fit(compile=True)``) replays; the watched steps run eagerly, hooks and all.

    >>> import chainrule as cr
    >>> model = cr.nn.Linear(2, 2)
    >>> opt = cr.optim.SGD(model.parameters(), lr=0.1)
    >>> monitor = cr.diagnostics.watch(model, opt)
    >>> sampler = SampledWatch(monitor, every=4, first=2)
    >>> sampler.watches(1), sampler.watches(3), sampler.watches(8)
    (True, False, True)
    """

    def __init__(self, monitor, every: int = 25, first: int = 10) -> None:
        self.monitor, self.every, self.first = monitor, every, first

    def watches(self, step: int) -> bool:
        return step < self.first or step % self.every == 0

    def on_batch_end(self, state: TrainState) -> None:
        if self.watches(state.step):  # (state.step: steps done, the next one's number)
            self.monitor.resume(step=state.step)
        else:
            self.monitor.pause()

    def on_train_end(self, state: TrainState) -> None:
        self.monitor.resume(step=state.step)
