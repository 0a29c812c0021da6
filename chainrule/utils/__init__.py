"""Utilities: ``chainrule.utils.data``, ``chainrule.utils.benchmark``."""
from . import data  # noqa: F401
from . import benchmark  # noqa: F401,E402
