"""``chainrule.multiprocessing``: Python's ``multiprocessing`` plus what PyTorch adds to it.

Everything ``multiprocessing`` exports is here (``Process``, ``Queue``, ``get_context``,
``set_start_method`` …), with ``spawn``/``start_processes`` and the sharing-strategy calls. Tensors
and modules can be sent to other processes (arguments of a spawned process, queues): as in
PyTorch, a tensor is moved to shared memory (``share_memory_()``) when sent, and received as a
view of the same memory; ``module.share_memory()`` does it ahead for fork-started processes.

>>> import chainrule.multiprocessing as mp
>>> sorted(mp.get_all_sharing_strategies())
['file_descriptor', 'file_system']
"""
from __future__ import annotations

import multiprocessing
from multiprocessing import *  # noqa: F401,F403

from . import _shared  # noqa: F401  (Tensor.share_memory_ / is_shared)
from .reductions import init_reductions
from .spawn import (ProcessContext, ProcessExitedException, ProcessRaisedException,  # noqa: F401
                    spawn, start_processes)

__all__ = list(multiprocessing.__all__) + [
    "spawn", "start_processes", "ProcessContext", "ProcessRaisedException",
    "ProcessExitedException", "set_sharing_strategy", "get_sharing_strategy",
    "get_all_sharing_strategies", "init_reductions"]

# Blocks are named POSIX shared memory (like PyTorch's "file_system" strategy); the
# "file_descriptor" strategy (fds passed over sockets) is not offered.
_STRATEGIES = {"file_descriptor", "file_system"}  # both names accepted; both use named blocks
_strategy = "file_descriptor"


def set_sharing_strategy(new_strategy: str) -> None:
    """``"file_descriptor"`` or ``"file_system"`` (PyTorch's names); here both share tensors
    through named shared-memory blocks, so the choice changes nothing."""
    global _strategy
    if new_strategy not in _STRATEGIES:
        raise ValueError(f"set_sharing_strategy: {new_strategy!r} is not available here; "
                         f"choose from {sorted(_STRATEGIES)}")
    _strategy = new_strategy


def get_sharing_strategy() -> str:
    return _strategy


def get_all_sharing_strategies() -> set[str]:
    return set(_STRATEGIES)


init_reductions()
