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
    (["train", "--lr", "inf"], "expected a positive finite number"),
    (["train", "--model", "transformer"], "invalid choice"),
    (["train", "--data", "mnist"], "needs --data-dir"),
    (["train", "--resume", "/no/such/run"], "no such file or folder"),
    (["report", "/no/such/run"], "not a run folder"),
    (["demo", "nothing"], "invalid choice"),
    (["train", "--width", "100000000"], "up to 4096"),
    (["train", "--depth", "100000"], "up to 1000"),
    (["train", "--name", "../../x"], "inside --runs-dir"),
    (["train", "--name", "/tmp/abs"], "inside --runs-dir"),
    (["train", "--name", ""], "inside --runs-dir"),
    (["train", "--name", "."], "inside --runs-dir"),
    (["train", "--name", ".."], "inside --runs-dir"),
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
    # resume continues from the checkpoint to more epochs, with the run's own settings
    # (no --model here: the run's mlp comes from its config.json); a planned schedule
    # cannot stretch, so more epochs need --schedule none
    assert main(["train", "--epochs", "3", "--runs-dir", str(tmp_path), "--resume", str(run),
                 "--quiet", "--no-report"]) == 2
    assert "planned for 2 epochs" in capsys.readouterr().err
    assert main(["train", "--epochs", "3", "--schedule", "none", "--runs-dir", str(tmp_path),
                 "--resume", str(run), "--quiet", "--no-report"]) == 0
    assert len(json.loads((run / "diagnostics.json").read_text())["history"]) == 3
    assert json.loads((run / "config.json").read_text())["model"] == "mlp"


def test_resume_errors_are_one_line_and_leave_the_run_alone(tmp_path, capsys):
    assert main(["train", "--model", "mlp", "--epochs", "1", "--runs-dir", str(tmp_path),
                 "--name", "r", "--quiet", "--no-report"]) == 0
    config = (tmp_path / "r" / "config.json").read_text()
    bogus = tmp_path / "bogus.safetensors"
    bogus.write_bytes(b"not a checkpoint")
    assert main(["train", "--resume", str(bogus), "--runs-dir", str(tmp_path), "--quiet"]) == 2
    assert "cannot read the checkpoint" in capsys.readouterr().err
    # a checkpoint of another architecture, used outside its run folder
    ckpt = tmp_path / "r" / "checkpoints" / "last.safetensors"
    assert main(["train", "--model", "cnn", "--resume", str(tmp_path / "copy.safetensors"),
                 "--runs-dir", str(tmp_path), "--quiet"]) == 2
    capsys.readouterr()
    import shutil
    shutil.copy(ckpt, tmp_path / "copy.safetensors")
    assert main(["train", "--model", "cnn", "--resume", str(tmp_path / "copy.safetensors"),
                 "--runs-dir", str(tmp_path), "--name", "other", "--quiet"]) == 2
    assert "does not fit this run: model: missing weights" in capsys.readouterr().err
    assert (tmp_path / "r" / "config.json").read_text() == config
    (tmp_path / "afile").write_text("")
    assert main(["train", "--runs-dir", str(tmp_path / "afile"), "--epochs", "1", "--quiet"]) == 2


def test_explain_prints_the_chain_rule(capsys):
    assert main(["explain"]) == 0
    out = capsys.readouterr().out
    assert "a.grad" in out and "b.grad" in out and "backward" in out


def test_negative_seed_works_as_in_torch(tmp_path, capsys):
    """torch.manual_seed(-1) seeds with 2**64 - 1: so do --seed -1 and --seed 2**64-1."""
    losses = []
    for seed in ("-1", str(2 ** 64 - 1), "0"):
        assert main(["train", "--data", "moons", "--model", "mlp", "--width", "8", "--epochs",
                     "1", "--seed", seed, "--runs-dir", str(tmp_path), "--name", f"s{seed}",
                     "--quiet", "--no-report"]) == 0
        data = json.loads((tmp_path / f"s{seed}" / "diagnostics.json").read_text())
        losses.append(data["history"][0]["loss"])
    assert losses[0] == losses[1] != losses[2]
    assert json.loads((tmp_path / "s-1" / "config.json").read_text())["seed"] == -1
    capsys.readouterr()
    # and the run resumes with its own (negative) seed
    assert main(["train", "--resume", str(tmp_path / "s-1"), "--epochs", "2", "--schedule",
                 "none", "--quiet", "--no-report"]) == 0


@pytest.mark.parametrize("error", [MemoryError("Unable to allocate 35.5 PiB"), RecursionError])
def test_running_out_of_memory_or_stack_is_one_line(error, tmp_path, capsys, monkeypatch):
    import chainrule.models

    def too_big(*args, **kwargs):
        raise error
    monkeypatch.setattr(chainrule.models, "build", too_big)
    assert main(["train", "--data", "moons", "--runs-dir", str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "smaller model" in err, err
