"""``chainrule.amp.GradScaler`` (and ``chainrule.cuda.amp.GradScaler``), disabled form.

Programs make a scaler even when they train in float32 (``GradScaler(enabled=False)``, or
nanoGPT's ``enabled=(dtype == 'float16')``). A disabled scaler passes everything
through, as PyTorch's: ``scale(loss)`` is the loss, ``step(optimizer)`` calls
``optimizer.step()``, ``update``/``unscale_`` do nothing. ``chainrule.cuda.amp.GradScaler``
without a GPU warns and disables itself, as CPU-only PyTorch's does. Dynamic loss scaling
itself (``enabled=True`` where it would act) is not built yet and raises clearly.

>>> import chainrule as cr
>>> scaler = cr.amp.GradScaler(enabled=False)
>>> scaler.scale(cr.tensor(2.0)), scaler.is_enabled()
(tensor(2.), False)
"""
from __future__ import annotations

import warnings
from typing import Any

__all__ = ["GradScaler"]


class GradScaler:
    """A loss scaler for float16 training; only the disabled (pass-through) form works yet."""

    def __init__(self, device: str = "cuda", init_scale: float = 2.0 ** 16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000, enabled: bool = True) -> None:
        if enabled:
            raise NotImplementedError("chainrule.amp.GradScaler: dynamic loss scaling is not "
                                      "implemented yet; train in float32, or pass enabled=False")
        self._enabled = False
        self._init_scale = init_scale

    def is_enabled(self) -> bool:
        return self._enabled

    def scale(self, outputs: Any) -> Any:
        return outputs

    def unscale_(self, optimizer) -> None:
        """Nothing to undo when disabled."""

    def step(self, optimizer, *args: Any, **kwargs: Any):
        return optimizer.step(*args, **kwargs)

    def update(self, new_scale: Any = None) -> None:
        """Nothing to adjust when disabled."""

    def get_scale(self) -> float:
        return 1.0

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state_dict: dict) -> None:
        """A disabled scaler has no state."""


class CudaGradScaler(GradScaler):
    """``chainrule.cuda.amp.GradScaler``: without a GPU it warns and disables itself, as
    CPU-only PyTorch's does."""

    def __init__(self, init_scale: float = 2.0 ** 16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000, enabled: bool = True) -> None:
        from . import cuda
        if enabled and not cuda.is_available():
            warnings.warn("chainrule.cuda.amp.GradScaler is enabled, but CUDA is not available. "
                          "Disabling.", UserWarning, stacklevel=2)
            enabled = False
        super().__init__("cuda", init_scale, growth_factor, backoff_factor, growth_interval, enabled)
