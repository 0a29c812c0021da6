"""Recurrent layers — ``RNN``, ``LSTM``, ``GRU`` — and their one-step cells, as PyTorch has them.

Parameter names, shapes, gate order (LSTM ``i, f, g, o``; GRU ``r, z, n``) and the
initialisation U(-1/sqrt(hidden), 1/sqrt(hidden)) are PyTorch's, so a PyTorch state
dict loads unchanged. The input projection of every time step is one matmul per
layer and direction; only the recurrent part loops over time.

>>> import chainrule as cr
>>> lstm = cr.nn.LSTM(4, 3, num_layers=2, batch_first=True)
>>> out, (h, c) = lstm(cr.randn(2, 5, 4))
>>> tuple(out.shape), tuple(h.shape), tuple(c.shape)
((2, 5, 3), (2, 2, 3), (2, 2, 3))
"""
from __future__ import annotations

import math
import warnings

from ..autograd.grad_mode import no_grad
from ..creation import empty, zeros
from ..errors import DTypeError, ShapeError, op_error
from ..ops.elementwise import sigmoid, tanh
from ..ops.activations import relu
from ..ops.join import cat, narrow, split, stack, unbind
from ..tensor import Tensor
from ._lstm import lstm_layer
from .functional._dropout import dropout
from .functional._linear import linear
from . import _args
from .module import Module
from .parameter import Parameter

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


# ------------------------------------------------------------ one time step --
# Each step takes ``gi`` — the input's projection for this step, with the biases
# that can be added outside the recurrence already in it — and the state.

def _tanh_step(gi: Tensor, h: Tensor, w_hh_t: Tensor, b_hh, w_hr_t) -> Tensor:
    return tanh(gi + h @ w_hh_t)


def _relu_step(gi: Tensor, h: Tensor, w_hh_t: Tensor, b_hh, w_hr_t) -> Tensor:
    return relu(gi + h @ w_hh_t)


def _lstm_step(gi: Tensor, state, w_hh_t: Tensor, b_hh, w_hr_t):
    h, c = state
    gates = gi + h @ w_hh_t
    n = c.shape[-1]
    # one sigmoid over all four gates (the g slice is unused) is fewer ops than three
    s = sigmoid(gates)
    i, f, o = narrow(s, -1, 0, n), narrow(s, -1, n, n), narrow(s, -1, 3 * n, n)
    g = tanh(narrow(gates, -1, 2 * n, n))
    c = f * c + i * g
    h = o * tanh(c)
    if w_hr_t is not None:
        h = h @ w_hr_t
    return h, c


def _gru_step(gi: Tensor, h: Tensor, w_hh_t: Tensor, b_hh, w_hr_t) -> Tensor:
    gh = h @ w_hh_t
    if b_hh is not None:  # b_hn sits inside r * (...): it cannot be folded into gi
        gh = gh + b_hh
    n = h.shape[-1]
    rz = sigmoid(narrow(gi, -1, 0, 2 * n) + narrow(gh, -1, 0, 2 * n))
    r, z = narrow(rz, -1, 0, n), narrow(rz, -1, n, n)
    cand = tanh(narrow(gi, -1, 2 * n, n) + r * narrow(gh, -1, 2 * n, n))
    return cand + z * (h - cand)


_STEP = {"RNN_TANH": _tanh_step, "RNN_RELU": _relu_step, "LSTM": _lstm_step, "GRU": _gru_step}


def _input_bias(mode: str, b_ih, b_hh):
    """The bias added to the input projection: both biases, except GRU's b_hh (see _gru_step)."""
    if b_ih is None:
        return None
    return b_ih if mode == "GRU" else b_ih + b_hh


def _project(x: Tensor, w: Tensor, b) -> Tensor:
    """``x @ w.T + b`` for every time step at once: one fused linear, one 2-D GEMM."""
    return linear(x, w, b)


def _time_steps(x: Tensor) -> list:
    """The T slices of ``x`` along dim 0.

    The gradient of a slice is padded to the whole tensor, so T plain slices cost
    O(T²) in backward; slicing √T chunks first brings that to O(T^1.5).
    """
    t = x.shape[0]
    if t <= 16:
        return list(unbind(x, 0))
    steps = []
    for chunk in split(x, math.isqrt(t - 1) + 1, 0):
        steps.extend(unbind(chunk, 0))
    return steps


