"""Custom autograd Functions, with PyTorch's semantics: a subclass of :class:`Function` with
static ``forward`` and ``backward``, called as ``MyFn.apply(...)``.

>>> import chainrule as cr
>>> class Cube(cr.autograd.Function):
...     @staticmethod
...     def forward(ctx, x):
...         ctx.save_for_backward(x)
...         return x ** 3
...     @staticmethod
...     def backward(ctx, g):
...         (x,) = ctx.saved_tensors
...         return g * 3 * x ** 2
>>> x = cr.tensor([1.0, 2.0], requires_grad=True)
>>> y = Cube.apply(x)
>>> y.grad_fn.name()
'CubeBackward'
>>> y.sum().backward(); x.grad
tensor([ 3., 12.])

How it plugs into the engine (which knows only Nodes with per-input rules): one ``apply``
records one :class:`FunctionBackward` node whose ``op`` is a stand-in :class:`Op` made once
per Function class. Both backward walks reach the user's ``backward`` through that op:

* the engine calls ``op.joint`` once per node: with arrays (a first-order backward) it
  wraps them as Tensors, runs ``backward`` (grad mode is off there) and hands arrays back;
  with Tensors (``create_graph``, anomaly mode) it runs ``backward`` and hands them back;
* whoever reads one input's rule (``op.vjps[i]``) gets one that runs ``backward`` on the
  first call and serves the other inputs from its cached results.

The tensors given to ``ctx.save_for_backward`` become the node's ``saved`` tuple, so the
engine version-checks them, frees them after backward and refuses a second backward exactly
as for a built-in op.

The engine assumes one output per node. A Function with one differentiable output uses its
node as that output's ``grad_fn``. With several, each differentiable output gets a small
:class:`_OutputBackward` node (also named ``<Name>Backward``): it leaves the output's
gradient with the Function's node and sends that node a 0-d zero, so the Function's node
runs once, after the gradients of all of its outputs (it is older than those nodes, so both
walks run it after them). Unlike PyTorch, those outputs' ``grad_fn`` are distinct objects.
"""
from __future__ import annotations

import functools
import inspect
import weakref
from typing import Any, Callable

from .grad_mode import GRAD, no_grad
from .graph import _SEQUENCE, Node, SavedTensor, _tensor_class, accumulator_of
from ..backends import backend_of
from ..errors import BackwardError, ChainruleError, DTypeError, ShapeError, op_error
from .rule_namespace import TENSORS

__all__ = ["Function", "FunctionCtx", "once_differentiable"]


class FunctionCtx:
    """The ``ctx`` of one ``apply``: what ``forward`` (or ``setup_context``) leaves for
    ``backward``. Any other attribute may be set on it (``ctx.alpha = alpha``)."""

    to_save: tuple = ()
    dirty_tensors: tuple = ()
    non_differentiable: tuple = ()
    materialize_grads = True
    needs_input_grad: tuple = ()
    _unpacked = None  # the saved tensors while backward runs
    _node = None  # weak reference to the recorded node (None when nothing was recorded)

    def save_for_backward(self, *tensors) -> None:
        """Keep tensors (inputs, outputs or intermediates; None allowed) for ``backward``;
        an in-place change of one before backward makes backward raise."""
        Tensor = _tensor_class()
        for i, t in enumerate(tensors):
            if t is not None and not isinstance(t, Tensor):
                raise op_error(DTypeError, "save_for_backward", f"can only save tensors (or "
                               f"None), but argument {i} is of type {type(t).__name__}; keep other "
                               f"values as attributes of ctx (ctx.value = value)")
        self.to_save = tensors

    def save_for_forward(self, *tensors) -> None:
        """Accepted for compatibility; chainrule has no forward-mode AD for Functions."""
        self.saved_for_forward = tensors

    def mark_dirty(self, *tensors) -> None:
        """Declare inputs that ``forward`` modified in place (and returns)."""
        self.dirty_tensors = tensors

    def mark_non_differentiable(self, *tensors) -> None:
        """Declare outputs that get no gradient (they do not require grad)."""
        self.non_differentiable = tensors

    def set_materialize_grads(self, value: bool) -> None:
        """With False, ``backward`` gets None (not zeros) for outputs that got no gradient."""
        self.materialize_grads = bool(value)

    @property
    def saved_tensors(self) -> tuple:
        if self._unpacked is not None:
            return self._unpacked
        node = self._node() if self._node is not None else None
        if node is None:
            return tuple(self.to_save)
        if node.freed:
            raise op_error(BackwardError, node.name(), "trying to backward through the graph a "
                           "second time (or to read saved tensors after they were freed): saved "
                           "tensors are freed by backward() and autograd.grad(); pass "
                           "retain_graph=True to the first one if you need them again")
        return node._unpack_saved(GRAD.enabled)


