"""What a step reaches by name, for ``chainrule.compile``'s signatures and guards.

A replay runs none of the step's Python, so a Python value the step reads and that changes
later (a global scale, a module's ``temperature``, ``cfg.dropout``) would be stale. The
capture cannot see Python reads; this scan finds the usual places such values live and
hands back *guards*, ``(namespace, name, value)`` checked before each replay (a change
captures again):

- the step function's globals and closure cells, and those of the Python functions it
  names (helpers), a few calls deep;
- the arguments of a ``functools.partial``, a bound method's ``self``;
- the plain attributes of the objects found (a config object, a trainer) and of every
  module (and its ``forward``'s globals).

Simple values (numbers, strings, booleans, None) are guarded by value; modules, tensors,
optimizers and plain objects by identity (a model or a config swapped for another); a
value inside a list or a dict is not (``docs/compile.md``). The modules found also give
the training flags and the hooks that are part of a signature.
"""
from __future__ import annotations

import functools
import types

from ..nn.module import Module

SIMPLE = (bool, int, float, str, type(None))
_DEPTH = 3  # helper functions followed this many calls deep
_CONTAINER = 64  # elements of a list, tuple or dict looked into
_ATTR_DEPTH = 2  # attributes of attributes (``self.config.temperature``)
_SKIP_PACKAGES = ("chainrule", "numpy", "torch", "scipy", "builtins", "functools", "typing")


def _own_code(fn) -> bool:
    """A Python function written by the user (not chainrule's, NumPy's, the standard
    library's): its globals may hold the values the step reads."""
    module = getattr(fn, "__module__", None) or ""
    return isinstance(fn, types.FunctionType) and not module.startswith(_SKIP_PACKAGES)


class Reach:
    """The modules and guards of one step (see the module docstring)."""

    def __init__(self, fn) -> None:
        self.modules: dict[int, Module] = {}
        self.places: list = []  # (namespace, name): where a value the step reads lives
        self.optimizers: list = []  # (their hyperparameters: changed by the step itself?)
        self._seen: set = set()
        self._objects: list = []
        self._visit(fn, _DEPTH)
        for obj in list(self._objects):
            self._attributes(obj)
        for module in list(self.modules.values()):
            self._function(type(module).forward, 1)
            for space in (module._parameters, module._buffers, module._modules):
                self.places.extend((space, name) for name in space)
            self._attributes(module)

    def _visit(self, obj, depth: int) -> None:
        if obj is None or isinstance(obj, SIMPLE) or id(obj) in self._seen:
            return
        self._seen.add(id(obj))
        if isinstance(obj, Module):
            for m in obj.modules():
                self.modules[id(m)] = m
            return
        if isinstance(obj, functools.partial):
            self._visit(obj.func, depth)
            for value in list(obj.args) + list(obj.keywords.values()):
                self._visit(value, depth)
            return
        if isinstance(obj, types.MethodType):
            self._visit(obj.__self__, depth)
            self._visit(obj.__func__, depth)
            return
        if isinstance(obj, types.FunctionType):
            if depth > 0 and (depth == _DEPTH or _own_code(obj)):
                self._function(obj, depth)
            return
        if isinstance(obj, (list, tuple)):  # (a list of models, a tuple of heads)
            for value in obj[:_CONTAINER]:
                self._visit(value, depth)
            return
        if isinstance(obj, dict):
            for value in list(obj.values())[:_CONTAINER]:
                self._visit(value, depth)
            return
        if isinstance(obj, (type, types.ModuleType)) or \
                callable(obj) and not hasattr(obj, "__dict__"):
            return
        if _plain_object(obj):
            self._objects.append(obj)
        if hasattr(obj, "param_groups"):
            self.optimizers.append(obj)
        if callable(obj) and hasattr(type(obj), "__call__"):  # a callable object (a compiled fn)
            inner = getattr(obj, "_fn", None)
            if inner is not None:
                self._visit(inner, depth)

    def _function(self, fn, depth: int) -> None:
        code = getattr(fn, "__code__", None)
        if code is None:
            return
        globs = getattr(fn, "__globals__", {})
        for name in code.co_names:
            if name not in globs:
                continue
            value = globs[name]
            self.places.append((globs, name))
            if not isinstance(value, SIMPLE):
                self._visit(value, depth - 1)
        for cell in getattr(fn, "__closure__", None) or ():
            try:
                value = cell.cell_contents
            except ValueError:
                continue
            self.places.append((cell, None))
            if not isinstance(value, SIMPLE):
                self._visit(value, depth - 1)

    def _attributes(self, obj, depth: int = _ATTR_DEPTH) -> None:
        """A plain object's simple attributes, the objects it holds (by identity: a model
        or config swapped for another), its modules (a trainer's model) and its plain
        objects' attributes in turn (``self.config.temperature``). An optimizer's or a
        scheduler's are not guarded: their steps run at every replay."""
        if not isinstance(obj, Module) and any(
                getattr(getattr(type(obj), n, None), "_host_call", False)
                for n in ("step", "zero_grad")):
            return
        try:
            items = list(vars(obj).items())
        except TypeError:
            return
        space = vars(obj)
        for name, value in items:
            self.places.append((space, name))
            if isinstance(value, Module):
                self._visit(value, 0)
            elif depth > 1 and _plain_object(value) and id(value) not in self._seen:
                self._seen.add(id(value))
                self._attributes(value, depth - 1)
            elif isinstance(value, (list, tuple, dict)):
                self._visit(value, 0)


