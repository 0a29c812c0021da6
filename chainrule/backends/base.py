"""The small interface every array backend implements."""
from __future__ import annotations

import re


_DEVICE = re.compile(r"(cpu|cuda)(?::(0|[1-9][0-9]*))?")


def _device_error(message: str, type_error: bool = False):
    """The error for a bad device spec (imported late: devices are made while chainrule loads)."""
    from ..errors import ArgumentError, DTypeError, op_error
    return op_error(DTypeError if type_error else ArgumentError, "device", message)


def _parse_device(spec, index) -> tuple:
    """``(type, index)`` for ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or ``("cuda", 1)``. The whole
    string must match: ``"cuda:x"``, ``"cuda:"`` and ``"cuda: 0"`` are refused rather than read
    by ``int()``. (PyTorch's ``device(1)``, a bare CUDA index, is refused too: checkpoints rely on
    devices being strings.)"""
    if not isinstance(spec, str):
        raise _device_error(f"expected a string like 'cpu' or 'cuda:0', got "
                            f"{type(spec).__name__} {spec!r}", type_error=True)
    match = _DEVICE.fullmatch(spec)
    if match is None:
        kind = spec.partition(":")[0]
        what = f"unknown device type {kind!r}" if kind not in ("cpu", "cuda") else "invalid index"
        raise _device_error(f"{what} in device string {spec!r}: expected 'cpu', 'cuda' or "
                            "'cuda:N' with N a non-negative integer")
    kind, idx = match.groups()
    if index is not None:
        if idx is not None:
            raise _device_error(f"{spec!r} already names an index; got index={index!r} as well")
        if isinstance(index, bool) or not isinstance(index, int):
            raise _device_error(f"index must be an int, got {index!r}", type_error=True)
        if index < 0:
            raise _device_error(f"device index must not be negative, got {index}")
    index = int(idx) if idx is not None else index
    return kind, index  # device("cuda").index is None, as PyTorch: "the current CUDA device"


class Device:
    """Where a tensor's data lives: ``Device("cpu")`` or ``Device("cuda:0")``."""

    __slots__ = ("type", "index")

    def __init__(self, spec="cpu", index: int | None = None) -> None:
        if isinstance(spec, Device):
            self.type, self.index = spec.type, spec.index
            return
        self.type, self.index = _parse_device(spec, index)

    def __eq__(self, other) -> bool:
        # as PyTorch: a device equals devices only (device("cpu") == "cpu" is False there too,
        # and device("cuda") != device("cuda:0"): compare .type to ask "is it on a GPU?")
        if not isinstance(other, Device):
            return NotImplemented
        return (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        return f"device(type='{self.type}'" + ("" if self.index is None else f", index={self.index}") + ")"


class Backend:
    """An array module plus the operations that differ between array libraries.

    Attribute access falls through to the array module and is cached on the
    instance, so ``xp.exp`` costs one dictionary lookup after its first use.
    """

    name = "abstract"
    device: Device

    def __init__(self, module) -> None:
        self.module = module

    def __getattr__(self, attr):
        value = getattr(self.module, attr)
        setattr(self, attr, value)
        return value

    def load_special_functions(self, package: str) -> None:
        """Take ``erf``/``erfinv``/``expit`` from ``package``.special when it is installed (the
        array modules themselves lack them; ops fall back to slower pure forms otherwise)."""
        import importlib
        try:
            special = importlib.import_module(package + ".special")
        except ImportError:
            return
        self.erf = special.erf
        self.erfinv = special.erfinv
        self.expit = special.expit  # the logistic sigmoid: one stable ufunc

    def relu(self, x):
        """``maximum(x, 0)`` in ``x``'s dtype (NaN stays NaN)."""
        return self.module.maximum(x, 0).astype(x.dtype, copy=False)

    # what differs between NumPy and CuPy
    def as_strided(self, x, shape, strides, writeable: bool = True):
        """A strided view of ``x``; ``writeable=False`` marks it read-only where the array
        library can (NumPy; CuPy's arrays are always writable)."""
        return self.module.lib.stride_tricks.as_strided(x, shape, strides)

    @staticmethod
    def writeable(array) -> bool:
        """Whether ``array``'s memory may be written (CuPy's flags have no such flag: True)."""
        return getattr(array.flags, "writeable", True)

    def scatter_add(self, target, index, values) -> None:
        """``target[index] += values`` with repeated indices accumulated (in place)."""
        raise NotImplementedError

    def to_host(self, array):
        """A NumPy array with the same values."""
        raise NotImplementedError

    def from_host(self, array):
        """This backend's array from a NumPy array."""
        raise NotImplementedError

    def is_array(self, obj) -> bool:
        raise NotImplementedError

    def of_array(self, array) -> "Backend":
        """The backend of ``array``'s own device (itself, unless the backend has several)."""
        return self

    def __repr__(self) -> str:
        return f"<chainrule backend {self.name}>"
