"""``ReduceLROnPlateau``: cut the rate when a metric stops improving (as PyTorch)."""
from __future__ import annotations

import warnings
from math import inf
from typing import Any, Literal, SupportsFloat

from ...errors import op_error
from ..optimizer import Optimizer
from .base import (EPOCH_DEPRECATION_WARNING, LRScheduler, check_state_dict, group_values,
                   set_group_value)

__all__ = ["ReduceLROnPlateau"]


class ReduceLROnPlateau(LRScheduler):
    """Multiply the rate by ``factor`` once the metric passed to ``step(metric)`` has not
    improved (by more than ``threshold``, relative or absolute) for ``patience``
    epochs; then wait ``cooldown`` epochs. Rates never go below ``min_lr``, and a
    change smaller than ``eps`` is skipped.

    >>> import chainrule as cr
    >>> opt = cr.optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
    >>> s = cr.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=1, factor=0.5)
    >>> for loss in [3.0, 2.0, 2.0, 2.0]:
    ...     s.step(loss)
    >>> s.get_last_lr()
    [0.5]
    """

    def __init__(self, optimizer: Optimizer, mode: Literal["min", "max"] = "min",
                 factor: float = 0.1, patience: int = 10, threshold: float = 1e-4,
                 threshold_mode: Literal["rel", "abs"] = "rel", cooldown: int = 0,
                 min_lr: list[float] | float = 0, eps: float = 1e-8) -> None:
        if factor >= 1.0:
            raise op_error(ValueError, "ReduceLROnPlateau", "Factor should be < 1.0.")
        self.factor = factor
        if not isinstance(optimizer, Optimizer):
            raise op_error(TypeError, "ReduceLROnPlateau",
                           f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != len(optimizer.param_groups):
                raise op_error(ValueError, "ReduceLROnPlateau",
                               f"expected {len(optimizer.param_groups)} min_lrs, got {len(min_lr)}")
            self.default_min_lr = None
            self.min_lrs = list(min_lr)
        else:
            self.default_min_lr = min_lr
            self.min_lrs = [min_lr] * len(optimizer.param_groups)
        self.patience = patience
        self.cooldown = cooldown
        self.eps = eps
        self.last_epoch = 0
        self._last_lr = group_values(optimizer, "lr")
        self._init_is_better(mode=mode, threshold=threshold, threshold_mode=threshold_mode)
        self._reset()

    def _reset(self) -> None:
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    def step(self, metrics: SupportsFloat, epoch=None) -> None:  # type: ignore[override]
        """Record this epoch's metric (a number or a one-element tensor) and maybe cut the rate."""
        try:
            current = float(metrics)
        except (TypeError, ValueError):
            raise op_error(TypeError, "ReduceLROnPlateau.step", f"metrics must be a number (or a "
                           f"one-element tensor), got {type(metrics).__name__}") from None
        if epoch is None:
            epoch = self.last_epoch + 1
        else:
            warnings.warn(EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
        self.last_epoch = epoch
        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs in cooldown don't count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr(epoch)
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = group_values(self.optimizer, "lr")

    def _reduce_lr(self, epoch) -> None:
        if len(self.optimizer.param_groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise op_error(RuntimeError, "ReduceLROnPlateau",
                               f"The number of param groups in the `optimizer` "
                               f"({len(self.optimizer.param_groups)}) differs from when "
                               f"`ReduceLROnPlateau` was initialized ({len(self.min_lrs)}), "
                               "usually due to a new param group being added to the optimizer. "
                               "Please modify the `min_lrs` field to match the length of the "
                               "`optimizer` param groups.")
            self.min_lrs = [self.default_min_lr] * len(self.optimizer.param_groups)
        for i, group in enumerate(self.optimizer.param_groups):
            old_lr = float(group["lr"])
            new_lr = max(old_lr * self.factor, self.min_lrs[i])
            if old_lr - new_lr > self.eps:
                set_group_value(group, "lr", new_lr)

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def _is_better(self, a: float, best: float) -> bool:
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min" and self.threshold_mode == "abs":
            return a < best - self.threshold
        if self.mode == "max" and self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def _init_is_better(self, mode: str, threshold: float, threshold_mode: str) -> None:
        if mode not in {"min", "max"}:
            raise op_error(ValueError, "ReduceLROnPlateau",
                           f"mode {mode!r} is unknown! Expected 'min' or 'max'")
        if threshold_mode not in {"rel", "abs"}:
            raise op_error(ValueError, "ReduceLROnPlateau",
                           f"threshold mode {threshold_mode!r} is unknown! Expected 'rel' or 'abs' "
                           "for threshold_mode")
        self.mode_worse = inf if mode == "min" else -inf
        self.mode = mode
        self.threshold = threshold
        self.threshold_mode = threshold_mode

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the state and rebuild the comparison from the saved mode."""
        check_state_dict(state_dict, "ReduceLROnPlateau")
        self.__dict__.update(state_dict)
        self._init_is_better(mode=self.mode, threshold=self.threshold,
                             threshold_mode=self.threshold_mode)
