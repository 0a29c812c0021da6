"""``python -m benchmarks.gpu_check``: everything issue 16 asks of a GPU, in one command.

On a machine with an NVIDIA GPU, ``pip install cupy-cuda12x`` and a CUDA build of PyTorch,
it runs, each stage under its own time limit (about 8 minutes in all):

1. the environment: ``nvidia-smi``, CuPy's and PyTorch's versions and devices;
2. the op sweep on CuPy (tests/ops/test_op_sweep_cuda.py with CHAINRULE_SWEEP_REAL_CUDA=1):
   forward and gradients against PyTorch CUDA, float64 against chainrule on the CPU to
   1e-10; then the device tests of tests/backends/test_cuda_standin.py,
   test_cuda_fused.py (the cupy.fuse kernels against the CPU) and test_nn_on_cuda.py (every
   nn module and loss against the CPU, float64) on the GPU;
3. ``chainrule train --device cuda`` (digits, CNN, one epoch);
4. ``python -m benchmarks --device cuda``: the five GPU workloads against PyTorch CUDA.

Everything it prints is also saved under ``benchmarks/results/gpu_check_<time>/``
(``summary.json``, ``log.txt``, the benchmark JSON and the sweep's output).
``--dry-run`` runs the same stages on the CPU stand-in for CuPy (a few sweep cases, tiny
benchmark sizes): it checks the script where there is no GPU.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# stage time limits in seconds (the sweep's first run compiles CuPy's kernels: most of it)
LIMITS = {"environment": 30, "sweep": 270, "train": 60, "benchmarks": 150}
DRY_SWEEP = "exp-0 or conv2d-0 or cross_entropy-0 or layer_on_cuda"  # the dry run's sample


class Log:
    """Prints and keeps every line (log.txt)."""

    def __init__(self, path: str) -> None:
        self.file = open(path, "w")

    def __call__(self, text: str) -> None:
        print(text, flush=True)
        self.file.write(text + "\n")
        self.file.flush()


def stage(log: Log, name: str, command: list[str], env: dict, limit: float) -> dict:
    """Run one stage in a subprocess under ``limit`` seconds; its output goes to the log."""
    log(f"\n=== {name}: {' '.join(command)} (limit {limit:.0f} s)")
    started = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=limit)
        rc, out = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired as e:
        rc = "timeout"
        out = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) \
            else (e.stdout or "")
    seconds = time.perf_counter() - started
    tail = out if len(out) < 6000 else "…\n" + out[-6000:]
    log(tail.rstrip())
    log(f"--- {name}: rc={rc}, {seconds:.0f} s")
    return {"stage": name, "rc": rc, "seconds": round(seconds, 1), "output": out}


def environment(log: Log, dry_run: bool) -> dict:
    lines = []
    smi = shutil.which("nvidia-smi")
    if smi:
        done = subprocess.run([smi, "--query-gpu=name,memory.total,driver_version",
                               "--format=csv,noheader"], capture_output=True, text=True)
        lines.append(f"nvidia-smi: {done.stdout.strip() or done.stderr.strip()}")
    else:
        lines.append("nvidia-smi: not found")
    probe = ("import chainrule, torch, numpy; print('chainrule cuda:', chainrule.cuda.is_available(),"
             " chainrule.cuda.device_count() and chainrule.cuda.get_device_name());"
             " print('torch', torch.__version__, 'cuda:', torch.cuda.is_available(),"
             " torch.cuda.is_available() and torch.cuda.get_device_name(0)); print('numpy', numpy.__version__)\n"
             "try:\n import cupy; print('cupy', cupy.__version__)\nexcept ImportError as e: print('cupy: not installed')")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=_env(dry_run),
                          capture_output=True, text=True, timeout=LIMITS["environment"])
    lines += (done.stdout + done.stderr).strip().splitlines()
    for line in lines:
        log(line)
    return {"stage": "environment", "rc": done.returncode, "lines": lines}


def _env(dry_run: bool) -> dict:
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    if dry_run:
        env["CHAINRULE_CUDA_STANDIN"] = "1"
        env.pop("CHAINRULE_SWEEP_REAL_CUDA", None)
    else:
        env["CHAINRULE_SWEEP_REAL_CUDA"] = "1"
        env.pop("CHAINRULE_CUDA_STANDIN", None)
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu_check")
    parser.add_argument("--dry-run", action="store_true",
                        help="the CPU stand-in for CuPy: checks the script without a GPU")
    parser.add_argument("--out-dir", default=None,
                        help="where to save (default benchmarks/results/gpu_check_<time>)")
    args = parser.parse_args(argv)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out_dir = args.out_dir or os.path.join(ROOT, "benchmarks", "results",
                                           f"gpu_check{'_dry' if args.dry_run else ''}_{stamp}")
    os.makedirs(out_dir, exist_ok=True)
    log = Log(os.path.join(out_dir, "log.txt"))
    started = time.perf_counter()
    env = _env(args.dry_run)
    results = [environment(log, args.dry_run)]
    if not args.dry_run and "chainrule cuda: True" not in " ".join(results[0]["lines"]):
        log("chainrule sees no GPU: pip install cupy-cuda12x on a machine with an NVIDIA GPU "
            "(or --dry-run to check this script on the CPU stand-in)")
        _save(out_dir, results, started)
        return 2

    sweep = [sys.executable, "-m", "pytest", "tests/ops/test_op_sweep_cuda.py",
             "tests/backends/test_cuda_standin.py", "tests/backends/test_cuda_fused.py",
             "tests/backends/test_nn_on_cuda.py",  # every nn module and loss against the CPU
             "-p", "no:randomly",
             "--maxfail=200", "-W", "ignore::UserWarning"]
    if args.dry_run:
        sweep += ["-k", DRY_SWEEP]
    results.append(stage(log, "sweep", sweep, env, LIMITS["sweep"]))
    with open(os.path.join(out_dir, "sweep.txt"), "w") as f:
        f.write(results[-1]["output"])

    with tempfile.TemporaryDirectory() as runs:
        train = [sys.executable, "-m", "chainrule", "train", "--device", "cuda", "--data",
                 "moons" if args.dry_run else "digits", "--model", "mlp" if args.dry_run else "cnn",
                 "--epochs", "1", "--no-report", "--runs-dir", runs]
        results.append(stage(log, "train", train, env, LIMITS["train"]))

    bench_json = os.path.join(out_dir, "benchmarks_gpu.json")
    bench = [sys.executable, "-m", "benchmarks", "--device", "cuda", "--out", bench_json]
    if args.dry_run:
        bench += ["--dry-run", "--no-profile"]
    results.append(stage(log, "benchmarks", bench, env, LIMITS["benchmarks"]))
    ok = _save(out_dir, results, started)
    log(f"\n{'all stages passed' if ok else 'FAILED: ' + ', '.join(r['stage'] for r in results if r['rc'] != 0)}"
        f" ({time.perf_counter() - started:.0f} s); saved under {out_dir}")
    return 0 if ok else 1


def _save(out_dir: str, results: list, started: float) -> bool:
    ok = all(r["rc"] == 0 for r in results)
    summary = {"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "passed": ok,
               "seconds": round(time.perf_counter() - started, 1),
               "stages": [{k: v for k, v in r.items() if k != "output"} for r in results]}
    with open(os.path.join(out_dir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    return ok


if __name__ == "__main__":
    sys.exit(main())
