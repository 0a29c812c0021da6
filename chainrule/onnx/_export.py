"""Build an ONNX model from a traced forward, and write it.

A dynamic axis is found by tracing twice: once with the given inputs, once with each
dynamic axis one longer. Shape params that differ between the two traces follow the
dynamic axis (a reshape's batch dim becomes 0 or -1); any other param that differs
means the graph depends on the axis' size in a way ONNX cannot express: an error.
"""
from __future__ import annotations

import inspect
import os
import tempfile

import numpy as np

from ..autograd.grad_mode import no_grad
from ..tensor import Tensor, wrap_array
# importing the lower_* modules fills the lowering tables
from . import lower_elementwise, lower_nn, lower_reduce, lower_rnn, lower_shape  # noqa: F401
from ._deps import onnx_modules
from ._graph import Graph, UnsupportedOperatorError, onnx_type
from ._table import LOWERINGS, MODULE_LOWERINGS, Call, describe_site
from ._trace import ModuleEvent, trace

DEFAULT_OPSET = 17
MIN_OPSET = 13  # axes of Squeeze/Unsqueeze/ReduceSum/Slice given as inputs


def _flatten(value) -> list:
    """The tensors of a (nested) output, in order."""
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _flatten(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _flatten(v)]
    return []


def _replace(value, by_id: dict):
    """``value`` with each tensor whose id is in ``by_id`` replaced (nesting kept)."""
    if isinstance(value, Tensor):
        return by_id.get(id(value), value)
    if isinstance(value, (tuple, list)):
        return type(value)(_replace(v, by_id) for v in value)
    if isinstance(value, dict):
        return {k: _replace(v, by_id) for k, v in value.items()}
    return value


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and \
            a.shape == b.shape and bool(np.array_equal(a, b))
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, slice) and isinstance(b, slice):
        return _same((a.start, a.stop, a.step), (b.start, b.stop, b.step))
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 (values without a plain ==: compare identity)
        return a is b


def _grown(t: Tensor, axes) -> Tensor:
    """``t`` one longer along each of ``axes`` (its first slice repeated): the 2nd trace."""
    array = t._data
    for axis in axes:
        array = np.concatenate([array, np.take(array, [0], axis=axis)], axis=axis)
    return wrap_array(np.ascontiguousarray(array))


def _axes_of(spec) -> dict:
    """dynamic_axes' entry for one name: {axis: dim name} or [axes] → {axis: name or None}."""
    if isinstance(spec, dict):
        return {int(k): v for k, v in spec.items()}
    return {int(k): None for k in spec}


class _Values:
    """Traced tensors → ONNX value names (inputs, parameters, op results, constants)."""

    def __init__(self, g: Graph, model) -> None:
        self.g = g
        self.by_tensor: dict[int, str] = {}
        self.by_array: dict[int, str] = {}
        self.keep: list = []  # holds every mapped tensor, so no id() is reused meanwhile
        self.params: dict[int, tuple] = {}
        for name, t in list(model.named_parameters()) + list(model.named_buffers()):
            if t is not None:
                self.params[id(t)] = self.params[id(t._data)] = (name, t)

    def set(self, t: Tensor, name: str) -> None:
        self.by_tensor[id(t)] = name
        self.by_array[id(t._data)] = name
        self.keep.append(t)

    def name(self, t: Tensor, where: str, other: Tensor | None = None) -> str:
        found = self.by_tensor.get(id(t)) or self.by_array.get(id(t._data))
        if found is not None:
            return found
        param = self.params.get(id(t)) or self.params.get(id(t._data))
        if param is not None:
            name = self.g.initializer(param[1]._data, self.g.fresh(param[0]))
        else:  # made inside forward (a scalar operand, a mask): a constant
            if other is not None and not _same(other._data, t._data):
                # a zeros(batch, …) or a Python number such as x.shape[0] in x.sum(0) / n
                raise UnsupportedOperatorError(
                    f"chainrule.onnx.export: {where}: a tensor made inside forward (shape "
                    f"{tuple(t.shape)}) depends on the size of a dynamic axis; compute it from "
                    "the inputs with tensor ops, or leave that axis static")
            name = self.g.const(t._data, hint="const")
        self.set(t, name)
        return name

    def array(self, array) -> str:
        """An array param (embedding's indices): the tensor it came from, else a constant."""
        found = self.by_array.get(id(array))
        if found is not None:
            return found
        return self.g.const(array, hint="indices")


def _run_traced(model, args, kwargs):
    with trace(model) as events:
        output = model(*args, **kwargs)
    return events, output


