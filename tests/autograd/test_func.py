"""chainrule.func against torch.func: grad, value_and_grad, vjp, jvp, jacrev, jacfwd, hessian."""
import numpy as np
import pytest
import torch
import torch.func as tf

import chainrule as cr
from chainrule import func as cf
from tests.torch_oracle import assert_close


def f_cr(x):
    return (x.sin() * x.exp()).sum() + (x * x).sum() ** 2 / 10


def f_t(x):
    return (torch.sin(x) * torch.exp(x)).sum() + (x * x).sum() ** 2 / 10


def vec_cr(x):
    return x.tanh() * x.sum() + x ** 3


def vec_t(x):
    return torch.tanh(x) * x.sum() + x ** 3


XV = np.array([0.3, -1.2, 0.8, 2.0])


def test_grad_matches_torch_and_is_detached():
    g = cf.grad(f_cr)(cr.tensor(XV))
    assert_close(g, tf.grad(f_t)(torch.tensor(XV)))
    assert not g.requires_grad


def test_grad_argnums_tuple_and_has_aux():
    def f(x, y):
        return (x * y.exp()).sum(), {"n": 3}
    (gx, gy), aux = cf.grad(f, argnums=(0, 1), has_aux=True)(cr.tensor(XV), cr.tensor(XV[::-1].copy()))
    (tx, ty), taux = tf.grad(lambda x, y: ((x * y.exp()).sum(), torch.tensor(3)), argnums=(0, 1), has_aux=True)(
        torch.tensor(XV), torch.tensor(XV[::-1].copy()))
    assert_close(gx, tx)
    assert_close(gy, ty)
    assert aux == {"n": 3}


def test_grad_negative_argnums_and_bad_argnums():
    gy = cf.grad(lambda x, y: (x * y).sum(), argnums=-1)(cr.tensor([2.0]), cr.tensor([5.0]))
    assert gy.tolist() == [2.0]
    with pytest.raises(ValueError, match="argnums"):
        cf.grad(lambda x: x.sum(), argnums=3)(cr.tensor([1.0]))


def test_value_and_grad():
    v, g = cf.value_and_grad(f_cr)(cr.tensor(XV))
    tv, tg = tf.grad_and_value(f_t)(torch.tensor(XV))[::-1]
    assert_close(v, tv)
    assert_close(g, tg)
    (v, aux), g = cf.value_and_grad(lambda x: ((x * x).sum(), "a"), has_aux=True)(cr.tensor([3.0]))
    assert v.item() == 9.0 and aux == "a" and g.tolist() == [6.0]


def test_grad_requires_scalar_output():
    with pytest.raises(ValueError, match=r"scalar.*shape \(4,\)"):
        cf.grad(vec_cr)(cr.tensor(XV))


def test_grad_of_function_not_depending_on_input_is_zero():
    g = cf.grad(lambda x, y: (y * 2).sum(), argnums=0)(cr.tensor([1.0, 2.0]), cr.tensor([1.0]))
    assert g.tolist() == [0.0, 0.0]


def test_grad_rejects_integer_input():
    with pytest.raises(TypeError, match="floating"):
        cf.grad(lambda x: x.sum())(cr.tensor([1, 2]))


def test_nested_grad_is_second_derivative():
    d2 = cf.grad(cf.grad(lambda x: x.sin() * x ** 2))(cr.tensor(0.7, dtype=cr.float64))
    t2 = tf.grad(tf.grad(lambda x: torch.sin(x) * x ** 2))(torch.tensor(0.7, dtype=torch.float64))
    assert_close(d2, t2)
    d3 = cf.grad(cf.grad(cf.grad(lambda x: x.exp() * x)))(cr.tensor(0.5, dtype=cr.float64))
    assert d3.item() == pytest.approx(np.exp(0.5) * 3.5)


def test_grad_on_input_that_requires_grad_keeps_graph():
    x = cr.tensor(XV, requires_grad=True)
    g = cf.grad(lambda t: (t ** 3).sum())(x)
    assert g.requires_grad
    g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * XV)


def test_vjp_matches_torch_and_can_be_called_twice():
    out, fn = cf.vjp(vec_cr, cr.tensor(XV))
    tout, tfn = tf.vjp(vec_t, torch.tensor(XV))
    assert_close(out, tout)
    for v in (np.ones(4), np.array([1.0, -2.0, 0.5, 3.0])):
        (g,) = fn(cr.tensor(v))
        (tg,) = tfn(torch.tensor(v))
        assert_close(g, tg)


def test_vjp_several_primals_and_outputs():
    def f(x, y):
        return x * y, (x + y).exp()
    out, fn = cf.vjp(f, cr.tensor(XV), cr.tensor(XV + 1))
    tout, tfn = tf.vjp(lambda x, y: (x * y, (x + y).exp()), torch.tensor(XV), torch.tensor(XV + 1))
    u, w = np.arange(4.0), np.ones(4)
    gx, gy = fn((cr.tensor(u), cr.tensor(w)))
    tx, ty = tfn((torch.tensor(u), torch.tensor(w)))
    assert_close(out[1], tout[1])
    assert_close(gx, tx)
    assert_close(gy, ty)


