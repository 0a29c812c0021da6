"""``python -m benchmarks --device cuda``: the GPU workloads, chainrule (CuPy) and PyTorch
CUDA side by side in one process, each step timed to a device synchronize, rounds
alternating the two libraries; a short host profile of chainrule's step explains a gap
(time in Python rather than in kernels). Saved as JSON.

``--dry-run`` runs the same code on the CPU stand-in for CuPy with every size divided by
``--scale`` (PyTorch on the CPU unless it has CUDA): it checks the script, not the speed.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import time
from dataclasses import dataclass
from typing import Callable

from . import workloads as W
from .timing import format_table, median_time


@dataclass
class GpuCase:
    name: str
    make: Callable[[str, int], Callable[[], object]]   # (lib, scale) -> step
    target: float | None                               # chainrule/torch time ratio goal


def _div(n: int, scale: int, least: int = 2) -> int:
    return max(n // scale, least)


def gpu_cases() -> list[GpuCase]:
    """The workloads of issue 16 with their targets (ratio to PyTorch CUDA, same run)."""
    return [
        GpuCase("MLP 4096-4096-4096-4096 step, batch 4096",
                lambda lib, s: W.mlp_step(lib, sizes=(_div(4096, s),) * 4, batch=_div(4096, s)), 1.1),
        GpuCase("MLP 784-512-512-10 step, batch 4096",
                lambda lib, s: W.mlp_step(lib, sizes=(_div(784, s), _div(512, s), _div(512, s), 10),
                                          batch=_div(4096, s)), 1.3),
        GpuCase("small CNN step, batch 256",
                lambda lib, s: W.cnn_step(lib, batch=_div(256, s)), 2.0),
        GpuCase("transformer encoder layer step, seq 64, batch 64, d 256",
                lambda lib, s: W.transformer_step(lib, seq=_div(64, s, 4), batch=_div(64, s),
                                                  d_model=_div(256, s, 8), nhead=4), 1.5),
        GpuCase("char GPT 2 layers, 4 heads, d 64 step (AdamW), seq 64, batch 16",
                lambda lib, s: W.gpt_step(lib, seq=_div(64, s, 8), batch=_div(16, s)), None),
    ]


def _sync(lib: str) -> Callable[[], None]:
    if W.DEVICES[lib] == "cpu":
        return lambda: None
    if lib == "torch":
        import torch
        return torch.cuda.synchronize
    import chainrule
    return chainrule.cuda.synchronize


def _synced(step, sync):
    def run():
        step()
        sync()
    return run


def _profile(step, sync, steps: int = 5, top: int = 12) -> str:
    """chainrule's host time by function over a few steps (tottime): where a step waits on
    Python rather than on the GPU."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(steps):
        step()
    sync()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


def _peak_memory(lib: str) -> int | None:
    if W.DEVICES[lib] == "cpu":
        return None
    if lib == "torch":
        import torch
        return int(torch.cuda.max_memory_allocated())
    import chainrule
    return int(chainrule.cuda.max_memory_allocated())


def _reset_peak(lib: str) -> None:
    if W.DEVICES[lib] == "cpu":
        return
    if lib == "torch":
        import torch
        torch.cuda.reset_peak_memory_stats()
    else:
        import chainrule
        chainrule.cuda.reset_peak_memory_stats()


