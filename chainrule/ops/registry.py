"""The op registry: every op is declared once, with its forward and its VJP rules.

An op's forward works on raw arrays through the backend ``xp``. Each derivative is
one rule per input, written once against a namespace ``m`` (see autograd/rule_namespace.py):
the engine runs it on arrays (``m`` the backend) for a first-order backward and on
Tensors (``m`` = ``TENSORS``) under ``create_graph``, where the same line records a
graph for higher orders. Broadcasting and dtype casts are undone by the engine, not
by the rules.

    exp = defop("exp", lambda xp, x: xp.exp(x), saves=(), saves_ans=True)
    defgrad(exp, lambda m, g, ans, x: g * ans)

A rule whose fast form is a kernel calls a backward op (``relu_grad``,
``conv2d_weight``) through :meth:`Op.on`; that op has rules of its own.
"""
from __future__ import annotations

import sys
from contextlib import contextmanager

from .. import _mldtypes
from .._fp import loud as fp_loud, quiet as fp_quiet
from ..autograd.grad_mode import GRAD
from ..autograd.graph import SAVE_HOOKS, Node, RemovableHandle, VersionCounter
from ..backends import NUMPY, backend_of
from ..backends.registry import REGISTERED
from ..tensor import Tensor, wrap_array
from ..autograd.rule_namespace import TENSORS
from .view_meta import register_view
from ..errors import (BackwardError, DeviceError, DTypeError, IndexingError, ShapeError,
                      describe, op_error)

REGISTRY: dict[str, "Op"] = {}
_new_object = object.__new__
_NDARRAY = NUMPY.ndarray

# an Op's ``view`` when its output may be a view or a copy (reshape): checked per call
MAY_COPY = "may copy"
# set of op names applied while a test traces coverage (None: not tracing)
TRACE: set | None = None
# _notify_observers while any observer is registered (observe_ops), else None: the hot
# path tests this one global and pays nothing when no one is watching
OBSERVER = None
_OP_OBSERVERS: list = []
# once a bfloat16 tensor exists, chainrule._mldtypes.forward: ops compute bfloat16 in float32
BF16_FORWARD = None


def _compute_low_precision_in_float32() -> None:
    global BF16_FORWARD
    BF16_FORWARD = _mldtypes.forward


_mldtypes.when_used(_compute_low_precision_in_float32)


