"""Random numbers on the ``cuda`` device (the CPU stand-in for CuPy, or CuPy on a GPU run):
per-GPU generators drawing on the device, seeding and state as ``torch.cuda``'s, the CPU
stream left alone, dropout and checkpoints reproducible, and no host draw copied over."""
from __future__ import annotations


import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule.backends import standin
from chainrule.errors import DeviceError
from chainrule.utils.checkpoint import checkpoint

from tests.backends.cuda_device import REAL_CUDA, cuda, standin_only  # noqa: F401 (cuda: a fixture)


def host(t) -> np.ndarray:
    return t.detach().cpu().numpy()


# every sampling entry point, on the device: name → a draw
DRAWS = {
    "rand": lambda d: cr.rand(3, 4, device=d),
    "rand_f64": lambda d: cr.rand(5, dtype=cr.float64, device=d),
    "randn": lambda d: cr.randn(3, 4, device=d),
    "randint": lambda d: cr.randint(0, 1000, (20,), device=d),
    "randperm": lambda d: cr.randperm(30, device=d),
    "normal": lambda d: cr.normal(cr.zeros(6, device=d), 2.0),
    "normal_": lambda d: cr.empty(3, 4, device=d).normal_(1.0, 2.0),
    "uniform_": lambda d: cr.empty(3, 4, device=d).uniform_(-1.0, 1.0),
    "exponential_": lambda d: cr.empty(8, device=d).exponential_(),
    "random_": lambda d: cr.empty(8, device=d).random_(0, 50),
    "bernoulli": lambda d: cr.bernoulli(cr.full((4, 5), 0.5, device=d)),
    "bernoulli_": lambda d: cr.empty(4, 5, device=d).bernoulli_(0.3),
    "multinomial": lambda d: cr.multinomial(cr.tensor([[1.0, 2.0, 3.0, 4.0]] * 3, device=d), 3),
    "multinomial_repl": lambda d: cr.multinomial(cr.tensor([0.1, 0.2, 0.7], device=d), 9, True),
    "rand_like": lambda d: cr.rand_like(cr.zeros(2, 3, device=d)),
    "randn_like": lambda d: cr.randn_like(cr.zeros(2, 3, device=d)),
    "randint_like": lambda d: cr.randint_like(cr.zeros(2, 3, device=d), 10, 90),
    "dropout": lambda d: F.dropout(cr.ones(6, 7, device=d), 0.5),
    "alpha_dropout": lambda d: F.alpha_dropout(cr.ones(6, 7, device=d), 0.5, training=True),
    "rrelu": lambda d: F.rrelu(cr.ones(6, 7, device=d) - 2, training=True),
    "gumbel_softmax": lambda d: F.gumbel_softmax(cr.zeros(4, 5, device=d)),
    "kaiming_uniform_": lambda d: nn.init.kaiming_uniform_(cr.empty(5, 6, device=d)),
    "xavier_normal_": lambda d: nn.init.xavier_normal_(cr.empty(5, 6, device=d)),
    "orthogonal_": lambda d: nn.init.orthogonal_(cr.empty(4, 6, device=d)),
    "trunc_normal_": lambda d: nn.init.trunc_normal_(cr.empty(5, 6, device=d)),
    "sparse_": lambda d: nn.init.sparse_(cr.empty(6, 4, device=d), 0.5),
    "Linear": lambda d: nn.Linear(4, 3, device=d).weight,
}


@pytest.mark.parametrize("name", sorted(DRAWS))
def test_draws_on_the_device_reproducible_per_seed(cuda, name):
    draw = DRAWS[name]
    cr.cuda.manual_seed(1234)
    first = draw(cuda)
    assert first.device.type == "cuda"
    if not REAL_CUDA:  # made on the device: a stand-in array, no NumPy array inside a tensor
        assert isinstance(first._data, standin.ndarray)
    cr.cuda.manual_seed(1234)
    again = draw(cuda)
    np.testing.assert_array_equal(host(first), host(again))
    cr.cuda.manual_seed(99)
    other = [host(draw(cuda)) for _ in range(2)]  # (two tries: a tiny draw may repeat once)
    assert any(not np.array_equal(host(first), o) for o in other)


