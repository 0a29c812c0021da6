"""Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict (vs PyTorch's names and
behaviour) and Residual."""
from collections import OrderedDict

import numpy as np
import pytest
import torch

import chainrule as cr
from torch_oracle import assert_close


def _seq(nn):
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2), nn.Sigmoid())


def test_sequential_indexing_slicing_len_iteration():
    ours, theirs = _seq(cr.nn), _seq(torch.nn)
    assert len(ours) == 4
    assert isinstance(ours[0], cr.nn.Linear) and ours[-1] is list(ours)[3]
    part = ours[1:3]
    assert isinstance(part, cr.nn.Sequential) and len(part) == 2 and part[0] is ours[1]
    assert [n for n, _ in part.named_parameters()] == [n for n, _ in theirs[1:3].named_parameters()]
    assert [type(m).__name__ for m in ours] == [type(m).__name__ for m in theirs]
    with pytest.raises(IndexError, match="out of range"):
        ours[4]
    assert repr(ours) == repr(theirs)


def test_sequential_forward_matches_torch():
    ours, theirs = _seq(cr.nn).double(), _seq(torch.nn).double()
    ours.load_state_dict({k: cr.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).normal(size=(5, 3))
    a, b = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    assert_close(ours(a), theirs(b))
    ours(a).sum().backward()
    theirs(b).sum().backward()
    assert_close(a.grad, b.grad)


def test_sequential_mutation_matches_torch():
    for nn in (cr.nn, torch.nn):
        s = nn.Sequential(nn.ReLU())
        s.append(nn.Tanh())
        s.insert(0, nn.Sigmoid())
        s.extend([nn.Identity()])
        del s[1]
        s[0] = nn.ELU()
        if nn is cr.nn:
            ours = [(n, type(m).__name__) for n, m in s.named_children()]
        else:
            theirs = [(n, type(m).__name__) for n, m in s.named_children()]
    assert ours == theirs


def test_sequential_from_ordered_dict():
    s = cr.nn.Sequential(OrderedDict([("fc", cr.nn.Linear(2, 2)), ("act", cr.nn.ReLU())]))
    assert [n for n, _ in s.named_parameters()] == ["fc.weight", "fc.bias"]
    assert s.act is s[1]


def test_module_list_and_dict_register_parameters():
    for nn in (cr.nn, torch.nn):
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(2)])
                self.layers.append(nn.Linear(2, 1))
                self.heads = nn.ModuleDict({"a": nn.Linear(1, 1), "b": nn.Linear(1, 2)})
                self.heads["c"] = nn.Identity()
        names = [n for n, _ in M().named_parameters()]
        if nn is cr.nn:
            ours, m = names, M()
        else:
            theirs = names
    assert ours == theirs
    assert len(m.layers) == 3 and len(m.heads) == 3 and "c" in m.heads
    assert list(m.heads.keys()) == ["a", "b", "c"]
    assert isinstance(m.layers[-1], cr.nn.Linear) and len(m.layers[:2]) == 2
    assert m.heads.pop("c") is not None and len(m.heads) == 2
    del m.layers[0]
    assert [n for n, _ in m.layers.named_children()] == ["0", "1"]
    assert repr(cr.nn.ModuleList([cr.nn.ReLU()])) == repr(torch.nn.ModuleList([torch.nn.ReLU()]))


def test_parameter_list_and_dict():
    pl = cr.nn.ParameterList([cr.nn.Parameter(cr.zeros(2)), cr.ones(3)])
    assert isinstance(pl[1], cr.nn.Parameter) and pl[1].requires_grad
    pl.append(cr.zeros(1))
    tpl = torch.nn.ParameterList([torch.nn.Parameter(torch.zeros(2)), torch.ones(3), torch.zeros(1)])
    assert [n for n, _ in pl.named_parameters()] == [n for n, _ in tpl.named_parameters()]
    assert len(pl) == 3 and [tuple(p.shape) for p in pl] == [(2,), (3,), (1,)]
    pd = cr.nn.ParameterDict({"w": cr.ones(2)})
    pd["b"] = cr.nn.Parameter(cr.zeros(1))
    tpd = torch.nn.ParameterDict({"w": torch.ones(2)})
    tpd["b"] = torch.nn.Parameter(torch.zeros(1))
    assert [n for n, _ in pd.named_parameters()] == [n for n, _ in tpd.named_parameters()]
    assert list(pd.keys()) == ["w", "b"] and "w" in pd and len(pd) == 2
    odd = cr.nn.ParameterDict({"keys": cr.ones(1), "items": cr.zeros(2)})
    assert tuple(odd["keys"].shape) == (1,) and list(odd.keys()) == ["keys", "items"]
    del odd["keys"]
    assert [n for n, _ in odd.named_parameters()] == ["items"]
    m = cr.nn.Module()
    m.pl = pl
    assert list(m.state_dict()) == ["pl.0", "pl.1", "pl.2"]
    (pl[0].sum() + pl[1].sum() * 2).backward()
    assert_close(pl[1].grad, np.full(3, 2.0, dtype=np.float32))


def test_residual_adds_input_and_checks_shape():
    block = cr.nn.Linear(3, 3, dtype=cr.float64)
    res = cr.nn.Residual(block)
    x = cr.tensor(np.random.default_rng(0).normal(size=(2, 3)), requires_grad=True)
    assert_close(res(x), x + block(x))
    assert cr.autograd.gradcheck(res, (x,))
    with pytest.raises(cr.errors.ShapeError, match=r"Residual.*Linear.*\(2, 3\) to \(2, 4\)"):
        cr.nn.Residual(cr.nn.Linear(3, 4, dtype=cr.float64))(x)
    assert [n for n, _ in res.named_parameters()] == ["block.weight", "block.bias"]
