"""Instruments that show backprop happening.

- :func:`watch` — per-layer gradient-flow monitor with findings in plain words
  (vanishing, exploding, dead units, saturation, non-finite, no gradient);
  ``monitor.report().summary()`` in words, ``.plot(path)`` as a picture;
- :func:`explain` — the chain rule on a small graph, node by node;
- :func:`graph` — the recorded graph as Graphviz DOT / SVG;
- :func:`record` — keep the constants ops do not save, so ``explain`` can show them.
"""
from .findings import Finding, Thresholds, KINDS
from .report import Report
from .monitor import Monitor, watch
from .explain import explain
from .graph import graph
from ._walk import record

__all__ = ["watch", "Monitor", "Report", "Finding", "Thresholds", "KINDS", "explain", "graph",
           "record"]
