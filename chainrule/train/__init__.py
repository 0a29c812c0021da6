"""Training: ``fit``, callbacks, checkpoints and loggers (``chainrule.train``)."""
from .callbacks import CSVLogger, EarlyStopping, LambdaCallback, ModelCheckpoint, TensorBoardLogger
from .history import History
from .loop import Callback, TrainState, evaluate, fit

__all__ = ["fit", "evaluate", "Callback", "TrainState", "History", "ModelCheckpoint",
           "EarlyStopping", "CSVLogger", "TensorBoardLogger", "LambdaCallback"]
