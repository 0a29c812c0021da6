"""``chainrule.backends.mkldnn``: PyTorch's oneDNN switch, accepted and ignored.

chainrule's CPU kernels are NumPy's (with whatever BLAS NumPy links), never oneDNN,
so ``is_available()`` is False and ``enabled`` changes nothing.

>>> import chainrule as cr
>>> cr.backends.mkldnn.is_available()
False
"""
enabled: bool = True


def is_available() -> bool:
    """False: chainrule does not use oneDNN."""
    return False
