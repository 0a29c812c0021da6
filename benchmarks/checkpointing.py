"""Peak memory of a training step with and without activation checkpointing
(``chainrule.utils.checkpoint``, ``use_reentrant=False``), as ratios, each measurement in
a fresh subprocess, repeated.

Workloads: the deep MLP of ``python -m benchmarks`` (20 Linear layers of 1024, batch 256)
and a 50-block residual MLP (``x + Linear(ReLU(Linear(x)))``, width 512, batch 256). With
checkpointing they run through ``checkpoint_sequential`` in about sqrt(depth) segments:
what stays between forward and backward is each segment's input (and the last segment's
activations), and backward holds one segment's activations at a time (recomputed).

The step: ``zero_grad(set_to_none=False)`` (gradient buffers already there, counted in the
baseline), forward, loss, backward. Two numbers above the memory before the step: *held*,
what is still live when forward has returned (the activations kept for backward: what
checkpointing trades, and what the 0.5 target is about), and *peak*, the step's high-water
mark, which adds backward's temporaries (recomputed segments, gradients in flight, the
weight gradient before it is summed into ``.grad``); those temporaries do not shrink, so
the peak ratio is higher than the held one.

How memory is measured, and why tracemalloc is the main number: NumPy reports every array
buffer it allocates to tracemalloc, so ``tracemalloc``'s peak is the exact high-water mark
of live array bytes (plus the few Python objects), independent of how glibc caches freed
memory and of page granularity; it is deterministic (repeats agree to the byte) and needs
no /proc. Its cost, tracing every Python allocation, slows the step but does not change
what is allocated. The RSS high-water mark (``VmHWM`` after resetting it, Linux only, with
``MALLOC_MMAP_THRESHOLD_`` fixed as in ``benchmarks.memory`` so large arrays are returned
to the system when freed) is reported beside it as the operating system's view, and is
what the PyTorch column uses (PyTorch's allocations are invisible to tracemalloc).

Run: ``python -m benchmarks.checkpointing [--repeats 3] [--torch]``
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time

from . import workloads as W
from .memory import MALLOC_ENV, MB, _reset_hwm, _status

RESIDUAL = {"blocks": 50, "width": 512, "batch": 256}
WORKLOADS = {
    "deep MLP 20x1024, batch 256": ("mlp", 5),          # (builder, checkpoint segments)
    "residual MLP 50 blocks x 512, batch 256": ("residual", 7),
}


def _residual_parts(M):
    nn, F = M.nn, M.nn.functional

    class Block(nn.Module):
        def __init__(self, width: int) -> None:
            super().__init__()
            self.a = nn.Linear(width, width)
            self.b = nn.Linear(width, width)

        def forward(self, x):
            return x + self.b(F.relu(self.a(x)))

    M.manual_seed(0)
    width, batch = RESIDUAL["width"], RESIDUAL["batch"]
    model = nn.Sequential(*[Block(width) for _ in range(RESIDUAL["blocks"])])
    with M.no_grad():  # small residual branches keep the activations finite over 50 blocks
        for p in model.parameters():
            p.mul_(0.1)
    x = M.randn(batch, width)
    y = M.randint(0, width, (batch,))
    return model, x, y, F


def measure(lib: str, workload: str, segments: int) -> dict:
    """In the child: peak bytes of one step above the memory before it (``segments`` 0:
    no checkpointing)."""
    M = W._lib(lib)
    builder, _ = WORKLOADS[workload]
    if builder == "mlp":
        flat, _opt, x, y, F = W.mlp_parts(lib, W.DEEP_MLP, 256)
        # one function per layer (Linear + ReLU), so the segments split layers evenly
        mods = list(flat.children())
        model = M.nn.Sequential(*[M.nn.Sequential(*mods[i:i + 2]) for i in range(0, len(mods), 2)])
    else:
        model, x, y, F = _residual_parts(M)
    if lib == "chainrule":
        from chainrule.utils.checkpoint import checkpoint_sequential
    else:
        from torch.utils.checkpoint import checkpoint_sequential

    def forward():
        model.zero_grad(set_to_none=False)
        out = checkpoint_sequential(model, segments, x, use_reentrant=False) if segments \
            else model(x)
        return F.cross_entropy(out, y)

    def step():
        forward().backward()

    times = []
    for _ in range(2):  # warm-up, and the step time
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    model.zero_grad(set_to_none=False)
    gc.collect()
    out = {"lib": lib, "workload": workload, "segments": segments,
           "step_s": times[-1],
           "params": sum(p.numel() * p.element_size() for p in model.parameters())}
    try:
        before = _status("VmRSS")
        _reset_hwm()
        step()
        out["rss_peak"] = _status("VmHWM") - before
    except (OSError, RuntimeError):
        out["rss_peak"] = None
    if lib == "chainrule":
        import tracemalloc
        tracemalloc.start()
        step()                     # traced warm-up: the live arrays are traced from now on
        model.zero_grad(set_to_none=False)
        gc.collect()
        current = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        loss = forward()
        gc.collect()
        out["traced_held"] = tracemalloc.get_traced_memory()[0] - current  # kept for backward
        loss.backward()
        del loss
        out["traced_peak"] = tracemalloc.get_traced_memory()[1] - current
        tracemalloc.stop()
    return out


def run_child(lib: str, workload: str, segments: int, timeout: float = 600) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.checkpointing", "--child", "--lib", lib,
           "--workload", workload, "--segments", str(segments)]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    res = subprocess.run(cmd, env={**os.environ, **MALLOC_ENV}, cwd=root, capture_output=True,
                         text=True, timeout=timeout)
    if res.returncode != 0:
        raise RuntimeError(f"checkpointing child ({lib}, {workload}) failed:\n{res.stderr[-2000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def _spread(values: list) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def rows(repeats: int = 3, with_torch: bool = False, target: float = 0.5) -> list[dict]:
    out = []
    for workload, (_, segments) in WORKLOADS.items():
        runs = {k: [run_child("chainrule", workload, s) for _ in range(repeats)]
                for k, s in (("plain", 0), ("ckpt", segments))}
        pairs = list(zip(runs["plain"], runs["ckpt"]))
        held = [c["traced_held"] / p["traced_held"] for p, c in pairs]
        traced = [c["traced_peak"] / p["traced_peak"] for p, c in pairs]
        rss = [c["rss_peak"] / p["rss_peak"] for p, c in zip(runs["plain"], runs["ckpt"])
               if c["rss_peak"] and p["rss_peak"]]
        slow = [c["step_s"] / p["step_s"] for p, c in zip(runs["plain"], runs["ckpt"])]
        ratio = statistics.median(held)

        def mb(config, key):
            return f"{statistics.median(r[key] for r in runs[config]) / MB:.1f}"
        row = {
            "workload": workload, "segments": segments,
            "held_MB": f"{mb('plain', 'traced_held')} -> {mb('ckpt', 'traced_held')}",
            "held_ratio": _spread(held), "target": f"<= {target}",
            "met": "yes" if ratio <= target else "no",
            "peak_MB": f"{mb('plain', 'traced_peak')} -> {mb('ckpt', 'traced_peak')}",
            "peak_ratio": _spread(traced),
            "rss_ratio": _spread(rss) if rss else "-",
            "time_ratio": _spread(slow),
            "params_MB": f"{runs['plain'][0]['params'] / MB:.1f}",
        }
        if with_torch:
            t = [(run_child("torch", workload, 0), run_child("torch", workload, segments))
                 for _ in range(repeats)]
            row["torch_rss_ratio"] = _spread([c["rss_peak"] / p["rss_peak"] for p, c in t])
        out.append(row)
    return out


COLUMNS = ["workload", "segments", "held_MB", "held_ratio", "target", "met", "peak_MB",
           "peak_ratio", "rss_ratio", "time_ratio", "params_MB"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.checkpointing")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--lib", default="chainrule", choices=("chainrule", "torch"))
    parser.add_argument("--workload", choices=list(WORKLOADS))
    parser.add_argument("--segments", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3, help="subprocesses per configuration")
    parser.add_argument("--torch", action="store_true",
                        help="also PyTorch's RSS ratio with torch.utils.checkpoint")
    parser.add_argument("--out", default="benchmarks/results/checkpointing.json")
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.lib, args.workload, args.segments)))
        return
    from .timing import format_table
    table = rows(args.repeats, args.torch)
    print("memory of one training step above model, data and gradient buffers, without -> "
          "with checkpointing (tracemalloc). held: the activations kept from forward for "
          "backward (the target applies); peak: the step's high-water mark, which also counts "
          "backward's temporaries (a 4 MB weight gradient before it is added to .grad, the "
          "same in both runs); ratios with / without, median (range) of "
          f"{args.repeats} subprocess pairs; rss_ratio: VmHWM peak; time_ratio: step time")
    print(format_table(table, COLUMNS + (["torch_rss_ratio"] if args.torch else [])))
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "rows": table}, f, indent=2)
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
