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
