"""Dropout, Dropout1d/2d/3d, AlphaDropout, FeatureAlphaDropout: scaling, train vs eval,
reproducibility with manual_seed, gradients through the same mask, channel-wise masks,
PyTorch's warnings and errors for each input rank."""
import warnings

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
                                            (cr.nn.Dropout3d, (8, 16, 2, 3, 2), 2),
                                            (cr.nn.Dropout3d, (16, 2, 3, 2), 1),
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
    with pytest.raises(cr.errors.ShapeError, match="dropout1d"):
        F.dropout1d(cr.ones(3, 4, 5, 6))


def test_dropout_in_a_model_trains_and_evaluates():
    net = cr.nn.Sequential(cr.nn.Linear(4, 8), cr.nn.ReLU(), cr.nn.Dropout(0.5), cr.nn.Linear(8, 1))
    x = cr.randn(16, 4)
    net.eval()
    a, b = net(x), net(x)
    assert np.array_equal(a.detach().numpy(), b.detach().numpy())
    net.train()
    net(x).sum().backward()
    assert all(p.grad is not None for p in net.parameters())


# ------------------------------------------------- ranks: warnings and masks --
def _shared_dims(y: np.ndarray) -> tuple:
    """The dims along which the output of a ones input is constant: those a mask broadcasts
    over (every other dim has its own draws)."""
    return tuple(d for d in range(y.ndim)
                 if y.shape[d] > 1 and np.array_equal(y, np.take(y, [0], axis=d).repeat(y.shape[d], d)))


def _run(lib, fn: str, ndim: int):
    """(warning messages, error message or None, dims the mask is shared over)."""
    module = cr.nn.functional if lib is cr else torch.nn.functional
    lib.manual_seed(0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            y = getattr(module, fn)(lib.ones(*([8] * ndim)), 0.5)
            outcome = None, _shared_dims(y.numpy())
        except RuntimeError as e:  # (chainrule's errors are RuntimeErrors too)
            outcome = str(e), None
    return [str(w.message) for w in caught], *outcome


@pytest.mark.parametrize("fn", ["dropout1d", "dropout2d", "dropout3d"])
@pytest.mark.parametrize("ndim", [1, 2, 3, 4, 5, 6])
def test_channel_dropout_ranks_warn_and_mask_as_pytorch(fn, ndim):
    messages, error, shared = _run(cr, fn, ndim)
    t_messages, t_error, t_shared = _run(torch, fn, ndim)
    assert messages == t_messages
    assert (error is None) == (t_error is None), (error, t_error)
    if error is not None:
        assert fn in error or "Feature dropout" in error
        assert ("Feature dropout requires at least 2 dimensions" in t_error) == \
            ("Feature dropout requires at least 2 dimensions" in error)
    assert shared == t_shared


def test_rank_warnings_point_at_the_callers_line():
    with pytest.warns(UserWarning, match="Received a 3D input to dropout2d") as record:
        F.dropout2d(cr.ones(2, 3, 4), 0.5)
    assert all(w.filename == __file__ for w in record)
    with pytest.warns(UserWarning, match="Received a 2-D input to dropout3d"):
        cr.nn.Dropout3d()(cr.ones(2, 3))


def test_eval_mode_still_warns_and_returns_the_input():
    x = cr.ones(3, 4, 5)
    with pytest.warns(UserWarning, match="dropout2d"):
        assert F.dropout2d(x, 0.5, training=False) is x


@pytest.mark.parametrize("fn,shape", [("alpha_dropout", (300, 200)),
                                      ("feature_alpha_dropout", (300, 200, 2))])
@pytest.mark.parametrize("p", [0.1, 0.5])
def test_alpha_dropout_values_match_pytorch_and_keep_moments(fn, shape, p):
    # the two values a ones input can take (kept, dropped) are PyTorch's
    ours = getattr(F, fn)(cr.ones(50, 40, 2), p, training=True).numpy()
    theirs = getattr(torch.nn.functional, fn)(torch.ones(50, 40, 2), p, training=True).numpy()
    np.testing.assert_allclose(np.unique(ours), np.unique(theirs), rtol=1e-6)
    # on standard normal input the mean and variance stay near 0 and 1 (SELU's fixed point)
    cr.manual_seed(3)
    y = getattr(F, fn)(cr.randn(*shape), p, training=True).numpy()
    assert abs(y.mean()) < 0.05 and abs(y.var() - 1) < 0.08


def test_alpha_dropout_gradient_and_modes():
    x = cr.randn(40, 30, dtype=cr.float64, requires_grad=True)
    y = F.alpha_dropout(x, 0.3, training=True)
    y.sum().backward()
    grad = x.grad.numpy()
    a = 1.0 / np.sqrt((1.7580993408473766 ** 2 * 0.3 + 1) * 0.7)
    assert set(np.round(np.unique(grad), 12)) == {0.0, round(a, 12)}
    assert F.alpha_dropout(x, 0.3) is x  # training=False by default, as PyTorch
    layer = cr.nn.FeatureAlphaDropout(0.2)
    assert repr(layer) == repr(torch.nn.FeatureAlphaDropout(0.2))
    assert repr(cr.nn.AlphaDropout(0.3)) == repr(torch.nn.AlphaDropout(0.3))
    assert layer.eval()(x) is x
    assert float(F.alpha_dropout(x, 1.0, training=True).abs().sum()) == 0.0
    with pytest.raises(cr.errors.ShapeError, match="at least 2 dimensions"):
        F.feature_alpha_dropout(cr.ones(4), 0.5, training=True)
    with pytest.raises(ValueError, match="between 0 and 1"):
        cr.nn.AlphaDropout(1.2)
