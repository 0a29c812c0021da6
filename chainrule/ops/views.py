"""Views and in-place changes: one memory, one version counter, one history.

A view (``a[1:]``, ``a.t()``, ``a.diagonal()`` …) shares its base's memory. The
registry records, for every view, its root base and the chain of view ops that
makes it from that base (``_view_chain``); the base keeps its live views
(``_views``, weakly). When an in-place op recorded for autograd changes the
base, or any view of it, the base's history gains the change and every live
view's ``grad_fn`` is made anew by replaying its chain on the base — as PyTorch
rebases a view's history (its ``AsStridedBackward``). A change made through a
view reaches the base as a :data:`view_scatter_op` node (PyTorch's
``CopySlices``): the base with the view's region replaced by the new values.

Where PyTorch refuses, so does chainrule: the outputs of ``unbind``/``split``/
``chunk`` may not be changed in place, nor may their base once they are used;
nor may a view made in ``no_grad`` mode be changed with grad mode on.

>>> import chainrule as cr
>>> x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
>>> a = x * 1
>>> v = a[1:]
>>> _ = a.mul_(3)
>>> v.sum().backward()
>>> x.grad
tensor([0., 3., 3.])
"""
from __future__ import annotations

import weakref

from ..autograd.grad_mode import GRAD
from ..backends import backend_of
from ..errors import BackwardError, ChainruleError, op_error
from ..tensor import Tensor, wrap_array
from ..autograd.rule_namespace import records
from .registry import defgrad, defop
from .view_meta import NO_GRAD as _NO_GRAD, live_views


def replay_arrays(xp, array, chain):
    """The view ops of ``chain`` applied to a raw array (a view of it, for the ops here)."""
    for op, params in chain:
        array = op.forward(xp, array, **params)
    return array


def replay(base: Tensor, chain) -> Tensor:
    """The view ops of ``chain`` applied to ``base`` as recorded ops (differentiable)."""
    out = base
    for op, params in chain:
        out = op(out, **params)
    return out


# --------------------------------------------------------------- view scatter --
def _scatter_fwd(xp, base, value, chain):
    out = base.copy()  # C-ordered: each view op of the chain gives a view of it
    replay_arrays(xp, out, chain)[...] = value
    return out


def _region_zeros(m, g, chain):
    """Zeros shaped as the region ``chain`` selects of ``g`` (a constant in either namespace)."""
    data = getattr(g, "_data", g)
    xp = backend_of(data)
    region = replay_arrays(xp, data, chain)
    zeros = xp.zeros(region.shape, dtype=region.dtype)
    return wrap_array(zeros) if records(m) else zeros


def _replayed(m, g, chain):
    """The region ``chain`` selects of ``g``: recorded view ops on Tensors, views on arrays."""
    return replay(g, chain) if records(m) else replay_arrays(m, g, chain)


view_scatter_op = defop("view_scatter", _scatter_fwd, saves=())
defgrad(view_scatter_op,
        lambda m, g, ans, base, value, chain: view_scatter_op.on(m, g, _region_zeros(m, g, chain),
                                                                  chain=chain),
        lambda m, g, ans, base, value, chain: _replayed(m, g, chain))


# ------------------------------------------------------------- refused views --
def _refused_fwd(xp, base, chain, message):
    return replay_arrays(xp, base, chain)


def _refused_rule(m, g, ans, base, chain, message):
    raise BackwardError(message)


# the history a view gets when PyTorch would refuse to rebase it: backward through it raises
refused_view_op = defop("refused_view", _refused_fwd, saves=())
defgrad(refused_view_op, _refused_rule)

def _multi_output_text(view: Tensor, what: str) -> str:
    name, index, why = view._view_meta
    return (f"output {index} of {name} is a view and {what}. {why} Replace the in-place op with "
            f"an out-of-place one, or clone() the outputs of {name}.")


def _no_grad_text(what: str) -> str:
    return (f"a view was created in no_grad mode and {what} with grad mode enabled; the change "
            "cannot be recorded for autograd. Create the view with grad mode on, or clone() it, "
            "or make the change under no_grad().")


def check_view_change(view: Tensor, name: str) -> None:
    """Raise where PyTorch refuses to record an in-place change of ``view``."""
    meta = view._view_meta
    if meta == _NO_GRAD:
        raise op_error(ChainruleError, name, _no_grad_text("is being modified in place"))
    if meta is not None:
        raise op_error(ChainruleError, name, _multi_output_text(view, "is being modified in place"))
    base = view._base
    if base.grad_fn is None and base._requires_grad:
        raise op_error(ChainruleError, name,
                       f"a view (shape {tuple(view.shape)}) of a leaf tensor that requires grad is "
                       "used in an in-place operation; do it under chainrule.no_grad() or change "
                       "a clone()")


def refresh_views(base: Tensor) -> None:
    """Give every live view of ``base`` a history that starts at ``base``'s current one."""
    views = live_views(base)
    if not views:
        return
    prior = GRAD.enabled
    GRAD.enabled = True
    try:
        for view in views:
            _refresh(base, view)
    finally:
        GRAD.enabled = prior


def _refresh(base: Tensor, view: Tensor) -> None:
    meta = view._view_meta
    if meta is None:
        fresh = replay(base, view._view_chain)
    else:
        text = _no_grad_text("its base or another view of its base has been modified in place") \
            if meta == _NO_GRAD else \
            _multi_output_text(view, "its base or another view of its base has been modified in place")
        fresh = refused_view_op(base, chain=view._view_chain, message=text)
    view.grad_fn = fresh.grad_fn
    view._requires_grad = fresh._requires_grad
    if view._retains_grad and view.grad_fn is not None:
        view.grad_fn.retained = weakref.ref(view)
