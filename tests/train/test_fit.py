"""The training loop: history, callbacks, evaluation, early stopping, CSV."""
import csv
import io

import pytest

import chainrule as cr
from chainrule.train import (CSVLogger, Callback, EarlyStopping, LambdaCallback, ModelCheckpoint,
                             evaluate, fit)
from chainrule.utils.data import DataLoader, TensorDataset


def _data(n=128, seed=0):
    cr.manual_seed(seed)
    x = cr.randn(n, 4)
    y = (x[:, 0] - x[:, 2] > 0).long()
    return TensorDataset(x, y)


def _model():
    return cr.nn.Sequential(cr.nn.Linear(4, 16), cr.nn.ReLU(), cr.nn.Linear(16, 2))


def test_fit_learns_and_records_history():
    ds = _data()
    model = _model()
    opt = cr.optim.SGD(model.parameters(), lr=0.3)
    h = fit(model, cr.nn.CrossEntropyLoss(), opt, DataLoader(ds, batch_size=32, shuffle=True),
            val_data=DataLoader(ds, batch_size=64), epochs=8, progress=False)
    assert len(h) == 8
    assert h["epoch"] == list(range(1, 9))
    assert h["loss"][-1] < h["loss"][0] * 0.5
    assert h.last["val_accuracy"] > 0.9
    assert set(h.keys()) >= {"loss", "accuracy", "val_loss", "val_accuracy", "lr", "time"}


def test_evaluate_matches_a_manual_loop_and_restores_mode():
    ds = _data()
    model = _model()
    model.train()
    result = evaluate(model, cr.nn.CrossEntropyLoss(), DataLoader(ds, batch_size=50))
    x, y = ds.tensors
    with cr.no_grad():
        out = model(x)
        expected = float(cr.nn.functional.cross_entropy(out, y))
    assert result["loss"] == pytest.approx(expected, rel=1e-5)
    assert result["accuracy"] == pytest.approx(float((out.argmax(1) == y).float().mean()))
    assert model.training


def test_one_line_per_epoch_when_not_a_terminal():
    stream = io.StringIO()
    model = _model()
    fit(model, cr.nn.CrossEntropyLoss(), cr.optim.SGD(model.parameters(), lr=0.1),
        DataLoader(_data(), batch_size=32), epochs=3, log_stream=stream)
    lines = stream.getvalue().strip().splitlines()
    assert len(lines) == 3 and lines[0].startswith("epoch=1 ")


def test_callbacks_order_and_early_stopping():
    events = []
    model = _model()
    opt = cr.optim.SGD(model.parameters(), lr=0.0)  # nothing improves: early stopping fires
    cb = LambdaCallback(on_train_begin=lambda s: events.append("begin"),
                        on_epoch_end=lambda s: events.append(f"end{s.epoch}"),
                        on_train_end=lambda s: events.append("done"))
    stopper = EarlyStopping(monitor="loss", patience=2)
    h = fit(model, cr.nn.CrossEntropyLoss(), opt, DataLoader(_data(), batch_size=64),
            epochs=20, callbacks=[cb, stopper], progress=False)
    assert len(h) == 3  # epoch 1 sets the best, 2 and 3 do not improve
    assert events == ["begin", "end1", "end2", "end3", "done"]
    with pytest.raises(KeyError, match="not_a_metric"):
        fit(model, cr.nn.CrossEntropyLoss(), opt, DataLoader(_data(), batch_size=64), epochs=1,
            callbacks=[EarlyStopping(monitor="not_a_metric")], progress=False)


def test_checkpoint_and_csv_logger(tmp_path):
    model = _model()
    opt = cr.optim.Adam(model.parameters(), lr=1e-2)
    ckpt = ModelCheckpoint(str(tmp_path / "ck"), monitor="loss", mode="min")
    fit(model, cr.nn.CrossEntropyLoss(), opt, DataLoader(_data(), batch_size=32), epochs=3,
        callbacks=[ckpt, CSVLogger(str(tmp_path / "m.csv"))], progress=False)
    last = cr.load(ckpt.last_path)
    assert last["epoch"] == 3 and last["step"] == 12
    for k, v in model.state_dict().items():
        assert cr.equal(last["model"][k], v)
    assert (tmp_path / "ck" / "best.safetensors").exists()
    rows = list(csv.DictReader(open(tmp_path / "m.csv")))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert float(rows[2]["loss"]) < float(rows[0]["loss"])


def test_bad_batches_get_a_clear_error():
    model = _model()
    with pytest.raises(ValueError, match="each batch must be"):
        fit(model, cr.nn.CrossEntropyLoss(), cr.optim.SGD(model.parameters(), lr=0.1),
            [cr.randn(4, 4)], epochs=1, progress=False)


def test_callback_base_has_every_hook():
    for hook in ("on_train_begin", "on_epoch_begin", "on_batch_end", "on_epoch_end", "on_train_end"):
        assert callable(getattr(Callback(), hook))


def test_tensorboard_logger_writes_events(tmp_path):
    pytest.importorskip("tensorboardX")
    from chainrule.train import TensorBoardLogger
    model = _model()
    fit(model, cr.nn.CrossEntropyLoss(), cr.optim.SGD(model.parameters(), lr=0.1),
        DataLoader(_data(), batch_size=64), epochs=2,
        callbacks=[TensorBoardLogger(str(tmp_path / "tb"))], progress=False)
    events = list((tmp_path / "tb").glob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 0


def test_resumed_checkpoint_keeps_its_best(tmp_path):
    model = _model()
    opt = cr.optim.SGD(model.parameters(), lr=0.3)
    loader = DataLoader(_data(), batch_size=32)
    ckpt = ModelCheckpoint(str(tmp_path), monitor="loss", mode="min")
    fit(model, cr.nn.CrossEntropyLoss(), opt, loader, epochs=3, callbacks=[ckpt], progress=False)
    best_before = cr.load(ckpt.best_path)["epoch"]
    # resume with a learning rate that ruins the model: the best file must stay the old one
    opt.param_groups[0]["lr"] = 50.0
    resumed = ModelCheckpoint(str(tmp_path), monitor="loss", mode="min")
    state = cr.load(ckpt.last_path)
    state["optimizer"]["param_groups"][0]["lr"] = 50.0
    fit(model, cr.nn.CrossEntropyLoss(), opt, loader, epochs=4, callbacks=[resumed],
        progress=False, resume_from=state)
    assert resumed.best <= ckpt.best
    assert cr.load(ckpt.best_path)["epoch"] == best_before
