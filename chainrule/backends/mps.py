"""``chainrule.backends.mps``: Apple's Metal GPUs, which chainrule does not support.

>>> import chainrule as cr
>>> cr.backends.mps.is_available(), cr.backends.mps.is_built()
(False, False)
"""


def is_available() -> bool:
    """False: chainrule has no Metal backend."""
    return False


def is_built() -> bool:
    """False: chainrule has no Metal backend."""
    return False
