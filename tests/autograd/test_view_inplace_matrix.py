"""Views and in-place ops, every combination against PyTorch: same gradient, or both raise.

A view shares memory, a version counter and a history with its base. After an
in-place change of the base, of the view, or of a view of the view, the gradient
through either must be PyTorch's (or chainrule must raise where PyTorch raises):
never the gradient from before the change.

The matrix: {view kind} x {what is changed} x {in-place op} x {backward through}.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr

# each view kind: a function of the (3, 4) base; every kind runs on both libraries
VIEWS = {
    "slice": lambda a: a[1:, 1:3],
    "index": lambda a: a[[0, 2]],            # advanced indexing: a copy, not a view
    "select": lambda a: a[1],
    "narrow": lambda a: a.narrow(1, 1, 2),
    "view": lambda a: a.view(2, 6),
    "reshape": lambda a: a.reshape(4, 3),
    "transpose": lambda a: a.transpose(0, 1),
    "t": lambda a: a.t(),
    "expand": lambda a: a.unsqueeze(0).expand(2, 3, 4),
    "diagonal": lambda a: a.diagonal(),
    "unbind": lambda a: a.unbind(0)[1],
    "chunk": lambda a: a.chunk(2, 1)[1],
    "split": lambda a: a.split(1, 0)[2],
    "unfold": lambda a: a.unfold(1, 2, 2),
    "squeeze": lambda a: a[1:2].squeeze(0),
    "permute": lambda a: a.permute(1, 0),
    "ellipsis_none": lambda a: a[None, ..., 2],
    "flatten_rows": lambda a: a[1:].flatten(),
}

# each in-place op: a function of (target, w), w a 0-d tensor that requires grad
OPS = {
    "add_": lambda t, w: t.add_(w),
    "mul_": lambda t, w: t.mul_(w),
    "copy_": lambda t, w: t.copy_(w),
    "fill_": lambda t, w: t.fill_(2.5),
    "zero_": lambda t, w: t.zero_(),
    "clamp_": lambda t, w: t.clamp_(3.0, 8.0),
    "setitem": lambda t, w: t.__setitem__((Ellipsis, slice(0, 1)), w * 2),
    "iadd": lambda t, w: t.__iadd__(w * w),
    "div_": lambda t, w: t.div_(w),
    "exp_": lambda t, w: t.sub_(6).exp_(),
    "relu_": lambda t, w: t.sub_(6).relu_(),
    "masked_fill_": lambda t, w: t.masked_fill_(t > 5, w),
}


def _program(m, view: str, target: str, op: str, through: str):
    """Build the case with library ``m``; return (gradients of x and w, the output's values)."""
    x = m.tensor(np.arange(1.0, 13.0).reshape(3, 4), requires_grad=True)
    w = m.tensor(1.5, requires_grad=True)
    a = x * 1
    v = VIEWS[view](a)
    vv = v.narrow(-1, 0, 1)
    OPS[op]({"base": a, "view": v, "view_of_view": vv}[target], w)
    out = {"base": a, "view": v, "view_of_view": vv}[through]
    weights = m.tensor(np.arange(1.0, out.numel() + 1.0).reshape(tuple(out.shape)))
    loss = (out * weights).sum()
    gx, gw = m.autograd.grad(loss, [x, w], allow_unused=True)
    arr = lambda t: None if t is None else np.array(t.detach().numpy())  # noqa: E731
    return arr(gx), arr(gw), arr(out)


def _outcome(m, *case):
    try:
        return _program(m, *case), None
    except Exception as e:  # noqa: BLE001 - raising is one of the two outcomes compared
        return None, e


CASES = [(v, t, o, b) for v in VIEWS for t in ("base", "view", "view_of_view") for o in OPS
         for b in ("base", "view", "view_of_view")]


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(c))
def test_matches_pytorch(case):
    theirs, their_error = _outcome(torch, *case)
    ours, our_error = _outcome(cr, *case)
    if their_error is not None:
        assert our_error is not None, f"PyTorch raises ({their_error}); chainrule returns {ours}"
        assert not isinstance(our_error, (AttributeError, TypeError, NameError)), our_error
        return
    assert our_error is None, f"PyTorch gives {theirs}; chainrule raises {our_error!r}"
    for name, o, t in zip(("x.grad", "w.grad", "output"), ours, theirs):
        if t is None:
            assert o is None or not np.any(o), f"{name}: PyTorch has none, chainrule {o}"
        else:
            assert o is not None, f"{name}: chainrule has none, PyTorch {t}"
            np.testing.assert_allclose(o, t, rtol=1e-12, atol=1e-12, err_msg=name)


def test_the_issue_example():
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    a = x * 1
    v = a[1:]
    a.mul_(3)
    v.sum().backward()
    assert x.grad.tolist() == [0.0, 3.0, 3.0]


# ------------------------------------------------ beyond the matrix: modes and leaves --
def _both(program):
    """program(m) on both libraries: (result or None, error or None) for each."""
    out = []
    for m in (torch, cr):
        try:
            out.append((program(m), None))
        except Exception as e:  # noqa: BLE001
            out.append((None, e))
    return out


