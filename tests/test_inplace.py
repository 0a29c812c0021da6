"""In-place ops: values and dtypes vs torch, gradients through in-place changes of graph
tensors vs torch, and PyTorch's errors (leaf, view, dtype, shape, saved-tensor version)."""
import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.errors import BackwardError, DTypeError, ShapeError
from tests.torch_oracle import assert_close

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

A = np.array([[1.5, -2.0, 3.0], [0.5, 4.0, -1.0]])
B = np.array([2.0, -0.5, 1.5])

# name → (chainrule, torch) in-place application to a tensor and a second operand
OPS = {
    "add_": (lambda t, o: t.add_(o), lambda t, o: t.add_(o)),
    "add_alpha": (lambda t, o: t.add_(o, alpha=2), lambda t, o: t.add_(o, alpha=2)),
    "sub_": (lambda t, o: t.sub_(o), lambda t, o: t.sub_(o)),
    "mul_": (lambda t, o: t.mul_(o), lambda t, o: t.mul_(o)),
    "div_": (lambda t, o: t.div_(o), lambda t, o: t.div_(o)),
    "iadd": (lambda t, o: t.__iadd__(o), lambda t, o: t.__iadd__(o)),
    "isub": (lambda t, o: t.__isub__(o), lambda t, o: t.__isub__(o)),
    "imul": (lambda t, o: t.__imul__(o), lambda t, o: t.__imul__(o)),
    "idiv": (lambda t, o: t.__itruediv__(o), lambda t, o: t.__itruediv__(o)),
    "clamp_": (lambda t, o: t.clamp_(-1.0, 2.0), lambda t, o: t.clamp_(-1.0, 2.0)),
    "zero_": (lambda t, o: t.zero_(), lambda t, o: t.zero_()),
    "fill_": (lambda t, o: t.fill_(7.5), lambda t, o: t.fill_(7.5)),
    "copy_": (lambda t, o: t.copy_(o), lambda t, o: t.copy_(o)),
}


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("operand", ["tensor", "scalar"])
def test_inplace_values_outside_graph(name, operand):
    ours, theirs = OPS[name]
    a, at = cr.tensor(A), torch.tensor(A)
    o, ot = (cr.tensor(B), torch.tensor(B)) if operand == "tensor" else (3.0, 3.0)
    if name == "copy_" and operand == "scalar":
        pytest.skip("copy_ takes a tensor")
    arr_before = a._data
    out = ours(a, o)
    theirs(at, ot)
    assert out is a
    assert a._data is arr_before  # really in place: the same memory
    assert a._version >= 1
    assert_close(a, at)


@pytest.mark.parametrize("name", sorted(OPS))
def test_inplace_gradient_on_non_leaf_matches_torch(name):
    ours, theirs = OPS[name]
    x, xt = cr.tensor(A, requires_grad=True), torch.tensor(A, requires_grad=True)
    w, wt = cr.tensor(B, requires_grad=True), torch.tensor(B, requires_grad=True)
    h, ht = x * 2, xt * 2
    ours(h, w * 1)
    theirs(ht, wt * 1)
    assert_close(h, ht)
    (h * h.detach().abs().add(1)).sum().backward()
    (ht * ht.detach().abs().add(1)).sum().backward()
    assert_close(x.grad, xt.grad, msg=f"{name} x.grad")
    if wt.grad is not None:
        assert_close(w.grad if w.grad is not None else cr.zeros(3, dtype=cr.float64), wt.grad,
                     msg=f"{name} w.grad")


@pytest.mark.parametrize("fill", [lambda h, w: h.fill_(2.0), lambda h, w: h.zero_(),
                                  lambda h, w: h.copy_(w), lambda h, w: h.fill_(w.sum())])
def test_fill_and_copy_over_inf_and_nan_in_graph(fill):
    grads = []
    for lib in (cr, torch):
        x = lib.tensor([0.0, -1.0, 4.0], requires_grad=True)
        w = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        h = x.log()  # -inf, nan, finite
        fill(h, w)
        assert h.isfinite().all().item(), h  # the old values leave no trace
        (h * 2).sum().backward()
        grads.append((x.grad.numpy(), None if w.grad is None else w.grad.numpy()))
    for ours, theirs in zip(*grads):
        if theirs is None:
            assert ours is None
        else:
            np.testing.assert_array_equal(ours, theirs)  # log's 0/0 at x=0 is nan in both


def test_inplace_on_leaf_under_no_grad_keeps_leaf():
    p = cr.tensor([1.0, 2.0], requires_grad=True)
    with cr.no_grad():
        p.sub_(cr.tensor([0.5, 0.5]) * 2)
        p *= 3
        p[0] = 10.0
    assert p.is_leaf and p.requires_grad and p.grad_fn is None
    assert p.tolist() == [10.0, 3.0]


