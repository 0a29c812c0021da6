"""The NumPy backend's fast paths agree with the plain NumPy expressions they replace."""
import numpy as np
import pytest

from chainrule.backends import NUMPY
from chainrule.backends.numpy_backend import _ZERO_ROW


@pytest.mark.parametrize("size", [1, _ZERO_ROW - 1, _ZERO_ROW, _ZERO_ROW + 7, 3 * _ZERO_ROW + 5])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_relu_matches_maximum(size, dtype):
    x = np.random.default_rng(size).standard_normal(size).astype(dtype)
    x[::97] = 0.0
    x[1::101] = np.nan
    x[2::103] = -np.inf
    x[3::107] = np.inf
    y = NUMPY.relu(x)
    assert y.dtype == x.dtype and y.shape == x.shape and y is not x
    np.testing.assert_array_equal(y, np.maximum(x, 0))


def test_relu_keeps_shape_and_handles_views_and_ints():
    x = np.random.default_rng(0).standard_normal((4, 3 * _ZERO_ROW)).astype(np.float32)
    np.testing.assert_array_equal(NUMPY.relu(x), np.maximum(x, 0))
    np.testing.assert_array_equal(NUMPY.relu(x.T), np.maximum(x.T, 0))      # not C-contiguous
    np.testing.assert_array_equal(NUMPY.relu(x[:, ::2]), np.maximum(x[:, ::2], 0))
    ints = np.arange(-5, 5)
    assert NUMPY.relu(ints).dtype == ints.dtype
    np.testing.assert_array_equal(NUMPY.relu(ints), np.maximum(ints, 0))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_axpy_matches_numpy(dtype):
    from chainrule.backends import blas
    if not blas._AXPY:
        pytest.skip("NumPy's BLAS is not the bundled scipy-openblas here")
    rng = np.random.default_rng(1)
    y = rng.standard_normal(blas.MIN_SIZE + 3).astype(dtype)
    x = rng.standard_normal(y.size).astype(dtype)
    expected = y + dtype(-0.125) * x
    assert blas.axpy_(y, x, -0.125)
    np.testing.assert_allclose(y, expected, rtol=1e-6 if dtype == np.float32 else 1e-14)


def test_axpy_declines_what_it_cannot_do():
    from chainrule.backends.blas import MIN_SIZE, axpy_
    y = np.ones(MIN_SIZE * 2, np.float32)
    before = y.copy()
    assert not axpy_(y, np.ones(MIN_SIZE * 2, np.float64), 1.0)      # dtypes differ
    assert not axpy_(y, y, 1.0)                                     # overlap
    assert not axpy_(y[::2], np.ones(MIN_SIZE, np.float32), 1.0)    # strided
    assert not axpy_(y[:10], np.ones(10, np.float32), 1.0)          # too small to pay
    assert not axpy_(y.reshape(2, -1), np.ones((4, MIN_SIZE // 2), np.float32), 1.0)
    np.testing.assert_array_equal(y, before)


def test_float32_erf_kernel_is_within_8_ulp_of_the_exact_erf():
    import scipy.special as special
    from chainrule.backends.erf32 import erf32
    grid = np.concatenate([np.linspace(-6, 6, 400_001, dtype=np.float32),
                           np.float32(10.0) ** np.arange(-30, 1, 0.05, dtype=np.float32),
                           -np.float32(10.0) ** np.arange(-30, 1, 0.05, dtype=np.float32),
                           np.array([0.0, -0.0, np.inf, -np.inf], np.float32)])
    exact = special.erf(grid.astype(np.float64))
    ulp = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    assert (np.abs(erf32(grid).astype(np.float64) - exact) / ulp).max() <= 8
    assert np.isnan(erf32(np.array([np.nan], np.float32))[0])
    block = erf32(np.linspace(-3, 3, 200_000, dtype=np.float32).reshape(400, 500))  # several blocks
    np.testing.assert_allclose(block, special.erf(np.linspace(-3, 3, 200_000).reshape(400, 500)),
                               rtol=1e-6, atol=1e-7)
