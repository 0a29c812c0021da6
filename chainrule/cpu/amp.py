"""``chainrule.cpu.amp``: PyTorch's deprecated spellings ``torch.cpu.amp.autocast`` and
``torch.cpu.amp.GradScaler`` (each warns FutureWarning and works as the ``chainrule.amp``
one on 'cpu')."""
from __future__ import annotations

from ..amp.autocast_mode import autocast as _autocast
from ..amp.grad_scaler import GradScaler as _GradScaler

__all__ = ["GradScaler", "autocast"]


class autocast(_autocast):  # noqa: N801 - PyTorch's name
    """``chainrule.cpu.amp.autocast(enabled=True, dtype=bfloat16, cache_enabled=True)``."""

    def __init__(self, enabled: bool = True, dtype=None, cache_enabled: bool = True) -> None:
        from ..errors import warn_user
        warn_user("`chainrule.cpu.amp.autocast(args...)` is deprecated. Please use "
                  "`chainrule.amp.autocast('cpu', args...)` instead.", FutureWarning)
        super().__init__("cpu", dtype, enabled, cache_enabled)


class GradScaler(_GradScaler):
    """``chainrule.cpu.amp.GradScaler(init_scale=2.**16, ...)``."""

    def __init__(self, init_scale: float = 2.0 ** 16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000,
                 enabled: bool = True) -> None:
        from ..errors import warn_user
        warn_user("`chainrule.cpu.amp.GradScaler(args...)` is deprecated. Please use "
                  "`chainrule.amp.GradScaler('cpu', args...)` instead.", FutureWarning)
        super().__init__("cpu", init_scale, growth_factor, backoff_factor, growth_interval, enabled)
