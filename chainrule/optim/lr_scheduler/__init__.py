"""Learning-rate schedulers, as ``torch.optim.lr_scheduler`` (re-exports).

>>> import chainrule as cr
>>> opt = cr.optim.SGD([cr.zeros(1, requires_grad=True)], lr=0.1)
>>> sched = cr.optim.lr_scheduler.MultiStepLR(opt, milestones=[2], gamma=0.1)
>>> for _ in range(2):
...     opt.step()
...     sched.step()
>>> round(sched.get_last_lr()[0], 6)
0.01
"""
from .base import LRScheduler, _LRScheduler
from .composite import ChainedScheduler, SequentialLR
from .cosine import CosineAnnealingLR, CosineAnnealingWarmRestarts
from .factor import (ConstantLR, ExponentialLR, LambdaLR, LinearLR, MultiplicativeLR, MultiStepLR,
                     PolynomialLR, StepLR)
from .one_cycle import OneCycleLR
from .plateau import ReduceLROnPlateau
from .cyclic import CyclicLR

__all__ = ["LRScheduler", "LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR", "ConstantLR",
           "LinearLR", "ExponentialLR", "PolynomialLR", "CosineAnnealingLR",
           "CosineAnnealingWarmRestarts", "OneCycleLR", "SequentialLR", "ChainedScheduler",
           "ReduceLROnPlateau", "CyclicLR"]
