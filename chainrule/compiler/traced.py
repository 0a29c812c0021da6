"""Arrays that record what is done with them, for ``chainrule.compile``'s capture.

A captured step runs eagerly, for real, once; the arrays of the tensors it touches are
:class:`TracedArray` views of their own memory, so every NumPy call on them (a ufunc, an
array function, an array method, an index) reaches :class:`Recorder` first. The recorder
runs the call on the plain arrays, gives each new array a *slot* and appends a
:class:`Step`: the function, its arguments with slots for the arrays, and the slots it
made. The steps are the tape that :mod:`.codegen` turns into a Python function.

What cannot be recorded makes the capture *break* (the step still runs eagerly, to the
end, with correct results; it is just not replayed later): reading array data on the host
(``float(x)``, ``.item()``, ``bool(x)`` — data-dependent Python), an array whose making was
not seen, a shape that depends on the data (``nonzero``), a plain array changed in place.
The first reason is kept with the user's line that led to it.

Plain arrays that enter a call (an index map, a constant made from shapes) become
constants, snapshotted when first seen; a constant that a recorded call writes into is
copied afresh at each replay (a scratch buffer such as ``zeros`` for ``add.at``).
"""
from __future__ import annotations

import operator
import os
import sys
import threading
import traceback

import numpy as np

# functions whose Python (non-array) results describe metadata, not data
_METADATA = {np.shape, np.ndim, np.size, np.result_type, np.may_share_memory, np.shares_memory,
             np.iscomplexobj, np.isrealobj, np.can_cast, np.min_scalar_type, np.broadcast_shapes}
# results whose shape depends on the data: a replay could not keep the shapes it planned
_DATA_SHAPED = {np.nonzero, np.flatnonzero, np.argwhere, np.unique, np.compress, np.extract,
                np.trim_zeros}
# array functions that write into an argument (its index)
_WRITES_ARG = {np.copyto: 0, np.put: 0, np.place: 0, np.putmask: 0, np.fill_diagonal: 0,
               np.put_along_axis: 0}
# array methods that return arrays (recorded), and those that write into the array itself
_METHODS = ("all", "any", "argmax", "argmin", "argpartition", "argsort", "astype", "choose",
            "clip", "conj", "conjugate", "copy", "cumprod", "cumsum", "diagonal", "dot",
            "flatten", "max", "mean", "min", "prod", "ptp", "ravel", "repeat", "reshape",
            "round", "searchsorted", "squeeze", "std", "sum", "swapaxes", "take", "trace",
            "transpose", "var", "view", "__getitem__", "__copy__", "__deepcopy__")
_WRITING_METHODS = ("__setitem__", "fill", "sort", "partition", "put", "itemset", "resize",
                    "byteswap")
_DATA_SHAPED_METHODS = ("nonzero", "compress")
_HOST_READS = ("item", "tolist", "tobytes", "tofile", "dump", "dumps", "__float__", "__int__",
               "__index__", "__complex__", "__bool__", "__iter__", "__reduce__",
               "__reduce_ex__", "__repr__", "__str__", "__format__", "__array__", "__dlpack__")
_PROPERTIES = ("T", "mT", "real", "imag")

_LOCAL = threading.local()


def active() -> "Recorder | None":
    """The recorder capturing on this thread, if it is recording now (not paused or broken)."""
    rec = getattr(_LOCAL, "recorder", None)
    return rec if rec is not None and rec.recording else None


class Ref:
    """A slot in an argument template."""
    __slots__ = ("slot",)

    def __init__(self, slot: int) -> None:
        self.slot = slot

    def __repr__(self) -> str:
        return f"v{self.slot}"


class Const:
    """A constant in an argument template (index into the recorder's constants)."""
    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index

    def __repr__(self) -> str:
        return f"c{self.index}"


