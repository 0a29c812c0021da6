"""Activation checkpointing (chainrule.utils.checkpoint) against the plain run and against
torch.utils.checkpoint: gradients, dropout replay, several inputs and outputs, non-tensor
arguments, nested checkpoints, autograd.grad, PyTorch's warnings and errors."""
import warnings

import numpy as np
import pytest
import torch
import torch.utils.checkpoint as tcp

import chainrule as cr
from chainrule.utils.checkpoint import CheckpointError, checkpoint, checkpoint_sequential
from tests.torch_oracle import assert_close, load_into_torch

MODES = [False, True]  # use_reentrant


class Block(cr.nn.Module):
    def __init__(self, d=6, p=0.0):
        super().__init__()
        self.a = cr.nn.Linear(d, 2 * d)
        self.b = cr.nn.Linear(2 * d, d)
        self.drop = cr.nn.Dropout(p)

    def forward(self, x):
        return self.b(self.drop(self.a(x).tanh()))


class TBlock(torch.nn.Module):
    def __init__(self, d=6):
        super().__init__()
        self.a = torch.nn.Linear(d, 2 * d)
        self.b = torch.nn.Linear(2 * d, d)

    def forward(self, x):
        return self.b(self.a(x).tanh())


def _grads(params):
    out = [p.grad.clone() for p in params]
    for p in params:
        p.grad = None
    return out


def _pair(d=6):
    cr.manual_seed(0)
    ours, theirs = Block(d), TBlock(d)
    load_into_torch(ours, theirs)
    x = np.random.default_rng(0).standard_normal((4, d)).astype(np.float32)
    return ours, theirs, x


@pytest.mark.parametrize("reentrant", MODES)
def test_gradients_equal_plain_and_torch(reentrant):
    ours, theirs, x = _pair()
    xo, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out = checkpoint(lambda t: ours(ours(t)).sin(), xo, use_reentrant=reentrant)
    ref = tcp.checkpoint(lambda t: theirs(theirs(t)).sin(), xt, use_reentrant=reentrant)
    assert_close(out, ref.detach())
    (out ** 2).sum().backward()
    (ref ** 2).sum().backward()
    assert_close(xo.grad, xt.grad)
    for p, q in zip(ours.parameters(), theirs.parameters()):
        assert_close(p.grad, q.grad)
    # and the plain chainrule run gives the same gradients
    got = [xo.grad.clone()] + _grads(list(ours.parameters()))
    xo.grad = None
    (ours(ours(xo)).sin() ** 2).sum().backward()
    for a, b in zip(got, [xo.grad] + _grads(list(ours.parameters()))):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("reentrant", MODES)
def test_dropout_mask_is_replayed_and_outer_rng_unmoved(reentrant):
    cr.manual_seed(0)
    block = Block(p=0.5)
    x = cr.randn(8, 6)

    def run(use_checkpoint):
        cr.manual_seed(123)
        xi = x.clone().requires_grad_()
        y = checkpoint(block, xi, use_reentrant=reentrant) if use_checkpoint else block(xi)
        (y ** 2).sum().backward()
        after = cr.rand(3)  # the recomputation's draws must not show here
        return [y.detach(), xi.grad, after] + _grads(list(block.parameters()))

    plain, ckpt = run(False), run(True)
    for a, b in zip(plain, ckpt):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("reentrant", MODES)
def test_dropout_differs_without_preserve_rng_state(reentrant):
    cr.manual_seed(0)
    block = Block(p=0.5)
    x = cr.randn(8, 6)
    grads = []
    for preserve in (True, False):
        cr.manual_seed(5)
        xi = x.clone().requires_grad_()
        y = checkpoint(block, xi, use_reentrant=reentrant, preserve_rng_state=preserve)
        y.sum().backward()
        grads.append(xi.grad.numpy())
    assert not np.array_equal(grads[0], grads[1])  # the mask was drawn afresh


def _multi(x, y, scale, square):
    a = (x * y).tanh() * scale
    b = (a ** 2 if square else a) + y.exp()
    return a, b, "label"


@pytest.mark.parametrize("reentrant", MODES)
def test_several_inputs_outputs_and_non_tensor_args(reentrant):
    rng = np.random.default_rng(1)
    xv, yv = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    results = {}
    for lib, ck in ((cr, checkpoint), (torch, tcp.checkpoint)):
        x = lib.tensor(xv, requires_grad=True)
        y = lib.tensor(yv, requires_grad=True)
        a, b, label = ck(_multi, x, y, 0.5, True, use_reentrant=reentrant)
        assert label == "label"
        (a.sum() + (b * b).sum()).backward()
        results[lib.__name__] = (a, b, x.grad, y.grad)
    for ours, theirs in zip(results["chainrule"], results["torch"]):
        assert_close(ours, theirs.detach())


