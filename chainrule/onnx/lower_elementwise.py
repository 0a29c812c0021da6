"""Lowerings of elementwise ops: arithmetic, comparisons, activations, casts."""
from __future__ import annotations

import math

import numpy as np

from ._graph import Graph, onnx_type
from ._table import Call, lowers

# registry name → ONNX op of the same meaning, for ops whose inputs share the output dtype
_ARITHMETIC = {"add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "maximum": "Max",
               "minimum": "Min", "pow": "Pow", "remainder": "Mod", "floor_divide": "Div"}
_COMPARISON = {"gt": "Greater", "lt": "Less", "ge": "GreaterOrEqual", "le": "LessOrEqual",
               "eq": "Equal"}
_LOGICAL = {"bitwise_and": "And", "bitwise_or": "Or", "bitwise_xor": "Xor"}
_UNARY = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "exp": "Exp", "log": "Log",
          "sqrt": "Sqrt", "abs": "Abs", "neg": "Neg", "erf": "Erf", "sin": "Sin", "cos": "Cos",
          "floor": "Floor", "ceil": "Ceil", "sign": "Sign", "reciprocal": "Reciprocal",
          "clone": "Identity"}


def _same_dtype(g: Graph, call: Call, dtype) -> list[str]:
    """The inputs, each cast to ``dtype`` where it differs (ONNX ops do not promote)."""
    return [g.cast(n, d, dtype) for n, d in zip(call.names, call.dtypes)]


@lowers(*_ARITHMETIC)
def arithmetic(g: Graph, call: Call) -> str:
    a, b = _same_dtype(g, call, call.out_dtype)
    if call.op == "remainder":  # Python's sign rule (the divisor's): fmod=0 for integers only
        if call.out_dtype.kind == "f":  # a - floor(a / b) * b
            return g.node("Sub", [a, g.node("Mul", [g.node("Floor", [g.node("Div", [a, b])]), b])])
        return g.node("Mod", [a, b], fmod=0)
    out = g.node(_ARITHMETIC[call.op], [a, b])
    if call.op == "floor_divide" and call.out_dtype.kind == "f":
        out = g.node("Floor", [out])
    return out


@lowers(*_COMPARISON, "ne")
def comparison(g: Graph, call: Call) -> str:
    a, b = _same_dtype(g, call, np.result_type(*call.dtypes))
    if call.op == "ne":
        return g.node("Not", [g.node("Equal", [a, b])])
    return g.node(_COMPARISON[call.op], [a, b])


@lowers(*_LOGICAL)
def logical(g: Graph, call: Call) -> str:
    if call.out_dtype != np.bool_:
        raise NotImplementedError(f"{call.where()}: only boolean operands are exported")
    return g.node(_LOGICAL[call.op], call.names)


@lowers("bitwise_not", "logical_not")
def logical_not(g: Graph, call: Call) -> str:
    return g.node("Not", [g.cast(call.names[0], call.dtypes[0], np.bool_)])


@lowers(*_UNARY)
def unary(g: Graph, call: Call) -> str:
    return g.node(_UNARY[call.op], call.names)


@lowers("rsqrt")
def rsqrt(g: Graph, call: Call) -> str:
    return g.node("Reciprocal", [g.node("Sqrt", call.names)])


@lowers("square")
def square(g: Graph, call: Call) -> str:
    return g.node("Mul", [call.names[0], call.names[0]])


@lowers("pow_scalar")
def pow_scalar(g: Graph, call: Call) -> str:
    exponent = g.const(call.params["exponent"], call.out_dtype)
    return g.node("Pow", [call.names[0], exponent])


@lowers("to_dtype")
def to_dtype(g: Graph, call: Call) -> str:
    return g.node("Cast", call.names, to=onnx_type(call.params["dtype"]))


@lowers("silu")
def silu(g: Graph, call: Call) -> str:
    x = call.names[0]
    return g.node("Mul", [x, g.node("Sigmoid", [x])])


@lowers("gelu")
def gelu(g: Graph, call: Call) -> str:
    """0.5·x·(1 + erf(x/√2)), or the tanh form; spelled out (ONNX's Gelu needs opset 20)."""
    x, dt = call.names[0], call.out_dtype
    half, one = g.const(0.5, dt), g.const(1.0, dt)
    if call.params.get("approximate", "none") == "tanh":
        cube = g.node("Mul", [g.node("Mul", [x, x]), x])
        inner = g.node("Add", [x, g.node("Mul", [cube, g.const(0.044715, dt)])])
        t = g.node("Tanh", [g.node("Mul", [inner, g.const(math.sqrt(2 / math.pi), dt)])])
    else:
        t = g.node("Erf", [g.node("Div", [x, g.const(math.sqrt(2.0), dt)])])
    return g.node("Mul", [g.node("Mul", [x, half]), g.node("Add", [t, one])])


@lowers("leaky_relu")
def leaky_relu(g: Graph, call: Call) -> str:
    return g.node("LeakyRelu", call.names, alpha=float(call.params["negative_slope"]))


@lowers("elu")
def elu(g: Graph, call: Call) -> str:
    return g.node("Elu", call.names, alpha=float(call.params["alpha"]))


@lowers("softplus")
def softplus(g: Graph, call: Call) -> str:
    """log(1 + exp(βx))/β, and x itself where βx > threshold (as PyTorch)."""
    x, dt = call.names[0], call.out_dtype
    beta, threshold = float(call.params["beta"]), float(call.params["threshold"])
    bx = x if beta == 1.0 else g.node("Mul", [x, g.const(beta, dt)])
    soft = g.node("Softplus", [bx])
    if beta != 1.0:
        soft = g.node("Div", [soft, g.const(beta, dt)])
    if math.isinf(threshold):
        return soft
    return g.node("Where", [g.node("Greater", [bx, g.const(threshold, dt)]), x, soft])


@lowers("clamp")
def clamp(g: Graph, call: Call) -> str:
    dt = call.out_dtype
    lo, hi = call.params.get("min"), call.params.get("max")
    return g.node("Clip", [call.names[0], None if lo is None else g.const(lo, dt),
                           None if hi is None else g.const(hi, dt)])


@lowers("clamp_tensor")
def clamp_tensor(g: Graph, call: Call) -> str:
    x, lo, hi = _same_dtype(g, call, call.out_dtype)
    return g.node("Min", [g.node("Max", [x, lo]), hi])


@lowers("where")
def where(g: Graph, call: Call) -> str:
    cond = g.cast(call.names[0], call.dtypes[0], np.bool_)
    a = g.cast(call.names[1], call.dtypes[1], call.out_dtype)
    b = g.cast(call.names[2], call.dtypes[2], call.out_dtype)
    return g.node("Where", [cond, a, b])