@standin_only
@pytest.mark.parametrize("name", sorted(DRAWS))
def test_no_host_draw_is_copied_to_the_device(cuda, name):
    DRAWS[name](cuda)  # (warm: the backend and its generator exist)
    before = standin.host_to_device_copies()
    DRAWS[name](cuda)
    # (the multinomial entries build their weights with cr.tensor from a list: one copy, the
    # input's; zeros/ones/full/empty and a Linear's parameters are made on the device)
    expected = 1 if name.startswith("multinomial") else 0
    assert standin.host_to_device_copies() - before == expected


@standin_only
def test_the_copy_counter_sees_a_host_draw_copied_over(cuda):
    # the detector itself: the old way (draw with NumPy, then copy) is counted
    before = standin.host_to_device_copies()
    cr.rand(3).to(cuda)
    assert standin.host_to_device_copies() - before == 1


@standin_only
def test_a_dropout_training_step_copies_nothing_to_the_device(cuda):
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 2)).to(cuda)
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    x, y = cr.randn(5, 8, device=cuda), cr.randint(0, 2, (5,), device=cuda)
    before = standin.host_to_device_copies()
    for _ in range(2):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    assert standin.host_to_device_copies() == before


# ------------------------------------------------------------------ streams --
def test_cuda_draws_leave_the_cpu_stream_alone(cuda):
    cr.manual_seed(5)
    cr.rand(3)
    expected = host(cr.rand(4))
    cr.manual_seed(5)
    cr.rand(3)
    for name in sorted(DRAWS):
        DRAWS[name](cuda)
    np.testing.assert_array_equal(host(cr.rand(4)), expected)


def test_cpu_draws_leave_the_cuda_stream_alone(cuda):
    cr.manual_seed(5)
    expected = host(cr.rand(4, device=cuda))
    cr.manual_seed(5)
    cr.randn(100)
    F.dropout(cr.ones(10), 0.5)
    np.testing.assert_array_equal(host(cr.rand(4, device=cuda)), expected)


def test_manual_seed_seeds_the_cuda_generators_too(cuda):
    cr.cuda.manual_seed(31)
    expected = host(cr.randn(5, device=cuda))
    cr.cuda.manual_seed(0)
    cr.manual_seed(31)
    assert cr.cuda.initial_seed() == 31 and cr.initial_seed() == 31
    np.testing.assert_array_equal(host(cr.randn(5, device=cuda)), expected)
    cr.cuda.manual_seed_all(31)
    np.testing.assert_array_equal(host(cr.randn(5, device=cuda)), expected)


def test_seed_picks_a_fresh_seed_for_cuda(cuda):
    cr.cuda.manual_seed(3)
    cr.cuda.seed()
    first = cr.cuda.initial_seed()
    cr.cuda.seed_all()
    assert cr.cuda.initial_seed() != first  # (two 63-bit random seeds)
    s = cr.seed()
    assert cr.cuda.initial_seed() == s == cr.initial_seed()


def test_successive_draws_differ(cuda):
    cr.cuda.manual_seed(0)
    a, b = host(cr.rand(50, device=cuda)), host(cr.rand(50, device=cuda))
    assert not np.array_equal(a, b)


# -------------------------------------------------------------------- state --
def test_rng_state_round_trip_restores_the_stream(cuda):
    cr.cuda.manual_seed(11)
    cr.rand(3, device=cuda)
    state = cr.cuda.get_rng_state()
    assert state.dtype is cr.uint8 and tuple(state.shape) == (16,)  # seed, offset: as PyTorch's
    assert state.device.type == "cpu"
    expected = [host(cr.rand(4, device=cuda)), host(F.dropout(cr.ones(9, device=cuda)))]
    cr.rand(100, device=cuda)
    cr.cuda.set_rng_state(state)
    got = [host(cr.rand(4, device=cuda)), host(F.dropout(cr.ones(9, device=cuda)))]
    for e, g in zip(expected, got):
        np.testing.assert_array_equal(g, e)
    assert cr.cuda.get_rng_state_all()[0].shape == state.shape
    cr.cuda.set_rng_state_all([state])
    np.testing.assert_array_equal(host(cr.rand(4, device=cuda)), expected[0])


