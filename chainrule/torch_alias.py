"""Run PyTorch code unchanged: ``import torch`` (and ``torch.nn``, ``torch.optim.lr_scheduler``
…) resolved to chainrule's modules of the same name.

:func:`install` adds an import finder; each ``torch.X`` is chainrule's ``chainrule.X``,
imported on first use (a name chainrule lacks is the usual ModuleNotFoundError).
``chainrule doctor --torch script.py`` uses it; so can a notebook.

>>> import sys
>>> install()
>>> import torch.nn.functional as F
>>> F.relu is __import__("chainrule").nn.functional.relu
True
>>> uninstall()
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

PREFIX, TARGET = "torch", "chainrule"


class _TorchFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds ``torch`` and ``torch.*`` as chainrule's modules."""

    def find_spec(self, name, path=None, target=None):
        if name != PREFIX and not name.startswith(PREFIX + "."):
            return None
        real = TARGET + name[len(PREFIX):]
        try:
            if importlib.util.find_spec(real) is None:
                return None
        except ModuleNotFoundError:
            return None
        return importlib.util.spec_from_loader(name, self)

    def create_module(self, spec):
        module = importlib.import_module(TARGET + spec.name[len(PREFIX):])
        self._own_spec = module.__spec__  # the import system sets __spec__ to the alias's
        return module

    def exec_module(self, module) -> None:
        # chainrule's module ran when it was imported; give it back its own spec
        module.__spec__ = self._own_spec


_FINDER = _TorchFinder()
_SET_ASIDE: dict = {}  # a real PyTorch imported before install(), restored by uninstall()


def _torch_names() -> list[str]:
    return [n for n in sys.modules if n == PREFIX or n.startswith(PREFIX + ".")]


def install() -> None:
    """Make ``import torch`` give chainrule (until :func:`uninstall`)."""
    if _FINDER in sys.meta_path:
        return
    for name in _torch_names():
        _SET_ASIDE[name] = sys.modules.pop(name)
    sys.meta_path.insert(0, _FINDER)


def uninstall() -> None:
    """Remove the finder, forget the ``torch`` modules it gave and bring back a real
    PyTorch that was imported before."""
    if _FINDER in sys.meta_path:
        sys.meta_path.remove(_FINDER)
    for name in _torch_names():
        del sys.modules[name]
    sys.modules.update(_SET_ASIDE)
    _SET_ASIDE.clear()