def run_case(case: GpuCase, scale: int, repeats: int, max_time: float, rounds: int,
             profile: bool) -> dict:
    steps, syncs, peaks = {}, {}, {}
    for lib in ("chainrule", "torch"):
        _reset_peak(lib)
        steps[lib], syncs[lib] = case.make(lib, scale), _sync(lib)
        steps[lib]()  # first step: kernels compiled, memory pools filled
        syncs[lib]()
        peaks[lib] = _peak_memory(lib)
    samples: dict = {lib: [] for lib in steps}
    ratios = []
    for _ in range(rounds):
        for lib in steps:
            samples[lib].append(median_time(_synced(steps[lib], syncs[lib]), repeats=repeats,
                                            warmup=2, max_time=max_time))
        ratios.append(samples["chainrule"][-1] / samples["torch"][-1])
    ratios.sort()
    ratio = ratios[len(ratios) // 2]
    ms = {lib: sorted(v)[len(v) // 2] * 1e3 for lib, v in samples.items()}
    row = {"workload": case.name, "chainrule_ms": f"{ms['chainrule']:.3f}",
           "torch_ms": f"{ms['torch']:.3f}", "ratio": f"{ratio:.2f}",
           "ratio_range": f"{ratios[0]:.2f}-{ratios[-1]:.2f}",
           "target": f"<= {case.target}" if case.target else "-",
           "met": ("yes" if ratio <= case.target else "no") if case.target else "-",
           "chainrule_peak_MiB": "-" if peaks["chainrule"] is None else f"{peaks['chainrule'] / 2**20:.0f}",
           "torch_peak_MiB": "-" if peaks["torch"] is None else f"{peaks['torch'] / 2**20:.0f}"}
    if profile:
        row["chainrule_profile"] = _profile(steps["chainrule"], syncs["chainrule"])
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks --device cuda")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--dry-run", action="store_true",
                        help="the CPU stand-in for CuPy, sizes divided by --scale")
    parser.add_argument("--scale", type=int, default=32, help="size divisor of --dry-run")
    parser.add_argument("--only", metavar="SUBSTRING", default="")
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--out", default="benchmarks/results/gpu_latest.json")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    import torch

    import chainrule
    scale = 1
    if args.dry_run:
        from chainrule.backends import standin
        standin.enable()
        scale = args.scale
    if not chainrule.cuda.is_available():
        print("python -m benchmarks --device cuda: chainrule sees no GPU (CuPy is missing or "
              "finds no device); pip install cupy-cuda12x, or --dry-run to check the script")
        return 2
    W.DEVICES["chainrule"] = args.device
    W.DEVICES["torch"] = args.device if torch.cuda.is_available() else "cpu"
    if W.DEVICES["torch"] == "cpu" and not args.dry_run:
        print("PyTorch has no CUDA here: the comparison needs a CUDA build of PyTorch")
        return 2
    chosen = [c for c in gpu_cases() if args.only.lower() in c.name.lower()]
    repeats, max_time, rounds = (3, 0.1, 1) if args.dry_run else (5, 0.5, 2) if args.quick \
        else (20, 2.0, 3)
    rows, errors = [], []
    for case in chosen:
        try:
            rows.append(run_case(case, scale, repeats, max_time, rounds, not args.no_profile))
        except Exception as e:  # noqa: BLE001 - one workload's failure must not end the run
            errors.append(f"{case.name}: {type(e).__name__}: {e}"[:400])
    device = chainrule.cuda.get_device_name()
    print(f"chainrule on {device} ({W.DEVICES['chainrule']}), PyTorch {torch.__version__} on "
          f"{W.DEVICES['torch']}" + (f"; dry run, sizes / {scale}" if args.dry_run else ""))
    columns = ["workload", "chainrule_ms", "torch_ms", "ratio", "ratio_range", "target", "met",
               "chainrule_peak_MiB", "torch_peak_MiB"]
    if rows:
        print(format_table(rows, columns))
    for row in rows:
        if "chainrule_profile" in row and row["met"] == "no":
            print(f"\nchainrule host profile, {row['workload']} (5 steps):\n"
                  + row["chainrule_profile"][:3000])
    for line in errors:
        print(f"error: {line}")
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "device": device,
                   "dry_run": args.dry_run, "scale": scale, "devices": W.DEVICES, "rows": rows,
                   "errors": errors}, f, indent=2)
    print(f"saved {args.out} ({time.perf_counter() - started:.0f} s)")
    return 1 if errors else 0
