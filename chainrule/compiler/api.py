"""``chainrule.compile``: capture a step twice, then replay it.

For each *signature* (the arguments' tensor shapes, strides, dtypes, ``requires_grad`` and
aliasing, their other values, grad mode, autocast, the default dtype, the modules' training
flags and hooks, each parameter's ``requires_grad`` and whether it has a ``.grad``) a
compiled function:

1. runs the first call eagerly while recording it (:mod:`.capture`);
2. runs the second call the same way and compares the two tapes: the same calls, wiring,
   constants and bindings. Anything that differs from call to call without passing through
   the recorded arrays (a random mask drawn outside the generators, data read from the
   host, a Python value that changed) shows here, and the function stays eager for that
   signature;
3. replays from the third call on (:mod:`.codegen`): only array calls, no Tensor or Node.

A capture that *breaks* (``.item()`` or ``bool()`` of data, a shape that depends on data, a
result that carries a graph out) leaves that signature eager, with one
:class:`CompileWarning` that names the reason and the line. ``fullgraph=True`` raises
:class:`CompileError` there instead. A guard that fails at replay (a parameter of another
shape, a tensor gone, a module attribute changed) captures again; after ``cache_size_limit``
signatures the function runs eagerly, with a warning.
"""
from __future__ import annotations

import functools
import types

import numpy as np

from .._fp import loud as fp_loud, quiet as fp_quiet
from ..errors import ArgumentError, op_error, warn_user
from ..nn.module import Module
from ..tensor import Tensor
from ..autograd import engine
from ..amp.autocast_mode import AUTOCAST
from ..autograd.grad_mode import GRAD
from ..dtypes import get_default_dtype
from ..nn.functional import _loss_observers
from .capture import SideEffects, run_captured, tensor_paths
from .codegen import MISS, Compiled
from .reach import SIMPLE, Reach, changed, guards_hold, snapshot
from .._host_calls import capturing
from .checks import CheckFailed  # (imported: installs the hooks of _host_calls)