def build_model(model, args, kwargs=None, *, input_names=None, output_names=None,
                dynamic_axes=None, opset_version=None):
    """The ``onnx.ModelProto`` of ``model`` run on ``args`` (see :func:`chainrule.onnx.export`)."""
    onnx_mod = onnx_modules()
    helper = onnx_mod.helper
    opset = DEFAULT_OPSET if opset_version is None else int(opset_version)
    newest = onnx_mod.onnx.defs.onnx_opset_version()
    if not MIN_OPSET <= opset <= newest:
        raise ValueError(f"chainrule.onnx.export: opset_version must be from {MIN_OPSET} to "
                         f"{newest} (the installed onnx), got {opset}")
    if isinstance(args, Tensor):
        args = (args,)
    args = tuple(args)
    kwargs = dict(kwargs or {})
    if args and isinstance(args[-1], dict):  # PyTorch: a trailing dict holds keyword arguments
        kwargs.update(args[-1])
        args = args[:-1]
    # every tensor of the arguments (nested tuples too), keyed by its top-level argument
    inputs = [(k, t) for k, a in enumerate(args) for t in _flatten(a)] + \
        [(k, t) for k, a in kwargs.items() for t in _flatten(a)]
    names = _input_names(model, args, inputs, input_names)
    dynamic = {k: _axes_of(v) for k, v in (dynamic_axes or {}).items()}
    unknown = set(dynamic) - set(names) - set(output_names or [])
    if unknown:
        raise ValueError(f"chainrule.onnx.export: dynamic_axes names {sorted(unknown)} are "
                         f"neither input names {names} nor output names {output_names or []}")

    training = [(m, m.training) for m in model.modules()]
    model.eval()  # as PyTorch's export: dropout off, batch norm uses its running statistics
    try:
        with no_grad():
            events, output = _run_traced(model, args, kwargs)
            events_b = output_b = None
            if any(n in dynamic for n in names):
                grown = {id(t): _grown(t, dynamic[n]) for (_, t), n in zip(inputs, names)
                         if n in dynamic}
                args_b = _replace(args, grown)
                kwargs_b = _replace(kwargs, grown)
                events_b, output_b = _run_traced(model, args_b, kwargs_b)
                _check_aligned(events, events_b)
            g = Graph(opset)
            values = _Values(g, model)
            graph_inputs = []
            for (key, t), name in zip(inputs, names):
                values.set(t, g.reserve(name))
                graph_inputs.append(_value_info(helper, name, t, dynamic.get(name, {}), None))
            live = _live_events(events, output)
            for i, event in enumerate(events):
                if not live[i]:
                    continue
                other = events_b[i] if events_b is not None else None
                if isinstance(event, ModuleEvent):
                    _lower_module(g, values, event)
                else:
                    _lower_op(g, values, event, other)
            outs = _flatten(output)
            outs_b = _flatten(output_b) if output_b is not None else [None] * len(outs)
            out_names = list(output_names or [])
            if len(out_names) > len(outs):
                raise ValueError(f"chainrule.onnx.export: {len(out_names)} output_names for "
                                 f"{len(outs)} outputs")
            out_names += [f"output_{k}" for k in range(len(out_names), len(outs))]
            graph_outputs = []
            for t, t_b, name in zip(outs, outs_b, out_names):
                g.node("Identity", [values.name(t, "the output", t_b)])
                g.nodes[-1].output[0] = g.reserve(name)
                graph_outputs.append(_value_info(helper, name, t, dynamic.get(name, {}), t_b))
    finally:
        for m, mode in training:
            m.training = mode
    graph = helper.make_graph(g.nodes, type(model).__name__, graph_inputs, graph_outputs,
                              initializer=g.initializers)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="chainrule")
    onnx_mod.checker.check_model(proto)
    return proto


def _arrays_in(value) -> list:
    """The arrays inside an op's params (embedding's indices, an index tuple's arrays)."""
    if isinstance(value, np.ndarray):
        return [value]
    if isinstance(value, (tuple, list)):
        return [a for v in value for a in _arrays_in(v)]
    return []