# ------------------------------------------------------------------ layers --
class RNNBase(Module):
    """Shared machinery of RNN, LSTM and GRU: parameters, shape checks, the layer loop."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None, dtype=None) -> None:
        super().__init__()
        name = {"RNN_TANH": "RNN", "RNN_RELU": "RNN"}.get(mode, mode)
        if not isinstance(dropout, (int, float)) or not 0 <= dropout <= 1 or isinstance(dropout, bool):
            raise op_error(ValueError, name, f"dropout should be a number in [0, 1] giving the "
                           f"probability of an element to be zeroed, got {dropout!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"{name}: dropout={dropout} has no effect with num_layers=1: dropout is "
                          "applied between layers (to every layer's output but the last)",
                          stacklevel=3)
        for what, v in (("input_size", input_size), ("hidden_size", hidden_size),
                        ("num_layers", num_layers)):
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise op_error(ValueError, name, f"{what} must be a positive integer, got {v!r}")
        if proj_size < 0 or (proj_size and mode != "LSTM"):
            raise op_error(ValueError, name, f"proj_size must be 0 (or, for LSTM only, positive "
                           f"and less than hidden_size), got {proj_size}")
        if proj_size >= hidden_size:
            raise op_error(ValueError, name, f"proj_size ({proj_size}) has to be smaller than "
                           f"hidden_size ({hidden_size})")
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        gate_size = _GATES[mode] * hidden_size
        real_hidden = proj_size or hidden_size
        directions = 2 if bidirectional else 1
        self._flat_weights_names = []
        for layer in range(num_layers):
            layer_in = input_size if layer == 0 else real_hidden * directions
            for suffix in ("", "_reverse")[:directions]:
                shapes = {f"weight_ih_l{layer}{suffix}": (gate_size, layer_in),
                          f"weight_hh_l{layer}{suffix}": (gate_size, real_hidden)}
                if bias:
                    shapes[f"bias_ih_l{layer}{suffix}"] = (gate_size,)
                    shapes[f"bias_hh_l{layer}{suffix}"] = (gate_size,)
                if proj_size:
                    shapes[f"weight_hr_l{layer}{suffix}"] = (proj_size, hidden_size)
                for pname, shape in shapes.items():
                    setattr(self, pname, Parameter(empty(*shape, dtype=dtype, device=device)))
                    self._flat_weights_names.append(pname)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as PyTorch."""
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0.0
        with no_grad():
            for p in self.parameters():
                p.uniform_(-bound, bound)

    def flatten_parameters(self) -> None:
        """Nothing to do (PyTorch packs weights for cuDNN here); kept so PyTorch code runs."""

    @property
    def all_weights(self) -> list:
        """The parameters grouped per layer and direction, in PyTorch's order."""
        per = len(self._flat_weights_names) // (self.num_layers * (2 if self.bidirectional else 1))
        names = self._flat_weights_names
        return [[getattr(self, n) for n in names[i:i + per]] for i in range(0, len(names), per)]

    def _weights(self, layer: int, suffix: str):
        get = self._parameters.get
        return (get(f"weight_ih_l{layer}{suffix}"), get(f"weight_hh_l{layer}{suffix}"),
                get(f"bias_ih_l{layer}{suffix}"), get(f"bias_hh_l{layer}{suffix}"),
                get(f"weight_hr_l{layer}{suffix}"))

    @property
    def _name(self) -> str:
        return type(self).__name__

    # -- checks ---------------------------------------------------------------
    def _check_input(self, input: Tensor) -> bool:
        if not isinstance(input, Tensor):
            raise op_error(TypeError, self._name, f"expected a Tensor input, got "
                           f"{type(input).__name__} (PackedSequence is not supported)")
        if input.ndim not in (2, 3):
            raise op_error(ShapeError, self._name, f"expected input to be 2-D (seq_len, "
                           f"input_size) unbatched or 3-D {self._layout()} batched, got shape "
                           f"{tuple(input.shape)}")
        if input.shape[-1] != self.input_size:
            raise op_error(ShapeError, self._name, f"input.size(-1) must be equal to input_size: "
                           f"expected {self.input_size}, got {input.shape[-1]} (input shape "
                           f"{tuple(input.shape)})")
        w = self.weight_ih_l0
        if input.dtype != w.dtype:
            raise op_error(DTypeError, self._name, f"input dtype {input.dtype.name} does not match "
                           f"the parameters' dtype {w.dtype.name}; convert one, e.g. "
                           f"module.to({input.dtype!r}) or input.to({w.dtype!r})")
        return input.ndim == 3

    def _layout(self) -> str:
        return "(batch, seq_len, input_size)" if self.batch_first else "(seq_len, batch, input_size)"

    def _check_state(self, h: Tensor, what: str, size: int, batch: int, batched: bool) -> None:
        expected = (self.num_layers * (2 if self.bidirectional else 1),) + \
            ((batch,) if batched else ()) + (size,)
        if not isinstance(h, Tensor) or tuple(h.shape) != expected:
            got = tuple(h.shape) if isinstance(h, Tensor) else type(h).__name__
            raise op_error(ShapeError, self._name, f"expected {what} of shape {expected} "
                           f"(num_layers * num_directions, {'batch, ' if batched else ''}"
                           f"{'proj_size' if size == self.proj_size else 'hidden_size'}), got {got}")

    # -- the layer loop ---------------------------------------------------------
    def _run(self, x: Tensor, hx, cx):
        """``x``: (T, B, input_size); ``hx``/``cx``: (layers*dirs, B, ·) or None (LSTM only cx)."""
        step = _STEP[self.mode]
        directions = ("", "_reverse") if self.bidirectional else ("",)
        h_n, c_n = [], []
        layer_input = x
        for layer in range(self.num_layers):
            outs = []
            for d, suffix in enumerate(directions):
                w_ih, w_hh, b_ih, b_hh, w_hr = self._weights(layer, suffix)
                k = layer * len(directions) + d
                state = hx[k] if cx is None else (hx[k], cx[k])
                proj = _project(layer_input, w_ih, _input_bias(self.mode, b_ih, b_hh))
                if self.mode == "LSTM" and w_hr is None and proj.shape[0]:
                    # the fused layer: the time loop and its backward run on arrays
                    packed = lstm_layer(proj, *state, w_hh, reverse=bool(suffix))
                    t_len = proj.shape[0]
                    outs.append(narrow(packed, 0, 0, t_len))
                    h_n.append(packed[0 if suffix else t_len - 1])
                    c_n.append(packed[t_len])
                    continue
                gi = _time_steps(proj)
                w_hh_t = w_hh.t()
                w_hr_t = w_hr.t() if w_hr is not None else None
                b_rec = b_hh if self.mode == "GRU" else None
                seq = [None] * len(gi)
                for t in (reversed(range(len(gi))) if suffix else range(len(gi))):
                    state = step(gi[t], state, w_hh_t, b_rec, w_hr_t)
                    seq[t] = state if cx is None else state[0]
                outs.append(stack(seq, 0))
                if cx is None:
                    h_n.append(state)
                else:
                    h_n.append(state[0])
                    c_n.append(state[1])
            layer_input = outs[0] if len(outs) == 1 else cat(outs, -1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = dropout(layer_input, self.dropout, True)
        return layer_input, stack(h_n, 0), (stack(c_n, 0) if c_n else None)

    def _prepare(self, input: Tensor):
        """(T, B, I) input, the batch size, and whether the input was batched."""
        batched = self._check_input(input)
        if not batched:
            input = input.unsqueeze(1)
        elif self.batch_first:
            input = input.transpose(0, 1)
        return input, input.shape[1], batched

    def _zeros(self, x: Tensor, size: int) -> Tensor:
        layers = self.num_layers * (2 if self.bidirectional else 1)
        return zeros(layers, x.shape[1], size, dtype=x.dtype, device=x.device)

    def _finish(self, out: Tensor, batched: bool) -> Tensor:
        if not batched:
            return out.squeeze(1)
        return out.transpose(0, 1) if self.batch_first else out

    def _state_in(self, h, what: str, size: int, batch: int, batched: bool, x: Tensor) -> Tensor:
        if h is None:
            return self._zeros(x, size)
        self._check_state(h, what, size, batch, batched)
        return h if batched else h.unsqueeze(1)

    def forward(self, input: Tensor, hx: Tensor | None = None):
        x, batch, batched = self._prepare(input)
        h0 = self._state_in(hx, "hx", self.hidden_size, batch, batched, x)
        out, h_n, _ = self._run(x, h0, None)
        return self._finish(out, batched), (h_n if batched else h_n.squeeze(1))

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class RNN(RNNBase):
    """Elman RNN: ``h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)`` (or relu).

    Returns ``(output, h_n)``: output (T, B, D*hidden) — (B, T, ·) with batch_first —
    and h_n (D*num_layers, B, hidden).

    >>> import chainrule as cr
    >>> rnn = cr.nn.RNN(3, 5, num_layers=2, bidirectional=True)
    >>> out, h = rnn(cr.randn(7, 2, 3))
    >>> tuple(out.shape), tuple(h.shape)
    ((7, 2, 10), (4, 2, 5))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, device=None, dtype=None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise op_error(ValueError, "RNN", f"nonlinearity must be 'tanh' or 'relu', got "
                           f"{nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)


class LSTM(RNNBase):
    """Long short-term memory; gates ``i, f, g, o`` stacked in that order in the weights.

    ``forward(input, (h_0, c_0))`` returns ``(output, (h_n, c_n))``. With ``proj_size``
    the hidden state is projected by ``weight_hr_l{k}`` (PyTorch's LSTMP).

    >>> import chainrule as cr
    >>> lstm = cr.nn.LSTM(3, 4)
    >>> tuple(lstm.weight_ih_l0.shape), tuple(lstm.weight_hh_l0.shape)
    ((16, 3), (16, 4))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, device=None, dtype=None) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, device=device, dtype=dtype)

    def forward(self, input: Tensor, hx=None):
        x, batch, batched = self._prepare(input)
        if hx is None:
            h0 = c0 = None
        elif isinstance(hx, (tuple, list)) and len(hx) == 2:
            h0, c0 = hx
        else:
            raise op_error(TypeError, "LSTM", "expected hx to be a tuple (h_0, c_0), got "
                           f"{type(hx).__name__}")
        h0 = self._state_in(h0, "h_0", self.proj_size or self.hidden_size, batch, batched, x)
        c0 = self._state_in(c0, "c_0", self.hidden_size, batch, batched, x)
        out, h_n, c_n = self._run(x, h0, c0)
        if not batched:
            h_n, c_n = h_n.squeeze(1), c_n.squeeze(1)
        return self._finish(out, batched), (h_n, c_n)


