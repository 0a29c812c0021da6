"""``Report``: the monitor's numbers (per layer, per step) and its findings.

The numbers are plain dicts and floats so they print, compare and serialise
without chainrule. Per step and layer the keys can be:

``grad_norm`` (parameter gradients), ``output_grad_norm`` / ``output_grad_size``
(gradient of the layer's output), ``weight_norm``, ``update_ratio``
(|Δw| / |w| of optimizer.step), ``act_mean``, ``act_std``, ``output_size``,
``dead_fraction`` (ReLU: units zero for the whole batch), ``saturated_fraction``
(Sigmoid/Tanh) and ``non_finite`` (where inf/nan was seen).

>>> r = Report(steps=[{"step": 0, "layers": {"fc": {"grad_norm": 2.0}}}], layers=["", "fc"],
...            types={"": "Net", "fc": "Linear"}, order=["fc", ""], param_count={"fc": 4},
...            leaves=["fc"], kinds={})
>>> r.series("grad_norm")["fc"]
array([2.])
>>> r.summary()
'No findings: gradients look healthy over 1 recorded step(s).'
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .findings import Finding, show


@dataclass
class Report:
    """What :meth:`Monitor.report` returns."""

    steps: list[dict]
    layers: list[str]              # names as in model.named_modules()
    types: dict[str, str]          # layer -> class name
    order: list[str]               # layers in the order their forward ran
    param_count: dict[str, int]    # layers that own parameters -> number of weights
    leaves: list[str]              # layers without sub-modules, in forward order
    kinds: dict[str, str | None]   # layer -> 'relu' / 'sigmoid' / 'tanh' / None
    non_finite: list[dict] = field(default_factory=list)  # {step, layer, where}, in time order
    findings: list[Finding] = field(default_factory=list)
    facts: dict = field(default_factory=dict)      # run-level facts (the optimizer's params)
    first_steps: list[dict] = field(default_factory=list)  # the first recorded steps

    def series(self, metric: str, layer: str | None = None):
        """``metric`` over the recorded steps as a float array (nan where absent);
        for one ``layer``, or a dict of arrays for every layer that has it."""
        def one(name: str) -> np.ndarray:
            return np.array([s["layers"].get(name, {}).get(metric, np.nan) for s in self.steps],
                            dtype=float)
        if layer is not None:
            return one(layer)
        return {n: one(n) for n in self.layers
                if any(metric in s["layers"].get(n, {}) for s in self.steps)}

    def kinds_found(self) -> set[str]:
        """The set of finding kinds present."""
        return {f.kind for f in self.findings}

    def to_dict(self) -> dict:
        """Everything as plain dicts and lists."""
        return {"layers": list(self.layers), "types": dict(self.types), "order": list(self.order),
                "param_count": dict(self.param_count), "leaves": list(self.leaves),
                "kinds": dict(self.kinds), "steps": self.steps, "non_finite": self.non_finite,
                "facts": self.facts,
                "findings": [{"kind": f.kind, "layers": f.layers, "evidence": f.evidence,
                              "suggestion": f.suggestion} for f in self.findings]}

    def summary(self) -> str:
        """The findings as readable text."""
        n = len(self.steps)
        if not self.findings:
            return f"No findings: gradients look healthy over {n} recorded step(s)."
        lines = [f"{len(self.findings)} finding(s) over {n} recorded step(s):"]
        for i, f in enumerate(self.findings, 1):
            where = ", ".join(show(l) for l in f.layers[:6])
            if len(f.layers) > 6:
                where += f" and {len(f.layers) - 6} more"
            lines.append(f"{i}. {f.kind} (layers: {where})")
            lines.append(f"   {f.suggestion}")
        return "\n".join(lines)

    def plot(self, path=None):
        """Gradient by depth, over time, and unit health as a matplotlib Figure
        (see :func:`chainrule.diagnostics.plot.plot`); saved when ``path`` is given."""
        from .plot import plot
        return plot(self, path)

    def __str__(self) -> str:
        return self.summary()