class _RulesByIndex:
    """``op.vjps`` of a Function's op: a rule for input ``i``, for any ``i``."""

    __slots__ = ("_made",)

    def __init__(self) -> None:
        self._made: list = []

    def __getitem__(self, i: int):
        while len(self._made) <= i:
            self._made.append(functools.partial(_tensor_rule, len(self._made)))
        return self._made[i]


def _tensor_rule(i: int, m, g, ans, *saved, node):
    """The Tensor walk's rule for input ``i``: runs ``backward`` once per node run (on the
    first input asked for) and serves the other inputs from that result."""
    fn = node()
    cache = fn._cache
    # a new run: another incoming gradient, a changed one, another grad mode, or an index
    # that is not past the last one served (each run asks for inputs in increasing order)
    if cache is None or cache[0] is not g or cache[1] != g._vc.value \
            or cache[2] != GRAD.enabled or i <= cache[3]:
        cache = fn._cache = [g, g._vc.value, GRAD.enabled, i, fn._run_backward(g, True)]
    cache[3] = i
    result = cache[4][i]
    if i == fn._last_input:  # no later input will ask: do not keep the gradients alive
        fn._cache = None
    return result


def _joint_rule(m, g, ans, *saved, needs, node):
    """Every input's gradient from one ``backward`` call: arrays for arrays (``m`` a
    backend), Tensors for Tensors."""
    return node()._run_backward(g, m is TENSORS)


