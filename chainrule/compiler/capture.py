"""One capture: run a step eagerly, for real, with every tensor's array traced.

Before the step runs, the arrays of the live tensors (found by the garbage collector's list
of objects: parameters, buffers, ``.grad``, optimizer state, the arguments) are swapped for
:class:`~.traced.TracedArray` views of themselves; afterwards they are swapped back. A
replay finds each array again through its *binding*: ``("arg", path)`` for the step's
arguments (a position or keyword, then indices and keys into tuples, lists and dicts),
``("tensor", weakref)`` for everything else. While a host call runs, the tensors hold their
plain arrays again (the optimizer's kernels take exact NumPy arrays, as at replay).

Besides array calls the capture records:

* generator draws (``random.DRAW_HOOK``): replayed as draws, so dropout gets fresh masks
  from the same stream as eager;
* host calls (``_host_calls.HOOK``: ``optimizer.step()``, ``zero_grad()``, a scheduler's
  ``step()``): replayed as themselves;
* state: where a tensor's ``.grad`` or array was replaced by one the tape made (the first
  backward of a parameter), a step that does the same at replay, placed before the next
  host call (which may read it) or at the end;
* Python side effects (:class:`SideEffects`): a step that changes what it reads, or draws
  from Python's or NumPy's global random state, breaks the capture.

One capture runs at a time in a process (NumPy's makers and the hooks are swapped
process-wide; other threads get NumPy's own behaviour and are not recorded).
"""
from __future__ import annotations

import functools
import gc
import threading
import weakref

import numpy as np

from .. import _host_calls
from ..backends import NUMPY
from .. import random as cr_random
from ..tensor import Tensor, wrap_array
from .reach import Reach, snapshot_values
from .traced import (Broken, Const, Recorder, Ref, Step, TracedArray, _as_plain, _plain,
                     _plain_call, active, user_line)


def tensor_paths(args: tuple, kwargs: dict):
    """``(path, tensor)`` for every tensor in the arguments, in tuples, lists and dicts too;
    a path starts with the position or keyword, then the indices and keys inside."""
    def walk(value, path):
        if isinstance(value, Tensor):
            yield path, value
        elif isinstance(value, (tuple, list)):
            for i, v in enumerate(value):
                yield from walk(v, path + (i,))
        elif isinstance(value, dict):
            for k, v in value.items():
                yield from walk(v, path + (k,))
    for i, a in enumerate(args):
        yield from walk(a, (i,))
    for k, a in kwargs.items():
        yield from walk(a, (k,))


class Capture:
    """What one capture saw: its recorder (the tape), the template of the step's result and
    whether (and why) it broke."""

    def __init__(self, recorder: Recorder, result_template, broken) -> None:
        self.recorder = recorder
        self.result_template = result_template
        self.broken = broken  # None, or (reason, "file:line")


class _Draws:
    """Stands in for NumPy's generator during a capture: each draw is recorded."""

    def __init__(self, recorder: Recorder, rng, refind) -> None:
        self._recorder, self._rng, self._refind = recorder, rng, refind

    def __getattr__(self, name: str):
        method = getattr(self._rng, name)
        if not callable(method):
            return method

        def draw(*args, **kwargs):
            rec = self._recorder
            if not rec.recording:
                return method(*args, **kwargs)
            rec.recording = False  # (NumPy's generator calls np.empty itself: not recorded)
            try:
                result = method(*args, **kwargs)
            finally:
                rec.recording = rec.broken is None
            return self._recorder.record("draw", _Redraw(self._refind, name), name, args,
                                         kwargs, result)
        return draw


class _Redraw:
    """A replayed draw: the generator found afresh (a reseed replaces it), then drawn from."""
    __slots__ = ("refind", "name")

    def __init__(self, refind, name: str) -> None:
        self.refind, self.name = refind, name

    def __call__(self, *args, **kwargs):
        return getattr(self.refind(), self.name)(*args, **kwargs)


