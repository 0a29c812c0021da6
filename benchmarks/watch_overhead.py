"""What watching costs: a training step with ``diagnostics.watch`` on, over the same step
without it (chainrule only; the monitor has no peer). Target: at most 1.05.

Plain and watched steps are timed in alternation (each a median of many steps), several
rounds, so drift in the machine's speed hits both alike; the row gives the median ratio
and its range over the rounds.

Run: ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m benchmarks.watch_overhead``
"""
from __future__ import annotations

import statistics

from . import workloads as W
from .timing import median_time

TARGET = 1.05


def _workloads():
    return [("MLP 784-512-512-10 step, batch 128", lambda: W.mlp_step("chainrule", batch=128)),
            ("small CNN step, batch 64", lambda: W.cnn_step("chainrule")),
            ("char GPT 2 layers step (AdamW)", lambda: W.gpt_step("chainrule"))]


def run(rounds: int = 5, repeats: int = 15) -> list[dict]:
    import chainrule as cr
    rows = []
    for name, make in _workloads():
        plain, watched = make(), make()
        monitor = cr.diagnostics.watch(watched.model, watched.optimizer)
        ratios, base = [], []
        for _ in range(rounds):
            a = median_time(plain, repeats=repeats, min_time=0.05)
            b = median_time(watched, repeats=repeats, min_time=0.05)
            ratios.append(b / a)
            base.append(a)
        monitor.remove()
        rows.append({"workload": name, "plain_ms": f"{statistics.median(base) * 1e3:.2f}",
                     "watched/plain": f"{statistics.median(ratios):.3f}",
                     "range": f"{min(ratios):.3f}-{max(ratios):.3f}", "target": f"{TARGET}"})
    return rows


if __name__ == "__main__":
    from .timing import blas_info, format_table
    print("BLAS:", blas_info())
    print(format_table(run(), ["workload", "plain_ms", "watched/plain", "range", "target"]))