class FunctionBackward(Node):
    """The node of one ``Function.apply`` (a subclass named ``<Name>Backward`` per Function).

    Attributes it does not have are read from its ctx, as PyTorch's ``grad_fn`` of a custom
    Function is its ctx (``y.grad_fn.saved_tensors``, ``y.grad_fn.needs_input_grad``).
    """

    function: type = None  # the Function subclass (set on each generated subclass)

    def __init__(self, op, ctx: FunctionCtx, inputs: list, needs: list) -> None:
        self.op = op
        self.params = {"node": weakref.ref(self)}  # (weak: no cycle node → params → node)
        self.seq = next(_SEQUENCE)
        self.input_meta = tuple((t._data.shape, t._data.dtype) for t in inputs)
        self.next_nodes = tuple((t.grad_fn or t._accum or accumulator_of(t)) if need else None
                                for t, need in zip(inputs, needs))
        self.saved = None
        self.saved_ans = None
        self.freed = False
        self.ctx = ctx
        self._single = None  # the index of the one differentiable output, if one
        self._arrived = None  # several outputs: {output index: gradient}, see _OutputBackward
        self._saved_outputs = None  # several outputs: {saved index: output index}
        self._cache = None
        self._last_input = max((i for i, n in enumerate(self.next_nodes) if n is not None),
                               default=-1)

    def __getattr__(self, name: str):
        ctx = self.__dict__.get("ctx")
        if ctx is None or name.startswith("__"):
            raise AttributeError(name)
        return getattr(ctx, name)

    def _run_backward(self, g, tensor_level: bool) -> list:
        """Run the user's ``backward`` on this node's output gradient(s); one gradient (or
        None) per tensor input, as Tensors when ``tensor_level`` else arrays. (The engine
        version-checked the saved tensors before calling the rule.)"""
        Tensor = _tensor_class()
        ctx = self.ctx
        name = self.op.backward_name
        grads: list = [None] * len(ctx._out_meta)
        if self._single is not None:
            grads[self._single] = g
        else:
            arrived, self._arrived = self._arrived or {}, None
            for k, gk in arrived.items():
                grads[k] = gk
        incoming = [x._data if isinstance(x, Tensor) else x for x in grads if x is not None]
        for k, meta in enumerate(ctx._out_meta):
            if grads[k] is not None and not isinstance(grads[k], Tensor):
                grads[k] = Tensor._make(grads[k])
            elif grads[k] is None and meta is not None and ctx.materialize_grads:
                shape, dtype, xp = meta
                grads[k] = Tensor._make(xp.zeros(shape, dtype=dtype))
        ctx._unpacked = self._unpack_saved(GRAD.enabled)
        try:
            result = self._backward_fn()(ctx, *grads)
        finally:
            ctx._unpacked = None
        return self._checked(result, name, incoming, tensor_level)

    def _unpack_saved(self, with_graph: bool) -> tuple:
        """The saved tensors (version-checked), in the graph when ``with_graph``."""
        if self.saved is None:
            return ()
        out = [None if s is None else s.unpack(self, with_graph) for s in self.saved]
        if with_graph and self._saved_outputs:
            # output k of several: its history is an _OutputBackward into this node, made
            # afresh (a saved one would make a cycle node → saved → output node → node)
            Tensor = _tensor_class()
            out_op = _ops_of(self.function)[1]
            for j, k in self._saved_outputs.items():
                t = out[j]
                out[j] = Tensor._make(t._data, True, _OutputBackward(out_op, self, k, t._data.dtype),
                                      t._vc)
        return tuple(out)

    def _backward_fn(self) -> Callable:
        cls = self.function
        if cls.backward is not Function.backward:
            return cls.backward
        if cls.vjp is not Function.vjp:
            return cls.vjp
        raise op_error(NotImplementedError, self.name(), "you must implement either the backward "
                       "or vjp method of your custom autograd.Function to use it with "
                       "backward mode AD")

    def _checked(self, result, name: str, incoming: list, tensor_level: bool) -> list:
        """``backward``'s result, checked as PyTorch does, as one entry per tensor input."""
        Tensor = _tensor_class()
        ctx = self.ctx
        nargs = ctx._nargs
        if not isinstance(result, tuple):
            result = (result,)
        if len(result) > nargs and all(r is None for r in result[nargs:]):
            result = result[:nargs]  # extra trailing Nones are allowed
        if len(result) != nargs:
            raise op_error(BackwardError, name, f"returned an incorrect number of gradients "
                           f"(expected {nargs}, got {len(result)}): return one per argument of "
                           f"forward, None for those that need none")
        out = []
        positions = ctx._tensor_positions
        for p, r in enumerate(result):
            if p not in positions:
                if r is not None:
                    raise op_error(BackwardError, name, f"returned a gradient different than None "
                                   f"at position {p + 1}, but the corresponding forward input was "
                                   f"not a Tensor")
                continue
            i = len(out)
            if r is None:
                out.append(None)
                continue
            if not isinstance(r, Tensor):
                raise op_error(DTypeError, name, f"expected a Tensor or None as the gradient at "
                               f"position {p + 1}, got {type(r).__name__}")
            shape = self.input_meta[i][0]
            if tuple(r._data.shape) != tuple(shape) and not _expandable(shape, r._data.shape):
                raise op_error(ShapeError, name, f"returned an invalid gradient at index {i} - got "
                               f"{list(r._data.shape)} but expected shape compatible with "
                               f"{list(shape)}")
            data = r._data
            # a gradient handed on unchanged from a second output must not be summed into
            # in place later by the engine (which owns only fresh arrays): give it a copy
            if self._single is None and any(data is a for a in incoming) and not GRAD.enabled:
                r = Tensor._make(data.copy())
            out.append(r if tensor_level else r._data)
        return out


