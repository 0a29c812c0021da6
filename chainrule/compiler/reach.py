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
value inside a list or a dict is not (``docs/compile.md``). The modules found also give the training flags and the
hooks that are part of a signature.
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
        self.guards: list = []
        self._seen: set = set()
        self._objects: list = []
        self._visit(fn, _DEPTH)
        for obj in list(self._objects):
            self._attributes(obj)
        for module in list(self.modules.values()):
            self._function(type(module).forward, 1)
            self.guards.extend(_module_guards(module))

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
        if isinstance(obj, (type, types.ModuleType)) or callable(obj) and not hasattr(obj, "__dict__"):
            return
        if hasattr(obj, "__dict__"):
            self._objects.append(obj)
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
            if isinstance(value, SIMPLE) or _held(value):
                self.guards.append((globs, name, value))  # (held objects: by identity)
            if not isinstance(value, SIMPLE):
                self._visit(value, depth - 1)
        for cell in getattr(fn, "__closure__", None) or ():
            try:
                value = cell.cell_contents
            except ValueError:
                continue
            if isinstance(value, SIMPLE) or _held(value):
                self.guards.append((cell, None, value))
            if not isinstance(value, SIMPLE):
                self._visit(value, depth - 1)

    def _attributes(self, obj, depth: int = _ATTR_DEPTH) -> None:
        """A plain object's simple attributes, the objects it holds (by identity: a model
        or config swapped for another), its modules (a trainer's model) and its plain
        objects' attributes in turn (``self.config.temperature``). An optimizer's or a
        scheduler's are not guarded: their steps run at every replay."""
        if any(getattr(getattr(type(obj), n, None), "_host_call", False)
               for n in ("step", "zero_grad")):
            return
        try:
            items = list(vars(obj).items())
        except TypeError:
            return
        space = vars(obj)
        for name, value in items:
            if isinstance(value, SIMPLE) or _held(value):
                self.guards.append((space, name, value))
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
    return hasattr(value, "__dict__") and not isinstance(
        value, (type, types.ModuleType, types.FunctionType, types.MethodType, Module))


def _module_guards(module: Module) -> list:
    """A module's parameters, buffers and children by identity (a head replaced, a weight
    assigned), and its simple attributes by value."""
    guards = []
    for space in (module._parameters, module._buffers, module._modules):
        guards.extend((space, name, value) for name, value in space.items())
    guards.extend((vars(module), name, value) for name, value in vars(module).items()
                  if isinstance(value, SIMPLE))
    return guards


_GONE = object()


def guards_hold(guards) -> bool:
    """Whether every guarded value is still what it was."""
    for space, name, value in guards:
        if name is None:
            try:
                now = space.cell_contents
            except ValueError:
                return False
        else:
            now = space.get(name, _GONE)
        if now is value:
            continue
        if type(value) not in _SIMPLE_TYPES or type(now) is not type(value) or now != value:
            return False  # (objects: by identity; simple values: by value)
    return True


_SIMPLE_TYPES = frozenset(SIMPLE)