class Step:
    """One recorded call: ``outs = fn(*args, **kwargs)``, ``outs`` a template of slots.

    ``kind``: ``"call"`` (array work), ``"draw"`` (a generator draw, replayed to draw
    afresh), ``"host"`` (a Python call replayed as itself), ``"state"`` (a tensor's
    ``.grad``/``._data`` set to a slot), ``"check"``. ``writes``: slots written in place;
    ``undo``: those of them that are (views of) a tensor's memory from before the step,
    which a replay stopped by a failing check puts back before running eagerly.
    """
    __slots__ = ("kind", "fn", "args", "kwargs", "outs", "writes", "name", "line", "undo")

    def __init__(self, kind, fn, args, kwargs, outs, writes, name, line, undo=()) -> None:
        self.kind, self.fn, self.args, self.kwargs = kind, fn, args, kwargs
        self.outs, self.writes, self.name, self.line = outs, writes, name, line
        self.undo = undo  # written slots whose memory is a tensor's from before the step

    def key(self, const_key) -> tuple:
        """What two captures must agree on for this step: the function (a host call's and a
        state write's own target; a call's by name and library), the wiring, the constants
        (``const_key(index)``) and the writes."""
        fn = self.fn
        if self.kind == "host":
            who = id(fn)
        elif self.kind == "state":
            who = (fn.path if fn.path is not None else id(fn.tensor()), fn.field)
        else:
            who = (getattr(fn, "__module__", None), type(getattr(fn, "__self__", None)).__name__)
        return (self.kind, self.name, who, _template_key(self.args, const_key),
                _template_key(self.kwargs, const_key), _template_key(self.outs, const_key),
                tuple(self.writes))


def _template_key(tpl, const_key):
    if isinstance(tpl, Ref):
        return ("v", tpl.slot)
    if isinstance(tpl, Const):
        return ("c", const_key(tpl.index))
    if isinstance(tpl, (tuple, list)):
        return (type(tpl).__name__,) + tuple(_template_key(t, const_key) for t in tpl)
    if isinstance(tpl, dict):
        return ("d",) + tuple((k, _template_key(v, const_key)) for k, v in tpl.items())
    if hasattr(tpl, "path"):  # (capture.ArgTensor)
        return ("arg", tpl.path)
    return ("=", repr(tpl))


_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# NumPy's own makers, taken before a capture swaps the module's for recording ones
_ASARRAY = np.asarray


def _copy_plain(array: np.ndarray) -> np.ndarray:
    """A plain copy (the recorder's own work: never recorded)."""
    return np.ndarray.copy(_as_plain(array))


def _as_plain(array: np.ndarray) -> np.ndarray:
    """The same memory as a plain ndarray (never through TracedArray.view, which records)."""
    return np.ndarray.view(array, np.ndarray)


def user_line() -> str:
    """``file:line`` of the innermost frame outside chainrule (where the user's code was)."""
    frame = sys._getframe(1)
    while frame is not None:
        name = frame.f_code.co_filename
        if not name.startswith(_PACKAGE) and not name.startswith("<frozen"):
            return f"{name}:{frame.f_lineno}"
        frame = frame.f_back
    return "<unknown>"


class Broken(Exception):
    """Raised inside the recorder to stop recording one call (never leaves the recorder)."""


