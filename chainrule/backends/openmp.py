"""``chainrule.backends.openmp``: whether chainrule itself runs OpenMP threads (it does not;
NumPy's BLAS may, see :func:`chainrule.get_num_threads`).

>>> import chainrule as cr
>>> cr.backends.openmp.is_available()
False
"""


def is_available() -> bool:
    """False: chainrule has no OpenMP code of its own."""
    return False
