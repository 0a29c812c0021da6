"""Linear, Bilinear, Identity, Flatten, Unflatten: values and gradients vs PyTorch with the
same weights, finite differences, default initialisation, errors."""
import math

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F
from torch_oracle import assert_close


def _copy_weights(ours: cr.nn.Module, theirs: torch.nn.Module) -> None:
    ours.load_state_dict({k: cr.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})


def _grads_match(ours, theirs, inputs, dtype):
    xs = [cr.tensor(x.astype(dtype), requires_grad=True) for x in inputs]
    ts = [torch.tensor(x.astype(dtype), requires_grad=True) for x in inputs]
    out_a, out_b = ours(*xs), theirs(*ts)
    assert_close(out_a, out_b, msg="forward")
    g = np.random.default_rng(5).normal(size=tuple(out_b.shape)).astype(dtype)
    out_a.backward(cr.tensor(g))
    out_b.backward(torch.tensor(g))
    for a, b in zip(xs, ts):
        assert_close(a.grad, b.grad, msg="input gradient")
    for (name, p), (tname, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert name == tname
        assert_close(p.grad, tp.grad, msg=f"gradient of {name}")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(5, 7), (7,), (2, 3, 7)])
def test_linear_matches_torch(shape, bias, dtype):
    theirs = torch.nn.Linear(7, 4, bias=bias).to(getattr(torch, dtype))
    ours = cr.nn.Linear(7, 4, bias=bias, dtype=getattr(cr, dtype))
    _copy_weights(ours, theirs)
    _grads_match(ours, theirs, [np.random.default_rng(0).normal(size=shape)], dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_bilinear_matches_torch(dtype):
    theirs = torch.nn.Bilinear(3, 5, 4).to(getattr(torch, dtype))
    ours = cr.nn.Bilinear(3, 5, 4, dtype=getattr(cr, dtype))
    _copy_weights(ours, theirs)
    rng = np.random.default_rng(1)
    _grads_match(ours, theirs, [rng.normal(size=(6, 3)), rng.normal(size=(6, 5))], dtype)


def test_linear_and_bilinear_gradcheck():
    rng = np.random.default_rng(2)
    x = cr.tensor(rng.normal(size=(3, 4)), requires_grad=True)
    w = cr.tensor(rng.normal(size=(2, 4)), requires_grad=True)
    b = cr.tensor(rng.normal(size=(2,)), requires_grad=True)
    assert cr.autograd.gradcheck(F.linear, (x, w, b))
    assert cr.autograd.gradcheck(lambda x, w: F.linear(x, w), (x, w))
    x2 = cr.tensor(rng.normal(size=(3, 5)), requires_grad=True)
    wb = cr.tensor(rng.normal(size=(2, 4, 5)), requires_grad=True)
    assert cr.autograd.gradcheck(F.bilinear, (x, x2, wb, b))


@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 4), (4,)])
def test_linear_second_order(shape):
    rng = np.random.default_rng(3)
    x = cr.tensor(rng.normal(size=shape), requires_grad=True)
    w = cr.tensor(rng.normal(size=(2, 4)), requires_grad=True)
    b = cr.tensor(rng.normal(size=(2,)), requires_grad=True)
    assert cr.autograd.gradgradcheck(lambda x, w, b: F.linear(x, w, b).tanh(), (x, w, b))


def test_linear_is_one_node():
    out = cr.nn.Linear(3, 2)(cr.ones(4, 3))
    assert out.grad_fn.name() == "LinearBackward"


def test_default_init_bounds_match_pytorch_formula():
    layer = cr.nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    w = layer.weight.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    # U(-b, b) has std b / sqrt(3)
    assert abs(w.std() - bound / math.sqrt(3)) < 0.01 * bound
    assert np.abs(layer.bias.detach().numpy()).max() <= bound
    bl = cr.nn.Bilinear(50, 20, 10)
    assert np.abs(bl.weight.detach().numpy()).max() <= 1 / math.sqrt(50)


def test_parameter_names_and_shapes_match_torch():
    for ours, theirs in [(cr.nn.Linear(3, 2), torch.nn.Linear(3, 2)),
                         (cr.nn.Linear(3, 2, bias=False), torch.nn.Linear(3, 2, bias=False)),
                         (cr.nn.Bilinear(2, 3, 4), torch.nn.Bilinear(2, 3, 4))]:
        assert [(n, tuple(p.shape)) for n, p in ours.named_parameters()] == \
            [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
        assert repr(ours) == repr(theirs)


def test_linear_shape_error_names_layer_and_shapes():
    with pytest.raises(cr.errors.ShapeError, match=r"linear.*\(5, 3\).*\(2, 4\).*in_features=4"):
        cr.nn.Linear(4, 2)(cr.ones(5, 3))


def test_linear_dtype_mismatch_is_a_clear_error():
    with pytest.raises(TypeError, match="linear.*float64.*float32"):
        cr.nn.Linear(3, 2)(cr.ones(2, 3, dtype=cr.float64))


def test_lazy_linear_infers_in_features():
    layer = cr.nn.LazyLinear(3)
    out = layer(cr.ones(2, 5))
    assert tuple(out.shape) == (2, 3) and tuple(layer.weight.shape) == (3, 5)


def test_identity_flatten_unflatten_match_torch():
    x = np.random.default_rng(4).normal(size=(2, 3, 4, 5))
    for ours, theirs in [(cr.nn.Identity(54), torch.nn.Identity(54)),
                         (cr.nn.Flatten(), torch.nn.Flatten()),
                         (cr.nn.Flatten(0, 2), torch.nn.Flatten(0, 2)),
                         (cr.nn.Unflatten(2, (2, 2)), torch.nn.Unflatten(2, (2, 2)))]:
        _grads_match(ours, theirs, [x], "float64")
        assert repr(ours) == repr(theirs)