class Recorder:
    """The tape being recorded; see the module docstring."""

    def __init__(self) -> None:
        self.steps: list[Step] = []
        self.inputs: list[tuple] = []     # slot → binding (how a replay finds the array)
        self.input_slots: list[int] = []
        self.slot_meta: list[tuple] = []  # slot → (shape, dtype, strides)
        self.consts: list = []            # index → value (arrays snapshotted)
        self.const_ids: dict = {}         # id(plain array) → (index, the array, its snapshot)
        self.scratch: dict = {}           # id(plain array written by a call) → (slot, array)
        self.made: list = []              # weakrefs to the arrays np.empty/zeros… made
        self.recording = True
        self.paused = 0
        self.broken: tuple | None = None  # (reason, user line)
        self.broken_inside: list = []
        self.grads_written = False  # a backward stored .grad (a result's graph is spent)
        # something a replay cannot undo has been recorded (an optimizer step, a .grad set):
        # a failing guard after it could not rerun the step eagerly, so fast paths are no
        # longer taken with guards. (Writes into tensors' memory and draws are undone.)
        self.dirty = False
        self.thread = threading.get_ident()
        self.lifted_originals: set = set()  # ids of the plain arrays the lifted tensors held

    # -- state -----------------------------------------------------------------------------
    def start(self) -> None:
        _LOCAL.recorder = self

    def stop(self) -> None:
        self.recording = False
        _LOCAL.recorder = None

    def break_(self, reason: str) -> None:
        """Stop recording for good: the step goes on eagerly; this capture will not replay."""
        if self.broken is None:
            self.broken = (reason, user_line())
            # where inside chainrule it happened (for explain and for whoever fixes it)
            self.broken_inside = [f"{f.filename}:{f.lineno} {f.name}"
                                  for f in traceback.extract_stack()[:-1]
                                  if f.filename.startswith(_PACKAGE)][-4:]
        self.recording = False

    # -- slots -----------------------------------------------------------------------------
    def new_slot(self, array: np.ndarray) -> int:
        self.slot_meta.append((array.shape, array.dtype, array.strides))
        return len(self.slot_meta) - 1

    def traced(self, plain: np.ndarray) -> "TracedArray":
        out = plain.view(TracedArray)
        out._owndata = plain.flags.owndata  # (the engine takes over buffers that own theirs)
        out._slot = self.new_slot(plain)
        out._rec = self
        return out

    def lift(self, plain: np.ndarray, binding: tuple) -> "TracedArray":
        """A traced view of a tensor's array, read by a replay through ``binding``; its slot
        is given at its first use (most lifted arrays are never used)."""
        out = plain.view(TracedArray)
        out._slot = None
        out._rec = self
        out._binding = binding
        out._owndata = plain.flags.owndata
        self.lifted_originals.add(id(plain))
        return out

    def slot_of(self, arr: "TracedArray") -> int:
        if arr._rec is not self:
            raise Broken("an array from another capture (a tensor kept from an earlier "
                         "compiled call) was used")
        if arr._slot is None:
            binding = getattr(arr, "_binding", None)
            if binding is None:
                raise Broken("an array was made by NumPy code that the capture cannot see")
            arr._slot = self.new_slot(arr)
            self.inputs.append(binding)
            self.input_slots.append(arr._slot)
        return arr._slot

    def slot_for(self, array) -> int:
        """The slot of a traced array or of a scratch array; Broken for any other."""
        if isinstance(array, TracedArray):
            return self.slot_of(array)
        scratch = self.scratch.get(id(array)) if isinstance(array, np.ndarray) else None
        if scratch is None:
            raise Broken("an array the capture did not make or see written")
        return scratch[0]

    # -- templates ---------------------------------------------------------------------------
    def template(self, value, written: bool = False):
        """``(template, plain)`` for an argument: traced arrays and scratch → Ref, other plain
        arrays → Const."""
        if isinstance(value, TracedArray) and value._rec is self:
            return Ref(self.slot_of(value)), _as_plain(value)
        if isinstance(value, np.ndarray):  # (an earlier capture's leftover counts as plain)
            plain = _as_plain(value) if isinstance(value, TracedArray) else value
            scratch = self.scratch.get(id(value))
            if scratch is not None:
                return Ref(scratch[0]), plain
            if written:
                return Ref(self.scratch_slot(value)), plain
            return Const(self.constant_array(value)), plain
        if isinstance(value, tuple):
            pairs = [self.template(v, written) for v in value]
            return tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)
        if isinstance(value, list):
            pairs = [self.template(v, written) for v in value]
            return [p[0] for p in pairs], [p[1] for p in pairs]
        if isinstance(value, dict):
            pairs = {k: self.template(v, written) for k, v in value.items()}
            return {k: p[0] for k, p in pairs.items()}, {k: p[1] for k, p in pairs.items()}
        if type(value).__name__ == "Tensor":
            raise Broken("a Tensor reached NumPy directly")
        return value, value

    def _reaches_lifted(self, array) -> bool:
        """Whether ``array``'s memory is (a view of) a tensor's array from before the step."""
        base = array
        while base is not None:
            if id(base) in self.lifted_originals:
                return True
            base = base.base
        return False

    def _check_not_leaked(self, value: np.ndarray) -> None:
        base = value
        while base is not None:
            if isinstance(base, TracedArray) or id(base) in self.lifted_originals:
                raise Broken("data of a traced array reached NumPy as a plain array "
                             "(np.asarray of a tensor's array?)")
            base = base.base

    def constant_array(self, value: np.ndarray) -> int:
        known = self.const_ids.get(id(value))
        if known is not None:
            index, _, snapshot = known
            if not _same(value, snapshot):
                raise Broken("a plain array entered twice with different contents (changed "
                             "outside the recorded calls)")
            return index
        self._check_not_leaked(value)
        snapshot = _copy_plain(value)
        self.consts.append(snapshot)
        index = len(self.consts) - 1
        self.const_ids[id(value)] = (index, value, snapshot)
        return index

    def scratch_slot(self, value: np.ndarray) -> int:
        """A plain array that a recorded call writes into (``empty`` then ``out=``, ``zeros``
        then ``add.at``): from now on a slot, made at replay as a copy of what it held."""
        if id(value) in self.const_ids:  # read before, as a constant: later reads see writes
            index, _, snapshot = self.const_ids.pop(id(value))
            if not _same(value, snapshot):
                raise Broken("a plain array changed outside the recorded calls")
        self._check_not_leaked(value)
        slot = self.new_slot(value)
        self.consts.append(_copy_plain(value))  # (what it held)
        self.steps.append(Step("call", np.ndarray.copy, (Const(len(self.consts) - 1),), {},
                               Ref(slot), [], "scratch", None))
        self.scratch[id(value)] = (slot, value)
        return slot

    def wrap_result(self, value, aliases: dict):
        """``(template, traced value)`` for a call's result: new arrays get slots."""
        if isinstance(value, np.ndarray):
            known = aliases.get(id(value))
            if known is not None:  # the call handed back one of its own operands (out=)
                return Ref(self.slot_for(known)), known
            traced = self.traced(value)
            return Ref(traced._slot), traced
        if isinstance(value, np.generic):
            traced = self.traced(_ASARRAY(value))
            return Ref(traced._slot), traced
        if isinstance(value, tuple):
            pairs = [self.wrap_result(v, aliases) for v in value]
            return tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)
        if isinstance(value, list):
            pairs = [self.wrap_result(v, aliases) for v in value]
            return [p[0] for p in pairs], [p[1] for p in pairs]
        if value is None:
            return None, None
        raise Broken(f"a call returned {type(value).__name__}, not an array (data read on "
                     "the host)")

    # -- calls -------------------------------------------------------------------------------
    def call(self, fn, name: str, args: tuple, kwargs: dict, written_args=(), self_writes=False):
        """Run ``fn`` on the plain arrays, record it, and return traced results."""
        try:
            arg_tpl, plain_args = [], []
            writes, written_plain = [], []
            for i, a in enumerate(args):
                written = i in written_args
                tpl, plain = self.template(a, written)
                arg_tpl.append(tpl)
                plain_args.append(plain)
                if written:
                    writes.extend(_slots(tpl))
                    written_plain.append((tpl, plain))
            out = kwargs.get("out")
            kw_tpl, plain_kwargs = self.template({k: v for k, v in kwargs.items() if k != "out"})
            if out is not None:
                plain_kwargs["out"] = _plain(out)
                out_tpl, _ = self.template(out, True)
                kw_tpl["out"] = out_tpl
                writes.extend(_slots(out_tpl))
                written_plain.append((out_tpl, plain_kwargs["out"]))
            undo = [slot for tpl, plain in written_plain for slot, array in _pairs(tpl, plain)
                    if self._reaches_lifted(array)]
            aliases = _aliases(args, plain_args, kwargs, plain_kwargs)
            for scratch_slot, scratch in self.scratch.values():
                aliases.setdefault(id(scratch), scratch)
        except Broken as e:
            self.break_(str(e))
            return _plain_call(fn, args, kwargs)
        self.recording = False  # (NumPy's own Python inside the call is not recorded again)
        try:
            result = fn(*plain_args, **plain_kwargs)
        finally:
            self.recording = self.broken is None
        try:
            outs, traced = self.wrap_result(result, aliases)
        except Broken as e:
            self.break_(str(e))
            return result
        self.steps.append(Step("call", fn, tuple(arg_tpl), kw_tpl, outs, writes, name, None, undo))
        return traced

    def record(self, kind: str, fn, name: str, args: tuple, kwargs: dict, result) -> object:
        """Append a step whose call has already run (a draw, a host call) and return its
        result, traced."""
        try:
            arg_tpl, _ = self.template(args)
            kw_tpl, _ = self.template(kwargs)
            outs, traced = self.wrap_result(result, {})
        except Broken as e:
            self.break_(str(e))
            return result
        self.steps.append(Step(kind, fn, arg_tpl, kw_tpl, outs, [], name, user_line()))
        return traced


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)