class Op:
    """An op: a forward on arrays, one VJP rule per differentiable tensor input."""

    __slots__ = ("name", "forward", "vjps", "rules_complete", "array_rules", "joint", "saves",
                 "saves_ans", "differentiable", "view", "explain", "backward_name", "nondiff_reason",
                 "reads", "saves_for", "lazy", "keeps")

    def __init__(self, name: str, forward, *, saves=None, saves_ans: bool = False,
                 differentiable: bool = True, view: bool | str = False, explain=None,
                 nondiff_reason: str | None = None, reads=None, lazy=None, keeps=None) -> None:
        self.name = name
        self.forward = forward
        # one rule per input: rule(m, g, ans, *inputs, **params) (see defgrad)
        self.vjps: tuple = ()
        # n when all n inputs have a rule, else -1: a call with at most that many inputs
        # skips the check that each input needing grad has one
        self.rules_complete = -1
        # True when the rules run on arrays too (defgrad); False: written on Tensors only
        # (defvjp), so even a first-order backward passes them Tensors
        self.array_rules = False
        self.joint = None  # all inputs' rules in one call that shares work (see defgrad_joint)
        self.saves = saves  # indices of inputs the rules need; None = all
        # reads[i]: the inputs input i's rule reads. With it, a node saves only what the
        # rules of inputs that need grad will read (x*w with x data saves w only)
        self.reads = reads
        self.saves_for: dict = {}  # needs-grad tuple → inputs to save (filled by the graph)
        self.saves_ans = saves_ans
        self.differentiable = differentiable
        self.view = view
        self.explain = explain
        self.nondiff_reason = nondiff_reason
        self.backward_name = "".join(p.capitalize() for p in name.split("_")) + "Backward"
        # a backward op made of zeros and one placement (pad_dim, index_put_zeros): what
        # ``on`` returns on arrays instead of running the forward, an IndexedGrad that the
        # engine adds into place (only ever a rule's returned value, never computed with)
        self.lazy = lazy
        # keeps(xp, *arrays, needs=(bool, …), **params) -> (out, kept): the forward run when a
        # node will be recorded, which also returns work its joint rule can reuse (conv's
        # columns). The node holds ``kept`` (``node.kept``) and the engine hands it to the
        # joint rule once, as ``kept=`` (None there: recompute), then drops it
        self.keeps = keeps

    def __call__(self, *inputs, **params):
        """Run the op on tensors and, when grad mode is on, record a Node for backward."""
        op = self
        # the hot path of every op: kept flat on purpose (no helper calls for NumPy inputs)
        if TRACE is not None:
            TRACE.add(op.name)
        n = len(inputs)
        try:  # (Python 3.11 runs a list comprehension as a function call: spelled out for 1 and 2)
            arrays = (inputs[0]._data,) if n == 1 else (inputs[0]._data, inputs[1]._data) if n == 2 \
                else tuple([t._data for t in inputs])
        except (AttributeError, IndexError):
            bad = [type(t).__name__ for t in inputs if not isinstance(t, Tensor)]
            raise op_error(DTypeError, op.name, f"expected tensors as inputs, got {', '.join(bad)}") from None
        if type(arrays[0]) is _NDARRAY and (n == 1 or type(arrays[1]) is _NDARRAY and (
                n == 2 or all(type(a) is _NDARRAY for a in arrays))):
            xp = NUMPY
        else:
            xp = first_backend(inputs, op.name)
            if xp is not NUMPY and _NDARRAY in [type(a) for a in arrays]:  # CPU scalars, as PyTorch:
                inputs = tuple([Tensor._make(xp.from_host(t._data)) if type(t._data) is _NDARRAY
                                else t for t in inputs])  # (copied over, for the rules too)
                arrays = tuple([t._data for t in inputs])
        quiet = fp_quiet()  # inf/nan without NumPy's warnings, as PyTorch (see chainrule._fp)
        kept = None
        try:
            if op.keeps is not None and GRAD.enabled:
                out, kept = _keeping_forward(op, xp, inputs, arrays, params)
            elif BF16_FORWARD is None or op.view:  # (a view only reinterprets memory: any dtype)
                out = op.forward(xp, *arrays, **params)
            else:
                out = BF16_FORWARD(op, xp, arrays, params)
        except Exception as e:  # turn array-library errors into ones that name the op
            raise forward_error(op, inputs, params, e) from None
        finally:
            fp_loud(quiet)
        if type(out) is not _NDARRAY and not isinstance(out, xp.ndarray) and \
                not backend_of(out).is_array(out):  # (an array of another device: to_device)
            out = xp.asarray(out)  # NumPy returns scalars for full reductions: keep 0-d arrays
        if op.view and (op.view is not MAY_COPY or xp.may_share_memory(out, arrays[0])):
            first = inputs[0]
            result = wrap_array(out, first._vc)
            register_view(result, first, op, params)
        else:  # wrap_array, inline
            result = _new_object(Tensor)
            result._data = out
            result._requires_grad = False
            result.grad_fn = None
            result._vc = VersionCounter()
        if GRAD.enabled and op.differentiable and out.dtype.kind in "fV":  # (V: bfloat16)
            needs = (inputs[0]._requires_grad, inputs[1]._requires_grad) if n == 2 else \
                (inputs[0]._requires_grad,) if n == 1 else tuple([t._requires_grad for t in inputs])
            if True in needs:
                if n > op.rules_complete:
                    _check_rules(op, inputs, needs)
                node = Node(op, params, inputs, needs, result)
                if kept is not None:
                    node.kept = kept
                if GRAD.anomaly:
                    from ..autograd.anomaly import record_stack
                    node.trace = record_stack()
                result._requires_grad = True
                result.grad_fn = node
        if OBSERVER is not None:
            OBSERVER(op, inputs, params, result)
        return result

    def on(self, m, *args, **params):
        """The op at the level of the rule namespace ``m``: its forward on arrays (``m``
        a backend: nothing recorded), or the op itself on Tensors (``m`` = ``TENSORS``).
        How a rule calls a backward op (a kernel with rules of its own)."""
        if m is TENSORS:
            return self(*args, **params)
        if TRACE is not None:
            TRACE.add(self.name)
        if self.lazy is not None:
            return self.lazy(m, *args, **params)
        return self.forward(m, *args, **params)

    def __repr__(self) -> str:
        return f"<op {self.name}>"


def _keeping_forward(op: Op, xp, inputs, arrays, params):
    """``(out, kept)``: ``op.keeps`` when a node will hold what it keeps (an input requires
    grad), else the plain forward. Nothing is kept under saved-tensor hooks: they decide
    where saved data lives (checkpointing drops it), and kept arrays would bypass them;
    nor for bfloat16/float16 inputs (computed in float32 by BF16_FORWARD)."""
    if BF16_FORWARD is not None and any(a.dtype.kind == "V" or (a.dtype.itemsize == 2 and
                                            a.dtype.kind == "f") for a in arrays):
        return BF16_FORWARD(op, xp, arrays, params), None
    needs = tuple([t._requires_grad for t in inputs])
    if True in needs and not SAVE_HOOKS:
        return op.keeps(xp, *arrays, needs=needs, **params)
    return op.forward(xp, *arrays, **params), None