def _expandable(shape, target) -> bool:
    """True when ``shape`` broadcasts to ``target`` (so a gradient of ``target`` sums to it)."""
    if len(shape) > len(target):
        return False
    return all(s == t or s == 1 for s, t in zip(shape[::-1], target[::-1]))


class _OutputBackward(Node):
    """``grad_fn`` of output ``index`` of a Function with several differentiable outputs."""

    def __init__(self, op, core: FunctionBackward, index: int, dtype) -> None:
        self.op = op
        self.params = {"node": weakref.ref(core), "index": index}
        self._core = self.params["node"]
        self.seq = next(_SEQUENCE)  # newer than ``core``: runs before it in both walks
        self.input_meta = (((), dtype),)
        self.next_nodes = (core,)
        self.saved = None
        self.saved_ans = None
        self.freed = False

    def __getattr__(self, name: str):
        core = self.__dict__.get("_core")
        if core is None or name.startswith("__"):
            raise AttributeError(name)
        return getattr(core(), name)


def _deposit(core: FunctionBackward, index: int, g) -> None:
    arrived = core._arrived
    if arrived is None:
        arrived = core._arrived = {}
    prev = arrived.get(index)
    arrived[index] = g if prev is None else prev + g


def _output_rule(m, g, ans, *_, node, index):
    _deposit(node(), index, g)
    if m is TENSORS:
        return _tensor_class()._make(backend_of(g._data).zeros((), dtype=g._data.dtype))
    return m.zeros((), dtype=g.dtype)


def _ops_of(cls: type):
    """The stand-in ops (Function node, output node) and node class of a Function subclass,
    made once per class."""
    made = cls.__dict__.get("_chainrule_ops")
    if made is None:
        from ..ops.registry import Op  # (here: ops import this package)

        def no_forward(xp, *arrays, **params):
            raise ChainruleError(f"{cls.__name__}: a custom Function's node cannot rerun forward")
        name = f"{cls.__name__}Backward"
        op = Op(cls.__name__, no_forward)
        op.backward_name = name
        op.vjps = _RulesByIndex()
        op.array_rules = True
        op.joint = _joint_rule  # (the engine calls it: all inputs' gradients at once)
        out_op = Op(cls.__name__, no_forward)
        out_op.backward_name = name
        out_op.vjps = (_output_rule,)
        out_op.array_rules = True
        node_cls = type(name, (FunctionBackward,), {"function": cls, "__module__": cls.__module__})
        made = (op, out_op, node_cls)
        type.__setattr__(cls, "_chainrule_ops", made)
    return made


