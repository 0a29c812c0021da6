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
from .capture import ArgTensor, Capture, TensorOut
from .checks import CheckFailed, _RaiseIfAny
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


# array makers whose result, never written, is the same at every replay (constant folding)
_FOLDABLE = {"np.ones", "np.zeros", "np.full", "np.arange", "np.eye", "np.identity",
             "np.linspace", "np.tri"}
# calls whose result shares the memory of an operand (writing it would write the operand)
_VIEWS = {".reshape", ".T", ".mT", ".transpose", ".view", ".__getitem__", ".swapaxes",
          ".squeeze", ".ravel", ".diagonal", ".real", ".imag", "np.reshape", "np.transpose",
          "np.swapaxes", "np.squeeze", "np.ravel", "np.broadcast_to", "np.expand_dims",
          "np.moveaxis", "np.asarray", "np.asanyarray", "np.ascontiguousarray", "as_strided",
          "np.diagonal", "np.atleast_1d", "np.atleast_2d", "np.atleast_3d"}


def fold_constants(capture: Capture, steps: list) -> tuple:
    """``(steps, {slot: value})``: makers from constants (``ones``, ``arange``) whose results
    are never written, viewed, stored or returned become constants made once."""
    unsafe = set()
    _slots_of(capture.result_template, unsafe)
    for step in steps:
        unsafe.update(step.writes)
        if step.kind != "call" or step.name in _VIEWS or step.name not in _FOLDABLE and \
                step.name.startswith("."):
            _slots_of(step.args, unsafe)  # (viewed, or given to Python that may keep it)
            _slots_of(step.kwargs, unsafe)
    folded, kept = {}, []
    for step in steps:
        if step.kind == "call" and step.name in _FOLDABLE and isinstance(step.outs, Ref) \
                and step.outs.slot not in unsafe and not _has_refs((step.args, step.kwargs)):
            value = step.fn(*_consts(step.args, capture), **_consts(step.kwargs, capture))
            value.flags.writeable = False  # (a write would be a bug: fail loudly)
            folded[step.outs.slot] = value
        else:
            kept.append(step)
    return kept, folded


def _has_refs(tpl) -> bool:
    found = set()
    _slots_of(tpl, found)
    return bool(found)


def _consts(tpl, capture):
    if isinstance(tpl, Const):
        return capture.recorder.consts[tpl.index]
    if isinstance(tpl, tuple):
        return tuple(_consts(t, capture) for t in tpl)
    if isinstance(tpl, list):
        return [_consts(t, capture) for t in tpl]
    if isinstance(tpl, dict):
        return {k: _consts(v, capture) for k, v in tpl.items()}
    return tpl


class Compiled:
    """A replayable step: ``run(args, kwargs)`` gives the step's result, or MISS."""

    def __init__(self, capture: Capture) -> None:
        rec = capture.recorder
        self.steps, folded = fold_constants(capture, live_steps(capture))
        names: dict = {"MISS": MISS, "_tensor": _tensor_out}
        self._names = names
        self._folded = folded
        for slot, value in folded.items():
            names[f"F{slot}"] = value
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
            for slot in used - folded.keys():
                last_use[slot] = n
        self._read = set(last_use) | keep
        # a check or guard that fails sends the call to eager: what the replay did before it
        # to tensors' memory, or to a generator, is undone first (saved as it goes)
        reruns = [n for n, step in enumerate(self.steps)
                  if step.kind == "check" and not isinstance(step.fn, _RaiseIfAny)]
        last_rerun = reruns[-1] if reruns else -1
        body = []
        for n, step in enumerate(self.steps):
            names[f"f{n}"] = step.fn
            if n < last_rerun:
                body += [f"undo.append((_put_back, v{slot}, v{slot}.copy()))"
                         for slot in step.undo]
                if step.kind == "draw":
                    body.append(f"undo.append((_set_rng, f{n}.refind, "
                                f"f{n}.refind().bit_generator.state))")
            args = ", ".join([self._expr(a, rec) for a in step.args] +
                             [f"{k}={self._expr(v, rec)}" for k, v in step.kwargs.items()])
            call = f"f{n}({args})"
            target = self._target(step.outs)
            body.append(f"{target} = {call}" if target and target != "_" else call)
            dead = sorted(slot for slot, last in last_use.items() if last == n and slot not in keep)
            if dead:
                body.append("del " + ", ".join(f"v{slot}" for slot in dead))
        if any(line.startswith("undo.") for line in body):
            names.update(_put_back=_put_back, _set_rng=_set_rng, CheckFailed=CheckFailed)
            lines += ["    undo = []", "    try:"] + [f"        {line}" for line in body] + [
                "    except CheckFailed:",
                "        for put, where, what in reversed(undo):",
                "            put(where, what)",
                "        raise"]
        else:
            lines += [f"    {line}" for line in body]
        lines.append(f"    return {self._result(capture.result_template, rec)}")
        self.source = "\n".join(lines) + "\n"
        exec(compile(self.source, "<chainrule.compile replay>", "exec"), names)
        self.run = names["replay"]

    # -- source pieces ---------------------------------------------------------------------
    def _fetch(self, slot: int, binding: tuple, meta: tuple) -> list:
        shape, dtype, strides = meta
        self._names[f"S{slot}"], self._names[f"D{slot}"] = shape, dtype
        self._names[f"T{slot}"] = strides
        if binding[0] == "arg":
            return [f"    v{slot} = {_arg_expr(binding[1])}._data"]
        self._names[f"W{slot}"] = binding[1]
        return [f"    t = W{slot}()",
                "    if t is None: return MISS",
                f"    v{slot} = t._data",
                f"    if v{slot}.shape != S{slot} or v{slot}.dtype != D{slot} "
                f"or v{slot}.strides != T{slot}: return MISS"]

    def _expr(self, tpl, rec) -> str:
        if isinstance(tpl, Ref):
            return f"F{tpl.slot}" if tpl.slot in self._folded else f"v{tpl.slot}"
        if isinstance(tpl, ArgTensor):
            return _arg_expr(tpl.path)
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


def _put_back(target, saved) -> None:
    target[...] = saved


def _set_rng(refind, state) -> None:
    refind().bit_generator.state = state


def _arg_expr(path: tuple) -> str:
    """Source for the argument at ``path``: ``A[0][1]`` (positional), ``K['x']`` (keyword)."""
    return ("A" if isinstance(path[0], int) else "K") + "".join(f"[{p!r}]" for p in path)


def _tensor_out(array, requires_grad: bool):
    if isinstance(array, np.generic):
        array = np.asarray(array)
    t = wrap_array(array)
    t._requires_grad = requires_grad
    return t