def test_vjp_cotangent_shape_error():
    _, fn = cf.vjp(vec_cr, cr.tensor(XV))
    with pytest.raises(ValueError, match="cotangent"):
        fn(cr.ones(3, dtype=cr.float64))


@pytest.mark.parametrize("fn", ["vec", "linear", "const_part"])
def test_jvp_matches_torch(fn):
    fns = {"vec": (vec_cr, vec_t),
           "linear": (lambda x: x * 3 - 1, lambda x: x * 3 - 1),
           "const_part": (lambda x: x.sum() * 0 + x.exp(), lambda x: x.sum() * 0 + x.exp())}
    f, ft = fns[fn]
    t = np.array([1.0, 0.5, -1.0, 2.0])
    out, jv = cf.jvp(f, (cr.tensor(XV),), (cr.tensor(t),))
    tout, tjv = tf.jvp(ft, (torch.tensor(XV),), (torch.tensor(t),))
    assert_close(out, tout)
    assert_close(jv, tjv)
    assert not jv.requires_grad


def test_jvp_two_primals():
    def f(x, y):
        return (x * y).sin()
    p = (cr.tensor(XV), cr.tensor(XV * 2))
    t = (cr.tensor(np.ones(4)), cr.tensor(np.arange(4.0)))
    out, jv = cf.jvp(f, p, t)
    _, tjv = tf.jvp(lambda x, y: torch.sin(x * y), tuple(torch.tensor(a.numpy()) for a in p),
                    tuple(torch.tensor(a.numpy()) for a in t))
    assert_close(jv, tjv)


def test_jvp_of_output_independent_of_input_is_zero():
    out, jv = cf.jvp(lambda x: cr.ones(2, dtype=cr.float64), (cr.tensor(XV),), (cr.tensor(XV),))
    assert jv.tolist() == [0.0, 0.0]


def test_jvp_tangent_shape_error():
    with pytest.raises(ValueError, match="tangent"):
        cf.jvp(vec_cr, (cr.tensor(XV),), (cr.ones(3),))


def test_jacrev_and_jacfwd_match_torch():
    x = cr.tensor(XV)
    jt = tf.jacrev(vec_t)(torch.tensor(XV))
    assert_close(cf.jacrev(vec_cr)(x), jt)
    assert_close(cf.jacfwd(vec_cr)(x), jt)


def test_jacobian_shapes_for_matrices():
    w = np.random.default_rng(0).standard_normal((2, 3))
    f = lambda m: (m @ cr.tensor(np.ones((3, 2)))).exp()  # noqa: E731
    ft = lambda m: torch.exp(m @ torch.ones(3, 2, dtype=torch.float64))  # noqa: E731
    jr = cf.jacrev(f)(cr.tensor(w))
    assert tuple(jr.shape) == (2, 2, 2, 3)
    assert_close(jr, tf.jacrev(ft)(torch.tensor(w)))
    assert_close(cf.jacfwd(f)(cr.tensor(w)), tf.jacfwd(ft)(torch.tensor(w)))


def test_hessian_matches_torch():
    h = cf.hessian(f_cr)(cr.tensor(XV))
    assert tuple(h.shape) == (4, 4)
    assert_close(h, tf.hessian(f_t)(torch.tensor(XV)))
    np.testing.assert_allclose(h.numpy(), h.numpy().T, rtol=1e-12)


def test_transforms_work_inside_no_grad():
    with cr.no_grad():
        g = cf.grad(lambda x: (x * x).sum())(cr.tensor([3.0]))
        assert not cr.is_grad_enabled()
    assert g.tolist() == [6.0] and not g.requires_grad


def test_jacrev_of_a_function_with_several_outputs_matches_torch():
    from chainrule.func import jacrev
    data_x, data_y = [1.0, 2.0, 3.0], [0.5, -1.0, 2.0]

    def f(x, y, lib):
        return x * y, (x ** 2).sum() + lib.sin(y).sum()

    ours = jacrev(lambda x, y: f(x, y, cr), argnums=(0, 1))(cr.tensor(data_x), cr.tensor(data_y))
    theirs = torch.func.jacrev(lambda x, y: f(x, y, torch), argnums=(0, 1))(
        torch.tensor(data_x), torch.tensor(data_y))
    assert len(ours) == 2 and all(len(o) == 2 for o in ours)
    for o, t in zip(ours, theirs):
        for a, b in zip(o, t):
            assert tuple(a.shape) == tuple(b.shape)
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)
    single = jacrev(lambda x: (x * 2, x.sum()))(cr.tensor(data_x))
    assert tuple(single[0].shape) == (3, 3) and tuple(single[1].shape) == (3,)
    with pytest.raises(Exception, match="tuple of Tensors"):
        jacrev(lambda x: (x, 1.0))(cr.tensor(data_x))
