"""Checking a training checkpoint against the run it resumes, before any step.

A checkpoint can be a well-formed file and still be wrong for this run: keys
missing, weights of another shape, optimizer state that does not fit its
parameters, hyperparameters out of range, negative counters, a history of the
wrong type. :func:`check_checkpoint` finds the first such fault and raises a
:class:`CheckpointError` whose one-line message names the entry, what was expected
and what was found, so that resuming never ends in a traceback halfway through a
step, nor trains on silently wrong state.

Non-finite numbers in the weights or the optimizer state are refused too: PyTorch
would load them, but training from NaN weights only produces NaN.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..tensor import Tensor

__all__ = ["CheckpointError", "check_checkpoint"]

REQUIRED = ("model", "optimizer", "epoch", "step", "step_in_epoch", "rng")
OPTIONAL = ("history", "metrics", "scheduler")
RNG_KEYS = ("default", "loader", "epoch_default", "epoch_loader")
# group entries that are bookkeeping, not hyperparameters the optimizer is built with
_GROUP_BOOKKEEPING = ("params", "param_names", "initial_lr")


class CheckpointError(ValueError):
    """A checkpoint that does not fit the run it should resume; the message is one line."""


def _scheduler_state(scheduler) -> dict:
    """What a checkpoint keeps of a scheduler's state (shared with loop.py)."""
    state = scheduler.state_dict()
    # LambdaLR and friends keep functions, which are code: never saved
    return {k: v for k, v in state.items() if not callable(v) and k not in ("lr_lambdas",)}


def _real(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _shape(t: Tensor) -> list[int]:
    return list(t.shape)


def _finite(t: Tensor) -> bool:
    data = t.detach().numpy()
    return data.dtype.kind not in "fc" or bool(np.isfinite(data).all())


def _names(keys) -> str:
    keys = sorted(map(str, keys))
    shown = ", ".join(repr(k) for k in keys[:3])
    return shown + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")


def check_checkpoint(ckpt: Any, model, optimizer, scheduler=None,
                     steps_per_epoch: int | None = None) -> None:
    """Raise :class:`CheckpointError` unless ``ckpt`` (a ``TrainState.checkpoint()`` dict)
    can resume training ``model`` with ``optimizer`` (and ``scheduler``)."""
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"expected a dict of training state, got {type(ckpt).__name__}")
    missing = [k for k in REQUIRED if k not in ckpt]
    if missing:
        raise CheckpointError(f"not a training checkpoint: missing {', '.join(missing)}")
    extra = [k for k in ckpt if k not in REQUIRED + OPTIONAL]
    if extra:
        raise CheckpointError(f"unexpected entries {_names(extra)} in the checkpoint")
    _check_model(ckpt["model"], model)
    _check_optimizer(ckpt["optimizer"], optimizer)
    _check_counters(ckpt, steps_per_epoch)
    _check_rng(ckpt["rng"], ckpt["step_in_epoch"])
    if "history" in ckpt:
        _check_history(ckpt["history"], ckpt["epoch"])
    if "metrics" in ckpt:
        _check_metrics(ckpt["metrics"])
    if scheduler is not None:
        if "scheduler" not in ckpt:
            raise CheckpointError(f"the run has a {type(scheduler).__name__} schedule but the "
                                  "checkpoint has no scheduler state")
        _check_like(ckpt["scheduler"], _scheduler_state(scheduler), "scheduler")


def _check_model(saved: Any, model) -> None:
    if not isinstance(saved, dict):
        raise CheckpointError(f"'model' should be a state dict, got {type(saved).__name__}")
    expected = model.state_dict()
    missing = [k for k in expected if k not in saved]
    if missing:
        raise CheckpointError(f"model: missing weights {_names(missing)}")
    extra = [k for k in saved if k not in expected]
    if extra:
        raise CheckpointError(f"model: unexpected weights {_names(extra)} (another model?)")
    for key, want in expected.items():
        got = saved[key]
        if not isinstance(got, Tensor):
            raise CheckpointError(f"model: {key!r} should be a tensor, got {type(got).__name__}")
        if _shape(got) != _shape(want):
            raise CheckpointError(f"model: {key!r} has shape {_shape(got)}, expected "
                                  f"{_shape(want)}")
        if got.dtype != want.dtype:
            raise CheckpointError(f"model: {key!r} has dtype {got.dtype}, expected {want.dtype}")
        if not _finite(got):
            raise CheckpointError(f"model: {key!r} holds NaN or infinite values; training "
                                  "cannot continue from it")


