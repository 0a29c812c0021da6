"""fit(compile=True) and ``chainrule train --compile`` train exactly as their eager runs."""
import csv
import os
import warnings

import numpy as np

import chainrule as cr
from chainrule.cli import main
from chainrule.serialization import load
from chainrule.train.loop import fit
from chainrule.utils.data import DataLoader, TensorDataset


def _fit(compiled: bool, dropout: bool):
    cr.manual_seed(0)
    x = cr.randn(100, 6)
    y = (x[:, 0] + x[:, 1] > 0).long()
    layers = [cr.nn.Linear(6, 16), cr.nn.BatchNorm1d(16), cr.nn.ReLU()]
    layers += [cr.nn.Dropout(0.2)] if dropout else []
    model = cr.nn.Sequential(*layers, cr.nn.Linear(16, 2))
    opt = cr.optim.Adam(model.parameters(), lr=0.01)
    loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True,
                        generator=cr.Generator().manual_seed(1))  # (last batch: 4 rows)
    history = fit(model, cr.nn.CrossEntropyLoss(), opt, loader, val_data=loader, epochs=3,
                  progress=False, compile=compiled)
    return history, model


def test_fit_with_compile_gives_the_eager_history_and_weights():
    for dropout in (False, True):
        eager_history, eager_model = _fit(False, dropout)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no CompileWarning: every signature replays
            history, model = _fit(True, dropout)
        assert [h["loss"] for h in history] == [h["loss"] for h in eager_history]
        assert [h["val_accuracy"] for h in history] == [h["val_accuracy"] for h in eager_history]
        for (name, a), b in zip(model.state_dict().items(), eager_model.state_dict().values()):
            np.testing.assert_array_equal(a._data, b._data, err_msg=name)


def test_train_compile_gives_the_eager_run(tmp_path, capsys):
    args = ["train", "--model", "mlp", "--epochs", "2", "--runs-dir", str(tmp_path), "--quiet",
            "--no-report"]
    assert main(args + ["--name", "eager"]) == 0
    assert main(args + ["--name", "compiled", "--compile"]) == 0
    out = capsys.readouterr()
    assert "CompileWarning" not in out.err
    eager = load(os.path.join(tmp_path, "eager", "checkpoints", "last.safetensors"))["model"]
    compiled = load(os.path.join(tmp_path, "compiled", "checkpoints", "last.safetensors"))["model"]
    assert eager.keys() == compiled.keys()
    for name in eager:
        np.testing.assert_array_equal(eager[name]._data, compiled[name]._data, err_msg=name)
    assert _losses(tmp_path / "compiled") == _losses(tmp_path / "eager")


def _losses(run) -> list:
    with open(os.path.join(run, "metrics.csv")) as f:
        rows = list(csv.DictReader(f))
    assert rows
    return [(r["loss"], r["val_loss"], r["val_accuracy"]) for r in rows]
