"""Record the ops (and whole recurrent modules) one forward runs, for ONNX export.

Ops are seen through the registry's observers (``registry.observe_ops``: each op with its
inputs, params — axes, shapes, strides, which a lowering needs — and output), removed when
the block ends, even on an error. Modules with a lowering of their own (LSTM, GRU, RNN) are
recorded as one event: forward hooks pause op recording inside them. Not thread-safe: ops
other threads run meanwhile would be recorded too.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

from ..ops.registry import observe_ops
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

    def record(op, inputs, params, out):
        if not paused[0]:
            events.append(OpEvent(op.name, inputs, params, out, *paths[-1]))

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
    observing = observe_ops(record)
    STATE.active = True
    try:
        yield events
    finally:
        observing.remove()
        STATE.active = False
        for handle in handles:
            handle.remove()
