"""Whole recurrent modules (nn.LSTM, nn.GRU, nn.RNN) as ONNX's own LSTM/GRU/RNN nodes.

Why whole modules, not their ops: a trace of the ops unrolls the loop over time, so
the exported graph would only take the traced sequence length, and it would hold the
zero initial state as a constant of the traced batch size. ONNX's recurrent nodes take
any length and batch, and run in one kernel.
"""
from __future__ import annotations

import numpy as np

from ..nn.rnn import GRU, LSTM, RNN
from ._graph import Graph, UnsupportedOperatorError
from ._table import lowers_module

# PyTorch's gate blocks, reordered to ONNX's: LSTM i,f,g,o → i,o,f,c; GRU r,z,n → z,r,h
_GATES = {"LSTM": (0, 3, 1, 2), "GRU": (1, 0, 2), "RNN": (0,)}


def _reorder(w: np.ndarray, order) -> np.ndarray:
    blocks = np.split(w, len(order), axis=0)
    return np.concatenate([blocks[k] for k in order], axis=0)


def _weights(module, layer: int, dirs: int, order):
    """W, R, B of one layer, stacked over directions, in ONNX's layout."""
    ws, rs, bs = [], [], []
    for d in range(dirs):
        suffix = "_reverse" if d else ""
        w_ih = getattr(module, f"weight_ih_l{layer}{suffix}")._data
        w_hh = getattr(module, f"weight_hh_l{layer}{suffix}")._data
        if module.bias:
            b_ih = getattr(module, f"bias_ih_l{layer}{suffix}")._data
            b_hh = getattr(module, f"bias_hh_l{layer}{suffix}")._data
        else:
            b_ih = b_hh = np.zeros(w_ih.shape[0], w_ih.dtype)
        ws.append(_reorder(w_ih, order))
        rs.append(_reorder(w_hh, order))
        bs.append(np.concatenate([_reorder(b_ih, order), _reorder(b_hh, order)]))
    return np.stack(ws), np.stack(rs), np.stack(bs)


@lowers_module(LSTM, GRU, RNN)
def recurrent(g: Graph, event, value_of) -> list:
    """One ONNX node per layer; returns (tensor, value name) for the module's outputs."""
    m = event.module
    kind = "LSTM" if isinstance(m, LSTM) else "GRU" if isinstance(m, GRU) else "RNN"
    where = f"module '{event.path}' ({type(m).__name__})"
    if getattr(m, "proj_size", 0):
        raise UnsupportedOperatorError(f"chainrule.onnx.export: {where}: proj_size has no ONNX "
                                       "LSTM equivalent")
    args = list(event.args)
    x_t = args[0] if args else event.kwargs.get("input")
    hx = args[1] if len(args) > 1 else event.kwargs.get("hx")
    if not hasattr(x_t, "_data"):
        raise UnsupportedOperatorError(f"chainrule.onnx.export: {where}: only a tensor input is "
                                       f"exported (got {type(x_t).__name__}, e.g. a packed "
                                       "sequence)")
    batched = x_t.ndim == 3
    h0_t, c0_t = (hx if hx is not None else (None, None)) if kind == "LSTM" else (hx, None)

    def state(t):
        if t is None:
            return None
        name = value_of(t)
        return name if batched else g.node("Unsqueeze", [name, g.ints([1])])

    x = value_of(x_t)
    if not batched:
        x = g.node("Unsqueeze", [x, g.ints([1])])
    elif m.batch_first:
        x = g.node("Transpose", [x], perm=[1, 0, 2])
    h0, c0 = state(h0_t), state(c0_t)
    dirs = 2 if m.bidirectional else 1
    attrs = {"hidden_size": m.hidden_size,
             "direction": "bidirectional" if dirs == 2 else "forward"}
    if kind == "GRU":
        attrs["linear_before_reset"] = 1  # PyTorch applies r after the hidden product
    if kind == "RNN":
        attrs["activations"] = ["Relu" if m.nonlinearity == "relu" else "Tanh"] * dirs
    hs, cs = [], []
    layer_in = x
    for layer in range(m.num_layers):
        w, r, b = _weights(m, layer, dirs, _GATES[kind])
        prefix = f"{event.path or kind}.l{layer}"
        names = [g.initializer(a, g.fresh(f"{prefix}.{part}")) for a, part in
                 ((w, "W"), (r, "R"), (b, "B"))]

        def layer_state(s):
            if s is None:
                return None
            return g.node("Slice", [s, g.ints([layer * dirs]), g.ints([(layer + 1) * dirs]),
                                    g.ints([0])])
        inputs = [layer_in] + names + [None, layer_state(h0)]
        if kind == "LSTM":
            inputs.append(layer_state(c0))
        outs = g.node(kind, inputs, hint=prefix, outputs=3 if kind == "LSTM" else 2, **attrs)
        # Y is (T, dirs, B, H): to PyTorch's (T, B, dirs·H)
        y = g.node("Transpose", [outs[0]], perm=[0, 2, 1, 3])
        layer_in = g.node("Reshape", [y, g.ints([0, 0, -1])])
        hs.append(outs[1])
        if kind == "LSTM":
            cs.append(outs[2])
    out = layer_in
    if not batched:
        out = g.node("Squeeze", [out, g.ints([1])])
    elif m.batch_first:
        out = g.node("Transpose", [out], perm=[1, 0, 2])

    def final(states):
        s = states[0] if len(states) == 1 else g.node("Concat", states, axis=0)
        return s if batched else g.node("Squeeze", [s, g.ints([1])])
    out_t, state_t = event.output
    pairs = [(out_t, out)]
    if kind == "LSTM":
        pairs += [(state_t[0], final(hs)), (state_t[1], final(cs))]
    else:
        pairs.append((state_t, final(hs)))
    return pairs
