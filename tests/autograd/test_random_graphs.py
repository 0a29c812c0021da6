"""Random DAGs (shared subexpressions, broadcasting, fan-out) differentiated by the engine
and by torch: first and second order, with grads accumulated over two backwards."""
import numpy as np
import torch
from hypothesis import given, settings, strategies as st

import chainrule as cr
from tests.torch_oracle import assert_close

UNARY = ["sin", "tanh", "exp_small", "square", "sigmoid"]
BINARY = ["add", "mul", "sub", "div_safe"]
SHAPES = [(3,), (2, 3), (1, 3), (2, 1)]


def _unary(lib, name, x):
    if name == "exp_small":
        return (x * 0.3).exp()
    if name == "square":
        return x * x
    return getattr(x, name)()


def _binary(lib, name, a, b):
    if name == "div_safe":
        return a / (b * b + 1)
    return {"add": a + b, "mul": a * b, "sub": a - b}[name]


program = st.lists(
    st.one_of(
        st.tuples(st.just("u"), st.sampled_from(UNARY), st.integers(0, 100)),
        st.tuples(st.just("b"), st.sampled_from(BINARY), st.integers(0, 100), st.integers(0, 100)),
    ),
    min_size=1, max_size=12)


def _run(lib, leaves, prog):
    values = list(leaves)
    for step in prog:
        if step[0] == "u":
            values.append(_unary(lib, step[1], values[step[2] % len(values)]))
        else:
            values.append(_binary(lib, step[1], values[step[2] % len(values)],
                                  values[step[3] % len(values)]))
    # every value feeds the loss (fan-out everywhere), weighted so none cancels
    total = values[-1].sum()
    for i, v in enumerate(values[len(leaves):-1]):
        total = total + v.sum() * (0.1 * (i + 1))
    return total


@settings(max_examples=40, deadline=None)
@given(prog=program, shapes=st.lists(st.sampled_from(SHAPES), min_size=2, max_size=3),
       seed=st.integers(0, 2 ** 16))
def test_random_graph_gradients_match_torch(prog, shapes, seed):
    rng = np.random.default_rng(seed)
    arrays = [rng.uniform(-1.5, 1.5, s) for s in shapes]
    ours = [cr.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    loss, tloss = _run(cr, ours, prog), _run(torch, theirs, prog)
    assert_close(loss, tloss)
    if not tloss.requires_grad:
        return
    loss.backward(retain_graph=True)
    loss.backward()
    tloss.backward(retain_graph=True)
    tloss.backward()
    for a, b in zip(ours, theirs):
        if b.grad is None:
            assert a.grad is None or not a.grad.numpy().any()
        else:
            assert_close(a.grad, b.grad)
    # no two leaves share a gradient buffer
    grads = [a.grad.numpy() for a in ours if a.grad is not None]
    for i in range(len(grads)):
        for j in range(i + 1, len(grads)):
            assert not np.shares_memory(grads[i], grads[j])


@settings(max_examples=25, deadline=None)
@given(prog=program, seed=st.integers(0, 2 ** 16))
def test_random_graph_hessian_vector_products_match_torch(prog, seed):
    rng = np.random.default_rng(seed)
    a, v = rng.uniform(-1.5, 1.5, (2, 3)), rng.standard_normal((2, 3))
    x, xt = cr.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    loss, tloss = _run(cr, [x], prog), _run(torch, [xt], prog)
    (g,) = cr.autograd.grad(loss, x, create_graph=True)
    (gt,) = torch.autograd.grad(tloss, xt, create_graph=True)
    assert_close(g, gt)
    if not gt.requires_grad:
        return
    (hv,) = cr.autograd.grad(g, x, grad_outputs=cr.tensor(v), allow_unused=True)
    (hvt,) = torch.autograd.grad(gt, xt, grad_outputs=torch.tensor(v), allow_unused=True)
    if hvt is None:
        assert hv is None or not hv.numpy().any()
    else:
        assert_close(hv if hv is not None else cr.zeros(2, 3, dtype=cr.float64), hvt)
