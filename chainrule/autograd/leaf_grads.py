"""Where gradients land: a tensor's ``.grad`` (taken over, copied or accumulated) and the
hooks that see a gradient on its way there.

Split from ``engine.py`` (which imports these back): the walk decides *when* a leaf's or
a retained tensor's gradient is complete; this file decides *how* it is stored, so that
no two tensors' ``.grad`` ever share memory, and runs the leaf and post-accumulate
hooks. ``_wrap`` is bound by the engine's ``_bind_wrap`` before the first walk.
"""
from __future__ import annotations

from .._host_calls import user_callback
from ..backends import NUMPY, backend_of
from ..errors import BackwardError
from .graph import _tensor_class
from .indexed_grad import IndexedGrad
from .rule_namespace import TENSORS

_NDARRAY = NUMPY.ndarray
_wrap = None  # tensor.wrap_array, bound by engine._bind_wrap (tensor.py imports this package)


def _to_leaf(leaf, g, ours: bool, create_graph: bool) -> None:
    """The one place a gradient (array, IndexedGrad or Tensor) is added to a leaf's
    ``.grad``; the common array cases spelled out, the rest in :func:`_store_grad`."""
    if type(g) is IndexedGrad:
        grad = leaf._grad
        xp = backend_of(g.values)
        if grad is not None and leaf._grad_owned and grad.grad_fn is None \
                and grad._data.dtype == g.values.dtype:
            g.add_into(xp, grad._data)
            return
        g, ours = g.dense(xp), True
    if type(g) is _NDARRAY or not isinstance(g, _tensor_class()):
        grad = leaf._grad
        if grad is None:  # take over our own buffer, or keep a copy of a shared one
            leaf._grad = _wrap(g if ours else g.copy())
            leaf._grad_owned = True
            return
        if leaf._grad_owned and grad.grad_fn is None:
            grad._data += g  # a .grad this engine made: accumulated in place
            return
        g = _wrap(g)
        g._grad_owned = ours
    _store_grad(leaf, g, create_graph)


def _store_grad(t, g, create_graph: bool) -> None:
    """Put ``g`` into ``t.grad``, so that no two tensors' ``.grad`` ever share memory.

    A gradient buffer made by this backward and reaching only ``t`` is taken over;
    any other (the root gradient the user passed, one that ``add`` handed to both
    operands, a hook's result) is copied. A ``.grad`` the engine made is accumulated
    in place; one the user assigned is replaced, never written to (PyTorch adds into
    it in place). With ``create_graph`` the gradient keeps its graph.
    """
    if t._grad is None:
        if create_graph:
            # the same gradient tensor may reach several leaves (a + b): each gets
            # its own copy, still in the graph, so that none aliases another
            t._grad = TENSORS.clone(g)
            t._grad_owned = False
        elif g._grad_owned:  # an exclusive buffer: take it over
            g._grad_owned = False
            t._grad = g if g.grad_fn is None else g.detach()
            t._grad_owned = True
        else:  # shared with another tensor: keep a copy of our own
            t._grad = _wrap(g._data.copy())
            t._grad_owned = True
    elif create_graph or t._grad.grad_fn is not None:
        t._grad = t._grad + g
        t._grad_owned = False
    elif t._grad_owned:
        t._grad._data += g._data
    else:
        t._grad = _wrap(_array_sum(t._grad._data, g._data))
        t._grad_owned = True


def _array_sum(a, b):
    """``a + b`` as a fresh array (NumPy gives a scalar for two 0-d arrays)."""
    out = a + b
    if type(out) is not _NDARRAY and not isinstance(out, (type(a), type(b))):
        out = backend_of(a).asarray(out)
    return out


def _run_leaf_hooks(leaf, g):
    """The gradient after the leaf's hooks (each may return a replacement)."""
    if leaf._hooks:
        user_callback("a tensor's gradient hook")
        g._grad_owned = False  # a hook may keep g: the leaf must store a copy of its own
        for hook in list(leaf._hooks):
            out = hook(g)
            if out is not None:
                g = _checked_hook_result(out, g, "hook")
    return g


def _run_post_accumulate_hooks(leaf) -> None:
    """A leaf's ``.grad`` is complete for this backward: its post-accumulate hooks run."""
    if leaf._post_accumulate_hooks:
        user_callback("a post-accumulate-grad hook")
    for hook in list(leaf._post_accumulate_hooks or ()):
        out = hook(leaf)
        if out is not None:
            raise BackwardError("post-accumulate-grad hook: it is called for its effect and "
                                f"must return None, got {type(out).__name__}")


def _checked_hook_result(out, g, what: str):
    Tensor = _tensor_class()
    if not isinstance(out, Tensor):
        raise BackwardError(f"{what}: a gradient hook must return a Tensor or None, got "
                            f"{type(out).__name__}")
    if out._data.shape != g._data.shape:
        raise BackwardError(f"{what}: a gradient hook returned shape {tuple(out.shape)}, but the "
                            f"gradient has shape {tuple(g.shape)}")
    return out