class _OpObserverHandle(RemovableHandle):
    def remove(self) -> None:
        global OBSERVER
        super().remove()
        if not _OP_OBSERVERS:
            OBSERVER = None


def _notify_observers(op, inputs, params, result) -> None:
    for fn in list(_OP_OBSERVERS):
        fn(op, inputs, params, result)


def observe_ops(fn) -> RemovableHandle:
    """Call ``fn(op, inputs, params, result)`` after every op applied to tensors, until the
    returned handle is removed (``diagnostics.record`` and ONNX export watch ops this way).
    Observers run in the order they were registered; not thread-safe.

    >>> import chainrule as cr
    >>> seen = []
    >>> with observe_ops(lambda op, inputs, params, out: seen.append(op.name)):
    ...     _ = cr.ones(2) * 3
    >>> seen
    ['mul']
    """
    global OBSERVER
    _OP_OBSERVERS.append(fn)
    OBSERVER = _notify_observers
    return _OpObserverHandle(_OP_OBSERVERS, fn)


@contextmanager
def trace_op_names():
    """Collect the names of the ops applied inside the block (the op-coverage tests use it).

    >>> import chainrule as cr
    >>> with trace_op_names() as names:
    ...     _ = cr.ones(2).exp()
    >>> sorted(names)
    ['exp']
    """
    global TRACE
    previous, names = TRACE, set()
    TRACE = names
    try:
        yield names
    finally:
        if previous is not None:
            previous.update(names)  # an enclosing block sees these too
        TRACE = previous


def defop(name: str, forward, **options) -> Op:
    """Declare and register an op; ``options`` as in :class:`Op`."""
    if name in REGISTRY:
        raise ValueError(f"op {name!r} is declared twice")
    op = Op(name, forward, **options)
    REGISTRY[name] = op
    return op


def defgrad(op: Op, *rules) -> None:
    """Give ``op`` its derivative: one rule per tensor input, ``rule(m, g, ans, *inputs,
    **params)``, written against the namespace ``m`` (see autograd/rule_namespace.py) so that one
    definition serves a first-order backward (arrays) and ``create_graph`` (Tensors).

    A rule of ``None`` marks that input as not differentiable (its gradient is an error
    to ask for, never a silent zero); a rule that returns None sends that input nothing.
    A rule may return ``g`` itself or a view of it; the engine never writes into such a
    result.

    >>> op = defop("doc_cube", lambda xp, x: x * x * x)
    >>> defgrad(op, lambda m, g, ans, x: g * 3 * x * x)
    >>> del REGISTRY["doc_cube"]
    """
    op.vjps = tuple(rules)
    op.rules_complete = -1 if None in op.vjps else len(op.vjps)
    op.array_rules = True


def defgrad_joint(op: Op, inputs: int | None, joint, without: tuple = ()) -> None:
    """Give ``op`` its derivative as one call for all inputs that can share work between
    them (at most ``inputs`` of them; ``None``: any number, as ``cat``): ``joint(m, g, ans,
    *inputs, needs=(bool, …), **params)`` returns one gradient (or None) per input and need
    compute only those whose ``needs`` entry is True. The engine calls it once per node;
    ``op.vjps`` are made from it (each asking for its own input only) for whoever reads one
    input's rule (for any number of inputs: :class:`RulesOfJoint`, made when asked).
    ``without``: the inputs that have no derivative (a rule of None, as in :func:`defgrad`).

    Whatever is shared lives in that one call only, so nothing made from ``g`` outlives it
    (a cache keyed by ``g``'s identity would serve stale values once ``g`` changed in place).
    """
    if inputs is None:
        op.vjps = RulesOfJoint(joint)
        op.rules_complete = sys.maxsize  # a rule for every input, however many
        op.array_rules = True
    else:
        defgrad(op, *[None if i in without else _rule_of_joint(joint, i) for i in range(inputs)])
    op.joint = joint


def _rule_of_joint(joint, index: int):
    def rule_for_one(m, g, ans, *inputs, **params):
        needs = tuple([i == index for i in range(len(inputs))])
        return joint(m, g, ans, *inputs, needs=needs, **params)[index]
    return rule_for_one


class RulesOfJoint:
    """``op.vjps`` of an op with any number of inputs whose derivative is one joint rule:
    input ``i``'s rule, made when asked (nothing grows with the widest call seen). It
    has no length: index it.

    >>> rules = RulesOfJoint(lambda m, g, ans, *xs, needs: [g if n else None for n in needs])
    >>> rules[2](None, "g", None, 1, 2, 3)
    'g'
    """

    __slots__ = ("joint",)

    def __init__(self, joint) -> None:
        self.joint = joint

    def __getitem__(self, index: int):
        if not isinstance(index, int) or index < 0:
            raise IndexError(f"a rule is asked for by input index (0, 1, …), got {index!r}")
        return _rule_of_joint(self.joint, index)

    def __iter__(self):
        raise TypeError("the rules of an op with any number of inputs have no end: index them")

    def __bool__(self) -> bool:
        return True


