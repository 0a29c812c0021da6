"""``python -m benchmarks``: each workload for chainrule and PyTorch in this process,
median of many steps after warm-up; then the peers (JAX, autograd, tinygrad) that can
run here; then the deep MLP's peak memory, each library in a fresh subprocess. Printed
as tables and saved as JSON.

Run with the OpenBLAS overrides unset in this command only:
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m benchmarks [--quick]
        [--only SUBSTRING] [--peers none|all]

``--device cuda`` runs the GPU workloads against PyTorch CUDA instead (benchmarks/gpu.py;
``--dry-run`` there checks them on the CPU stand-in for CuPy).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import peers as P
from . import workloads as W
from .timing import blas_info, format_table, median_time


@dataclass
class Case:
    name: str
    make: Callable[[str], Callable[[], object]]   # lib -> step
    flops: float                                   # 0: no matrix products to speak of
    target: float | None                           # chainrule/torch time ratio goal
    peers: tuple | None = None                     # the peers' workload: (name, kwargs)
    compiled_target: float | None = None           # chainrule.compile'd step / torch goal


def cases() -> list[Case]:
    out = []
    for shape, compiled in (((1,), None), ((10, 10), 0.25)):
        out.append(Case(f"(a*b+a).sum().backward() {'x'.join(map(str, shape))}",
                        lambda lib, s=shape: W.overhead_step(lib, s), 0.0, 0.5,
                        ("overhead", {"shape": shape}), compiled))
    for batch, target, compiled in ((16, 1.0, 0.7), (128, 0.9, 0.85), (512, 0.9, 0.95)):
        out.append(Case(f"MLP 784-512-512-10 step, batch {batch}",
                        lambda lib, b=batch: W.mlp_step(lib, batch=b),
                        W.mlp_flops((784, 512, 512, 10), batch), target, ("mlp", {"batch": batch}),
                        compiled))
    out.append(Case("small CNN step, batch 64", W.cnn_step, W.cnn_flops(64), 1.5, ("cnn", {}), 1.0))
    out.append(Case("LSTM 256->256 step, seq 32, batch 32", W.lstm_step, W.lstm_flops(), 1.5,
                    None, 1.0))
    out.append(Case("transformer encoder layer step, seq 64, batch 16, d 256",
                    W.transformer_step, W.transformer_flops(), 1.5, None, 0.95))
    out.append(Case("char GPT 2 layers, 4 heads, d 64 step (AdamW), seq 64, batch 16",
                    W.gpt_step, W.gpt_flops(), 1.3, None, 0.8))
    out.append(Case("deep MLP 20x1024 step, batch 256",
                    lambda lib: W.mlp_step(lib, W.DEEP_MLP, 256), W.mlp_flops(W.DEEP_MLP, 256), None,
                    ("mlp", {"sizes": W.DEEP_MLP, "batch": 256})))
    return out


def compiled_step(case: Case):
    """The case's chainrule step through ``chainrule.compile``, past its captures (a
    CompileWarning, if it stays eager, is printed: the column then times eager work)."""
    import chainrule
    step = chainrule.compile(case.make("chainrule"))
    for _ in range(4):  # (two captures; a first call without .grad yet is a signature too)
        step()
        if step.stats()["replays"]:
            break
    return step


MEMORY_NAME = "deep MLP 20x1024 step, batch 256 (peak memory)"


def gemm_rate(n: int = 512, repeats: int = 20) -> float:
    """Best float32 GEMM rate NumPy reaches here (FLOP/s), for the lower bounds."""
    a = np.random.rand(n, n).astype(np.float32)
    b = np.random.rand(n, n).astype(np.float32)
    t = median_time(lambda: a @ b, repeats=repeats, min_time=0.02)
    return 2 * n ** 3 / t


def cpu_busy(seconds: float = 1.0) -> float:
    """Fraction of all cores busy over ``seconds`` while this process waits (Linux
    ``/proc/stat``; 0.0 elsewhere): other work that will slow the timings down."""
    def sample():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return sum(v), v[3] + v[4]                       # total, idle + iowait
    try:
        t0, i0 = sample()
        time.sleep(seconds)
        t1, i1 = sample()
    except OSError:
        return 0.0
    return 1.0 - (i1 - i0) / max(t1 - t0, 1)


# After its last call a library's BLAS and OpenMP worker threads keep spinning for a while
# (OpenBLAS: about 0.1 s) before they sleep. A round is often shorter than that, so
# without a pause the library timed next shares its cores with the previous one's spinning
# threads (PyTorch's MLP step at batch 128 read 7 ms instead of 2.9 that way).
SETTLE_S = 0.3


def _time(step, flops: float, repeats: int, max_time: float) -> float:
    time.sleep(SETTLE_S)  # the other library's threads go to sleep first
    return median_time(step, repeats=repeats, min_time=0.05 if flops == 0 else 0.0, max_time=max_time)


def _paired(case: Case, repeats: int, max_time: float, rounds: int):
    """``({lib: median seconds}, {lib: median ratio}, {lib: (lowest, highest) ratio})`` over
    ``rounds`` rounds, each timing chainrule, PyTorch and the compiled chainrule step (ratios
    to PyTorch are taken within a round)."""
    steps = {lib: case.make(lib) for lib in ("chainrule", "torch")}
    steps["compiled"] = compiled_step(case)
    samples: dict = {lib: [] for lib in steps}
    ratios: dict = {"chainrule": [], "compiled": []}
    for _ in range(rounds):
        for lib, step in steps.items():
            samples[lib].append(_time(step, case.flops, repeats, max_time))
        for lib in ratios:
            ratios[lib].append(samples[lib][-1] / samples["torch"][-1])
    medians = {lib: float(np.median(v)) for lib, v in samples.items()}
    return medians, {lib: float(np.median(r)) for lib, r in ratios.items()}, \
        {lib: (min(r), max(r)) for lib, r in ratios.items()}


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--device", default="cpu")
    if pre.parse_known_args(argv)[0].device != "cpu":
        from .gpu import main as gpu_main  # the GPU workloads (benchmarks/gpu.py)
        sys.exit(gpu_main(argv))
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--only", metavar="SUBSTRING", default="",
                        help="run only the workloads whose name contains SUBSTRING (any case)")
    parser.add_argument("--peers", choices=("none", "all"), default="all",
                        help="also time JAX, autograd and tinygrad where they can run (default all)")
    parser.add_argument("--out", default="benchmarks/results/latest.json")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="cuda: the GPU workloads against PyTorch CUDA (benchmarks/gpu.py)")
    args = parser.parse_args(argv)
    chosen = [c for c in cases() if args.only.lower() in c.name.lower()]
    memory = args.only.lower() in MEMORY_NAME.lower()
    if not chosen and not memory:
        names = "\n  ".join([c.name for c in cases()] + [MEMORY_NAME])
        sys.exit(f"--only {args.only!r} matches no workload; the workloads are:\n  {names}")
    started, busy = time.perf_counter(), cpu_busy()
    import torch
    # rounds alternate the two libraries, so a machine that speeds up or slows down
    # mid-run moves both; each round is a median of ``repeats`` samples
    repeats, max_time, rounds = (5, 0.5, 3) if args.quick else (9, 1.0, 7)
    rate = gemm_rate()

    # 1. chainrule and PyTorch, before any peer is imported (their threads stay out).
    rows = []
    torch.set_num_threads(os.cpu_count() or 1)
    for case in chosen:
        times, ratios, spreads = _paired(case, repeats, max_time, rounds)
        ratio, spread = ratios["chainrule"], spreads["chainrule"]
        c_ratio, c_spread = ratios["compiled"], spreads["compiled"]
        rows.append({"workload": case.name, "chainrule_ms": f"{times['chainrule'] * 1e3:.3f}",
                     "torch_ms": f"{times['torch'] * 1e3:.3f}", "ratio": f"{ratio:.2f}",
                     "ratio_range": f"{spread[0]:.2f}-{spread[1]:.2f}",
                     "target": f"<= {case.target}" if case.target else "-",
                     "met": ("yes" if ratio <= case.target else "no") if case.target else "-",
                     "compiled_ms": f"{times['compiled'] * 1e3:.3f}",
                     "compiled_ratio": f"{c_ratio:.2f}",
                     "compiled_range": f"{c_spread[0]:.2f}-{c_spread[1]:.2f}",
                     "compiled_target": f"<= {case.compiled_target}" if case.compiled_target else "-",
                     "compiled_met": ("yes" if c_ratio <= case.compiled_target else "no")
                     if case.compiled_target else "-",
                     "flop_bound_ms": f"{case.flops / rate * 1e3:.3f}" if case.flops else "-"})

    # 2. The peers, after all of that.
    status = P.available() if args.peers == "all" and chosen else {}
    usable = [p for p, why in status.items() if why is None]
    errors = []
    for row, case in zip(rows, chosen):
        for peer in status:
            row[f"{peer}_ms"] = "-"
            if peer in usable and case.peers:
                try:
                    step = P.step(peer, case.peers[0], **case.peers[1])
                    row[f"{peer}_ms"] = f"{_time(step, case.flops, repeats, max_time) * 1e3:.3f}"
                except NotImplementedError:
                    pass
                except Exception as e:  # noqa: BLE001 - a peer's failure must not end the run
                    row[f"{peer}_ms"] = "error"
                    errors.append(f"{peer} on {case.name}: {type(e).__name__}: {e}"[:200])

    # 3. Peak memory, each library in a fresh subprocess.
    mem_rows = []
    if memory:
        from . import memory as MEM
        try:
            mem_rows = MEM.rows()
        except (OSError, RuntimeError, subprocess.SubprocessError) as e:
            errors.append(f"peak memory: {e}"[:400])

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"numpy {np.__version__}, torch {torch.__version__}; BLAS: {blas_info()}")
    print(f"best float32 GEMM here: {rate / 1e9:.1f} GFLOP/s; CPU busy before the run: {busy:.0%}"
          + (" (other processes are running: expect slow, noisy times)" if busy > 0.1 else ""))
    for peer, why in status.items():
        print(f"{peer}: {_version(peer) if why is None else why}")
    if rows:
        columns = ["workload", "chainrule_ms", "torch_ms", "ratio", "ratio_range", "target", "met",
                   "compiled_ms", "compiled_ratio", "compiled_range", "compiled_target",
                   "compiled_met", "flop_bound_ms"] + [f"{p}_ms" for p in status]
        print(format_table(rows, columns))
        if status:
            print("peer '-': cannot run here, or no reasonable API for that workload (README)")
            if any(why and why.startswith("not installed") for why in status.values()):
                print(f"{P.INSTALL} installs the peers")
    for line in errors:
        print(f"error: {line}")
    if mem_rows:
        from .memory import COLUMNS
        print("\npeak memory of one step above model and data (MB = MiB; subprocess per library):")
        print(format_table(mem_rows, COLUMNS))
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "blas": blas_info(),
                   "gemm_gflops": rate / 1e9, "peers": status, "rows": rows,
                   "cpu_busy_before": busy, "memory_rows": mem_rows, "errors": errors}, f, indent=2)
    print(f"saved {args.out} ({time.perf_counter() - started:.0f} s)")


def _version(peer: str) -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        v = version(peer)
    except PackageNotFoundError:
        v = "?"
    if peer == "jax":
        import jax
        return f"{v} on {jax.default_backend()}, jit"
    return f"{v}, TinyJit on {os.environ.get('DEV')}" if peer == "tinygrad" else f"{v}, eager"


if __name__ == "__main__":
    main()
