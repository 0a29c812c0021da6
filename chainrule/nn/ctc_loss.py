"""CTCLoss: the connectionist temporal classification loss as a layer.

>>> import chainrule as cr
>>> loss = cr.nn.CTCLoss(zero_infinity=True)
>>> lp = cr.randn(6, 2, 4).log_softmax(2)
>>> loss(lp, cr.tensor([[1, 2], [3, 3]]), [6, 6], [2, 2]).shape
chainrule.Size([])
"""
from __future__ import annotations

from ..tensor import Tensor
from .functional._ctc import ctc_loss
from .loss import _Loss

__all__ = ["CTCLoss"]


class CTCLoss(_Loss):
    """``forward(log_probs, targets, input_lengths, target_lengths)``; see :func:`ctc_loss`."""

    def __init__(self, blank: int = 0, reduction: str = "mean", zero_infinity: bool = False) -> None:
        super().__init__(reduction=reduction)
        self.blank = blank
        self.zero_infinity = zero_infinity

    def forward(self, log_probs: Tensor, targets: Tensor, input_lengths, target_lengths) -> Tensor:
        return ctc_loss(log_probs, targets, input_lengths, target_lengths, self.blank,
                        self.reduction, self.zero_infinity)
