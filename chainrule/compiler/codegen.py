"""A captured tape as one Python function: the plan and the replay.

The plan drops the calls whose results nothing uses (dead values: the eager step computes
things only its bookkeeping reads) and keeps everything that writes, draws or calls out.
The replay is generated source, one line per call, every array a local variable:
no Tensor, no Node, no dispatch, and an array is freed as soon as its last reader ran.
``Compiled.source`` is that source, for the curious and for ``explain``.
"""
from __future__ import annotations

import numpy as np

from ..tensor import wrap_array
from .capture import Capture, TensorOut
from .traced import Const, Ref

MISS = object()  # what a replay returns when a guard fails before it did anything


def live_steps(capture: Capture) -> list:
    """The steps a replay must run, in order (dead-value elimination, backwards)."""
    rec = capture.recorder
    live = set()
    _slots_of(capture.result_template, live)
    kept = []
    for step in reversed(rec.steps):
        outs = set()
        _slots_of(step.outs, outs)
        effects = step.kind != "call" or step.writes or not outs
        if effects or outs & live:
            kept.append(step)
            _slots_of(step.args, live)
            _slots_of(step.kwargs, live)
            live.update(step.writes)
    kept.reverse()
    return kept


def _slots_of(tpl, into: set) -> None:
    if isinstance(tpl, (Ref, TensorOut)):
        into.add(tpl.slot)
    elif isinstance(tpl, (tuple, list)):
        for t in tpl:
            _slots_of(t, into)
    elif isinstance(tpl, dict):
        for t in tpl.values():
            _slots_of(t, into)


class Compiled:
    """A replayable step: ``run(args, kwargs)`` gives the step's result, or MISS."""

    def __init__(self, capture: Capture) -> None:
        rec = capture.recorder
        self.steps = live_steps(capture)
        self.recorded = len(rec.steps)
        names: dict = {"MISS": MISS, "_tensor": _tensor_out}
        self._names = names
        lines = ["def replay(A, K):"]
        for slot, binding in zip(rec.input_slots, rec.inputs):
            lines += self._fetch(slot, binding, rec.slot_meta[slot])
        keep = set()
        _slots_of(capture.result_template, keep)
        last_use = {}  # slot → the last step that reads it (then it is deleted: freed early)
        for n, step in enumerate(self.steps):
            used = set()
            _slots_of(step.args, used)
            _slots_of(step.kwargs, used)
            for slot in used:
                last_use[slot] = n
        self._read = set(last_use) | keep
        for n, step in enumerate(self.steps):
            names[f"f{n}"] = step.fn
            args = ", ".join([self._expr(a, rec) for a in step.args] +
                             [f"{k}={self._expr(v, rec)}" for k, v in step.kwargs.items()])
            call = f"f{n}({args})"
            target = self._target(step.outs)
            lines.append(f"    {target} = {call}" if target and target != "_" else f"    {call}")
            dead = sorted(slot for slot, last in last_use.items() if last == n and slot not in keep)
            if dead:
                lines.append("    del " + ", ".join(f"v{slot}" for slot in dead))
        lines.append(f"    return {self._result(capture.result_template, rec)}")
        self.source = "\n".join(lines) + "\n"
        exec(compile(self.source, "<chainrule.compile replay>", "exec"), names)
        self.run = names["replay"]

    # -- source pieces ---------------------------------------------------------------------
    def _fetch(self, slot: int, binding: tuple, meta: tuple) -> list:
        shape, dtype = meta
        self._names[f"S{slot}"], self._names[f"D{slot}"] = shape, dtype
        if binding[0] == "arg":
            path = binding[1]
            expr = ("A" if isinstance(path[0], int) else "K") + "".join(f"[{p!r}]" for p in path)
            return [f"    v{slot} = {expr}._data"]
        self._names[f"W{slot}"] = binding[1]
        return [f"    t = W{slot}()",
                "    if t is None: return MISS",
                f"    v{slot} = t._data",
                f"    if v{slot}.shape != S{slot} or v{slot}.dtype != D{slot}: return MISS"]

    def _expr(self, tpl, rec) -> str:
        if isinstance(tpl, Ref):
            return f"v{tpl.slot}"
        if isinstance(tpl, Const):
            self._names[f"c{tpl.index}"] = rec.consts[tpl.index]
            return f"c{tpl.index}"
        if isinstance(tpl, tuple):
            inner = ", ".join(self._expr(t, rec) for t in tpl)
            return f"({inner},)" if tpl else "()"
        if isinstance(tpl, list):
            return "[" + ", ".join(self._expr(t, rec) for t in tpl) + "]"
        if isinstance(tpl, dict):
            return "{" + ", ".join(f"{k!r}: {self._expr(v, rec)}" for k, v in tpl.items()) + "}"
        if tpl is None or isinstance(tpl, (bool, int, str)):
            return repr(tpl)
        name = f"k{len(self._names)}"
        self._names[name] = tpl
        return name

    def _target(self, outs) -> str:
        if outs is None:
            return ""
        if isinstance(outs, Ref):
            return f"v{outs.slot}" if outs.slot in self._read else "_"
        if isinstance(outs, (tuple, list)):
            if not outs:
                return "_"
            return "(" + ", ".join(self._target(o) or "_" for o in outs) + ",)"
        return "_"

    def _result(self, tpl, rec) -> str:
        if isinstance(tpl, TensorOut):
            return f"_tensor(v{tpl.slot}, {tpl.requires_grad})"
        if isinstance(tpl, Const):
            self._names[f"c{tpl.index}"] = rec.consts[tpl.index]
            return f"c{tpl.index}"
        if isinstance(tpl, tuple):
            return "(" + "".join(self._result(t, rec) + ", " for t in tpl) + ")"
        if isinstance(tpl, list):
            return "[" + ", ".join(self._result(t, rec) for t in tpl) + "]"
        if isinstance(tpl, dict):
            return "{" + ", ".join(f"{k!r}: {self._result(v, rec)}" for k, v in tpl.items()) + "}"
        return "None"


def _tensor_out(array, requires_grad: bool):
    if isinstance(array, np.generic):
        array = np.asarray(array)
    t = wrap_array(array)
    t._requires_grad = requires_grad
    return t
