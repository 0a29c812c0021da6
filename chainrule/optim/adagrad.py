"""Adagrad, as ``torch.optim.Adagrad``."""
from __future__ import annotations

from typing import Any, Callable

from ..backends import backend_of
from ..tensor import Tensor
from ._kernels import Scratch, advance_step, addcdiv_, effective_grad, mul_add_sq_
from .optimizer import (Optimizer, ParamsT, _no_differentiable, _scalar, check_lr,
                        check_non_negative, new_step_tensor, zeros_state)

__all__ = ["Adagrad", "adagrad_update"]


def adagrad_update(params: list, grads: list, state_sums: list, state_steps: list, *, lr: float,
                   weight_decay: float, lr_decay: float, eps: float, maximize: bool,
                   scratch: Scratch | None = None) -> None:
    """One Adagrad step on raw arrays, in place; each 0-dim ``state_steps`` array is incremented.

    ``s += g²``, ``p -= lr/(1 + (t-1)·lr_decay) · g / (√s + eps)``.

    >>> import numpy as np
    >>> p, s, t = np.array([1.0]), np.zeros(1), np.zeros(())
    >>> adagrad_update([p], [np.array([2.0])], [s], [t], lr=0.1, weight_decay=0.0, lr_decay=0.0,
    ...                eps=0.0, maximize=False)
    >>> p, s
    (array([0.9]), array([4.]))
    """
    scratch = Scratch() if scratch is None else scratch
    for i, (p, grad) in enumerate(zip(params, grads)):
        step = advance_step(state_steps[i])
        xp = backend_of(p)
        tmp = scratch.get(p, 0)
        g = effective_grad(xp, grad, p, weight_decay, maximize, scratch, 1)
        clr = lr / (1 + (step - 1) * lr_decay)
        state_sum = state_sums[i]
        mul_add_sq_(xp, state_sum, g, 1, 1, tmp)
        xp.sqrt(state_sum, out=tmp)
        tmp += eps
        addcdiv_(xp, p, g, tmp, -clr, tmp)


class Adagrad(Optimizer):
    """Adagrad, as ``torch.optim.Adagrad``.

    State per parameter (made when the optimizer is built, as in PyTorch): ``step``
    and ``sum`` (starting at ``initial_accumulator_value``).

    >>> import chainrule as cr
    >>> w = cr.tensor([1.0], requires_grad=True)
    >>> opt = cr.optim.Adagrad([w], lr=0.1, eps=0.0)
    >>> w.grad = cr.tensor([2.0])
    >>> opt.step()
    >>> w, opt.state[w]["sum"]
    (tensor([0.9000], requires_grad=True), tensor([4.]))
    """

    def __init__(self, params: ParamsT, lr: float | Tensor = 1e-2, lr_decay: float = 0,
                 weight_decay: float = 0, initial_accumulator_value: float = 0, eps: float = 1e-10,
                 foreach: bool | None = None, *, maximize: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        check_lr(lr, "Adagrad")
        check_non_negative(lr_decay, "lr_decay value", "lr_decay", "Adagrad")
        check_non_negative(weight_decay, "weight_decay value", "weight_decay", "Adagrad")
        check_non_negative(initial_accumulator_value, "initial_accumulator_value value",
                           "initial_accumulator_value", "Adagrad")
        check_non_negative(eps, "epsilon value", "eps", "Adagrad")
        _no_differentiable(differentiable)
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, group)

    def _init_state(self, p: Tensor, group: dict) -> dict:
        state = self.state[p]
        if len(state) == 0:
            state["step"] = new_step_tensor()
            state["sum"] = zeros_state(p, group["initial_accumulator_value"])
        return state

    def step(self, closure: Callable[[], Any] | None = None):
        """One update of every parameter that has a gradient; returns the closure's loss."""
        loss = self._run_closure(closure)
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            sums, steps = [], []
            for p in params:
                state = self._init_state(p, group)  # groups added later start here
                sums.append(state["sum"]._data)
                steps.append(state["step"]._data)
            adagrad_update([p._data for p in params], [p.grad._data for p in params], sums, steps,
                           lr=_scalar(group["lr"]), weight_decay=group["weight_decay"],
                           lr_decay=group["lr_decay"], eps=group["eps"], maximize=group["maximize"],
                           scratch=self._scratch)
            self._bump(params)
        return loss
