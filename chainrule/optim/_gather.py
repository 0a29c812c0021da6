"""Collecting a param group's arrays for a functional update (shared by the newer optimizers).

The update functions work on raw backend arrays; this gathers, for one param group,
the parameters that have a gradient, their arrays, their gradients' arrays and the
named state arrays, creating the state on a parameter's first step.
"""
from __future__ import annotations

from typing import Any, Callable

from ..tensor import Tensor

__all__ = ["gather_group"]


def gather_group(optimizer, group: dict[str, Any], init: Callable[[Tensor, dict], None],
                 names: tuple[str, ...]) -> tuple[list, list, list, dict[str, list]]:
    """``(params, param_arrays, grad_arrays, {name: state arrays})`` for ``group``.

    ``init(p, state)`` fills an empty state; every name in ``names`` must then be in it.

    >>> import chainrule as cr
    >>> from chainrule.optim.optimizer import zeros_state
    >>> w = cr.ones(2, requires_grad=True)
    >>> opt = cr.optim.SGD([w], lr=0.1)
    >>> w.grad = cr.ones(2)
    >>> ps, arrays, grads, cols = gather_group(opt, opt.param_groups[0],
    ...     lambda p, s: s.update(buf=zeros_state(p)), ("buf",))
    >>> len(ps), cols["buf"][0].tolist()
    (1, [0.0, 0.0])
    """
    params = [p for p in group["params"] if p.grad is not None]
    columns: dict[str, list] = {name: [] for name in names}
    for p in params:
        state = optimizer.state[p]
        if len(state) == 0:
            init(p, state)
        for name in names:
            columns[name].append(state[name]._data)
    return params, [p._data for p in params], [p.grad._data for p in params], columns
