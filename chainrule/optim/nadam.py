"""NAdam (Adam with Nesterov momentum), as ``torch.optim.NAdam``."""
from __future__ import annotations

from typing import Any, Callable

from ..backends import backend_of
from ..tensor import Tensor
from ._gather import gather_group
from ._kernels import Scratch, addcdiv_, advance_step, effective_grad, lerp_, mul_add_sq_
from .optimizer import (Optimizer, ParamsT, _no_differentiable, _scalar, check_betas, check_lr,
                        check_non_negative, new_step_tensor, zeros_state)

__all__ = ["NAdam", "nadam_update"]


def nadam_update(params: list, grads: list, exp_avgs: list, exp_avg_sqs: list, mu_products: list,
                 state_steps: list, *, beta1: float, beta2: float, lr: float, weight_decay: float,
                 momentum_decay: float, eps: float, maximize: bool,
                 decoupled_weight_decay: bool = False, scratch: Scratch | None = None) -> None:
    """One NAdam step on raw arrays, in place (``state_steps`` and ``mu_products`` too).

    With ``μₜ = β1·(1 - ½·0.96^(t·ψ))`` and ``Πₜ = μ₁…μₜ`` (kept in ``mu_products``, a
    0-dim array in the step count's dtype, as PyTorch keeps it):
    ``p -= lr·(1-μₜ)/(1-Πₜ) · g/d + lr·μₜ₊₁/(1-Πₜ·μₜ₊₁) · m/d`` with
    ``d = √(v/(1-β2ᵗ)) + eps``.

    >>> import numpy as np
    >>> p, m, v, mu, t = np.array([1.0]), np.zeros(1), np.zeros(1), np.ones(()), np.zeros(())
    >>> nadam_update([p], [np.array([3.0])], [m], [v], [mu], [t], beta1=0.9, beta2=0.999,
    ...              lr=0.1, weight_decay=0.0, momentum_decay=4e-3, eps=1e-8, maximize=False)
    >>> p.round(6), float(t)
    (array([0.894355]), 1.0)
    """
    scratch = Scratch() if scratch is None else scratch
    for i, (p, grad) in enumerate(zip(params, grads)):
        step = advance_step(state_steps[i])
        xp = backend_of(p)
        tmp, denom = scratch.get(p, 0), scratch.get(p, 2)
        if weight_decay != 0 and decoupled_weight_decay:
            p *= 1 - lr * weight_decay
            g = effective_grad(xp, grad, p, 0, maximize, scratch, 1)
        else:
            g = effective_grad(xp, grad, p, weight_decay, maximize, scratch, 1)
        bias_correction2 = 1 - beta2 ** step
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
        mu_products[i] *= mu  # in the 0-dim array's own precision, as PyTorch
        mu_product = float(mu_products[i])
        mu_product_next = mu_product * mu_next
        exp_avg, exp_avg_sq = exp_avgs[i], exp_avg_sqs[i]
        lerp_(xp, exp_avg, g, 1 - beta1, tmp)
        mul_add_sq_(xp, exp_avg_sq, g, beta2, 1 - beta2, tmp)
        xp.divide(exp_avg_sq, bias_correction2, out=denom)
        xp.sqrt(denom, out=denom)
        denom += eps
        addcdiv_(xp, p, g, denom, -lr * (1.0 - mu) / (1.0 - mu_product), tmp)
        addcdiv_(xp, p, exp_avg, denom, (-lr * mu_next) / (1.0 - mu_product_next), tmp)


class NAdam(Optimizer):
    """NAdam, as ``torch.optim.NAdam`` (same defaults, state names and update).

    State per parameter: ``step``, ``mu_product`` (both 0-dim), ``exp_avg`` and
    ``exp_avg_sq``. ``decoupled_weight_decay=True`` gives NAdamW.

    >>> import chainrule as cr
    >>> w = cr.tensor([1.0], requires_grad=True)
    >>> opt = cr.optim.NAdam([w], lr=0.1)
    >>> w.grad = cr.tensor([3.0])
    >>> opt.step()
    >>> sorted(opt.state[w]), round(w.item(), 4)
    (['exp_avg', 'exp_avg_sq', 'mu_product', 'step'], 0.8944)
    """

    def __init__(self, params: ParamsT, lr: float | Tensor = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
        check_lr(lr, "NAdam")
        check_non_negative(eps, "epsilon value", "eps", "NAdam")
        betas = check_betas(betas, "NAdam")
        check_non_negative(weight_decay, "weight_decay value", "weight_decay", "NAdam")
        check_non_negative(momentum_decay, "momentum_decay value", "momentum_decay", "NAdam")
        _no_differentiable(differentiable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize,
                        foreach=foreach, capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    @staticmethod
    def _init_state(p: Tensor, state: dict) -> None:
        state["step"] = new_step_tensor()
        state["mu_product"] = new_step_tensor(1.0)
        state["exp_avg"] = zeros_state(p)
        state["exp_avg_sq"] = zeros_state(p)

    def _fill_group_defaults(self) -> None:
        super()._fill_group_defaults()
        for s in self.state.values():  # an old state may hold the product as a number
            if isinstance(s, dict) and "mu_product" in s and not isinstance(s["mu_product"], Tensor):
                s["mu_product"] = new_step_tensor(float(s["mu_product"]))

    def step(self, closure: Callable[[], Any] | None = None):
        """One update of every parameter that has a gradient; returns the closure's loss."""
        loss = self._run_closure(closure)
        for group in self.param_groups:
            params, arrays, grads, cols = gather_group(
                self, group, self._init_state, ("exp_avg", "exp_avg_sq", "mu_product", "step"))
            beta1, beta2 = (_scalar(b) for b in group["betas"])
            nadam_update(arrays, grads, cols["exp_avg"], cols["exp_avg_sq"], cols["mu_product"],
                         cols["step"], beta1=beta1, beta2=beta2, lr=_scalar(group["lr"]),
                         weight_decay=group["weight_decay"], momentum_decay=group["momentum_decay"],
                         eps=group["eps"], maximize=group["maximize"],
                         decoupled_weight_decay=group["decoupled_weight_decay"],
                         scratch=self._scratch)
            self._bump(params)
        return loss


