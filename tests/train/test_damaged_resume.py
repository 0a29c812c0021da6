"""Resuming from a damaged but well-formed run: one clear line on stderr, exit status 2,
nothing written, for every kind of damage (table below); a few through a real process."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import chainrule as cr
from chainrule.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAST = os.path.join("checkpoints", "last.safetensors")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A real one-epoch run of the command line (moons, a small MLP)."""
    runs = tmp_path_factory.mktemp("runs")
    assert main(["train", "--data", "moons", "--model", "mlp", "--width", "16", "--epochs", "1",
                 "--runs-dir", str(runs), "--name", "r", "--quiet", "--no-report"]) == 0
    return runs / "r"


def _ckpt(edit):
    """A damage made by editing the loaded checkpoint dict, then saved properly."""
    def damage(folder):
        ckpt = cr.load(folder / LAST)
        edit(ckpt)
        cr.save(ckpt, folder / LAST)
    return damage


def _config(edit):
    def damage(folder):
        path = folder / "config.json"
        text = path.read_text()
        path.write_text(edit(text) if callable(edit) else edit)
    return damage


def _set_config(key, value):
    def edit(text):
        config = json.loads(text)
        config[key] = value
        return json.dumps(config)
    return edit


def _raw(edit):
    def damage(folder):
        path = folder / LAST
        path.write_bytes(edit(path.read_bytes()))
    return damage


def _flip_last_byte(blob):
    return blob[:-1] + bytes([blob[-1] ^ 0x20])


def _opt(ckpt):
    return ckpt["optimizer"]


def _group(ckpt):
    return ckpt["optimizer"]["param_groups"][0]


def _state0(ckpt):
    return ckpt["optimizer"]["state"][0]


def _nan_weight(ckpt):
    w = ckpt["model"]["1.weight"].detach().numpy().copy()
    w[0, 0] = np.nan
    ckpt["model"]["1.weight"] = cr.tensor(w)


