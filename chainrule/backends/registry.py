"""Backends beyond NumPy and CuPy, by array type (a third array library, a test double,
the CuPy stand-in). Kept apart from ``backends/__init__`` so that a backend module can
register itself without importing the package that imports it."""
from __future__ import annotations

REGISTERED: dict = {}  # array type → Backend


def register_backend(array_type: type, backend) -> None:
    """Make arrays of ``array_type`` use ``backend`` (a third array library, or a test double)."""
    REGISTERED[array_type] = backend


def unregister_backend(array_type: type) -> None:
    REGISTERED.pop(array_type, None)