def _pairs(tpl, plain):
    """``(slot, array)`` for the slots of a template and the arrays in the same places."""
    if isinstance(tpl, Ref):
        yield tpl.slot, plain
    elif isinstance(tpl, (tuple, list)):
        for t, p in zip(tpl, plain):
            yield from _pairs(t, p)


def _slots(tpl) -> list:
    if isinstance(tpl, Ref):
        return [tpl.slot]
    if isinstance(tpl, (tuple, list)):
        return [s for t in tpl for s in _slots(t)]
    return []


def _aliases(args, plain_args, kwargs, plain_kwargs) -> dict:
    """id(plain operand) → its traced array, to know results that are operands (out=)."""
    found = {}

    def walk(traced, plain):
        if isinstance(traced, TracedArray):
            found[id(plain)] = traced
        elif isinstance(traced, (tuple, list)):
            for t, p in zip(traced, plain):
                walk(t, p)
        elif isinstance(traced, dict):
            for k in traced:
                walk(traced[k], plain[k])
    walk(args, plain_args)
    walk(kwargs, plain_kwargs)
    return found


def _plain(value):
    if isinstance(value, TracedArray):
        return _as_plain(value)
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _plain_call(fn, args, kwargs):
    """``fn`` on plain arrays, plain results (no capture, or a paused or broken one); an
    ``out=`` operand handed back is handed back as the caller's object."""
    plain_args, plain_kwargs = _plain(args), _plain(kwargs)
    result = fn(*plain_args, **plain_kwargs)
    if isinstance(result, np.ndarray):
        for traced, plain in _out_pairs(kwargs, plain_kwargs):
            if result is plain:
                return traced
    return result


