"""chainrule.distributed and DistributedDataParallel over real MPI: each test launches
``mpiexec -n N python -m mpi4py <script>`` (the scripts beside this file) and reads the
ranks' OK lines. Needs the ``mpi`` extra (mpi4py and the mpich wheel's mpiexec)."""
from __future__ import annotations

import importlib.util
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
MPIEXEC = shutil.which("mpiexec")

pytestmark = pytest.mark.skipif(
    MPIEXEC is None or importlib.util.find_spec("mpi4py") is None,
    reason="needs MPI: pip install 'chainrule[mpi]' (mpi4py, and mpich for mpiexec)")


def launch(script: str, *args: str, ranks: int = 2, module_form: bool = True,
           timeout: float = 240) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               OMP_NUM_THREADS="1")
    runner = [sys.executable, "-m", "mpi4py"] if module_form else [sys.executable]
    return subprocess.run([MPIEXEC, "-n", str(ranks), *runner, str(HERE / script), *args],
                          capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)


def assert_all_ok(done: subprocess.CompletedProcess, what: str, ranks: int) -> None:
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-4000:]
    assert "chainrule.distributed:" not in done.stderr, done.stderr[-4000:]  # no false alarm
    for r in range(ranks):
        assert f"OK {what} rank {r} of {ranks}" in done.stdout, out[-4000:]


@pytest.mark.parametrize("ranks", [2, 3])
def test_collectives_equal_numpy(ranks):
    # every op and dtype (float64/32/16, int64/32, bool), sync and async, on views,
    # against NumPy on the ranks' known data
    assert_all_ok(launch("mpi_collectives.py", ranks=ranks), "collectives", ranks)


@pytest.mark.parametrize("ranks", [2, 3])
def test_ddp_equals_one_process_on_the_full_batch(ranks):
    # MLP and CNN, SGD with momentum and Adam, 5 steps: gradients and weights within
    # 1e-12 (float64) of single-process training; rank 0's initial weights everywhere
    assert_all_ok(launch("mpi_ddp.py", "equivalence", ranks=ranks), "equivalence", ranks)


@pytest.mark.parametrize("check", ["overlap", "no_sync", "unused", "buffers"])
def test_ddp_behaviour(check):
    assert_all_ok(launch("mpi_ddp.py", check), check, 2)


@pytest.mark.parametrize("ranks", [2, 3])
def test_diagnostics_gather_each_ranks_gradient_stats(ranks):
    assert_all_ok(launch("mpi_ddp.py", "rank_stats", ranks=ranks), "rank_stats", ranks)


@pytest.mark.parametrize("module_form", [True, False], ids=["python-m-mpi4py", "plain-python"])
def test_a_failing_rank_ends_every_rank_and_is_named(module_form):
    start = time.monotonic()
    done = launch("mpi_ddp.py", "fail", module_form=module_form, timeout=30)
    elapsed = time.monotonic() - start
    assert done.returncode != 0
    assert elapsed < 10, f"took {elapsed:.1f} s"
    assert "rank 1 of 2 failed" in done.stderr and "this rank fails on purpose" in done.stderr, \
        f"rc={done.returncode}\nstdout: {done.stdout[-1500:]}\nstderr: {done.stderr[-3000:]}"
    assert "died without a word" not in done.stderr  # the watchdog knows this end


@pytest.mark.parametrize("ranks,victim,module_form", [
    (2, 1, True), (2, 1, False), (3, 1, True), (3, 1, False), (3, 0, True)],
    ids=["2-ranks-last-python-m-mpi4py", "2-ranks-last-plain-python",
         "3-ranks-middle-python-m-mpi4py", "3-ranks-middle-plain-python",
         "3-ranks-first-python-m-mpi4py"])
