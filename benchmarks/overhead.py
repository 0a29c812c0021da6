"""Per-op overhead: ``(a*b + a).sum().backward()`` on tiny tensors, chainrule vs PyTorch.

Run: ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m benchmarks.overhead``
"""
from __future__ import annotations

from . import workloads as W
from .timing import median_time


def run(repeats: int = 50) -> list[dict]:
    import torch
    torch.set_num_threads(1)  # tiny tensors: threads only add overhead for both
    rows = []
    for shape in ((1,), (10, 10)):
        ours = median_time(W.overhead_step("chainrule", shape), repeats=repeats, min_time=0.02)
        theirs = median_time(W.overhead_step("torch", shape), repeats=repeats, min_time=0.02)
        rows.append({"workload": f"(a*b+a).sum().backward() {'x'.join(map(str, shape))}",
                     "chainrule_us": f"{ours * 1e6:.1f}", "torch_us": f"{theirs * 1e6:.1f}",
                     "ratio": f"{ours / theirs:.2f}"})
    return rows


if __name__ == "__main__":
    from .timing import blas_info, format_table
    print("BLAS:", blas_info())
    print(format_table(run(), ["workload", "chainrule_us", "torch_us", "ratio"]))