def _out_pairs(kwargs, plain_kwargs):
    out, plain = kwargs.get("out"), plain_kwargs.get("out")
    if isinstance(out, tuple):
        return list(zip(out, plain))
    if out is not None:
        return [(out, plain)]
    return []


class _Flags:
    """A traced array's flags: its own memory's (it is a view of the array it traces, and the
    engine decides from ``owndata`` whether a gradient buffer may be taken over)."""
    __slots__ = ("_flags", "owndata")

    def __init__(self, flags, owndata: bool) -> None:
        self._flags, self.owndata = flags, owndata

    def __getattr__(self, name):
        return getattr(self._flags, name)

    def __getitem__(self, key):
        return self.owndata if key in ("OWNDATA", "O") else self._flags[key]


class TracedArray(np.ndarray):
    """A view of an array whose NumPy calls reach the capturing :class:`Recorder`."""

    _slot = None
    _rec = None
    _owndata = False

    @property
    def flags(self):
        return _Flags(np.ndarray.flags.__get__(self), self._owndata)

    def __array_finalize__(self, obj) -> None:
        # made by NumPy itself (a view from an unrecorded method): unknown until a recorder
        # names it; using it in a recorded call breaks the capture
        self._slot = None
        self._rec = None
        self._owndata = False

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        rec = active()
        fn = getattr(ufunc, method)
        if rec is None:
            return _plain_call(fn, inputs, kwargs)
        written = (0,) if method == "at" else ()
        name = ufunc.__name__ if method == "__call__" else f"{ufunc.__name__}.{method}"
        return rec.call(fn, name, inputs, kwargs, written)

    def __array_function__(self, func, types, args, kwargs):
        rec = active()
        if rec is None:
            return _plain_call(func, args, kwargs)
        if func in _DATA_SHAPED:
            rec.break_(f"np.{func.__name__} makes a shape that depends on the data")
            return _plain_call(func, args, kwargs)
        if func in _METADATA:
            return _plain_call(func, args, kwargs)
        written = (_WRITES_ARG[func],) if func in _WRITES_ARG else ()
        return rec.call(func, f"np.{func.__name__}", args, kwargs, written)


