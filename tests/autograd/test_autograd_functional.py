"""chainrule.autograd.functional against torch.autograd.functional: vjp, jvp, jacobian,
hessian, vhp, hvp, with single and tuple inputs/outputs, create_graph and strict."""
import numpy as np
import pytest
import torch
import torch.autograd.functional as TF

import chainrule as cr
import chainrule.autograd.functional as CF
from tests.torch_oracle import assert_close

A = np.array([0.3, -1.2, 0.8])
B = np.array([[1.5, -0.4], [0.2, 0.9]])


def f_single(x):
    return x.sin() * x.sum() + x ** 3


def f_scalar(x):
    return (x.exp() * x).sum() + x.prod()


def f_pair(x, y):
    return (x.unsqueeze(1) * y[0]).tanh(), (y ** 2).sum() * x


def f_pair_scalar(x, y):
    return (x.sum() * y).pow(2).sum() + x.cos().sum()


CASES = [(f_single, (A,)), (f_scalar, (A,)), (f_pair, (A, B)), (f_pair_scalar, (A, B))]


def _args(lib, arrays, tuple_form):
    ts = tuple(lib.tensor(a.copy()) for a in arrays)
    return ts if tuple_form or len(ts) > 1 else ts[0]


def _close(ours, theirs):
    if isinstance(theirs, tuple):
        assert isinstance(ours, tuple) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            _close(a, b)
    else:
        assert_close(ours, theirs)


@pytest.mark.parametrize("fn, arrays", CASES)
@pytest.mark.parametrize("tuple_form", [False, True])
def test_jacobian(fn, arrays, tuple_form):
    _close(CF.jacobian(fn, _args(cr, arrays, tuple_form)),
           TF.jacobian(fn, _args(torch, arrays, tuple_form)))


@pytest.mark.parametrize("fn, arrays", [CASES[1], CASES[3]])
@pytest.mark.parametrize("tuple_form", [False, True])
def test_hessian_vhp_hvp(fn, arrays, tuple_form):
    _close(CF.hessian(fn, _args(cr, arrays, tuple_form)),
           TF.hessian(fn, _args(torch, arrays, tuple_form)))
    rng = np.random.default_rng(0)
    vs = [rng.normal(size=a.shape) for a in arrays]
    for ours, theirs in ((CF.vhp, TF.vhp), (CF.hvp, TF.hvp)):
        _close(ours(fn, _args(cr, arrays, tuple_form), _args(cr, vs, tuple_form)),
               theirs(fn, _args(torch, arrays, tuple_form), _args(torch, vs, tuple_form)))


@pytest.mark.parametrize("fn, arrays", CASES)
def test_vjp_jvp(fn, arrays):
    rng = np.random.default_rng(1)
    outs = fn(*_args(torch, arrays, True))
    outs = outs if isinstance(outs, tuple) else (outs,)
    us = [rng.normal(size=tuple(o.shape)) for o in outs]
    vs = [rng.normal(size=a.shape) for a in arrays]
    u = lambda lib: _args(lib, us, isinstance(fn(*_args(torch, arrays, True)), tuple))  # noqa: E731
    _close(CF.vjp(fn, _args(cr, arrays, False), u(cr)), TF.vjp(fn, _args(torch, arrays, False), u(torch)))
    _close(CF.jvp(fn, _args(cr, arrays, False), _args(cr, vs, False)),
           TF.jvp(fn, _args(torch, arrays, False), _args(torch, vs, False)))


def test_create_graph_and_defaults():
    xc, xt = cr.tensor(A, requires_grad=True), torch.tensor(A, requires_grad=True)
    jc = CF.jacobian(f_single, xc, create_graph=True)
    jt = TF.jacobian(f_single, xt, create_graph=True)
    assert jc.requires_grad and jt.requires_grad
    jc.pow(2).sum().backward()
    jt.pow(2).sum().backward()
    assert_close(xc.grad, xt.grad)
    assert not CF.jacobian(f_single, xc).requires_grad
    s = lambda x: (x * x).sum()  # noqa: E731
    _close(CF.vjp(s, cr.tensor(A)), TF.vjp(s, torch.tensor(A)))  # v=None for a scalar output
    one = lambda x: x.exp()  # noqa: E731
    _close(CF.jvp(one, cr.tensor([0.5])), TF.jvp(one, torch.tensor([0.5])))


def test_strict_and_errors():
    indep = lambda x, y: x * 2  # noqa: E731
    args_c, args_t = (cr.tensor(A), cr.tensor(A)), (torch.tensor(A), torch.tensor(A))
    _close(CF.jacobian(indep, args_c), TF.jacobian(indep, args_t))  # zeros for y
    with pytest.raises(RuntimeError):
        TF.vjp(indep, args_t, torch.ones(3), strict=True)
    with pytest.raises(RuntimeError, match="strict mode"):
        CF.vjp(indep, args_c, cr.ones(3), strict=True)
    with pytest.raises(RuntimeError, match="v can only be None"):
        CF.vjp(f_single, cr.tensor(A))
    with pytest.raises(RuntimeError, match="single element"):
        CF.hessian(f_single, cr.tensor(A))
    with pytest.raises(ValueError, match="shape"):
        CF.vjp(f_single, cr.tensor(A), cr.ones(2))
    with pytest.raises(TypeError, match="must be a Tensor"):
        CF.jacobian(f_single, [cr.tensor(A)])
