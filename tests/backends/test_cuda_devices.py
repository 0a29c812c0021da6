"""Several GPUs, ``cuda:0`` and ``cuda:1``, as PyTorch has them: device strings, moves,
factories, ``Module.to``, the selected device (``set_device``, ``with cuda.device``), memory
and generators per GPU, optimizer state, checkpoints, training on the second GPU against the
CPU, and the errors for mixing GPUs or naming one past the last.

Without a GPU this runs on the CuPy stand-in with two devices (chainrule/backends/
standin_devices.py), which refuses a kernel given an array of a device that is not the
current one (CuPy without peer access): an op on ``cuda:1`` tensors that fails to make
GPU 1 current fails here."""
from __future__ import annotations

import io
import re

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
from chainrule.backends import standin, standin_devices
from chainrule.errors import DeviceError

from tests.backends.cuda_device import REAL_CUDA, standin_only, train_steps

TOL = dict(rtol=1e-9, atol=1e-12)


@pytest.fixture
def gpus(monkeypatch):
    """Two GPUs for one test (the stand-in's, unless the run has real ones); GPU 0 selected
    before and after."""
    was = standin.enabled()
    if not REAL_CUDA:
        monkeypatch.setenv(standin_devices.ENV, "2")
        standin.enable()
    if cr.cuda.device_count() < 2:
        pytest.skip("needs two GPUs")
    cr.cuda.set_device(0)
    yield ("cuda:0", "cuda:1")
    cr.cuda.set_device(0)
    if not was:
        standin.disable()


