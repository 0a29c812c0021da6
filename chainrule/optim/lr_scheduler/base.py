"""``LRScheduler``: the base of the learning-rate schedulers, as ``torch.optim.lr_scheduler``.

A scheduler sets ``group["lr"]`` of its optimizer's param groups. Creating one
records each group's ``initial_lr`` and takes the first step (epoch 0); each
``step()`` then advances ``last_epoch`` and asks :meth:`get_lr` for the new rates.
Most schedulers are *chainable*: ``get_lr`` scales the group's current rate, so two
schedulers on one optimizer compose, exactly as in PyTorch.
"""
from __future__ import annotations

import numbers
import warnings
from collections.abc import Mapping
from typing import Any

from ..._host_calls import host_call
from ...tensor import Tensor
from ...errors import op_error
from ..optimizer import Optimizer, _scalar

__all__ = ["LRScheduler"]

EPOCH_DEPRECATION_WARNING = (
    "The epoch parameter in `scheduler.step()` was not necessary and is being deprecated where "
    "possible. Please use `scheduler.step()` to step the scheduler. During the deprecation, if "
    "epoch is different from None, the closed form is used instead of the new chainable form, "
    "where available.")


def check_number(value, arg: str, op: str):
    """``value`` when it is a real number (a tensor of one element too), else a TypeError."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, Tensor)):
        raise op_error(TypeError, op,
                       f"{arg} must be a number, got {type(value).__name__} {value!r}")
    return value


def check_state_dict(state_dict, op: str) -> None:
    """Refuse a scheduler state that is not a mapping (a list, None …)."""
    if not isinstance(state_dict, Mapping):
        raise op_error(TypeError, f"{op}.load_state_dict", f"expected a dict from state_dict(), "
                       f"got {type(state_dict).__name__}")


def format_param(name: str, optimizer: Optimizer, param) -> list:
    """One value per param group: a list of them is checked, a single value repeated."""
    if isinstance(param, (list, tuple)):
        if len(param) != len(optimizer.param_groups):
            raise op_error(ValueError, name,
                           f"{name} must have the same length as optimizer.param_groups. {name} "
                           f"has {len(param)} values, param_groups has "
                           f"{len(optimizer.param_groups)}.")
    else:
        param = [param] * len(optimizer.param_groups)
    return [p.clone() if isinstance(p, Tensor) else p for p in param]


def group_values(optimizer: Optimizer, key: str) -> list:
    """``group[key]`` of every group (tensor values copied, so nothing aliases)."""
    return [g[key].clone() if isinstance(g[key], Tensor) else g[key] for g in optimizer.param_groups]


def set_group_value(group: dict, key: str, value) -> None:
    """Set ``group[key]``; a tensor hyperparameter is filled in place rather than replaced."""
    if isinstance(group[key], Tensor):
        group[key].fill_(_scalar(value))
    else:
        group[key] = value


class LRScheduler:
    """Base class: subclasses write :meth:`get_lr` (and ``_get_closed_form_lr`` if they have one).

    ``last_epoch=-1`` starts a fresh schedule; a non-negative value resumes one, and
    needs ``initial_lr`` in every param group (as a loaded optimizer state has).

    >>> import chainrule as cr
    >>> opt = cr.optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
    >>> sched = cr.optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)
    >>> opt.step(); sched.step()
    >>> sched.get_last_lr(), sched.last_epoch
    ([0.5], 1)
    """

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "_host_call", False):
            cls.step = host_call(step)  # (a compiled step replays it as itself)


    _get_lr_called_within_step: bool = False
    _is_initial: bool = False

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise op_error(TypeError, type(self).__name__,
                           f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                lr = group["lr"]
                group.setdefault("initial_lr", lr.clone() if isinstance(lr, Tensor) else lr)
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise op_error(KeyError, type(self).__name__,
                                   f"param 'initial_lr' is not specified in param_groups[{i}] "
                                   "when resuming a scheduler with last_epoch >= 0: load the "
                                   "optimizer's state first, or leave last_epoch at -1 for a "
                                   "fresh run")
        self.base_lrs: list = group_values(optimizer, "initial_lr")
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        """Reset the step count and take the step that sets the epoch-0 rates."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    # -- state -----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Every attribute except the optimizer (numbers, strings, lists: JSON-safe)."""
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore attributes saved by :meth:`state_dict`."""
        check_state_dict(state_dict, type(self).__name__)
        self.__dict__.update(state_dict)

    def get_last_lr(self) -> list:
        """The learning rates set by the latest step, one per param group."""
        return self._last_lr

    def get_lr(self) -> list:
        """The next learning rates (called by :meth:`step`; use :meth:`get_last_lr` to read)."""
        raise NotImplementedError

    # -- stepping ------------------------------------------------------------------------
    @host_call
    def step(self, epoch: int | None = None) -> None:
        """Advance one epoch (call it after ``optimizer.step()``) and set the new rates."""
        if self._step_count == 1 and not getattr(self.optimizer, "_opt_called", False):
            warnings.warn("Detected call of `lr_scheduler.step()` before `optimizer.step()`. "
                          "Call them in the opposite order: `optimizer.step()` before "
                          "`lr_scheduler.step()`; otherwise the first value of the learning rate "
                          "schedule is skipped.", UserWarning, stacklevel=2)
        self._step_count += 1
        if epoch is not None:
            warnings.warn(EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
        self._update_lr(epoch)

    def _update_lr(self, epoch: int | None = None) -> None:
        self._get_lr_called_within_step = True
        try:
            if epoch is None:
                self.last_epoch += 1
                values = self.get_lr()
            else:
                self.last_epoch = epoch
                closed_form = getattr(self, "_get_closed_form_lr", None)
                values = closed_form() if closed_form is not None else self.get_lr()
        finally:
            self._get_lr_called_within_step = False
        for group, lr in zip(self.optimizer.param_groups, values, strict=True):
            set_group_value(group, "lr", lr)
        self._last_lr = group_values(self.optimizer, "lr")

    def _warn_if_outside_step(self) -> None:
        if not self._get_lr_called_within_step:
            warnings.warn("To get the last learning rate computed by the scheduler, please use "
                          "`get_last_lr()`.", UserWarning, stacklevel=3)


class _LRScheduler(LRScheduler):
    """Old name of :class:`LRScheduler`, kept for code that subclasses it."""
