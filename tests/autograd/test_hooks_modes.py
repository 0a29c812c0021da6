"""Tensor hooks, retain_grad, and the grad-mode context managers/decorators."""
import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.errors import BackwardError
from tests.torch_oracle import assert_close


# -------------------------------------------------------------------- hooks --
def test_leaf_hook_sees_gradient_and_can_replace_it():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g.tolist()))
    x.register_hook(lambda g: g * 10)
    (x * x).sum().backward()
    assert seen == [[2.0, 4.0]]
    assert x.grad.tolist() == [20.0, 40.0]


def test_non_leaf_hook_replaces_gradient_flowing_on():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    h.register_hook(lambda g: g * 0 + 1)  # replace d/dh with ones
    (h * h).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]
    xt = torch.tensor([1.0, 2.0], requires_grad=True)
    ht = xt * 3
    ht.register_hook(lambda g: g * 0 + 1)
    (ht * ht).sum().backward()
    assert_close(x.grad, xt.grad)


def test_hook_remove():
    x = cr.tensor([1.0], requires_grad=True)
    handle = x.register_hook(lambda g: g * 100)
    (x * 2).sum().backward()
    assert x.grad.tolist() == [200.0]
    handle.remove()
    handle.remove()  # twice is harmless
    x.grad = None
    (x * 2).sum().backward()
    assert x.grad.tolist() == [2.0]


def test_non_leaf_hook_remove():
    x = cr.tensor([1.0], requires_grad=True)
    h = x * 1
    handle = h.register_hook(lambda g: g * 7)
    handle.remove()
    (h * 2).sum().backward()
    assert x.grad.tolist() == [2.0]


def test_hooks_run_in_autograd_grad():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: g + 1)
    (g,) = cr.autograd.grad((x * 2).sum(), x)
    assert g.tolist() == [3.0, 3.0]


def test_hook_returning_wrong_shape_is_clear_error():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: cr.ones(3))
    with pytest.raises(BackwardError, match=r"hook returned shape \(3,\).*\(2,\)"):
        (x * 2).sum().backward()


def test_hook_on_tensor_without_grad_errors():
    with pytest.raises(RuntimeError, match="does not require grad"):
        cr.ones(2).register_hook(lambda g: g)


def test_hook_not_mutating_shared_gradient():
    # the hook sees d/dx for both a and b of a + b; replacing it for a must not touch b
    a = cr.ones(2, requires_grad=True)
    b = cr.ones(2, requires_grad=True)
    a.register_hook(lambda g: g * 5)
    (a + b).sum().backward()
    assert a.grad.tolist() == [5.0, 5.0] and b.grad.tolist() == [1.0, 1.0]


# -------------------------------------------------------------- retain_grad --
def test_retain_grad_on_non_leaf():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    h = x * x
    h.retain_grad()
    assert h.retains_grad
    (h * 3).sum().backward()
    assert h.grad.tolist() == [3.0, 3.0]
    assert x.grad.tolist() == [6.0, 12.0]


def test_non_leaf_grad_is_none_without_retain_grad():
    x = cr.tensor([1.0], requires_grad=True)
    h = x * 2
    (h * 3).sum().backward()
    assert h.grad is None


def test_retain_grad_accumulates_over_two_backwards():
    x = cr.tensor([1.0], requires_grad=True)
    h = x * 2
    h.retain_grad()
    y = (h * 3).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert h.grad.tolist() == [6.0]


def test_retain_grad_on_leaf_is_noop_and_on_constant_errors():
    x = cr.ones(2, requires_grad=True)
    x.retain_grad()
    (x * 2).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]
    with pytest.raises(RuntimeError):
        cr.ones(2).retain_grad()


# --------------------------------------------------------------- grad modes --
def test_no_grad_context_records_nothing():
    x = cr.ones(2, requires_grad=True)
    with cr.no_grad():
        y = x * 2
        assert not cr.is_grad_enabled()
    assert cr.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None and y.is_leaf


