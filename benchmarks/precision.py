"""``python -m benchmarks.precision``: a training step in float32 against the same step
under ``autocast('cpu', bfloat16)``, for chainrule and PyTorch: time ratios (bf16 / fp32)
and, for chainrule, the peak of NumPy's allocations (tracemalloc sees them; it does not
see PyTorch's, so PyTorch has no memory column).

chainrule has no bfloat16 kernels: NumPy computes each bf16 op in float32 and rounds
(ml_dtypes), and autocast adds casts, so a bf16 step is expected to be *slower* than
fp32 here; PyTorch has real bf16 kernels (oneDNN), whose speed depends on the CPU.
"""
from __future__ import annotations

import argparse
import json
import tracemalloc

from . import workloads as W
from .timing import format_table, median_time

WORKLOADS = {
    "MLP 784-512-512-10 step, batch 128": lambda lib: W.mlp_step(lib, batch=128),
    "small CNN step, batch 64": lambda lib: W.cnn_step(lib, 64),
}


def _under(lib: str, step, precision: str):
    if precision == "fp32":
        return step
    M = W._lib(lib)

    def mixed():
        with M.autocast("cpu", dtype=M.bfloat16):
            return step()
    return mixed


def _peak_mb(step) -> float:
    step()  # (warm: optimizer state and caches exist before the measured step)
    tracemalloc.start()
    try:
        step()
        return tracemalloc.get_traced_memory()[1] / 2 ** 20
    finally:
        tracemalloc.stop()


def rows(quick: bool = False) -> list[dict]:
    out = []
    for name, make in WORKLOADS.items():
        row = {"workload": name}
        for lib in ("chainrule", "torch"):
            times = {}
            for precision in ("fp32", "bf16"):
                step = _under(lib, make(lib), precision)
                times[precision] = median_time(step, repeats=5 if quick else 15, max_time=20)
                if lib == "chainrule":
                    row[f"chainrule_{precision}_MB"] = round(_peak_mb(step), 1)
            row[f"{lib}_fp32_ms"] = round(times["fp32"] * 1e3, 2)
            row[f"{lib}_bf16_ms"] = round(times["bf16"] * 1e3, 2)
            row[f"{lib}_bf16/fp32"] = round(times["bf16"] / times["fp32"], 2)
        row["chainrule_MB_bf16/fp32"] = round(row["chainrule_bf16_MB"] / row["chainrule_fp32_MB"], 2)
        out.append(row)
    return out


COLUMNS = ["workload", "chainrule_fp32_ms", "chainrule_bf16_ms", "chainrule_bf16/fp32",
           "torch_fp32_ms", "torch_bf16_ms", "torch_bf16/fp32", "chainrule_fp32_MB",
           "chainrule_bf16_MB", "chainrule_MB_bf16/fp32"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", default=None, help="also write the rows here")
    args = parser.parse_args()
    table = rows(args.quick)
    print(format_table(table, COLUMNS))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(table, f, indent=2)


if __name__ == "__main__":
    main()
