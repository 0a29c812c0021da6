"""The ONNX graph being built: nodes, initializers and the names of traced values.

Lowerings (the ``lower_*`` modules) call :meth:`Graph.node` to add nodes and
:meth:`Graph.const` for constants; the exporter maps traced tensors to value names.
"""
from __future__ import annotations

import numpy as np

from ._deps import onnx_modules

# ONNX Slice's "to the end" / "to the start" bounds
INT64_MAX = np.iinfo(np.int64).max
INT64_MIN = np.iinfo(np.int64).min


class UnsupportedOperatorError(RuntimeError):
    """An op or module that chainrule.onnx.export has no ONNX lowering for."""


class Graph:
    """Nodes and initializers of one exported model, for one opset version."""

    def __init__(self, opset: int) -> None:
        self.opset = opset
        self.nodes: list = []
        self.initializers: list = []
        self._used: set[str] = set()
        self._consts: dict = {}  # (dtype, shape, bytes) → name: one initializer per constant

    def fresh(self, hint: str) -> str:
        """A value name not used yet, built from ``hint``."""
        base = "".join(c if c.isalnum() or c in "._" else "_" for c in hint) or "v"
        name, k = base, 0
        while name in self._used:
            k += 1
            name = f"{base}_{k}"
        self._used.add(name)
        return name

    def reserve(self, name: str) -> str:
        """Claim an exact name (graph inputs, parameters); an error when it is taken."""
        if name in self._used:
            raise ValueError(f"chainrule.onnx.export: the name {name!r} is used twice")
        self._used.add(name)
        return name

    def node(self, op_type: str, inputs, hint: str | None = None, outputs: int = 1,
             **attrs):
        """Add one node; returns its output name (a list of names when ``outputs`` > 1).

        An input of ``None`` or ``""`` is an omitted optional input."""
        helper = onnx_modules().helper
        names = [self.fresh(hint or op_type.lower()) for _ in range(outputs)]
        ins = ["" if i is None else i for i in inputs]
        while ins and ins[-1] == "":  # omitted trailing optional inputs are left off
            ins.pop()
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(helper.make_node(op_type, ins, names, **attrs))
        return names[0] if outputs == 1 else names

    def initializer(self, array, name: str) -> str:
        """A named initializer (a parameter or buffer) holding ``array``."""
        numpy_helper = onnx_modules().numpy_helper
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def const(self, value, dtype=None, hint: str = "const") -> str:
        """A constant initializer (shared between equal constants)."""
        array = np.asarray(value, dtype=dtype)
        if array.dtype.kind not in "biuf":
            raise UnsupportedOperatorError(
                f"chainrule.onnx.export: a constant of dtype {array.dtype} has no ONNX type")
        key = (array.dtype.str, array.shape, array.tobytes())
        name = self._consts.get(key)
        if name is None:
            name = self.initializer(array, self.fresh(hint))
            self._consts[key] = name
        return name

    def ints(self, values) -> str:
        """An int64 1-D constant (shapes, axes, pads given as inputs)."""
        return self.const(np.asarray(list(values), dtype=np.int64), hint="ints")

    # -- a few nodes whose spelling changed between opsets ---------------------------------
    def reduce(self, op_type: str, x: str, axes, keepdims: bool) -> str:
        """A Reduce* node over ``axes`` (None: all); axes are an input from opset 18
        (ReduceSum: 13), an attribute before."""
        input_since = 13 if op_type == "ReduceSum" else 18
        keep = int(bool(keepdims))
        if axes is None:
            return self.node(op_type, [x], keepdims=keep)
        axes = [int(a) for a in axes]
        if self.opset >= input_since:
            return self.node(op_type, [x, self.ints(axes)], keepdims=keep)
        return self.node(op_type, [x], axes=axes, keepdims=keep)

    def cast(self, x: str, from_dtype, to_dtype) -> str:
        """``x`` cast to ``to_dtype`` (no node when it already has it)."""
        if np.dtype(from_dtype) == np.dtype(to_dtype):
            return x
        return self.node("Cast", [x], to=onnx_type(to_dtype))


def onnx_type(dtype) -> int:
    """The ONNX TensorProto element type of a NumPy dtype."""
    helper = onnx_modules().helper
    dtype = np.dtype(dtype)
    if dtype.kind not in "biuf":
        raise UnsupportedOperatorError(
            f"chainrule.onnx.export: dtype {dtype} has no ONNX element type here "
            "(bfloat16 and complex tensors are not exported)")
    return helper.np_dtype_to_tensor_dtype(dtype)
