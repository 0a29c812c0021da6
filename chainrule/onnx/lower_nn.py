"""Lowerings of layer ops: linear, matmul, convolutions, pools, embedding."""
from __future__ import annotations

import numpy as np

from ._graph import Graph
from ._table import Call, lowers


@lowers("linear")
def linear(g: Graph, call: Call) -> str:
    """x·Wᵀ + b: Gemm for a 2-D input, else MatMul with the transposed weight."""
    x, w = call.names[:2]
    bias = call.names[2] if len(call.names) > 2 else None
    if len(call.shapes[0]) == 2:
        return g.node("Gemm", [x, w, bias], transB=1)
    out = g.node("MatMul", [x, g.node("Transpose", [w], perm=[1, 0])])
    return out if bias is None else g.node("Add", [out, bias])


@lowers("matmul")
def matmul(g: Graph, call: Call) -> str:
    return g.node("MatMul", call.names)


def _pads(padding) -> list[int]:
    """chainrule's ((top, bottom), (left, right)) as ONNX's [top, left, bottom, right]."""
    return [int(p[0]) for p in padding] + [int(p[1]) for p in padding]


@lowers("conv2d")
def conv2d(g: Graph, call: Call) -> str:
    p = call.params
    kernel = list(call.shapes[1][2:])
    return g.node("Conv", call.names, kernel_shape=kernel, strides=list(p["stride"]),
                  pads=_pads(p["padding"]), dilations=list(p["dilation"]), group=int(p["groups"]))


@lowers("conv_transpose2d")
def conv_transpose2d(g: Graph, call: Call) -> str:
    """ConvTranspose; output_padding is what the traced output size adds to the formula."""
    p = call.params
    kernel = call.shapes[1][2:]
    in_hw, out_hw = call.shapes[0][2:], call.out_shape[2:]
    extra = []
    for i in range(2):
        (before, after), s, d = p["padding"][i], p["stride"][i], p["dilation"][i]
        natural = s * (in_hw[i] - 1) + d * (kernel[i] - 1) + 1 - before - after
        extra.append(int(out_hw[i] - natural))
    return g.node("ConvTranspose", call.names, kernel_shape=list(kernel),
                  strides=list(p["stride"]), pads=_pads(p["padding"]),
                  dilations=list(p["dilation"]), group=int(p["groups"]),
                  output_padding=extra if any(extra) else None)


@lowers("max_pool2d")
def max_pool2d(g: Graph, call: Call) -> str:
    """MaxPool; ceil_mode shows up in the traced padding (more at the end), and ONNX pads
    MaxPool with -inf as PyTorch does."""
    p = call.params
    dilation = list(p["dilation"])
    return g.node("MaxPool", call.names, kernel_shape=list(p["kernel"]),
                  strides=list(p["stride"]), pads=_pads(p["padding"]),
                  dilations=dilation if dilation != [1, 1] else None)


@lowers("window_sum")
def window_sum(g: Graph, call: Call) -> str:
    """The sum over each window (avg_pool divides it next): the zero-padded average × size."""
    p = call.params
    kernel = [int(k) for k in p["kernel"]]
    avg = g.node("AveragePool", call.names, kernel_shape=kernel, strides=list(p["stride"]),
                 pads=_pads(p["padding"]), count_include_pad=1)
    return g.node("Mul", [avg, g.const(kernel[0] * kernel[1], call.out_dtype)])


@lowers("embedding", varying=("indices",))
def embedding(g: Graph, call: Call) -> str:
    indices = call.params["indices"]
    idx = call.lookup(indices)
    return g.node("Gather", [call.names[0], g.cast(idx, indices.dtype, np.int64)], axis=0)


@lowers("adaptive_max_pool2d_indices")
def adaptive_max_indices(g: Graph, call: Call) -> str:
    """Where each window's maximum is, as a flat index into H·W: global windows only (an
    adaptive max pool to 1), the first maximum as PyTorch."""
    if tuple(call.params["out_hw"]) != (1, 1):
        raise NotImplementedError(f"{call.where()}: adaptive max pooling to an output size "
                                  f"other than 1 ({tuple(call.params['out_hw'])})")
    flat = g.node("Reshape", [call.names[0], g.ints([0, 0, -1])])
    return g.node("Reshape", [g.node("ArgMax", [flat], axis=2, keepdims=1), g.ints([0, 0, 1, 1])])


@lowers("pool_gather", varying=("indices",))
def pool_gather(g: Graph, call: Call) -> str:
    """The input at flat H·W indices (the max pools' values)."""
    indices = call.lookup(call.params["indices"])
    flat = g.node("Reshape", [call.names[0], g.ints([0, 0, -1])])
    picked = g.node("GatherElements", [flat, g.node("Reshape", [indices, g.ints([0, 0, -1])])],
                    axis=2)
    return g.node("Reshape", [picked, g.ints([0, 0] + list(call.out_shape[2:]))])