class _StateWrite:
    """A replayed state change: ``tensor.grad`` (or its array) set to a value the tape made.
    The tensor is an argument of the step (``path``: found in each call's arguments, the
    replay passes it) or a tensor kept by weak reference."""
    __slots__ = ("tensor", "path", "field", "requires_grad")

    def __init__(self, tensor: Tensor, path, field: str, requires_grad: bool) -> None:
        self.tensor = None if path is not None else weakref.ref(tensor)
        self.path, self.field, self.requires_grad = path, field, requires_grad

    def __call__(self, *target_and_array) -> None:
        if self.path is None:
            t, (array,) = self.tensor(), target_and_array
            if t is None:
                return
        else:
            t, array = target_and_array
        if self.field == "_data":
            t._data = array
        elif array is None:
            t._grad = None
        else:
            g = wrap_array(array)
            g._requires_grad = self.requires_grad
            t._grad = g
            t._grad_owned = True


class ArgTensor:
    """In a step's arguments: the tensor at ``path`` in the call's arguments."""
    __slots__ = ("path",)

    def __init__(self, path: tuple) -> None:
        self.path = path


class _Lifted:
    """The live tensors whose arrays are traced during a capture, and what they held."""

    def __init__(self, recorder: Recorder, args: tuple, kwargs: dict) -> None:
        self.recorder = recorder
        self.tensors: list[Tensor] = []
        self.originals: list = []
        self.seen_data: list = []
        self.seen_grad: list = []
        self.arg_paths: list = []  # a lifted argument's path, or None
        arg_ids = {}
        for path, t in tensor_paths(args, kwargs):
            arg_ids.setdefault(id(t), ("arg", path))
        for obj in gc.get_objects():  # (type(): isinstance would ask odd objects' __class__)
            if issubclass(type(obj), Tensor) and type(obj._data) is np.ndarray:
                self._lift(obj, arg_ids.get(id(obj)))
        for path, t in tensor_paths(args, kwargs):  # (one made by a C call is not gc-tracked)
            if type(t._data) is np.ndarray:
                self._lift(t, arg_ids[id(t)])

    def _lift(self, t: Tensor, arg_binding) -> None:
        plain = t._data
        binding = arg_binding if arg_binding is not None else ("tensor", weakref.ref(t))
        t._data = self.recorder.lift(plain, binding)
        self.tensors.append(t)
        self.originals.append(plain)
        self.seen_data.append(t._data)
        self.seen_grad.append(t.__dict__.get("_grad"))
        self.arg_paths.append(arg_binding[1] if arg_binding is not None else None)

    def sync(self, record: bool) -> None:
        """Note where a tensor's array or ``.grad`` changed since the last look; with
        ``record``, as state steps (changes made by the tape), else silently (a host call's).
        Steps are ordered by the slot they set (the order the tape made them), so that two
        captures agree whatever order the garbage collector listed the tensors in."""
        changes = []
        for i, t in enumerate(self.tensors):
            data = t._data
            if data is not self.seen_data[i]:
                self.seen_data[i] = data
                changes.append((t, "_data", data, False, self.arg_paths[i]))
            grad = t.__dict__.get("_grad")
            if grad is not self.seen_grad[i]:
                self.seen_grad[i] = grad
                changes.append((t, "_grad", None if grad is None else grad._data,
                                grad is not None and grad._requires_grad, self.arg_paths[i]))
        if not (record and self.recorder.recording):
            return
        if any(change[1] == "_grad" for change in changes):
            self.recorder.grads_written = True  # (a backward ran: a result's graph is spent)
        changes.sort(key=self._order)
        for change in changes:
            self._record_write(*change)

    def _order(self, change) -> tuple:
        t, field, array = change[:3]
        try:
            slot = self.recorder.slot_for(array) if array is not None else -1
        except Broken:
            slot = -1
        own = getattr(t._data, "_slot", None)
        return (slot, -1 if own is None else own, field)

    def _record_write(self, t: Tensor, field: str, array, requires_grad: bool, path) -> None:
        rec = self.recorder
        try:
            args = (Ref(rec.slot_for(array)),) if array is not None else (None,)
            if path is not None:
                args = (ArgTensor(path),) + args
        except Broken as e:
            rec.break_(f"a tensor's {'array' if field == '_data' else '.grad'} was replaced: {e}")
            return
        rec.dirty = True  # (a replay that stopped after this could not run the step again)
        write = _StateWrite(t, path, field, requires_grad)
        rec.steps.append(Step("state", write, args, {}, None, [], f"set {field.strip('_')}",
                              user_line()))

    def plain_for_host_call(self) -> list:
        """Give the tensors (and their ``.grad``) plain arrays while a host call runs: an
        optimizer's kernels check for exact NumPy arrays, and at replay they get them; the
        capture must run the same code. Returns what :meth:`traced_again` puts back."""
        swapped = []
        for i, t in enumerate(self.tensors):
            data = t._data
            if isinstance(data, TracedArray):
                plain = self.originals[i] if getattr(data, "_binding", None) is not None \
                    else _as_plain(data)
                t._data = plain
                swapped.append((t, data, plain))
            grad = t.__dict__.get("_grad")
            if grad is not None and isinstance(grad._data, TracedArray):
                old = grad._data
                grad._data = _as_plain(old)
                swapped.append((grad, old, grad._data))
        return swapped

    @staticmethod
    def traced_again(swapped: list) -> None:
        for t, traced, plain in swapped:
            if t._data is plain:  # (else the host call replaced it: keep its array)
                t._data = traced

    def restore(self, new_tensors) -> None:
        """Give every tensor a plain array again (its own, or the one the step put there)."""
        for i, t in enumerate(self.tensors):
            data = t._data
            if data is self.seen_data[i] and isinstance(data, TracedArray) and \
                    getattr(data, "_binding", None) is not None:
                t._data = self.originals[i]
            elif isinstance(data, TracedArray):
                t._data = _as_plain(data)
            grad = t.__dict__.get("_grad")
            if grad is not None and isinstance(grad._data, TracedArray):
                grad._data = _as_plain(grad._data)
        for t in new_tensors:
            if isinstance(t._data, TracedArray):
                t._data = _as_plain(t._data)


