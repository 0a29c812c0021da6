"""Adafactor (factored second moments, relative step sizes), as ``torch.optim.Adafactor``."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..backends import backend_of
from ..errors import op_error
from ..tensor import Tensor
from ._gather import gather_group
from ._kernels import Scratch, effective_grad, lerp_
from .optimizer import Optimizer, ParamsT, _scalar, new_step_tensor, zeros_state

__all__ = ["Adafactor", "adafactor_update"]


def _norm(xp, a, axis=None):
    """The 2-norm (over ``axis``, kept), as ``torch.norm``: a square root of the sum of squares."""
    return xp.sqrt(xp.sum(a * a, axis=axis, keepdims=axis is not None))


def adafactor_update(params: list, grads: list, row_vars: list, col_vars: list, variances: list,
                     state_steps: list, *, d: float, lr: float, beta2_decay: float,
                     weight_decay: float, eps1: float | None, eps2: float, maximize: bool,
                     scratch: Scratch | None = None) -> None:
    """One Adafactor step on raw arrays, in place; ``row_vars``/``col_vars`` hold a matrix
    parameter's factored second moment (``None`` for vectors), ``variances`` a vector's.

    ``β̂2 = t^beta2_decay``; ``ρ = min(lr, 1/√t)``; ``α = max(eps2, RMS(p))·ρ``; the second
    moment ``v̂`` is ``row ⊗ col / mean(row)`` (matrices) or the plain EMA of ``g²``;
    ``u = g / √max(v̂, eps1²)`` clipped to RMS ``d``; ``p -= α·u``. ``eps1`` defaults to
    the parameter dtype's machine epsilon.

    >>> import numpy as np
    >>> p, v, t = np.array([3.0, 4.0]), np.zeros(2), np.zeros(())
    >>> adafactor_update([p], [np.array([1.0, -1.0])], [None], [None], [v], [t], d=1.0, lr=0.01,
    ...                  beta2_decay=-0.8, weight_decay=0.0, eps1=None, eps2=1e-3,
    ...                  maximize=False)
    >>> p.round(6)
    array([2.964645, 4.035355])
    """
    scratch = Scratch() if scratch is None else scratch
    for i, (p, grad) in enumerate(zip(params, grads)):
        xp = backend_of(p)
        g = effective_grad(xp, grad, p, 0, maximize, scratch, 1)
        if eps1 is None:  # fixed by the first parameter, as in PyTorch
            eps1 = float(np.finfo(p.dtype).eps)
        state_steps[i] += 1
        step = float(state_steps[i])
        one_minus_beta2_t = step ** beta2_decay
        rho_t = min(lr, 1 / (step ** 0.5))
        alpha = max(eps2, float(_norm(xp, p)) / (p.size ** 0.5)) * rho_t
        if weight_decay != 0:
            p *= 1 - lr * weight_decay
        if g.ndim > 1:
            row_var, col_var = row_vars[i], col_vars[i]
            row_mean = _norm(xp, g, axis=-1) ** 2 / g.shape[-1]
            lerp_(xp, row_var, row_mean, one_minus_beta2_t, xp.empty_like(row_var))
            col_mean = _norm(xp, g, axis=-2) ** 2 / g.shape[-2]
            lerp_(xp, col_var, col_mean, one_minus_beta2_t, xp.empty_like(col_var))
            var_estimate = row_var @ col_var
            var_estimate /= xp.maximum(row_var.mean(axis=-2, keepdims=True), eps1)
        else:
            variance = variances[i]
            lerp_(xp, variance, g * g, one_minus_beta2_t, scratch.get(p, 0))
            var_estimate = variance.copy()
        update = 1 / xp.sqrt(xp.maximum(var_estimate, eps1 * eps1))
        update *= g
        denom = max(1.0, float(_norm(xp, update)) / ((update.size ** 0.5) * d))
        p += (-alpha / denom) * update


class Adafactor(Optimizer):
    """Adafactor, as ``torch.optim.Adafactor`` (same defaults, state names and update).

    State per parameter: ``step`` and, for a parameter of 2 or more dimensions,
    ``row_var`` and ``col_var`` (the factored second moment: the last dimension, resp.
    the one before it, reduced to 1), else ``variance``.

    >>> import chainrule as cr
    >>> w = cr.ones(2, 3, requires_grad=True)
    >>> opt = cr.optim.Adafactor([w])
    >>> w.grad = cr.ones(2, 3)
    >>> opt.step()
    >>> sorted(opt.state[w]), tuple(opt.state[w]["row_var"].shape), round(w[0, 0].item(), 4)
    (['col_var', 'row_var', 'step'], (2, 1), 0.99)
    """

    def __init__(self, params: ParamsT, lr: float | Tensor = 1e-2, beta2_decay: float = -0.8,
                 eps: tuple[float | None, float] = (None, 1e-3), d: float = 1.0,
                 weight_decay: float = 0.0, *, foreach: bool | None = None,
                 maximize: bool = False) -> None:
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise op_error(ValueError, "Adafactor", "Tensor lr must be 1-element")
        checks = [(0.0 <= lr, f"Learning rate should be >= 0 but is: {lr}"),
                  (0.0 >= beta2_decay, f"beta2_decay should be <= 0 but is: {beta2_decay}"),
                  (eps[0] is None or 0.0 <= eps[0], f"epsilon1 should be >= 0 but is: {eps[0]}"),
                  (0.0 <= eps[1], f"epsilon2 should be >= 0 but is: {eps[1]}"),
                  (1.0 <= d, f"Clipping threshold d should be >= 1 but is: {d}"),
                  (0.0 <= weight_decay, f"weight_decay should be >= 0 but is: {weight_decay}")]
        for ok, message in checks:
            if not ok:
                raise op_error(ValueError, "Adafactor", message)
        defaults = dict(lr=lr, beta2_decay=beta2_decay, eps=eps, d=d, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize)
        super().__init__(params, defaults)

    @staticmethod
    def _init_state(p: Tensor, state: dict) -> None:
        state["step"] = new_step_tensor()
        if p.grad.ndim > 1:
            xp = backend_of(p._data)
            state["row_var"] = Tensor._make(xp.zeros(p.shape[:-1] + (1,), dtype=p._data.dtype))
            state["col_var"] = Tensor._make(xp.zeros(p.shape[:-2] + (1,) + p.shape[-1:],
                                                     dtype=p._data.dtype))
        else:
            state["variance"] = zeros_state(p)

    def step(self, closure: Callable[[], Any] | None = None):
        """One update of every parameter that has a gradient; returns the closure's loss."""
        loss = self._run_closure(closure)
        for group in self.param_groups:
            params, arrays, grads, cols = gather_group(self, group, self._init_state, ("step",))
            column = [[None if self.state[p].get(k) is None else self.state[p][k]._data
                       for p in params] for k in ("row_var", "col_var", "variance")]
            eps1, eps2 = group["eps"]
            adafactor_update(arrays, grads, *column, cols["step"], d=group["d"],
                             lr=_scalar(group["lr"]), beta2_decay=group["beta2_decay"],
                             weight_decay=group["weight_decay"], eps1=eps1, eps2=eps2,
                             maximize=group["maximize"], scratch=self._scratch)
            self._bump(params)
        return loss