class MethodCall:
    """``obj.name(*args)`` as a recorded function: at replay ``obj`` may be a NumPy scalar
    where the capture had a 0-d array (a ufunc of 0-d arrays returns a scalar), and a
    scalar has the array methods too, where ``np.ndarray.name`` would refuse it."""
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, obj, *args, **kwargs):
        return getattr(obj, self.name)(*args, **kwargs)


def _method(name: str, writes: bool):
    unbound = getattr(np.ndarray, name)
    call = MethodCall(name)

    def method(self, *args, **kwargs):
        rec = active()
        if rec is None:
            return _plain_call(unbound, (self,) + args, kwargs)
        if name == "__getitem__" and _has_bool_index(args[0]):
            rec.break_("a boolean mask index makes a shape that depends on the data")
            return _plain_call(unbound, (self,) + args, kwargs)
        return rec.call(call, f".{name}", (self,) + args, kwargs, (0,) if writes else ())
    method.__name__ = name
    return method


def _has_bool_index(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, np.ndarray) and i.dtype == bool for i in items)


def _host_read(name: str):
    unbound = getattr(np.ndarray, name)

    def method(self, *args, **kwargs):
        rec = active()
        if rec is not None:
            rec.break_(f"{name.strip('_')}() reads array data on the host (data-dependent "
                       "Python cannot be replayed)")
        return unbound(_as_plain(self), *args, **kwargs)
    method.__name__ = name
    return method


def _data_shaped(name: str):
    unbound = getattr(np.ndarray, name)

    def method(self, *args, **kwargs):
        rec = active()
        if rec is not None:
            rec.break_(f".{name}() makes a shape that depends on the data")
        return _plain_call(unbound, (self,) + args, kwargs)
    return method


def _property(name: str):
    getter = operator.attrgetter(name)

    def prop(self):
        rec = active()
        if rec is None:
            return getter(_as_plain(self))
        return rec.call(getter, f".{name}", (self,), {})
    return property(prop)


for _name in [m for m in _METHODS if hasattr(np.ndarray, m)]:
    setattr(TracedArray, _name, _method(_name, False))
for _name in _WRITING_METHODS:
    if hasattr(np.ndarray, _name):
        setattr(TracedArray, _name, _method(_name, True))
for _name in _HOST_READS:
    if hasattr(np.ndarray, _name):
        setattr(TracedArray, _name, _host_read(_name))
for _name in _DATA_SHAPED_METHODS:
    setattr(TracedArray, _name, _data_shaped(_name))
for _name in _PROPERTIES:
    setattr(TracedArray, _name, _property(_name))
del _name
