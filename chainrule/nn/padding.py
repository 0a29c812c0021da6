"""Padding layers: Reflection-, Replication-, Circular-, Zero- and ConstantPad{1,2,3}d, each a
Module over :func:`nn.functional.pad` with PyTorch's argument forms and reprs.

>>> import chainrule as cr
>>> cr.nn.ZeroPad2d((1, 0, 0, 1))(cr.ones(1, 1, 1, 1))
tensor([[[[0., 1.],
          [0., 0.]]]])
>>> cr.nn.ReflectionPad1d(2)
ReflectionPad1d((2, 2))
"""
from __future__ import annotations

from ..tensor import Tensor
from . import _args
from .functional import _misc as F
from .module import Module

__all__ = [f"{kind}Pad{n}d" for kind in ("Reflection", "Replication", "Circular", "Zero", "Constant")
           for n in (1, 2, 3)]


class _PadNd(Module):
    _n = 1
    _mode = "constant"

    def __init__(self, padding) -> None:
        super().__init__()
        self.padding = _args.pair(padding, 2 * self._n, "padding", type(self).__name__)

    def forward(self, input: Tensor) -> Tensor:
        return F.pad(input, self.padding, self._mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding, value: float) -> None:
        super().__init__(padding)
        self.value = value

    def forward(self, input: Tensor) -> Tensor:
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class _ZeroPadNd(_ConstantPadNd):
    def __init__(self, padding) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


def _layer(kind: str, base: type, mode: str, n: int) -> type:
    name = f"{kind}Pad{n}d"
    doc = {"reflect": "mirror images of the input about its edges",
           "replicate": "copies of the input's edge values",
           "circular": "the input wrapped around",
           "constant": "a constant value"}[mode]
    return type(name, (base,), {"_n": n, "_mode": mode, "__module__": __name__,
                                "__doc__": f"Pad the last {n} dim(s) with {doc}."})


for _n in (1, 2, 3):
    for _kind, _base, _mode in (("Reflection", _PadNd, "reflect"), ("Replication", _PadNd, "replicate"),
                                ("Circular", _PadNd, "circular"), ("Zero", _ZeroPadNd, "constant"),
                                ("Constant", _ConstantPadNd, "constant")):
        globals()[f"{_kind}Pad{_n}d"] = _layer(_kind, _base, _mode, _n)
del _n, _kind, _base, _mode
