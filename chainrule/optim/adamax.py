"""Adamax (Adam with an infinity-norm second moment), as ``torch.optim.Adamax``."""
from __future__ import annotations

from typing import Any, Callable

from ..backends import backend_of
from ..tensor import Tensor
from ._kernels import Scratch, advance_step, addcdiv_, effective_grad, lerp_
from .optimizer import (Optimizer, ParamsT, _no_differentiable, _scalar, check_betas, check_lr,
                        check_non_negative, new_step_tensor, zeros_state)

__all__ = ["Adamax", "adamax_update"]


def adamax_update(params: list, grads: list, exp_avgs: list, exp_infs: list, state_steps: list, *,
                  eps: float, beta1: float, beta2: float, lr: float, weight_decay: float,
                  maximize: bool, scratch: Scratch | None = None) -> None:
    """One Adamax step on raw arrays, in place; each 0-dim ``state_steps`` array is incremented.

    ``m ← lerp(m, g, 1-β1)``, ``u ← max(β2·u, |g| + eps)``, ``p -= lr/(1-β1ᵗ) · m/u``.

    >>> import numpy as np
    >>> p, m, u, t = np.array([1.0]), np.zeros(1), np.zeros(1), np.zeros(())
    >>> adamax_update([p], [np.array([-2.0])], [m], [u], [t], eps=0.0, beta1=0.5, beta2=0.9,
    ...               lr=0.1, weight_decay=0.0, maximize=False)
    >>> p, u
    (array([1.1]), array([2.]))
    """
    scratch = Scratch() if scratch is None else scratch
    for i, (p, grad) in enumerate(zip(params, grads)):
        step = advance_step(state_steps[i])
        xp = backend_of(p)
        tmp = scratch.get(p, 0)
        g = effective_grad(xp, grad, p, weight_decay, maximize, scratch, 1)
        exp_avg, exp_inf = exp_avgs[i], exp_infs[i]
        lerp_(xp, exp_avg, g, 1 - beta1, tmp)
        exp_inf *= beta2
        xp.abs(g, out=tmp)
        tmp += eps
        xp.maximum(exp_inf, tmp, out=exp_inf)
        clr = lr / (1 - beta1 ** step)
        addcdiv_(xp, p, exp_avg, exp_inf, -clr, tmp)


class Adamax(Optimizer):
    """Adamax, as ``torch.optim.Adamax``.

    State per parameter: ``step``, ``exp_avg`` and ``exp_inf``.

    >>> import chainrule as cr
    >>> w = cr.tensor([1.0], requires_grad=True)
    >>> opt = cr.optim.Adamax([w], lr=0.1)
    >>> w.grad = cr.tensor([-2.0])
    >>> opt.step()
    >>> w
    tensor([1.1000], requires_grad=True)
    """

    def __init__(self, params: ParamsT, lr: float | Tensor = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, foreach: bool | None = None, *, maximize: bool = False,
                 differentiable: bool = False, capturable: bool = False) -> None:
        check_lr(lr, "Adamax")
        check_non_negative(eps, "epsilon value", "eps", "Adamax")
        betas = check_betas(betas, "Adamax")
        check_non_negative(weight_decay, "weight_decay value", "weight_decay", "Adamax")
        _no_differentiable(differentiable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def step(self, closure: Callable[[], Any] | None = None):
        """One update of every parameter that has a gradient; returns the closure's loss."""
        loss = self._run_closure(closure)
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            exp_avgs, exp_infs, steps = [], [], []
            for p in params:
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = new_step_tensor()
                    state["exp_avg"] = zeros_state(p)
                    state["exp_inf"] = zeros_state(p)
                exp_avgs.append(state["exp_avg"]._data)
                exp_infs.append(state["exp_inf"]._data)
                steps.append(state["step"]._data)
            beta1, beta2 = (_scalar(b) for b in group["betas"])
            adamax_update([p._data for p in params], [p.grad._data for p in params], exp_avgs,
                          exp_infs, steps, eps=group["eps"], beta1=beta1, beta2=beta2,
                          lr=_scalar(group["lr"]), weight_decay=group["weight_decay"],
                          maximize=group["maximize"], scratch=self._scratch)
            self._bump(params)
        return loss