def defvjp(op: Op, *rules) -> None:
    """Give ``op`` rules written on Tensors only: ``rule(g, ans, *inputs, **params)``.

    For derivatives that have no array form; the engine passes them Tensors even in a
    first-order backward (slower than :func:`defgrad`'s rules, which run on arrays).
    A rule of ``None`` marks that input as not differentiable.
    """
    defgrad(op, *[None if r is None else _on_tensors(r) for r in rules])
    op.array_rules = False


def _on_tensors(rule):
    def on_tensors(m, g, ans, *inputs, **params):
        return rule(g, ans, *inputs, **params)
    on_tensors.tensor_rule = rule
    return on_tensors


def nondifferentiable(op: Op, reason: str) -> Op:
    """Declare an op that has no derivative (comparisons, argmax …)."""
    op.differentiable = False
    op.nondiff_reason = reason
    return op


def _check_rules(op: Op, inputs, needs) -> None:
    vjps = op.vjps
    for i, need in enumerate(needs):
        if need and (i >= len(vjps) or vjps[i] is None):
            raise op_error(BackwardError, op.name,
                           f"input {i} ({describe(inputs[i])}) requires grad, but {op.name} "
                           f"has no derivative for that argument; detach() it first")


def first_backend(inputs, op_name: str = "op"):
    """The backend of the inputs' arrays; a clear error when devices are mixed.

    As in PyTorch, a 0-dim CPU tensor that needs no gradient goes with tensors of any
    device (a scalar constant: ``x_cuda * cr.tensor(0.5)``); the caller copies it over."""
    kind = type(inputs[0]._data)
    if kind is _NDARRAY and len(inputs) == 1:
        return NUMPY
    found = None  # the first input that is not such a CPU scalar
    for t in inputs:
        data = t._data
        if _is_numpy_like(type(data)) and data.ndim == 0 and not t._requires_grad:
            continue
        if found is None:
            found = t
        elif type(data) is not type(found._data) and not (
                _is_numpy_like(type(found._data)) and _is_numpy_like(type(data))):
            raise _mixed_devices(inputs, found, op_name)
    backend = backend_of((inputs[0] if found is None else found)._data)
    if backend is not NUMPY and getattr(backend, "several", False):  # (GPUs: one array type)
        for t in inputs:
            if t is not found and not _is_numpy_like(type(t._data)) and \
                    backend.of_array(t._data) is not backend:
                raise _mixed_devices(inputs, found, op_name)
        backend.activate()  # (of_array made the last input's GPU current)
    return backend


def _mixed_devices(inputs, found, op_name: str) -> Exception:
    devices = sorted({str(x.device) for x in inputs}, key=lambda d: d != str(found.device))
    return op_error(DeviceError, op_name, "expected all tensors on the same device, but "
                    f"found at least two devices, {' and '.join(devices)}: got "
                    + ", ".join(f"{describe(x)} on {x.device}" for x in inputs)
                    + "; move them first, e.g. x.to(y.device)")


def _is_numpy_like(kind) -> bool:
    # (NumPy's arrays and scalars, and subclasses of ndarray that no backend claims: a
    # capture's traced arrays)
    return kind.__module__ == "numpy" or issubclass(kind, _NDARRAY) and kind not in REGISTERED


# what an array library raises for operands that do not fit an op: ValueError (shapes that
# do not broadcast, NumPy's AxisError), TypeError (dtypes), IndexError (indices)
_TRANSLATED = (ValueError, TypeError, IndexError)


def forward_error(op: Op, inputs, params, error: Exception) -> Exception:
    """The error to raise when an op's forward fails.

    Only errors about the operands (see ``_TRANSLATED``) become chainrule errors that
    name the op; any other (a warning turned into an error, a MemoryError, a
    FloatingPointError under ``np.seterr(all="raise")``…) is returned as it is, so it is
    never mistaken for a shape error.
    """
    from ..errors import ChainruleError
    if isinstance(error, ChainruleError) or not isinstance(error, _TRANSLATED):
        return error
    if op.explain is not None and isinstance(error, ValueError):
        message = op.explain(inputs, params)
        if message:
            return op_error(ShapeError, op.name, message)
    got = ", ".join(describe(t) for t in inputs)
    shown = {k: v for k, v in params.items()}
    extra = f" with {shown}" if shown else ""
    cls = DTypeError if isinstance(error, TypeError) else \
        IndexingError if isinstance(error, IndexError) else ShapeError
    return op_error(cls, op.name, f"cannot apply to {got}{extra}: {error}")