def host(t: cr.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def _both_named(message: str) -> bool:
    return "cuda:0" in message and "cuda:1" in message


# ------------------------------------------------------------------ stand-in --
@standin_only
def test_standin_has_as_many_devices_as_the_environment_says(monkeypatch):
    monkeypatch.setenv(standin_devices.ENV, "3")
    assert standin.module.cuda.runtime.getDeviceCount() == 3
    monkeypatch.delenv(standin_devices.ENV)
    assert standin.module.cuda.runtime.getDeviceCount() == standin_devices.DEFAULT == 2
    monkeypatch.setenv(standin_devices.ENV, "1")
    with pytest.raises(standin_devices.CUDARuntimeError, match="invalid device ordinal"):
        standin.module.cuda.Device(1).use()


@standin_only
def test_standin_arrays_remember_their_device_and_kernels_take_the_current_ones(gpus):
    cupy = standin.module
    with cupy.cuda.Device(1):
        a = cupy.arange(3.0)
        assert cupy.cuda.runtime.getDevice() == 1 and (a + 1).device.id == 1
    assert a.device.id == 1 and cupy.cuda.runtime.getDevice() == 0  # (the block restores)
    with pytest.raises(ValueError, match=r"resides \(1\) is different from the current device "
                                         r"\(0\)\. Peer access is unavailable"):
        a * 2
    with pytest.raises(ValueError, match="resides"):
        cupy.exp(a)
    with pytest.raises(ValueError, match="resides"):
        a.sum()
    moved, copied = cupy.asarray(a), a.copy()  # CuPy's ways across devices: copies
    assert moved.device.id == copied.device.id == 0
    with cupy.cuda.Device(1):
        a[0] = 7.0
    assert moved.tolist() == copied.tolist() == [0.0, 1.0, 2.0] and a.tolist() == [7.0, 1.0, 2.0]
    with pytest.raises(standin_devices.CUDARuntimeError, match="invalid device ordinal"):
        cupy.cuda.runtime.setDevice(2)


@standin_only
def test_standin_memory_pool_counts_each_device(gpus):
    pool = standin.module.get_default_memory_pool()
    with standin.module.cuda.Device(1):
        before1 = pool.used_bytes()
    before0 = pool.used_bytes()
    with standin.module.cuda.Device(1):
        a = standin.module.zeros(100)  # float64: 800 bytes on device 1
        assert pool.used_bytes() - before1 == 800
    assert pool.used_bytes() == before0
    del a
    with standin.module.cuda.Device(1):
        assert pool.used_bytes() == before1


# ------------------------------------------------------------------- devices --
def test_a_tensor_on_the_second_gpu_reports_it(gpus):
    x = cr.ones(2, device="cuda:1")
    assert x.device == cr.device("cuda:1") == cr.device("cuda", 1) and x.device.index == 1
    assert str(x.device) == "cuda:1" and "device='cuda:1'" in repr(x)
    assert x.is_cuda and x.get_device() == 1 and cr.zeros(1, device="cuda:0").get_device() == 0
    assert cr.ones(2, device=cr.device("cuda", 1)).device.index == 1


def test_moves_between_gpus_keep_values_and_gradients(gpus):
    a = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    on1 = a.to("cuda:1")
    assert on1.device.index == 1 and on1.to("cuda:1") is on1 and on1.cuda(1) is on1
    on0 = on1.to("cuda:0")
    assert on0.device.index == 0 and on0.tolist() == [1.0, 2.0, 3.0]
    (on0 * on0).sum().backward()  # the gradient comes back cuda:0 → cuda:1 → cpu
    assert a.grad.device.type == "cpu" and a.grad.tolist() == [2.0, 4.0, 6.0]
    moved = [a.cuda(1), a.cuda("cuda:1"), a.cuda(cr.device("cuda:1")), a.to(cr.device("cuda:1")),
             a.to(on1), a.to("cuda:1", non_blocking=True), a.to(device="cuda:1", dtype=cr.float64)]
    assert all(t.device.index == 1 for t in moved)
    assert on1.cuda().device.index == 0  # (no index: the selected GPU, as PyTorch)
    assert on1.cpu().device.type == "cpu"


def test_factories_make_tensors_on_the_gpu_named(gpus):
    d = "cuda:1"
    like = cr.ones(2, device=d)
    made = [cr.zeros(2, device=d), cr.ones(2, device=d), cr.full((2,), 3.0, device=d),
            cr.arange(3, device=d), cr.linspace(0, 1, 3, device=d), cr.eye(2, device=d),
            cr.empty(2, device=d), cr.rand(2, device=d), cr.randn(2, device=d),
            cr.randint(0, 3, (2,), device=d), cr.randperm(3, device=d),
            cr.tensor([1, 2], device=d), cr.as_tensor([1.0], device=d),
            cr.zeros_like(like), cr.ones_like(like), cr.rand_like(like), cr.randn_like(like),
            cr.full_like(like, 2.0), cr.empty_like(like)]
    assert [t.device.index for t in made] == [1] * len(made)
    assert cr.arange(3, device=d).tolist() == [0, 1, 2]


def test_module_to_and_cuda_move_parameters_and_buffers(gpus):
    for move in (lambda m: m.to("cuda:1"), lambda m: m.cuda(1), lambda m: m.cuda("cuda:1"),
                 lambda m: m.cuda(cr.device("cuda:1")), lambda m: m.to(device=cr.device("cuda:1"))):
        m = move(nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)))
        tensors = list(m.parameters()) + list(m.buffers())
        assert {str(t.device) for t in tensors} == {"cuda:1"}
        out = m(cr.randn(5, 3, device="cuda:1"))
        assert out.device.index == 1


def test_the_selected_gpu_is_what_cuda_without_an_index_means(gpus):
    assert cr.cuda.current_device() == 0 and cr.zeros(1, device="cuda").device.index == 0
    cr.cuda.set_device(1)
    assert cr.cuda.current_device() == 1
    assert cr.zeros(1, device="cuda").device.index == 1 and cr.ones(1).cuda().device.index == 1
    assert cr.Generator(device="cuda").device == cr.device("cuda:1")
    with cr.cuda.device(0):
        assert cr.cuda.current_device() == 0 and cr.zeros(1, device="cuda").device.index == 0
        with cr.cuda.device(None):  # (None: no change)
            assert cr.cuda.current_device() == 0
    assert cr.cuda.current_device() == 1
    with cr.cuda.device_of(cr.ones(1, device="cuda:0")):
        assert cr.cuda.current_device() == 0
    with cr.cuda.device_of(cr.ones(1)):  # a CPU tensor: no change
        assert cr.cuda.current_device() == 1
    cr.cuda.set_device(cr.device("cuda:0"))
    assert cr.cuda.current_device() == 0
    cr.cuda.set_device("cuda:1")
    assert cr.cuda.current_device() == 1
    with pytest.raises(DeviceError, match="cuda:2: CUDA error: invalid device ordinal"):
        cr.cuda.set_device(2)
    assert cr.cuda.current_device() == 1