CACHE_SIZE_LIMIT = 8  # signatures per function (PyTorch's torch._dynamo cache_size_limit)
_MODES = (None, "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


class CompileWarning(UserWarning):
    """A compiled function (or one signature of it) runs eagerly; the message says why."""


class CompileError(RuntimeError):
    """``fullgraph=True`` and the function could not be captured whole."""


class _Entry:
    """One signature: its captures so far, its replay, or the reason it stays eager."""
    __slots__ = ("previous", "compiled", "eager", "guards", "changes")

    def __init__(self, guards) -> None:
        self.previous = None
        self.compiled: Compiled | None = None
        self.eager: tuple | None = None
        self.guards = guards
        self.changes = 0  # times a guard failed (a value the step reads changed)


class CompiledFunction:
    """What :func:`compile` returns: call it as the function (or module) it wraps.

    >>> import chainrule as cr
    >>> double = cr.compile(lambda x: x * 2)
    >>> [double(cr.tensor([1., 2.])) for _ in range(3)][-1]
    tensor([2., 4.])
    >>> double.stats()["replays"]
    1
    """

    def __init__(self, fn, fullgraph: bool = False, dynamic=None, mode=None, backend="inductor",
                 options=None, disable: bool = False) -> None:
        if mode not in _MODES:
            raise op_error(ArgumentError, "compile", f"unknown mode {mode!r}; expected one of "
                           + ", ".join(repr(m) for m in _MODES))
        self._fn = fn
        self._fullgraph = fullgraph
        self._disable = disable
        self._cache: dict = {}
        self._warned: set = set()
        self._counts = {"captures": 0, "replays": 0, "eager": 0, "recompiles": 0}
        self._reached: Reach | None = None
        self._param_list = None
        functools.update_wrapper(self, fn, updated=())

    # -- calling ---------------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        if self._disable or capturing():  # (inside another capture: its calls are recorded
            return self._fn(*args, **kwargs)  # there, as part of the outer step)
        key = self._key(args, kwargs)
        if key is None:
            self._warn("unkeyed", f"chainrule.compile: {self._name()} runs eagerly for these "
                       "arguments: a tensor not on the CPU (the replay runs NumPy arrays only, "
                       "for now), or a NumPy array argument (pass a tensor: an array's values "
                       "would be frozen into the replay)")
            return self._eager(args, kwargs)
        entry = self._cache.get(key)
        if entry is not None and entry.eager is None and not guards_hold(entry.guards):
            self._counts["recompiles"] += 1
            changes, what = entry.changes + 1, changed(entry.guards)
            entry = self._cache[key] = _Entry(self._guards())
            entry.changes = changes
            if changes > CACHE_SIZE_LIMIT:  # a value the step reads changes at every call
                entry.eager = ("guards", "")
                self._break(f"a value it reads changed {changes} times ({what}): a replay reads "
                            "it as a constant; make it a tensor, or keep it out of the "
                            "compiled function")
        if entry is None:
            if len(self._cache) >= CACHE_SIZE_LIMIT:
                self._warn("limit", f"more than {CACHE_SIZE_LIMIT} signatures (shapes, dtypes, "
                           "argument values, training flags) were seen; new ones run eagerly "
                           "(mark varying sizes as constant, or pad them)")
                return self._eager(args, kwargs)
            if self._cache:
                self._counts["recompiles"] += 1
            entry = self._cache[key] = _Entry(self._guards())
        if entry.compiled is not None:
            token = fp_quiet()  # (inf/nan made silently, as the eager ops make them)
            try:
                result = entry.compiled.run(args, kwargs)
            except CheckFailed:  # bad data (a target out of range): eager raises the error
                return self._eager(args, kwargs)
            finally:
                fp_loud(token)
            if result is not MISS:
                self._counts["replays"] += 1
                return result
            self._counts["recompiles"] += 1  # a tensor it reads is gone or changed shape
            entry.compiled, entry.previous = None, None
        if entry.eager is not None:
            return self._eager(args, kwargs)
        return self._capture(entry, args, kwargs)

    def _eager(self, args, kwargs):
        self._counts["eager"] += 1
        return self._fn(*args, **kwargs)

    def _capture(self, entry: _Entry, args, kwargs):
        self._counts["captures"] += 1
        result, capture = run_captured(self._fn, args, kwargs, SideEffects.of(self._reach()))
        if capture is None:  # (another thread was capturing: this call ran eagerly)
            return result
        if capture.broken is not None:
            reason, line = capture.broken
            entry.eager = capture.broken
            self._break(f"{reason} (at {line})")
            return result
        if entry.previous is None:
            entry.previous = capture
            return result
        difference = _difference(entry.previous, capture)
        if difference is not None:
            entry.eager = (difference, "")
            self._break(difference)
            return result
        entry.compiled = Compiled(capture)
        entry.previous = None
        return result

    def _name(self) -> str:
        return getattr(self._fn, "__qualname__", type(self._fn).__name__)

    def _break(self, why: str) -> None:
        message = f"chainrule.compile: {self._name()} runs eagerly for this signature: {why}"
        if self._fullgraph:
            raise CompileError(message + " (fullgraph=True)")
        self._warn(why, message)

    def _warn(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            warn_user(message, CompileWarning)

    # -- signatures and guards -------------------------------------------------------------
    def _key(self, args, kwargs):
        """The signature of a call, or None when an argument cannot be part of one."""
        # process-wide modes the step's ops read: grad mode, autocast, the default dtype
        parts = [GRAD.enabled, AUTOCAST.active and tuple(AUTOCAST.dtypes.values()),
                 get_default_dtype()]
        if args or kwargs:
            seen: dict = {}
            for path, t in tensor_paths(args, kwargs):
                data = t._data
                if type(data) is not np.ndarray:  # (CUDA tensors, traced leftovers): eager
                    return None
                # (the same tensor twice is another signature: the replay reads it once)
                parts.append((path, data.shape, data.strides, data.dtype.str, t._requires_grad,
                              seen.setdefault(id(t), len(seen))))
            try:
                parts.append(_value_key((args, kwargs)))
            except TypeError:
                return None
        for module in self._modules():  # (hooks come and go: a training monitor's, sampled)
            parts.append((module.training, bool(module._forward_hooks or module._forward_pre_hooks
                                                or module._backward_hooks
                                                or module._backward_pre_hooks)))
        # which parameters take gradients, which have a .grad already (a frozen layer, a
        # gradient accumulated over calls), and whether any has a hook
        parts.append(tuple((p._requires_grad, p.__dict__.get("_grad") is None,
                            bool(p._hooks or p._post_accumulate_hooks)) for p in self._params()))
        parts.append((len(_loss_observers._OBSERVERS), len(engine._BACKWARD_OBSERVERS)))
        return tuple(parts)

    def _reach(self) -> Reach:
        """What the step reaches by name (scanned once: a module added to a model after
        compiling is not watched)."""
        if self._reached is None:
            self._reached = Reach(self._fn)
        return self._reached

    def _modules(self) -> list:
        return list(self._reach().modules.values())

    def _params(self) -> list:
        if self._param_list is None:
            self._param_list = [p for m in self._modules() for p in m._parameters.values()
                                if p is not None]
        return self._param_list

    def _guards(self) -> list:
        """Guards on the values the step may read (:mod:`.reach`), as they are now."""
        return snapshot(self._reach().places)

    # -- reporting -------------------------------------------------------------------------
    def stats(self) -> dict:
        """Counts so far: ``captures``, ``replays``, ``eager`` calls, ``recompiles``."""
        return dict(self._counts)

    def replay_source(self) -> list[str]:
        """The generated replay of each compiled signature (Python source)."""
        return [e.compiled.source for e in self._cache.values() if e.compiled is not None]

    def __get__(self, obj, objtype=None):  # as a decorator on a method
        if obj is None:
            return self
        return types.MethodType(self, obj)

    @property
    def _orig_mod(self):
        """The function or module compiled (PyTorch's ``OptimizedModule._orig_mod``)."""
        return self._fn

    def __getattr__(self, name):  # a compiled module still answers as the module
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._fn, name)


def _value_key(value):
    """A hashable stand-in for the non-tensor arguments (tensors by position only)."""
    if isinstance(value, Tensor):
        return "T"
    if isinstance(value, (tuple, list)):
        return (type(value).__name__,) + tuple(_value_key(v) for v in value)
    if isinstance(value, dict):
        return ("dict",) + tuple((k, _value_key(v)) for k, v in value.items())
    if isinstance(value, SIMPLE):
        return (type(value).__name__, value)
    if isinstance(value, Module):  # (a model passed in: its mode and hooks matter too)
        return ("module", id(value), value.training,
                bool(value._forward_hooks or value._forward_pre_hooks))
    if isinstance(value, np.ndarray):
        raise TypeError("a NumPy array argument")  # (its contents would be a constant)
    if hasattr(value, "__dict__") and not hasattr(value, "param_groups") and \
            not callable(value):  # a config object passed in: its simple attributes too
        return ("obj", id(value), tuple((k, v) for k, v in vars(value).items()
                                        if isinstance(v, SIMPLE)))
    return ("id", id(value))  # an optimizer, any other object: by identity


def _difference(first, second) -> str | None:
    """Why two captures of one signature differ, or None when a replay may stand for both."""
    a, b = first.recorder, second.recorder
    if a.slot_meta != b.slot_meta:
        return "two calls made arrays of different shapes or dtypes (shapes that depend on data?)"
    if [_binding_key(x) for x in a.inputs] != [_binding_key(x) for x in b.inputs]:
        return "two calls read different tensors (a tensor replaced between calls)"
    if len(a.steps) != len(b.steps):
        return f"two calls ran different numbers of array calls ({len(a.steps)} and " \
               f"{len(b.steps)}): Python control flow that depends on something that changed"
    for sa, sb in zip(a.steps, b.steps):
        if _step_key(sa, a) != _step_key(sb, b):
            where = f" at {sb.line}" if sb.line else ""
            return (f"two calls differed at {sb.name}{where}: a value that changes from call to "
                    "call without passing through tensors (a NumPy array or Python number made "
                    "in the step, a draw outside chainrule's generators)")
    return None


def _binding_key(binding):
    if binding[0] == "arg":
        return binding
    target = binding[1]()
    return ("tensor", id(target))


def _step_key(step, rec):
    def const_key(i):
        c = rec.consts[i]
        if isinstance(c, np.ndarray):
            return (c.shape, c.dtype.str, c.tobytes())
        if isinstance(c, SIMPLE):
            return (type(c).__name__, c)
        return ("id", id(c))
    return step.key(const_key)


def compile(model=None, *, fullgraph: bool = False, dynamic=None, backend="inductor",  # noqa: A001
            mode=None, options=None, disable: bool = False):
    """Capture ``model`` (a function, a module or a whole training step) and replay it.

    PyTorch's ``torch.compile``: use it as a call, or as a decorator (``@compile`` or
    ``@compile(fullgraph=True)``). The first two calls of each signature run eagerly while
    they are recorded; from the third, the recorded array calls run alone, without
    Tensors, Nodes or dispatch. ``optimizer.step()``, ``zero_grad()`` and a scheduler's
    ``step()`` inside the step run as themselves. What cannot be replayed runs eagerly with
    one :class:`CompileWarning` that names the line (``fullgraph=True``: an error);
    :func:`explain` says what happened. ``backend``, ``dynamic`` and ``options`` are accepted
    for PyTorch's programs and not used.

    Values the step reads by name are guarded (a change captures again); a step that
    changes them, or draws from Python's ``random``, breaks. Other Python side effects
    (appending to a list, printing) happen in the recorded calls only, as in ``jax.jit``
    (``docs/compile.md``).

    >>> import chainrule as cr
    >>> model = cr.nn.Linear(3, 1)
    >>> opt = cr.optim.SGD(model.parameters(), lr=0.1)
    >>> @cr.compile
    ... def step(x, y):
    ...     opt.zero_grad()
    ...     loss = ((model(x) - y) ** 2).mean()
    ...     loss.backward()
    ...     opt.step()
    ...     return loss
    >>> x, y = cr.randn(8, 3), cr.randn(8, 1)
    >>> losses = [step(x, y).item() for _ in range(5)]
    >>> losses[-1] < losses[0], step.stats()["replays"]  # (call 1 had no .grad yet)
    (True, 2)
    """
    if model is None:
        return lambda fn: CompiledFunction(fn, fullgraph=fullgraph, dynamic=dynamic, mode=mode,
                                           backend=backend, options=options, disable=disable)
    if not callable(model):
        raise op_error(ArgumentError, "compile", f"expected a function or a module, got "
                       f"{type(model).__name__}")
    return CompiledFunction(model, fullgraph=fullgraph, dynamic=dynamic, mode=mode,
                            backend=backend, options=options, disable=disable)
