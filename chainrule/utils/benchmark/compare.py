"""``Compare``: several Measurements as one table per label, as PyTorch's.

Rows are sub-labels (or statements) under a line per thread count, columns descriptions, cells
median times in one unit for the table. ``trim_significant_figures()`` rounds each cell to the
digits its spread supports; ``colorize()`` marks the fastest cell of a row (or column) green
and slower ones red, with ANSI codes.

>>> from chainrule.utils.benchmark import Compare, Measurement, TaskSpec
>>> ms = [Measurement(1, [t], TaskSpec("f()", "pass", label="ops", sub_label=r, description=d))
...       for r, d, t in [("n=1", "add", 2e-6), ("n=1", "mul", 3e-6), ("n=9", "add", 4e-6)]]
>>> print(Compare(ms))
[------- ops -------]
       |  add  |  mul
1 threads: ----------
  n=1  |  2.0  |  3.0
  n=9  |  4.0  |
<BLANKLINE>
Times are in microseconds (us).
<BLANKLINE>
"""
from __future__ import annotations

import re

from .measurement import Measurement, select_unit, trim_sigfig

_UNITS = {"ns": "nanoseconds", "us": "microseconds", "ms": "milliseconds", "s": "seconds"}


def _unique(items):
    return list(dict.fromkeys(items))


class Compare:
    """A table of ``results`` (Measurements), one block per label."""

    def __init__(self, results: list[Measurement]) -> None:
        self._results: list[Measurement] = []
        self._trim = False
        self._colorize = False  # False, or "rowwise" / "columnwise"
        self._highlight_warnings = False
        self.extend_results(results)

    def extend_results(self, results) -> None:
        for r in results:
            if not isinstance(r, Measurement):
                raise ValueError(f"Compare: expected Measurements, got {type(r).__name__}")
        self._results.extend(results)

    def trim_significant_figures(self) -> None:
        self._trim = True

    def colorize(self, rowwise: bool = False) -> None:
        self._colorize = "rowwise" if rowwise else "columnwise"

    def highlight_warnings(self) -> None:
        self._highlight_warnings = True

    def print(self) -> None:
        print(str(self))

    def __str__(self) -> str:
        return "\n".join(self._render(label) for label in _unique(r.label for r in self._results))

    def _render(self, label) -> str:
        group = Measurement.merge(r for r in self._results if r.label == label)
        unit, scale = select_unit(min(m.median for m in group))
        columns = _unique(m.description for m in group)
        rows = _unique((m.num_threads, m.as_row_name) for m in group)
        cell = {(m.num_threads, m.as_row_name, m.description): m for m in group}

        def text(m: Measurement | None) -> str:
            if m is None:
                return ""
            value = m.median / scale
            s = f"{trim_sigfig(value, m.significant_figures):.{max(0, m.significant_figures - len(str(int(value))))}f}" \
                if self._trim else f"{value:.1f}"
            if self._highlight_warnings and m.has_warnings:
                s += " (! {:.0f}%)".format(m.iqr / m.median * 100)
            return s

        def color(padded: str, m: Measurement | None, best: float | None) -> str:
            if m is None or best is None:
                return padded
            code = "\033[92m\033[1m" if m.median <= best * 1.01 else "\033[2m\033[91m"
            return padded.replace(padded.strip(), f"{code}{padded.strip()}\033[0m\033[0m", 1)

        def best_of(threads, row, column):
            if not self._colorize:
                return None
            if self._colorize == "rowwise":
                same = [cell.get((threads, row, c)) for c in columns]
            else:
                same = [cell.get((t, r, column)) for t, r in rows if t == threads]
            return min(m.median for m in same if m is not None)

        cells = {(t, r, c): text(cell.get((t, r, c))) for t, r in rows for c in columns}
        names = [str(c) if c is not None else "" for c in columns]
        row_width = max([len(r) for _, r in rows] + [0]) + 2
        widths = [max([len(n)] + [len(cells[(t, r, c)]) for t, r in rows]) for n, c in zip(names, columns)]
        header = " " * (row_width + 2) + "|" + "|".join(f"  {n:^{w}}  " for n, w in zip(names, widths))
        lines = [header.rstrip()]
        for threads in _unique(t for t, _ in rows):
            lines.append(f"{threads} threads: ".ljust(len(header.rstrip()), "-"))
            for t, r in rows:
                if t == threads:
                    body = "|".join(color(f"  {cells[(t, r, c)]:^{w}}  ", cell.get((t, r, c)), best_of(t, r, c))
                                    for c, w in zip(columns, widths))
                    lines.append(f"  {r:<{row_width - 2}}  |{body}".rstrip())
        width = max(len(re.sub("\033\\[[0-9]+m", "", line)) for line in lines)
        title = f" {label} " if label else "-"
        lines.insert(0, "[" + title.center(width - 2, "-") + "]")
        lines += ["", f"Times are in {_UNITS[unit]} ({unit}).", ""]
        return "\n".join(lines)