class GRU(RNNBase):
    """Gated recurrent unit; gates ``r, z, n`` stacked in that order in the weights.

    ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``, ``h' = (1 - z) * n + z * h``.

    >>> import chainrule as cr
    >>> gru = cr.nn.GRU(3, 4, batch_first=True)
    >>> out, h = gru(cr.randn(2, 6, 3))
    >>> tuple(out.shape), tuple(h.shape)
    ((2, 6, 4), (1, 2, 4))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device=None, dtype=None) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device=device, dtype=dtype)


# ------------------------------------------------------------------- cells --
class RNNCellBase(Module):
    """One time step of a recurrent layer: parameters ``weight_ih``, ``weight_hh``,
    ``bias_ih``, ``bias_hh``."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, bias: bool = True,
                 device=None, dtype=None) -> None:
        super().__init__()
        self.mode = mode
        self.input_size = _args.size(input_size, "input_size", type(self).__name__)
        self.hidden_size = _args.size(hidden_size, "hidden_size", type(self).__name__)
        self.bias = bias
        gate_size = _GATES[mode] * hidden_size
        self.weight_ih = Parameter(empty(gate_size, input_size, dtype=dtype, device=device))
        self.weight_hh = Parameter(empty(gate_size, hidden_size, dtype=dtype, device=device))
        if bias:
            self.bias_ih = Parameter(empty(gate_size, dtype=dtype, device=device))
            self.bias_hh = Parameter(empty(gate_size, dtype=dtype, device=device))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0.0
        with no_grad():
            for p in self.parameters():
                p.uniform_(-bound, bound)

    def _check(self, input: Tensor, states) -> bool:
        name = type(self).__name__
        if not isinstance(input, Tensor) or input.ndim not in (1, 2):
            got = tuple(input.shape) if isinstance(input, Tensor) else type(input).__name__
            raise op_error(ShapeError, name, f"expected input to be 1-D (input_size) or 2-D "
                           f"(batch, input_size), got {got}")
        if input.shape[-1] != self.input_size:
            raise op_error(ShapeError, name, f"input has inconsistent input_size: got "
                           f"{input.shape[-1]}, expected {self.input_size} (input shape "
                           f"{tuple(input.shape)})")
        if input.dtype != self.weight_ih.dtype:
            raise op_error(DTypeError, name, f"input dtype {input.dtype.name} does not match the "
                           f"parameters' dtype {self.weight_ih.dtype.name}")
        expected = tuple(input.shape[:-1]) + (self.hidden_size,)
        for what, s in states:
            if s is not None and (not isinstance(s, Tensor) or tuple(s.shape) != expected):
                got = tuple(s.shape) if isinstance(s, Tensor) else type(s).__name__
                raise op_error(ShapeError, name, f"expected {what} of shape {expected} to go with "
                               f"input of shape {tuple(input.shape)}, got {got}")
        return input.ndim == 2

    def _state(self, s, x: Tensor, batched: bool) -> Tensor:
        if s is None:
            return zeros(x.shape[0], self.hidden_size, dtype=x.dtype, device=x.device)
        return s if batched else s.unsqueeze(0)

    def _gi(self, x: Tensor) -> Tensor:
        gi = x @ self.weight_ih.t()
        b = _input_bias(self.mode, self.bias_ih, self.bias_hh)
        return gi if b is None else gi + b

    def _step(self, x: Tensor, state):
        b_rec = self.bias_hh if self.mode == "GRU" else None
        return _STEP[self.mode](self._gi(x), state, self.weight_hh.t(), b_rec, None)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity!r}"
        return s


