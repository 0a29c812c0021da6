"""``chainrule.utils.benchmark``: PyTorch's ``torch.utils.benchmark`` for timing snippets.

``Timer(stmt, setup, globals=...)`` runs ``stmt`` with Python's ``timeit`` machinery;
``timeit(number)``, ``blocked_autorange(min_run_time=)`` and ``adaptive_autorange()`` return a
:class:`Measurement` (``mean``, ``median``, ``iqr``, ``times`` per run, PyTorch's repr), and
:class:`Compare` lays several out as a table.

>>> from chainrule.utils.benchmark import Timer
>>> m = Timer("x + 1", globals={"x": 1}, label="add").timeit(100)
>>> m.number_per_run, len(m.times), m.title
(100, 1, 'add')
"""
from .compare import Compare
from .measurement import Measurement, TaskSpec, select_unit
from .timer import Language, Timer

__all__ = ["Timer", "Measurement", "TaskSpec", "Compare", "Language", "select_unit"]