@pytest.mark.parametrize("reentrant", MODES)
def test_only_one_output_used(reentrant):
    x = cr.tensor([0.3, -0.7], requires_grad=True, dtype=cr.float64)
    y = cr.tensor([1.1, 0.4], requires_grad=True, dtype=cr.float64)
    a, b, _ = checkpoint(_multi, x, y, 2.0, False, use_reentrant=reentrant)
    b.sum().backward()
    xt = torch.tensor([0.3, -0.7], requires_grad=True, dtype=torch.float64)
    yt = torch.tensor([1.1, 0.4], requires_grad=True, dtype=torch.float64)
    _multi(xt, yt, 2.0, False)[1].sum().backward()
    assert_close(x.grad, xt.grad)
    assert_close(y.grad, yt.grad)


def test_input_without_grad_non_reentrant_still_reaches_parameters():
    ours, theirs, x = _pair()
    out = checkpoint(ours, cr.tensor(x), use_reentrant=False)
    ref = tcp.checkpoint(theirs, torch.tensor(x), use_reentrant=False)
    assert out.requires_grad and ref.requires_grad
    out.sum().backward()
    ref.sum().backward()
    for p, q in zip(ours.parameters(), theirs.parameters()):
        assert_close(p.grad, q.grad)


def test_input_without_grad_reentrant_warns_and_gives_no_graph():
    ours, theirs, x = _pair()
    with pytest.warns(UserWarning, match="None of the inputs have requires_grad=True") as rec:
        out = checkpoint(ours, cr.tensor(x), use_reentrant=True)
    assert rec[0].filename == __file__  # pointed at the caller's line
    with pytest.warns(UserWarning, match="None of the inputs have requires_grad=True"):
        ref = tcp.checkpoint(theirs, torch.tensor(x), use_reentrant=True)
    assert out.requires_grad == ref.requires_grad is False


@pytest.mark.parametrize("reentrant", MODES)
def test_nested_checkpoint(reentrant):
    ours, theirs, x = _pair()

    def inner_ours(t):
        return checkpoint(ours, t, use_reentrant=reentrant).relu()

    def inner_theirs(t):
        return tcp.checkpoint(theirs, t, use_reentrant=reentrant).relu()
    xo, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out = checkpoint(lambda t: ours(inner_ours(t)), xo, use_reentrant=reentrant)
    ref = tcp.checkpoint(lambda t: theirs(inner_theirs(t)), xt, use_reentrant=reentrant)
    (out ** 2).sum().backward()
    (ref ** 2).sum().backward()
    assert_close(xo.grad, xt.grad)
    for p, q in zip(ours.parameters(), theirs.parameters()):
        assert_close(p.grad, q.grad)


def test_autograd_grad_non_reentrant_and_second_order():
    x = cr.tensor([0.5, -1.0, 2.0], requires_grad=True, dtype=cr.float64)
    xt = torch.tensor([0.5, -1.0, 2.0], requires_grad=True, dtype=torch.float64)
    y = checkpoint(lambda t: (t.sin() * t).sum(), x, use_reentrant=False)
    yt = tcp.checkpoint(lambda t: (t.sin() * t).sum(), xt, use_reentrant=False)
    (g,) = cr.autograd.grad(y, x, create_graph=True)
    (gt,) = torch.autograd.grad(yt, xt, create_graph=True)
    assert_close(g, gt.detach())
    (h,) = cr.autograd.grad(g.sum(), x)
    (ht,) = torch.autograd.grad(gt.sum(), xt)
    assert_close(h, ht)
    assert x.grad is None


def test_autograd_grad_reentrant_is_refused_as_torch():
    for lib, ck in ((cr, checkpoint), (torch, tcp.checkpoint)):
        x = lib.ones(3, requires_grad=True)
        y = ck(lambda t: (t * 2).sum(), x, use_reentrant=True)
        with pytest.raises(RuntimeError, match="When use_reentrant=True.*incompatible with "
                                               r"\.grad\(\)"):
            lib.autograd.grad(y, x)
        x2 = lib.ones(3, requires_grad=True)
        y2 = ck(lambda t: (t * 2).sum(), x2, use_reentrant=True)
        with pytest.raises(RuntimeError, match="When use_reentrant=True"):
            y2.backward(inputs=[x2])


def test_retain_graph_backward_twice_non_reentrant():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = checkpoint(lambda t: (t.exp() * t).sum(), x, use_reentrant=False)
    y.backward(retain_graph=True)
    first = x.grad.clone()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first.numpy(), rtol=1e-6)


