"""One LSTM layer's recurrence as one op: ``lstm_layer``.

The input projection (``x W_ih^T + b_ih + b_hh`` for every step at once) is a
``linear`` before it; this op runs the time loop on arrays — per step one GEMM
``h W_hh^T`` into the gate buffer and a few in-place passes — instead of a dozen
recorded ops per step, and its first-order rule is backpropagation through time
on arrays: per step the gate gradients and one GEMM for the hidden state's, then
a single GEMM for ``W_hh``'s gradient over all steps.

Its output packs what the layer returns: ``Y`` of shape (T+1, B, H) with
``Y[t] = h_t`` in time order and ``Y[T] = c`` after the last step processed
(``reverse`` runs the steps from T-1 down to 0, for a bidirectional layer's
backward direction). When a node is recorded the forward also returns its gate
activations and cell states, which the node keeps for the rule (the registry's
``keeps``); without them (a retained graph's second backward) the rule reruns the
forward from the saved inputs.

The Tensor rules (used for higher-order gradients) recompute the layer with the
ordinary ops and differentiate that, so every order stays exact.
"""
from __future__ import annotations

from ..autograd.grad_mode import GRAD, enable_grad
from ..backends import NUMPY
from ..ops.elementwise import sigmoid, sigmoid_, tanh
from ..autograd.rule_namespace import records
from ..ops.registry import defgrad_joint, defop
from ..ops.join import narrow, stack, unbind
from ..tensor import Tensor

__all__ = ["lstm_layer"]


def _order(xp, a, reverse: bool):
    """``a`` (T, …) in processing order (a view)."""
    return a[::-1] if reverse else a


def _lstm_fwd(xp, gi, h0, c0, w, *, reverse):
    return _lstm_run(xp, gi, h0, c0, w, reverse)[0]


def _lstm_keep(xp, gi, h0, c0, w, *, needs, reverse):
    """The forward for a recorded node: also the activations the rule reuses."""
    return _lstm_run(xp, gi, h0, c0, w, reverse)


def _lstm_run(xp, gi, h0, c0, w, reverse):
    """``(Y, (acts, cs, tcs))``: the packed output, the gate activations and cell states."""
    t_len, batch, four_h = gi.shape
    n = four_h // 4
    wt = w.T
    acts = xp.empty((t_len, batch, four_h), dtype=gi.dtype)  # i, f, g, o after activation
    cs = xp.empty((t_len + 1, batch, n), dtype=gi.dtype)  # cs[k]: cell state before step k
    tcs = xp.empty((t_len, batch, n), dtype=gi.dtype)  # tanh of the cell state after step k
    out = xp.empty((t_len + 1, batch, n), dtype=gi.dtype)
    hs = _order(xp, out[:t_len], reverse)  # h after step k, in processing order
    gis = _order(xp, gi, reverse)
    cs[0] = c0
    h = h0
    # OpenBLAS runs w @ h.T (many rows, few columns) about twice as fast as h @ w.T here,
    # so the recurrent product goes to a (4H, B) buffer and is added in transposed
    rec = xp.empty((four_h, batch), dtype=gi.dtype) if xp is NUMPY else None
    for k in range(t_len):
        a = acts[k]
        if rec is not None:
            xp.matmul(w, h.T, out=rec)
            xp.add(rec.T, gis[k], out=a)
        else:
            xp.matmul(h, wt, out=a)
            a += gis[k]
        xp.tanh(a[:, 2 * n:3 * n], out=a[:, 2 * n:3 * n])
        sigmoid_(xp, a[:, :2 * n])
        sigmoid_(xp, a[:, 3 * n:])
        c = cs[k + 1]
        xp.multiply(a[:, n:2 * n], cs[k], out=c)
        c += a[:, :n] * a[:, 2 * n:3 * n]
        xp.tanh(c, out=tcs[k])
        xp.multiply(a[:, 3 * n:], tcs[k], out=hs[k])
        h = hs[k]
    out[t_len] = cs[t_len]
    return out, (acts, cs, tcs)