def _live_events(events, output) -> list[bool]:
    """Which events the outputs depend on. The others (a ``bool(mask.any())`` check that
    steers Python, a value only printed) are left out of the graph, as PyTorch's tracer
    does; so an op without a lowering there is no error."""
    needed = {id(t) for t in _flatten(output)} | {id(t._data) for t in _flatten(output)}
    live = [False] * len(events)
    for i in range(len(events) - 1, -1, -1):
        event = events[i]
        if isinstance(event, ModuleEvent):
            outs, ins = _flatten(event.output), _flatten((event.args, event.kwargs))
            arrays = []
        else:
            outs, ins = [event.output], list(event.inputs)
            arrays = [a for v in event.params.values() for a in _arrays_in(v)]
        if any(id(t) in needed or id(t._data) in needed for t in outs):
            live[i] = True
            needed.update(id(t) for t in ins)
            needed.update(id(t._data) for t in ins)
            needed.update(id(a) for a in arrays)
    return live


def _input_names(model, args, inputs, given) -> list[str]:
    if given is not None:
        given = list(given)
        if len(given) > len(inputs):
            raise ValueError(f"chainrule.onnx.export: {len(given)} input_names for "
                             f"{len(inputs)} tensor inputs")
    try:
        positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        params = [p.name for p in inspect.signature(model.forward).parameters.values()
                  if p.kind in positional]
    except (TypeError, ValueError):
        params = []
    names = []
    keys = [key for key, _ in inputs]
    for k, key in enumerate(keys):
        alone = keys.count(key) == 1  # a lone tensor argument is named after its parameter
        if given is not None and k < len(given):
            names.append(given[k])
        elif isinstance(key, str) and alone:
            names.append(key)
        elif isinstance(key, int) and alone and key < len(params):
            names.append(params[key])
        else:
            names.append(f"input_{k}")
    return names


def _value_info(helper, name: str, t: Tensor, axes: dict, other: Tensor | None):
    """A graph input/output's type; dynamic dims (named, or differing traces) are symbolic."""
    dims: list = list(t.shape)
    for k in range(len(dims)):
        if k in axes:
            dims[k] = axes[k] or f"{name}_dynamic_axes_{k + 1}"
        elif other is not None and other.shape[k] != t.shape[k]:
            dims[k] = f"{name}_dim_{k}"
    return helper.make_tensor_value_info(name, onnx_type(t._data.dtype), dims)


def _check_aligned(events, events_b) -> None:
    def kinds(evs):
        return [type(e.module).__name__ if isinstance(e, ModuleEvent) else e.op for e in evs]
    a, b = kinds(events), kinds(events_b)
    if a != b:
        at = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        raise UnsupportedOperatorError(
            "chainrule.onnx.export: the forward runs different ops when a dynamic axis changes "
            f"size (op #{at}: {a[at] if at < len(a) else 'end'} vs "
            f"{b[at] if at < len(b) else 'end'}); Python control flow on a dynamic size cannot "
            "be exported: leave that axis static")


def _lower_op(g: Graph, values: _Values, event, other) -> None:
    where = describe_site(event.op, event.path, event.module_type)
    entry = LOWERINGS.get(event.op)
    if entry is None:
        raise UnsupportedOperatorError(
            f"chainrule.onnx.export: no ONNX lowering for {where}; supported ops: "
            "see chainrule.onnx.supported_ops()")
    fn, varying = entry
    others = other.inputs if other is not None else [None] * len(event.inputs)
    names = [values.name(t, where, o) for t, o in zip(event.inputs, others)]

    def call_of(ev, names):
        return Call(ev.op, names, [tuple(t.shape) for t in ev.inputs],
                    [t._data.dtype for t in ev.inputs], ev.params, tuple(ev.output.shape),
                    ev.output._data.dtype, ev.path, ev.module_type, lookup=values.array)
    call = call_of(event, names)
    if other is not None:
        call.other = call_of(other, names)
        for key, value in event.params.items():
            if key not in varying and not _same(value, other.params.get(key)):
                raise UnsupportedOperatorError(
                    f"chainrule.onnx.export: {where}: its argument {key}={value!r} depends on "
                    "the size of a dynamic axis; leave that axis static")
    try:
        out = fn(g, call)
    except NotImplementedError as e:
        raise UnsupportedOperatorError(f"chainrule.onnx.export: {e}") from None
    values.set(event.output, out)


def _lower_module(g: Graph, values: _Values, event) -> None:
    fn = MODULE_LOWERINGS[type(event.module)]
    where = f"module '{event.path}' ({type(event.module).__name__})"
    for t, name in fn(g, event, lambda t: values.name(t, where)):
        values.set(t, name)


def write_atomically(data: bytes, f) -> None:
    """Write ``data`` to the path ``f`` through a temporary file and a rename (a crash leaves
    the old file or none, never half a model), or to the file object ``f``."""
    if hasattr(f, "write"):
        f.write(data)
        return
    path = os.fspath(f)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".onnx-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
