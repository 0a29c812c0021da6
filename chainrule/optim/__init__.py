"""Optimizers (to be written)."""
from . import lr_scheduler  # noqa: F401
