"""A held-out examination of ``chainrule.diagnostics.watch``.

Buggy training setups (each with a fixed twin) and healthy ones, written independently of
the monitor and of its own zoo, using only the public API: ``watch(model, optimizer)`` and
``monitor.report().findings`` (``kind``, ``layers``, ``evidence``, ``suggestion``).
Run ``cd tests/diagnostics && python -m heldout`` for the per-case table.
"""
from . import bugs_model, bugs_optim, healthy  # noqa: F401  (registers the cases)
from .common import CASES, Case
from .evaluate import Verdict, judge, run_case

__all__ = ["CASES", "Case", "Verdict", "judge", "run_case"]
