"""Both layouts of a stride-1 convolution (flat shifts, strided im2col) and the flat input
gradient: values and gradients vs PyTorch, the cached columns equal recomputed ones."""
import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.ops import conv as conv_ops
from chainrule.backends import NUMPY
from torch_oracle import assert_close

STRIDE1 = [  # (input shape, weight shape, options): flat unless (C/G)·kh·kw < O/G
    ((3, 5, 7, 6), (4, 5, 3, 3), dict(padding=1)),
    ((2, 1, 9, 8), (12, 1, 3, 3), dict(padding=1)),                  # im2col: columns shorter
    ((2, 4, 6, 7), (6, 2, 3, 2), dict(padding=(2, 0), groups=2)),
    ((2, 6, 8, 8), (6, 1, 3, 3), dict(padding=2, dilation=2, groups=6)),  # depthwise, dilated
    ((2, 3, 6, 5), (4, 3, 4, 2), dict(padding="same")),               # uneven padding
    ((1, 3, 5, 5), (2, 3, 5, 5), dict()),                             # one output cell
    ((2, 6, 4, 5), (4, 6, 1, 1), dict(padding=1)),                    # output wider than input
    ((2, 3, 7, 6), (3, 3, 3, 2), dict(padding=(3, 1), dilation=(2, 1))),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("xs,ws,kw", STRIDE1)
def test_stride1_conv_matches_torch(xs, ws, kw, dtype):
    rng = np.random.default_rng(0)
    x, w, b = (rng.normal(size=s).astype(dtype) for s in (xs, ws, ws[:1]))
    cx, cw, cb = (cr.tensor(a, requires_grad=True) for a in (x, w, b))
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    out, tout = F.conv2d(cx, cw, cb, **kw), torch.nn.functional.conv2d(tx, tw, tb, **kw)
    assert out.dtype == getattr(cr, dtype)
    assert_close(out, tout, msg="forward")
    g = rng.normal(size=tuple(tout.shape)).astype(dtype)
    out.backward(cr.tensor(g))
    tout.backward(torch.tensor(g))
    for ours, theirs, name in ((cx, tx, "input"), (cw, tw, "weight"), (cb, tb, "bias")):
        assert_close(ours.grad, theirs.grad, msg=f"gradient of {name}")


def test_both_layouts_are_taken():
    x = np.zeros((2, 5, 4, 4))
    flat = conv_ops._flat(x, (1, 1), 1, (3, 3), 4)
    assert flat and not conv_ops._flat(x[:, :1], (1, 1), 1, (3, 3), 12)
    assert not conv_ops._flat(x, (2, 1), 1, (3, 3), 4)
    assert not conv_ops._flat(x[:0], (1, 1), 1, (3, 3), 4)  # empty batch: nothing to lay out


def test_flat_columns_from_the_cache_equal_recomputed_ones():
    rng = np.random.default_rng(1)
    x = cr.tensor(rng.normal(size=(3, 4, 6, 5)).astype("float32"))
    w = cr.tensor(rng.normal(size=(6, 2, 3, 3)).astype("float32"), requires_grad=True)
    g = cr.tensor(rng.normal(size=(3, 6, 6, 5)).astype("float32"))
    grads = []
    for cached in (True, False):
        y = F.conv2d(x, w, padding=1, groups=2)
        assert y.grad_fn.kept is not None and y.grad_fn.kept.ndim == 3  # flat: (G, K, length)
        if not cached:
            del y.grad_fn.kept
        y.backward(g)
        grads.append(w.grad.numpy().copy())
        w.grad = None
    np.testing.assert_array_equal(grads[0], grads[1])


TRANSPOSED = [  # stride 1: the input gradient's flat path run as a forward
    ((2, 4, 5, 6), (4, 3, 3, 3), dict(padding=1)),
    ((2, 4, 4, 5), (4, 2, 3, 2), dict(groups=2, dilation=2, output_padding=1)),
    ((1, 2, 3, 3), (2, 3, 1, 1), dict()),
    ((2, 4, 5, 6), (4, 3, 3, 3), dict(padding=2)),
]


@pytest.mark.parametrize("xs,ws,kw", TRANSPOSED)
def test_stride1_conv_transpose_matches_torch(xs, ws, kw):
    rng = np.random.default_rng(2)
    x, w = rng.normal(size=xs), rng.normal(size=ws)
    cx, cw = cr.tensor(x, requires_grad=True), cr.tensor(w, requires_grad=True)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    out = F.conv_transpose2d(cx, cw, **kw)
    tout = torch.nn.functional.conv_transpose2d(tx, tw, **kw)
    assert_close(out, tout, msg="forward")
    g = rng.normal(size=tuple(tout.shape))
    out.backward(cr.tensor(g))
    tout.backward(torch.tensor(g))
    assert_close(cx.grad, tx.grad, msg="input gradient")
    assert_close(cw.grad, tw.grad, msg="weight gradient")


def test_empty_batch_stride1():
    x = cr.zeros(0, 3, 5, 5, requires_grad=True)
    w = cr.randn(4, 3, 3, 3, requires_grad=True)
    y = F.conv2d(x, w, padding=1)
    assert tuple(y.shape) == (0, 4, 5, 5)
    y.sum().backward()
    assert tuple(x.grad.shape) == (0, 3, 5, 5)
    np.testing.assert_array_equal(w.grad.numpy(), 0)


# ------------------------------------------------------------ max pooling --
POOLS = [  # (input shape, options): the array rule's one sweep for disjoint windows
    ((2, 3, 8, 6), dict(kernel_size=2)),                           # exact tiling
    ((2, 3, 7, 9), dict(kernel_size=2)),                           # an uncovered edge
    ((2, 2, 7, 7), dict(kernel_size=3, stride=3, padding=1)),
    ((1, 2, 9, 9), dict(kernel_size=2, stride=3, dilation=2)),
    ((2, 2, 7, 6), dict(kernel_size=3, stride=2, padding=1)),      # overlapping: the argmax
]


@pytest.mark.parametrize("shape,kw", POOLS)
def test_max_pool_gradient_with_ties_matches_torch_and_the_tensor_rule(shape, kw):
    rng = np.random.default_rng(3)
    x = np.maximum(rng.normal(size=shape), 0).astype("float32")  # ReLU-like: many tied zeros
    x[0, 0, :2, :2] = 1.5  # a window whose four cells tie at its maximum
    g = rng.normal(size=tuple(torch.nn.functional.max_pool2d(torch.tensor(x), **kw).shape))
    tx = torch.tensor(x, requires_grad=True)
    torch.nn.functional.max_pool2d(tx, **kw).backward(torch.tensor(g, dtype=torch.float32))
    grads = []
    for create_graph in (False, True):  # the rule on arrays, then on Tensors
        cx = cr.tensor(x, requires_grad=True)
        F.max_pool2d(cx, **kw).backward(cr.tensor(g.astype("float32")), create_graph=create_graph)
        grads.append(cx.grad.detach().numpy())
        assert_close(cx.grad, tx.grad)
    np.testing.assert_array_equal(grads[0], grads[1])


def test_max_pool_gradient_of_nan_is_the_same_from_both_rules():
    x = np.arange(2 * 2 * 6 * 6, dtype="float32").reshape(2, 2, 6, 6)
    x[0, 1, 2, 3] = x[1, 0, 5, 5] = x[1, 0, 4, 5] = np.nan
    grads = []
    for create_graph in (False, True):
        cx = cr.tensor(x, requires_grad=True)
        F.max_pool2d(cx, 2).backward(cr.ones(2, 2, 3, 3), create_graph=create_graph)
        grads.append(cx.grad.detach().numpy())
    np.testing.assert_array_equal(grads[0], grads[1])
    assert grads[0][0, 1, 2, 3] == 1 and grads[0][1, 0, 4, 5] == 1 and grads[0].sum() == 36


def test_an_array_changed_in_place_between_calls_gets_a_fresh_layout():
    """Stride-1 convs lay g out on a grid per call: a tensor filled anew in place (a latent
    optimised through a frozen decoder, a reused upstream gradient) must not get the layout
    of its old values back (a cache keyed by array identity once did exactly that)."""
    cr.manual_seed(0)
    up = cr.nn.ConvTranspose2d(4, 3, 3)
    tup = torch.nn.ConvTranspose2d(4, 3, 3)
    with torch.no_grad():
        tup.weight.copy_(torch.tensor(up.weight.detach().numpy()))
        tup.bias.copy_(torch.tensor(up.bias.detach().numpy()))
    buf, tbuf = cr.zeros(1, 4, 5, 5), torch.zeros(1, 4, 5, 5)
    with cr.no_grad(), torch.no_grad():
        for v in (1.0, 2.0, 3.0):
            buf.fill_(v)
            tbuf.fill_(v)
            assert_close(up(buf), tup(tbuf))
    x = cr.randn(2, 3, 6, 6, requires_grad=True)
    w = cr.randn(5, 3, 3, 3)  # frozen: only the input gradient runs
    y = F.conv2d(x, w, padding=1)
    gy = cr.randn(*y.shape)
    y.backward(gy, retain_graph=True)
    first = x.grad.detach().numpy().copy()
    x.grad = None
    gy.mul_(3)
    y.backward(gy)
    np.testing.assert_allclose(x.grad.numpy(), 3 * first, rtol=1e-5, atol=1e-6)


def test_input_and_weight_gradients_share_one_grid_layout_per_node(monkeypatch):
    """conv2d's joint rule, run on arrays, lays g out once for both gradients of a node (and the
    per-input rules, which the op sweep compares, give the same arrays)."""
    built = []
    original = conv_ops._on_grid_last

    def counting(xp, g, hs, ws, length, grids=None):
        built.append(grids is None or (hs, ws, length) not in grids)
        return original(xp, g, hs, ws, length, grids)
    monkeypatch.setattr(conv_ops, "_on_grid_last", counting)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 4, 7, 6)).astype(np.float32)
    w = rng.normal(size=(5, 4, 3, 3)).astype(np.float32)
    cx, cw = cr.tensor(x, requires_grad=True), cr.tensor(w, requires_grad=True)
    F.conv2d(cx, cw, padding=1).square().sum().backward()
    assert built == [True, False]  # made for the input gradient, reused for the weight's
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    torch.nn.functional.conv2d(tx, tw, padding=1).square().sum().backward()
    assert_close(cx.grad, tx.grad)
    assert_close(cw.grad, tw.grad)
    g = rng.normal(size=(2, 5, 7, 6)).astype(np.float32)
    params = dict(stride=(1, 1), padding=((1, 1), (1, 1)), dilation=(1, 1), groups=1)
    joint = conv_ops.conv2d_op.joint(NUMPY, g, None, x, w, needs=(True, True), **params)
    for i in range(2):
        alone = conv_ops.conv2d_op.vjps[i](NUMPY, g, None, x, w, **params)
        np.testing.assert_array_equal(joint[i], alone)
