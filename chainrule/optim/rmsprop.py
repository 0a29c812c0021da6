"""RMSprop (optionally centered, with momentum), as ``torch.optim.RMSprop``."""
from __future__ import annotations

from typing import Any, Callable

from ..backends import backend_of
from ..tensor import Tensor
from ._kernels import Scratch, add_scaled_, addcdiv_, effective_grad, lerp_, mul_add_sq_
from .optimizer import (Optimizer, ParamsT, _no_differentiable, _scalar, check_lr,
                        check_non_negative, new_step_tensor, zeros_state)

__all__ = ["RMSprop", "rmsprop_update"]


def rmsprop_update(params: list, grads: list, square_avgs: list, grad_avgs: list,
                   momentum_buffers: list, state_steps: list, *, lr: float, alpha: float, eps: float,
                   weight_decay: float, momentum: float, centered: bool, maximize: bool,
                   scratch: Scratch | None = None) -> None:
    """One RMSprop step on raw arrays, in place; each 0-dim ``state_steps`` array is incremented.

    ``v ← α·v + (1-α)·g²``; centered: ``ḡ ← lerp(ḡ, g, 1-α)`` and ``v - ḡ²`` replaces
    ``v``; ``d = √· + eps``; with momentum ``b ← μ·b + g/d``, ``p -= lr·b``, else
    ``p -= lr·g/d``.

    >>> import numpy as np
    >>> p, v, t = np.array([1.0]), np.zeros(1), np.zeros(())
    >>> rmsprop_update([p], [np.array([2.0])], [v], [], [], [t], lr=0.01, alpha=0.75, eps=0.0,
    ...                weight_decay=0.0, momentum=0.0, centered=False, maximize=False)
    >>> p, v
    (array([0.98]), array([1.]))
    """
    scratch = Scratch() if scratch is None else scratch
    for i, (p, grad) in enumerate(zip(params, grads)):
        state_steps[i] += 1
        xp = backend_of(p)
        tmp = scratch.get(p, 0)
        g = effective_grad(xp, grad, p, weight_decay, maximize, scratch, 1)
        square_avg = square_avgs[i]
        mul_add_sq_(xp, square_avg, g, alpha, 1 - alpha, tmp)
        if centered:
            grad_avg = grad_avgs[i]
            lerp_(xp, grad_avg, g, 1 - alpha, tmp)
            xp.multiply(grad_avg, grad_avg, out=tmp)
            xp.subtract(square_avg, tmp, out=tmp)
            xp.sqrt(tmp, out=tmp)
        else:
            xp.sqrt(square_avg, out=tmp)
        tmp += eps
        if momentum > 0:
            buf = momentum_buffers[i]
            buf *= momentum
            addcdiv_(xp, buf, g, tmp, 1.0, tmp)
            add_scaled_(xp, p, buf, -lr, tmp)
        else:
            addcdiv_(xp, p, g, tmp, -lr, tmp)


class RMSprop(Optimizer):
    """RMSprop, as ``torch.optim.RMSprop``.

    State per parameter: ``step``, ``square_avg``, ``momentum_buffer`` (momentum > 0)
    and ``grad_avg`` (centered).

    >>> import chainrule as cr
    >>> w = cr.tensor([1.0], requires_grad=True)
    >>> opt = cr.optim.RMSprop([w], lr=0.01, alpha=0.75, eps=0.0)
    >>> w.grad = cr.tensor([2.0])
    >>> opt.step()
    >>> w
    tensor([0.9800], requires_grad=True)
    """

    def __init__(self, params: ParamsT, lr: float | Tensor = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0, momentum: float = 0,
                 centered: bool = False, capturable: bool = False, foreach: bool | None = None,
                 maximize: bool = False, differentiable: bool = False) -> None:
        check_lr(lr, "RMSprop")
        check_non_negative(eps, "epsilon value", "eps", "RMSprop")
        check_non_negative(momentum, "momentum value", "momentum", "RMSprop")
        check_non_negative(weight_decay, "weight_decay value", "weight_decay", "RMSprop")
        check_non_negative(alpha, "alpha value", "alpha", "RMSprop")
        _no_differentiable(differentiable)
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                        maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults)

    def step(self, closure: Callable[[], Any] | None = None):
        """One update of every parameter that has a gradient; returns the closure's loss."""
        loss = self._run_closure(closure)
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            momentum, centered = group["momentum"], group["centered"]
            square_avgs, grad_avgs, bufs, steps = [], [], [], []
            for p in params:
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = new_step_tensor()
                    state["square_avg"] = zeros_state(p)
                    if momentum > 0:
                        state["momentum_buffer"] = zeros_state(p)
                    if centered:
                        state["grad_avg"] = zeros_state(p)
                square_avgs.append(state["square_avg"]._data)
                if momentum > 0:
                    bufs.append(state["momentum_buffer"]._data)
                if centered:
                    grad_avgs.append(state["grad_avg"]._data)
                steps.append(state["step"]._data)
            rmsprop_update([p._data for p in params], [p.grad._data for p in params], square_avgs,
                           grad_avgs, bufs, steps, lr=_scalar(group["lr"]), alpha=group["alpha"],
                           eps=group["eps"], weight_decay=group["weight_decay"], momentum=momentum,
                           centered=centered, maximize=group["maximize"], scratch=self._scratch)
            self._bump(params)
        return loss