def test_inplace_on_leaf_requiring_grad_errors():
    p = cr.tensor([1.0, 2.0], requires_grad=True)
    for fn in (lambda: p.add_(1), lambda: p.mul_(2), lambda: p.__iadd__(1), lambda: p.zero_(),
               lambda: p.__setitem__(0, 1.0)):
        with pytest.raises(RuntimeError, match="leaf tensor that requires grad.*no_grad"):
            fn()
    assert p.tolist() == [1.0, 2.0]


def test_inplace_on_view_of_graph_tensor_reaches_the_base_history():
    x = cr.ones(3, requires_grad=True)
    h = x * 2
    v = h[0:2]
    v.mul_(2)
    h.sum().backward()
    assert h.tolist() == [4.0, 4.0, 2.0]
    assert x.grad.tolist() == [4.0, 4.0, 2.0]  # PyTorch's: CopySlices through the view


def test_recorded_inplace_on_view_of_constant_makes_the_base_require_grad():
    c = cr.zeros(2, 3)
    w = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    c[0].add_(w)
    assert c.tolist() == [[1.0, 2.0, 3.0], [0.0] * 3]
    assert c.requires_grad and not c.is_leaf
    (c * cr.tensor([[1.0], [5.0]])).sum().backward()
    assert w.grad.tolist() == [1.0, 1.0, 1.0]


def test_inplace_on_view_outside_graph_writes_base():
    a = cr.tensor([[1.0, 2.0], [3.0, 4.0]])
    a[0].mul_(10)
    a.T.add_(1)
    assert a.tolist() == [[11.0, 21.0], [4.0, 5.0]]
    b = a.detach()
    b.zero_()
    assert a.tolist() == [[0.0, 0.0], [0.0, 0.0]]


def test_inplace_on_expanded_tensor_errors():
    e = cr.ones(3).expand(2, 3)
    for fn in (lambda: e.add_(1), lambda: e.fill_(0), lambda: e.__setitem__(0, 2.0),
               lambda: e.copy_(cr.zeros(2, 3))):
        with pytest.raises(RuntimeError, match="read-only"):
            fn()


@pytest.mark.parametrize("dtype,value", [(cr.int64, 1.5), (cr.int32, 2.5), (cr.bool, 1)])
def test_inplace_dtype_errors_like_torch(dtype, value):
    a = cr.tensor([1, 0], dtype=dtype)
    at = torch.tensor([1, 0], dtype=getattr(torch, dtype.name))
    with pytest.raises(RuntimeError):
        at += value
    with pytest.raises(DTypeError, match="can't be cast"):
        a += value


def test_int_tensor_plus_float_tensor_inplace_errors_and_div_too():
    a = cr.tensor([1, 2])
    with pytest.raises(DTypeError, match="float32.*int64"):
        a.add_(cr.tensor([0.5, 0.5]))
    with pytest.raises(DTypeError):
        a /= 2
    assert a.tolist() == [1, 2]


@pytest.mark.parametrize("dst,src", [("float32", "float64"), ("float64", "float32"),
                                     ("int32", "int64"), ("float32", "int64")])
def test_inplace_same_or_lower_category_keeps_dtype(dst, src):
    a = cr.ones(3, dtype=getattr(cr, dst))
    a += cr.ones(3, dtype=getattr(cr, src))
    at = torch.ones(3, dtype=getattr(torch, dst))
    at += torch.ones(3, dtype=getattr(torch, src))
    assert a.dtype.name == str(at.dtype).split(".")[1]
    assert a.tolist() == at.tolist()


def test_inplace_shape_mismatch_errors():
    a = cr.zeros(3)
    with pytest.raises(ShapeError, match=r"output with shape \(3,\).*\(2, 3\)"):
        a.add_(cr.ones(2, 3))
    with pytest.raises(ShapeError):
        a.copy_(cr.ones(4))
    b = cr.zeros(2, 3)
    b.add_(cr.ones(3))  # broadcasting the operand is fine
    assert b.tolist() == [[1.0] * 3] * 2


# ------------------------------------------------------------- __setitem__ --
INDEXES = {
    "int": (1, 9.0),
    "slice": (slice(0, 2), 9.0),
    "mask": ("mask", 9.0),
    "int_tensor": ("idx", 9.0),
    "row_tensor_value": (0, "row"),
}


def _index(key, lib):
    if key == "mask":
        return lib.tensor([[True, False, True], [False, True, False]])
    if key == "idx":
        return lib.tensor([1, 0])
    return key


