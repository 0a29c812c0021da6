"""What watching costs: a training step with ``diagnostics.watch`` on, over the same step
without it (chainrule only; the monitor has no peer). Target: at most 1.05.

Plain and watched steps are timed in alternation, several rounds, so drift in the
machine's speed hits both alike; the row gives the median ratio and its range over the
rounds. Time is the process's CPU time with BLAS on one thread (threadpoolctl), so other
work on a shared machine does not decide the ratio.

Run: ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m benchmarks.watch_overhead``
"""
from __future__ import annotations

import statistics

import contextlib
import time

from . import workloads as W

TARGET = 1.05


def _workloads():
    return [("MLP 784-512-512-10 step, batch 128", lambda: W.mlp_step("chainrule", batch=128)),
            ("small CNN step, batch 64", lambda: W.cnn_step("chainrule")),
            ("char GPT 2 layers step (AdamW)", lambda: W.gpt_step("chainrule"))]


def _cpu_time(step, n: int) -> float:
    t = time.process_time()
    for _ in range(n):
        step()
    return (time.process_time() - t) / n


def _one_blas_thread():
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # the bench extra brings it; without it BLAS keeps its threads
        return contextlib.nullcontext()
    return threadpool_limits(1)


def run(rounds: int = 7, steps: int = 40) -> list[dict]:
    import chainrule as cr
    rows = []
    for name, make in _workloads():
        plain, watched = make(), make()
        monitor = cr.diagnostics.watch(watched.model, watched.optimizer)
        ratios, base = [], []
        with _one_blas_thread():
            for _ in range(3):
                plain(), watched()
            for _ in range(rounds):
                a = _cpu_time(plain, steps)
                b = _cpu_time(watched, steps)
                ratios.append(b / a)
                base.append(a)
        monitor.remove()
        rows.append({"workload": name, "plain_cpu_ms": f"{statistics.median(base) * 1e3:.2f}",
                     "watched/plain": f"{statistics.median(ratios):.3f}",
                     "range": f"{min(ratios):.3f}-{max(ratios):.3f}", "target": f"{TARGET}"})
    return rows


if __name__ == "__main__":
    from .timing import blas_info, format_table
    print("BLAS:", blas_info())
    print(format_table(run(), ["workload", "plain_cpu_ms", "watched/plain", "range", "target"]))