def test_enable_grad_inside_no_grad_and_nesting():
    x = cr.ones(2, requires_grad=True)
    with cr.no_grad():
        with cr.enable_grad():
            y = x * 2
            with cr.no_grad():
                z = x * 2
            w = x * 2
        v = x * 2
    assert y.requires_grad and w.requires_grad
    assert not z.requires_grad and not v.requires_grad


def test_grad_modes_as_decorators():
    x = cr.ones(2, requires_grad=True)

    @cr.no_grad()
    def f(t):
        return t * 2

    @cr.enable_grad()
    def g(t):
        return t * 2

    assert not f(x).requires_grad
    with cr.no_grad():
        assert g(x).requires_grad
    assert cr.is_grad_enabled()


def test_bare_decorators_like_torch():
    x = cr.ones(2, requires_grad=True)

    @cr.no_grad
    def f():
        return x * 2

    @cr.enable_grad
    def g():
        return x * 2
    assert not f().requires_grad and f.__name__ == "f"
    with cr.no_grad():
        assert g().requires_grad
    assert cr.is_grad_enabled()


def test_set_grad_enabled_call_context_and_decorator():
    x = cr.ones(2, requires_grad=True)
    with cr.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert cr.is_grad_enabled()
    cr.set_grad_enabled(False)
    try:
        assert not cr.is_grad_enabled()
    finally:
        cr.set_grad_enabled(True)
    assert cr.is_grad_enabled()

    @cr.set_grad_enabled(False)
    def f():
        return x * 2
    assert cr.is_grad_enabled()  # decorating does not change the mode
    assert not f().requires_grad
    assert cr.is_grad_enabled()


def test_grad_mode_restored_after_exception():
    with pytest.raises(ValueError):
        with cr.no_grad():
            raise ValueError("boom")
    assert cr.is_grad_enabled()


def test_inference_mode():
    x = cr.ones(2, requires_grad=True)
    with cr.inference_mode():
        assert not (x * 2).requires_grad
    with cr.inference_mode(False):
        assert (x * 2).requires_grad


def test_backward_inside_no_grad_still_works():
    x = cr.ones(2, requires_grad=True)
    y = (x * x).sum()
    with cr.no_grad():
        y.backward()
    assert x.grad.tolist() == [2.0, 2.0]
    assert cr.is_grad_enabled()


def test_ops_on_grad_do_not_record_by_default():
    x = cr.ones(2, requires_grad=True)
    (x * x).sum().backward()
    assert not x.grad.requires_grad
    assert np.all(x.grad.numpy() == 2)


def test_leaf_hooks_run_as_soon_as_the_leaf_gradient_is_complete_as_torch():
    # w1 is used early in the forward, w2 late: each hook runs once, with the full
    # gradient, in the order PyTorch runs them (w2's as soon as it is complete, before
    # the walk reaches h, and long before w1)
    def run(lib, make):
        w1 = make([1.0, 2.0])
        w2 = make([3.0, 4.0])
        order = []
        w1.register_hook(lambda g: order.append(("w1", [round(v, 4) for v in g.tolist()])))
        w2.register_hook(lambda g: order.append(("w2", [round(v, 4) for v in g.tolist()])))
        h = (w1 * 2).exp()
        h.register_hook(lambda g: order.append(("h", [round(v, 4) for v in g.tolist()])))
        loss = (h * w2 + w2 * w2).sum() + (h.log() * 3).sum()
        loss.backward()
        return order
    ours = run(cr, lambda v: cr.tensor(v, requires_grad=True))
    theirs = run(torch, lambda v: torch.tensor(v, requires_grad=True))
    assert [name for name, _ in ours] == [name for name, _ in theirs] == ["w2", "h", "w1"]
    for (_, a), (_, b) in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-4)


@pytest.mark.parametrize("make", [lambda: cr.no_grad(), lambda: cr.no_grad,
                                  lambda: cr.set_grad_enabled(False), lambda: cr.inference_mode()])