# One capture at a time in a process: while one runs, NumPy's makers and the draw and
# host-call hooks are swapped process-wide (other threads see NumPy's own behaviour).
_ONE_AT_A_TIME = threading.Lock()


def run_captured(fn, args: tuple, kwargs: dict, watch=None) -> tuple:
    """Run ``fn(*args, **kwargs)`` eagerly while recording it: ``(result, Capture)``; the
    Capture is None when another thread was capturing (the call ran eagerly, unrecorded).
    ``watch``: a :class:`SideEffects` that says whether the step changed Python state (by
    default, over what ``fn`` reaches by name)."""
    if not _ONE_AT_A_TIME.acquire(blocking=False):
        return fn(*args, **kwargs), None
    try:
        return _run_captured(fn, args, kwargs, watch or SideEffects.of(Reach(fn)))
    finally:
        _ONE_AT_A_TIME.release()


class SideEffects:
    """Python state a step may change that a replay would not change again: the values at
    the step's guarded places, the optimizers' hyperparameters, and the states of Python's
    and NumPy's global random generators. Changes made inside host calls (a scheduler
    setting the learning rate) are replayed, so they do not count."""

    def __init__(self, places, optimizers=()) -> None:
        self.places, self.optimizers = list(places), list(optimizers)
        self._before = None

    @classmethod
    def of(cls, reach: Reach) -> "SideEffects":
        return cls(reach.places, reach.optimizers)

    def look(self) -> None:
        self._before = self._now()

    def changed(self) -> str | None:
        """What changed since :meth:`look`, in words, or None."""
        now = self._now()
        before = self._before
        if before is None or now == before:
            return None
        if now[0] != before[0]:
            return "the step draws from Python's random module (its numbers would be frozen)"
        if now[1] != before[1]:
            return "the step draws from NumPy's global random state (np.random.*)"
        if now[3] != before[3]:
            return "the step changes an optimizer's param_groups in Python"
        return "the step changes Python state it reads (" + ", ".join(
            str(p[1]) for p, a, b in zip(self.places, now[2], before[2]) if a != b)[:80] + \
            "): a replay would not change it again"

    def _now(self):
        import random
        return (random.getstate(), _np_random_state(), snapshot_values(self.places),
                [[tuple((k, v) for k, v in g.items() if k != "params") for g in o.param_groups]
                 for o in self.optimizers])


