"""``GradScaler``: dynamic loss scaling, as ``torch.amp.GradScaler``.

float16 gradients underflow to zero where float32 ones would not. The scaler multiplies
the loss by a large factor before ``backward()`` (:meth:`GradScaler.scale`), divides the
gradients by it before the optimizer uses them (:meth:`GradScaler.unscale_`, called by
:meth:`GradScaler.step` when the program did not), skips the step when a gradient holds
inf or nan, and adjusts the factor (:meth:`GradScaler.update`): halved (``backoff_factor``)
after a step with inf/nan, doubled (``growth_factor``) after ``growth_interval`` clean
steps in a row. The scale is kept in float32 and updated in float32, as PyTorch's kernel
does, so the two give the same scales and skip the same steps.

>>> import chainrule as cr
>>> w = cr.tensor([1.0], requires_grad=True)
>>> opt = cr.optim.SGD([w], lr=0.1)
>>> scaler = cr.amp.GradScaler("cpu", init_scale=1024.0)
>>> scaler.scale((w * 3).sum()).backward()
>>> w.grad                            # scaled
tensor([3072.])
>>> scaler.step(opt); scaler.update()  # unscales (grad 3), steps, keeps the scale
>>> w, scaler.get_scale()
(tensor([0.7000], requires_grad=True), 1024.0)

A disabled scaler (``enabled=False``, or ``device='cuda'`` without a GPU, which warns)
passes everything through: ``scale(loss)`` is the loss and ``step`` calls
``optimizer.step()``.
"""
from __future__ import annotations

import enum
from collections import abc
from typing import Any

import numpy as np

__all__ = ["GradScaler", "OptState"]


class OptState(enum.Enum):
    """Where an optimizer is in the iteration: nothing done, gradients unscaled, stepped."""
    READY = 0
    UNSCALED = 1
    STEPPED = 2


def _fresh_state() -> dict:
    return {"stage": OptState.READY, "found_inf_per_device": {}}


_FIX = ("This may indicate your script did not use scaler.scale(loss or outputs) earlier "
        "in the iteration.")