def test_cpu_rng_state_does_not_carry_the_cuda_stream(cuda):
    cr.manual_seed(2)
    cpu_state = cr.get_rng_state()
    a = host(cr.rand(4, device=cuda))
    cr.set_rng_state(cpu_state)
    assert not np.array_equal(host(cr.rand(4, device=cuda)), a)


def test_set_rng_state_refuses_a_wrong_state(cuda):
    with pytest.raises(ValueError, match="16 bytes"):
        cr.cuda.set_rng_state(cr.zeros(8, dtype=cr.uint8))
    with pytest.raises(TypeError, match="uint8"):
        cr.cuda.set_rng_state(cr.zeros(16))


def test_own_cuda_generator(cuda):
    g = cr.Generator(device=cuda)
    assert g.device == cr.device("cuda:0")
    g.manual_seed(8)
    a = host(cr.randn(6, generator=g, device=cuda))
    cr.cuda.manual_seed(8)
    cr.rand(5, device=cuda)  # the default CUDA generator's draws do not move g
    g.manual_seed(8)
    np.testing.assert_array_equal(host(cr.randn(6, generator=g, device=cuda)), a)
    state = g.get_state()
    b = host(cr.empty(6, device=cuda).uniform_(generator=g))
    g.set_state(state)
    np.testing.assert_array_equal(host(cr.empty(6, device=cuda).uniform_(generator=g)), b)


def test_generator_of_another_device_type_is_refused(cuda):
    g = cr.Generator(device=cuda)
    with pytest.raises(DeviceError, match="Expected a 'cpu' device type for generator but found 'cuda'"):
        cr.rand(3, generator=g)
    with pytest.raises(DeviceError, match="Expected a 'cuda' device type for generator but found 'cpu'"):
        cr.rand(3, generator=cr.Generator(), device=cuda)


def test_seeding_needs_no_gpu():
    # (no stand-in, no CuPy: seeding is kept for the first draw, as PyTorch's lazy seeding)
    cr.cuda.manual_seed(17)
    assert cr.cuda.initial_seed() == 17
    assert tuple(cr.cuda.get_rng_state().shape) == (16,)


# ---------------------------------------------------------- distributions --
def test_device_draws_follow_their_distributions(cuda):
    cr.cuda.manual_seed(0)
    n = 20000
    u = host(cr.rand(n, device=cuda))
    assert u.min() >= 0 and u.max() < 1 and abs(u.mean() - 0.5) < 0.01
    z = host(cr.randn(n, device=cuda, dtype=cr.float64))
    assert abs(z.mean()) < 0.03 and abs(z.std() - 1) < 0.03
    assert sorted(host(cr.randperm(50, device=cuda)).tolist()) == list(range(50))
    keep = host(F.dropout(cr.ones(n, device=cuda), 0.25))
    assert set(np.unique(keep).tolist()) <= {0.0, np.float32(1 / 0.75)}
    assert abs((keep == 0).mean() - 0.25) < 0.015
    for dtype in (cr.float16, cr.float32, cr.float64):
        assert cr.rand(3, device=cuda, dtype=dtype).dtype is dtype


