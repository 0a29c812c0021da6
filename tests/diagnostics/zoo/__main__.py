"""``python -m zoo [names...]`` (from tests/diagnostics): train every case, or the named
ones, under PyTorch and chainrule and print the fixed-vs-bug table."""
import math
import sys
import time
import warnings

import chainrule
import torch

from . import BUGS, CASES, HEALTHY, bug_shows, learned, run


def _fmt(x: float) -> str:
    return f"{x:.3g}" if math.isfinite(x) else str(x)


def main(names: list[str]) -> None:
    cases = [CASES[n] for n in names] if names else BUGS + HEALTHY
    torch.set_num_threads(1)
    print("| case | kind | layers | metric | torch fixed / bug | chainrule fixed / bug "
          "| ok | cr cpu s (fixed) |")
    print("|---|---|---|---|---|---|---|---|")
    for case in cases:
        cells, ok = [], True
        for lib in (torch, chainrule):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t = time.process_time()
                fixed = run(case, lib, True)
                secs = time.process_time() - t
                if case.healthy:
                    cells.append(f"{_fmt(fixed.initial)}→{_fmt(fixed.final)}")
                    ok &= learned(case, fixed)
                    continue
                bug = run(case, lib, False)
            ok &= learned(case, fixed) and bug_shows(case, bug, fixed)
            cells.append(f"{_fmt(fixed.final)} / {_fmt(bug.final)} (from {_fmt(fixed.initial)})")
        layers = ",".join(case.expect_layers) if case.expect_layers else "-"
        print(f"| {case.name} | {case.expect_kind or 'healthy'} | {layers} | {case.metric} "
              f"| {cells[0]} | {cells[1]} | {'yes' if ok else 'NO'} | {secs:.2f} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
