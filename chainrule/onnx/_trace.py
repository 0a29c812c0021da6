"""Record the ops (and whole recurrent modules) one forward runs, for ONNX export.

The op registry's ``OBSERVER`` sees (op, inputs, result) but not the op's params
(axes, shapes, strides), which a lowering needs; so while tracing, ``Op.__call__`` is
wrapped to record them, and put back when the block ends (even on an error).
Modules with a lowering of their own (LSTM, GRU, RNN) are recorded as one event:
forward hooks pause op recording inside them. Not thread-safe: ops other threads run
meanwhile would be recorded too (as with the registry's OBSERVER).
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

from ..ops.registry import Op
from ._table import MODULE_LOWERINGS


@dataclass
class OpEvent:
    op: str
    inputs: tuple
    params: dict
    output: object
    path: str         # the innermost module running it ("" for the model itself)
    module_type: str  # that module's class name


@dataclass
class ModuleEvent:
    module: object
    args: tuple
    kwargs: dict
    output: object
    path: str


class _State:
    active = False  # read by chainrule.onnx.is_in_onnx_export


STATE = _State()


@contextmanager
def trace(model):
    """Collect the events of the forwards run inside the block (a list, filled in place)."""
    events: list = []
    paths: list[tuple] = [("", type(model).__name__)]
    paused = [0]
    original = Op.__call__

    def traced_call(op, *inputs, **params):
        out = original(op, *inputs, **params)
        if not paused[0]:
            events.append(OpEvent(op.name, inputs, params, out, *paths[-1]))
        return out

    handles = []
    for path, module in model.named_modules():
        whole = type(module) in MODULE_LOWERINGS

        def pre(mod, args, kwargs, path=path, whole=whole):
            if whole and not paused[0]:
                events.append(ModuleEvent(mod, args, kwargs, None, path))
            paths.append((path, type(mod).__name__))
            if whole:
                paused[0] += 1

        def post(mod, args, kwargs, output, path=path, whole=whole):
            paths.pop()
            if whole:
                paused[0] -= 1
                if not paused[0]:  # the event made in pre: fill in the output
                    for event in reversed(events):
                        if isinstance(event, ModuleEvent) and event.module is mod:
                            event.output = output
                            break

        handles.append(module.register_forward_pre_hook(pre, prepend=True, with_kwargs=True))
        handles.append(module.register_forward_hook(post, with_kwargs=True, always_call=True))
    Op.__call__ = traced_call
    STATE.active = True
    try:
        yield events
    finally:
        Op.__call__ = original
        STATE.active = False
        for handle in handles:
            handle.remove()
