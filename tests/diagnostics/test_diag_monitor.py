"""The monitor's numbers: each checked against a direct computation."""
import json
import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.diagnostics._walk import forward_order
from chainrule.diagnostics.monitor import kind_of

from diag_nets import data, he_init, mlp


def norm(t):
    return float(np.sqrt((t.detach().numpy().astype(np.float64) ** 2).sum()))


def test_gradient_and_weight_norms_match_direct_computation():
    model = mlp([4, 8, 3])
    x, y = data(d=4)
    outputs = {}
    def keep(module, args, out):
        out.retain_grad()
        outputs["h"] = out

    model[0].register_forward_hook(keep)
    monitor = cr.diagnostics.watch(model)
    (model(x) ** 2).mean().backward()
    layers = monitor.report().steps[0]["layers"]
    for name in ("0", "2"):
        lin = model.get_submodule(name)
        expect = math.sqrt(norm(lin.weight.grad) ** 2 + norm(lin.bias.grad) ** 2)
        assert layers[name]["grad_norm"] == pytest.approx(expect, rel=1e-5)
        expect_w = math.sqrt(norm(lin.weight) ** 2 + norm(lin.bias) ** 2)
        assert layers[name]["weight_norm"] == pytest.approx(expect_w, rel=1e-5)
    assert layers["0"]["output_grad_norm"] == pytest.approx(norm(outputs["h"].grad), rel=1e-5)
    h = outputs["h"].detach().numpy()
    assert layers["0"]["act_mean"] == pytest.approx(float(h.mean()), rel=1e-5)
    assert layers["0"]["act_std"] == pytest.approx(float(h.std()), rel=1e-4)
    assert "grad_norm" not in layers["1"]  # ReLU owns no parameters
    assert "non_finite" not in layers["0"]


def test_update_ratio_matches_sgd_step():
    model = mlp([4, 8, 1])
    x, y = data()
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    monitor = cr.diagnostics.watch(model, opt)
    nn.MSELoss()(model(x), y).backward()
    lin = model[0]
    # over the layer's matrices only: a bias (or a norm's gain) is small by design
    w_before, g = norm(lin.weight), norm(lin.weight.grad)
    opt.step()
    ratio = monitor.report().steps[0]["layers"]["0"]["update_ratio"]
    assert ratio == pytest.approx(0.1 * g / w_before, rel=1e-4)
    monitor.remove()
    assert not opt._step_pre_hooks and not opt._step_post_hooks  # the hooks are gone


def test_dead_fraction_counts_units_zero_for_the_whole_batch():
    model = nn.Sequential(nn.ReLU())
    monitor = cr.diagnostics.watch(model)
    # unit 0 always <= 0 (dead), unit 1 positive once (alive), unit 2 always > 0, unit 3 dead
    model(cr.tensor([[-1.0, -2.0, 1.0, 0.0], [-3.0, 5.0, 2.0, -1.0]]))
    assert monitor.report().steps[0]["layers"]["0"]["dead_fraction"] == 0.5


def test_saturated_fractions():
    model = nn.Sequential(nn.Tanh(), nn.Sigmoid())
    monitor = cr.diagnostics.watch(model)
    model(cr.tensor([[0.0, 10.0, -10.0, 0.5]]))
    layers = monitor.report().steps[0]["layers"]
    assert layers["0"]["saturated_fraction"] == 0.5      # tanh(±10)
    # sigmoid of tanh outputs (0, 1, -1, 0.46): none below 0.01 or above 0.99
    assert layers["1"]["saturated_fraction"] == 0.0
    monitor2 = cr.diagnostics.watch(nn.Sequential(nn.Sigmoid()))
    monitor2.model(cr.tensor([-9.0, 9.0, 0.0, 4.0]))
    assert monitor2.report().steps[0]["layers"]["0"]["saturated_fraction"] == 0.5


def test_module_kind_by_class():
    class MyReLU(nn.ReLU):
        pass

    class Tanh(nn.Module):  # a home-made module of that name counts too
        def forward(self, x):
            return x.tanh()

    assert kind_of(MyReLU()) == "relu" and kind_of(Tanh()) == "tanh"
    assert kind_of(nn.Sigmoid()) == "sigmoid" and kind_of(nn.Linear(2, 2)) is None
    assert kind_of(nn.LeakyReLU()) is None  # leaky units do not die


def test_every_records_one_step_in_k():
    model = mlp([4, 8, 1])
    x, y = data()
    monitor = cr.diagnostics.watch(model, every=2)
    for _ in range(5):
        model(x).sum().backward()
    report = monitor.report()
    assert [s["step"] for s in report.steps] == [0, 2, 4]
    assert all("grad_norm" in s["layers"]["0"] for s in report.steps)


