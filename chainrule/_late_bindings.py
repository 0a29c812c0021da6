"""Hands the lower layers what they call in the higher ones, once everything is imported.

A module may only import modules below it (tests/test_import_cycles.py). Where a lower
one must call a higher one at run time (``Tensor.backward`` runs the engine; the legacy
constructor ``Tensor(2, 3)`` lives in ``legacy.py``), it reads a slot (``tensor.LATE``)
that :func:`connect` fills; ``chainrule/__init__`` calls it once.
"""
from __future__ import annotations


def connect() -> None:
    """Fill every late-bound slot (idempotent)."""
    from . import creation
    from .autograd import rule_namespace
    from .autograd.engine import backward
    from .legacy import legacy_array
    from .ops import conversion, elementwise, linalg, reduce, shape
    from .tensor import LATE
    from .utils.dlpack import export
    LATE.backward = backward
    LATE.legacy_array = legacy_array
    LATE.dlpack_export = export
    rule_namespace.OP_MODULES.update(elementwise=elementwise, reduce=reduce, shape=shape,
                                     linalg=linalg, conversion=conversion, creation=creation)
