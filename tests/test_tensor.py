"""The Tensor API against torch: metadata, conversions, autograd attributes, repr."""
import copy
import pickle

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.errors import DTypeError, ShapeError
from tests.torch_oracle import assert_close


def test_metadata():
    t = cr.zeros(2, 3, 4)
    assert t.shape == (2, 3, 4) and isinstance(t.shape, cr.Size)
    assert repr(t.shape) == "chainrule.Size([2, 3, 4])"
    assert t.size() == (2, 3, 4) and t.size(1) == 3 and t.size(-1) == 4
    assert t.ndim == 3 and t.dim() == 3 and t.numel() == 24 and t.shape.numel() == 24
    assert t.dtype == cr.float32 and t.device == cr.device("cpu") and str(t.device) == "cpu"
    assert t.device == cr.device("cpu") and not t.is_cuda
    assert len(t) == 2 and t.is_floating_point() and t.is_contiguous()
    assert t.stride() == torch.zeros(2, 3, 4).stride()
    with pytest.raises(IndexError, match="out of range"):
        t.size(3)
    with pytest.raises(TypeError):
        len(cr.tensor(1.0))


def test_item_tolist_numpy():
    assert cr.tensor([[2.5]]).item() == 2.5 and isinstance(cr.tensor(3).item(), int)
    with pytest.raises(ShapeError, match="one-element"):
        cr.ones(2).item()
    assert cr.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    assert cr.tensor(1.5).tolist() == 1.5
    x = cr.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"detach\(\)\.numpy\(\)"):
        x.numpy()
    assert x.detach().numpy().tolist() == [1.0, 1.0]
    assert np.asarray(cr.ones(2)).tolist() == [1.0, 1.0]
    assert float(cr.tensor([2.0])) == 2.0 and int(cr.tensor(3.7)) == 3
    assert [10, 20, 30][cr.tensor(1)] == 20
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(cr.ones(2))


def test_transposes():
    a = np.arange(24.0).reshape(2, 3, 4)
    assert_close(cr.tensor(a).mT, torch.tensor(a).mT)
    m = np.arange(6.0).reshape(2, 3)
    assert_close(cr.tensor(m).T, torch.tensor(m).T)


