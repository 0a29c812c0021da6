"""The ``chainrule`` command: arguments, the run folder, report rebuild, explain."""
import json
import os
import subprocess
import sys

import pytest

from chainrule.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _cli(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-m", "chainrule.cli", *args], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=600)


@pytest.mark.parametrize("args, needle", [
    (["train", "--epochs", "0"], "expected a positive integer"),
    (["train", "--lr", "abc"], "expected a positive number"),
    (["train", "--model", "transformer"], "invalid choice"),
    (["train", "--data", "mnist"], "needs --data-dir"),
    (["train", "--resume", "/no/such/run"], "no such file or folder"),
    (["report", "/no/such/run"], "not a run folder"),
    (["demo", "nothing"], "invalid choice"),
])
def test_bad_arguments_give_one_line_and_nonzero_exit(args, needle, tmp_path):
    r = _cli(*args, cwd=tmp_path)
    assert r.returncode == 2
    assert needle in r.stderr
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_train_writes_the_run_folder_and_report(tmp_path, capsys):
    code = main(["train", "--model", "mlp", "--epochs", "2", "--runs-dir", str(tmp_path),
                 "--name", "r", "--quiet"])
    assert code == 0
    out = capsys.readouterr().out
    assert "test accuracy:" in out
    run = tmp_path / "r"
    for name in ("metrics.csv", "diagnostics.json", "config.json", "report.html", "curves.png",
                 "gradient_flow.png", "gradient_heatmap.png", "units.png",
                 "checkpoints/last.safetensors", "checkpoints/best.safetensors"):
        assert (run / name).exists(), name
    data = json.loads((run / "diagnostics.json").read_text())
    assert len(data["history"]) == 2 and data["steps"]
    # rebuilding the report from the folder works and rewrites it
    os.remove(run / "report.html")
    assert main(["report", str(run)]) == 0
    assert (run / "report.html").exists()
    # resume continues from the checkpoint to more epochs
    assert main(["train", "--model", "mlp", "--epochs", "3", "--runs-dir", str(tmp_path),
                 "--resume", str(run), "--quiet", "--no-report"]) == 0
    assert len(json.loads((run / "diagnostics.json").read_text())["history"]) == 3


def test_explain_prints_the_chain_rule(capsys):
    assert main(["explain"]) == 0
    out = capsys.readouterr().out
    assert "a.grad" in out and "b.grad" in out and "backward" in out