def test_an_index_past_the_last_gpu_is_an_invalid_ordinal(gpus):
    n = cr.cuda.device_count()
    for make in (lambda: cr.zeros(2, device=f"cuda:{n}"), lambda: cr.ones(2).to(f"cuda:{n}"),
                 lambda: cr.ones(2).cuda(n), lambda: nn.Linear(2, 2).to(f"cuda:{n}"),
                 lambda: cr.rand(2, generator=cr.Generator(f"cuda:{n}"), device=f"cuda:{n}")):
        with pytest.raises(DeviceError, match=f"cuda:{n}: CUDA error: invalid device ordinal"):
            make()
    with pytest.raises(AssertionError, match=f"Invalid device id {n}"):
        cr.cuda.get_device_properties(n)
    cr.cuda.synchronize(1)
    assert isinstance(cr.cuda.get_device_name(1), str)


# -------------------------------------------------------------------- memory --
def test_memory_is_counted_per_gpu(gpus):
    before = [cr.cuda.memory_allocated(i) for i in (0, 1)]
    x = cr.zeros(1000, device="cuda:1")  # float32: 4000 bytes
    assert cr.cuda.memory_allocated(1) - before[1] == 4000
    assert cr.cuda.memory_allocated("cuda:1") == cr.cuda.memory_allocated(cr.device("cuda:1"))
    assert cr.cuda.memory_allocated(0) == before[0]
    assert cr.cuda.memory_allocated() == before[0]  # (the selected GPU's)
    with cr.cuda.device(1):
        assert cr.cuda.memory_allocated() == before[1] + 4000
    assert cr.cuda.memory_reserved(1) >= cr.cuda.memory_allocated(1)
    cr.cuda.reset_peak_memory_stats(1)
    y = cr.zeros(500, device="cuda:1")
    peak = cr.cuda.max_memory_allocated(1)
    assert peak >= before[1] + 6000
    del x, y
    assert cr.cuda.memory_allocated(1) == before[1]
    assert cr.cuda.max_memory_allocated(1) == peak  # (the peak stays until reset)
    cr.cuda.reset_peak_memory_stats(1)
    assert cr.cuda.max_memory_allocated(1) == before[1]


# ---------------------------------------------------------------- generators --
def test_each_gpu_has_its_generator(gpus):
    cr.cuda.manual_seed_all(3)
    assert [g.initial_seed() for g in cr.cuda.default_generators] == [3, 3]
    cr.cuda.manual_seed(7)  # the selected GPU's only
    assert [g.initial_seed() for g in cr.cuda.default_generators] == [7, 3]
    with cr.cuda.device(1):
        cr.cuda.manual_seed(9)
        assert cr.cuda.initial_seed() == 9
    assert [g.initial_seed() for g in cr.cuda.default_generators] == [7, 9]
    cr.cuda.manual_seed_all(5)
    a1, a0 = host(cr.rand(4, device="cuda:1")), host(cr.rand(4, device="cuda:0"))
    np.testing.assert_array_equal(a1, a0)  # one seed, one stream: the same numbers on each GPU
    cr.cuda.manual_seed(6)  # reseeds GPU 0 only: GPU 1's stream goes on
    b1 = host(cr.rand(4, device="cuda:1"))
    cr.cuda.manual_seed_all(5)
    host(cr.rand(4, device="cuda:1"))
    np.testing.assert_array_equal(host(cr.rand(4, device="cuda:1")), b1)


