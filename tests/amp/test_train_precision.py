"""``chainrule train --precision``: bf16 (autocast) trains the digits CNN as well as fp32;
fp16 trains through a GradScaler; the parameters stay float32."""
import json

import pytest

import chainrule as cr
from chainrule.cli import main
from chainrule.train.loop import fit
from chainrule.train.precision import Precision
from chainrule.utils.data import DataLoader, TensorDataset


@pytest.mark.slow
def test_bf16_trains_the_digits_cnn_to_97_percent(tmp_path, capsys):
    code = main(["train", "--data", "digits", "--model", "cnn", "--precision", "bf16",
                 "--epochs", "6", "--lr", "0.01", "--runs-dir", str(tmp_path), "--name", "r",
                 "--quiet", "--no-report"])
    assert code == 0
    out = capsys.readouterr().out
    accuracy = float(out.split("test accuracy:")[1].split("%")[0])
    assert accuracy >= 97.0, out
    assert json.loads((tmp_path / "r" / "config.json").read_text())["precision"] == "bf16"


@pytest.mark.parametrize("mode", ["bf16", "fp16"])
def test_low_precision_fit_keeps_float32_parameters_and_learns(mode):
    cr.manual_seed(0)
    x = cr.randn(128, 4)
    y = (x[:, 0] + x[:, 1] > 0).long()
    model = cr.nn.Sequential(cr.nn.Linear(4, 16), cr.nn.ReLU(), cr.nn.Linear(16, 2))
    opt = cr.optim.SGD(model.parameters(), lr=0.5)
    seen = []
    model[2].register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    h = fit(model, cr.nn.CrossEntropyLoss(), opt, DataLoader(TensorDataset(x, y), batch_size=32),
            epochs=8, progress=False, precision=mode)
    assert h.last["accuracy"] > 0.9
    assert seen[0] is (cr.bfloat16 if mode == "bf16" else cr.float16)
    assert all(p.dtype is cr.float32 and p.grad.dtype is cr.float32 for p in model.parameters())


def test_fp16_steps_go_through_the_scaler():
    p = Precision("fp16")
    w = cr.tensor([1.0], requires_grad=True)
    opt = cr.optim.SGD([w], lr=0.1)
    with p.autocast():
        loss = (w * float("inf")).sum()
    p.backward_and_step(loss, opt)  # an overflow: the step is skipped, the scale backs off
    assert w.item() == 1.0 and p.scaler.get_scale() == 2.0 ** 15
    with pytest.raises(ValueError, match="precision must be one of"):
        Precision("int8")


def test_the_cli_refuses_an_unknown_precision(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--precision", "fp8"])
