"""Each finding kind appears on a network built to show it, and on no healthy one."""
import json

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.diagnostics import KINDS

from diag_nets import data, he_init, mlp, train


def kinds(report):
    return {f.kind for f in report.findings}


def finding(report, kind):
    (f,) = [f for f in report.findings if f.kind == kind][:1] or [None]
    assert f is not None, f"no {kind} finding in:\n{report.summary()}"
    assert f.suggestion and f.layers
    json.dumps(report.to_dict())  # evidence is plain data
    return f


def test_healthy_relu_mlp_has_no_findings():
    model = he_init(mlp([4, 32, 32, 1]))
    x, y = data()
    report = train(model, x, y, steps=20)
    assert report.findings == [], report.summary()
    assert report.summary().startswith("No findings")
    assert len(report.steps) == 20


def test_healthy_tanh_mlp_has_no_findings():
    model = mlp([4, 32, 32, 1], act=nn.Tanh)
    for m in model.modules():
        if isinstance(m, nn.Linear):
            nn.init.xavier_normal_(m.weight)
    x, y = data()
    report = train(model, x, y, steps=10)
    assert report.findings == [], report.summary()


def test_vanishing_in_deep_sigmoid_mlp():
    model = mlp([4] + [16] * 24 + [1], act=nn.Sigmoid)  # default init, 25 Linear layers
    x, y = data()
    report = train(model, x, y, steps=3)
    f = finding(report, "vanishing")
    assert "0" in f.layers  # the first Linear, next to the input
    assert f.layers[0] == "0"
    ratios = f.evidence["ratio_to_reference"]
    assert ratios["0"] < 1e-6
    assert f.evidence["reference_layer"] == "48"
    assert "ReLU" in f.suggestion
    assert "exploding" not in kinds(report) and "saturation" not in kinds(report)


def test_exploding_in_deep_linear_net_with_large_init():
    model = nn.Sequential(*[nn.Linear(16, 16) for _ in range(10)])
    for m in model:
        nn.init.normal_(m.weight, std=1.0)
    x = cr.randn(32, 16)
    y = cr.zeros(32, 16)
    report = train(model, x, y, steps=2, lr=1e-12)
    f = finding(report, "exploding")
    assert "clip" in f.suggestion
    # one finding per kind: growth across depth (output gradients) and size (grad/weight) merged
    assert [g.kind for g in report.findings].count("exploding") == 1
    assert f.evidence["source"] == "output" and f.evidence["ratio_to_reference"]["0"] > 1e3
    assert min(f.evidence["grad_to_weight"].values()) > 1e2
    assert "vanishing" not in kinds(report)


def test_update_larger_than_weights_blames_the_learning_rate():
    # gradients are healthy by depth; the step size alone makes the updates explode
    model = he_init(mlp([4, 32, 1]))
    x, y = data()
    report = train(model, x, y, steps=2, lr=1e3)
    f = finding(report, "learning_rate")
    assert f.evidence["first_step"] == 0 and f.evidence["update_to_weight"] > 1, report.summary()
    assert "exploding" not in kinds(report)   # a consequence, listed in the evidence
    assert any("exploding" in c for c in f.evidence["consequences"])


def test_dead_units_with_large_negative_bias():
    model = mlp([4, 32, 32, 1])
    nn.init.constant_(model[2].bias, -10.0)
    x, y = data()
    report = train(model, x, y, steps=3)
    f = finding(report, "dead_units")
    assert f.layers == ["3"]
    assert f.evidence["dead_fraction"] == 1.0 and f.evidence["units"] == 32
    # layer '1' (healthy ReLU) is not flagged; blocked (exactly zero) gradients are not "vanishing"
    assert kinds(report) == {"dead_units"}, report.summary()


def test_saturation_with_huge_tanh_weights():
    model = mlp([4, 32, 1], act=nn.Tanh)
    nn.init.normal_(model[0].weight, std=10.0)
    x, y = data()
    report = train(model, x, y, steps=3)
    f = finding(report, "saturation")
    assert f.layers == ["1"]
    assert f.evidence["saturated_fraction"] > 0.8