def _check_optimizer(saved: Any, optimizer) -> None:
    if not isinstance(saved, dict) or set(saved) != {"state", "param_groups"}:
        found = sorted(saved) if isinstance(saved, dict) else type(saved).__name__
        raise CheckpointError(f"optimizer: expected a dict with 'state' and 'param_groups', "
                              f"found {found}")
    groups = saved["param_groups"]
    current = optimizer.state_dict()["param_groups"]
    if not isinstance(groups, list) or len(groups) != len(current):
        found = len(groups) if isinstance(groups, list) else type(groups).__name__
        raise CheckpointError(f"optimizer: expected {len(current)} parameter groups, found "
                              f"{found}")
    params: dict = {}  # saved index -> the parameter it stands for
    for i, (group, want) in enumerate(zip(groups, current)):
        where = f"optimizer group {i}"
        if not isinstance(group, dict):
            raise CheckpointError(f"{where} should be a dict, got {type(group).__name__}")
        ids = group.get("params")
        if not isinstance(ids, list) or not all(map(_int, ids)) or \
                len(ids) != len(want["params"]):
            raise CheckpointError(f"{where}: 'params' should list {len(want['params'])} "
                                  f"parameter indices, found {ids!r:.60}")
        for index, param in zip(ids, optimizer.param_groups[i]["params"]):
            if index in params:
                raise CheckpointError(f"{where}: parameter index {index} appears twice")
            params[index] = param
        names = {k for k in want if k not in _GROUP_BOOKKEEPING}
        missing = names - set(group)
        if missing:
            raise CheckpointError(f"{where}: missing hyperparameters {_names(missing)} (another "
                                  f"optimizer than {type(optimizer).__name__}?)")
        extra = set(group) - names - set(_GROUP_BOOKKEEPING)
        if extra:
            raise CheckpointError(f"{where}: unexpected hyperparameters {_names(extra)} "
                                  f"(another optimizer than {type(optimizer).__name__}?)")
        for name in sorted(names) + (["initial_lr"] if "initial_lr" in group else []):
            _check_hyperparameter(group[name], want.get(name, 0.0), f"{where}: {name}")
    _check_optimizer_state(saved["state"], params, optimizer)


def _check_hyperparameter(value: Any, like: Any, where: str) -> None:
    """A value of the same kind as the optimizer's own, and in range."""
    if isinstance(like, bool) or like is None:
        if not (value is None or isinstance(value, bool)):
            raise CheckpointError(f"{where} should be true, false or null, got {value!r:.40}")
    elif _real(like):
        if not _real(value) or not math.isfinite(value) or value < 0:
            raise CheckpointError(f"{where} should be a finite number >= 0, got {value!r:.40}")
    elif isinstance(like, (tuple, list)):
        if not isinstance(value, (tuple, list)) or len(value) != len(like) or \
                not all(_real(v) and math.isfinite(v) for v in value):
            raise CheckpointError(f"{where} should be {len(like)} finite numbers, got "
                                  f"{value!r:.60}")
        if where.endswith("betas") and not all(0 <= v < 1 for v in value):
            raise CheckpointError(f"{where} should lie in [0, 1), got {list(value)}")
    elif type(value) is not type(like):
        raise CheckpointError(f"{where} should be a {type(like).__name__}, got {value!r:.40}")


def _fresh_state_keys(optimizer, group_index: int) -> set | None:
    """The state keys this optimizer gives a parameter on its first step (None: unknown)."""
    from ..nn.parameter import Parameter
    group = optimizer.param_groups[group_index]
    try:
        p = Parameter(Tensor._make(np.zeros(1, dtype=np.float32)))
        scratch = type(optimizer)([{**{k: v for k, v in group.items()
                                       if k not in ("params", "param_names")}, "params": [p]}])
        p.grad = Tensor._make(np.zeros(1, dtype=np.float32))
        scratch.step()
        return set(scratch.state[p])
    except Exception:  # noqa: BLE001 - an optimizer we cannot build so: check shapes only
        return None


def _check_optimizer_state(state: Any, params: dict, optimizer) -> None:
    if not isinstance(state, dict):
        raise CheckpointError(f"optimizer: 'state' should be a dict, got {type(state).__name__}")
    group_of = {id(p): i for i, g in enumerate(optimizer.param_groups) for p in g["params"]}
    fresh: dict[int, set | None] = {}
    for key, entry in state.items():
        index = int(key) if isinstance(key, str) and key.isdigit() else key
        if index not in params:
            raise CheckpointError(f"optimizer: state for parameter {key!r:.20}, which no "
                                  "parameter group lists")
        param = params[index]
        where = f"optimizer state of parameter {index}"
        if not isinstance(entry, dict):
            raise CheckpointError(f"{where} should be a dict, got {type(entry).__name__}")
        g = group_of[id(param)]
        if g not in fresh:
            fresh[g] = _fresh_state_keys(optimizer, g)
        if fresh[g] is not None and entry and set(entry) != fresh[g]:
            raise CheckpointError(f"{where} has entries {_names(entry)}, expected "
                                  f"{_names(fresh[g])}")
        for name, value in entry.items():
            if name == "step":
                number = value.item() if isinstance(value, Tensor) and value.numel() == 1 \
                    else value
                if not _real(number) or not math.isfinite(number) or number < 0 or \
                        number != int(number):
                    raise CheckpointError(f"{where}: 'step' should be a whole number >= 0, got "
                                          f"{value!r:.40}")
                continue
            if not isinstance(value, Tensor):
                raise CheckpointError(f"{where}: {name!r} should be a tensor, got "
                                      f"{type(value).__name__}")
            if _shape(value) != _shape(param):
                raise CheckpointError(f"{where}: {name!r} has shape {_shape(value)}, expected "
                                      f"{_shape(param)} (the parameter's)")
            if not value.dtype.is_floating_point:
                raise CheckpointError(f"{where}: {name!r} has dtype {value.dtype}, expected a "
                                      "floating-point dtype")
            if not _finite(value):
                raise CheckpointError(f"{where}: {name!r} holds NaN or infinite values")