def test_remove_detaches_every_hook():
    model = mlp([4, 8, 1])
    x, y = data()
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    with cr.diagnostics.watch(model, opt) as monitor:
        model(x).sum().backward()
        opt.step()
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    assert all(not p._hooks for p in model.parameters())
    assert "step" not in vars(opt)
    model(x).sum().backward()
    assert len(monitor.report().steps) == 1


def test_monitor_records_no_ops():
    # cheap to leave on: the graph is the same with and without the monitor
    model = mlp([4, 8, 8, 1])
    x, y = data()
    plain = len(forward_order(model(x).sum().grad_fn))
    with cr.diagnostics.watch(model):
        watched = len(forward_order(model(x).sum().grad_fn))
    assert watched == plain


def test_report_is_plain_data():
    model = he_init(mlp([4, 8, 1]))
    x, y = data()
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    monitor = cr.diagnostics.watch(model, opt)
    for _ in range(3):
        opt.zero_grad()
        nn.MSELoss()(model(x), y).backward()
        opt.step()
    report = monitor.report()
    json.dumps(report.to_dict())  # plain dicts, lists and floats
    grads = report.series("grad_norm")
    assert set(grads) == {"0", "2"} and grads["0"].shape == (3,)
    assert np.all(np.isfinite(grads["0"]))
    assert report.series("dead_fraction", "1").shape == (3,)
    assert report.order[:3] == ["0", "1", "2"] and report.layers[0] == ""
    assert report.types["1"] == "ReLU"


def test_custom_module_and_shared_parameter():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = nn.Linear(4, 4)
            self.act = nn.ReLU()

        def forward(self, x):
            return self.enc(self.act(self.enc(x)))  # the same layer twice

    model = Tied()
    monitor = cr.diagnostics.watch(model)
    model(cr.randn(5, 4)).sum().backward()
    layer = monitor.report().steps[0]["layers"]["enc"]
    expect = math.sqrt(norm(model.enc.weight.grad) ** 2 + norm(model.enc.bias.grad) ** 2)
    assert layer["grad_norm"] == pytest.approx(expect, rel=1e-5)  # both uses, summed once


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_keep_bounds_memory_but_not_the_first_non_finite():
    model = mlp([4, 8, 1])
    monitor = cr.diagnostics.watch(model, keep=2)
    bad = cr.tensor([[float("nan"), 0.0, 0.0, 0.0]])
    model(bad).sum().backward()                     # step 0: nan
    for _ in range(3):
        model(cr.randn(2, 4)).sum().backward()      # steps 1-3: clean
    report = monitor.report()
    assert [s["step"] for s in report.steps] == [2, 3]
    (f,) = [f for f in report.findings if f.kind == "non_finite"]
    assert f.evidence["first_step"] == 0 and f.evidence["first_layer"] == "0"
    assert report.non_finite[0] == {"step": 0, "layer": "0", "where": "activation"}


def test_tuple_outputs_use_their_first_tensor():
    model = nn.Sequential(nn.RNN(3, 5, batch_first=True))
    monitor = cr.diagnostics.watch(model)
    model(cr.randn(2, 4, 3))[0].sum().backward()
    layer = monitor.report().steps[-1]["layers"]["0"]
    assert layer["output_size"] == 2 * 4 * 5 and layer["output_grad_norm"] > 0
    assert layer["grad_norm"] > 0


def test_coexists_with_full_backward_hooks():
    model = mlp([3, 4, 1])
    seen = []
    model[0].register_full_backward_hook(lambda m, gin, gout: seen.append(tuple(gout[0].shape)))
    monitor = cr.diagnostics.watch(model)
    model(cr.randn(5, 3)).sum().backward()
    assert seen == [(5, 4)]
    assert monitor.report().steps[0]["layers"]["0"]["output_grad_norm"] > 0


def test_report_plot_writes_png(tmp_path):
    model = mlp([4, 8, 8, 1], act=nn.Tanh)
    x, y = data()
    monitor = cr.diagnostics.watch(model)
    for _ in range(3):
        nn.MSELoss()(model(x), y).backward()
    fig = monitor.report().plot(tmp_path / "health.png")
    assert (tmp_path / "health.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    depth = fig.axes[0]
    assert len(depth.lines[0].get_xdata()) == 3  # three Linear layers, input to output
    assert len(fig.axes[2].lines) == 2            # saturation of the two Tanh layers