class GradScaler:
    """Scale the loss, unscale the gradients, skip steps with inf/nan and adapt the scale:
    ``GradScaler(device='cuda', init_scale=2.0**16, growth_factor=2.0,
    backoff_factor=0.5, growth_interval=2000, enabled=True)``."""

    def __init__(self, device: str = "cuda", init_scale: float = 2.0 ** 16,
                 growth_factor: float = 2.0, backoff_factor: float = 0.5,
                 growth_interval: int = 2000, enabled: bool = True) -> None:
        self._device = device
        self._enabled = bool(enabled)
        if device == "cuda" and self._enabled:
            from .. import cuda
            from ..errors import warn_user
            if not cuda.is_available():
                warn_user("chainrule.cuda.amp.GradScaler is enabled, but CUDA is not available.  "
                          "Disabling.")
                self._enabled = False
        if not self._enabled:
            return
        if growth_factor <= 1.0:
            raise AssertionError("The growth factor must be > 1.0.")
        if backoff_factor >= 1.0:
            raise AssertionError("The backoff factor must be < 1.0.")
        self._init_scale = init_scale
        self._scale: np.float32 | None = None  # made by the first scale() (PyTorch: lazily)
        self._growth_factor = growth_factor
        self._backoff_factor = backoff_factor
        self._growth_interval = growth_interval
        self._init_growth_tracker = 0
        self._growth_tracker: int | None = None
        self._per_optimizer_states: dict[int, dict] = {}

    # -- the iteration -------------------------------------------------------------------
    def scale(self, outputs: Any) -> Any:
        """``outputs`` (a tensor, or nested lists/tuples/iterables of them) times the scale;
        each keeps its dtype (the scale is a 0-d float32 tensor)."""
        if not self._enabled:
            return outputs
        from ..tensor import Tensor
        if self._scale is None:
            self._scale = np.float32(self._init_scale)
            self._growth_tracker = self._init_growth_tracker
        factor = self._scale_tensor()

        def apply(value):
            if isinstance(value, Tensor):
                return value * factor
            if isinstance(value, abc.Iterable):
                scaled = map(apply, value)
                return type(value)(scaled) if isinstance(value, (list, tuple)) else scaled
            raise ValueError("GradScaler.scale: outputs must be a Tensor or an iterable of "
                             f"Tensors, got {type(value).__name__}")
        return apply(outputs)

    def unscale_(self, optimizer) -> None:
        """Divide ``optimizer``'s gradients by the scale, in place, and note whether any
        holds inf or nan. Once per optimizer between two :meth:`update` calls."""
        if not self._enabled:
            return
        self._check_started("unscale_")
        state = self._state(optimizer)
        if state["stage"] is OptState.UNSCALED:
            raise RuntimeError("GradScaler.unscale_() has already been called on this optimizer "
                               "since the last update().")
        if state["stage"] is OptState.STEPPED:
            raise RuntimeError("GradScaler.unscale_() is being called after step().")
        # the reciprocal in float64, rounded to float32: PyTorch's inv_scale
        inv_scale = np.float32(1.0 / np.float64(self._scale))
        state["found_inf_per_device"] = self._unscale_grads(optimizer, inv_scale)
        state["stage"] = OptState.UNSCALED

    def step(self, optimizer, *args: Any, **kwargs: Any):
        """``optimizer.step(*args, **kwargs)`` unless a gradient held inf or nan (then
        nothing, and None is returned); unscales first when the program did not."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("GradScaler.step: closure use is not currently supported if "
                               "GradScaler is enabled.")
        self._check_started("step")
        state = self._state(optimizer)
        if state["stage"] is OptState.STEPPED:
            raise RuntimeError("GradScaler.step() has already been called since the last update().")
        if state["stage"] is OptState.READY:
            self.unscale_(optimizer)
        if not state["found_inf_per_device"]:
            raise AssertionError("GradScaler.step: no inf checks were recorded for this optimizer "
                                 "(none of its parameters has a gradient).")
        result = None
        if not sum(state["found_inf_per_device"].values()):
            result = optimizer.step(*args, **kwargs)
        state["stage"] = OptState.STEPPED
        return result

    def update(self, new_scale: Any = None) -> None:
        """Back off after inf/nan, grow after ``growth_interval`` clean steps; or set the
        scale to ``new_scale`` (a float or a 1-element tensor)."""
        if not self._enabled:
            return
        self._check_started("update")
        if new_scale is not None:
            self._scale = np.float32(self._new_scale_value(new_scale))
        else:
            found = [f for s in self._per_optimizer_states.values()
                     for f in s["found_inf_per_device"].values()]
            if not found:
                raise AssertionError("GradScaler.update: no inf checks were recorded prior to "
                                     "update() (call step() or unscale_() first).")
            self._update_scale(sum(found) > 0)
        self._per_optimizer_states = {}

    # -- getters, setters, state ---------------------------------------------------------
    def get_scale(self) -> float:
        """The current scale (1.0 when disabled)."""
        if not self._enabled:
            return 1.0
        return self._init_scale if self._scale is None else float(self._scale)

    def get_growth_factor(self) -> float:
        return self._growth_factor

    def set_growth_factor(self, new_factor: float) -> None:
        self._growth_factor = new_factor

    def get_backoff_factor(self) -> float:
        return self._backoff_factor

    def set_backoff_factor(self, new_factor: float) -> None:
        self._backoff_factor = new_factor

    def get_growth_interval(self) -> int:
        return self._growth_interval

    def set_growth_interval(self, new_interval: int) -> None:
        self._growth_interval = new_interval

    def _get_growth_tracker(self) -> int:
        return self._init_growth_tracker if self._growth_tracker is None else self._growth_tracker

    def is_enabled(self) -> bool:
        return self._enabled

    def state_dict(self) -> dict:
        """The scale, the factors, the interval and the count of clean steps ({} when
        disabled), as PyTorch's (they load into each other)."""
        if not self._enabled:
            return {}
        return {"scale": self.get_scale(), "growth_factor": self._growth_factor,
                "backoff_factor": self._backoff_factor, "growth_interval": self._growth_interval,
                "_growth_tracker": self._get_growth_tracker()}

    def load_state_dict(self, state_dict: dict) -> None:
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError("GradScaler.load_state_dict: the source state dict is empty, "
                               "possibly because it was saved from a disabled GradScaler.")
        self._init_scale = state_dict["scale"]
        if self._scale is not None:
            self._scale = np.float32(state_dict["scale"])
        self._growth_factor = state_dict["growth_factor"]
        self._backoff_factor = state_dict["backoff_factor"]
        self._growth_interval = state_dict["growth_interval"]
        self._init_growth_tracker = state_dict["_growth_tracker"]
        if self._growth_tracker is not None:
            self._growth_tracker = state_dict["_growth_tracker"]

    # -- inside --------------------------------------------------------------------------
    def _scale_tensor(self):
        from ..creation import tensor
        from ..dtypes import float32
        return tensor(float(self._scale), dtype=float32)

    def _check_started(self, what: str) -> None:
        if self._scale is None:
            raise AssertionError(f"GradScaler: attempted {what} but the scale is not set yet "
                                 f"(scale() was never called). {_FIX}")

    def _state(self, optimizer) -> dict:
        return self._per_optimizer_states.setdefault(id(optimizer), _fresh_state())

    def _unscale_grads(self, optimizer, inv_scale: np.float32) -> dict:
        """Gradients times ``inv_scale`` in place; per device, 1.0 if any held inf/nan."""
        from ..autograd.grad_mode import no_grad
        from ..dtypes import float16
        from ..ops.functions import isfinite
        found: dict = {}
        factor = None
        with no_grad():
            for group in optimizer.param_groups:
                for param in group["params"]:
                    grad = param.grad
                    if grad is None:
                        continue
                    if grad.dtype is float16:
                        raise ValueError("GradScaler.unscale_: attempting to unscale FP16 "
                                         "gradients (keep the parameters in float32 and run "
                                         "the forward in float16 under autocast).")
                    values = grad._values() if getattr(grad, "is_sparse", False) else grad
                    device = str(values.device)
                    # the check reads the values before they are multiplied, as PyTorch's kernel
                    bad = not bool(isfinite(values).all())
                    found[device] = max(found.get(device, 0.0), 1.0 if bad else 0.0)
                    if factor is None:
                        factor = self._inv_tensor(inv_scale)
                    values.mul_(factor)
        return found

    @staticmethod
    def _inv_tensor(inv_scale: np.float32):
        from ..creation import tensor
        from ..dtypes import float32
        return tensor(float(inv_scale), dtype=float32)

    def _new_scale_value(self, new_scale: Any) -> float:
        from ..tensor import Tensor
        if isinstance(new_scale, float):
            return new_scale
        reason = ("GradScaler.update: new_scale should be a float or a 1-element tensor with "
                  "requires_grad=False.")
        if not isinstance(new_scale, Tensor) or new_scale.numel() != 1 or new_scale.requires_grad:
            raise AssertionError(reason)
        return float(new_scale.item())

    def _update_scale(self, found_inf: bool) -> None:
        """PyTorch's ``_amp_update_scale_``, in float32."""
        if found_inf:
            self._scale = np.float32(self._scale * np.float32(self._backoff_factor))
            self._growth_tracker = 0
            return
        successful = self._growth_tracker + 1
        if successful == self._growth_interval:
            with np.errstate(over="ignore"):  # an overflow to inf keeps the old scale
                grown = np.float32(self._scale * np.float32(self._growth_factor))
            if np.isfinite(grown):
                self._scale = grown
            self._growth_tracker = 0
        else:
            self._growth_tracker = successful


class CudaGradScaler(GradScaler):
    """``chainrule.cuda.amp.GradScaler``: without a GPU it warns and disables itself, as
    CPU-only PyTorch's does."""

    def __init__(self, init_scale: float = 2.0 ** 16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000,
                 enabled: bool = True) -> None:
        super().__init__("cuda", init_scale, growth_factor, backoff_factor, growth_interval, enabled)
