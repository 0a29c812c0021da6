"""nn.init: fans and gains as PyTorch computes them, sample statistics within sampling
error, in-place fills that return the tensor and record nothing."""
import math

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.nn import init
from chainrule.nn.init import _calculate_fan_in_and_fan_out

SHAPES = [(300, 200), (64, 16, 3, 3), (20, 30, 5), (128, 256, 1, 1)]


@pytest.mark.parametrize("shape", SHAPES)
def test_fans_match_torch(shape):
    assert _calculate_fan_in_and_fan_out(cr.empty(*shape)) == \
        torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(*shape))


def test_fans_need_two_dims():
    with pytest.raises(cr.errors.ShapeError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(cr.empty(5))


@pytest.mark.parametrize("name,param", [("linear", None), ("conv2d", None), ("sigmoid", None),
                                        ("tanh", None), ("relu", None), ("leaky_relu", None),
                                        ("leaky_relu", 0.2), ("selu", None)])
def test_gain_matches_torch(name, param):
    assert init.calculate_gain(name, param) == pytest.approx(torch.nn.init.calculate_gain(name, param))


def test_unknown_gain_is_an_error():
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        init.calculate_gain("swish")


def _std_ok(sample: np.ndarray, expected: float) -> None:
    # the sample std of n normal draws has relative standard error ~ 1/sqrt(2n); allow 5 sigma
    n = sample.size
    assert abs(sample.std() / expected - 1) < 5 / math.sqrt(2 * n), (sample.std(), expected)
    assert abs(sample.mean()) < 5 * expected / math.sqrt(n)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
def test_kaiming_statistics(shape, mode):
    fan_in, fan_out = _calculate_fan_in_and_fan_out(cr.empty(*shape))
    fan = fan_in if mode == "fan_in" else fan_out
    w = init.kaiming_normal_(cr.empty(*shape), mode=mode, nonlinearity="relu")
    _std_ok(w.numpy(), math.sqrt(2.0) / math.sqrt(fan))
    u = init.kaiming_uniform_(cr.empty(*shape), a=0.1, mode=mode).numpy()
    bound = math.sqrt(3.0) * math.sqrt(2.0 / (1 + 0.01)) / math.sqrt(fan)
    assert np.abs(u).max() <= bound and np.abs(u).max() > 0.98 * bound
    _std_ok(u, bound / math.sqrt(3.0))


@pytest.mark.parametrize("shape", SHAPES)
def test_xavier_statistics(shape):
    fan_in, fan_out = _calculate_fan_in_and_fan_out(cr.empty(*shape))
    w = init.xavier_normal_(cr.empty(*shape), gain=2.0).numpy()
    _std_ok(w, 2.0 * math.sqrt(2.0 / (fan_in + fan_out)))
    u = init.xavier_uniform_(cr.empty(*shape)).numpy()
    a = math.sqrt(6.0 / (fan_in + fan_out))
    assert np.abs(u).max() <= a and np.abs(u).max() > 0.98 * a


def test_uniform_normal_constant_and_return_values():
    t = cr.empty(200, 300)
    assert init.uniform_(t, -2, 3) is t
    v = t.numpy()
    assert v.min() >= -2 and v.max() <= 3 and abs(v.mean() - 0.5) < 0.05
    assert init.normal_(t, 1.0, 0.5) is t
    _std_ok(t.numpy() - 1.0, 0.5)
    assert init.constant_(t, 0.25) is t and np.all(t.numpy() == 0.25)
    assert np.all(init.zeros_(t).numpy() == 0) and np.all(init.ones_(t).numpy() == 1)


def test_eye_and_dirac_match_torch():
    for shape in [(3, 5), (5, 3), (4, 4)]:
        np.testing.assert_array_equal(init.eye_(cr.empty(*shape)).numpy(),
                                      torch.nn.init.eye_(torch.empty(*shape)).numpy())
    for shape, groups in [((4, 2, 3, 3), 2), ((3, 3, 5), 1), ((2, 2, 3, 3, 3), 1)]:
        np.testing.assert_array_equal(init.dirac_(cr.empty(*shape), groups).numpy(),
                                      torch.nn.init.dirac_(torch.empty(*shape), groups).numpy())


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (8, 2, 3)])
def test_orthogonal(shape):
    w = init.orthogonal_(cr.empty(*shape, dtype=cr.float64), gain=2.0).numpy().reshape(shape[0], -1)
    rows, cols = w.shape
    gram = w @ w.T if rows <= cols else w.T @ w
    np.testing.assert_allclose(gram, 4.0 * np.eye(min(rows, cols)), atol=1e-10)


def test_trunc_normal_bounds_and_moments():
    t = init.trunc_normal_(cr.empty(100000, dtype=cr.float64), mean=0.5, std=1.0, a=-1.0, b=1.5)
    v = t.numpy()
    assert v.min() >= -1.0 and v.max() <= 1.5
    # moments of N(0.5, 1) truncated to [-1, 1.5], from the closed form
    alpha, beta = -1.5, 1.0
    pdf = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda z: 0.5 * (1 + math.erf(z / math.sqrt(2)))  # noqa: E731
    zmass = cdf(beta) - cdf(alpha)
    mean = 0.5 + (pdf(alpha) - pdf(beta)) / zmass
    var = 1 + (alpha * pdf(alpha) - beta * pdf(beta)) / zmass - ((pdf(alpha) - pdf(beta)) / zmass) ** 2
    assert abs(v.mean() - mean) < 5 * math.sqrt(var / v.size)
    assert abs(v.std() / math.sqrt(var) - 1) < 5 / math.sqrt(2 * v.size)


def test_init_records_no_graph_on_parameters():
    p = cr.nn.Parameter(cr.empty(3, 4))
    for fn in (init.kaiming_uniform_, init.xavier_normal_, init.orthogonal_, init.trunc_normal_,
               init.zeros_, init.eye_):
        out = fn(p)
        assert out is p and p.is_leaf and p.grad_fn is None and p.requires_grad


def test_seeded_init_is_reproducible():
    cr.manual_seed(3)
    a = cr.nn.Linear(10, 5).weight.detach().numpy().copy()
    cr.manual_seed(3)
    b = cr.nn.Linear(10, 5).weight.detach().numpy()
    np.testing.assert_array_equal(a, b)
