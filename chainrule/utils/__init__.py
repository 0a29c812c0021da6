"""Utilities: ``chainrule.utils.data``, ``chainrule.utils.benchmark``."""
from . import data  # noqa: F401
from . import benchmark  # noqa: F401,E402
from . import checkpoint  # noqa: F401,E402  (activation checkpointing, as torch.utils.checkpoint)
from . import dlpack  # noqa: F401,E402  (zero-copy exchange, as torch.utils.dlpack)