def _held(value) -> bool:
    """An object whose replacement a replay must notice (guarded by identity): a module, a
    tensor, an optimizer, a plain object (a config); not functions, classes or modules."""
    return not isinstance(value, (types.FunctionType, types.BuiltinFunctionType, type,
                                  types.ModuleType, types.MethodType)) \
        and (isinstance(value, Module) or hasattr(value, "_data") or _plain_object(value)
             or hasattr(value, "param_groups"))


def _plain_object(value) -> bool:
    """A user's object (a config, a trainer): not a module, class, function, nor one of
    chainrule's own (a compiled function's caches change at every call)."""
    return hasattr(value, "__dict__") and not isinstance(
        value, (type, types.ModuleType, types.FunctionType, types.MethodType, Module)) \
        and not type(value).__module__.startswith("chainrule.")


_GONE = object()


def snapshot(places) -> list:
    """Guards for the places, with what they hold now: ``(space, name, kind, value)``.
    Simple values (and tuples of them) by value; a small list, tuple or dict of simple
    values by its contents, of objects by their identities; modules, tensors, optimizers
    and plain objects by identity; anything else (functions, classes) not at all."""
    guards = []
    for space, name in places:
        now = _read(space, name)
        if now is _GONE:
            continue
        kind = _kind(now)
        if kind == "contents":
            guards.append((space, name, kind, _contents(now)))
        elif kind == "ids":
            guards.append((space, name, kind, _ids(now)))
        elif kind is not None:
            guards.append((space, name, kind, now))
    return guards


def snapshot_values(places) -> list:
    """What the places hold now, comparable with ``==`` (for side-effect detection)."""
    out = []
    for space, name in places:
        now = _read(space, name)
        kind = _kind(now) if now is not _GONE else None
        out.append(_contents(now) if kind == "contents" else _ids(now) if kind == "ids"
                   else now if kind == "value" else id(now))
    return out


def guards_hold(guards) -> bool:
    """Whether every place still holds what its guard saw."""
    for space, name, kind, value in guards:
        now = _read(space, name)
        if kind == "identity":
            if now is not value:
                return False
        elif kind == "value":
            if now is not value and (type(now) is not type(value) or now != value):
                return False
        elif kind == "contents":
            if _kind(now) != "contents" or _contents(now) != value:
                return False
        elif _kind(now) != "ids" or _ids(now) != value:
            return False
    return True


def changed(guards) -> str:
    """The names of the places whose guard fails (for a warning)."""
    names = [name or "a closure variable" for space, name, kind, value in guards
             if not guards_hold([(space, name, kind, value)])]
    return ", ".join(names[:3]) or "?"


def _read(space, name):
    if name is None:
        try:
            return space.cell_contents
        except ValueError:
            return _GONE
    return space.get(name, _GONE)


def _simple(value) -> bool:
    return isinstance(value, SIMPLE) or type(value) is tuple and len(value) <= _CONTAINER \
        and all(isinstance(v, SIMPLE) for v in value)


def _kind(value):
    if _simple(value):
        return "value"
    if isinstance(value, (list, tuple, dict)) and len(value) <= _CONTAINER:
        items = list(value.values()) if isinstance(value, dict) else value
        if all(_simple(v) for v in items):
            return "contents"
        if all(_held(v) or _simple(v) for v in items):
            return "ids"
        return None
    return "identity" if _held(value) else None


def _contents(value):
    return tuple(value.items()) if isinstance(value, dict) else (type(value), tuple(value))


def _ids(value):
    if isinstance(value, dict):
        return tuple((k, id(v)) for k, v in value.items())
    return tuple(id(v) for v in value)
