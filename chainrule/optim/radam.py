"""RAdam (Adam with a rectified adaptive rate), as ``torch.optim.RAdam``."""
from __future__ import annotations

from typing import Any, Callable

from ..backends import backend_of
from ..tensor import Tensor
from ._gather import gather_group
from ._kernels import Scratch, add_scaled_, advance_step, effective_grad, lerp_, mul_add_sq_
from .optimizer import (Optimizer, ParamsT, _no_differentiable, _scalar, check_betas, check_lr,
                        check_non_negative, new_step_tensor, zeros_state)

__all__ = ["RAdam", "radam_update"]


def radam_update(params: list, grads: list, exp_avgs: list, exp_avg_sqs: list, state_steps: list,
                 *, beta1: float, beta2: float, lr: float, weight_decay: float, eps: float,
                 maximize: bool, decoupled_weight_decay: bool = False,
                 scratch: Scratch | None = None) -> None:
    """One RAdam step on raw arrays, in place; each 0-dim ``state_steps`` array is incremented.

    ``m̂ = m/(1-β1ᵗ)``; with ``ρ∞ = 2/(1-β2) - 1`` and ``ρₜ = ρ∞ - 2t·β2ᵗ/(1-β2ᵗ)``:
    when ``ρₜ > 5`` ``p -= lr·m̂ · √(1-β2ᵗ)/(√v + eps) · r`` (``r`` the variance
    rectification), else ``p -= lr·m̂`` (plain momentum for the first steps).

    >>> import numpy as np
    >>> p, m, v, t = np.array([1.0]), np.zeros(1), np.zeros(1), np.zeros(())
    >>> radam_update([p], [np.array([3.0])], [m], [v], [t], beta1=0.9, beta2=0.999, lr=0.1,
    ...              weight_decay=0.0, eps=1e-8, maximize=False)
    >>> p.round(6)
    array([0.7])
    """
    scratch = Scratch() if scratch is None else scratch
    rho_inf = 2 / (1 - beta2) - 1
    for i, (p, grad) in enumerate(zip(params, grads)):
        step = advance_step(state_steps[i])
        xp = backend_of(p)
        tmp, update = scratch.get(p, 0), scratch.get(p, 2)
        if weight_decay != 0 and decoupled_weight_decay:
            p *= 1 - lr * weight_decay
            g = effective_grad(xp, grad, p, 0, maximize, scratch, 1)
        else:
            g = effective_grad(xp, grad, p, weight_decay, maximize, scratch, 1)
        exp_avg, exp_avg_sq = exp_avgs[i], exp_avg_sqs[i]
        lerp_(xp, exp_avg, g, 1 - beta1, tmp)
        mul_add_sq_(xp, exp_avg_sq, g, beta2, 1 - beta2, tmp)
        bias_correction1 = 1 - beta1 ** step
        bias_correction2 = 1 - beta2 ** step
        rho_t = rho_inf - 2 * step * (beta2 ** step) / bias_correction2
        xp.divide(exp_avg, bias_correction1, out=update)
        update *= lr
        if rho_t > 5.0:
            rect = ((rho_t - 4) * (rho_t - 2) * rho_inf
                    / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
            xp.sqrt(exp_avg_sq, out=tmp)
            tmp += eps
            xp.divide(bias_correction2 ** 0.5, tmp, out=tmp)  # the adaptive rate
            update *= tmp
            update *= rect
        add_scaled_(xp, p, update, -1.0, tmp)


class RAdam(Optimizer):
    """RAdam, as ``torch.optim.RAdam`` (same defaults, state names and update).

    State per parameter: ``step``, ``exp_avg`` and ``exp_avg_sq``.
    ``decoupled_weight_decay=True`` gives RAdamW.

    >>> import chainrule as cr
    >>> w = cr.tensor([1.0], requires_grad=True)
    >>> opt = cr.optim.RAdam([w], lr=0.1)
    >>> w.grad = cr.tensor([3.0])
    >>> opt.step()
    >>> round(w.item(), 4)
    0.7
    """

    def __init__(self, params: ParamsT, lr: float | Tensor = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, decoupled_weight_decay: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
        check_lr(lr, "RAdam")
        check_non_negative(eps, "epsilon value", "eps", "RAdam")
        betas = check_betas(betas, "RAdam")
        check_non_negative(weight_decay, "weight_decay value", "weight_decay", "RAdam")
        _no_differentiable(differentiable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize, capturable=capturable,
                        decoupled_weight_decay=decoupled_weight_decay,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    @staticmethod
    def _init_state(p: Tensor, state: dict) -> None:
        state["step"] = new_step_tensor()
        state["exp_avg"] = zeros_state(p)
        state["exp_avg_sq"] = zeros_state(p)

    def step(self, closure: Callable[[], Any] | None = None):
        """One update of every parameter that has a gradient; returns the closure's loss."""
        loss = self._run_closure(closure)
        for group in self.param_groups:
            params, arrays, grads, cols = gather_group(self, group, self._init_state,
                                                       ("exp_avg", "exp_avg_sq", "step"))
            beta1, beta2 = (_scalar(b) for b in group["betas"])
            radam_update(arrays, grads, cols["exp_avg"], cols["exp_avg_sq"], cols["step"],
                         beta1=beta1, beta2=beta2, lr=_scalar(group["lr"]),
                         weight_decay=group["weight_decay"], eps=group["eps"],
                         maximize=group["maximize"],
                         decoupled_weight_decay=group["decoupled_weight_decay"],
                         scratch=self._scratch)
            self._bump(params)
        return loss