def test_rng_state_of_the_second_gpu_round_trips(gpus):
    cr.manual_seed(1)  # (seeds every GPU's too)
    state = cr.cuda.get_rng_state("cuda:1")
    first = host(nn.functional.dropout(cr.ones(20, device="cuda:1"), 0.5))
    cr.rand(3, device="cuda:0")  # another GPU's draw does not move GPU 1's stream
    cr.cuda.set_rng_state(state, "cuda:1")
    np.testing.assert_array_equal(host(nn.functional.dropout(cr.ones(20, device="cuda:1"), 0.5)),
                                  first)
    states = cr.cuda.get_rng_state_all()
    assert len(states) >= 2 and all(tuple(s.shape) == (16,) for s in states)


@standin_only
def test_seeding_every_gpu_reaches_generators_made_later(monkeypatch):
    was = standin.enabled()
    monkeypatch.setenv(standin_devices.ENV, "4")
    standin.enable()
    try:
        cr.manual_seed(4)  # before GPU 3's generator is first used
        late = host(cr.rand(5, device="cuda:3"))
        cr.cuda.manual_seed_all(4)
        np.testing.assert_array_equal(host(cr.rand(5, device="cuda:0")), late)
    finally:
        if not was:
            standin.disable()


# ------------------------------------------------------------------ training --
def _train(device: str, optimizer: str):
    return train_steps(device, lambda: (nn.Linear(5, 8), nn.LayerNorm(8), nn.ReLU(),
                                        nn.Linear(8, 3)), optimizer, {"lr": 0.05})


@pytest.mark.parametrize("optimizer", ["SGD", "Adam", "AdamW", "RMSprop"])
def test_training_steps_on_the_second_gpu_match_cpu(gpus, optimizer):
    model, opt = _train("cuda:1", optimizer)
    ref, _ = _train("cpu", optimizer)
    for p, q in zip(model.parameters(), ref.parameters()):
        assert p.device.index == 1 and p.grad.device.index == 1
        np.testing.assert_allclose(host(p), host(q), **TOL)
    moments = [v for state in opt.state.values() for k, v in state.items()
               if isinstance(v, cr.Tensor) and k != "step" and v.ndim]
    assert all(v.device.index == 1 for v in moments)  # on the parameter's GPU


def test_a_model_split_over_two_gpus_matches_cpu(gpus):
    def run(first: str, second: str):
        cr.manual_seed(0)
        a, b = nn.Linear(4, 6).double().to(first), nn.Linear(6, 2).double().to(second)
        x = cr.tensor(np.random.default_rng(0).standard_normal((3, 4)), device=first)
        loss = b(a(x).relu().to(second)).pow(2).sum()
        loss.backward()
        return [host(loss)] + [host(p.grad) for p in [*a.parameters(), *b.parameters()]]
    for got, want in zip(run("cuda:0", "cuda:1"), run("cpu", "cpu")):
        np.testing.assert_allclose(got, want, **TOL)


@standin_only
def test_ops_make_their_tensors_gpu_current_themselves(gpus):
    # as after a line that ran on GPU 0: CuPy's current device is 0 when GPU 1's work starts
    w = cr.randn(4, 3, device="cuda:1", dtype=cr.float64, requires_grad=True)
    x = cr.randn(5, 4, device="cuda:1", dtype=cr.float64)
    xs, ws = host(x), host(w)
    standin_devices.set_current(0)
    out = (x @ w).tanh().sum()
    standin_devices.set_current(0)
    out.backward()
    np.testing.assert_allclose(host(w.grad), xs.T @ (1 - np.tanh(xs @ ws) ** 2), **TOL)
    standin_devices.set_current(0)
    cr.optim.SGD([w], lr=0.5).step()
    np.testing.assert_allclose(host(w), ws - 0.5 * host(w.grad), **TOL)
    for make in (lambda: cr.optim.Adam([w], lr=0.1), lambda: cr.optim.SGD([w], lr=0.1, momentum=0.9)):
        opt = make()
        for _ in range(2):  # (the second step reads the state the first made on GPU 1)
            standin_devices.set_current(0)
            opt.step()
        assert all(v.device.index == 1 for v in opt.state[w].values()
                   if isinstance(v, cr.Tensor) and v.ndim)
    assert w.device.index == 1 and w.grad.device.index == 1


