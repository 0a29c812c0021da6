"""AdamW: Adam with decoupled weight decay, as ``torch.optim.AdamW``."""
from __future__ import annotations

from ..tensor import Tensor
from .adam import Adam, adam_update
from .optimizer import ParamsT

__all__ = ["AdamW", "adamw_update"]


def adamw_update(*args, **kwargs) -> None:
    """:func:`adam_update` with ``decoupled_weight_decay=True``."""
    kwargs["decoupled_weight_decay"] = True
    adam_update(*args, **kwargs)


class AdamW(Adam):
    """Adam whose weight decay shrinks the weights directly (``p *= 1 - lr·wd``) instead of
    entering the moments; default ``weight_decay=1e-2``, as ``torch.optim.AdamW``.

    >>> import chainrule as cr
    >>> w = cr.tensor([1.0], requires_grad=True)
    >>> opt = cr.optim.AdamW([w], lr=0.1, weight_decay=0.5)
    >>> w.grad = cr.zeros(1)
    >>> opt.step()
    >>> w
    tensor([0.9500], requires_grad=True)
    """

    _decoupled = True

    def __init__(self, params: ParamsT, lr: float | Tensor = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable, differentiable=differentiable,
                         fused=fused, decoupled_weight_decay=True)
