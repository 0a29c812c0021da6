"""What a Timer measured: :class:`TaskSpec` (what was timed) and :class:`Measurement` (the
times), with PyTorch's statistics (median, mean, quartiles by linear interpolation) and repr.

>>> from chainrule.utils.benchmark import Measurement, TaskSpec
>>> m = Measurement(10, [1e-5, 2e-5, 3e-5, 4e-5], TaskSpec("x + 1", "pass"))
>>> round(m.times[0], 9), round(m.median, 9), round(m.iqr, 9)
(1e-06, 2.5e-06, 1.5e-06)
"""
from __future__ import annotations

import collections
import dataclasses
import math
import textwrap
from typing import Any, Iterable

import numpy as np

# a measurement whose interquartile range is this share of its median gets a warning
_IQR_WARN_THRESHOLD = 0.1
_IQR_GROSS_WARN_THRESHOLD = 0.25
_MIN_CONFIDENCE_INTERVAL = 25e-9  # (seconds) below the resolution of the timers
_MAX_SIGNIFICANT_FIGURES = 4


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    """What a Timer runs and how it is labelled (everything but its globals)."""

    stmt: str
    setup: str
    global_setup: str = ""
    label: str | None = None
    sub_label: str | None = None
    description: str | None = None
    env: str | None = None
    num_threads: int = 1

    @property
    def title(self) -> str:
        """The label (or the one-line stmt), with the sub-label after a colon."""
        sub = f": {self.sub_label}" if self.sub_label else ""
        if self.label is not None:
            return self.label + sub
        if "\n" not in self.stmt:
            return self.stmt + sub
        return f"stmt:{f' ({self.sub_label})' if self.sub_label else ''}\n" + textwrap.indent(self.stmt, "  ")

    def setup_str(self) -> str:
        if not self.setup or self.setup == "pass":
            return ""
        if "\n" in self.setup:
            return "setup:\n" + textwrap.indent(self.setup, "  ")
        return f"setup: {self.setup}"

    def summarize(self) -> str:
        """The title, description and setup, one section a line (a blank line after a block)."""
        sections = [s for s in (self.title, self.description or "", self.setup_str()) if s]
        return "\n".join(s + "\n" if "\n" in s else s for s in sections)


_TASKSPEC_FIELDS = tuple(f.name for f in dataclasses.fields(TaskSpec))


def select_unit(t: float) -> tuple[str, float]:
    """The unit (ns, us, ms, s) that puts ``t`` seconds in [1, 1000), and its scale."""
    unit = {-3: "ns", -2: "us", -1: "ms"}.get(int(math.log10(t) // 3), "s") if t > 0 else "ns"
    return unit, {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[unit]


def trim_sigfig(x: float, n: int) -> float:
    """``x`` rounded to ``n`` significant figures."""
    if x == 0:
        return 0.0
    scale = 10 ** (math.ceil(math.log10(abs(x))) - n)
    return float(round(x / scale) * scale)


@dataclasses.dataclass(repr=False)
class Measurement:
    """``raw_times[i]`` seconds for ``number_per_run`` runs of the task; statistics per run."""

    number_per_run: int
    raw_times: list[float]
    task_spec: TaskSpec
    metadata: dict[Any, Any] | None = None  # the user's own payload

    def __getattr__(self, name: str) -> Any:
        # the TaskSpec's fields read through: m.label, m.stmt, m.num_threads …
        if name in _TASKSPEC_FIELDS:
            return getattr(self.task_spec, name)
        raise AttributeError(f"'Measurement' object has no attribute {name!r}")

    @property
    def times(self) -> list[float]:
        """Seconds per run of ``stmt``, one value a measurement."""
        return [t / self.number_per_run for t in self.raw_times]

    def _stats(self) -> dict:
        times = np.sort(np.asarray(self.times, dtype=np.float64))
        p25, median, p75 = np.quantile(times, [0.25, 0.5, 0.75])  # linear, as torch.quantile
        return {"sorted": times, "median": float(median), "mean": float(times.mean()),
                "p25": float(p25), "p75": float(p75)}

    @property
    def median(self) -> float:
        return self._stats()["median"]

    @property
    def mean(self) -> float:
        return self._stats()["mean"]

    @property
    def iqr(self) -> float:
        s = self._stats()
        return s["p75"] - s["p25"]

    def meets_confidence(self, threshold: float = _IQR_WARN_THRESHOLD) -> bool:
        """Whether the interquartile range is under ``threshold`` of the median."""
        return self.iqr / self.median < threshold

    @property
    def significant_figures(self) -> int:
        """Digits the interquartile spread supports (1 to 4), as PyTorch estimates them."""
        s = self._stats()
        n = len(s["sorted"])
        middle = s["sorted"][n // 4:math.ceil(3 * n / 4)]
        interval = max(1.645 * float(np.std(middle)) / math.sqrt(len(middle)), _MIN_CONFIDENCE_INTERVAL)
        figures = math.floor(math.log10(s["median"] / interval))
        return min(max(figures, 1), _MAX_SIGNIFICANT_FIGURES)

    @property
    def _warnings(self) -> tuple[str, ...]:
        if not self.raw_times or self.meets_confidence(_IQR_WARN_THRESHOLD):
            return ()
        why = ("This suggests significant environmental influence."
               if not self.meets_confidence(_IQR_GROSS_WARN_THRESHOLD)
               else "This could indicate system fluctuation.")
        return (f"  WARNING: Interquartile range is {self.iqr / self.median * 100:.1f}% "
                f"of the median measurement.\n           {why}",)

    @property
    def has_warnings(self) -> bool:
        return bool(self._warnings)

    @property
    def title(self) -> str:
        return self.task_spec.title

    @property
    def env(self) -> str:
        return "Unspecified env" if self.task_spec.env is None else self.task_spec.env

    @property
    def as_row_name(self) -> str:
        return self.sub_label or self.stmt or "[Unknown]"

    def __repr__(self) -> str:
        s = self._stats()
        n = len(s["sorted"])
        unit, scale = select_unit(s["median"])
        threads = f"{self.num_threads} thread{'s' if self.num_threads > 1 else ''}"
        lines = [object.__repr__(self), self.task_spec.summarize(),
                 f"  {'Median: ' if n > 1 else ''}{s['median'] / scale:.2f} {unit}"]
        if n >= 4:
            lines.append(f"  IQR:    {(s['p75'] - s['p25']) / scale:.2f} {unit} "
                         f"({s['p25'] / scale:.2f} to {s['p75'] / scale:.2f})")
        lines.append(f"  {n} measurement{'s' if n > 1 else ''}, {self.number_per_run} runs "
                     f"{'per measurement,' if n > 1 else ','} {threads}")
        lines.extend(self._warnings)
        return "\n".join(lines).strip()

    @staticmethod
    def merge(measurements: Iterable["Measurement"]) -> list["Measurement"]:
        """Replicates of one task pooled into one Measurement of one run a time each."""
        groups: dict[TaskSpec, list[float]] = collections.defaultdict(list)
        for m in measurements:
            groups[m.task_spec].extend(m.times)
        return [Measurement(1, times, spec) for spec, times in groups.items()]
