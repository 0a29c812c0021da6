"""gradcheck / gradgradcheck themselves: they pass correct rules and catch wrong ones."""
from __future__ import annotations

import pytest

import chainrule as cr
from chainrule.autograd import GradcheckError, gradcheck, gradgradcheck
from chainrule.ops import registry


def x64(*values):
    return cr.tensor(list(values), dtype=cr.float64, requires_grad=True)


@pytest.fixture(params=["tensor rule", "array rule"])
def broken_rule(request):
    """Make sin's first-order gradient wrong (cos(x) * 1.01) for the duration of a test:
    through a rule written on Tensors only (defvjp), or through one written against the
    namespace m (defgrad: run on arrays in a first-order backward)."""
    op = registry.REGISTRY["sin"]
    saved = op.vjps, op.array_rules
    if request.param == "tensor rule":
        registry.defvjp(op, lambda g, ans, x: g * x.cos() * 1.01)
    else:
        registry.defgrad(op, lambda m, g, ans, x: g * m.cos(x) * 1.01)
    yield
    op.vjps, op.array_rules = saved


@pytest.mark.parametrize("fast", [False, True])
def test_passes_correct_rules(fast):
    a, b = x64(0.3, -1.2, 2.0), x64(0.5)
    assert gradcheck(lambda p, q: (p * q).sin() + p.exp() / q, (a, b), fast_mode=fast)
    assert gradgradcheck(lambda p, q: (p * q).sin() + p.exp() / q, (a, b), fast_mode=fast)


@pytest.mark.parametrize("fast", [False, True])
def test_catches_a_wrong_rule(broken_rule, fast):
    with pytest.raises(GradcheckError, match="input 0"):
        gradcheck(lambda t: t.sin(), (x64(0.3, -1.2, 2.0),), fast_mode=fast)
    assert gradcheck(lambda t: t.sin(), (x64(0.3, -1.2, 2.0),), fast_mode=fast,
                     raise_exception=False) is False


def test_catches_a_wrong_second_order_rule():
    op = registry.REGISTRY["sin"]
    saved = op.vjps, op.array_rules
    # right first derivative, wrong second: cos written through a detached copy
    registry.defvjp(op, lambda g, ans, x: g * x.detach().cos())
    try:
        assert gradcheck(lambda t: t.sin(), (x64(0.3, 1.1),))
        with pytest.raises(GradcheckError):
            gradgradcheck(lambda t: t.sin(), (x64(0.3, 1.1),))
    finally:
        op.vjps, op.array_rules = saved


def test_error_names_input_and_difference(broken_rule):
    a, b = cr.tensor([1.0, 2.0], dtype=cr.float64), x64(0.7, 0.2)
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda p, q: p + q.sin(), (a, b))
    text = str(info.value)
    assert "input 1" in text and "max difference" in text


def test_requires_float64():
    with pytest.raises(TypeError, match="float64"):
        gradcheck(lambda t: t.sin(), (cr.tensor([1.0], requires_grad=True),))


def test_requires_some_input_with_grad():
    with pytest.raises(ValueError, match="requires grad"):
        gradcheck(lambda t: t.sin(), (cr.tensor([1.0], dtype=cr.float64),))


def test_multiple_outputs_and_integer_outputs():
    a = x64(0.3, -1.2, 2.0)
    assert gradcheck(lambda t: (t.sin(), t.argmax(), t * 2), (a,))
    assert gradcheck(lambda t: tuple(t.max(0)), (a,))


def test_gradgradcheck_with_given_grad_outputs():
    a = x64(0.3, -1.2)
    go = cr.tensor([1.0, -2.0], dtype=cr.float64, requires_grad=True)
    assert gradgradcheck(lambda t: t.tanh() * t, (a,), (go,))


def test_nondifferentiable_point_is_reported():
    # |x| at 0: the analytical subgradient (0) is not the central difference (0 too) — but
    # relu at 0 is (0 vs 0.5): gradcheck must flag it
    with pytest.raises(GradcheckError):
        gradcheck(lambda t: t.relu(), (x64(0.0, 1.0),))
