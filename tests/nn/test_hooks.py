"""Full backward hooks and backward pre-hooks: the same grad_input / grad_output as
PyTorch's, replacements take effect, removal works."""
import numpy as np
import pytest
import torch

import chainrule as cr
from torch_oracle import assert_close

X = np.random.default_rng(0).normal(size=(4, 3))
Y = np.random.default_rng(1).normal(size=(4, 3))


def _linear_pair():
    theirs = torch.nn.Linear(3, 2).double()
    ours = cr.nn.Linear(3, 2, dtype=cr.float64)
    ours.load_state_dict({k: cr.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    return ours, theirs


def _record(store):
    def hook(module, grad_input, grad_output):
        store.append(([None if g is None else g.detach().numpy().copy() for g in grad_input],
                      [None if g is None else g.detach().numpy().copy() for g in grad_output]))
    return hook


def _same_records(ours, theirs):
    assert len(ours) == len(theirs)
    for (gi_a, go_a), (gi_b, go_b) in zip(ours, theirs):
        for a, b in zip(gi_a + go_a, gi_b + go_b):
            assert (a is None) == (b is None)
            if a is not None:
                np.testing.assert_allclose(a, b, rtol=1e-10)
        assert len(gi_a) == len(gi_b) and len(go_a) == len(go_b)


@pytest.mark.parametrize("input_grad", [True, False])
def test_linear_hook_sees_torch_gradients(input_grad):
    ours, theirs = _linear_pair()
    rec_a, rec_b = [], []
    ours.register_full_backward_hook(_record(rec_a))
    theirs.register_full_backward_hook(_record(rec_b))
    xa = cr.tensor(X, requires_grad=input_grad)
    xb = torch.tensor(X, requires_grad=input_grad)
    ours(xa).pow(2).sum().backward()
    theirs(xb).pow(2).sum().backward()
    _same_records(rec_a, rec_b)
    assert_close(ours.weight.grad, theirs.weight.grad)
    if input_grad:
        assert_close(xa.grad, xb.grad)


class TwoIn:
    """A module of two inputs and two outputs, for either library."""

    @staticmethod
    def make(nn):
        class M(nn.Module):
            def forward(self, a, b, scale=2.0):
                return a * b * scale, (a + b).sin()
        return M()


@pytest.mark.parametrize("b_grad", [True, False])
def test_two_inputs_two_outputs(b_grad):
    ours, theirs = TwoIn.make(cr.nn), TwoIn.make(torch.nn)
    rec_a, rec_b = [], []
    ours.register_full_backward_hook(_record(rec_a))
    theirs.register_full_backward_hook(_record(rec_b))
    a1, b1 = cr.tensor(X, requires_grad=True), cr.tensor(Y, requires_grad=b_grad)
    a2, b2 = torch.tensor(X, requires_grad=True), torch.tensor(Y, requires_grad=b_grad)
    p, q = ours(a1, b1, 2.0)  # a non-tensor positional argument gets None
    (p * 3 + q.pow(2)).sum().backward()
    p, q = theirs(a2, b2, 2.0)
    (p * 3 + q.pow(2)).sum().backward()
    _same_records(rec_a, rec_b)
    assert_close(a1.grad, a2.grad)
    if b_grad:
        assert_close(b1.grad, b2.grad)


def test_hook_replacing_grad_input():
    for nn, make in ((cr.nn, cr.tensor), (torch.nn, torch.tensor)):
        lin = nn.Linear(3, 2).double()
        with (cr.no_grad() if nn is cr.nn else torch.no_grad()):
            lin.weight.fill_(0.5)
        lin.register_full_backward_hook(lambda m, gi, go: (gi[0] * 10,))
        x = make(X, requires_grad=True)
        lin(x).sum().backward()
        if nn is cr.nn:
            ours = x.grad
        else:
            theirs = x.grad
    assert_close(ours, theirs)
    assert_close(ours, np.full((4, 3), 10.0))


def test_backward_pre_hook_replacing_grad_output():
    ours, theirs = _linear_pair()
    seen_a, seen_b = [], []
    for m, seen in ((ours, seen_a), (theirs, seen_b)):
        m.register_full_backward_pre_hook(lambda mod, go, s=seen: s.append(go[0].shape) or (go[0] * -2,))
    xa, xb = cr.tensor(X, requires_grad=True), torch.tensor(X, requires_grad=True)
    ours(xa).sum().backward()
    theirs(xb).sum().backward()
    assert [tuple(s) for s in seen_a] == [tuple(s) for s in seen_b] == [(4, 2)]
    assert_close(xa.grad, xb.grad)
    assert_close(ours.weight.grad, theirs.weight.grad)
    assert_close(ours.bias.grad, theirs.bias.grad)


def test_nested_hooks_fire_in_backward_order_and_remove():
    order = []
    net = cr.nn.Sequential(cr.nn.Linear(3, 3), cr.nn.Tanh(), cr.nn.Linear(3, 1))
    handles = [m.register_full_backward_hook(lambda mod, gi, go, i=i: order.append(i))
               for i, m in enumerate(net)]
    net(cr.tensor(X, dtype=cr.float32)).sum().backward()
    assert order == [2, 1, 0]
    for h in handles:
        h.remove()
    order.clear()
    net(cr.tensor(X, dtype=cr.float32)).sum().backward()
    assert order == []


def test_hooks_do_not_change_gradients_or_forward():
    ours, _ = _linear_pair()
    x = cr.tensor(X, requires_grad=True)
    ref = ours(x)
    ref.pow(3).sum().backward()
    gx, gw = x.grad.numpy().copy(), ours.weight.grad.numpy().copy()
    ours.zero_grad()
    x.grad = None
    ours.register_full_backward_hook(lambda m, gi, go: None)
    out = ours(x)
    assert_close(out, ref)
    out.pow(3).sum().backward()
    assert_close(x.grad, gx)
    assert_close(ours.weight.grad, gw)


def test_no_grad_forward_with_hooks_runs():
    lin = cr.nn.Linear(3, 2)
    lin.register_full_backward_hook(lambda m, gi, go: None)
    with cr.no_grad():
        assert tuple(lin(cr.ones(2, 3)).shape) == (2, 2)


def test_wrong_length_replacement_is_a_clear_error():
    lin = cr.nn.Linear(3, 2)
    lin.register_full_backward_hook(lambda m, gi, go: (gi[0], gi[0]))
    with pytest.raises(cr.errors.ShapeError, match="returned 2 gradients for 1 inputs of Linear"):
        lin(cr.ones(2, 3, requires_grad=True)).sum().backward()


def test_inplace_layer_with_backward_hook_is_an_error_as_in_torch():
    m = cr.nn.ReLU(inplace=True)
    m.register_full_backward_hook(lambda mod, gi, go: None)
    with pytest.raises(RuntimeError, match="relu_.*in-place"):
        m(cr.tensor([-1.0, 2.0], requires_grad=True) * 1)
    tm = torch.nn.ReLU(inplace=True)
    tm.register_full_backward_hook(lambda mod, gi, go: None)
    with pytest.raises(RuntimeError):
        tm(torch.tensor([-1.0, 2.0], requires_grad=True) * 1)