class Function:
    """Base class of custom autograd operations (see the module docstring for an example).

    Subclasses define ``forward(ctx, *args, **kwargs)`` (or ``forward(*args)`` plus
    ``setup_context(ctx, inputs, output)``) and ``backward(ctx, *grad_outputs)``, all static,
    and are called as ``MyFn.apply(*args)``. ``forward`` runs under ``no_grad``; ``backward``
    returns one gradient per argument of ``forward`` (None for non-tensors), and runs with
    grad mode on only under ``create_graph=True`` (so a backward written with tensor ops
    gives higher-order gradients).
    """

    def __call__(self, *args, **kwargs):
        raise op_error(ChainruleError, type(self).__name__, "legacy autograd function with "
                       "non-static forward method is not supported: make forward and backward "
                       "@staticmethods and call the class's apply(...)")

    @staticmethod
    def forward(ctx: FunctionCtx, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("You must implement the forward function for custom "
                                  "autograd.Function.")

    @staticmethod
    def setup_context(ctx: FunctionCtx, inputs: tuple, output: Any) -> None:
        raise NotImplementedError("setup_context is not implemented.")

    @staticmethod
    def backward(ctx: FunctionCtx, *grad_outputs: Any) -> Any:
        raise NotImplementedError("You must implement either the backward or vjp method for "
                                  "your custom autograd.Function to use it with backward mode AD.")

    @staticmethod
    def vjp(ctx: FunctionCtx, *grad_outputs: Any) -> Any:
        raise NotImplementedError("You must implement either the backward or vjp method for "
                                  "your custom autograd.Function to use it with backward mode AD.")

    @staticmethod
    def jvp(ctx: FunctionCtx, *grad_inputs: Any) -> Any:
        raise NotImplementedError("chainrule has no forward-mode AD for custom Functions")

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        """Run ``forward`` on ``args`` and, when grad mode is on and a tensor argument
        requires grad, record a ``<Name>Backward`` node for the outputs."""
        Tensor = _tensor_class()
        op, out_op, node_cls = _ops_of(cls)
        split = cls.setup_context is not Function.setup_context
        if split:  # as PyTorch: setup_context sees every argument, keywords bound by position
            bound = inspect.signature(cls.forward).bind(*args, **kwargs)
            bound.apply_defaults()
            args, kwargs = bound.args, {}
        elif kwargs:  # as PyTorch: keyword arguments become positional (one gradient each)
            args, kwargs = _by_position(cls, args, kwargs)
        ctx = FunctionCtx()
        positions = tuple(i for i, a in enumerate(args) if isinstance(a, Tensor))
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a._requires_grad for a in args)
        with no_grad():
            if split:
                output = cls.forward(*args, **kwargs)
                cls.setup_context(ctx, args, output)
            else:
                output = cls.forward(ctx, *args, **kwargs)
        if not (GRAD.enabled and True in ctx.needs_input_grad):
            return output
        return _record(ctx, op, out_op, node_cls, args, positions, output)


def _by_position(cls: type, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """``forward``'s keyword arguments moved into their positions (after ``ctx``); a gap
    left before the last one given is an error, as in PyTorch (defaults do not fill it)."""
    names = [p.name for p in inspect.signature(cls.forward).parameters.values()
             if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)][1:]
    placed = {names.index(k): kwargs.pop(k) for k in list(kwargs) if k in names}
    if not placed:
        return args, kwargs
    out = list(args)
    for i in range(len(args), max(placed) + 1):
        if i not in placed:
            raise op_error(TypeError, f"{cls.__name__}.apply", f"forward() missing required "
                           f"argument: {names[i]!r} (position {i}); pass it too, as keyword "
                           f"arguments become positional")
        out.append(placed[i])
    return tuple(out), kwargs