class RNNCell(RNNCellBase):
    """One Elman step: ``h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)`` (or relu).

    >>> import chainrule as cr
    >>> cell = cr.nn.RNNCell(3, 4)
    >>> tuple(cell(cr.randn(2, 3)).shape)
    (2, 4)
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device=None, dtype=None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise op_error(ValueError, "RNNCell", f"nonlinearity must be 'tanh' or 'relu', got "
                           f"{nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, bias, device=device, dtype=dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        batched = self._check(input, [("hx", hx)])
        x = input if batched else input.unsqueeze(0)
        h = self._step(x, self._state(hx, x, batched))
        return h if batched else h.squeeze(0)


class LSTMCell(RNNCellBase):
    """One LSTM step; ``forward(input, (h, c))`` returns ``(h', c')``.

    >>> import chainrule as cr
    >>> h, c = cr.nn.LSTMCell(3, 4)(cr.randn(2, 3))
    >>> tuple(h.shape), tuple(c.shape)
    ((2, 4), (2, 4))
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__("LSTM", input_size, hidden_size, bias, device=device, dtype=dtype)

    def forward(self, input: Tensor, hx=None):
        if hx is not None and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
            raise op_error(TypeError, "LSTMCell", "expected hx to be a tuple (h, c), got "
                           f"{type(hx).__name__}")
        h0, c0 = hx if hx is not None else (None, None)
        batched = self._check(input, [("h", h0), ("c", c0)])
        x = input if batched else input.unsqueeze(0)
        h, c = self._step(x, (self._state(h0, x, batched), self._state(c0, x, batched)))
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    """One GRU step: ``h' = (1 - z) * n + z * h``.

    >>> import chainrule as cr
    >>> tuple(cr.nn.GRUCell(3, 4)(cr.randn(3)).shape)
    (4,)
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__("GRU", input_size, hidden_size, bias, device=device, dtype=dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        batched = self._check(input, [("hx", hx)])
        x = input if batched else input.unsqueeze(0)
        h = self._step(x, self._state(hx, x, batched))
        return h if batched else h.squeeze(0)
