"""``fit``: the training loop, with callbacks, progress and exact resumption.

Each epoch runs the three phases of backprop per batch — forward, loss, backward —
then the optimizer step; after the epoch it evaluates on the validation data and
steps the scheduler. Callbacks see a :class:`TrainState` at every boundary.

Resuming (``resume_from=``) restores the model, optimizer, scheduler, the position
in the epoch and every random state, so the run continues exactly as if it had not
stopped: the data order of the interrupted epoch is regenerated from the random
state saved at its start and the batches already done are skipped.
"""
from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from ..compiler.api import compile as compile_step
from ..backends import host_memory
from ..autograd.grad_mode import no_grad
from ..random import default_generator
from ..tensor import Tensor
from .distributed import combine_sums, start_epoch
from .history import History
from .precision import Precision
from .validate import _scheduler_state, check_checkpoint


@dataclass
class TrainState:
    """What callbacks see: the objects being trained and where the run is."""
    model: Any
    optimizer: Any
    scheduler: Any = None
    loss_fn: Any = None
    epochs: int = 1
    epoch: int = 0                 # 0-based index of the current epoch
    step: int = 0                  # optimizer steps done in the whole run
    step_in_epoch: int = 0         # optimizer steps done in the current epoch
    batch_loss: float = math.nan
    metrics: dict = field(default_factory=dict)   # running metrics of the current epoch
    history: History = field(default_factory=History)
    stop_training: bool = False
    rng_epoch_start: dict = field(default_factory=dict)  # random states at the epoch's start
    resume_rng: Any = None         # default generator state at the step a resumed run restarts
    loader_generator: Any = None   # the training DataLoader's own generator, if it has one
    steps_per_epoch: int | None = None  # len(train_data), when it has one

    def checkpoint(self) -> dict:
        """Everything needed to continue this run exactly (a dict for ``chainrule.save``)."""
        rng = {"default": default_generator.get_state(), **self.rng_epoch_start}
        if self.loader_generator is not None:
            rng["loader"] = self.loader_generator.get_state()  # the next epoch's shuffle
        out = {"model": self.model.state_dict(),
               "optimizer": self.optimizer.state_dict(),
               "epoch": self.epoch, "step": self.step, "step_in_epoch": self.step_in_epoch,
               "rng": rng,
               "history": [dict(e) for e in self.history.epochs],
               "metrics": dict(self.metrics)}
        if self.scheduler is not None:
            out["scheduler"] = _scheduler_state(self.scheduler)
        return out


class Callback:
    """Hooks called by :func:`fit`; override the ones you need."""

    def on_train_begin(self, state: TrainState) -> None: ...
    def on_epoch_begin(self, state: TrainState) -> None: ...
    def on_batch_end(self, state: TrainState) -> None: ...
    def on_epoch_end(self, state: TrainState) -> None: ...
    def on_train_end(self, state: TrainState) -> None: ...


def _to_device(batch, device):
    if device is None:
        return batch
    if isinstance(batch, Tensor):
        return batch.to(device)
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: _to_device(v, device) for k, v in batch.items()}
    return batch


def _split_batch(batch):
    if isinstance(batch, dict):
        return batch["input"], batch["target"]
    if isinstance(batch, (list, tuple)) and len(batch) == 2:
        return batch[0], batch[1]
    raise ValueError("fit: each batch must be (inputs, targets) or a dict with 'input' and "
                     f"'target', got {type(batch).__name__}")


def _correct(output: Tensor, target: Tensor) -> int | None:
    """Number of correct class predictions, or None when accuracy does not apply."""
    if not isinstance(output, Tensor) or output.ndim != 2 or not isinstance(target, Tensor):
        return None
    if target.dtype.is_floating_point or target.ndim != 1:
        return None
    return int((output._data.argmax(axis=1) == target._data).sum().item())


def evaluate(model, loss_fn, data: Iterable, device=None, precision: str = "fp32") -> dict:
    """Mean loss (and accuracy for classifiers) of ``model`` over ``data``, in eval mode
    (the forward in ``precision``, as in training)."""
    mixed = Precision(precision)
    was_training = model.training
    model.eval()
    total_loss, total_correct, count, acc_ok = 0.0, 0, 0, True
    try:
        with no_grad():
            for batch in data:
                x, y = _split_batch(_to_device(batch, device))
                with mixed.autocast():
                    out = model(x)
                    loss = loss_fn(out, y)
                n = len(y)
                total_loss += float(loss.item()) * n
                c = _correct(out, y)
                if c is None:
                    acc_ok = False
                else:
                    total_correct += c
                count += n
    finally:
        model.train(was_training)
    result = {"loss": total_loss / max(count, 1)}
    if acc_ok and count:
        result["accuracy"] = total_correct / count
    return result


