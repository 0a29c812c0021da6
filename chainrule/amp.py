"""Mixed precision: ``autocast`` and ``GradScaler`` (disabled form), as ``torch.amp``.

``autocast(device_type, dtype)`` runs the matrix products (matmul, mm, bmm, addmm,
baddbmm, linear, conv and conv_transpose) inside it in ``dtype``, as PyTorch's CPU
autocast does: their float32 inputs are cast (the casts are recorded, so gradients flow
back in float32). Only those ops are covered: PyTorch also runs a list of ops (losses,
norms, ...) in float32 under autocast, which is not done here; values computed from a
lower-precision product otherwise follow the ordinary promotion rules. CPU autocast takes
bfloat16 (its default) or float16; ``device_type='cuda'`` without a GPU warns and
disables itself, as PyTorch does.

>>> import chainrule as cr
>>> with cr.autocast("cpu", dtype=cr.bfloat16):
...     y = cr.ones(2, 3) @ cr.ones(3, 4)
>>> y.dtype
chainrule.bfloat16

``GradScaler``: programs make a scaler even when they train in float32
(``GradScaler(enabled=False)``, or nanoGPT's ``enabled=(dtype == 'float16')``). A
disabled scaler passes everything through, as PyTorch's: ``scale(loss)`` is the loss, ``step(optimizer)`` calls
``optimizer.step()``, ``update``/``unscale_`` do nothing. ``chainrule.cuda.amp.GradScaler``
without a GPU warns and disables itself, as CPU-only PyTorch's does. Dynamic loss scaling
itself (``enabled=True`` where it would act) is not built yet and raises clearly.

>>> import chainrule as cr
>>> scaler = cr.amp.GradScaler(enabled=False)
>>> scaler.scale(cr.tensor(2.0)), scaler.is_enabled()
(tensor(2.), False)
"""
from __future__ import annotations

import functools
import warnings
from typing import Any

__all__ = ["GradScaler", "autocast", "is_autocast_available"]


# -- autocast ----------------------------------------------------------------------------
class _AutocastState:
    """The autocast dtype of each device type (None: off); ``active`` while any is on, so the
    ops that consult it pay one attribute test otherwise."""

    __slots__ = ("active", "dtypes")

    def __init__(self) -> None:
        self.active = False
        self.dtypes: dict = {"cpu": None, "cuda": None}


AUTOCAST = _AutocastState()
_DEFAULT_DTYPE = {"cpu": "bfloat16", "cuda": "float16"}


def is_autocast_available(device_type: str) -> bool:
    """Whether ``autocast`` supports ``device_type`` ('cpu' and 'cuda')."""
    return device_type in _DEFAULT_DTYPE


def autocast_inputs(*tensors):
    """``tensors`` as a product under autocast takes them: floating ones (but float64, as
    PyTorch) in the autocast dtype of their device; None and others unchanged."""
    out = []
    for t in tensors:
        if t is not None and t._data.dtype.kind in "fV" and t._data.dtype.itemsize < 8:
            target = AUTOCAST.dtypes.get(t.device.type)
            if target is not None and t.dtype is not target:
                t = t.to(target)
        out.append(t)
    return out


class autocast:  # noqa: N801 - PyTorch's name
    """Run matrix products in lower precision inside a ``with`` block (or a decorated
    function): ``autocast(device_type, dtype=None, enabled=True, cache_enabled=None)``."""

    def __init__(self, device_type: str, dtype=None, enabled: bool = True,
                 cache_enabled: bool | None = None) -> None:
        from .dtypes import bfloat16, dtype_arg, float16, to_dtype
        from ._args import ArgumentError
        from .errors import op_error, warn_user
        if not isinstance(device_type, str):
            raise op_error(ArgumentError, "autocast", f"device_type must be a string such as "
                           f"'cpu' or 'cuda', got {type(device_type).__name__} {device_type!r}")
        if device_type not in _DEFAULT_DTYPE:
            raise op_error(ArgumentError, "autocast", f"unsupported device_type {device_type!r}; "
                           "expected 'cpu' or 'cuda'")
        self.device = device_type
        self.fast_dtype = to_dtype(_DEFAULT_DTYPE[device_type]) if dtype is None \
            else dtype_arg(dtype, "autocast")
        self._enabled = bool(enabled)
        self._cache_enabled = cache_enabled  # accepted: casts are not cached (no effect on values)
        if not self._enabled:
            return
        if device_type == "cuda":
            from . import cuda
            if not cuda.is_available():
                warn_user("CUDA is not available. Disabling autocast.")
                self._enabled = False
                return
        if self.fast_dtype not in (bfloat16, float16):
            warn_user(f"In {device_type.upper()} autocast, but the target dtype is not supported. "
                      f"Disabling autocast.\n{device_type.upper()} Autocast only supports dtypes "
                      "of chainrule.bfloat16, chainrule.float16 currently.")
            self._enabled = False

    def __enter__(self) -> "autocast":
        self._prev = (AUTOCAST.active, AUTOCAST.dtypes[self.device])
        if self._enabled:
            AUTOCAST.dtypes[self.device] = self.fast_dtype
        else:
            AUTOCAST.dtypes[self.device] = None
        AUTOCAST.active = any(d is not None for d in AUTOCAST.dtypes.values())
        return self

    def __exit__(self, *exc) -> bool:
        AUTOCAST.dtypes[self.device] = self._prev[1]
        AUTOCAST.active = any(d is not None for d in AUTOCAST.dtypes.values())
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def run(*args, **kwargs):
            with autocast(self.device, self.fast_dtype, self._enabled, self._cache_enabled):
                return fn(*args, **kwargs)
        return run


def is_autocast_enabled(device_type: str | None = None) -> bool:
    """Whether autocast is on for ``device_type`` (without one: for 'cuda', as PyTorch)."""
    return AUTOCAST.dtypes.get(device_type or "cuda") is not None


def get_autocast_dtype(device_type: str):
    """The dtype autocast uses on ``device_type`` (its default when autocast is off)."""
    from .dtypes import to_dtype
    return AUTOCAST.dtypes.get(device_type) or to_dtype(_DEFAULT_DTYPE[device_type])


class CudaAutocast(autocast):
    """``chainrule.cuda.amp.autocast``: PyTorch's deprecated spelling of
    ``autocast('cuda', ...)``."""

    def __init__(self, enabled: bool = True, dtype=None, cache_enabled: bool = True) -> None:
        from .dtypes import float16
        from .errors import warn_user
        warn_user("chainrule.cuda.amp.autocast(args...) is deprecated. Please use "
                  "chainrule.amp.autocast('cuda', args...) instead.", FutureWarning)
        super().__init__("cuda", float16 if dtype is None else dtype, enabled, cache_enabled)


# -- GradScaler --------------------------------------------------------------------------


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