DAMAGES = {
    # the checkpoint's top level
    "missing model": (_ckpt(lambda c: c.pop("model")), "no model state"),
    "missing optimizer": (_ckpt(lambda c: c.pop("optimizer")), "missing optimizer"),
    "missing epoch": (_ckpt(lambda c: c.pop("epoch")), "missing epoch"),
    "missing step": (_ckpt(lambda c: c.pop("step")), "missing step"),
    "missing rng": (_ckpt(lambda c: c.pop("rng")), "missing rng"),
    "extra key": (_ckpt(lambda c: c.update(evil=1)), "unexpected entries 'evil'"),
    "only a model": (_ckpt(lambda c: [c.pop(k) for k in list(c) if k != "model"]),
                     "missing optimizer, epoch, step, step_in_epoch, rng"),
    # the model
    "missing weight": (_ckpt(lambda c: c["model"].pop("1.weight")), "missing weights '1.weight'"),
    "extra weight": (_ckpt(lambda c: c["model"].update({"9.weight": cr.ones(2)})),
                     "unexpected weights '9.weight'"),
    "weight shape": (_ckpt(lambda c: c["model"].update({"1.weight": cr.ones(16, 3)})),
                     "'1.weight' has shape [16, 3], expected [16, 2]"),
    "bias shape": (_ckpt(lambda c: c["model"].update({"1.bias": cr.ones(17)})),
                   "'1.bias' has shape [17], expected [16]"),
    "weight dtype": (_ckpt(lambda c: c["model"].update(
        {"1.weight": c["model"]["1.weight"].double()})), "has dtype chainrule.float64"),
    "weight not a tensor": (_ckpt(lambda c: c["model"].update({"1.bias": [0.0] * 16})),
                            "'1.bias' should be a tensor"),
    "NaN weight": (_ckpt(_nan_weight), "'1.weight' holds NaN"),
    "model a list": (_ckpt(lambda c: c.update(model=[1, 2])), "'model' should be a state dict"),
    # the optimizer's state
    "exp_avg shape": (_ckpt(lambda c: _state0(c).update(exp_avg=cr.zeros(3))),
                      "'exp_avg' has shape [3], expected [16, 2]"),
    "exp_avg_sq missing": (_ckpt(lambda c: _state0(c).pop("exp_avg_sq")), "has entries"),
    "exp_avg int dtype": (_ckpt(lambda c: _state0(c).update(exp_avg=cr.zeros(16, 2).long())),
                          "floating-point"),
    "exp_avg_sq NaN": (_ckpt(lambda c: _state0(c).update(exp_avg_sq=cr.full((16, 2), np.nan))),
                       "'exp_avg_sq' holds NaN"),
    "state of unknown parameter": (_ckpt(lambda c: _opt(c)["state"].update({99: {}})),
                                   "state for parameter 99"),
    "negative optimizer step": (_ckpt(lambda c: _state0(c).update(step=cr.tensor(-3.0))),
                                "'step' should be a whole number >= 0"),
    "fractional optimizer step": (_ckpt(lambda c: _state0(c).update(step=2.5)),
                                  "'step' should be a whole number"),
    "state not a dict": (_ckpt(lambda c: _opt(c).update(state=[1])), "'state' should be a dict"),
    "optimizer extra key": (_ckpt(lambda c: _opt(c).update(x=1)), "expected a dict with 'state'"),
    # the optimizer's hyperparameters
    "beta above 1": (_ckpt(lambda c: _group(c).update(betas=[0.9, 1.5])),
                     "betas should lie in [0, 1)"),
    "negative beta": (_ckpt(lambda c: _group(c).update(betas=[-0.1, 0.999])), "betas"),
    "betas wrong length": (_ckpt(lambda c: _group(c).update(betas=[0.9])),
                           "betas should be 2 finite numbers"),
    "negative lr": (_ckpt(lambda c: _group(c).update(lr=-0.01)),
                    "lr should be a finite number >= 0"),
    "lr a string": (_ckpt(lambda c: _group(c).update(lr="0.1")), "lr should be a finite"),
    "NaN eps": (_ckpt(lambda c: _group(c).update(eps=float("nan"))), "eps should be"),
    "amsgrad a string": (_ckpt(lambda c: _group(c).update(amsgrad="yes")),
                         "amsgrad should be true, false or null"),
    "missing eps": (_ckpt(lambda c: _group(c).pop("eps")), "missing hyperparameters 'eps'"),
    "SGD's momentum": (_ckpt(lambda c: _group(c).update(momentum=0.9)),
                       "unexpected hyperparameters 'momentum'"),
    "no parameter groups": (_ckpt(lambda c: _opt(c).update(param_groups=[])),
                            "expected 1 parameter groups, found 0"),
    "params too short": (_ckpt(lambda c: _group(c).update(params=[0, 1])),
                         "'params' should list 8"),
    "duplicate params": (_ckpt(lambda c: _group(c).update(params=[0] * 8)), "appears twice"),
    # counters, random state, history, metrics, scheduler
    "negative epoch": (_ckpt(lambda c: c.update(epoch=-1)), "'epoch' should be a whole number"),
    "negative step": (_ckpt(lambda c: c.update(step=-5)), "'step' should be a whole number"),
    "float epoch": (_ckpt(lambda c: c.update(epoch=1.5)), "'epoch' should be a whole number"),
    "bool step": (_ckpt(lambda c: c.update(step=True)), "'step' should be a whole number"),
    "step_in_epoch past step": (_ckpt(lambda c: c.update(step_in_epoch=c["step"] + 1)),
                                "exceeds 'step'"),
    "step_in_epoch past the epoch": (_ckpt(lambda c: c.update(step=1000, step_in_epoch=999)),
                                     "steps of an epoch"),
    "history a dict": (_ckpt(lambda c: c.update(history={"loss": 1})),
                       "'history' should be a list of dicts"),
    "history a string": (_ckpt(lambda c: c.update(history="[]")), "'history' should be a list"),
    "history too long": (_ckpt(lambda c: c["history"].append(dict(c["history"][0]))),
                         "'history' has 2 epochs but 'epoch' says 1"),
    "history value a string": (_ckpt(lambda c: c["history"][0].update(loss="low")),
                               "history[0]: 'loss' should map to a number"),
    "rng garbage": (_ckpt(lambda c: c["rng"].update(default=cr.zeros(5, dtype=cr.uint8))),
                    "rng: 'default' is not a generator state"),
    "rng no default": (_ckpt(lambda c: c["rng"].pop("default")), "'rng' should be a dict"),
    "rng extra": (_ckpt(lambda c: c["rng"].update(other=c["rng"]["default"])),
                  "rng: unexpected entries 'other'"),
    "mid-epoch without epoch rng": (_ckpt(lambda c: c.update(step_in_epoch=2)),
                                    "needs 'epoch_default'"),
    "metrics a list": (_ckpt(lambda c: c.update(metrics=[1])), "'metrics' should be a dict"),
    "bad running sums": (_ckpt(lambda c: c["metrics"].update(_sums={"loss": "x"})), "_sums"),
    "scheduler missing": (_ckpt(lambda c: c.pop("scheduler")), "has no scheduler state"),
    "scheduler T_max a string": (_ckpt(lambda c: c["scheduler"].update(T_max="1")),
                                 "scheduler: 'T_max'"),
    "scheduler of another kind": (_ckpt(lambda c: c["scheduler"].update(gamma=0.1)),
                                  "scheduler: entries 'gamma'"),
    # the file itself
    "flipped data byte": (_raw(_flip_last_byte), "does not match its checksum"),
    "truncated": (_raw(lambda b: b[:len(b) // 2]), "cannot read the checkpoint"),
    # the run's config.json
    "config not JSON": (_config("{\"model\": "), "config.json is damaged"),
    "config a list": (_config("[]"), "expected a JSON object"),
    "config missing width": (_config(lambda t: json.dumps(
        {k: v for k, v in json.loads(t).items() if k != "width"})), "lacks width"),
    "config negative width": (_config(_set_config("width", -3)), "width is -3"),
    "config unknown model": (_config(_set_config("model", "transformer")),
                             "model is 'transformer'"),
    "config width a string": (_config(_set_config("width", "16")), "width is '16'"),
    "config lr zero": (_config(_set_config("lr", 0)), "lr is 0"),
    "config missing": (lambda folder: os.remove(folder / "config.json"),
                       "cannot read the run's config.json"),
}
# options that contradict the run's config.json
CONTRADICTIONS = {
    "--model cnn --width 7": "--model cnn contradicts the run's model ('mlp')",
    "--width 7": "--width 7 contradicts the run's width (16)",
    "--optimizer sgd": "--optimizer sgd contradicts the run's optimizer ('adamw')",
    "--lr 0.5": "--lr 0.5 contradicts the run's lr (the default)",
    "--no-residual": "--no-residual contradicts the run's no_residual (False)",
    "--seed 3": "--seed 3 contradicts the run's seed (0)",
    "--data spirals": "--data spirals contradicts the run's data ('moons')",
}


def _copy(run, tmp_path):
    folder = tmp_path / "r"
    shutil.copytree(run, folder)
    return folder


def _resume(folder, capsys, *extra):
    code = main(["train", "--resume", str(folder), "--runs-dir", str(folder.parent), "--quiet",
                 "--no-report", *extra])
    return code, capsys.readouterr().err


def _untouched(folder, run):
    """Nothing was written: the run's files are as they were before the resume."""
    for name in ("metrics.csv", "diagnostics.json", LAST):
        assert (folder / name).read_bytes() == (run / name).read_bytes(), name


def test_the_undamaged_run_resumes(run, tmp_path, capsys):
    folder = _copy(run, tmp_path)
    code, err = _resume(folder, capsys, "--epochs", "2", "--schedule", "none")
    assert code == 0, err
    assert len(json.loads((folder / "diagnostics.json").read_text())["history"]) == 2


@pytest.mark.parametrize("name", list(DAMAGES))
def test_damaged_run_gives_one_line_and_exit_2(name, run, tmp_path, capsys):
    damage, needle = DAMAGES[name]
    folder = _copy(run, tmp_path)
    damage(folder)
    code, err = _resume(folder, capsys)
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert needle in err, err
    if (folder / LAST).exists() and name not in ("flipped data byte", "truncated") \
            and not name.startswith("config"):
        # the damage is one the file format cannot see: only the validation catches it
        assert isinstance(cr.load(folder / LAST), dict)
    for kept in ("metrics.csv", "diagnostics.json"):
        assert (folder / kept).read_bytes() == (run / kept).read_bytes(), kept


@pytest.mark.parametrize("options", list(CONTRADICTIONS))
def test_options_contradicting_the_run_are_refused(options, run, tmp_path, capsys):
    folder = _copy(run, tmp_path)
    code, err = _resume(folder, capsys, *options.split())
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert CONTRADICTIONS[options] in err
    _untouched(folder, run)


@pytest.mark.parametrize("name", ["weight shape", "beta above 1", "flipped data byte",
                                  "config not JSON"])
def test_damage_through_the_real_command(name, run, tmp_path):
    damage, needle = DAMAGES[name]
    folder = _copy(run, tmp_path)
    damage(folder)
    r = subprocess.run([sys.executable, "-m", "chainrule", "train", "--resume", str(folder),
                        "--quiet", "--no-report"], capture_output=True, text=True, cwd=tmp_path,
                       env=dict(os.environ, PYTHONPATH=ROOT), timeout=300)
    assert r.returncode == 2, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and needle in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    for kept in ("metrics.csv", "diagnostics.json"):
        assert (folder / kept).read_bytes() == (run / kept).read_bytes(), kept
