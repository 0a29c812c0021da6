"""``autocast``: ops inside it run in the precision PyTorch's autocast gives them.

``autocast(device_type, dtype)`` runs the matrix products (matmul, mm, bmm, addmm,
baddbmm, linear, conv, einsum ...) inside it in ``dtype``, as PyTorch's CPU autocast
does: their float32 inputs are cast (the casts are recorded, so gradients flow back in
float32). The ops of PyTorch's CPU float32 list (the losses, ``prod``, ``cdist``,
``trace``, 3-D pooling, reflection/replication padding ...) take lower-precision inputs
in float32; the others run in the dtype of their inputs (see
:mod:`chainrule.amp.policy`). CPU autocast takes bfloat16 (its default) or float16;
``device_type='cuda'`` without a GPU warns and disables itself, as PyTorch does.

>>> import chainrule as cr
>>> with cr.autocast("cpu", dtype=cr.bfloat16):
...     y = cr.ones(2, 3) @ cr.ones(3, 4)
>>> y.dtype
chainrule.bfloat16
"""
from __future__ import annotations

import functools

__all__ = ["autocast", "is_autocast_available", "is_autocast_enabled", "get_autocast_dtype"]


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
    """Whether ``autocast`` supports ``device_type`` ('cpu' and 'cuda').

    >>> import chainrule as cr
    >>> cr.is_autocast_available("cpu")
    True
    """
    return device_type in _DEFAULT_DTYPE


class suspended:  # noqa: N801 - a context manager
    """Autocast off inside (``with suspended():``): an op of a policy list runs its
    parts in the dtypes it chose, as PyTorch's kernel does (no casts inside it)."""

    __slots__ = ("_prev",)

    def __enter__(self) -> None:
        self._prev = AUTOCAST.active
        AUTOCAST.active = False

    def __exit__(self, *exc) -> bool:
        AUTOCAST.active = self._prev
        return False


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
        from ..dtypes import bfloat16, dtype_arg, float16, to_dtype
        from .._args import ArgumentError
        from ..errors import op_error, warn_user
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
            from .. import cuda
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
    """Whether autocast is on for ``device_type`` (without one: for 'cuda', as PyTorch).

    >>> import chainrule as cr
    >>> cr.is_autocast_enabled()
    False
    """
    return AUTOCAST.dtypes.get(device_type or "cuda") is not None


def get_autocast_dtype(device_type: str):
    """The dtype autocast uses on ``device_type`` (its default when autocast is off).

    >>> import chainrule as cr
    >>> cr.get_autocast_dtype("cpu")
    chainrule.bfloat16
    """
    from ..dtypes import to_dtype
    return AUTOCAST.dtypes.get(device_type) or to_dtype(_DEFAULT_DTYPE[device_type])


class CudaAutocast(autocast):
    """``chainrule.cuda.amp.autocast``: PyTorch's deprecated spelling of
    ``autocast('cuda', ...)``."""

    def __init__(self, enabled: bool = True, dtype=None, cache_enabled: bool = True) -> None:
        from ..dtypes import float16
        from ..errors import warn_user
        warn_user("chainrule.cuda.amp.autocast(args...) is deprecated. Please use "
                  "chainrule.amp.autocast('cuda', args...) instead.", FutureWarning)
        super().__init__("cuda", float16 if dtype is None else dtype, enabled, cache_enabled)