def _record(ctx: FunctionCtx, op, out_op, node_cls, args: tuple, positions: tuple, output):
    """Attach a node to ``output``'s differentiable tensors; returns the outputs."""
    Tensor = _tensor_class()
    name = op.backward_name
    is_tuple = isinstance(output, tuple)
    outs = list(output) if is_tuple else [output]
    dirty = {id(t) for t in ctx.dirty_tensors}
    nondiff = {id(t) for t in ctx.non_differentiable}
    returned = {id(o) for o in outs}
    if not dirty <= returned:
        raise op_error(ChainruleError, name, "some tensors marked dirty (mark_dirty) were not "
                       "returned by forward: return every tensor modified in place")
    inputs = [args[p] for p in positions]
    input_ids = {id(t) for t in inputs}
    final = {}  # id of what forward returned → the tensor apply returns
    for k, o in enumerate(outs):
        if not isinstance(o, Tensor):
            continue
        if id(o) in dirty:
            if o._requires_grad and o.grad_fn is None:
                raise op_error(ChainruleError, name, f"a leaf tensor that requires grad (shape "
                               f"{tuple(o.shape)}) was modified in place by forward (mark_dirty); "
                               f"clone() it first")
            if o._base is not None:
                raise op_error(ChainruleError, name, "mark_dirty of a view is not supported by "
                               "chainrule: modify (and return) its base, or clone() the view")
        elif id(o) in input_ids or o._base is not None:
            # an input returned as is, or a view made in forward: a new tensor sharing memory
            # and version counter, so that giving it a grad_fn leaves the input alone
            outs[k] = Tensor._make(o._data, False, None, o._vc)
        final[id(o)] = outs[k]
    ctx._out_meta = [(o._data.shape, o._data.dtype, backend_of(o._data)) if isinstance(o, Tensor)
                     else None for o in outs]
    ctx._nargs = len(args)
    ctx._tensor_positions = positions
    diff = [k for k, o in enumerate(output if is_tuple else (output,))
            if isinstance(o, Tensor) and o._data.dtype.kind in "fV" and id(o) not in nondiff]
    if not diff:
        return output
    node = node_cls(op, ctx, inputs, [t._requires_grad for t in inputs])
    if GRAD.anomaly:
        from .anomaly import record_stack
        node.trace = record_stack()
    if len(diff) == 1:
        node._single = diff[0]
        grad_fns = {diff[0]: node}
    else:
        grad_fns = {k: _OutputBackward(out_op, node, k, outs[k]._data.dtype) for k in diff}
    for k, fn in grad_fns.items():
        t = outs[k]
        t.grad_fn = fn
        t._requires_grad = True
        if t._views:  # (a dirty input): its views' histories now start at this node
            from ..ops.views import refresh_views
            refresh_views(t)
    if ctx.to_save:
        node.saved = tuple(_saved(t, final, outs, grad_fns) for t in ctx.to_save)
        if len(grad_fns) > 1:
            node._saved_outputs = {j: k for j, t in enumerate(ctx.to_save) for k in grad_fns
                                   if t is not None and final.get(id(t), t) is outs[k]}
    # the node holds ctx: ctx must not hold the outputs (which hold the node), or the graph
    # would live until the cycle collector ran
    ctx.to_save = ctx.dirty_tensors = ctx.non_differentiable = ()
    ctx._node = weakref.ref(node)
    return tuple(outs) if is_tuple else outs[0]


def _saved(t, final: dict, outs: list, grad_fns: dict):
    """The SavedTensor for one tensor given to ``save_for_backward``."""
    if t is None:
        return None
    t = final.get(id(t), t)
    for k, o in enumerate(outs):
        if o is t and k in grad_fns:  # a differentiable output: its history is this node
            return SavedTensor(t, True)  # (grad_fn None: see FunctionBackward._unpack_saved)
    return SavedTensor(t)


# ------------------------------------------------------------- once_differentiable --
def _delayed_error_op():
    from ..ops.registry import Op, defvjp

    def refuse(g, ans, x):
        raise op_error(BackwardError, "once_differentiable",
                       "trying to differentiate twice a function that was marked with "
                       "@once_differentiable")
    op = Op("delayed_error", lambda xp, x: x)
    op.backward_name = "DelayedError"
    defvjp(op, refuse)
    return op


_DELAYED: list = []


def once_differentiable(fn: Callable) -> Callable:
    """Decorate a Function's ``backward`` that is not itself differentiable: it runs under
    ``no_grad``, and differentiating its results (double backward) raises.

    >>> import chainrule as cr
    >>> class Exp(cr.autograd.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         y = x.exp(); ctx.save_for_backward(y); return y
    ...     @staticmethod
    ...     @cr.autograd.function.once_differentiable
    ...     def backward(ctx, g):
    ...         (y,) = ctx.saved_tensors; return g * y
    """
    @functools.wraps(fn)
    def wrapper(ctx, *args):
        with no_grad():
            outputs = fn(ctx, *args)
        if not GRAD.enabled:
            return outputs
        Tensor = _tensor_class()
        if not any(isinstance(a, Tensor) and a._requires_grad for a in args):
            return outputs
        if not _DELAYED:
            _DELAYED.append(_delayed_error_op())
        delayed = _DELAYED[0]

        def wrap(o):  # as PyTorch: a leaf that requires grad, through a node that refuses
            if isinstance(o, Tensor) and o._data.dtype.kind in "fV":
                return delayed(o.detach().requires_grad_(True))
            return o
        return tuple(map(wrap, outputs)) if isinstance(outputs, tuple) else wrap(outputs)
    return wrapper
