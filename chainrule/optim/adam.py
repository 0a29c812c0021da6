"""Adam (optionally AMSGrad, optionally with decoupled weight decay), as ``torch.optim.Adam``."""
from __future__ import annotations

from typing import Any, Callable

from ..backends import NUMPY, backend_of
from ..tensor import Tensor
from ._fused import fused_adam_step
from ._kernels import Scratch, advance_step, addcdiv_, effective_grad, lerp_, mul_add_sq_
from .optimizer import (Optimizer, ParamsT, _no_differentiable, _scalar, check_betas, check_lr,
                        check_non_negative, new_step_tensor, zeros_state)

__all__ = ["Adam", "adam_update"]


def adam_update(params: list, grads: list, exp_avgs: list, exp_avg_sqs: list, max_exp_avg_sqs: list,
                state_steps: list, *, amsgrad: bool, beta1: float, beta2: float, lr: float,
                weight_decay: float, eps: float, maximize: bool, decoupled_weight_decay: bool = False,
                scratch: Scratch | None = None) -> None:
    """One Adam step on raw arrays, in place; each 0-dim ``state_steps`` array is incremented.

    ``m ← lerp(m, g, 1-β1)``, ``v ← β2·v + (1-β2)·g²`` (``v̂ = max(v̂, v)`` with amsgrad),
    ``p -= lr/(1-β1ᵗ) · m / (√v/√(1-β2ᵗ) + eps)``. Weight decay is added to the
    gradient, or with ``decoupled_weight_decay`` (AdamW) applied as ``p *= 1 - lr·wd``.

    >>> import numpy as np
    >>> p, m, v, t = np.array([1.0]), np.zeros(1), np.zeros(1), np.zeros(())
    >>> adam_update([p], [np.array([3.0])], [m], [v], [], [t], amsgrad=False, beta1=0.9,
    ...             beta2=0.999, lr=0.1, weight_decay=0.0, eps=1e-8, maximize=False)
    >>> p.round(6), float(t)
    (array([0.9]), 1.0)
    """
    scratch = Scratch() if scratch is None else scratch
    for i, (p, grad) in enumerate(zip(params, grads)):
        step = advance_step(state_steps[i])
        xp = backend_of(p)
        if xp is not NUMPY and fused_adam_step(  # CuPy: the step below as one kernel
                xp, p, grad, exp_avgs[i], exp_avg_sqs[i], max_exp_avg_sqs[i] if amsgrad else None,
                step, amsgrad=amsgrad, beta1=beta1, beta2=beta2, lr=lr, weight_decay=weight_decay,
                eps=eps, maximize=maximize, decoupled_weight_decay=decoupled_weight_decay):
            continue
        tmp = scratch.get(p, 0)
        if weight_decay != 0 and decoupled_weight_decay:
            p *= 1 - lr * weight_decay
            g = effective_grad(xp, grad, p, 0, maximize, scratch, 1)
        else:
            g = effective_grad(xp, grad, p, weight_decay, maximize, scratch, 1)
        exp_avg, exp_avg_sq = exp_avgs[i], exp_avg_sqs[i]
        lerp_(xp, exp_avg, g, 1 - beta1, tmp)
        mul_add_sq_(xp, exp_avg_sq, g, beta2, 1 - beta2, tmp)
        step_size = lr / (1 - beta1 ** step)
        bias_correction2_sqrt = (1 - beta2 ** step) ** 0.5
        if amsgrad:
            xp.maximum(max_exp_avg_sqs[i], exp_avg_sq, out=max_exp_avg_sqs[i])
            xp.sqrt(max_exp_avg_sqs[i], out=tmp)
        else:
            xp.sqrt(exp_avg_sq, out=tmp)
        tmp /= bias_correction2_sqrt
        tmp += eps
        addcdiv_(xp, p, exp_avg, tmp, -step_size, tmp)


class Adam(Optimizer):
    """Adam, as ``torch.optim.Adam`` (same defaults, state names and update).

    State per parameter: ``step`` (a 0-dim tensor), ``exp_avg``, ``exp_avg_sq`` and,
    with ``amsgrad``, ``max_exp_avg_sq``.

    >>> import chainrule as cr
    >>> w = cr.tensor([1.0, -1.0], requires_grad=True)
    >>> opt = cr.optim.Adam([w], lr=0.1)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> w
    tensor([ 0.9000, -0.9000], requires_grad=True)
    >>> sorted(opt.state[w])
    ['exp_avg', 'exp_avg_sq', 'step']
    """

    _decoupled = False

    def __init__(self, params: ParamsT, lr: float | Tensor = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False, differentiable: bool = False,
                 fused: bool | None = None, decoupled_weight_decay: bool = False) -> None:
        check_lr(lr, "Adam")
        check_non_negative(eps, "epsilon value", "eps", "Adam")
        betas = check_betas(betas, "Adam")
        check_non_negative(weight_decay, "weight_decay value", "weight_decay", "Adam")
        _no_differentiable(differentiable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, foreach=foreach, capturable=capturable,
                        differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay or self._decoupled)
        super().__init__(params, defaults)

    def _fill_group_defaults(self) -> None:
        super()._fill_group_defaults()
        if self._decoupled:
            for group in self.param_groups:
                group["decoupled_weight_decay"] = True

    def step(self, closure: Callable[[], Any] | None = None):
        """One update of every parameter that has a gradient; returns the closure's loss."""
        loss = self._run_closure(closure)
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            amsgrad = group["amsgrad"]
            exp_avgs, exp_avg_sqs, max_sqs, steps = [], [], [], []
            for p in params:
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = new_step_tensor()
                    state["exp_avg"] = zeros_state(p)
                    state["exp_avg_sq"] = zeros_state(p)
                    if amsgrad:
                        state["max_exp_avg_sq"] = zeros_state(p)
                exp_avgs.append(state["exp_avg"]._data)
                exp_avg_sqs.append(state["exp_avg_sq"]._data)
                if amsgrad:
                    max_sqs.append(state["max_exp_avg_sq"]._data)
                steps.append(state["step"]._data)
            beta1, beta2 = (_scalar(b) for b in group["betas"])
            adam_update([p._data for p in params], [p.grad._data for p in params], exp_avgs,
                        exp_avg_sqs, max_sqs, steps, amsgrad=amsgrad, beta1=beta1, beta2=beta2,
                        lr=_scalar(group["lr"]), weight_decay=group["weight_decay"], eps=group["eps"],
                        maximize=group["maximize"],
                        decoupled_weight_decay=group["decoupled_weight_decay"],
                        scratch=self._scratch)
            self._bump(params)
        return loss