def test_requires_grad_rules():
    x = cr.tensor([1.0])
    assert not x.requires_grad
    assert x.requires_grad_() is x and x.requires_grad
    x.requires_grad = False
    assert not x.requires_grad
    with pytest.raises(DTypeError, match="floating-point"):
        cr.tensor([1, 2]).requires_grad_()
    with pytest.raises(DTypeError):
        cr.tensor([True]).requires_grad = True
    y = cr.ones(1, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad = False
    y.requires_grad_(True)  # setting True on a non-leaf is a no-op, as in torch
    assert y.requires_grad


def test_is_leaf_grad_fn_and_names():
    x = cr.ones(2, requires_grad=True)
    c = cr.ones(2)
    y = x * 2
    assert x.is_leaf and c.is_leaf and not y.is_leaf
    assert x.grad_fn is None and y.grad_fn is not None
    assert y.grad_fn.name() == "MulBackward" and "MulBackward" in repr(y.grad_fn)
    assert (c * 2).is_leaf  # nothing requires grad: a leaf, as torch


def test_detach_shares_memory_and_cuts_graph():
    x = cr.ones(2, requires_grad=True)
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.is_leaf and d.grad_fn is None
    assert np.shares_memory(d.numpy(), y.detach().numpy())
    z = (d * x).sum()
    z.backward()
    assert x.grad.tolist() == [2.0, 2.0]


def test_detach_inplace():
    x = cr.ones(2, requires_grad=True)
    y = x * 2
    assert y.detach_() is y and y.is_leaf and not y.requires_grad


def test_clone_copies_and_keeps_graph():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    c = x.clone()
    assert not np.shares_memory(c.detach().numpy(), x.detach().numpy())
    assert c.grad_fn is not None
    (c * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]


def test_grad_setter_checks():
    x = cr.ones(2, requires_grad=True)
    x.grad = cr.tensor([1.0, 2.0])
    assert x.grad.tolist() == [1.0, 2.0]
    (x * 1).sum().backward()
    assert x.grad.tolist() == [2.0, 3.0]
    with pytest.raises(ShapeError, match="shape"):
        x.grad = cr.ones(3)
    with pytest.raises(TypeError):
        x.grad = [1.0, 2.0]


def test_assigned_grad_is_not_mutated_by_backward():
    x = cr.ones(2, requires_grad=True)
    g = cr.tensor([1.0, 1.0])
    x.grad = g
    (x * 1).sum().backward()
    assert g.tolist() == [1.0, 1.0] and x.grad.tolist() == [2.0, 2.0]


def test_backward_arguments_match_torch():
    a = np.array([[0.5, -1.0], [2.0, 0.25]])
    x, xt = cr.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    v = np.array([[1.0, 2.0], [3.0, 4.0]])
    y, yt = x.exp() * x, xt.exp() * xt
    y.backward(cr.tensor(v), retain_graph=True)
    yt.backward(torch.tensor(v), retain_graph=True)
    y.backward(cr.tensor(v))
    yt.backward(torch.tensor(v))
    assert_close(x.grad, xt.grad)


def test_backward_gradient_as_list_and_dtype_cast():
    x = cr.ones(2, requires_grad=True)
    (x * 2).backward([1.0, 0.5])
    assert x.grad.tolist() == [2.0, 1.0]


def test_backward_create_graph_on_tensor_method():
    x = cr.tensor(3.0, requires_grad=True)
    (x ** 3).backward(create_graph=True)
    g = x.grad
    assert g.requires_grad and g.item() == 27.0
    x.grad = None
    g.backward()
    assert x.grad.item() == 18.0


def test_register_hook_and_retain_grad_on_tensor():
    x = cr.ones(2, requires_grad=True)
    h = x * 2
    h.retain_grad()
    handle = h.register_hook(lambda g: g * 3)
    (h * 5).sum().backward()
    assert x.grad.tolist() == [30.0, 30.0]
    handle.remove()


@pytest.mark.parametrize("make", [
    lambda lib: lib.tensor([1.0, 2.0]),
    lambda lib: lib.tensor([1.0, 2.0], requires_grad=True),
    lambda lib: lib.tensor([[1.5, -2.25], [3.0, 4.0]]),
    lambda lib: lib.tensor([1, -20, 300]),
    lambda lib: lib.tensor([True, False]),
    lambda lib: lib.tensor(2.5),
    lambda lib: lib.tensor(7),
    lambda lib: lib.tensor([1e-5, 1.0]),
    lambda lib: lib.tensor([1e10, 1.0, -3.0]),
    lambda lib: lib.tensor([float("nan"), float("inf"), -1.0]),
    lambda lib: lib.tensor([0.0, 0.0]),
    lambda lib: lib.tensor([1.0, 2.0], dtype=lib.float64),
    lambda lib: lib.tensor([1.0, 2.0], dtype=lib.float16),
    lambda lib: lib.tensor([1, 2], dtype=lib.int32),
    lambda lib: lib.zeros(0),
    lambda lib: lib.zeros(0, 3),
    lambda lib: lib.zeros(0, dtype=lib.int64),
    lambda lib: lib.arange(2000, dtype=lib.float32).reshape(40, 50) / 7,
    lambda lib: lib.arange(30.0).reshape(2, 3, 5),
    lambda lib: lib.linspace(-1, 1, 24),
], ids=lambda f: "")
def test_repr_matches_torch(make):
    ours = repr(make(cr))
    theirs = repr(make(torch)).replace("torch.", "chainrule.")
    assert ours == theirs


def test_repr_shows_grad_fn():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    assert repr(x * 2) == "tensor([2., 4.], grad_fn=<MulBackward>)"
    assert str(x) == "tensor([1., 2.], requires_grad=True)"
    assert f"{cr.tensor(2.5):.2f}" == "2.50"


def test_deepcopy_and_no_pickle():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    (x * 2).sum().backward()
    y = copy.deepcopy(x)
    assert y.requires_grad and y.grad.tolist() == [2.0, 2.0]
    y.add_(1) if not y.requires_grad else None
    assert not np.shares_memory(y.detach().numpy(), x.detach().numpy())
    with pytest.raises(TypeError, match="safetensors"):
        pickle.dumps(x)


def test_iteration_and_hash():
    t = cr.tensor([[1, 2], [3, 4]])
    assert [r.tolist() for r in t] == [[1, 2], [3, 4]]
    assert {t: 1}[t] == 1  # hashed by identity
    with pytest.raises(TypeError):
        iter(cr.tensor(1))


def test_data_property():
    x = cr.ones(2, requires_grad=True)
    d = x.data
    assert not d.requires_grad and np.shares_memory(d.numpy(), x.detach().numpy())
    x.data = cr.zeros(2)
    assert x.tolist() == [0.0, 0.0] and x.requires_grad


def test_version_counter_is_shared_by_views_and_bumped_in_place():
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2  # an op's result: its counter is made when first needed
    v = y[1:]
    assert y._version == 0 and v._version == 0
    with cr.no_grad():
        v.add_(1)
    assert y._version == 1 and v._version == 1
    with pytest.raises(AttributeError):
        y.no_such_attribute
