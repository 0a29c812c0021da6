"""``python -m benchmarks``: each workload for chainrule and PyTorch in this process,
median of many steps after warm-up, printed as a table and saved as JSON.

Run with the OpenBLAS overrides unset in this command only:
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m benchmarks [--quick]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np

from . import workloads as W
from .timing import blas_info, format_table, median_time


def gemm_rate(n: int = 512, repeats: int = 20) -> float:
    """Best float32 GEMM rate NumPy reaches here (FLOP/s), for the lower bounds."""
    a = np.random.rand(n, n).astype(np.float32)
    b = np.random.rand(n, n).astype(np.float32)
    t = median_time(lambda: a @ b, repeats=repeats, min_time=0.02)
    return 2 * n ** 3 / t


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--out", default="benchmarks/results/latest.json")
    args = parser.parse_args()
    import torch
    repeats = 7 if args.quick else 25
    rate = gemm_rate()
    cases = [
        ("(a*b+a).sum().backward() 1", lambda lib: W.overhead_step(lib, (1,)), 0.0, 0.5),
        ("(a*b+a).sum().backward() 10x10", lambda lib: W.overhead_step(lib, (10, 10)), 0.0, 0.5),
    ]
    for batch, target in ((16, 1.0), (128, 0.9), (512, 0.9)):
        cases.append((f"MLP 784-512-512-10 step, batch {batch}",
                      lambda lib, b=batch: W.mlp_step(lib, batch=b),
                      W.mlp_flops((784, 512, 512, 10), batch), target))
    cases.append(("small CNN step, batch 64", W.cnn_step, W.cnn_flops(64), 1.5))
    rows = []
    for name, make, flops, target in cases:
        times = {}
        for lib in ("chainrule", "torch"):
            torch.set_num_threads(os.cpu_count() or 1)
            step = make(lib)
            times[lib] = median_time(step, repeats=repeats, min_time=0.05 if flops == 0 else 0.0)
        ratio = times["chainrule"] / times["torch"]
        rows.append({"workload": name, "chainrule_ms": f"{times['chainrule'] * 1e3:.3f}",
                     "torch_ms": f"{times['torch'] * 1e3:.3f}", "ratio": f"{ratio:.2f}",
                     "target": f"<= {target}", "met": "yes" if ratio <= target else "no",
                     "flop_bound_ms": f"{flops / rate * 1e3:.3f}" if flops else "-"})
    columns = ["workload", "chainrule_ms", "torch_ms", "ratio", "target", "met", "flop_bound_ms"]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"numpy {np.__version__}, torch {torch.__version__}; BLAS: {blas_info()}")
    print(f"best float32 GEMM here: {rate / 1e9:.1f} GFLOP/s")
    print(format_table(rows, columns))
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "blas": blas_info(),
                   "gemm_gflops": rate / 1e9, "rows": rows}, f, indent=2)
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
