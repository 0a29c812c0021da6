"""The pure update functions behind the optimizers (re-exports).

Each takes lists of raw backend arrays (parameters, gradients, state) and
hyperparameters as keywords, and updates the arrays in place.
"""
from ._kernels import Scratch
from .adagrad import adagrad_update
from .adam import adam_update
from .adamax import adamax_update
from .adamw import adamw_update
from .rmsprop import rmsprop_update
from .sgd import sgd_update

__all__ = ["Scratch", "sgd_update", "adam_update", "adamw_update", "rmsprop_update",
           "adagrad_update", "adamax_update"]
from .adadelta import adadelta_update
from .asgd import asgd_update
from .nadam import nadam_update
from .radam import radam_update
from .rprop import rprop_update

__all__ += ["adadelta_update", "nadam_update", "radam_update", "rprop_update", "asgd_update"]
from .adafactor import adafactor_update

__all__ += ["adafactor_update"]
