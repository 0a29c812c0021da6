"""The lowering tables: op registry name → ONNX nodes, module class → ONNX nodes.

Each ``lower_*`` module fills them with ``@lowers("relu")`` beside the op's registry
name; the exporter looks an op up here and names it in the error when it is missing.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# op registry name → (lowering, params that may differ between the two traces)
LOWERINGS: dict[str, tuple] = {}
# module class → lowering of the whole module (recurrent layers: ONNX's own LSTM/GRU/RNN)
MODULE_LOWERINGS: dict[type, object] = {}

# params that only restate input shapes: they differ with a dynamic axis and mean nothing here
_SHAPE_ECHOES = ("in_shape", "stats", "in_hw", "out_hw", "size", "sizes")


def lowers(*names: str, varying: tuple = ()):
    """Register a lowering ``fn(g, call) -> output name`` for the ops ``names``.

    ``varying``: params the lowering reads from both traces (``call.dynamic_dims``), so
    they may differ when an axis is dynamic; any other param that differs is an error.
    """
    def register(fn):
        for name in names:
            LOWERINGS[name] = (fn, frozenset(varying) | frozenset(_SHAPE_ECHOES))
        return fn
    return register


def lowers_module(*classes: type):
    """Register ``fn(g, call, value_of) -> [(tensor, name), ...]`` for whole modules."""
    def register(fn):
        for cls in classes:
            MODULE_LOWERINGS[cls] = fn
        return fn
    return register


@dataclass
class Call:
    """One traced op call, as a lowering sees it."""

    op: str
    names: list            # ONNX value names of the tensor inputs
    shapes: list           # their traced shapes
    dtypes: list           # their NumPy dtypes
    params: dict
    out_shape: tuple
    out_dtype: np.dtype
    path: str = ""         # the module that ran it ("" for the model itself)
    module_type: str = ""  # that module's class name
    other: "Call | None" = field(default=None, repr=False)  # the same call, 2nd trace
    # array → value name: an array param that is a traced tensor's data (embedding's
    # indices), else a constant
    lookup: object = field(default=None, repr=False)

    def dynamic_dims(self, key: str) -> list[int]:
        """Indices where the shape-like param ``key`` differs between the two traces."""
        if self.other is None:
            return []
        a, b = self.params[key], self.other.params[key]
        return [i for i, (x, y) in enumerate(zip(a, b)) if x != y]

    def input_dim_dynamic(self, i: int, axis: int) -> bool:
        """Whether input ``i``'s axis differs between the traces."""
        return self.other is not None and self.shapes[i][axis] != self.other.shapes[i][axis]

    def where(self) -> str:
        return describe_site(self.op, self.path, self.module_type)


def describe_site(op: str, path: str, module_type: str) -> str:
    """"op 'x' in module 'encoder.0' (Linear)", for error messages."""
    module = f"module '{path}'" if path else "the model"
    return f"op '{op}' in {module}" + (f" ({module_type})" if module_type else "")
