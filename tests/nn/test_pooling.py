"""Max, average and adaptive pooling (1-D and 2-D, layers and functionals): values, indices
and gradients vs PyTorch over many configurations, finite differences, errors."""
import itertools

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.errors import ShapeError
from torch_oracle import assert_close


def _distinct(shape, seed=0):
    """Values without ties (a max with ties has no single derivative)."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    return rng.permutation(np.linspace(-3, 3, n)).reshape(shape)


def _compare(ours, theirs, shape, dtype="float64", seed=0):
    x = _distinct(shape, seed).astype(dtype)
    cx, tx = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, tout = ours(cx), theirs(tx)
    if isinstance(tout, tuple):
        np.testing.assert_array_equal(out[1].numpy(), tout[1].numpy(), err_msg="indices")
        assert out[1].dtype == cr.int64
        out, tout = out[0], tout[0]
    assert_close(out, tout, msg="forward")
    g = np.random.default_rng(seed + 1).normal(size=tuple(tout.shape)).astype(dtype)
    out.backward(cr.tensor(g))
    tout.backward(torch.tensor(g))
    assert_close(cx.grad, tx.grad, msg="input gradient")


GEOMETRY = list(itertools.product([2, 3, (2, 3)], [None, 1, 2, (2, 1)], [0, 1], [1, 2],
                                  [False, True]))


@pytest.mark.parametrize("k,s,p,d,ceil", GEOMETRY)
def test_max_pool2d_matches_torch(k, s, p, d, ceil):
    kw = dict(kernel_size=k, stride=s, padding=p, dilation=d, ceil_mode=ceil, return_indices=True)
    _compare(cr.nn.MaxPool2d(**kw), torch.nn.MaxPool2d(**kw), (2, 3, 9, 8))


@pytest.mark.parametrize("k,s,p,d,ceil", [g for g in GEOMETRY if not isinstance(g[0], tuple)
                                          and not isinstance(g[1], tuple)])
def test_max_pool1d_matches_torch(k, s, p, d, ceil):
    kw = dict(kernel_size=k, stride=s, padding=p, dilation=d, ceil_mode=ceil, return_indices=True)
    _compare(cr.nn.MaxPool1d(**kw), torch.nn.MaxPool1d(**kw), (2, 3, 11))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(4, 8, 8), (2, 3, 6, 7)])
def test_max_pool_dtypes_and_unbatched(dtype, shape):
    _compare(cr.nn.MaxPool2d(2), torch.nn.MaxPool2d(2), shape, dtype)
    out = cr.nn.MaxPool2d(2)(cr.ones(*shape, dtype=getattr(cr, dtype)))
    assert out.dtype == getattr(cr, dtype)


def test_max_pool_ties_send_gradient_to_first_and_nan_wins():
    x = cr.ones(1, 1, 2, 4, requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    tx = torch.ones(1, 1, 2, 4, requires_grad=True)
    torch.nn.functional.max_pool2d(tx, 2).sum().backward()
    assert_close(x.grad, tx.grad)
    v = cr.tensor([[[[1.0, float("nan")], [3.0, 2.0]]]])
    assert np.isnan(F.max_pool2d(v, 2).item())


@pytest.mark.parametrize("kernel", [2, (3, 2), (1, 2)])
def test_max_pool_two_wide_windows_with_many_ties_match_torch(kernel):
    """float32 windows two columns wide take a full-resolution path: ties (ReLU zeros, equal
    halves, -0.0 against 0.0) must still send each window's gradient to its first maximum."""
    rng = np.random.default_rng(4)
    x = np.maximum(np.round(rng.normal(size=(3, 4, 6, 8)) * 2) / 2, 0).astype(np.float32)
    x[0, 0, :3, :2] = 0.5
    x[1, 1, 0, :2] = [-0.0, 0.0]
    x[1, 1, 1, :2] = -1.0
    g = rng.normal(size=(3, 4, 6 // np.atleast_1d(kernel)[0], 4)).astype(np.float32)
    cx, tx = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    F.max_pool2d(cx, kernel).backward(cr.tensor(g))
    torch.nn.functional.max_pool2d(tx, kernel).backward(torch.tensor(g))
    np.testing.assert_array_equal(cx.grad.numpy(), tx.grad.numpy())
    x[2, 3, 0, 1] = np.nan  # a NaN window takes its own path: the NaN gets the gradient
    x[2, 2, 1, 3] = np.inf
    cx, tx = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, tout = F.max_pool2d(cx, kernel), torch.nn.functional.max_pool2d(tx, kernel)
    np.testing.assert_array_equal(out.detach().numpy(), tout.detach().numpy())  # NaN == NaN here
    out.backward(cr.tensor(g))
    tout.backward(torch.tensor(g))
    np.testing.assert_array_equal(cx.grad.numpy(), tx.grad.numpy())


@pytest.mark.parametrize("k,s,p,ceil,cip", itertools.product(
    [2, 3, (3, 2)], [None, 1, 2], [0, 1], [False, True], [True, False]))
def test_avg_pool2d_matches_torch(k, s, p, ceil, cip):
    kw = dict(kernel_size=k, stride=s, padding=p, ceil_mode=ceil, count_include_pad=cip)
    _compare(cr.nn.AvgPool2d(**kw), torch.nn.AvgPool2d(**kw), (2, 3, 9, 8))


@pytest.mark.parametrize("k,s,p,ceil,cip", itertools.product(
    [2, 3], [None, 2], [0, 1], [False, True], [True, False]))
def test_avg_pool1d_matches_torch(k, s, p, ceil, cip):
    kw = dict(kernel_size=k, stride=s, padding=p, ceil_mode=ceil, count_include_pad=cip)
    _compare(cr.nn.AvgPool1d(**kw), torch.nn.AvgPool1d(**kw), (2, 3, 10))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_avg_pool_divisor_override_and_dtype(dtype):
    kw = dict(kernel_size=3, stride=2, padding=1, divisor_override=4)
    _compare(cr.nn.AvgPool2d(**kw), torch.nn.AvgPool2d(**kw), (2, 2, 7, 7), dtype)


@pytest.mark.parametrize("size", [1, (1, 1), (3, 2), (4, 4), (5, 7), (9, 8), (2, None), (12, 3)])
def test_adaptive_pool2d_matches_torch(size):
    _compare(cr.nn.AdaptiveAvgPool2d(size), torch.nn.AdaptiveAvgPool2d(size), (2, 3, 9, 8))
    _compare(cr.nn.AdaptiveMaxPool2d(size, return_indices=True),
             torch.nn.AdaptiveMaxPool2d(size, return_indices=True), (2, 3, 9, 8))


@pytest.mark.parametrize("size", [1, 3, 4, 11, 13])
def test_adaptive_pool1d_matches_torch(size):
    _compare(cr.nn.AdaptiveAvgPool1d(size), torch.nn.AdaptiveAvgPool1d(size), (2, 3, 11))
    _compare(cr.nn.AdaptiveMaxPool1d(size, return_indices=True),
             torch.nn.AdaptiveMaxPool1d(size, return_indices=True), (2, 3, 11))


def test_adaptive_float32_and_unbatched():
    _compare(cr.nn.AdaptiveAvgPool2d((3, 3)), torch.nn.AdaptiveAvgPool2d((3, 3)), (4, 7, 8),
             "float32")
    _compare(cr.nn.AdaptiveMaxPool2d(2), torch.nn.AdaptiveMaxPool2d(2), (4, 7, 8), "float32")


# ------------------------------------------------------- finite differences --
@pytest.mark.parametrize("fn", [
    lambda x: F.max_pool2d(x, 3, stride=2, padding=1, ceil_mode=True),
    lambda x: F.max_pool2d(x, 2, stride=1, dilation=2),
    lambda x: F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False, ceil_mode=True),
    lambda x: F.avg_pool2d(x, 2),
    lambda x: F.adaptive_avg_pool2d(x, (3, 2)),
    lambda x: F.adaptive_max_pool2d(x, (2, 3)),
    lambda x: F.max_pool1d(x.flatten(2), 3, stride=2),
])
def test_pooling_gradcheck_and_second_order(fn):
    x = cr.tensor(_distinct((1, 2, 5, 6), 3), requires_grad=True)
    assert cr.autograd.gradcheck(fn, (x,))
    assert cr.autograd.gradgradcheck(fn, (x,), fast_mode=True)


# ----------------------------------------------------------------- errors --
def test_pooling_errors():
    with pytest.raises(ShapeError, match=r"3-D \(unbatched\) or 4-D \(batched\)"):
        cr.nn.MaxPool2d(2)(cr.ones(5, 5))
    with pytest.raises(ValueError, match="at most half"):
        F.max_pool2d(cr.ones(1, 1, 6, 6), 2, padding=2)
    with pytest.raises(ShapeError, match="too small"):
        F.avg_pool2d(cr.ones(1, 1, 2, 2), 3)
    with pytest.raises(ShapeError, match="too small"):
        F.max_pool1d(cr.ones(1, 1, 2), 3)
    with pytest.raises(ShapeError, match="output_size"):
        F.adaptive_avg_pool2d(cr.ones(1, 1, 4, 4), (1, 2, 3))


def test_repr_matches_torch():
    for ours, theirs in [(cr.nn.MaxPool2d(2), torch.nn.MaxPool2d(2)),
                         (cr.nn.MaxPool2d(3, 2, 1), torch.nn.MaxPool2d(3, 2, 1)),
                         (cr.nn.AdaptiveAvgPool2d((1, 1)), torch.nn.AdaptiveAvgPool2d((1, 1)))]:
        assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2),
                                dict(kernel_size=(3, 2)), dict(kernel_size=2, padding=1)])
def test_max_pool_gradient_with_inf_and_nan_stays_in_its_cell_as_torch(dtype, kw):
    """An inf or NaN in the upstream gradient goes to its window's maximum only: the other
    cells get 0, not inf·0 = NaN (every placement path: pairs, disjoint, overlapping)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 6, 8)).astype(dtype)
    cx, tx = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, tout = F.max_pool2d(cx, **kw), torch.nn.functional.max_pool2d(tx, **kw)
    g = rng.normal(size=tuple(tout.shape)).astype(dtype)
    g[0, 0, 0, 0], g[1, 2, 1, 1], g[0, 1, 0, 1] = np.inf, np.nan, -np.inf
    out.backward(cr.tensor(g))
    tout.backward(torch.tensor(g))
    # overlapping windows sum their shares in another order: ulps apart, the non-finite cells
    # and zeros exactly where PyTorch has them
    np.testing.assert_allclose(cx.grad.numpy(), tx.grad.numpy(), rtol=4 * np.finfo(dtype).eps,
                               atol=0, equal_nan=True)
