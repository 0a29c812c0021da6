"""Rprop (resilient backpropagation: per-element step sizes driven by gradient signs),
as ``torch.optim.Rprop``."""
from __future__ import annotations

from typing import Any, Callable

from ..backends import backend_of
from ..errors import op_error
from ..tensor import Tensor
from ._gather import gather_group
from ._kernels import Scratch
from .optimizer import (Optimizer, ParamsT, _no_differentiable, _scalar, check_lr,
                        new_step_tensor, zeros_state)

__all__ = ["Rprop", "rprop_update"]


def rprop_update(params: list, grads: list, prevs: list, step_sizes: list, state_steps: list, *,
                 etaminus: float, etaplus: float, step_size_min: float, step_size_max: float,
                 maximize: bool, scratch: Scratch | None = None) -> None:
    """One Rprop step on raw arrays, in place; each 0-dim ``state_steps`` array is incremented.

    Where ``g·prev > 0`` the element's step size grows by ``etaplus``, where it is
    ``< 0`` it shrinks by ``etaminus`` and that gradient is taken as 0 (no move, and
    no sign change next time); sizes are clamped to ``[step_size_min, step_size_max]``;
    ``p -= sign(g)·size`` and ``prev = g``.

    >>> import numpy as np
    >>> p, prev, size, t = np.zeros(2), np.array([1.0, 1.0]), np.full(2, 0.1), np.zeros(())
    >>> rprop_update([p], [np.array([2.0, -2.0])], [prev], [size], [t], etaminus=0.5,
    ...              etaplus=1.2, step_size_min=1e-6, step_size_max=50, maximize=False)
    >>> p, size, prev
    (array([-0.12,  0.  ]), array([0.12, 0.05]), array([2., 0.]))
    """
    scratch = Scratch() if scratch is None else scratch
    for i, (p, grad) in enumerate(zip(params, grads)):
        state_steps[i] += 1
        xp = backend_of(p)
        factor, g = scratch.get(p, 0), scratch.get(p, 1)
        if maximize:
            xp.negative(grad, out=g)
        else:
            g[...] = grad
        prev, step_size = prevs[i], step_sizes[i]
        xp.multiply(g, prev, out=factor)
        shrink = factor < 0  # the gradient changed sign
        grow = factor > 0
        xp.sign(factor, out=factor)  # keeps NaN as NaN, as PyTorch's masked fills do
        factor[grow] = etaplus
        factor[shrink] = etaminus
        factor[factor == 0] = 1
        step_size *= factor
        xp.clip(step_size, step_size_min, step_size_max, out=step_size)
        g[shrink] = 0
        xp.sign(g, out=factor)
        factor *= step_size
        p -= factor
        prev[...] = g


class Rprop(Optimizer):
    """Rprop, as ``torch.optim.Rprop`` (same defaults, state names and update).

    State per parameter: ``step``, ``prev`` (the last gradient used) and
    ``step_size`` (per element, starting at ``lr``).

    >>> import chainrule as cr
    >>> w = cr.tensor([1.0, 1.0], requires_grad=True)
    >>> opt = cr.optim.Rprop([w], lr=0.1)
    >>> for g in ([1.0, 1.0], [1.0, -1.0]):
    ...     w.grad = cr.tensor(g)
    ...     opt.step()
    >>> w, opt.state[w]["step_size"]
    (tensor([0.7800, 0.9000], requires_grad=True), tensor([0.1200, 0.0500]))
    """

    def __init__(self, params: ParamsT, lr: float | Tensor = 1e-2,
                 etas: tuple[float, float] = (0.5, 1.2),
                 step_sizes: tuple[float, float] = (1e-6, 50), *, capturable: bool = False,
                 foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False) -> None:
        check_lr(lr, "Rprop")
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise op_error(ValueError, "Rprop", f"Invalid eta values: {etas[0]}, {etas[1]} "
                           "(need 0 < etaminus < 1 < etaplus)")
        _no_differentiable(differentiable)
        defaults = dict(lr=lr, etas=etas, step_sizes=step_sizes, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def step(self, closure: Callable[[], Any] | None = None):
        """One update of every parameter that has a gradient; returns the closure's loss."""
        loss = self._run_closure(closure)
        for group in self.param_groups:
            lr = _scalar(group["lr"])

            def init(p: Tensor, state: dict) -> None:
                state["step"] = new_step_tensor()
                state["prev"] = zeros_state(p)
                state["step_size"] = zeros_state(p, fill=lr) if lr else zeros_state(p)
            params, arrays, grads, cols = gather_group(self, group, init,
                                                       ("prev", "step_size", "step"))
            etaminus, etaplus = group["etas"]
            size_min, size_max = group["step_sizes"]
            rprop_update(arrays, grads, cols["prev"], cols["step_size"], cols["step"],
                         etaminus=etaminus, etaplus=etaplus, step_size_min=size_min,
                         step_size_max=size_max, maximize=group["maximize"],
                         scratch=self._scratch)
            self._bump(params)
        return loss
