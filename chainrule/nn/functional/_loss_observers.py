"""Letting instruments see every loss computed: who called which loss on what.

The training diagnostics need the loss's inputs (a softmax fed to cross-entropy, an
``(N, 1)`` prediction against an ``(N,)`` target) to name a bug's cause. A loss
function wrapped by :func:`observed` reports ``(name, input, target, reduction,
loss)`` to every registered observer; with none registered it costs one check.
Only the outermost loss call reports (``cross_entropy`` may call another loss).

>>> import chainrule as cr
>>> import chainrule.nn.functional as F
>>> seen = []
>>> handle = observe_losses(lambda name, *rest: seen.append(name))
>>> _ = F.mse_loss(cr.zeros(3), cr.ones(3))
>>> handle.remove(); seen
['mse_loss']
"""
from __future__ import annotations

import functools
import inspect
import threading
from typing import Callable

from ..._host_calls import user_callback
from ...autograd.graph import RemovableHandle

_OBSERVERS: list[Callable] = []
_DEPTH = threading.local()


def observe_losses(fn: Callable) -> RemovableHandle:
    """Call ``fn(name, input, target, reduction, loss)`` after every observed loss;
    ``handle.remove()`` stops it."""
    _OBSERVERS.append(fn)
    return RemovableHandle(_OBSERVERS, fn)


def observed(loss_fn: Callable) -> Callable:
    """``loss_fn`` reporting to the observers (its first two arguments are the input and
    the target; ``reduction`` is read from the call or the default)."""
    signature = inspect.signature(loss_fn)
    name = loss_fn.__name__

    @functools.wraps(loss_fn)
    def wrapper(*args, **kwargs):
        if not _OBSERVERS:
            return loss_fn(*args, **kwargs)
        user_callback("a loss observer (a training monitor)")
        depth = getattr(_DEPTH, "value", 0)
        _DEPTH.value = depth + 1
        try:
            loss = loss_fn(*args, **kwargs)
        finally:
            _DEPTH.value = depth
        if depth == 0:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            values = list(bound.arguments.values())
            reduction = bound.arguments.get("reduction", "mean")
            if bound.arguments.get("reduce") is False:
                reduction = "none"
            elif bound.arguments.get("size_average") is False:
                reduction = "sum"
            for fn in list(_OBSERVERS):
                fn(name, values[0], values[1], reduction, loss)
        return loss

    return wrapper