def _unrecorded(rec: Recorder, fn):
    """``fn()`` with recording paused (the capture's own reading, not the step's work)."""
    was = rec.recording
    rec.recording = False
    try:
        return fn()
    finally:
        rec.recording = was and rec.broken is None


def _np_random_state():
    state = np.random.get_state(legacy=False)
    return (state["state"]["state"], state["state"]["inc"]) if "state" in state.get("state", {}) \
        else repr(state)


def _run_captured(fn, args: tuple, kwargs: dict, watch: SideEffects) -> tuple:
    rec = Recorder()
    watch.look()
    gc_was = gc.isenabled()
    gc.disable()  # (a collection inside the step must not run finalizers on traced arrays)
    try:
        lifted = _Lifted(rec, args, kwargs)
    finally:
        if gc_was:
            gc.enable()

    def on_host_call(fn_, a, k):
        if not rec.recording or threading.get_ident() != rec.thread:  # (another thread's)
            return fn_(*a, **k)
        lifted.sync(record=True)
        side_effect = _unrecorded(rec, watch.changed)
        if side_effect is not None:
            rec.break_(side_effect)
        if not rec.recording:
            return fn_(*a, **k)
        if _has_arrays((a[1:], k)):  # (a[0] is the optimizer, module or scheduler)
            rec.break_(f"{fn_.__qualname__} was given tensors or a closure; it cannot be "
                       "replayed as a plain call")
            return fn_(*a, **k)
        rec.recording = False
        _host_calls.HOOK = None
        swapped = lifted.plain_for_host_call()  # (it runs on plain arrays, as at replay)
        try:
            result = fn_(*a, **k)
        finally:
            lifted.traced_again(swapped)
            _host_calls.HOOK = on_host_call
            rec.recording = rec.broken is None
        lifted.sync(record=False)
        _unrecorded(rec, watch.look)  # (what the host call changed, it changes at each replay)
        if result is not None:
            rec.break_(f"{fn_.__qualname__} returned a value; a replay could not return it")
            return result
        a_tpl = tuple(_constant(rec, v) for v in a)
        k_tpl = {key: _constant(rec, v) for key, v in k.items()}
        rec.steps.append(Step("host", fn_, a_tpl, k_tpl, None, [], fn_.__qualname__, user_line()))
        if fn_.__name__ != "zero_grad":  # (zeroing twice is zeroing once)
            rec.dirty = True
        return None

    def on_draw(rng, refind):
        mine = rec.recording and threading.get_ident() == rec.thread
        return _Draws(rec, rng, refind) if mine else rng

    _host_calls.HOOK, cr_random.DRAW_HOOK = on_host_call, on_draw
    _record_backend_makers(rec)
    rec.start()
    result = None
    try:
        result = fn(*args, **kwargs)
        lifted.sync(record=True)
        side_effect = _unrecorded(rec, watch.changed)
        if side_effect is not None and rec.recording:
            rec.break_(side_effect)
        template, new_tensors = _result_template(rec, result)
    except BaseException:
        rec.break_("the step raised")
        template, new_tensors = None, []
        raise
    finally:
        rec.stop()
        _host_calls.HOOK, cr_random.DRAW_HOOK = None, None
        _restore_backend_makers()
        lifted.restore(new_tensors if result is not None else [])
        _plain_again(rec)
    return result, Capture(rec, template, rec.broken)


# NumPy functions that make arrays from shapes or host data: not dispatched to traced arrays
# (``np.asarray(traced)`` would hand back a plain view the tape cannot follow), so while a
# capture runs, both the NumPy backend and the ``numpy`` module hand out recording ones.
# Other threads see them too and get NumPy's own behaviour (the recorder is per thread).
_MAKERS = ("empty", "zeros", "ones", "full", "arange", "eye", "identity", "linspace", "tri",
           "array", "asarray", "asanyarray", "ascontiguousarray", "asfortranarray", "frombuffer",
           "require")
_NUMPY_OWN = {name: getattr(np, name) for name in _MAKERS}


