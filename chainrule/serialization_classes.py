"""Which classes a file may rebuild: chainrule's own, and those the user allows.

``save(model, f)`` stores a whole module as its class's import path and its
attributes (no pickle). ``load`` rebuilds an object only from a class it can name
without running anything the file asks for:

- chainrule's own classes (``chainrule.nn.Linear`` …);
- classes allowed with :func:`add_safe_globals` or inside ``with safe_globals([...])``
  (PyTorch's contract for ``torch.load(weights_only=True)``);
- with ``load(..., weights_only=False)``, also classes of modules the program has
  already imported (their code has run already; a module is never imported for a file).

The object is made with ``cls.__new__(cls)`` and its attributes set; neither
``__init__`` nor ``__setstate__`` runs.

>>> import chainrule as cr, io
>>> class Head(cr.nn.Module):
...     def __init__(self):
...         super().__init__()
...         self.fc = cr.nn.Linear(2, 1)
>>> buf = io.BytesIO()
>>> cr.save(Head(), buf)
>>> _ = buf.seek(0)
>>> with cr.serialization.safe_globals([Head]):
...     head = cr.load(buf)
>>> type(head).__name__, tuple(head.fc.weight.shape)
('Head', (1, 2))
"""
from __future__ import annotations

import contextlib
import sys
from typing import Iterable, Iterator

__all__ = ["add_safe_globals", "clear_safe_globals", "get_safe_globals", "safe_globals"]

_ALLOWED: dict[str, type] = {}
_SCOPED: list[dict[str, type]] = []  # the ``with safe_globals(...)`` blocks now open


def class_path(cls: type) -> str:
    """``module:qualname``, the name a file stores for ``cls``."""
    return f"{cls.__module__}:{cls.__qualname__}"


def _entries(classes: Iterable) -> dict[str, type]:
    out = {}
    for item in classes:
        # PyTorch also takes (class, "module.name") pairs: the class is what counts here
        cls = item[0] if isinstance(item, tuple) else item
        if not (isinstance(cls, type) or callable(cls)) or not hasattr(cls, "__qualname__"):
            raise TypeError(f"safe_globals: expected classes or functions, got "
                            f"{type(cls).__name__} {cls!r:.60}")
        out[class_path(cls)] = cls
    return out


def add_safe_globals(classes: Iterable) -> None:
    """Allow ``load`` to rebuild objects of these classes, or refer to these functions (for
    the rest of the process)."""
    _ALLOWED.update(_entries(classes))


def get_safe_globals() -> list:
    """The classes allowed with :func:`add_safe_globals`."""
    return list(_ALLOWED.values())


def clear_safe_globals() -> None:
    """Forget the classes allowed with :func:`add_safe_globals`."""
    _ALLOWED.clear()


@contextlib.contextmanager
def safe_globals(classes: Iterable) -> Iterator[None]:
    """Allow these classes inside the ``with`` block only."""
    _SCOPED.append(_entries(classes))
    try:
        yield
    finally:
        _SCOPED.pop()


def _allowed(path: str) -> type | None:
    for scope in reversed(_SCOPED):
        if path in scope:
            return scope[path]
    return _ALLOWED.get(path)


def _lookup(module, qualname: str):
    obj = module
    for part in qualname.split("."):
        if part.startswith("__") or part == "<locals>":
            return None
        obj = getattr(obj, part, None)
    return obj


def resolve(path: str, weights_only: bool, classes_only: bool = True):
    """The class (or, unless ``classes_only``, function) ``path`` names, if this load may use
    it; else None."""
    found = _allowed(path)
    if found is not None and (isinstance(found, type) or not classes_only):
        return found
    module_name, _, qualname = path.partition(":")
    ours = module_name == "chainrule" or module_name.startswith("chainrule.")
    if not (ours or not weights_only):
        return None
    # a module imported already (chainrule imports its layers at start); never imported here,
    # since importing runs a module's code (chainrule.__main__ would run the command line)
    module = sys.modules.get(module_name)
    found = None if module is None else _lookup(module, qualname)
    if isinstance(found, type) or (not classes_only and callable(found)):
        return found
    return None
