"""The engine's behaviour: accumulation, retain_graph, create_graph, autograd.grad,
backward(inputs=), gradient ownership, long chains."""
import time

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.errors import BackwardError
from tests.torch_oracle import assert_close, to_torch


def _pair(shape=(3, 4), seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    return cr.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


# ---------------------------------------------------------------- accumulation --
def test_gradients_accumulate_across_backward_calls():
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    first = x.grad.numpy().copy()
    (x * 3).sum().backward()
    np.testing.assert_allclose(first, [2, 4, 6])
    np.testing.assert_allclose(x.grad.numpy(), [5, 7, 9])


def test_accumulation_of_broadcast_view_gradients():
    # mean's rule returns a broadcast view; the leaf must get its own writable array
    x = cr.ones(3, requires_grad=True)
    x.mean().backward()
    x.mean().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2 / 3] * 3, rtol=1e-6)
    assert x.grad.numpy().flags.writeable and x.grad.numpy().strides == (4,)


def test_zeroing_grad_between_steps():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    (x * 2).sum().backward()
    x.grad = None
    (x * 5).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [5, 5])
    x.grad.zero_()
    (x * 1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1, 1])


# -------------------------------------------------------------- retain_graph --
def test_backward_twice_without_retain_graph_raises_clear_error():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(BackwardError, match="second time.*retain_graph=True"):
        y.backward()


def test_backward_twice_with_retain_graph():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    g1 = x.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * g1, rtol=1e-6)
    with pytest.raises(BackwardError):
        y.backward()


def test_grad_without_retain_graph_frees_too():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = (x.sin() * x).sum()
    cr.autograd.grad(y, x)
    with pytest.raises(BackwardError, match="second time"):
        cr.autograd.grad(y, x)


# ------------------------------------------------------------- create_graph --
def test_second_derivative_of_cubic():
    x = cr.tensor(2.0, requires_grad=True)
    (g,) = cr.autograd.grad(x ** 3, x, create_graph=True)
    assert g.requires_grad and g.grad_fn is not None
    (h,) = cr.autograd.grad(g, x)
    assert g.item() == pytest.approx(12.0) and h.item() == pytest.approx(12.0)


def test_backward_create_graph_gives_differentiable_grad():
    x, xt = _pair((4,))
    (x.tanh() ** 3).sum().backward(create_graph=True)
    (xt.tanh() ** 3).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    gx = x.grad
    x.grad = None
    gx.sum().backward()
    gt = xt.grad
    xt.grad = None
    gt.sum().backward()
    assert_close(x.grad, xt.grad)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hessian_vector_product_matches_torch(seed):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((5, 5))
    xv, v = rng.standard_normal(5), rng.standard_normal(5)

    def f(x, W, lib):
        h = (W @ x).tanh() if lib is cr else torch.tanh(W @ x)
        return (h * h * x).sum() + (x.exp() if lib is cr else torch.exp(x)).sum()

    x = cr.tensor(xv, requires_grad=True)
    (g,) = cr.autograd.grad(f(x, cr.tensor(w), cr), x, create_graph=True)
    (hv,) = cr.autograd.grad(g, x, grad_outputs=cr.tensor(v))
    xt = torch.tensor(xv, requires_grad=True)
    (gt,) = torch.autograd.grad(f(xt, torch.tensor(w), torch), xt, create_graph=True)
    (hvt,) = torch.autograd.grad(gt, xt, grad_outputs=torch.tensor(v))
    assert_close(g, gt)
    assert_close(hv, hvt)
    assert not hv.requires_grad


def test_third_order_derivative():
    x = cr.tensor(0.7, dtype=cr.float64, requires_grad=True)
    y = x.sin() * x
    g1, = cr.autograd.grad(y, x, create_graph=True)
    g2, = cr.autograd.grad(g1, x, create_graph=True)
    g3, = cr.autograd.grad(g2, x)
    xv = 0.7  # d3/dx3 (x sin x) = -3 sin x - x cos x
    assert g3.item() == pytest.approx(-3 * np.sin(xv) - xv * np.cos(xv), rel=1e-10)


