"""Module: registration, traversal, state_dict, modes, conversion, copying, repr — against
PyTorch's behaviour on the same structures."""
import copy

import numpy as np
import pytest
import torch

import chainrule as cr
from torch_oracle import assert_close


def _net(nn):
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 4)
            self.act = nn.ReLU()
            self.register_buffer("running", torch_or_cr(nn).zeros(4))
            self.register_buffer("scratch", torch_or_cr(nn).ones(2), persistent=False)

        def forward(self, x):
            return self.act(self.fc(x)) + self.running

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.block = Block()
            self.head = nn.Sequential(nn.Linear(4, 2), nn.Tanh())
            self.scale = nn.Parameter(torch_or_cr(nn).ones(1))

        def forward(self, x):
            return self.head(self.block(x)) * self.scale
    return Net()


def torch_or_cr(nn):
    return torch if nn is torch.nn else cr


def test_names_and_traversal_match_torch():
    ours, theirs = _net(cr.nn), _net(torch.nn)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert "block.scratch" not in ours.state_dict()
    assert len(list(ours.parameters(recurse=False))) == 1
    assert repr(ours) == repr(theirs)


def test_shared_parameters_are_listed_once_but_saved_under_each_name():
    for nn in (cr.nn, torch.nn):
        a = nn.Linear(2, 2)
        seq = nn.Sequential(a, a)
        assert len(list(seq.parameters())) == 2
        assert list(seq.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]


