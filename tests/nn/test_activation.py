"""Activation layers and functionals: values and gradients vs PyTorch (float64, float32),
and vs central finite differences (float64)."""
import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F
from torch_oracle import assert_close

# (name, chainrule layer, torch layer); inputs avoid the kinks at 0 / ±thresholds
LAYERS = [
    ("ReLU", lambda: cr.nn.ReLU(), lambda: torch.nn.ReLU()),
    ("ReLU6", lambda: cr.nn.ReLU6(), lambda: torch.nn.ReLU6()),
    ("LeakyReLU", lambda: cr.nn.LeakyReLU(0.2), lambda: torch.nn.LeakyReLU(0.2)),
    ("ELU", lambda: cr.nn.ELU(0.7), lambda: torch.nn.ELU(0.7)),
    ("SELU", lambda: cr.nn.SELU(), lambda: torch.nn.SELU()),
    ("CELU", lambda: cr.nn.CELU(1.5), lambda: torch.nn.CELU(1.5)),
    ("GELU-tanh", lambda: cr.nn.GELU("tanh"), lambda: torch.nn.GELU("tanh")),
    ("GELU", lambda: cr.nn.GELU(), lambda: torch.nn.GELU()),
    ("SiLU", lambda: cr.nn.SiLU(), lambda: torch.nn.SiLU()),
    ("Mish", lambda: cr.nn.Mish(), lambda: torch.nn.Mish()),
    ("Sigmoid", lambda: cr.nn.Sigmoid(), lambda: torch.nn.Sigmoid()),
    ("Tanh", lambda: cr.nn.Tanh(), lambda: torch.nn.Tanh()),
    ("Softplus", lambda: cr.nn.Softplus(), lambda: torch.nn.Softplus()),
    ("Softplus-beta", lambda: cr.nn.Softplus(2.0, 3.0), lambda: torch.nn.Softplus(2.0, 3.0)),
    ("Softsign", lambda: cr.nn.Softsign(), lambda: torch.nn.Softsign()),
    ("LogSigmoid", lambda: cr.nn.LogSigmoid(), lambda: torch.nn.LogSigmoid()),
    ("Tanhshrink", lambda: cr.nn.Tanhshrink(), lambda: torch.nn.Tanhshrink()),
    ("Hardtanh", lambda: cr.nn.Hardtanh(-0.5, 1.5), lambda: torch.nn.Hardtanh(-0.5, 1.5)),
    ("Hardsigmoid", lambda: cr.nn.Hardsigmoid(), lambda: torch.nn.Hardsigmoid()),
    ("Hardswish", lambda: cr.nn.Hardswish(), lambda: torch.nn.Hardswish()),
    ("Threshold", lambda: cr.nn.Threshold(0.3, -2.0), lambda: torch.nn.Threshold(0.3, -2.0)),
    ("Softmax", lambda: cr.nn.Softmax(dim=1), lambda: torch.nn.Softmax(dim=1)),
    ("LogSoftmax", lambda: cr.nn.LogSoftmax(dim=-1), lambda: torch.nn.LogSoftmax(dim=-1)),
    ("Softmin", lambda: cr.nn.Softmin(dim=0), lambda: torch.nn.Softmin(dim=0)),
    ("GLU", lambda: cr.nn.GLU(dim=1), lambda: torch.nn.GLU(dim=1)),
]


def _input(seed=0, shape=(4, 6, 3)):
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 3, shape)
    # keep away from the kinks (0, ±3, ±6, 0.3, -0.5, 1.5 …) so finite differences are valid
    for k in (0.0, 3.0, -3.0, 6.0, 0.3, -0.5, 1.5, 1.0, -1.0, 1.5):
        x = np.where(np.abs(x - k) < 0.05, x + 0.2, x)
    return x