# ------------------------------------------------------------ autograd.grad --
def test_grad_returns_without_accumulating():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    (g,) = cr.autograd.grad((x * x).sum(), x)
    assert x.grad is None
    np.testing.assert_allclose(g.numpy(), [2, 4])
    assert not g.requires_grad


def test_grad_unused_input_errors_or_none():
    x = cr.tensor([1.0], requires_grad=True)
    z = cr.tensor([1.0], requires_grad=True)
    y = (x * 2).sum()
    with pytest.raises(RuntimeError, match="allow_unused=True"):
        cr.autograd.grad(y, [x, z], retain_graph=True)
    gx, gz = cr.autograd.grad(y, [x, z], allow_unused=True, retain_graph=True)
    assert gz is None and gx.tolist() == [2.0]
    gx, gz = cr.autograd.grad(y, [x, z], materialize_grads=True)
    assert gz.tolist() == [0.0]


def test_grad_nonscalar_output_needs_grad_outputs():
    x, xt = _pair((3,))
    y = x * x.sin()
    with pytest.raises(RuntimeError, match="scalar outputs"):
        cr.autograd.grad(y, x, retain_graph=True)
    v = np.array([1.0, -2.0, 0.5])
    (g,) = cr.autograd.grad(y, x, grad_outputs=cr.tensor(v))
    (gt,) = torch.autograd.grad(xt * xt.sin(), xt, grad_outputs=torch.tensor(v))
    assert_close(g, gt)


def test_grad_outputs_shape_mismatch_is_error():
    x = cr.ones(3, requires_grad=True)
    with pytest.raises(ValueError, match=r"gradient has shape \(2,\).*\(3,\)"):
        cr.autograd.grad(x * 2, x, grad_outputs=cr.ones(2))


def test_grad_of_several_outputs_and_inputs():
    a, at = _pair((3,), 1)
    b, bt = _pair((3,), 2)
    outs = [(a * b).sum(), (a.exp() + b).sum()]
    ga, gb = cr.autograd.grad(outs, [a, b])
    ta, tb = torch.autograd.grad([(at * bt).sum(), (at.exp() + bt).sum()], [at, bt])
    assert_close(ga, ta)
    assert_close(gb, tb)


def test_grad_with_respect_to_intermediate():
    x, xt = _pair((3,))
    h = x.exp()
    (gh,) = cr.autograd.grad((h * h).sum(), h)
    ht = xt.exp()
    (ght,) = torch.autograd.grad((ht * ht).sum(), ht)
    assert_close(gh, ght)
    assert x.grad is None


def test_grad_same_input_twice():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    g1, g2 = cr.autograd.grad((x * x).sum(), [x, x])
    np.testing.assert_allclose(g1.numpy(), [2, 4])
    np.testing.assert_allclose(g2.numpy(), [2, 4])


def test_grad_input_not_requiring_grad_errors():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    c = cr.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match="does not require grad"):
        cr.autograd.grad((x * c).sum(), c)


def test_backward_on_tensor_without_grad_errors():
    with pytest.raises(RuntimeError, match="does not require grad"):
        cr.ones(2).sum().backward()


# -------------------------------------------------------- backward(inputs=) --
def test_backward_inputs_restricts_accumulation():
    a = cr.tensor([1.0, 2.0], requires_grad=True)
    b = cr.tensor([3.0, 4.0], requires_grad=True)
    (a * b).sum().backward(inputs=[a])
    assert b.grad is None
    np.testing.assert_allclose(a.grad.numpy(), [3, 4])
    (a * b).sum().backward(inputs=b)
    np.testing.assert_allclose(b.grad.numpy(), [1, 2])
    np.testing.assert_allclose(a.grad.numpy(), [3, 4])


def test_backward_inputs_non_leaf_gets_grad():
    x, xt = _pair((3,))
    h = x.sin()
    (h * h).sum().backward(inputs=[h])
    ht = xt.sin()
    (ht * ht).sum().backward(inputs=[ht])
    assert_close(h.grad, ht.grad)
    assert x.grad is None


def test_backward_with_gradient_argument():
    x, xt = _pair((2, 3))
    v = np.arange(6.0).reshape(2, 3)
    (x * x).backward(cr.tensor(v))
    (xt * xt).backward(torch.tensor(v))
    assert_close(x.grad, xt.grad)


