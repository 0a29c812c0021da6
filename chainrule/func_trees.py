"""Pytrees (nested tuples, lists and dicts of tensors) and the naming of transformed
functions: shared by ``func.py`` and ``func_vmap.py``, below both."""
from __future__ import annotations

from typing import Any, Sequence


def tree_flatten(tree: Any) -> tuple[list, Any]:
    """The leaves of nested tuples / lists / dicts (in order), and the structure to rebuild
    it with :func:`tree_unflatten`. Anything else (a Tensor, a number, None) is a leaf.

    >>> leaves, spec = tree_flatten({"a": (1, 2), "b": 3})
    >>> leaves, tree_unflatten(spec, [10, 20, 30])
    ([1, 2, 3], {'a': (10, 20), 'b': 30})
    """
    leaves: list = []

    def walk(t):
        if isinstance(t, (tuple, list)):
            return (type(t), None, [walk(c) for c in t])
        if isinstance(t, dict):
            return (type(t), list(t.keys()), [walk(v) for v in t.values()])
        leaves.append(t)
        return None
    return leaves, walk(tree)


def tree_unflatten(spec: Any, leaves: Sequence) -> Any:
    """The tree of structure ``spec`` (from :func:`tree_flatten`) with these leaves."""
    it = iter(leaves)

    def build(sp):
        if sp is None:
            return next(it)
        kind, keys, children = sp
        made = [build(c) for c in children]
        if keys is not None:
            return kind(zip(keys, made))
        return kind(*made) if hasattr(kind, "_fields") else kind(made)  # (namedtuples)
    return build(spec)


def _spec_str(spec) -> str:
    if spec is None:
        return "*"
    kind, keys, children = spec
    inner = ", ".join((f"{k!r}: " if keys is not None else "") + _spec_str(c)
                      for k, c in zip(keys or [None] * len(children), children))
    return f"{kind.__name__}({inner})"


# ----------------------------------------------------------------- helpers --


def _name(wrapper, transform: str, func) -> None:
    wrapper.__name__ = f"{transform}({getattr(func, '__name__', 'f')})"
    wrapper.__doc__ = getattr(func, "__doc__", None)