def test_grad_mode_decorators_on_generators_apply_inside_each_resume_only(make):
    @make()
    def numbers(n):
        for i in range(n):
            got = yield cr.is_grad_enabled()
            assert got == i
        return "done"

    assert cr.is_grad_enabled()
    gen = numbers(2)
    assert next(gen) is False
    assert cr.is_grad_enabled()  # the caller's mode between resumes
    assert gen.send(0) is False
    with pytest.raises(StopIteration) as stop:
        gen.send(1)
    assert stop.value.value == "done" and cr.is_grad_enabled()


# ------------------------------------------------- post-accumulate-grad hooks --
def _post_hook_log(lib, create_graph=False):
    """A leaf read twice and hooked twice: what the post hooks saw, and in which order."""
    w = lib.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    w.register_hook(lambda g: g * 10)  # runs first: the post hook sees the replaced sum
    w.register_post_accumulate_grad_hook(lambda p: seen.append(("a", p.grad.tolist())))
    w.register_post_accumulate_grad_hook(lambda p: seen.append(("b", p is w)))
    loss = (w * w).sum() + (w * 3).sum()
    loss.backward(create_graph=create_graph)
    return seen, w.grad.tolist()


@pytest.mark.parametrize("create_graph", [False, True])  # the plain walk and the general one
def test_post_accumulate_grad_hooks_see_the_complete_grad_once_as_torch(create_graph):
    ours = _post_hook_log(cr, create_graph)
    assert ours == _post_hook_log(torch, create_graph)
    assert ours[0] == [("a", [50.0, 70.0]), ("b", True)]


def test_optimizer_step_inside_backward_matches_the_usual_step():
    """One SGD per parameter, run from its post-accumulate hook, frees each gradient as soon
    as it is used and leaves the same weights as zero_grad / backward / step."""
    def build():
        cr.manual_seed(0)
        return cr.nn.Sequential(cr.nn.Linear(4, 8), cr.nn.ReLU(), cr.nn.Linear(8, 3))
    x = cr.randn(5, 4)
    y = cr.tensor([0, 2, 1, 1, 0])
    usual, fused = build(), build()
    opt = cr.optim.SGD(usual.parameters(), lr=0.1, momentum=0.9)
    per_param = {p: cr.optim.SGD([p], lr=0.1, momentum=0.9) for p in fused.parameters()}
    grads_alive = []

    def step_now(p):
        per_param[p].step()
        p.grad = None
        grads_alive.append(sum(q.grad is not None for q in fused.parameters()))
    for p in fused.parameters():
        p.register_post_accumulate_grad_hook(step_now)
    for _ in range(3):
        opt.zero_grad()
        cr.nn.functional.cross_entropy(usual(x), y).backward()
        opt.step()
        cr.nn.functional.cross_entropy(fused(x), y).backward()
    assert grads_alive == [0] * 12  # never more than the one being used
    for a, b in zip(usual.parameters(), fused.parameters()):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-6, atol=1e-7)


def test_post_accumulate_grad_hook_rules():
    w = cr.tensor([1.0], requires_grad=True)
    calls = []
    handle = w.register_post_accumulate_grad_hook(lambda p: calls.append(1))
    cr.autograd.grad((w * 2).sum(), w)  # nothing is accumulated: no call (as PyTorch)
    assert calls == []
    handle.remove()
    (w * 2).sum().backward()
    assert calls == [] and w.grad.tolist() == [2.0]
    w.register_post_accumulate_grad_hook(lambda p: p)
    with pytest.raises(BackwardError, match="must return None, got Tensor"):
        (w * 2).sum().backward()
    with pytest.raises(cr.errors.ChainruleError, match="only be registered on leaf.*Mul"):
        (w * 2).register_post_accumulate_grad_hook(print)
    with pytest.raises(cr.errors.ChainruleError, match="does not require grad"):
        cr.ones(1).register_post_accumulate_grad_hook(print)