def _grad_list(m, loss, x):
    return m.autograd.grad(loss, x)[0].tolist()


@pytest.mark.parametrize("program", [
    # a view made in no_grad, its base then changed with grad on: both refuse
    lambda m: _no_grad_view(m, change="base"),
    # a view made in no_grad, changed itself with grad on
    lambda m: _no_grad_view(m, change="view"),
    # a view of a leaf that requires grad, changed in place
    lambda m: m.ones(3, requires_grad=True)[1:].mul_(2),
    # the outputs of unbind: a change of one, and of the base while one is used
    lambda m: (m.ones(2, 3, requires_grad=True) * 1).unbind(0)[0].add_(1),
    lambda m: _multi_output_then_base(m),
], ids=["no_grad_view_base_changed", "no_grad_view_changed", "view_of_leaf", "unbind_output",
        "unbind_base_changed"])
def test_refused_as_in_pytorch(program):
    (_, their_error), (ours, our_error) = _both(program)
    assert their_error is not None
    assert our_error is not None, f"PyTorch raises {their_error}; chainrule gives {ours}"
    assert isinstance(our_error, RuntimeError), our_error


def _no_grad_view(m, change):
    x = m.ones(2, 3, requires_grad=True)
    a = x * 1
    with m.no_grad():
        v = a[1:]
    (a if change == "base" else v).mul_(2)
    return _grad_list(m, (v * 1).sum(), x)


def _multi_output_then_base(m):
    x = m.ones(2, 3, requires_grad=True)
    a = x * 1
    row = a.unbind(0)[1]
    a.mul_(2)
    return _grad_list(m, (row * 1).sum(), x)


@pytest.mark.parametrize("program", [
    # views and changes outside grad mode write memory and keep histories
    lambda m: _no_grad_change(m),
    # a detach()ed alias is no autograd view: a recorded change of it is its own history
    lambda m: _detached_alias(m),
    # retain_grad on a view whose base then changes
    lambda m: _retained_view(m),
    # a chain of changes through views of views, then the base
    lambda m: _chain_of_changes(m),
    # a view kept from before a change and one made after
    lambda m: _old_and_new_views(m),
], ids=["no_grad_change", "detached_alias", "retained_view", "chain_of_changes", "old_and_new_views"])
def test_same_as_pytorch(program):
    (theirs, their_error), (ours, our_error) = _both(program)
    assert their_error is None, their_error
    assert our_error is None, f"PyTorch gives {theirs}; chainrule raises {our_error!r}"
    assert len(ours) == len(theirs)
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(np.array(o, dtype=float), np.array(t, dtype=float), rtol=1e-12)


def _no_grad_change(m):
    x = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
    a = x * 2
    v = a[1:]
    with m.no_grad():
        v.mul_(10)
    return [a.tolist(), _grad_list(m, (v * v).sum(), x)]


def _detached_alias(m):
    x = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
    w = m.tensor(2.0, requires_grad=True)
    d = (x * 1).detach()
    d.mul_(w)
    return [d.tolist(), m.autograd.grad(d.sum(), w)[0].tolist()]


def _retained_view(m):
    x = m.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    a = x * 1
    v = a[1:3]
    v.retain_grad()
    a.mul_(x)
    (v * m.tensor([1.0, 10.0])).sum().backward()
    return [v.grad.tolist(), x.grad.tolist()]


def _chain_of_changes(m):
    x = m.arange(1.0, 13.0).reshape(3, 4).requires_grad_()
    w = m.tensor(0.5, requires_grad=True)
    a = x * 1
    v = a.t()[1:]
    vv = v[:, ::2]
    vv.mul_(w)
    v.add_(x[0, :3])
    a.diagonal().copy_(w * 3)
    a.mul_(a.detach() + 1)
    loss = (a * m.arange(12.0).reshape(3, 4)).sum() + (vv ** 2).sum()
    return [g.tolist() for g in m.autograd.grad(loss, [x, w])]


def _old_and_new_views(m):
    x = m.arange(1.0, 7.0).requires_grad_()
    a = x ** 2
    old = a[:3]
    a[2:].mul_(3)
    new = a[:3]
    return [old.tolist(), new.tolist(), _grad_list(m, (old * new).sum(), x)]


def test_second_order_through_a_change_made_through_a_view():
    """create_graph through view_scatter: gradgradcheck in float64."""
    def f(x, w):
        a = x * x
        a[1:, ::2].mul_(w)
        a.diagonal().add_(w)
        return a
    x = cr.randn(3, 4, dtype=cr.float64, requires_grad=True)
    w = cr.randn(1, dtype=cr.float64, requires_grad=True)
    assert cr.autograd.gradcheck(f, (x, w))
    assert cr.autograd.gradgradcheck(f, (x, w))


def test_views_do_not_keep_a_base_s_registry_growing():
    from chainrule.ops.view_meta import live_views
    a = cr.ones(1000, requires_grad=True) * 1
    kept = a[:5]
    for i in range(900):
        a[i:i + 2].sum()
    assert len(a._views) <= 64  # dead views' references are dropped as views are made
    assert [v is kept for v in live_views(a)] == [True]
