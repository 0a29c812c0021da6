"""``CyclicLR``: the rate cycles between ``base_lr`` and ``max_lr`` (stepped per batch),
momentum the opposite way, as ``torch.optim.lr_scheduler.CyclicLR``."""
from __future__ import annotations

import math
import types
from typing import Any, Callable, Literal

from ...errors import op_error
from ..optimizer import Optimizer
from .base import LRScheduler, check_state_dict, format_param, set_group_value

__all__ = ["CyclicLR"]

_MODES = ("triangular", "triangular2", "exp_range")


class CyclicLR(LRScheduler):
    """Cyclical learning rate: up from ``base_lr`` to ``max_lr`` in ``step_size_up`` steps,
    back down in ``step_size_down`` (default: the same), each cycle's height scaled by
    the policy: ``"triangular"`` (constant), ``"triangular2"`` (halved each cycle),
    ``"exp_range"`` (``gamma ** iteration``) or a custom ``scale_fn`` of the cycle
    number or iteration (``scale_mode``).

    Creating it sets each group's rate to ``base_lr``. With ``cycle_momentum`` the
    optimizer's ``momentum`` (or ``betas[0]``) cycles between ``max_momentum`` and
    ``base_momentum``, inversely to the rate.

    >>> import chainrule as cr
    >>> opt = cr.optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0, momentum=0.9)
    >>> s = cr.optim.lr_scheduler.CyclicLR(opt, base_lr=0.1, max_lr=0.5, step_size_up=2)
    >>> lrs = []
    >>> for _ in range(5):
    ...     opt.step()
    ...     s.step()
    ...     lrs.append(round(s.get_last_lr()[0], 6))
    >>> lrs, round(opt.param_groups[0]["momentum"], 6)
    ([0.3, 0.5, 0.3, 0.1, 0.3], 0.85)
    """

    def __init__(self, optimizer: Optimizer, base_lr: float | list[float],
                 max_lr: float | list[float], step_size_up: int = 2000,
                 step_size_down: int | None = None,
                 mode: Literal["triangular", "triangular2", "exp_range"] = "triangular",
                 gamma: float = 1.0, scale_fn: Callable[[float], float] | None = None,
                 scale_mode: Literal["cycle", "iterations"] = "cycle",
                 cycle_momentum: bool = True, base_momentum: float | list[float] = 0.8,
                 max_momentum: float | list[float] = 0.9, last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise op_error(TypeError, "CyclicLR", f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        base_lrs = format_param("base_lr", optimizer, base_lr)
        if last_epoch == -1:
            for lr, group in zip(base_lrs, optimizer.param_groups):
                set_group_value(group, "lr", lr)
        self.max_lrs = format_param("max_lr", optimizer, max_lr)
        up = float(step_size_up)
        down = float(step_size_down) if step_size_down is not None else up
        self.total_size = up + down
        self.step_ratio = up / self.total_size
        if mode not in _MODES and scale_fn is None:
            raise op_error(ValueError, "CyclicLR", f"mode is invalid and scale_fn is None "
                           f"(mode={mode!r}; expected one of {', '.join(_MODES)} or a scale_fn)")
        self.mode = mode
        self.gamma = gamma
        self._scale_fn_custom = scale_fn
        self.scale_mode = scale_mode
        self._init_scale_mode()
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise op_error(ValueError, "CyclicLR", "optimizer must support momentum or beta1 "
                               "with `cycle_momentum` option enabled")
            self.use_beta1 = "betas" in optimizer.defaults
            self.base_momentums = format_param("base_momentum", optimizer, base_momentum)
            self.max_momentums = format_param("max_momentum", optimizer, max_momentum)
            if last_epoch == -1:
                for m_mom, b_mom, group in zip(self.max_momentums, self.base_momentums,
                                               optimizer.param_groups):
                    self._set_momentum(group, m_mom)
                    group["max_momentum"] = m_mom
                    group["base_momentum"] = b_mom
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs

    def _init_scale_mode(self) -> None:
        """The built-in policies fix what their scale is a function of."""
        if self._scale_fn_custom is None:
            self.scale_mode = "iterations" if self.mode == "exp_range" else "cycle"

    def scale_fn(self, x: float) -> float:
        """The height factor of the cycle (or iteration) ``x``."""
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        if self.mode == "triangular":
            return 1.0
        if self.mode == "triangular2":
            return 1 / (2.0 ** (x - 1))
        return self.gamma ** x

    def _set_momentum(self, group: dict, value: float) -> None:
        if self.use_beta1:
            group["betas"] = (value, *group["betas"][1:])
        else:
            group["momentum"] = value

    def get_lr(self) -> list:
        """The rates at ``last_epoch`` (a batch index); as a side effect, sets the momentum."""
        self._warn_if_outside_step()
        cycle = math.floor(1 + self.last_epoch / self.total_size)
        x = 1.0 + self.last_epoch / self.total_size - cycle  # position within the cycle, [0, 1)
        if x <= self.step_ratio:
            scale_factor = x / self.step_ratio
        else:
            scale_factor = (x - 1) / (self.step_ratio - 1)
        at = cycle if self.scale_mode == "cycle" else self.last_epoch
        lrs = [base_lr + ((max_lr - base_lr) * scale_factor) * self.scale_fn(at)
               for base_lr, max_lr in zip(self.base_lrs, self.max_lrs)]
        if self.cycle_momentum:
            for group, base_m, max_m in zip(self.optimizer.param_groups, self.base_momentums,
                                            self.max_momentums):
                self._set_momentum(group, max_m - ((max_m - base_m) * scale_factor)
                                   * self.scale_fn(at))
        return lrs

    def state_dict(self) -> dict[str, Any]:
        """As the base, with a custom ``scale_fn`` left out (a function) or saved as its
        ``__dict__`` (a callable object), as PyTorch does."""
        sd = super().state_dict()
        fn = sd.pop("_scale_fn_custom")
        sd["_scale_fn_custom"] = (None if fn is None or isinstance(fn, types.FunctionType)
                                  else fn.__dict__.copy())
        return sd

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a state from :meth:`state_dict`; the current ``scale_fn`` is kept (and
        a callable object's attributes restored)."""
        check_state_dict(state_dict, "CyclicLR")
        state_dict = dict(state_dict)
        saved_fn = state_dict.pop("_scale_fn_custom", None)
        super().load_state_dict(state_dict)
        if saved_fn is not None and self._scale_fn_custom is not None:
            self._scale_fn_custom.__dict__.update(saved_fn)
        self._init_scale_mode()