def test_state_dict_round_trip_and_forward_equal():
    src, dst = _net(cr.nn), _net(cr.nn)
    with cr.no_grad():
        src.block.running.fill_(0.5)
    result = dst.load_state_dict(src.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    x = cr.randn(5, 3)
    assert_close(dst(x), src(x))
    # values are copied, not aliased
    with cr.no_grad():
        src.scale.fill_(3.0)
    assert dst.scale.item() == 1.0
    # state_dict tensors are detached from the graph
    assert all(not v.requires_grad for v in src.state_dict().values())


def test_state_dict_loads_from_torch_and_matches_forward():
    ours, theirs = _net(cr.nn).double(), _net(torch.nn).double()
    ours.load_state_dict({k: cr.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).normal(size=(4, 3))
    assert_close(ours(cr.tensor(x)), theirs(torch.tensor(x)))


def test_load_state_dict_strict_errors_and_non_strict_report():
    net = _net(cr.nn)
    sd = net.state_dict()
    sd.pop("scale")
    sd["extra.weight"] = cr.zeros(1)
    with pytest.raises(RuntimeError) as info:
        net.load_state_dict(sd)
    text = str(info.value)
    assert 'Missing key(s) in state_dict: "scale"' in text
    assert 'Unexpected key(s) in state_dict: "extra.weight"' in text
    result = net.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["scale"] and result.unexpected_keys == ["extra.weight"]


def test_load_state_dict_shape_mismatch_names_key_and_shapes():
    net = _net(cr.nn)
    sd = net.state_dict()
    sd["block.fc.weight"] = cr.zeros(5, 3)
    with pytest.raises(RuntimeError, match=r"size mismatch for block\.fc\.weight.*\(5, 3\).*\(4, 3\)"):
        net.load_state_dict(sd)
    with pytest.raises(RuntimeError, match="size mismatch"):
        net.load_state_dict(sd, strict=False)


def test_train_eval_propagate():
    net = _net(cr.nn)
    assert net.training and net.head[0].training
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())


def test_zero_grad_set_to_none_and_in_place():
    net = _net(cr.nn)
    net(cr.randn(2, 3)).sum().backward()
    grad = net.scale.grad
    net.zero_grad(set_to_none=False)
    assert net.scale.grad is grad and grad.item() == 0.0
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_gradients_accumulate_and_match_torch():
    ours, theirs = _net(cr.nn).double(), _net(torch.nn).double()
    ours.load_state_dict({k: cr.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(1).normal(size=(4, 3))
    for _ in range(2):
        ours(cr.tensor(x)).pow(2).sum().backward()
        theirs(torch.tensor(x)).pow(2).sum().backward()
    for (n, p), (_, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert_close(p.grad, tp.grad, msg=n)


def test_apply_visits_children_first():
    order = []
    net = _net(cr.nn)
    assert net.apply(lambda m: order.append(type(m).__name__)) is net
    theirs = []
    _net(torch.nn).apply(lambda m: theirs.append(type(m).__name__))
    assert order == theirs


def test_to_dtype_keeps_parameter_objects_and_int_buffers():
    net = _net(cr.nn)
    net.register_buffer("steps", cr.tensor(3))
    w = net.block.fc.weight
    assert net.to(cr.float64) is net
    assert net.block.fc.weight is w and w.dtype == cr.float64
    assert net.block.running.dtype == cr.float64
    assert net.steps.dtype == cr.int64
    net.float()
    assert w.dtype == cr.float32
    net.to(cr.zeros(1, dtype=cr.float64))
    assert w.dtype == cr.float64 and net.steps.dtype == cr.int64
    with pytest.raises(TypeError, match="floating point"):
        net.to(cr.int32)
    assert net.to("cpu") is net


def test_requires_grad_freezes_parameters():
    net = _net(cr.nn)
    net.block.requires_grad_(False)
    assert not net.block.fc.weight.requires_grad and net.head[0].weight.requires_grad
    net(cr.randn(2, 3)).sum().backward()
    assert net.block.fc.weight.grad is None and net.head[0].weight.grad is not None


def test_deepcopy_is_independent():
    net = _net(cr.nn)
    clone = copy.deepcopy(net)
    assert type(clone.scale) is cr.nn.Parameter and clone.scale.requires_grad
    with cr.no_grad():
        clone.scale.fill_(7.0)
    assert net.scale.item() == 1.0
    x = cr.randn(2, 3)
    with cr.no_grad():
        clone.scale.fill_(1.0)
    assert_close(clone(x), net(x))
    assert [n for n, _ in clone.named_parameters()] == [n for n, _ in net.named_parameters()]


def test_setattr_registration_rules():
    m = cr.nn.Module()
    m.w = cr.nn.Parameter(cr.zeros(2))
    m.sub = cr.nn.Linear(1, 1)
    m.plain = cr.zeros(1)
    assert [n for n, _ in m.named_parameters()] == ["w", "sub.weight", "sub.bias"]
    assert "plain" not in m.state_dict()
    with pytest.raises(TypeError, match="parameter 'w'"):
        m.w = cr.zeros(2)
    m.w = None
    assert [n for n, _ in m.named_parameters()] == ["sub.weight", "sub.bias"]
    del m.sub
    assert list(m.named_parameters()) == []
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        m.nope

    class Early(cr.nn.Module):
        def __init__(self):
            self.fc = cr.nn.Linear(1, 1)
    with pytest.raises(AttributeError, match="before Module.__init__"):
        Early()


def test_register_buffer_persistence_and_names():
    m = cr.nn.Module()
    m.register_buffer("a", cr.zeros(1))
    m.register_buffer("b", cr.zeros(1), persistent=False)
    m.register_buffer("c", None)
    assert list(m.state_dict()) == ["a"]
    assert [n for n, _ in m.named_buffers()] == ["a", "b"]
    with pytest.raises(KeyError, match='contain "."'):
        m.register_buffer("x.y", cr.zeros(1))
    with pytest.raises(TypeError, match="buffer"):
        m.register_buffer("d", [1, 2])


def test_forward_hooks_and_pre_hooks():
    lin = cr.nn.Linear(2, 2)
    calls = []
    h1 = lin.register_forward_pre_hook(lambda m, args: (args[0] * 0,))
    h2 = lin.register_forward_hook(lambda m, args, out: calls.append(out.shape) or out + 1)
    out = lin(cr.ones(3, 2))
    assert_close(out, (lin.bias + 1).expand(3, 2))
    assert calls == [(3, 2)]
    h1.remove()
    h2.remove()
    assert_close(lin(cr.zeros(3, 2)), lin.bias.expand(3, 2))
    seen = []
    lin.register_forward_hook(lambda m, args, kwargs, out: seen.append(kwargs), with_kwargs=True)
    lin(input=cr.ones(1, 2))
    assert list(seen[0]) == ["input"]


def test_always_call_forward_hook_runs_when_forward_raises():
    lin = cr.nn.Linear(2, 2)
    calls = []
    lin.register_forward_hook(lambda m, a, out: calls.append("always"), always_call=True)
    lin.register_forward_hook(lambda m, a, out: calls.append("normal"))
    with pytest.raises(cr.errors.ShapeError):
        lin(cr.ones(3, 5))
    assert calls == ["always"]
    lin(cr.ones(1, 2))
    assert calls == ["always", "always", "normal"]


def test_get_submodule_and_parameter():
    net = _net(cr.nn)
    assert net.get_submodule("head.0") is net.head[0]
    assert net.get_parameter("block.fc.bias") is net.block.fc.bias
    with pytest.raises(AttributeError, match="no submodule 'nope'"):
        net.get_submodule("block.nope")


def test_no_pickle():
    import pickle
    with pytest.raises(TypeError, match="state_dict"):
        pickle.dumps(cr.nn.Linear(1, 1))