def _bptt(xp, gy, out, h0, w, reverse, acts, cs, tcs):
    """Gradients ``(gates, h0, c0, w_hh)`` of the layer for output gradient ``gy``."""
    t_len, batch, four_h = acts.shape
    n = four_h // 4
    hs = _order(xp, out[:t_len], reverse)
    gys = _order(xp, gy[:t_len], reverse)
    d_gates = xp.empty_like(acts)  # in processing order
    dc = xp.array(gy[t_len], dtype=acts.dtype, copy=True)
    dh_next = None
    for k in range(t_len - 1, -1, -1):
        a = acts[k]
        i, f, g, o = a[:, :n], a[:, n:2 * n], a[:, 2 * n:3 * n], a[:, 3 * n:]
        tc = tcs[k]
        dh = gys[k] if dh_next is None else gys[k] + dh_next
        d = d_gates[k]
        do = d[:, 3 * n:]
        xp.multiply(dh, tc, out=do)  # dh·tanh(c)
        dc += dh * o * (1 - tc * tc)
        do *= o * (1 - o)
        xp.multiply(dc, g, out=d[:, :n])
        d[:, :n] *= i * (1 - i)
        xp.multiply(dc, cs[k], out=d[:, n:2 * n])
        d[:, n:2 * n] *= f * (1 - f)
        xp.multiply(dc, i, out=d[:, 2 * n:3 * n])
        d[:, 2 * n:3 * n] *= 1 - g * g
        dc *= f
        dh_next = xp.matmul(w.T, d.T).T  # (not d @ w: the faster operand order, as above)
    # h before each step, in processing order: h0, then the outputs of the steps before
    h_prev = xp.empty((t_len, batch, n), dtype=acts.dtype)
    h_prev[0] = h0
    h_prev[1:] = hs[:t_len - 1]
    d_w = xp.matmul(d_gates.reshape(-1, four_h).T, h_prev.reshape(-1, n))
    d_gi = d_gates[::-1].copy() if reverse else d_gates
    return d_gi, xp.ascontiguousarray(dh_next), dc, d_w


def _lstm_grad(m, g, ans, gi, h0, c0, w, *, needs, reverse, kept=None):
    """The layer's derivative, all four inputs at once. On arrays: one pass of
    backpropagation through time (the kernel, on the activations the forward ``kept``
    for this node, or recomputed). Under
    create_graph: the gradient of :func:`reference`, the same layer written with ordinary
    ops, so that it is differentiable again; no second hand-written derivative."""
    if not records(m):
        if kept is None:
            kept = _lstm_run(m, gi, h0, c0, w, reverse)[1]
        return _bptt(m, g, ans, h0, w, reverse, *kept)
    from ..autograd.engine import grad
    create = GRAD.enabled  # off in anomaly mode without create_graph: a plain result
    inputs = (gi, h0, c0, w) if create else tuple(t.detach().requires_grad_() for t in (gi, h0, c0, w))
    with enable_grad():
        y = reference(*inputs, reverse)
        wanted = [t for t, need in zip(inputs, needs) if need]
        got = iter(grad(y, wanted, g, create_graph=create, allow_unused=True))
    return [next(got) if need else None for need in needs]


def reference(gi: Tensor, h0: Tensor, c0: Tensor, w: Tensor, reverse: bool) -> Tensor:
    """The layer with the ordinary ops: its (T+1, B, H) packed output."""
    n = h0.shape[-1]
    steps = unbind(gi, 0)
    order = range(len(steps) - 1, -1, -1) if reverse else range(len(steps))
    h, c = h0, c0
    hs = [None] * len(steps)
    wt = w.t()
    for t in order:
        gates = steps[t] + h @ wt
        s = sigmoid(gates)
        g = tanh(narrow(gates, -1, 2 * n, n))
        c = narrow(s, -1, n, n) * c + narrow(s, -1, 0, n) * g
        h = narrow(s, -1, 3 * n, n) * tanh(c)
        hs[t] = h
    return stack(hs + [c], 0)


lstm_layer_op = defop("lstm_layer", _lstm_fwd, saves_ans=True, keeps=_lstm_keep)
defgrad_joint(lstm_layer_op, 4, _lstm_grad)


def lstm_layer(gi: Tensor, h0: Tensor, c0: Tensor, w_hh: Tensor, reverse: bool = False) -> Tensor:
    """Run one LSTM layer over gate inputs ``gi`` (T, B, 4H): packed (T+1, B, H) output."""
    return lstm_layer_op(gi, h0, c0, w_hh, reverse=bool(reverse))
