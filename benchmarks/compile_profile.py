"""Where a compiled step's time goes: ``python -m benchmarks.compile_profile [--only NAME]``.

For each CPU workload of ``benchmarks/workloads.py``, the step is compiled and warmed up
past its captures; then its replay (``Compiled.source``) is run once more with a timer
around every line, and the time is summed by call (``matmul``, ``add``, ``SGD.step``…).
The table shows the top calls and their share, beside the replay's own time and the eager
step's, medians of several runs. What remains after the products is what a planner that
reuses buffers or fuses elementwise chains could still win.

Run with the OpenBLAS overrides unset in this command only:
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m benchmarks.compile_profile
"""
from __future__ import annotations

import argparse
import collections
import re
import statistics
import time

from . import workloads as W

WORKLOADS = {
    "overhead 10x10": lambda: W.overhead_step("chainrule", (10, 10)),
    "MLP batch 16": lambda: W.mlp_step("chainrule", batch=16),
    "MLP batch 128": lambda: W.mlp_step("chainrule", batch=128),
    "small CNN batch 64": lambda: W.cnn_step("chainrule"),
    "LSTM": lambda: W.lstm_step("chainrule"),
    "transformer layer": lambda: W.transformer_step("chainrule"),
    "char GPT": lambda: W.gpt_step("chainrule"),
}


_CALL = re.compile(r"    (?:.+ = )?f\d+\(")


def _median_ms(fn, runs: int) -> float:
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1e3)
    return statistics.median(samples)


def profile(make, runs: int = 7) -> dict:
    """``{"eager_ms", "replay_ms", "calls": {name: ms}}`` for one workload."""
    import chainrule
    eager = make()
    compiled = chainrule.compile(make())
    for _ in range(4):
        compiled()
        eager()
    if not compiled.stats()["replays"]:
        raise RuntimeError("the step did not compile (see its CompileWarning)")
    replay = next(e.compiled for e in compiled._cache.values() if e.compiled is not None)
    timed, lines = _timed_replay(replay)
    totals: dict = collections.Counter()
    for _ in range(runs):
        spent = timed()
        for n, seconds in spent.items():
            totals[replay.steps[lines[n]].name] += seconds * 1e3 / runs
    return {"eager_ms": _median_ms(eager, runs), "replay_ms": _median_ms(compiled, runs),
            "calls": dict(totals)}


def _timed_replay(replay):
    """The replay's source with a timer around each call line; ``(run, line → step)``."""
    out, lines, step = [], {}, 0
    for line in replay.source.splitlines():
        if _CALL.match(line):  # (one line a step, in order: ``vN = fK(…)`` or ``fK(…)``)
            out += ["    _t = _clock()", line, f"    _spent[{step}] = _clock() - _t"]
            lines[step] = step
            step += 1
        else:
            out.append(line)
    names = dict(replay.run.__globals__)
    spent: dict = {}
    names.update(_clock=time.perf_counter, _spent=spent)
    exec(compile("\n".join(out) + "\n", "<timed replay>", "exec"), names)

    def run():
        spent.clear()
        names["replay"]((), {})
        return dict(spent)
    return run, lines


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.compile_profile")
    parser.add_argument("--only", default="", help="workloads whose name contains this")
    parser.add_argument("--top", type=int, default=6)
    args = parser.parse_args(argv)
    for name, make in WORKLOADS.items():
        if args.only.lower() not in name.lower():
            continue
        p = profile(make)
        calls = sorted(p["calls"].items(), key=lambda kv: -kv[1])
        total = sum(p["calls"].values()) or 1.0
        top = ", ".join(f"{k} {_fmt(v)} ({v / total:.0%})" for k, v in calls[:args.top])
        print(f"{name}: eager {_fmt(p['eager_ms'])}, compiled {_fmt(p['replay_ms'])}; "
              f"replay by call: {top}")


def _fmt(ms: float) -> str:
    return f"{ms * 1e3:.1f} us" if ms < 0.1 else f"{ms:.3f} ms"


if __name__ == "__main__":
    main()