def _lr(optimizer) -> float:
    return float(optimizer.param_groups[0]["lr"])


def _is_per_step(scheduler) -> bool:
    name = type(scheduler).__name__
    return name == "OneCycleLR"


class _Progress:
    """tqdm bars on a terminal; one line per epoch otherwise."""

    def __init__(self, enabled: bool | None, stream=None) -> None:
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.enabled = enabled  # None: bars on a terminal, else one line per epoch
        self.bar = None

    def start(self, epoch: int, epochs: int, total: int | None, initial: int) -> None:
        if self.enabled is not False and self.tty:
            from tqdm.auto import tqdm
            self.bar = tqdm(total=total, initial=initial, desc=f"epoch {epoch + 1}/{epochs}",
                            unit="step", leave=True, file=self.stream, dynamic_ncols=True)

    def update(self, loss: float) -> None:
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{loss:.4f}", refresh=False)

    def end(self, metrics: dict, line_stream) -> None:
        if self.bar is not None:
            self.bar.set_postfix({k: _fmt(v) for k, v in metrics.items() if k != "epoch"})
            self.bar.close()
            self.bar = None
        elif self.enabled is not False and line_stream is not None:
            print(" ".join(f"{k}={_fmt(v)}" for k, v in metrics.items()), file=line_stream,
                  flush=True)