def test_autograd_backward_function_several_roots():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    cr.autograd.backward([(x * 2).sum(), (x * x).sum()])
    np.testing.assert_allclose(x.grad.numpy(), [4, 6])


# ------------------------------------------------------- gradient ownership --
def test_leaf_grads_of_sum_are_distinct_arrays():
    a = cr.ones(3, requires_grad=True)
    b = cr.ones(3, requires_grad=True)
    (a + b).sum().backward()
    assert a.grad is not b.grad
    assert not np.shares_memory(a.grad.numpy(), b.grad.numpy())
    with cr.no_grad():
        a.grad.mul_(5)
    np.testing.assert_allclose(b.grad.numpy(), [1, 1, 1])


def test_leaf_grads_distinct_with_create_graph():
    a = cr.ones(3, requires_grad=True)
    b = cr.ones(3, requires_grad=True)
    (a + b).sum().backward(create_graph=True)
    assert not np.shares_memory(a.grad.numpy(force=True), b.grad.numpy(force=True))


def test_grad_does_not_alias_user_gradient():
    x = cr.ones(3, requires_grad=True)
    v = cr.tensor([1.0, 2.0, 3.0])
    (x + 0).backward(v)
    assert not np.shares_memory(x.grad.numpy(), v.numpy())
    x.grad.add_(1)
    assert v.tolist() == [1.0, 2.0, 3.0]


def test_retained_grad_and_leaf_grad_distinct():
    x = cr.ones(3, requires_grad=True)
    y = x.clone()  # clone's rule hands back its incoming gradient unchanged
    y.retain_grad()
    (y * 2).sum().backward()
    assert not np.shares_memory(x.grad.numpy(), y.grad.numpy())
    x.grad.zero_()
    assert y.grad.tolist() == [2.0, 2.0, 2.0]


def test_same_leaf_reached_by_two_paths_and_add_of_self():
    x, xt = _pair((4,))
    y = (x + x) * x + x.reshape(2, 2).sum(0).sum()
    yt = (xt + xt) * xt + xt.reshape(2, 2).sum(0).sum()
    y.sum().backward()
    yt.sum().backward()
    assert_close(x.grad, xt.grad)


def test_grads_of_int_and_float_mixture_keep_leaf_dtype():
    x = cr.tensor([1.0, 2.0], dtype=cr.float32, requires_grad=True)
    y = (x.double() * 3).sum()
    y.backward()
    assert x.grad.dtype == cr.float32
    np.testing.assert_allclose(x.grad.numpy(), [3, 3])


def test_broadcast_gradients_are_summed_back():
    a, at = _pair((3, 1))
    b, bt = _pair((4,), 5)
    (a * b).sum().backward()
    (at * bt).sum().backward()
    assert_close(a.grad, at.grad)
    assert_close(b.grad, bt.grad)


# ---------------------------------------------------------------- long chain --
def test_ten_thousand_node_chain_no_recursion_and_fast():
    x = cr.tensor(1.0, dtype=cr.float64, requires_grad=True)
    y = x
    start = time.perf_counter()
    for _ in range(10_000):
        y = y * 1.0001
    y.backward()
    elapsed = time.perf_counter() - start
    assert x.grad.item() == pytest.approx(1.0001 ** 10_000, rel=1e-9)
    assert elapsed < 5.0, f"10,000-op forward+backward took {elapsed:.2f}s"


def test_deep_chain_double_backward():
    x = cr.tensor(0.5, dtype=cr.float64, requires_grad=True)
    y = x
    for _ in range(3000):
        y = y * 1.0
    y = y * y
    (g,) = cr.autograd.grad(y, x, create_graph=True)
    (h,) = cr.autograd.grad(g, x)
    assert g.item() == pytest.approx(1.0) and h.item() == pytest.approx(2.0)


def test_diamond_graph_runs_each_node_once():
    x, xt = _pair((3,))
    h = x.exp()
    outs = [h * i for i in range(1, 6)]
    total = outs[0]
    for o in outs[1:]:
        total = total + o
    total.sum().backward()
    ht = xt.exp()
    tt = sum(ht * i for i in range(1, 6))
    tt.sum().backward()
    assert_close(x.grad, xt.grad)