# --------------------------------------------------------------- checkpoints --
def test_checkpoint_of_second_gpu_tensors_loads_where_asked(gpus):
    m = nn.Linear(3, 2).to("cuda:1")
    buf = io.BytesIO()
    cr.save(m.state_dict(), buf)

    def load(**kw):
        return cr.load(io.BytesIO(buf.getvalue()), **kw)
    assert {str(v.device) for v in load().values()} == {"cuda:1"}  # where it was saved
    assert {str(v.device) for v in load(map_location="cpu").values()} == {"cpu"}
    assert {str(v.device) for v in load(map_location={"cuda:1": "cuda:0"}).values()} == {"cuda:0"}
    assert {str(v.device) for v in load(map_location=cr.device("cuda:0")).values()} == {"cuda:0"}
    back = load(map_location="cuda:1")
    np.testing.assert_array_equal(host(back["weight"]), host(m.weight))
    m2 = nn.Linear(3, 2).to("cuda:1")
    m2.load_state_dict(load(map_location="cpu"))  # (copied onto the module's GPU)
    assert m2.weight.device.index == 1
    np.testing.assert_array_equal(host(m2.weight), host(m.weight))


@standin_only
def test_checkpoint_from_a_gpu_missing_here_says_map_location(monkeypatch):
    was = standin.enabled()
    monkeypatch.setenv(standin_devices.ENV, "3")
    standin.enable()
    try:
        buf = io.BytesIO()
        cr.save({"w": cr.ones(2, device="cuda:2")}, buf)
        monkeypatch.setenv(standin_devices.ENV, "2")
        standin.enable()  # (a machine with two GPUs)
        with pytest.raises(Exception, match=r"(?s)cuda:2.*invalid device ordinal.*map_location"):
            cr.load(io.BytesIO(buf.getvalue()))
        assert cr.load(io.BytesIO(buf.getvalue()), map_location="cuda:1")["w"].device.index == 1
    finally:
        if not was:
            standin.disable()


# ------------------------------------------------------------ mixing devices --
@pytest.mark.parametrize("op", ["add", "matmul", "cat", "where", "linear", "gather", "getitem",
                                "index_select", "model", "loss"])
def test_mixing_gpus_raises_naming_both(gpus, op):
    a, b = cr.ones(2, 2, device="cuda:0"), cr.ones(2, 2, device="cuda:1")
    index = cr.tensor([[0, 1]], device="cuda:1")
    calls = {"add": lambda: a + b, "matmul": lambda: a @ b, "cat": lambda: cr.cat([a, b]),
             "where": lambda: cr.where(a > 0, a, b), "linear": lambda: nn.functional.linear(a, b),
             "gather": lambda: a.gather(0, index), "getitem": lambda: a[index[0]],
             "index_select": lambda: a.index_select(0, index[0]),
             "model": lambda: nn.Linear(2, 2).to("cuda:0")(b),
             "loss": lambda: nn.functional.mse_loss(a, b)}
    with pytest.raises(DeviceError) as info:
        calls[op]()
    assert _both_named(str(info.value)), str(info.value)
    assert re.search(r"same device|indices should be", str(info.value))


def test_copies_across_gpus_are_allowed_as_in_pytorch(gpus):
    a, b = cr.zeros(2, 2, device="cuda:0"), cr.arange(4.0, device="cuda:1").reshape(2, 2)
    a.copy_(b)
    a[0] = b[1]  # (x[i] = v copies v over, as copy_)
    assert a.device.index == 0 and a.tolist() == [[2.0, 3.0], [2.0, 3.0]]


def test_accelerator_indices_are_the_cuda_ones(gpus):
    assert cr.accelerator.device_count() == cr.cuda.device_count()
    cr.accelerator.set_device_index(1)
    assert cr.accelerator.current_device_index() == 1 == cr.cuda.current_device()
    with cr.accelerator.device_index(0):
        assert cr.zeros(1, device="cuda").device.index == 0
    assert cr.accelerator.current_device_index() == 1