def _fmt(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def fit(model, loss_fn: Callable, optimizer, train_data: Iterable, val_data: Iterable | None = None,
        epochs: int = 1, scheduler=None, callbacks: list[Callback] | None = None, device=None,
        progress: bool | None = None, resume_from: str | dict | None = None,
        log_stream=None, precision: str = "fp32", compile: bool = False) -> History:  # noqa: A002
    """Train ``model`` and return its :class:`History` (one dict of metrics per epoch).

    ``train_data``/``val_data`` yield ``(inputs, targets)`` batches (e.g. a DataLoader).
    Progress bars show on a terminal; otherwise one line per epoch is printed to
    ``log_stream`` (stderr by default; pass ``progress=False`` for silence).
    ``precision``: 'fp32', 'bf16' or 'fp16' (see :mod:`chainrule.train.precision`).
    ``compile=True`` runs each training step through :func:`chainrule.compile` (captured
    on its first two batches, replayed after; a last smaller batch is a signature of its own).

    >>> import chainrule as cr
    >>> from chainrule.utils.data import DataLoader, TensorDataset
    >>> _ = cr.manual_seed(0)
    >>> x = cr.randn(64, 2); y = (x[:, 0] > 0).long()
    >>> model = cr.nn.Linear(2, 2)
    >>> h = fit(model, cr.nn.CrossEntropyLoss(), cr.optim.SGD(model.parameters(), lr=0.5),
    ...         DataLoader(TensorDataset(x, y), batch_size=16), epochs=5, progress=False)
    >>> h.last["accuracy"] > 0.9
    True
    """
    host_memory.tune()  # a training loop reuses its freed arrays every step (see there)
    callbacks = list(callbacks or [])
    mixed = Precision(precision)
    state = TrainState(model=model, optimizer=optimizer, scheduler=scheduler, loss_fn=loss_fn,
                       epochs=epochs)
    loader_gen = getattr(train_data, "generator", None)
    state.loader_generator = loader_gen
    state.steps_per_epoch = len(train_data) if hasattr(train_data, "__len__") else None
    skip = 0
    if resume_from is not None:
        skip = _restore(state, resume_from)
    if device is not None:
        model.to(device)
    train_step = _train_step(model, loss_fn, optimizer, scheduler, mixed)
    if compile:
        train_step = compile_step(train_step)
    bar = _Progress(progress)
    line_stream = log_stream if log_stream is not None else (None if progress is False else sys.stderr)
    for cb in callbacks:
        cb.on_train_begin(state)
    resumed_mid_epoch = skip > 0
    while state.epoch < epochs and not state.stop_training:
        if resumed_mid_epoch:
            default_generator.set_state(state.rng_epoch_start["epoch_default"])
            if loader_gen is not None and "epoch_loader" in state.rng_epoch_start:
                loader_gen.set_state(state.rng_epoch_start["epoch_loader"])
            resume_default = state.resume_rng
        else:
            state.rng_epoch_start = {"epoch_default": default_generator.get_state()}
            if loader_gen is not None:
                state.rng_epoch_start["epoch_loader"] = loader_gen.get_state()
            state.step_in_epoch = 0
            state.metrics = {}
            resume_default = None
        start_epoch(train_data, state.epoch)  # a DistributedSampler's shuffle for this epoch
        for cb in callbacks:
            cb.on_epoch_begin(state)
        model.train()
        t0 = time.perf_counter()
        sums = state.metrics.pop("_sums", None) or {"loss": 0.0, "correct": 0, "count": 0,
                                                    "acc_ok": True}
        iterator = iter(train_data)
        for _ in range(state.step_in_epoch if resumed_mid_epoch else 0):
            next(iterator)  # replay the data order up to where the run stopped
        if resume_default is not None:
            default_generator.set_state(resume_default)
        resumed_mid_epoch = False
        total = len(train_data) if hasattr(train_data, "__len__") else None
        bar.start(state.epoch, epochs, total, state.step_in_epoch)
        for batch in iterator:
            x, y = _split_batch(_to_device(batch, device))
            loss, out = train_step(x, y)
            state.step += 1
            state.step_in_epoch += 1
            state.batch_loss = float(loss.item())
            n = len(y)
            sums["loss"] += state.batch_loss * n
            sums["count"] += n
            c = _correct(out, y)
            if c is None:
                sums["acc_ok"] = False
            else:
                sums["correct"] += c
            state.metrics = _running(sums)
            state.metrics["_sums"] = sums
            bar.update(state.batch_loss)
            for cb in callbacks:
                cb.on_batch_end(state)
            state.metrics.pop("_sums", None)
            if state.stop_training:
                break
        metrics = {"epoch": state.epoch + 1, **_running(combine_sums(sums, train_data)),
                   "lr": _lr(optimizer),
                   "time": time.perf_counter() - t0}
        if val_data is not None:
            val = evaluate(model, loss_fn, val_data, device, precision)
            metrics.update({f"val_{k}": v for k, v in val.items()})
        if scheduler is not None and not _is_per_step(scheduler):
            if type(scheduler).__name__ == "ReduceLROnPlateau":
                scheduler.step(metrics.get("val_loss", metrics["loss"]))
            else:
                scheduler.step()
        state.metrics = metrics
        state.history.append(metrics)
        state.epoch += 1
        state.step_in_epoch = 0
        state.rng_epoch_start = {}
        bar.end(metrics, line_stream)
        for cb in callbacks:
            cb.on_epoch_end(state)
    for cb in callbacks:
        cb.on_train_end(state)
    return state.history


def _train_step(model, loss_fn, optimizer, scheduler, mixed: Precision) -> Callable:
    """One optimisation step on a batch: ``(loss, output)``. A function of its own, so that
    ``fit(compile=True)`` can capture it whole (forward, backward, optimizer step)."""
    per_step = scheduler is not None and _is_per_step(scheduler)

    def train_step(x, y):
        optimizer.zero_grad()
        with mixed.autocast():
            out = model(x)
            loss = loss_fn(out, y)
        mixed.backward_and_step(loss, optimizer)
        if per_step:
            scheduler.step()
        return loss, out
    return train_step


def _running(sums: dict) -> dict:
    out = {"loss": sums["loss"] / max(sums["count"], 1)}
    if sums["acc_ok"] and sums["count"]:
        out["accuracy"] = sums["correct"] / sums["count"]
    return out


def _restore(state: TrainState, source) -> int:
    """Load a checkpoint into ``state``; returns the number of batches to skip."""
    from ..serialization import load
    ckpt = load(source) if isinstance(source, str) or hasattr(source, "__fspath__") else source
    # every fault is found before anything changes, not as a traceback inside a step
    check_checkpoint(ckpt, state.model, state.optimizer, state.scheduler, state.steps_per_epoch)
    state.model.load_state_dict(ckpt["model"])
    state.optimizer.load_state_dict(ckpt["optimizer"])
    if state.scheduler is not None and "scheduler" in ckpt:
        state.scheduler.load_state_dict(ckpt["scheduler"])
    state.epoch = int(ckpt["epoch"])
    state.step = int(ckpt["step"])
    state.step_in_epoch = int(ckpt["step_in_epoch"])
    state.history = History(ckpt.get("history", []))
    rng = dict(ckpt["rng"])
    resume_default = rng.pop("default")
    loader_state = rng.pop("loader", None)
    state.rng_epoch_start = rng if state.step_in_epoch else {}
    state.resume_rng = resume_default
    if not state.step_in_epoch:  # at an epoch boundary: continue every generator where it was
        default_generator.set_state(resume_default)
        if loader_state is not None and state.loader_generator is not None:
            state.loader_generator.set_state(loader_state)
    metrics = dict(ckpt.get("metrics", {}))
    sums = metrics.get("_sums")
    if sums is None and state.step_in_epoch:
        sums = {"loss": 0.0, "correct": 0, "count": 0, "acc_ok": True}
    if sums is not None:
        state.metrics = {"_sums": dict(sums)}
    return state.step_in_epoch