def test_zero_dim_gradients_accumulate_through_the_plain_walk():
    # NumPy turns 0-d arithmetic into scalars; a lost in-place sum once gave 0 here
    a = cr.tensor(-4.0, requires_grad=True, dtype=cr.float64)
    ((a + a) + (-a)).backward()
    assert a.grad.item() == 1.0
    b = cr.tensor(2.0, requires_grad=True, dtype=cr.float64)
    c = a * b
    (c + c * 3 + (-c) + c / 2).backward()
    assert a.grad.item() == pytest.approx(1.0 + 3.5 * 2.0)
    assert b.grad.item() == pytest.approx(3.5 * -4.0)
    assert type(a.grad._data) is np.ndarray and type(b.grad._data) is np.ndarray


def test_hook_on_a_leaf_the_caller_dropped_still_runs():
    seen = []
    x = cr.ones(3, requires_grad=True)
    x.register_hook(lambda g: seen.append(g.numpy().copy()))
    y = (x * 2).sum()
    del x
    y.backward()
    assert len(seen) == 1 and np.array_equal(seen[0], [2.0, 2.0, 2.0])


def test_a_leaf_keeps_one_accumulator_and_is_freed_without_the_garbage_collector():
    import gc
    import weakref
    x = cr.ones(3, requires_grad=True)
    (x * 2).sum().backward()
    acc = x.grad_fn or x._accumulator()
    (x * 3).sum().backward()
    assert x._accumulator() is acc and x.grad.tolist() == [5.0, 5.0, 5.0]
    ref = weakref.ref(x)
    gc.disable()
    try:
        del x, acc
        assert ref() is None  # no reference cycle between a leaf and its accumulator
    finally:
        gc.enable()


def test_gradients_of_many_reads_of_one_tensor_add_up_in_place():
    # slices, getitems (basic and repeated advanced indices) and a dense use of one
    # tensor: the read gradients are written into one buffer (IndexedGrad); same as torch
    data = np.random.default_rng(0).standard_normal((6, 3, 4))

    def f(x):
        total = (x * 2).sum() * 0.5  # a dense contribution, before and after the reads
        for t in range(6):
            total = total + (x[t] * (t + 1)).sum()
        total = total + x.narrow(1, 1, 2).pow(2).sum() + x[:, 0, ::2].sum()
        total = total + x[[0, 0, 5], 1].sum() + x[..., -1].exp().sum()
        return total + x.sum()

    x = cr.tensor(data, requires_grad=True)
    f(x).backward()
    t = torch.tensor(data, requires_grad=True)
    f(t).backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-12)
    # the same through autograd.grad (the general walk densifies the reads)
    x2 = cr.tensor(data, requires_grad=True)
    (g,) = cr.autograd.grad(f(x2), [x2])
    np.testing.assert_allclose(g.numpy(), t.grad.numpy(), rtol=1e-12)


def test_plain_walk_ignores_consumers_outside_the_graph():
    # h has a consumer (dead) that the loss never reaches: the walk must not wait for it
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    h = x * 2
    dead = h.exp()  # noqa: F841  (recorded, never backwarded)
    (h * h).sum().backward()
    assert x.grad.tolist() == [8.0, 16.0, 24.0]


def test_leaf_hook_runs_once_with_the_sum_of_all_paths():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g.tolist()))
    (x * 3 + x[0] * x + x.exp().log()).sum().backward()
    xt = torch.tensor([1.0, 2.0], requires_grad=True)
    seen_t = []
    xt.register_hook(lambda g: seen_t.append(g.tolist()))
    (xt * 3 + xt[0] * xt + xt.exp().log()).sum().backward()
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], seen_t[0], rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-6)


def test_reads_add_into_an_existing_grad_in_place_but_never_into_a_users_grad():
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[1:].sum().backward()
    first = x.grad
    (x[:2] * 2).sum().backward()
    assert x.grad is first and x.grad.tolist() == [2.0, 3.0, 1.0]  # engine's buffer: in place
    mine = cr.tensor([10.0, 10.0, 10.0])
    x.grad = mine
    x[1:].sum().backward()
    assert mine.tolist() == [10.0, 10.0, 10.0]  # a .grad the user assigned is never written
    assert x.grad.tolist() == [10.0, 11.0, 11.0]
