"""ASGD (averaged stochastic gradient descent), as ``torch.optim.ASGD``."""
from __future__ import annotations

from typing import Any, Callable

from ..backends import backend_of
from ..tensor import Tensor
from ._gather import gather_group
from ._kernels import Scratch, add_scaled_, effective_grad
from .optimizer import (Optimizer, ParamsT, _no_differentiable, _scalar, check_lr,
                        check_non_negative, new_step_tensor, zeros_state)

__all__ = ["ASGD", "asgd_update"]


def asgd_update(params: list, grads: list, axs: list, mus: list, etas: list, state_steps: list,
                *, lambd: float, lr: float, t0: float, alpha: float, weight_decay: float,
                maximize: bool, scratch: Scratch | None = None) -> None:
    """One ASGD step on raw arrays, in place (``state_steps``, ``etas``, ``mus`` too).

    ``p ← p·(1 - λ·η) - η·g``; the average ``ax`` follows ``p`` (``ax += μ·(p - ax)``,
    a plain copy while ``μ = 1``); then ``η = lr/(1 + λ·lr·t)^α`` and
    ``μ = 1/max(1, t - t0)``. ``eta`` and ``mu`` are 0-dim arrays in the step
    count's dtype, and are read back from them, as PyTorch does.

    >>> import numpy as np
    >>> p, ax, mu, eta, t = np.array([1.0]), np.zeros(1), np.ones(()), np.full((), 0.1), np.zeros(())
    >>> asgd_update([p], [np.array([2.0])], [ax], [mu], [eta], [t], lambd=0.0, lr=0.1, t0=1e6,
    ...             alpha=0.75, weight_decay=0.0, maximize=False)
    >>> p, ax
    (array([0.8]), array([0.8]))
    """
    scratch = Scratch() if scratch is None else scratch
    for i, (p, grad) in enumerate(zip(params, grads)):
        state_steps[i] += 1
        xp = backend_of(p)
        tmp = scratch.get(p, 0)
        g = effective_grad(xp, grad, p, weight_decay, maximize, scratch, 1)
        eta_value = float(etas[i])
        p *= 1 - lambd * eta_value
        add_scaled_(xp, p, g, -eta_value, tmp)
        ax, mu = axs[i], mus[i]
        if float(mu) != 1:
            xp.subtract(p, ax, out=tmp)
            tmp *= mu
            ax += tmp
        else:
            ax[...] = p
        step = float(state_steps[i])
        etas[i][...] = lr / ((1 + lambd * lr * step) ** alpha)
        mus[i][...] = 1 / max(1, step - t0)


class ASGD(Optimizer):
    """ASGD, as ``torch.optim.ASGD`` (same defaults, state names and update).

    State per parameter: ``step``, ``eta``, ``mu`` (0-dim) and ``ax`` (the average).

    >>> import chainrule as cr
    >>> w = cr.tensor([1.0], requires_grad=True)
    >>> opt = cr.optim.ASGD([w], lr=0.1, lambd=0.0)
    >>> w.grad = cr.tensor([2.0])
    >>> opt.step()
    >>> sorted(opt.state[w]), round(w.item(), 6)
    (['ax', 'eta', 'mu', 'step'], 0.8)
    """

    def __init__(self, params: ParamsT, lr: float | Tensor = 1e-2, lambd: float = 1e-4,
                 alpha: float = 0.75, t0: float = 1e6, weight_decay: float = 0,
                 foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False, capturable: bool = False) -> None:
        check_lr(lr, "ASGD")
        check_non_negative(weight_decay, "weight_decay value", "weight_decay", "ASGD")
        _no_differentiable(differentiable)
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize, differentiable=differentiable,
                        capturable=capturable)
        super().__init__(params, defaults)

    def _fill_group_defaults(self) -> None:
        super()._fill_group_defaults()
        for s in self.state.values():  # an old state may hold eta and mu as numbers
            if isinstance(s, dict):
                for key in ("eta", "mu"):
                    if key in s and not isinstance(s[key], Tensor):
                        s[key] = new_step_tensor(float(s[key]))

    def step(self, closure: Callable[[], Any] | None = None):
        """One update of every parameter that has a gradient; returns the closure's loss."""
        loss = self._run_closure(closure)
        for group in self.param_groups:
            lr = _scalar(group["lr"])

            def init(p: Tensor, state: dict) -> None:
                state["step"] = new_step_tensor()
                state["eta"] = new_step_tensor(lr)
                state["mu"] = new_step_tensor(1.0)
                state["ax"] = zeros_state(p)
            params, arrays, grads, cols = gather_group(self, group, init,
                                                       ("ax", "mu", "eta", "step"))
            asgd_update(arrays, grads, cols["ax"], cols["mu"], cols["eta"], cols["step"],
                        lambd=group["lambd"], lr=lr, t0=group["t0"], alpha=group["alpha"],
                        weight_decay=group["weight_decay"], maximize=group["maximize"],
                        scratch=self._scratch)
            self._bump(params)
        return loss
