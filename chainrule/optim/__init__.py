"""Optimizers and learning-rate schedulers, with ``torch.optim``'s names and behaviour.

>>> import chainrule as cr
>>> w = cr.tensor([2.0], requires_grad=True)
>>> opt = cr.optim.Adam([w], lr=0.1)
>>> sched = cr.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
>>> for _ in range(3):
...     opt.zero_grad()
...     (w * w).sum().backward()
...     opt.step()
...     sched.step()
>>> sched.get_last_lr()
[0.0125]
"""
from .optimizer import Optimizer, required
from .sgd import SGD
from .adam import Adam
from .adamw import AdamW
from .rmsprop import RMSprop
from .adagrad import Adagrad
from .adamax import Adamax
from .lbfgs import LBFGS

from .adadelta import Adadelta
from .nadam import NAdam
from .radam import RAdam
from .rprop import Rprop
from .asgd import ASGD
from .adafactor import Adafactor
from . import functional, lr_scheduler  # noqa: F401
from . import swa_utils  # noqa: F401

__all__ = ["Optimizer", "required", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adamax", "LBFGS",
           "functional", "lr_scheduler", "Adadelta", "NAdam", "RAdam", "Rprop", "ASGD", "swa_utils",
           "Adafactor"]
