"""Each rank's gradient statistics from a diagnostics report, gathered to one rank.

Under ``DistributedDataParallel`` every rank's :func:`chainrule.diagnostics.watch`
monitor sees the gradients of its own shard (parameter hooks run before the allreduce
averages them), so rank 0's report alone hides a rank whose data differ (a bad shard,
unshuffled classes). :func:`gather_grad_stats` is a collective: every rank calls it with
its own report; ``dst`` receives them all, in ``report.facts["ranks"]`` (one entry a
rank: per layer the mean, max and last ``grad_norm`` over the recorded steps) and
``report.facts["rank_spread"]`` (per layer: the largest rank mean over the smallest).

>>> from chainrule.diagnostics.report import Report
>>> r = Report(steps=[{"step": 0, "layers": {"fc": {"grad_norm": 2.0}}},
...                   {"step": 1, "layers": {"fc": {"grad_norm": 4.0}}}],
...            layers=["fc"], types={}, order=["fc"], param_count={}, leaves=["fc"], kinds={})
>>> grad_stats(r)
{'fc': {'mean': 3.0, 'max': 4.0, 'last': 4.0, 'steps': 2}}
"""
from __future__ import annotations

import numpy as np

from .collectives import gather_object
from .process_group import group_of

__all__ = ["grad_stats", "gather_grad_stats"]


def grad_stats(report) -> dict[str, dict]:
    """Per layer: mean, max and last finite ``grad_norm`` of this rank's recorded steps."""
    out = {}
    for layer, series in report.series("grad_norm").items():
        v = series[np.isfinite(series)]
        if v.size:
            out[layer] = {"mean": float(v.mean()), "max": float(v.max()), "last": float(v[-1]),
                          "steps": int(v.size)}
    return out


def gather_grad_stats(report, dst: int = 0, group=None) -> list[dict] | None:
    """Collective: every rank's :func:`grad_stats`, gathered to ``dst``.

    On ``dst`` returns the list (index = rank) and stores it in ``report.facts["ranks"]``
    with ``report.facts["rank_spread"]``; on the other ranks returns None.
    """
    pg = group_of(group, "gather_grad_stats")
    mine = grad_stats(report)
    everyone = [None] * pg.size() if pg.rank() == dst else None
    gather_object(mine, everyone, dst=dst, group=group)
    if pg.rank() != dst:
        return None
    spread = {}
    for layer in mine:
        means = [s[layer]["mean"] for s in everyone if layer in s]
        if len(means) == len(everyone) and min(means) > 0:
            spread[layer] = max(means) / min(means)
    report.facts["ranks"] = everyone
    report.facts["rank_spread"] = spread
    return everyone
