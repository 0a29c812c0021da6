"""Dropout, Dropout1d, Dropout2d: scaling, train vs eval, reproducibility with manual_seed,
gradients through the same mask, channel-wise masks, errors."""
import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F


@pytest.mark.parametrize("p", [0.2, 0.5, 0.9])
def test_dropout_zeroes_and_scales_in_training(p):
    layer = cr.nn.Dropout(p)
    x = cr.ones(200, 100)
    y = layer(x).numpy()
    kept = y != 0
    np.testing.assert_allclose(y[kept], 1 / (1 - p), rtol=1e-6)
    # the fraction dropped is p (binomial: 4 standard deviations of 20000 draws)
    assert abs((~kept).mean() - p) < 4 * np.sqrt(p * (1 - p) / kept.size)
    assert abs(y.mean() - 1.0) < 0.05 / (1 - p)  # expectation unchanged


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dropout_gradient_uses_the_same_mask(dtype):
    x = cr.randn(30, 20, dtype=getattr(cr, dtype), requires_grad=True)
    y = F.dropout(x, 0.3)
    y.backward(cr.ones_like(y))
    assert y.dtype == x.dtype and x.grad.dtype == x.dtype
    out, grad, data = y.detach().numpy(), x.grad.numpy(), x.detach().numpy()
    np.testing.assert_allclose(out, data * grad, rtol=1e-6)  # y = x * mask, dy/dx = mask
    values = np.unique(grad)
    assert len(values) == 2 and values[0] == 0 and values[1] == pytest.approx(1 / 0.7, rel=1e-6)


def test_eval_mode_and_p0_are_identity_and_p1_zeroes():
    x = cr.randn(5, 4, requires_grad=True)
    layer = cr.nn.Dropout(0.5)
    layer.eval()
    assert layer(x) is x
    assert F.dropout(x, 0.0) is x
    assert F.dropout(x, 0.7, training=False) is x
    assert float(F.dropout(x, 1.0).abs().sum()) == 0.0
    layer.train()
    assert not np.array_equal(layer(x).detach().numpy(), x.detach().numpy())


def test_manual_seed_makes_dropout_reproducible():
    cr.manual_seed(123)
    a = F.dropout(cr.ones(50, 50), 0.5).numpy()
    b = F.dropout(cr.ones(50, 50), 0.5).numpy()
    cr.manual_seed(123)
    assert np.array_equal(F.dropout(cr.ones(50, 50), 0.5).numpy(), a)
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("cls,shape,lead", [(cr.nn.Dropout2d, (8, 16, 5, 4), 2),
                                            (cr.nn.Dropout2d, (16, 5, 4), 1),
                                            (cr.nn.Dropout1d, (8, 16, 7), 2),
                                            (cr.nn.Dropout1d, (16, 7), 1)])
def test_channel_dropout_drops_whole_channels(cls, shape, lead):
    y = cls(0.5)(cr.ones(*shape)).numpy()
    flat = y.reshape(int(np.prod(shape[:lead])), -1)  # one row per (sample, channel)
    for row in flat:  # every channel is all kept (scaled by 2) or all dropped
        assert set(np.unique(row)) in ({0.0}, {2.0})
    assert 0 < (flat[:, 0] == 0).mean() < 1
    assert cls(0.5).eval()(cr.ones(*shape)).numpy().min() == 1.0


def test_inplace_and_repr_and_errors():
    x = cr.ones(100)
    out = F.dropout(x, 0.5, inplace=True)
    assert out is x and set(np.unique(x.numpy())) <= {0.0, 2.0}
    assert repr(cr.nn.Dropout(0.3)) == repr(torch.nn.Dropout(0.3))
    assert repr(cr.nn.Dropout2d(0.1, inplace=True)) == repr(torch.nn.Dropout2d(0.1, inplace=True))
    with pytest.raises(ValueError, match="between 0 and 1"):
        cr.nn.Dropout(1.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout(cr.ones(3), -0.1)
    with pytest.raises(cr.errors.ShapeError, match="dropout2d"):
        F.dropout2d(cr.ones(3, 4))


def test_dropout_in_a_model_trains_and_evaluates():
    net = cr.nn.Sequential(cr.nn.Linear(4, 8), cr.nn.ReLU(), cr.nn.Dropout(0.5), cr.nn.Linear(8, 1))
    x = cr.randn(16, 4)
    net.eval()
    a, b = net(x), net(x)
    assert np.array_equal(a.detach().numpy(), b.detach().numpy())
    net.train()
    net(x).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