def _compare(cr_fn, th_fn, x, dtype):
    a = cr.tensor(x.astype(dtype), requires_grad=True)
    b = torch.tensor(x.astype(dtype), requires_grad=True)
    out_a, out_b = cr_fn(a), th_fn(b)
    assert out_a.dtype.name == str(out_b.dtype).replace("torch.", "")
    assert_close(out_a, out_b, msg="forward")
    g = np.random.default_rng(1).normal(size=tuple(out_b.shape)).astype(dtype)
    out_a.backward(cr.tensor(g))
    out_b.backward(torch.tensor(g))
    assert_close(a.grad, b.grad, msg="gradient")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name,ours,theirs", LAYERS, ids=[l[0] for l in LAYERS])
def test_layer_matches_torch(name, ours, theirs, dtype):
    _compare(ours(), theirs(), _input(), dtype)


@pytest.mark.parametrize("name,ours,theirs", LAYERS, ids=[l[0] for l in LAYERS])
def test_layer_gradcheck(name, ours, theirs):
    x = cr.tensor(_input(2, (3, 4, 2)), dtype=cr.float64, requires_grad=True)
    assert cr.autograd.gradcheck(ours(), (x,))


def test_prelu_weight_gradient_matches_torch():
    x = _input(3, (5, 4, 3))
    for n in (1, 4):
        ours, theirs = cr.nn.PReLU(n).double(), torch.nn.PReLU(n).double()
        with torch.no_grad():
            theirs.weight.copy_(torch.linspace(0.1, 0.4, n, dtype=torch.float64))
        ours.load_state_dict({"weight": cr.tensor(theirs.weight.detach().numpy())})
        a = cr.tensor(x, requires_grad=True)
        b = torch.tensor(x, requires_grad=True)
        out_a, out_b = ours(a), theirs(b)
        assert_close(out_a, out_b)
        (out_a * out_a).sum().backward()
        (out_b * out_b).sum().backward()
        assert_close(a.grad, b.grad)
        assert_close(ours.weight.grad, theirs.weight.grad)


def test_prelu_channel_mismatch_is_a_clear_error():
    with pytest.raises(cr.errors.ShapeError, match="prelu.*channels"):
        cr.nn.PReLU(3)(cr.ones(2, 4))


def test_relu_grad_at_zero_is_zero_like_torch():
    for lay, tlay in [(cr.nn.ReLU(), torch.nn.ReLU()), (cr.nn.ReLU6(), torch.nn.ReLU6()),
                      (cr.nn.Hardtanh(), torch.nn.Hardtanh())]:
        x = np.array([-1.0, 0.0, 1.0, 6.0, -6.0])
        _compare(lay, tlay, x, "float64")


@pytest.mark.parametrize("fn,tfn", [
    (lambda x: F.relu(x, inplace=True), lambda x: torch.nn.functional.relu(x, inplace=True)),
    (lambda x: F.leaky_relu(x, 0.1, inplace=True), lambda x: torch.nn.functional.leaky_relu(x, 0.1, True)),
    (lambda x: F.elu(x, inplace=True), lambda x: torch.nn.functional.elu(x, inplace=True)),
])
def test_inplace_modifies_input_and_keeps_gradients(fn, tfn):
    x = _input(4, (3, 5))
    a = cr.tensor(x, requires_grad=True)
    b = torch.tensor(x, requires_grad=True)
    ya, yb = a * 2, b * 2
    outa, outb = fn(ya), tfn(yb)
    assert outa is ya
    assert_close(ya, yb)
    (outa * outa).sum().backward()
    (outb * outb).sum().backward()
    assert_close(a.grad, b.grad)


def test_softplus_large_inputs_are_finite():
    x = cr.tensor([-1000.0, 1000.0], requires_grad=True)
    y = F.softplus(x)
    y.sum().backward()
    assert_close(y, torch.nn.functional.softplus(torch.tensor([-1000.0, 1000.0])))
    assert np.all(np.isfinite(x.grad.numpy()))


def test_reprs_match_torch():
    for _, ours, theirs in LAYERS:
        assert repr(ours()) == repr(theirs())
    assert repr(cr.nn.PReLU()) == repr(torch.nn.PReLU())
    assert repr(cr.nn.ReLU(inplace=True)) == repr(torch.nn.ReLU(inplace=True))