def test_use_reentrant_unset_warns_as_torch():
    x = cr.ones(2, requires_grad=True)
    with pytest.warns(UserWarning, match="use_reentrant parameter should be passed explicitly") as rec:
        checkpoint(lambda t: t * 2, x)
    assert rec[0].filename == __file__
    with pytest.warns(UserWarning, match="use_reentrant parameter should be passed explicitly"):
        tcp.checkpoint(lambda t: t * 2, torch.ones(2, requires_grad=True))
    seq = cr.nn.Sequential(cr.nn.Linear(2, 2), cr.nn.Linear(2, 2))
    with pytest.warns(UserWarning, match="use_reentrant parameter should be passed explicitly"):
        checkpoint_sequential(seq, 2, x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        checkpoint(lambda t: t * 2, x, use_reentrant=False)


def test_keyword_arguments():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = checkpoint(lambda t, power=1: (t ** power).sum(), x, use_reentrant=False, power=3)
    y.backward()
    assert x.grad.tolist() == [3.0, 12.0]
    for ck in (checkpoint, tcp.checkpoint):
        with pytest.raises(ValueError, match="Unexpected keyword arguments: power"):
            ck(lambda t, power=1: t ** power, x if ck is checkpoint else torch.ones(1),
               use_reentrant=True, power=3)


def test_non_deterministic_function_is_caught():
    calls = []

    def fn(t):
        calls.append(1)
        return t.exp() if len(calls) == 1 else t.exp().exp()
    x = cr.ones(2, requires_grad=True)
    y = checkpoint(fn, x, use_reentrant=False)
    with pytest.raises(CheckpointError, match="different number of tensors"):
        y.sum().backward()
    assert issubclass(CheckpointError, RuntimeError)


@pytest.mark.parametrize("reentrant", MODES)
@pytest.mark.parametrize("segments", [1, 2, 3])
def test_checkpoint_sequential_matches_torch(reentrant, segments):
    cr.manual_seed(0)
    layers = [cr.nn.Linear(5, 5), cr.nn.Tanh(), cr.nn.Linear(5, 5), cr.nn.ReLU(),
              cr.nn.Linear(5, 5), cr.nn.Sigmoid()]
    ours = cr.nn.Sequential(*layers)
    theirs = torch.nn.Sequential(torch.nn.Linear(5, 5), torch.nn.Tanh(), torch.nn.Linear(5, 5),
                                 torch.nn.ReLU(), torch.nn.Linear(5, 5), torch.nn.Sigmoid())
    load_into_torch(ours, theirs)
    x = np.random.default_rng(2).standard_normal((3, 5)).astype(np.float32)
    xo, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out = checkpoint_sequential(ours, segments, xo, use_reentrant=reentrant)
    ref = tcp.checkpoint_sequential(theirs, segments, xt, use_reentrant=reentrant)
    assert_close(out, ref.detach())
    out.sum().backward()
    ref.sum().backward()
    assert_close(xo.grad, xt.grad)
    for p, q in zip(ours.parameters(), theirs.parameters()):
        assert_close(p.grad, q.grad)


def test_no_grad_mode_just_runs():
    x = cr.ones(2, requires_grad=True)
    with cr.no_grad():
        y = checkpoint(lambda t: t * 3, x, use_reentrant=False)
    assert not y.requires_grad and y.tolist() == [3.0, 3.0]


def test_saved_tensors_hooks_pack_and_unpack():
    packed, unpacked = [], []

    def pack(t):
        packed.append(t.shape)
        return t.detach().clone()

    def unpack(t):
        unpacked.append(t.shape)
        return t
    x = cr.tensor([0.5, 1.5], requires_grad=True)
    with cr.autograd.graph.saved_tensors_hooks(pack, unpack):
        y = (x + 1).exp().sin()
    y.sum().backward()
    xt = torch.tensor([0.5, 1.5], requires_grad=True)
    (xt + 1).exp().sin().sum().backward()
    assert_close(x.grad, xt.grad)
    assert len(packed) == len(unpacked) == 2  # exp's output and sin's input


def test_saved_tensors_hooks_bad_unpack_is_named():
    x = cr.tensor([0.5, 1.5], requires_grad=True)
    with cr.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: cr.zeros(3)):
        y = (x + 1).exp()
    with pytest.raises(cr.errors.BackwardError, match="unpack hook returned a tensor of shape"):
        y.sum().backward()


@pytest.mark.parametrize("reentrant", MODES)
def test_autocast_state_is_replayed(reentrant):
    # backward runs outside autocast: the recomputation must still run the matmuls in
    # bfloat16, or the gradients differ from the plain autocast run
    ours, _, x = _pair()
    grads = []
    for use_checkpoint in (False, True):
        xi = cr.tensor(x, requires_grad=True)
        with cr.autocast("cpu", dtype=cr.bfloat16):
            y = checkpoint(ours, xi, use_reentrant=reentrant) if use_checkpoint else ours(xi)
        assert y.dtype is cr.bfloat16
        y.float().pow(2).sum().backward()
        grads.append([xi.grad.numpy()] + [g.numpy() for g in _grads(list(ours.parameters()))])
    for a, b in zip(*grads):
        np.testing.assert_array_equal(a, b)
