"""Lowerings of shape and indexing ops: reshape, permute, cat, slice, getitem, expand, pad."""
from __future__ import annotations

import numpy as np

from ._graph import INT64_MAX, INT64_MIN, Graph, UnsupportedOperatorError
from ._table import Call, lowers


def _dynamic_error(call: Call, what: str) -> UnsupportedOperatorError:
    return UnsupportedOperatorError(
        f"chainrule.onnx.export: {call.where()}: {what} depends on a dynamic axis in a way "
        "the exporter cannot express; export without that axis in dynamic_axes")


@lowers("reshape", varying=("shape",))
def reshape(g: Graph, call: Call) -> str:
    """Reshape to the traced shape; a dim that follows a dynamic axis becomes 0 (copy the
    input's dim) where it lines up with it, else the one -1 ONNX allows."""
    target = list(call.params["shape"])
    dynamic = call.dynamic_dims("shape")
    if dynamic:
        other = call.other.params["shape"]
        in_a, in_b = call.shapes[0], call.other.shapes[0]
        left = []
        for i in dynamic:
            if i < len(in_a) and in_a[i] == target[i] and in_b[i] == other[i]:
                target[i] = 0
            else:
                left.append(i)
        if len(left) > 1:
            raise _dynamic_error(call, f"the target shape {tuple(call.params['shape'])}")
        if left:
            target[left[0]] = -1
    elif 0 in target:  # an empty tensor: 0 must mean 0, not "copy"
        return g.node("Reshape", [call.names[0], g.ints(target)], allowzero=1)
    return g.node("Reshape", [call.names[0], g.ints(target)])


@lowers("permute")
def permute(g: Graph, call: Call) -> str:
    return g.node("Transpose", call.names, perm=[int(d) for d in call.params["dims"]])


@lowers("cat")
def cat(g: Graph, call: Call) -> str:
    names = [g.cast(n, d, call.out_dtype) for n, d in zip(call.names, call.dtypes)]
    return g.node("Concat", names, axis=int(call.params["dim"]))


@lowers("slice")
def slice_(g: Graph, call: Call) -> str:
    p = call.params
    stop = INT64_MAX if p["stop"] >= p["size"] else p["stop"]
    return g.node("Slice", [call.names[0], g.ints([p["start"]]), g.ints([stop]),
                            g.ints([p["dim"]]), g.ints([p.get("step", 1)])])


@lowers("broadcast_to", varying=("shape",))
def broadcast_to(g: Graph, call: Call) -> str:
    """Expand; a dynamic dim the input already has becomes 1 (Expand broadcasts both ways)."""
    target = list(call.params["shape"])
    in_a = call.shapes[0]
    offset = len(target) - len(in_a)
    for i in call.dynamic_dims("shape"):
        j = i - offset
        if j >= 0 and call.input_dim_dynamic(0, j) and in_a[j] == target[i]:
            target[i] = 1
        else:
            raise _dynamic_error(call, f"the expanded shape {tuple(call.params['shape'])}")
    return g.node("Expand", [call.names[0], g.ints(target)])


@lowers("flip")
def flip(g: Graph, call: Call) -> str:
    dims = [int(d) for d in call.params["dims"]]
    n = len(dims)
    return g.node("Slice", [call.names[0], g.ints([-1] * n), g.ints([INT64_MIN] * n),
                            g.ints(dims), g.ints([-1] * n)])


@lowers("tril", "triu")
def trilu(g: Graph, call: Call) -> str:
    return g.node("Trilu", [call.names[0], g.ints([call.params["k"]])],
                  upper=int(call.op == "triu"))


@lowers("pad")
def pad(g: Graph, call: Call) -> str:
    widths = call.params["widths"]
    mode = call.params.get("mode", "constant")
    if mode != "constant":
        raise UnsupportedOperatorError(f"chainrule.onnx.export: {call.where()}: mode {mode!r}")
    pads = [int(w[0]) for w in widths] + [int(w[1]) for w in widths]
    value = g.const(call.params.get("value", 0), call.out_dtype)
    return g.node("Pad", [call.names[0], g.ints(pads), value], mode="constant")


@lowers("getitem")
def getitem(g: Graph, call: Call) -> str:
    """Basic indexing: slices (Slice), integers (Gather of a scalar, which drops the axis),
    None (Unsqueeze) and Ellipsis."""
    index = call.params["index"]
    index = index if isinstance(index, tuple) else (index,)
    ndim = len(call.shapes[0])
    used = sum(1 for i in index if i is not None and i is not Ellipsis)
    if any(isinstance(i, np.ndarray) for i in index):
        raise UnsupportedOperatorError(f"chainrule.onnx.export: {call.where()}: tensor index")
    expanded: list = []
    for i in index:
        if i is Ellipsis:
            expanded.extend([slice(None)] * (ndim - used))
        else:
            expanded.append(i)
    expanded.extend([slice(None)] * (ndim + sum(i is None for i in expanded) - len(expanded)))
    x = call.names[0]
    starts, ends, axes, steps, drops, news = [], [], [], [], [], []
    axis = 0  # the input's axis that index entry k refers to
    out_axis = 0
    for entry in expanded:
        if entry is None:
            news.append(out_axis)
            out_axis += 1
            continue
        if isinstance(entry, slice):
            step = 1 if entry.step is None else int(entry.step)
            if (entry.start, entry.stop, step) != (None, None, 1):
                start = entry.start if entry.start is not None else (0 if step > 0 else -1)
                stop = entry.stop if entry.stop is not None else (
                    INT64_MAX if step > 0 else INT64_MIN)
                starts.append(int(start))
                ends.append(int(stop))
                axes.append(axis)
                steps.append(step)
            out_axis += 1
        else:  # an integer: take it, then drop the axis
            starts.append(int(entry))
            ends.append(int(entry) + 1 if int(entry) != -1 else INT64_MAX)
            axes.append(axis)
            steps.append(1)
            drops.append(axis)
        axis += 1
    if axes:
        x = g.node("Slice", [x, g.ints(starts), g.ints(ends), g.ints(axes), g.ints(steps)])
    if drops:
        x = g.node("Squeeze", [x, g.ints(drops)])
    if news:
        x = g.node("Unsqueeze", [x, g.ints(news)])
    return x if x != call.names[0] else g.node("Identity", [x])


@lowers("getitem_advanced", varying=("index",))
def getitem_advanced(g: Graph, call: Call) -> str:
    """One integer index array on one axis, the rest full slices: Gather."""
    index = call.params["index"]
    index = index if isinstance(index, tuple) else (index,)
    arrays = [(k, i) for k, i in enumerate(index) if isinstance(i, np.ndarray)]
    rest_full = all(isinstance(i, slice) and i == slice(None) for k, i in enumerate(index)
                    if k != (arrays[0][0] if arrays else -1))
    if len(arrays) != 1 or arrays[0][1].dtype.kind not in "iu" or not rest_full:
        raise UnsupportedOperatorError(
            f"chainrule.onnx.export: {call.where()}: only one integer index tensor on one "
            "axis (the others ':') is exported")
    axis, array = arrays[0]
    indices = call.lookup(array)
    return g.node("Gather", [call.names[0], g.cast(indices, array.dtype, np.int64)], axis=axis)
