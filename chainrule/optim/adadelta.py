"""Adadelta, as ``torch.optim.Adadelta``."""
from __future__ import annotations

from typing import Any, Callable

from ..backends import backend_of
from ..tensor import Tensor
from ._gather import gather_group
from ._kernels import Scratch, add_scaled_, effective_grad, mul_add_sq_
from .optimizer import (Optimizer, ParamsT, _no_differentiable, _scalar, check_lr,
                        check_non_negative, new_step_tensor, zeros_state)
from ..errors import op_error

__all__ = ["Adadelta", "adadelta_update"]


def adadelta_update(params: list, grads: list, square_avgs: list, acc_deltas: list,
                    state_steps: list, *, lr: float, rho: float, eps: float, weight_decay: float,
                    maximize: bool, scratch: Scratch | None = None) -> None:
    """One Adadelta step on raw arrays, in place; each 0-dim ``state_steps`` array is incremented.

    ``v ← ρ·v + (1-ρ)·g²``, ``Δ = √(u + eps) / √(v + eps) · g``, ``u ← ρ·u + (1-ρ)·Δ²``,
    ``p -= lr·Δ``.

    >>> import numpy as np
    >>> p, v, u, t = np.array([1.0]), np.zeros(1), np.zeros(1), np.zeros(())
    >>> adadelta_update([p], [np.array([2.0])], [v], [u], [t], lr=1.0, rho=0.75, eps=1e-6,
    ...                 weight_decay=0.0, maximize=False)
    >>> v, p.round(6)
    (array([1.]), array([0.998]))
    """
    scratch = Scratch() if scratch is None else scratch
    for i, (p, grad) in enumerate(zip(params, grads)):
        state_steps[i] += 1
        xp = backend_of(p)
        tmp, delta = scratch.get(p, 0), scratch.get(p, 2)
        g = effective_grad(xp, grad, p, weight_decay, maximize, scratch, 1)
        square_avg, acc_delta = square_avgs[i], acc_deltas[i]
        mul_add_sq_(xp, square_avg, g, rho, 1 - rho, tmp)
        xp.add(acc_delta, eps, out=delta)
        xp.sqrt(delta, out=delta)
        xp.add(square_avg, eps, out=tmp)
        xp.sqrt(tmp, out=tmp)
        delta /= tmp
        delta *= g
        mul_add_sq_(xp, acc_delta, delta, rho, 1 - rho, tmp)
        add_scaled_(xp, p, delta, -lr, tmp)


class Adadelta(Optimizer):
    """Adadelta, as ``torch.optim.Adadelta`` (same defaults, state names and update).

    State per parameter: ``step``, ``square_avg`` and ``acc_delta``.

    >>> import chainrule as cr
    >>> w = cr.tensor([1.0], requires_grad=True)
    >>> opt = cr.optim.Adadelta([w], rho=0.75)
    >>> w.grad = cr.tensor([2.0])
    >>> opt.step()
    >>> sorted(opt.state[w]), round(w.item(), 6)
    (['acc_delta', 'square_avg', 'step'], 0.998)
    """

    def __init__(self, params: ParamsT, lr: float | Tensor = 1.0, rho: float = 0.9,
                 eps: float = 1e-6, weight_decay: float = 0, foreach: bool | None = None, *,
                 capturable: bool = False, maximize: bool = False,
                 differentiable: bool = False) -> None:
        check_lr(lr, "Adadelta")
        if not 0.0 <= rho <= 1.0:
            raise op_error(ValueError, "Adadelta", f"Invalid rho value: {rho} (rho must be in "
                           "[0, 1])")
        check_non_negative(eps, "epsilon value", "eps", "Adadelta")
        check_non_negative(weight_decay, "weight_decay value", "weight_decay", "Adadelta")
        _no_differentiable(differentiable)
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        capturable=capturable, foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    @staticmethod
    def _init_state(p: Tensor, state: dict) -> None:
        state["step"] = new_step_tensor()
        state["square_avg"] = zeros_state(p)
        state["acc_delta"] = zeros_state(p)

    def step(self, closure: Callable[[], Any] | None = None):
        """One update of every parameter that has a gradient; returns the closure's loss."""
        loss = self._run_closure(closure)
        for group in self.param_groups:
            params, arrays, grads, cols = gather_group(self, group, self._init_state,
                                                       ("square_avg", "acc_delta", "step"))
            adadelta_update(arrays, grads, cols["square_avg"], cols["acc_delta"], cols["step"],
                            lr=_scalar(group["lr"]), rho=group["rho"], eps=group["eps"],
                            weight_decay=group["weight_decay"], maximize=group["maximize"],
                            scratch=self._scratch)
            self._bump(params)
        return loss