def test_device_multinomial(cuda):
    cr.cuda.manual_seed(0)
    w = cr.tensor([[0.0, 1.0, 0.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0, 2.0]], device=cuda)
    out = host(cr.multinomial(w, 5))
    assert out.dtype == np.int64
    for row in out:
        assert sorted(row.tolist()) == list(range(5))  # without replacement: each once
    assert set(out[0, :2].tolist()) == {1, 3}          # weighted categories before zero-weight
    many = host(cr.multinomial(cr.tensor([0.1, 0.0, 0.6, 0.3], device=cuda), 20000, True))
    freq = np.bincount(many, minlength=4) / many.size
    np.testing.assert_allclose(freq, [0.1, 0.0, 0.6, 0.3], atol=0.015)
    first = host(cr.multinomial(cr.tensor([1.0, 3.0], device=cuda), 1000, True))
    assert abs(first.mean() - 0.75) < 0.05  # (the second category, 3 times as likely)
    with pytest.raises(Exception, match="non-negative"):
        cr.multinomial(cr.tensor([1.0, -1.0], device=cuda), 1)
    with pytest.raises(Exception, match="positive sum"):
        cr.multinomial(cr.tensor([0.0, 0.0], device=cuda), 1)


# ------------------------------------------------------- dropout, checkpoint --
def _net(device):
    cr.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 12), nn.Dropout(0.5), nn.Tanh(), nn.Linear(12, 3)).to(device)


def test_dropout_is_reproducible_under_manual_seed(cuda):
    model = _net(cuda)
    x = cr.randn(4, 6, device=cuda)
    cr.manual_seed(3)
    a = host(model(x))
    cr.manual_seed(3)
    np.testing.assert_array_equal(host(model(x)), a)
    assert not np.array_equal(host(model(x)), a)  # (the next step draws a new mask)


def _grads(model, x, run):
    model.zero_grad()
    x = x.detach().requires_grad_()
    cr.manual_seed(7)
    out = run(model, x)
    out.sum().backward()
    return [host(out), host(x.grad)] + [host(p.grad) for p in model.parameters()]


@pytest.mark.parametrize("use_reentrant", [True, False])
def test_checkpoint_with_dropout_on_cuda_equals_the_plain_run(cuda, use_reentrant):
    model = _net(cuda)
    x = cr.randn(5, 6, device=cuda)
    plain = _grads(model, x, lambda m, x: m(x))
    ckpt = _grads(model, x, lambda m, x: checkpoint(m, x, use_reentrant=use_reentrant))
    for p, c in zip(plain, ckpt):
        np.testing.assert_array_equal(c, p)
    # without the RNG replay the recomputation draws another mask: the gradients differ
    loose = _grads(model, x, lambda m, x: checkpoint(m, x, use_reentrant=use_reentrant,
                                                     preserve_rng_state=False))
    np.testing.assert_array_equal(loose[0], plain[0])
    assert not all(np.array_equal(a, b) for a, b in zip(loose[2:], plain[2:]))


def test_checkpoint_recomputation_does_not_move_the_outer_cuda_stream(cuda):
    model = _net(cuda)
    x = cr.randn(5, 6, device=cuda, requires_grad=True)
    cr.manual_seed(1)
    model(x).sum().backward()
    after_plain = host(cr.rand(4, device=cuda))
    cr.manual_seed(1)
    checkpoint(model, x, use_reentrant=False).sum().backward()
    np.testing.assert_array_equal(host(cr.rand(4, device=cuda)), after_plain)


# ---------------------------------------------------------------- stand-in --
@standin_only
def test_standin_random_state_mirrors_cupy(cuda):
    rs = standin.module.random.RandomState(np.uint64(5), method=standin.module.cuda.curand.
                                           CURAND_RNG_PSEUDO_PHILOX4_32_10)
    a = rs.random_sample(size=(2, 3), dtype=np.float32)
    assert isinstance(a, standin.ndarray) and a.dtype == np.float32 and a.shape == (2, 3)
    with pytest.raises(TypeError, match="safe"):  # CuPy casts seeds to uint64 "safely"
        rs.seed(5)
    rs.seed(np.uint64(5))
    np.testing.assert_array_equal(rs.random_sample(size=(2, 3), dtype=np.float32).get(), a.get())
    with pytest.raises(TypeError, match="float32 or float64"):  # cuRAND has no float16 draws
        rs.random_sample(size=3, dtype=np.float16)
    assert rs.randint(0, 5, size=4, dtype=np.int64).dtype == np.int64
    assert isinstance(rs.permutation(6), standin.ndarray)
