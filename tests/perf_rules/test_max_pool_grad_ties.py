"""Max pooling's gradient matches PyTorch's: exactly when the windows tile the input,
ties and infinities included; up to the order of summation when they overlap. (With NaN the gradient goes to the first NaN
of a window, a documented difference from PyTorch, tested with the op sweep's specs.)"""
import numpy as np
import pytest
import torch

import chainrule as cr

RNG = np.random.default_rng(0)
CASES = {
    "all equal (every window tied)": np.ones((2, 3, 6, 6)),
    "small integers (many ties), odd height": RNG.integers(0, 3, (2, 3, 7, 6)).astype(float),
    "all -inf": np.full((1, 1, 4, 4), -np.inf),
    "random": RNG.standard_normal((2, 2, 8, 8)),
}


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kernel,stride", [(2, 2), (3, 3), (2, 1)])
def test_max_pool_gradient_matches_torch(name, dtype, kernel, stride):
    data = CASES[name].astype(dtype)
    x = cr.tensor(data, requires_grad=True)
    t = torch.tensor(data, requires_grad=True)
    out = cr.nn.functional.max_pool2d(x, kernel, stride)
    tout = torch.nn.functional.max_pool2d(t, kernel, stride)
    g = RNG.standard_normal(tuple(tout.shape)).astype(dtype)
    out.backward(cr.tensor(g))
    tout.backward(torch.tensor(g))
    if stride == kernel:
        np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())
    else:
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-6, atol=1e-6)
