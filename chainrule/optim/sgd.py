"""Stochastic gradient descent, optionally with (Nesterov) momentum, as ``torch.optim.SGD``."""
from __future__ import annotations

from typing import Any, Callable

from ..errors import op_error
from ..backends import NUMPY, backend_of
from ..tensor import Tensor
from ._fused import fused_sgd_step
from ._kernels import Scratch, add_scaled_, effective_grad
from .optimizer import (Optimizer, ParamsT, _no_differentiable, _scalar, check_lr,
                        check_non_negative)

__all__ = ["SGD", "sgd_update"]


def sgd_update(params: list, grads: list, momentum_buffers: list, *, lr: float, momentum: float = 0.0,
               dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False,
               maximize: bool = False, scratch: Scratch | None = None) -> None:
    """One SGD step on raw arrays, in place (PyTorch's update rule).

    ``g = ±grad + weight_decay·p``; with momentum ``b = momentum·b + (1-dampening)·g``
    (``b = g`` on the first step, when the buffer is ``None``: the new buffer is put
    in ``momentum_buffers``), then ``g = g + momentum·b`` (nesterov) or ``g = b``;
    finally ``p -= lr·g``.

    >>> import numpy as np
    >>> p, bufs = np.array([1.0, 2.0]), [None]
    >>> sgd_update([p], [np.array([1.0, 1.0])], bufs, lr=0.5, momentum=0.9)
    >>> p, bufs[0]
    (array([0.5, 1.5]), array([1., 1.]))
    """
    scratch = Scratch() if scratch is None else scratch
    for i, (p, grad) in enumerate(zip(params, grads)):
        xp = backend_of(p)
        if xp is not NUMPY and fused_sgd_step(  # CuPy: the step below as one kernel
                xp, p, grad, momentum_buffers, i, lr=lr, momentum=momentum, dampening=dampening,
                weight_decay=weight_decay, nesterov=nesterov, maximize=maximize):
            continue
        tmp = scratch.get(p, 0)
        g = effective_grad(xp, grad, p, weight_decay, maximize, scratch, 1)
        if momentum != 0:
            buf = momentum_buffers[i]
            if buf is None:
                buf = g.copy()
                momentum_buffers[i] = buf
            else:
                buf *= momentum
                if dampening == 0:
                    buf += g
                else:
                    add_scaled_(xp, buf, g, 1 - dampening, tmp)
            if nesterov:
                xp.multiply(buf, momentum, out=tmp)
                tmp += g
                g = tmp
            else:
                g = buf
        add_scaled_(xp, p, g, -lr, tmp)


class SGD(Optimizer):
    """Stochastic gradient descent (optionally with momentum), as ``torch.optim.SGD``.

    State per parameter: ``momentum_buffer`` (when ``momentum != 0``).

    >>> import chainrule as cr
    >>> w = cr.tensor([1.0], requires_grad=True)
    >>> opt = cr.optim.SGD([w], lr=0.1, momentum=0.9)
    >>> for _ in range(2):
    ...     opt.zero_grad()
    ...     (w * w).sum().backward()
    ...     opt.step()
    >>> round(w.item(), 4)
    0.46
    """

    def __init__(self, params: ParamsT, lr: float | Tensor = 1e-3, momentum: float = 0,
                 dampening: float = 0, weight_decay: float = 0, nesterov: bool = False, *,
                 maximize: bool = False, foreach: bool | None = None, differentiable: bool = False,
                 fused: bool | None = None) -> None:
        check_lr(lr, "SGD")
        check_non_negative(momentum, "momentum value", "momentum", "SGD")
        check_non_negative(weight_decay, "weight_decay value", "weight_decay", "SGD")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise op_error(ValueError, "SGD",
                           "Nesterov momentum requires a momentum and zero dampening")
        _no_differentiable(differentiable)
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, foreach=foreach,
                        differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)

    def step(self, closure: Callable[[], Any] | None = None):
        """One update of every parameter that has a gradient; returns the closure's loss."""
        loss = self._run_closure(closure)
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            momentum = group["momentum"]
            bufs = []
            if momentum != 0:
                for p in params:
                    buf = self.state[p].get("momentum_buffer")
                    bufs.append(None if buf is None else buf._data)
            sgd_update([p._data for p in params], [p.grad._data for p in params], bufs,
                       lr=_scalar(group["lr"]), momentum=momentum, dampening=group["dampening"],
                       weight_decay=group["weight_decay"], nesterov=group["nesterov"],
                       maximize=group["maximize"], scratch=self._scratch)
            if momentum != 0:
                for p, buf in zip(params, bufs):
                    state = self.state[p]
                    if "momentum_buffer" not in state or state["momentum_buffer"]._data is not buf:
                        state["momentum_buffer"] = Tensor._make(buf)
            self._bump(params)
        return loss

