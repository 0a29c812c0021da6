"""The fused ops' array-level rules in the situations the op sweep does not reach:
a retained graph walked twice, gradients for the initial state, convolutions
through both input-gradient paths (stride 1 on the padded grid, strided col2im)."""
import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F


def _lstm_pair(bidirectional=False, layers=1):
    torch.manual_seed(0)
    t_lstm = torch.nn.LSTM(5, 4, num_layers=layers, bidirectional=bidirectional).double()
    lstm = cr.nn.LSTM(5, 4, num_layers=layers, bidirectional=bidirectional).double()
    with cr.no_grad():
        for (name, p) in lstm.named_parameters():
            p.copy_(cr.tensor(dict(t_lstm.named_parameters())[name].detach().numpy()))
    return lstm, t_lstm


@pytest.mark.parametrize("bidirectional,layers", [(False, 1), (True, 2)])
def test_lstm_gradients_of_input_state_and_weights_match_torch(bidirectional, layers):
    lstm, t_lstm = _lstm_pair(bidirectional, layers)
    rng = np.random.default_rng(0)
    d = 2 if bidirectional else 1
    x, h0, c0 = rng.normal(size=(6, 3, 5)), rng.normal(size=(d * layers, 3, 4)), \
        rng.normal(size=(d * layers, 3, 4))
    ins = [cr.tensor(a, requires_grad=True) for a in (x, h0, c0)]
    t_ins = [torch.tensor(a, requires_grad=True) for a in (x, h0, c0)]
    out, (h, c) = lstm(ins[0], (ins[1], ins[2]))
    t_out, (t_h, t_c) = t_lstm(t_ins[0], (t_ins[1], t_ins[2]))
    (out.sum() + (h * 2).sum() + (c * 3).sum()).backward()
    (t_out.sum() + (t_h * 2).sum() + (t_c * 3).sum()).backward()
    for a, b in zip(ins, t_ins):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-9, atol=1e-12)
    for name, p in lstm.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), dict(t_lstm.named_parameters())[name].grad.numpy(),
                                   rtol=1e-9, atol=1e-12)


def test_lstm_retained_graph_walked_twice_with_the_same_gradient():
    lstm, _ = _lstm_pair()
    x = cr.randn(4, 2, 5, dtype=cr.float64, requires_grad=True)
    out, _ = lstm(x)
    g = cr.ones_like(out)
    out.backward(g, retain_graph=True)
    first = x.grad.numpy().copy()
    out.backward(g)
    np.testing.assert_allclose(x.grad.numpy(), 2 * first, rtol=1e-12)


def test_lstm_double_backward_matches_torch():
    lstm, t_lstm = _lstm_pair()
    x = np.random.default_rng(1).normal(size=(3, 2, 5))
    xc, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (gc,) = cr.autograd.grad(lstm(xc)[0].pow(2).sum(), xc, create_graph=True)
    (gt,) = torch.autograd.grad(t_lstm(xt)[0].pow(2).sum(), xt, create_graph=True)
    (ggc,) = cr.autograd.grad(gc.sum(), xc)
    (ggt,) = torch.autograd.grad(gt.sum(), xt)
    np.testing.assert_allclose(ggc.numpy(), ggt.numpy(), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("kw", [dict(padding=1), dict(padding=2, dilation=2), dict(stride=2),
                                dict(padding=(0, 1), groups=2)])
def test_conv_layouts_match_torch(kw):
    rng = np.random.default_rng(2)
    x, w, b = rng.normal(size=(3, 4, 9, 7)), rng.normal(size=(6, 4 // kw.get("groups", 1), 3, 3)), \
        rng.normal(size=6)
    cr_in = [cr.tensor(a, requires_grad=True) for a in (x, w, b)]
    t_in = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    y = F.conv2d(*cr_in, **kw)
    ty = torch.nn.functional.conv2d(*t_in, **kw)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = rng.normal(size=tuple(ty.shape))
    y.backward(cr.tensor(g))
    ty.backward(torch.tensor(g))
    for a, t in zip(cr_in, t_in):
        np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-11)


def test_conv_weight_gradient_ignores_junk_columns_of_an_infinite_input():
    # an inf in the input must give the weight gradient PyTorch gives (no NaN from
    # columns that a layout adds between rows)
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 1, 3] = np.inf  # right edge: read by the junk column of the row below
    w = np.ones((1, 1, 3, 3))
    xc, wc = cr.tensor(x), cr.tensor(w, requires_grad=True)
    xt, wt = torch.tensor(x), torch.tensor(w, requires_grad=True)
    g = np.zeros((1, 1, 2, 2))
    g[0, 0, 0, 0] = 1.0  # only the window at the top left, which does not hold the inf
    F.conv2d(xc, wc).backward(cr.tensor(g))
    torch.nn.functional.conv2d(xt, wt).backward(torch.tensor(g))
    np.testing.assert_array_equal(wc.grad.numpy(), wt.grad.numpy())
