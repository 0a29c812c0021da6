"""The GPU script (``python -m benchmarks.gpu_check``) runs its CPU-side logic: every stage
on the CPU stand-in for CuPy (``--dry-run``), its results saved."""
from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_gpu_check_dry_run_runs_every_stage(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("CHAINRULE_CUDA_STANDIN", None)
    done = subprocess.run([sys.executable, "-m", "benchmarks.gpu_check", "--dry-run",
                           "--out-dir", str(tmp_path)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=480)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["passed"] and [s["stage"] for s in summary["stages"]] == [
        "environment", "sweep", "train", "benchmarks"]
    assert " passed" in (tmp_path / "sweep.txt").read_text()
    bench = json.loads((tmp_path / "benchmarks_gpu.json").read_text())
    assert bench["dry_run"] and not bench["errors"]
    assert [r["workload"].split(" step")[0] for r in bench["rows"]] == [
        "MLP 4096-4096-4096-4096", "MLP 784-512-512-10", "small CNN",
        "transformer encoder layer", "char GPT 2 layers, 4 heads, d 64"]
    assert all(float(r["chainrule_ms"]) > 0 and float(r["torch_ms"]) > 0 for r in bench["rows"])
    assert "all stages passed" in (tmp_path / "log.txt").read_text()


def test_benchmarks_on_cuda_without_a_gpu_says_so(tmp_path):
    try:
        import cupy  # noqa: F401
        return  # a machine with CuPy: the real run is the check
    except ImportError:
        pass
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("CHAINRULE_CUDA_STANDIN", None)
    done = subprocess.run([sys.executable, "-m", "benchmarks", "--device", "cuda", "--out",
                           str(tmp_path / "x.json")], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2 and "no GPU" in done.stdout, done.stdout + done.stderr
