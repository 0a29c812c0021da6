"""Lowerings of reductions and normalisation: sum, max/min, var, norm, softmax, standardize."""
from __future__ import annotations

import numpy as np

from ._graph import Graph, UnsupportedOperatorError
from ._table import Call, lowers

_REDUCE = {"sum": "ReduceSum", "amax": "ReduceMax", "amin": "ReduceMin", "prod": "ReduceProd"}


def _axes(dims):
    return None if dims is None else [int(d) for d in (dims if isinstance(dims, (tuple, list))
                                                       else (dims,))]


@lowers(*_REDUCE)
def reduce(g: Graph, call: Call) -> str:
    x = g.cast(call.names[0], call.dtypes[0], call.out_dtype)
    return g.reduce(_REDUCE[call.op], x, _axes(call.params["dims"]), call.params["keepdim"])


@lowers("var")
def var(g: Graph, call: Call) -> str:
    """Σ(x - mean)² / (n - correction) over the dims."""
    x, p, dt = call.names[0], call.params, call.out_dtype
    axes = _axes(p["dims"])
    shape = call.shapes[0]
    n = int(np.prod([shape[a] for a in axes])) if axes is not None else int(np.prod(shape))
    if call.other is not None and any(call.input_dim_dynamic(0, a) for a in
                                      (axes if axes is not None else range(len(shape)))):
        raise UnsupportedOperatorError(f"chainrule.onnx.export: {call.where()}: a variance over "
                                       "a dynamic axis")
    d = g.node("Sub", [x, g.reduce("ReduceMean", x, axes, True)])
    total = g.reduce("ReduceSum", g.node("Mul", [d, d]), axes, p["keepdim"])
    return g.node("Div", [total, g.const(max(n - p["correction"], 0), dt)])


@lowers("standardize")
def standardize(g: Graph, call: Call) -> str:
    """(x - mean) / √(var + eps) over ``axes`` (the core of LayerNorm and GroupNorm)."""
    x, dt = call.names[0], call.out_dtype
    axes = _axes(call.params["axes"])
    d = g.node("Sub", [x, g.reduce("ReduceMean", x, axes, True)])
    v = g.reduce("ReduceMean", g.node("Mul", [d, d]), axes, True)
    return g.node("Div", [d, g.node("Sqrt", [g.node("Add", [v, g.const(call.params["eps"], dt)])])])


@lowers("norm")
def norm(g: Graph, call: Call) -> str:
    p = call.params["p"]
    kind = {2.0: "ReduceL2", 1.0: "ReduceL1"}.get(float(p))
    if kind is None:
        raise UnsupportedOperatorError(f"chainrule.onnx.export: {call.where()}: p={p}")
    return g.reduce(kind, call.names[0], _axes(call.params["dims"]), call.params["keepdim"])


@lowers("softmax", "log_softmax")
def softmax(g: Graph, call: Call) -> str:
    kind = "Softmax" if call.op == "softmax" else "LogSoftmax"
    return g.node(kind, [g.cast(call.names[0], call.dtypes[0], call.out_dtype)],
                  axis=int(call.params["dim"]))


@lowers("argmax", "argmin")
def argmax(g: Graph, call: Call) -> str:
    kind = "ArgMax" if call.op == "argmax" else "ArgMin"
    x, dim = call.names[0], call.params["dim"]
    if dim is None:  # over the flattened tensor
        x = g.node("Reshape", [x, g.ints([-1])])
        out = g.node(kind, [x], axis=0, keepdims=0)
        if call.params["keepdim"]:
            out = g.node("Reshape", [out, g.ints([1] * len(call.shapes[0]))])
        return out
    return g.node(kind, [x], axis=int(dim), keepdims=int(bool(call.params["keepdim"])))


@lowers("max_dim")
def take_along(g: Graph, call: Call) -> str:
    """max(dim) / min(dim)'s values: the input at the traced argmax/argmin indices."""
    x, indices = call.names
    dim, keep = int(call.params["dim"]), call.params["keepdim"]
    idx = indices if keep else g.node("Unsqueeze", [indices, g.ints([dim])])
    out = g.node("GatherElements", [x, idx], axis=dim)
    return out if keep else g.node("Squeeze", [out, g.ints([dim])])


@lowers("cumsum")
def cumsum(g: Graph, call: Call) -> str:
    x = g.cast(call.names[0], call.dtypes[0], call.out_dtype)
    return g.node("CumSum", [x, g.const(int(call.params["dim"]), np.int64)])
