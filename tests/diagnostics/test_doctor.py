"""``chainrule doctor``: an unmodified script (PyTorch's or chainrule's) that does not learn,
run watched; the cause is printed in words and the report shows the step it began."""
import json
import subprocess
import sys
import textwrap

import pytest

PYTORCH_SCRIPT = """
import torch
import torch.nn as nn

torch.manual_seed(0)
x = torch.randn(256, 10)
y = (x[:, 0] > 0).long()
model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 2))
opt = torch.optim.SGD(model.parameters(), lr=0.05)
loss_fn = nn.CrossEntropyLoss()
for step in range(40):
    loss = loss_fn(model(x), y)      # the bug: no opt.zero_grad()
    loss.backward()
    opt.step()
print("done", loss.item())
"""

CHAINRULE_SCRIPT = """
import chainrule as cr
from chainrule import nn

cr.manual_seed(0)
x = cr.randn(128, 8)
y = x[:, :1] * 2 - x[:, 1:2]
model = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 1))
opt = cr.optim.Adam(model[2].parameters(), lr=1e-2)   # the bug: only the last layer
for step in range(30):
    opt.zero_grad()
    nn.functional.mse_loss(model(x), y).backward()
    opt.step()
"""


def _doctor(tmp_path, source: str, *flags: str):
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(source))
    out = tmp_path / "runs"
    proc = subprocess.run([sys.executable, "-m", "chainrule", "doctor", *flags, "--out", str(out),
                           str(script)], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    return proc, out / "doctor-train"


def test_doctor_names_a_missing_zero_grad_in_an_unmodified_pytorch_script(tmp_path):
    proc, run_dir = _doctor(tmp_path, PYTORCH_SCRIPT, "--torch")
    assert proc.returncode == 0, proc.stderr
    assert "done" in proc.stdout                    # the script itself ran to its end
    assert "accumulating_gradients" in proc.stdout and "zero_grad" in proc.stdout
    data = json.loads((run_dir / "diagnostics.json").read_text())
    first = data["findings"][0]
    assert first["kind"] == "accumulating_gradients"
    html = (run_dir / "report.html").read_text()
    assert f"began at step {first['evidence']['first_step']}" in html


def test_doctor_names_a_layer_left_out_of_the_optimizer_in_a_chainrule_script(tmp_path):
    proc, run_dir = _doctor(tmp_path, CHAINRULE_SCRIPT)
    assert proc.returncode == 0, proc.stderr
    assert "not_updated" in proc.stdout and "'0'" in proc.stdout
    data = json.loads((run_dir / "diagnostics.json").read_text())
    assert data["findings"][0]["layers"] == ["0"]


def test_doctor_reports_even_when_the_script_fails(tmp_path):
    proc, run_dir = _doctor(tmp_path, CHAINRULE_SCRIPT + "\nraise RuntimeError('late failure')\n")
    assert proc.returncode == 1
    assert "late failure" in proc.stderr and "not_updated" in proc.stdout
    assert (run_dir / "report.html").exists()


def test_doctor_refuses_a_missing_script(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "chainrule", "doctor", "nope.py"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2 and "no such script" in proc.stderr