@pytest.mark.parametrize("name", sorted(INDEXES))
def test_setitem_outside_graph(name):
    key, value = INDEXES[name]
    a, at = cr.tensor(A), torch.tensor(A)
    v, vt = (cr.tensor(B), torch.tensor(B)) if value == "row" else (value, value)
    a[_index(key, cr)] = v
    at[_index(key, torch)] = vt
    assert_close(a, at)


@pytest.mark.parametrize("name", sorted(INDEXES))
def test_setitem_on_non_leaf_gradient_matches_torch(name):
    key, value = INDEXES[name]
    x, xt = cr.tensor(A, requires_grad=True), torch.tensor(A, requires_grad=True)
    w, wt = cr.tensor(B, requires_grad=True), torch.tensor(B, requires_grad=True)
    h, ht = x.sin(), xt.sin()  # sin saves its input, not its output
    if value == "row":
        h[_index(key, cr)] = w * 2
        ht[_index(key, torch)] = wt * 2
    else:
        h[_index(key, cr)] = value
        ht[_index(key, torch)] = value
    (h * h).sum().backward()
    (ht * ht).sum().backward()
    assert_close(h, ht)
    assert_close(x.grad, xt.grad)
    if value == "row":
        assert_close(w.grad, wt.grad)


def test_setitem_grad_value_into_constant():
    c, ct = cr.zeros(4, dtype=cr.float64), torch.zeros(4, dtype=torch.float64)
    w, wt = cr.tensor([1.0, 2.0], requires_grad=True), torch.tensor([1.0, 2.0], requires_grad=True)
    c[1:3] = w
    ct[1:3] = wt
    assert c.requires_grad and not c.is_leaf
    (c * c).sum().backward()
    (ct * ct).sum().backward()
    assert_close(w.grad, wt.grad)


def test_setitem_errors():
    a = cr.zeros(3)
    with pytest.raises(ShapeError, match=r"shape \(3,\).*shape \(3,\)"):
        a[0:2] = cr.ones(3)
    with pytest.raises(IndexError, match="out of bounds"):
        a[5] = 1.0
    with pytest.raises(IndexError, match="integer or bool"):
        a[cr.tensor([0.0])] = 1.0


# ---------------------------------------------------------- version counter --
def test_modifying_saved_tensor_errors_at_backward():
    x = cr.ones(3, requires_grad=True)
    y = x * 2
    z = (y * y).sum()  # mul saves y
    y.add_(1)
    with pytest.raises(BackwardError, match="modified by an in-place operation.*version 1.*version 0"):
        z.backward()


def test_modifying_saved_output_errors():
    x = cr.ones(3, requires_grad=True)
    y = x.exp()  # exp saves its output
    y.mul_(2)
    with pytest.raises(BackwardError, match="in-place"):
        y.sum().backward()


@pytest.mark.parametrize("op", ["exp_", "sigmoid_", "tanh_", "sqrt_"])
def test_changing_output_saved_by_recorded_inplace_op_errors(op):
    # exp_ on a graph tensor saves its new value; changing that value later must be caught
    x = cr.ones(3, requires_grad=True)
    h = x * 2
    getattr(h, op)()
    with cr.no_grad():
        h.add_(1)
    with pytest.raises(BackwardError, match="in-place"):
        h.sum().backward()


def test_recorded_inplace_bumps_old_version_and_later_changes_are_seen():
    x = cr.ones(3, requires_grad=True)
    h = x * 2
    view = h.detach()  # shares the old array and counter
    h.add_(1)
    assert view._version == 1
    before = h._version
    with cr.no_grad():
        h.sub_(1)
    assert h._version == before + 1


def test_modifying_unsaved_tensor_is_fine():
    x, xt = cr.ones(3, requires_grad=True), torch.ones(3, requires_grad=True)
    y, yt = x * 2, xt * 2
    z, zt = y + y, yt + yt  # add saves nothing
    y.add_(1)
    yt.add_(1)
    (z.sum() + (y * y).sum()).backward()
    (zt.sum() + (yt * yt).sum()).backward()
    assert_close(x.grad, xt.grad)


def test_modifying_saved_leaf_under_no_grad_errors():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    loss = (w * w).sum()
    with cr.no_grad():
        w.sub_(1)  # an optimizer step before backward
    with pytest.raises(BackwardError, match="in-place"):
        loss.backward()


def test_version_counter_shared_by_views_and_detach():
    a = cr.ones(2, 2)
    v, d = a[0], a.detach()
    a.add_(1)
    assert a._version == v._version == d._version == 1
    v.mul_(2)
    assert a._version == 2


def test_inplace_returns_self_and_chains():
    a = cr.ones(2)
    assert a.add_(1).mul_(3) is a
    assert a.tolist() == [6.0, 6.0]