def test_saturation_sigmoid():
    model = mlp([4, 32, 1], act=nn.Sigmoid)
    nn.init.normal_(model[0].weight, std=20.0)
    x, y = data()
    report = train(model, x, y, steps=2)
    assert finding(report, "saturation").layers == ["1"]


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # numpy, on the inf input
def test_non_finite_input():
    model = he_init(mlp([4, 16, 1]))
    x, y = data(n=16)
    bad = x.numpy().copy()
    bad[3, 1] = np.inf
    report = train(model, cr.tensor(bad), y, steps=1, watch_optimizer=False)
    f = finding(report, "non_finite")
    assert f.evidence["first_layer"] == "0" and f.evidence["first_step"] == 0
    assert "activation" in f.evidence["first_in"]
    assert "input data" in f.suggestion


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_non_finite_nan_in_weights_after_step():
    model = he_init(mlp([4, 16, 1]))
    x, y = data(n=16)
    monitor = cr.diagnostics.watch(model)
    model(x).sum().backward()
    with cr.no_grad():
        model[2].weight.fill_(float("nan"))
    model(x).sum().backward()
    f = finding(monitor.report(), "non_finite")
    assert f.evidence["first_step"] == 1
    assert f.evidence["first_layer"] == "2" and "weight" in f.evidence["first_in"]


class WithUnused(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 1)
        self.unused = nn.Linear(4, 1)

    def forward(self, x):
        return self.fc(x)


def test_no_gradient_for_unused_parameter():
    model = WithUnused()
    x, y = data()
    report = train(model, x, y, steps=2)
    f = finding(report, "no_gradient")
    assert f.layers == ["unused"]
    assert f.evidence["parameters"] == ["unused.weight", "unused.bias"]
    assert kinds(report) == {"no_gradient"}


def test_no_gradient_needs_a_backward():
    model = WithUnused()
    monitor = cr.diagnostics.watch(model)
    model(cr.randn(2, 4))  # forward only: nothing can be said about gradients
    assert monitor.report().findings == []


def test_thresholds_are_honoured():
    model = mlp([4, 16, 16, 1], act=nn.Sigmoid)  # shallow: gradients shrink, not vanish
    x, y = data()
    opt = cr.optim.SGD(model.parameters(), lr=0.01)
    monitor = cr.diagnostics.watch(model, opt)
    for _ in range(2):
        opt.zero_grad()
        nn.MSELoss()(model(x), y).backward()
        opt.step()
    assert "vanishing" not in kinds(monitor.report())
    strict = monitor.report(vanish_ratio=0.5)
    assert "vanishing" in kinds(strict)


def test_every_finding_kind_is_tested():
    # the symptoms are tested here; each cause by a buggy setup of the zoo (test_zoo_diagnosis)
    assert set(KINDS) == {"vanishing", "exploding", "dead_units", "saturation", "non_finite",
                          "no_gradient", "learning_rate", "loss_reduction",
                          "accumulating_gradients", "not_updated", "duplicate_parameters",
                          "weight_decay", "loss_input", "broadcast", "mode", "batch_statistics",
                          "symmetry", "padding", "label_noise"}


def test_vanishing_to_exact_zero_still_counts():
    # 60 sigmoid layers: the first layers' float32 gradients underflow to exactly 0
    model = mlp([4] + [16] * 60 + [1], act=nn.Sigmoid)
    x, y = data(n=16)
    report = train(model, x, y, steps=2)
    assert report.steps[-1]["layers"]["0"]["grad_norm"] == 0.0
    f = finding(report, "vanishing")
    assert f.layers[:3] == ["0", "2", "4"]
    assert f.evidence["ratio_to_reference"]["0"] == 0.0
    assert "exactly zero (underflowed)" in f.suggestion


def test_zero_grad_between_backward_and_step_is_named():
    # the gradients exist after backward, but zero_grad() wipes them before step()
    cr.manual_seed(0)
    x = cr.randn(128, 10)
    y = (x[:, 0] > 0).long()
    model = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 2))
    opt = cr.optim.Adam(model.parameters(), lr=1e-2)
    monitor = cr.diagnostics.watch(model, opt)
    for _ in range(30):
        nn.functional.cross_entropy(model(x), y).backward()
        opt.zero_grad()
        opt.step()
    f = finding(monitor.report(), "not_updated")
    assert f.layers == ["0", "2"] and f.evidence["gradients_cleared_before_step"]
    assert "before backward" in f.suggestion
