"""torch.device, the legacy constructors (FloatTensor(...), Tensor(...)) and ``x == None``,
compared case by case with PyTorch."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr

DEVICE_SPECS = [("cpu",), ("cuda",), ("cuda:0",), ("cuda:1",), ("cpu", 0), ("cuda", 1), ("cpu:0",),
                ("cpu", None), ("cuda:-1",), ("cuda", -1), ("cuda:0", 1), ("cuda:x",), ("tpu",)]


def _device(m, spec):
    try:
        d = m.device(*spec)
    except Exception as e:  # noqa: BLE001 - the class is compared
        return e
    return d.type, d.index, str(d), repr(d)


@pytest.mark.parametrize("spec", DEVICE_SPECS, ids=str)
def test_device_fields_str_repr_as_pytorch(spec):
    theirs, ours = _device(torch, spec), _device(cr, spec)
    if isinstance(theirs, Exception):
        assert isinstance(ours, RuntimeError), (ours, theirs)
    else:
        assert ours == theirs


@pytest.mark.parametrize("a, b", [("cuda", "cuda:0"), ("cpu", "cpu:0"), ("cpu", "cpu"), ("cuda:1", "cuda:1"),
                                  ("cuda:0", "cuda:1"), ("cpu", "cuda")])
def test_device_equality_and_hash_as_pytorch(a, b):
    def facts(m):
        x, y = m.device(a), m.device(b)
        return x == y, x != y, hash(x) == hash(y), x == b, x == m.device(x), len({x, y})
    assert facts(cr) == facts(torch)


def test_device_of_tensors_and_index_none():
    assert cr.zeros(1).device.index is None is torch.zeros(1).device.index
    assert cr.device("cuda").index is None and cr.device("cuda:1").index == 1
    assert cr.device("cpu", 0).index == 0 and str(cr.device("cpu", 0)) == "cpu:0"


LEGACY = {
    "float_of_long_tensor": lambda m: m.FloatTensor(m.tensor([1, 2])),
    "float_of_double_tensor": lambda m: m.FloatTensor(m.tensor([1.5, 2], dtype=m.float64)),
    "float_of_float_tensor": lambda m: m.FloatTensor(m.tensor([1.5, 2])),
    "long_of_float_tensor": lambda m: m.LongTensor(m.tensor([1.5, 2])),
    "float_of_list": lambda m: m.FloatTensor([1, 2]),
    "float_of_nested_list": lambda m: m.FloatTensor([[1, 2], [3, 4]]),
    "float_of_tuple_is_data": lambda m: m.FloatTensor((2, 3)),
    "float_of_sizes": lambda m: m.FloatTensor(3, 4).zero_(),
    "float_of_one_size": lambda m: m.FloatTensor(3).zero_(),
    "float_of_Size_is_sizes": lambda m: m.FloatTensor(m.Size([2, 3])).zero_(),
    "float_of_nothing": lambda m: m.FloatTensor(),
    "float_of_zero": lambda m: m.FloatTensor(0),
    "float_of_negative": lambda m: m.FloatTensor(-1),
    "float_of_numpy_int": lambda m: m.FloatTensor(np.array([1, 2], dtype=np.int32)),
    "float_of_numpy_double": lambda m: m.FloatTensor(np.array([1.5, 2])),
    "float_of_a_float": lambda m: m.FloatTensor(2.5),
    "float_of_a_string": lambda m: m.FloatTensor("ab"),
    "float_of_two_lists": lambda m: m.FloatTensor([1], [2]),
    "float_with_dtype": lambda m: m.FloatTensor(2, dtype=m.float64),
    "float_with_cpu_device": lambda m: m.FloatTensor([1], device="cpu"),
    "long_of_floats": lambda m: m.LongTensor([1.7, 2]),
    "bool_of_list": lambda m: m.BoolTensor([1, 0]),
    "double_of_list": lambda m: m.DoubleTensor([1, 2]),
    "byte_of_list": lambda m: m.ByteTensor([1, 2]),
    "Tensor_of_size": lambda m: m.Tensor(3).zero_(),
    "Tensor_of_sizes": lambda m: m.Tensor(2, 3).zero_(),
    "Tensor_of_list": lambda m: m.Tensor([1, 2]),
    "Tensor_of_bools": lambda m: m.Tensor([True, False]),
    "Tensor_of_long_tensor": lambda m: m.Tensor(m.tensor([1, 2])),
    "Tensor_of_nothing": lambda m: m.Tensor(),
    "Tensor_of_numpy": lambda m: m.Tensor(np.array([1, 2])),
    "float_alias_shares_memory": lambda m: (lambda t: (m.FloatTensor(t).add_(1), t)[1])(m.tensor([1.0, 2.0])),
    "Tensor_alias_shares_memory": lambda m: (lambda t: (m.Tensor(t).add_(1), t)[1])(m.tensor([1, 2])),
    "type_to_legacy_class": lambda m: m.tensor([1, 2]).type(m.FloatTensor),
    "type_to_legacy_name": lambda m: m.tensor([1, 2]).type("torch.DoubleTensor"),
    "type_to_dtype": lambda m: m.tensor([1, 2]).type(m.float64),
}


@pytest.mark.parametrize("name", sorted(LEGACY))
def test_legacy_constructors_as_pytorch(name):
    def run(m):
        try:
            t = LEGACY[name](m)
        except Exception as e:  # noqa: BLE001 - the class is compared
            return e
        return str(t.dtype).split(".")[-1], tuple(t.shape), t.tolist()
    theirs, ours = run(torch), run(cr)
    if isinstance(theirs, Exception):
        assert isinstance(ours, type(theirs)), (ours, theirs)
    else:
        assert ours == theirs


def test_legacy_alias_keeps_the_graph():
    for m in (cr, torch):
        x = m.ones(2, requires_grad=True)
        y = m.FloatTensor(x)
        assert y.requires_grad and y is not x
        (y * 3).sum().backward()
        assert x.grad.tolist() == [3.0, 3.0]


def test_isinstance_of_legacy_types():
    for m in (cr, torch):
        assert isinstance(m.zeros(1), m.FloatTensor) and isinstance(m.zeros(1).long(), m.LongTensor)
        assert not isinstance(m.zeros(1), m.LongTensor) and not isinstance([1.0], m.FloatTensor)


@pytest.mark.parametrize("expr", [
    lambda m, x, y: x == None,  # noqa: E711 - the comparison under test
    lambda m, x, y: x != None,  # noqa: E711
    lambda m, x, y: None == x,  # noqa: E711
    lambda m, x, y: x == "a",
    lambda m, x, y: x != "a",
    lambda m, x, y: x == object(),
    lambda m, x, y: x in [None, x],
    lambda m, x, y: x in {x: 1},
    lambda m, x, y: [y, x].index(x) if False else [x].index(x),
    lambda m, x, y: x.__eq__(None) is NotImplemented,
    lambda m, x, y: x.__eq__([1.0, 1.0]) is NotImplemented,
    lambda m, x, y: (x == 1).tolist(),
    lambda m, x, y: (x != y).tolist(),
    lambda m, x, y: (x == np.ones(2)).tolist(),
    lambda m, x, y: x in [y, x],
], ids=lambda f: "")
def test_comparisons_with_none_and_non_tensors_as_pytorch(expr):
    def run(m):
        x, y = m.ones(2), m.tensor([1.0, 2.0])
        try:
            return expr(m, x, y)
        except Exception as e:  # noqa: BLE001 - compared by class
            return RuntimeError if isinstance(e, RuntimeError) else type(e)
    assert run(cr) == run(torch)