def _record_backend_makers(rec: Recorder) -> None:

    def recording(name):
        fn = _NUMPY_OWN[name]

        def maker(*args, **kwargs):
            if active() is not rec:
                return _plain_call(fn, args, kwargs)
            result = rec.call(fn, f"np.{name}", args, kwargs)
            if isinstance(result, TracedArray):
                rec.made.append(weakref.ref(result))
            return result
        return maker
    for name in _MAKERS:
        maker = recording(name)
        setattr(NUMPY, name, maker)
        setattr(np, name, maker)
    as_strided = type(NUMPY).as_strided  # (a view NumPy makes through __array_interface__)

    def strided(x, shape, strides, writeable=True):
        if active() is not rec:
            return as_strided(NUMPY, _plain(x), shape, strides, writeable)
        return rec.call(functools.partial(as_strided, NUMPY), "as_strided",
                        (x, shape, strides, writeable), {})
    NUMPY.as_strided = strided


def _plain_again(rec: Recorder) -> None:
    """Arrays made during the capture and kept beyond it (a module-level cache of zeros, an
    attribute) become plain arrays again, so that eager code after it runs at full speed."""
    for ref in rec.made:
        traced = ref()
        if traced is None:
            continue
        plain = _as_plain(traced)
        for holder in gc.get_referrers(traced):
            if isinstance(holder, dict):
                for key, value in list(holder.items()):
                    if value is traced:
                        holder[key] = plain
            elif isinstance(holder, list):
                for i, value in enumerate(holder):
                    if value is traced:
                        holder[i] = plain
            elif isinstance(holder, Tensor) and holder._data is traced:
                holder._data = plain


def _restore_backend_makers() -> None:
    for name in _MAKERS:
        setattr(NUMPY, name, _NUMPY_OWN[name])
        setattr(np, name, _NUMPY_OWN[name])
    del NUMPY.as_strided


def _constant(rec: Recorder, value):
    """A host call's argument, held as it was given (the same object at each replay)."""
    rec.consts.append(value)
    return Const(len(rec.consts) - 1)


def _has_arrays(value) -> bool:
    if isinstance(value, (Tensor, np.ndarray)) or callable(value) and not isinstance(value, type):
        return True
    if isinstance(value, (tuple, list)):
        return any(_has_arrays(v) for v in value)
    if isinstance(value, dict):
        return any(_has_arrays(v) for v in value.values())
    return False


class TensorOut:
    """In a result template: a Tensor made at replay from ``slot``."""
    __slots__ = ("slot", "requires_grad")

    def __init__(self, slot: int, requires_grad: bool) -> None:
        self.slot, self.requires_grad = slot, requires_grad


def _result_template(rec: Recorder, result) -> tuple:
    """The step's result with each Tensor as a :class:`TensorOut` (and those Tensors, to give
    them plain arrays back). A Tensor still holding a graph breaks the capture: its
    backward would run outside the compiled step."""
    new_tensors = []

    def walk(value):
        if isinstance(value, Tensor):
            data = value._data
            if value.grad_fn is not None and not getattr(value.grad_fn, "freed", False) \
                    and rec.recording and not rec.grads_written:
                rec.break_("the result carries an autograd graph out of the compiled function "
                           "(backward() runs outside it): compile the whole training step "
                           "(forward, backward, optimizer step) instead")
            new_tensors.append(value)
            try:
                slot = rec.slot_for(data)
            except Broken as e:
                rec.break_(f"the result holds a tensor: {e}")
                return None
            return TensorOut(slot, value._requires_grad)
        if isinstance(value, tuple) and not hasattr(value, "_fields"):
            return tuple(walk(v) for v in value)
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, np.ndarray):
            rec.break_("the result holds a NumPy array")
            return None
        if value is None:
            return Const(_constant(rec, value).index)
        if isinstance(value, (bool, int, float, str)):  # (made by Python: a replay runs none)
            rec.break_(f"the result holds a Python {type(value).__name__}, which a replay would "
                       "return unchanged: return tensors (or compute it outside)")
            return None
        rec.break_(f"the result holds a {type(value).__name__}, which a replay cannot rebuild")
        return None
    return walk(result), new_tensors
