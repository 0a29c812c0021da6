"""Pictures of a monitor report: the gradient across depth, over time, and unit health.

Uses matplotlib's object API with the Agg canvas (no pyplot, no global backend
switch), so it works on servers and leaves a user's interactive setup alone.
"""
from __future__ import annotations

import math
import os

import numpy as np


def plot(report, path: str | os.PathLike | None = None):
    """Draw ``report`` as three panels and return the matplotlib Figure (saved when ``path``).

    1. parameter-gradient RMS per layer, input to output, at the last recorded step
       (a falling line toward the input is vanishing, a rising one exploding);
    2. each layer's gradient norm over the steps;
    3. dead-unit and saturated fractions over the steps.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(13, 4), layout="constrained")
    FigureCanvasAgg(fig)
    depth, time_ax, units = fig.subplots(1, 3)
    steps = [s["step"] for s in report.steps]
    names = [n for n in report.order if n in report.param_count]

    last = report.steps[-1]["layers"] if report.steps else {}
    rms = [last.get(n, {}).get("grad_norm", math.nan) / math.sqrt(report.param_count[n])
           for n in names]
    depth.plot(range(len(names)), rms, marker="o")
    depth.set_xticks(range(len(names)), [n or "(model)" for n in names], rotation=90,
                     fontsize=7)
    _log(depth, rms)
    depth.set(title="gradient RMS by layer (last step)", xlabel="layer (input → output)")

    for n in names:
        series = report.series("grad_norm", n)
        if np.any(np.isfinite(series)):
            time_ax.plot(steps, series, label=n or "(model)")
    _log(time_ax, [v for n in names for v in report.series("grad_norm", n)])
    time_ax.set(title="gradient norm over steps", xlabel="step")
    if 0 < len(names) <= 10:
        time_ax.legend(fontsize=7)

    for metric, style in (("dead_fraction", "-"), ("saturated_fraction", "--")):
        for n, series in report.series(metric).items():
            units.plot(steps, series, style, label=f"{n} {metric.split('_')[0]}")
    units.set(title="dead / saturated units", xlabel="step", ylim=(-0.02, 1.02))
    if units.lines:
        units.legend(fontsize=7)
    if path is not None:
        fig.savefig(os.fspath(path))
    return fig


def _log(ax, values) -> None:
    values = np.asarray(values, dtype=float)
    if np.any(np.isfinite(values) & (values > 0)):
        ax.set_yscale("log")
