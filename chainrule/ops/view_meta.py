"""What the registry records about a view when it makes one (see ``ops/views.py``).

Kept apart from ``views.py``, which declares ops, so that the registry can import it.
"""
from __future__ import annotations

import weakref

from ..autograd.grad_mode import GRAD

NO_GRAD = "no_grad"  # the ``_view_meta`` of a view made while grad mode was off
# otherwise ``_view_meta`` is None, or (function, output index, why) for a refused view


MULTI_OUTPUT = ("This view is the output of a function that returns multiple views; such views "
                "may not be changed in place.")


def mark_refused(views, name: str, why: str = MULTI_OUTPUT) -> tuple:
    """Mark the view outputs of ``name`` (unbind, split, chunk …) as views whose history
    cannot follow an in-place change (``why`` says so): changing them, or their base
    before they are used, is an error, as in PyTorch."""
    for i, v in enumerate(views):
        if v._base is not None and v._view_meta is None:
            v._view_meta = (name, i, why)
    return tuple(views)


def register_view(result: Tensor, first: Tensor, op, params) -> None:
    """Record ``result = op(first, **params)`` as a view: its root base, chain and mode."""
    base = first._base
    if base is None:
        base = first
        result._view_chain = ((op, params),)
    else:
        result._view_chain = first._view_chain + ((op, params),)
        if first._view_meta is not None:
            result._view_meta = first._view_meta
    result._base = base
    if not GRAD.enabled:
        result._view_meta = NO_GRAD
    views = base._views
    if views is None:
        base._views = [weakref.ref(result)]
    else:
        views.append(weakref.ref(result))
        count = len(views)
        if count >= 64 and count & (count - 1) == 0:  # at 64, 128, 256 …: drop the dead
            views[:] = [r for r in views if r() is not None]  # (amortised O(1) per view)


def live_views(base) -> list:
    """The views of ``base`` that are still alive."""
    views = base._views
    if not views:
        return []
    alive = [v for v in (r() for r in views) if v is not None]
    if len(alive) < len(views):
        views[:] = [weakref.ref(v) for v in alive]
    return alive