def _check_counters(ckpt: dict, steps_per_epoch: int | None) -> None:
    for name in ("epoch", "step", "step_in_epoch"):
        if not _int(ckpt[name]) or ckpt[name] < 0:
            raise CheckpointError(f"'{name}' should be a whole number >= 0, got "
                                  f"{ckpt[name]!r:.40}")
    if ckpt["step_in_epoch"] > ckpt["step"]:
        raise CheckpointError(f"'step_in_epoch' ({ckpt['step_in_epoch']}) exceeds 'step' "
                              f"({ckpt['step']})")
    if steps_per_epoch is not None and ckpt["step_in_epoch"] > steps_per_epoch:
        raise CheckpointError(f"'step_in_epoch' ({ckpt['step_in_epoch']}) exceeds the "
                              f"{steps_per_epoch} steps of an epoch of this data")


def _check_rng(rng: Any, step_in_epoch: int) -> None:
    from ..random import Generator
    if not isinstance(rng, dict) or "default" not in rng:
        raise CheckpointError(f"'rng' should be a dict with a 'default' generator state, got "
                              f"{rng!r:.60}")
    extra = [k for k in rng if k not in RNG_KEYS]
    if extra:
        raise CheckpointError(f"rng: unexpected entries {_names(extra)}")
    if step_in_epoch and "epoch_default" not in rng:
        raise CheckpointError("rng: a checkpoint taken inside an epoch needs 'epoch_default'")
    for name, value in rng.items():
        if not isinstance(value, Tensor):
            raise CheckpointError(f"rng: {name!r} should be a uint8 tensor, got "
                                  f"{type(value).__name__}")
        try:
            Generator().set_state(value)
        except ValueError:
            raise CheckpointError(f"rng: {name!r} is not a generator state") from None


def _check_history(history: Any, epoch: int) -> None:
    if not isinstance(history, list) or not all(isinstance(e, dict) for e in history):
        raise CheckpointError(f"'history' should be a list of dicts (one per epoch), got "
                              f"{type(history).__name__}")
    if len(history) != epoch:
        raise CheckpointError(f"'history' has {len(history)} epochs but 'epoch' says {epoch} "
                              "are done")
    for i, entry in enumerate(history):
        _check_numbers(entry, f"history[{i}]")


def _check_numbers(entry: dict, where: str) -> None:
    for key, value in entry.items():
        if not isinstance(key, str) or not (value is None or _real(value)):
            raise CheckpointError(f"{where}: {key!r:.30} should map to a number, got "
                                  f"{value!r:.40}")


def _check_metrics(metrics: Any) -> None:
    if not isinstance(metrics, dict):
        raise CheckpointError(f"'metrics' should be a dict, got {type(metrics).__name__}")
    sums = metrics.get("_sums")
    _check_numbers({k: v for k, v in metrics.items() if k != "_sums"}, "metrics")
    if sums is not None:
        kinds = {"loss": _real, "correct": _int, "count": _int,
                 "acc_ok": lambda v: isinstance(v, bool)}
        if not isinstance(sums, dict) or set(sums) != set(kinds) or \
                not all(kinds[k](v) for k, v in sums.items()):
            raise CheckpointError(f"metrics: '_sums' should hold loss, correct, count and "
                                  f"acc_ok, got {sums!r:.80}")


def _check_like(saved: Any, want: dict, where: str) -> None:
    """``saved`` has the keys of ``want`` and values of the same kinds (the scheduler)."""
    if not isinstance(saved, dict):
        raise CheckpointError(f"'{where}' should be a dict, got {type(saved).__name__}")
    if set(saved) != set(want):
        diff = set(saved) ^ set(want)
        raise CheckpointError(f"{where}: entries {_names(diff)} differ from a "
                              f"{where} of this run's kind")
    for key, like in want.items():
        value = saved[key]
        if isinstance(like, bool) or like is None:
            ok = value is None or isinstance(value, bool)
        elif _int(like):
            ok = _int(value) and value >= -1  # last_epoch starts at -1
        elif _real(like):
            ok = _real(value) and math.isfinite(value)
        elif isinstance(like, (list, tuple)):
            ok = isinstance(value, (list, tuple)) and len(value) == len(like) and \
                all(_real(v) and math.isfinite(v) if _real(w) else type(v) is type(w)
                    for v, w in zip(value, like))
        else:
            ok = type(value) is type(like)
        if not ok:
            raise CheckpointError(f"{where}: {key!r} should be like {like!r:.40}, got "
                                  f"{value!r:.40}")
