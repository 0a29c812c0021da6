"""Run the held-out suite: ``cd tests/diagnostics && python -m heldout [-k NAME] [--twins] [--torch]``.

Per case: expected cause vs the monitor's first finding (kind[layers]@first_step), pass/fail.
``--twins`` also trains each bug's fixed twin under chainrule (it must learn, watched, with
no finding); ``--torch`` trains every fixed twin and healthy case under PyTorch too (it must
learn there as well, which checks that the setups themselves are sound).
"""
from __future__ import annotations

import argparse
import sys

import chainrule

from . import CASES, judge, run_case
from .evaluate import describe_first, loss_span


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m heldout")
    ap.add_argument("-k", default="", help="only cases whose name contains this")
    ap.add_argument("--twins", action="store_true", help="also run each bug's fixed twin")
    ap.add_argument("--torch", action="store_true", help="also check the setups under PyTorch")
    args = ap.parse_args(argv)
    cases = [c for c in CASES if args.k in c.name]
    torch = None
    if args.torch:
        import torch

    bugs_named, bugs, alarms, healthy_n, misses, twin_notes = 0, 0, 0, 0, [], []
    print(f"{'case':38} {'expected':34} {'first finding':40} {'loss':>14} result")
    for case in cases:
        v = run_case(case, chainrule, bug=True)
        ok = judge(v)
        if case.healthy:
            healthy_n += 1
            alarms += not v.silent
            expected = "(healthy)"
        else:
            bugs += 1
            bugs_named += ok
            expected = case.kind + (f"[{'|'.join(case.layers)}]" if case.layers else "")
        got = describe_first(v)
        if case.healthy and v.silent and not v.learned:
            got += " (did not learn)"
        print(f"{case.name:38} {expected:34} {got:40} {loss_span(v):>14} "
              f"{'PASS' if ok else 'FAIL'}  {v.seconds:.1f}s", flush=True)
        if not ok:
            extra = "; also: " + ", ".join(f.kind for f in v.findings[1:4]) if len(v.findings) > 1 else ""
            misses.append(f"{case.name}: {case.note} -> monitor said {got}{extra}")
        if args.twins and not case.healthy:
            t = run_case(case, chainrule, bug=False)
            if not judge(t):
                twin_notes.append(f"{case.name} fixed twin (chainrule): first={describe_first(t)} "
                                  f"learned={t.learned} loss {loss_span(t)}")
        if torch is not None:
            t = run_case(case, torch, bug=False)
            if not t.learned:
                twin_notes.append(f"{case.name} {'healthy' if case.healthy else 'fixed twin'} "
                                  f"(torch) did not learn: loss {loss_span(t)} {t.error or ''}")
    print()
    if bugs:
        print(f"bugs named correctly: {bugs_named}/{bugs} ({100 * bugs_named / bugs:.0f}%)")
    if healthy_n:
        print(f"false alarms on healthy cases: {alarms}/{healthy_n}")
    for m in misses:
        print("MISS", m)
    for t in twin_notes:
        print("TWIN", t)
    return 0


if __name__ == "__main__":
    sys.exit(main())
