"""State owned by the node that needs it: what a forward keeps for its joint rule
(``Op.keeps``, ``node.kept``), and ``cat``'s one rule for any number of inputs (no rule
table that grows with the widest call seen)."""
import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.ops import registry
from chainrule.ops.join import cat_op


@pytest.fixture
def keeping_op():
    """``y = 2x`` whose forward keeps ``x + 1`` for its joint rule, which records what it got."""
    got = []

    def keep(xp, x, *, needs):
        return 2 * x, x + 1

    def joint(m, g, ans, x, *, needs, kept=None):
        got.append(None if kept is None else kept.copy())
        return [2 * g]
    op = registry.defop("test_keeping_double", lambda xp, x: 2 * x, saves=(), keeps=keep)
    registry.defgrad_joint(op, 1, joint)
    yield op, got
    del registry.REGISTRY["test_keeping_double"]


def test_the_node_holds_what_the_forward_kept_and_hands_it_over_once(keeping_op):
    op, got = keeping_op
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = op(x)
    np.testing.assert_array_equal(y.grad_fn.kept, [2.0, 3.0])
    (gx,) = cr.autograd.grad(y.sum(), x, retain_graph=True)
    assert gx.tolist() == [2.0, 2.0]
    assert y.grad_fn.kept is None  # not held once the rule has it
    cr.autograd.grad(y.sum(), x)  # a retained graph's second backward: nothing kept
    assert [None if k is None else k.tolist() for k in got] == [[2.0, 3.0], None]


def test_nothing_is_kept_without_a_node_or_under_saved_tensor_hooks(keeping_op):
    op, _ = keeping_op
    assert op(cr.tensor([1.0])).grad_fn is None  # no input requires grad
    x = cr.tensor([1.0], requires_grad=True)
    with cr.no_grad():
        assert op(x).grad_fn is None
    with cr.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: t):
        y = op(x)
    assert y.grad_fn.kept is None and y.tolist() == [2.0]


def test_the_same_values_on_tensors(keeping_op):
    """Under create_graph the joint rule runs on Tensors and gets the kept value too."""
    op, got = keeping_op
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    (gx,) = cr.autograd.grad(op(x).sum(), x, create_graph=True)
    assert gx.tolist() == [2.0, 2.0] and got[0].tolist() == [2.0, 3.0]


@pytest.mark.parametrize("n", [2, 7, 130])
def test_cat_of_many_inputs_has_one_rule_and_torchs_gradients(n):
    rules, complete = cat_op.vjps, cat_op.rules_complete
    rng = np.random.default_rng(n)
    arrays = [rng.normal(size=(2, 1 + i % 3)) for i in range(n)]
    need = [i % 3 != 1 for i in range(n)]
    ours = [cr.tensor(a, requires_grad=r) for a, r in zip(arrays, need)]
    theirs = [torch.tensor(a, requires_grad=r) for a, r in zip(arrays, need)]
    g = rng.normal(size=(2, sum(a.shape[1] for a in arrays)))
    cr.cat(ours, 1).backward(cr.tensor(g))
    torch.cat(theirs, 1).backward(torch.tensor(g))
    for a, b, r in zip(ours, theirs, need):
        if r:
            np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy())
        else:
            assert a.grad is None
    assert cat_op.vjps is rules and cat_op.rules_complete == complete  # nothing grew


def test_cat_rule_for_one_input_and_second_order():
    a = cr.tensor([1.0, 2.0], requires_grad=True)
    b = cr.tensor([3.0], requires_grad=True)
    g = cr.tensor([5.0, 6.0, 7.0], requires_grad=True)
    rule = cat_op.vjps[1]  # one input's rule, made from the joint one when asked
    assert rule(np, g.detach().numpy(), None, a.detach().numpy(), b.detach().numpy(),
                dim=0, sizes=(2, 1)).tolist() == [7.0]
    y = cr.cat([a * a, b], 0)
    (ga,) = cr.autograd.grad((y * g).sum(), a, create_graph=True)
    (gg,) = cr.autograd.grad(ga.sum(), g)
    assert ga.tolist() == [10.0, 24.0] and gg.tolist() == [2.0, 4.0, 0.0]
    with pytest.raises(TypeError, match="index them"):
        list(cat_op.vjps)


def _node_of(t, op_name: str):
    """The node of ``op_name`` in ``t``'s history (depth-first)."""
    stack, seen = [t.grad_fn], set()
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if getattr(getattr(node, "op", None), "name", None) == op_name:
            return node
        stack.extend(n for n, _ in node.next_functions)
    raise AssertionError(f"no {op_name} node")


def test_lstm_and_cross_entropy_keep_their_work_on_the_node():
    cr.manual_seed(0)
    lstm, head = cr.nn.LSTM(3, 4), cr.nn.Linear(4, 5)
    x = cr.randn(6, 2, 3)
    loss = cr.nn.functional.cross_entropy(head(lstm(x)[0][-1]), cr.tensor([1, 3]))
    nodes = [_node_of(loss, "lstm_layer"), _node_of(loss, "cross_entropy")]
    assert all(n.kept is not None for n in nodes)
    grads = []
    for _ in range(2):  # the second backward recomputes what the first was handed
        got = cr.autograd.grad(loss, list(lstm.parameters()) + list(head.parameters()),
                               retain_graph=True)
        assert all(n.kept is None for n in nodes)
        grads.append([g.numpy().copy() for g in got])
    for a, b in zip(*grads):
        np.testing.assert_array_equal(a, b)


def test_float32_work_is_kept_after_a_bfloat16_tensor_exists(keeping_op):
    """bfloat16 switches every op's forward to the widening one: float32 ops keep keeping."""
    pytest.importorskip("ml_dtypes")
    cr.zeros(2, dtype=cr.bfloat16)  # (sets the registry's BF16_FORWARD for the process)
    assert registry.BF16_FORWARD is not None
    op, _ = keeping_op
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    np.testing.assert_array_equal(op(x).grad_fn.kept, [2.0, 3.0])
    w = cr.randn(2, 1, 3, 3, requires_grad=True)
    assert cr.nn.functional.conv2d(cr.randn(1, 1, 5, 5), w).grad_fn.kept is not None