def test_a_killed_rank_is_named_and_ends_every_rank(ranks, victim, module_form, tmp_path):
    # SIGKILL leaves the rank no time to speak and mpiexec kills the others at once: the
    # host's watchdog process (outside mpiexec's kill list) names it
    start = time.monotonic()
    done = launch("mpi_ddp.py", "killed", str(victim), str(tmp_path), ranks=ranks,
                  module_form=module_form, timeout=30)
    elapsed = time.monotonic() - start
    shown = f"rc={done.returncode}\nstdout: {done.stdout[-1500:]}\nstderr: {done.stderr[-3000:]}"
    assert done.returncode != 0, shown
    assert elapsed < 10, f"took {elapsed:.1f} s\n{shown}"
    pids = {int(f.name[4:]): tuple(int(w) for w in f.read_text().split())
            for f in tmp_path.glob("rank*")}  # rank: (pid, watchdog pid or -1)
    assert sorted(pids) == list(range(ranks)), shown
    named = (f"chainrule.distributed: rank {victim} of {ranks} (pid {pids[victim][0]} on "
             f"{socket.gethostname()}) died without a word (killed?); aborting all ranks")
    lines = [line for line in done.stderr.splitlines() if "without a word" in line]
    assert len(lines) == 1, shown  # one report
    if named not in done.stderr:
        # a loaded machine may let mpiexec end the others before the watchdog wakes: then it
        # names every rank it found gone at once, the killed one among them, in one line
        assert re.search(rf"ranks [0-9, ]*\b{victim}\b[0-9, ]* of {ranks} \(pids .*"
                         rf"\b{pids[victim][0]}\b.* died at one moment", lines[0]), shown
    # every process is gone within 10 s of the start: the ranks and the watchdog (which no
    # launcher waits for: it may still be leaving as mpiexec returns, on a loaded machine)
    watchdogs = [w for _, w in pids.values() if w != -1]
    assert len(watchdogs) == 1, shown
    everyone = [p for p, _ in pids.values()] + watchdogs
    while any(map(alive, everyone)) and time.monotonic() - start < 10:
        time.sleep(0.05)
    for pid in everyone:
        assert not alive(pid), f"pid {pid} still runs {time.monotonic() - start:.1f} s after " \
                               f"the start\n{shown}"


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").exists() and \
        Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][:1] != "Z"


@pytest.mark.slow
def test_chainrule_train_under_two_ranks(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    runs = tmp_path / "runs"
    done = subprocess.run([MPIEXEC, "-n", "2", sys.executable, "-m", "mpi4py", "-m", "chainrule",
                           "train", "--data", "digits", "--runs-dir", str(runs), "--no-report"],
                          capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    assert "died without a word" not in done.stderr, done.stderr[-4000:]
    # rank 0 alone prints: one header, one test line
    assert done.stdout.count("training cnn") == 1 and done.stdout.count("test accuracy") == 1
    acc = float(done.stdout.split("test accuracy: ")[1].split("%")[0]) / 100
    assert acc >= 0.97, done.stdout[-2000:]
    folders = list(runs.iterdir())
    assert len(folders) == 1, folders
    import json
    config = json.loads((folders[0] / "config.json").read_text())
    assert config["ranks"] == 2
    assert (folders[0] / "metrics.csv").read_text().count("\n") == config["epochs"] + 1
    assert (folders[0] / "checkpoints").is_dir()
    facts = json.loads((folders[0] / "diagnostics.json").read_text())["facts"]
    assert len(facts["ranks"]) == 2 and all(facts["ranks"]), facts.get("ranks")
    assert set(facts["rank_spread"]) == set(facts["ranks"][0])


def test_chainrule_train_resumes_with_the_same_ranks(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")

    def train(*args):
        done = subprocess.run([MPIEXEC, "-n", "2", sys.executable, "-m", "mpi4py", "-m",
                               "chainrule", "train", "--runs-dir", str(tmp_path), "--no-report",
                               *args], capture_output=True, text=True, timeout=300, env=env,
                              cwd=tmp_path)
        assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
        assert "died without a word" not in done.stderr, done.stderr[-4000:]
        return [line for line in done.stdout.splitlines() if line.startswith("epoch=")]

    common = ["--data", "digits", "--schedule", "none"]
    whole = train(*common, "--epochs", "4", "--name", "whole")
    train(*common, "--epochs", "2", "--name", "split")
    rest = train("--resume", str(tmp_path / "split"), "--epochs", "4")
    drop_time = lambda line: " ".join(w for w in line.split() if not w.startswith("time="))  # noqa: E731
    assert [drop_time(x) for x in rest] == [drop_time(x) for x in whole[2:]]
