"""The ``cuda`` device end to end on the CPU stand-in for CuPy: the stand-in's arrays,
device plumbing (``to``/``cuda``/``cpu``, ``Module.to``, optimizer state, checkpoints,
``chainrule.cuda``), layers and training steps on ``cuda`` against the same on the CPU."""
from __future__ import annotations

import io
import operator
import os
import subprocess
import sys

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
from chainrule.backends import standin
from chainrule.errors import DeviceError

from tests.backends.cuda_device import REAL_CUDA, cuda, standin_only, train_steps  # noqa: F401 (cuda: a fixture)


# ------------------------------------------------------------ stand-in arrays --
@standin_only
def test_standin_arrays_refuse_implicit_host_copies(cuda):
    x = cr.arange(6.0, device=cuda).reshape(2, 3)._data
    with pytest.raises(TypeError, match="Implicit conversion to a NumPy array"):
        np.asarray(x)
    for pull in (bool, float, int, operator.index, complex):
        with pytest.raises(standin.HostSyncError, match=r"\.item\(\)"):
            pull(x.sum())
    with pytest.raises(TypeError, match="Unsupported type"):
        x + np.ones(3)  # NumPy operands are refused, as CuPy refuses them
    assert x.sum().item() == 15.0 and x.tolist() == [[0, 1, 2], [3, 4, 5]]
    assert isinstance(x.get(), np.ndarray) and not hasattr(x.flags, "writeable")
    assert type(x.sum()) is standin.ndarray and x.sum().shape == ()  # 0-d, not a scalar


@standin_only
def test_standin_memory_pool_counts_live_buffers(cuda):
    cr.cuda.reset_peak_memory_stats()
    before = cr.cuda.memory_allocated()
    x = cr.zeros(1000, device=cuda)  # float32: 4000 bytes
    assert cr.cuda.memory_allocated() - before == 4000
    del x
    assert cr.cuda.memory_allocated() == before
    assert cr.cuda.max_memory_allocated() >= before + 4000


def test_cuda_module_on_the_standin(cuda):
    assert cr.cuda.is_available() and cr.cuda.device_count() >= 1
    assert cr.cuda.current_device() == 0
    cr.cuda.synchronize()
    cr.cuda.manual_seed(0)
    assert REAL_CUDA or "stand-in" in cr.cuda.get_device_name()


# ------------------------------------------------------------------ plumbing --
def test_to_cuda_and_back_keeps_values_and_gradients(cuda):
    a = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = a.to(cuda)
    assert str(b.device) == "cuda:0" and b.is_cuda and "device='cuda:0'" in repr(b)
    assert b.cuda() is b and a.cpu() is a
    (b * b).sum().backward()
    assert a.grad.device == cr.device("cpu") and a.grad.tolist() == [2.0, 4.0, 6.0]
    c = b.detach().to("cpu", non_blocking=True)
    assert c.device == cr.device("cpu") and c.tolist() == [1.0, 2.0, 3.0]
    assert cr.ones(2).to(cuda, non_blocking=True).device.type == "cuda"
    assert cr.zeros(2, device="cuda:0").device == cr.device("cuda:0")


def test_an_index_past_the_last_gpu_is_an_invalid_ordinal(cuda):
    # every GPU CuPy sees is a device (tests/backends/test_cuda_devices.py); past the last one
    # PyTorch's "CUDA error: invalid device ordinal"
    n = cr.cuda.device_count()
    assert cr.zeros(2, device=f"cuda:{n - 1}").device == cr.device("cuda", n - 1)
    with pytest.raises(DeviceError, match=f"cuda:{n}: CUDA error: invalid device ordinal"):
        cr.zeros(2, device=f"cuda:{n}")
    with pytest.raises(DeviceError, match=f"cuda:{n + 1}: CUDA error: invalid device ordinal"):
        cr.ones(2).to(f"cuda:{n + 1}")


def test_mixing_devices_names_both(cuda):
    with pytest.raises(DeviceError, match=r"same device.*on cuda:0.*on cpu"):
        cr.ones(2, device=cuda) + cr.ones(2)
    with pytest.raises(DeviceError, match=r"same device.*on cpu.*on cuda:0"):
        cr.ones(2, 2) @ cr.ones(2, 2, device=cuda)


def test_writes_into_expanded_memory_are_refused_without_a_writeable_flag():
    # CuPy's arrays have no read-only flag: an expand view is told by its zero strides
    from chainrule.ops.inplace import _writeable
    shared = np.lib.stride_tricks.as_strided(np.zeros(1), (3,), (0,))  # writable, overlapping
    assert shared.flags.writeable and not _writeable(shared)
    assert _writeable(np.lib.stride_tricks.as_strided(np.zeros(3), (1, 3), (0, 8)))  # size-1 dim
    assert _writeable(np.zeros((2, 3))) and not _writeable(np.broadcast_to(np.zeros(3), (2, 3)))


def test_cpu_scalar_tensors_go_with_cuda_tensors(cuda):
    # as PyTorch: a 0-dim CPU tensor is a scalar constant for an op on any device
    x = cr.ones(2, device=cuda, requires_grad=True)
    y = x * cr.tensor(3.0) + cr.tensor(1.0)
    y.sum().backward()
    assert y.device.type == "cuda" and y.tolist() == [4.0, 4.0] and x.grad.tolist() == [3.0, 3.0]
    with pytest.raises(DeviceError, match="found at least two devices, cuda:0 and cpu"):
        x * cr.tensor(2.0, requires_grad=True)  # (its gradient would have to come back to the CPU)


def test_factories_and_random_on_cuda(cuda):
    made = [cr.zeros(2, device=cuda), cr.ones(2, device=cuda), cr.full((2,), 3.0, device=cuda),
            cr.arange(3, device=cuda), cr.linspace(0, 1, 3, device=cuda), cr.eye(2, device=cuda),
            cr.empty(2, device=cuda), cr.rand(2, device=cuda), cr.randn(2, device=cuda),
            cr.randint(0, 3, (2,), device=cuda), cr.randperm(3, device=cuda),
            cr.tensor([1, 2], device=cuda), cr.zeros_like(cr.ones(2, device=cuda))]
    assert all(t.device.type == "cuda" for t in made)


def test_checkpoint_of_cuda_tensors_loads_on_either_device(cuda):
    m = nn.Linear(3, 2).to(cuda)
    buf = io.BytesIO()
    cr.save(m.state_dict(), buf)
    on_cuda = cr.load(io.BytesIO(buf.getvalue()))
    on_cpu = cr.load(io.BytesIO(buf.getvalue()), map_location="cpu")
    assert {str(v.device) for v in on_cuda.values()} == {"cuda:0"}
    assert {str(v.device) for v in on_cpu.values()} == {"cpu"}
    np.testing.assert_array_equal(on_cpu["weight"].numpy(), m.weight.detach().cpu().numpy())


# ------------------------------------------------------ layers, training steps --
LAYERS = {
    "linear": (lambda: nn.Linear(6, 4), (3, 6)),
    "conv2d+bn+pool": (lambda: nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4),
                                             nn.ReLU(), nn.MaxPool2d(2), nn.AvgPool2d(2)),
                       (2, 2, 8, 8)),
    "conv_transpose2d": (lambda: nn.ConvTranspose2d(2, 3, 3, stride=2), (2, 2, 4, 4)),
    "conv1d+groupnorm": (lambda: nn.Sequential(nn.Conv1d(4, 4, 3), nn.GroupNorm(2, 4)), (2, 4, 7)),
    "adaptive_avg_pool": (lambda: nn.AdaptiveAvgPool2d((2, 3)), (2, 3, 5, 7)),
    "layernorm+gelu": (lambda: nn.Sequential(nn.LayerNorm(5), nn.GELU(), nn.Tanh()), (3, 5)),
    "lstm": (lambda: nn.LSTM(4, 5, num_layers=2, batch_first=True), (2, 3, 4)),
    "gru": (lambda: nn.GRU(4, 5, bidirectional=True), (3, 2, 4)),
    "attention": (lambda: nn.MultiheadAttention(8, 2, batch_first=True), (2, 5, 8)),
    "transformer": (lambda: nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True),
                    (2, 5, 8)),
    "softmax+logsoftmax": (lambda: nn.Sequential(nn.Softmax(-1), nn.LogSoftmax(-1)), (3, 4)),
    "conv3d+maxpool3d": (lambda: nn.Sequential(nn.Conv3d(2, 3, 2), nn.MaxPool3d(2),
                                               nn.AvgPool3d(1)), (1, 2, 5, 5, 5)),
    "batchnorm1d+instancenorm": (lambda: nn.Sequential(nn.BatchNorm1d(3), nn.InstanceNorm1d(3)),
                                 (4, 3, 6)),
    "upsample+pixel_shuffle": (lambda: nn.Sequential(nn.Upsample(scale_factor=2, mode="bilinear"),
                                                     nn.PixelShuffle(2)), (1, 4, 3, 3)),
    "elu+silu+softplus": (lambda: nn.Sequential(nn.ELU(), nn.SiLU(), nn.Softplus()), (3, 4)),
    "adaptive_max_pool+unfold": (lambda: nn.Sequential(nn.AdaptiveMaxPool2d(3), nn.Unfold(2)),
                                 (1, 2, 7, 7)),
}


def _run_layer(name: str, device: str):
    make, shape = LAYERS[name]
    cr.manual_seed(0)
    layer = make().double().to(device)
    x = cr.tensor(np.random.default_rng(1).standard_normal(shape), device=device,
                  requires_grad=True)
    out = layer(x, x, x)[0] if name == "attention" else layer(x)
    out = out[0] if isinstance(out, tuple) else out
    out.pow(2).sum().backward()
    grads = [x.grad] + [p.grad for p in layer.parameters()]
    return [t.detach().cpu().numpy() for t in [out, *grads]]


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_on_cuda_matches_cpu(cuda, name):
    for got, ref in zip(_run_layer(name, cuda), _run_layer(name, "cpu")):
        np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)


LOSSES = {
    "cross_entropy": lambda F, x, y: F.cross_entropy(x, y, label_smoothing=0.1),
    "nll": lambda F, x, y: F.nll_loss(F.log_softmax(x, -1), y),
    "mse": lambda F, x, y: F.mse_loss(x, x.detach() * 0.5),
    "bce_logits": lambda F, x, y: F.binary_cross_entropy_with_logits(x, (x.detach() > 0).double()),
    "smooth_l1": lambda F, x, y: F.smooth_l1_loss(x, x.detach().flip(0)),
}


def test_embeddings_on_cuda_match_cpu(cuda):
    results = []
    for device in (cuda, "cpu"):
        cr.manual_seed(0)
        emb = nn.Embedding(10, 4, padding_idx=0).double().to(device)
        bag = nn.EmbeddingBag(10, 3, mode="max").double().to(device)
        idx = cr.tensor([[1, 0, 3], [9, 3, 3]], device=device)
        out = emb(idx).sum() + bag(idx).pow(2).sum()
        out.backward()
        results.append([t.detach().cpu().numpy() for t in (out, emb.weight.grad, bag.weight.grad)])
    for got, ref in zip(*results):
        np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)


def test_dropout_in_training_runs_on_cuda(cuda):
    x = cr.ones(1000, device=cuda, requires_grad=True)
    y = nn.functional.dropout(x, 0.5, training=True)
    y.sum().backward()
    kept = (y != 0).sum().item()
    assert y.device.type == "cuda" and 350 < kept < 650
    np.testing.assert_array_equal(x.grad.cpu().numpy() * 0.5, (y != 0).cpu().numpy())


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_on_cuda_matches_cpu(cuda, name):
    results = []
    for device in (cuda, "cpu"):
        x = cr.tensor(np.random.default_rng(2).standard_normal((4, 3)), device=device,
                      requires_grad=True)
        y = cr.tensor([0, 2, 1, 2], device=device)
        loss = LOSSES[name](nn.functional, x, y)
        loss.backward()
        results.append((loss.item(), x.grad.cpu().numpy()))
    assert results[0][0] == pytest.approx(results[1][0], rel=1e-12)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-10, atol=1e-12)


OPTIMIZERS = {"SGD": dict(lr=0.1, momentum=0.9, nesterov=True), "Adam": dict(lr=0.01),
              "AdamW": dict(lr=0.01, amsgrad=True), "RMSprop": dict(lr=0.01, momentum=0.5),
              "Adagrad": dict(lr=0.1), "Adamax": dict(lr=0.01), "NAdam": dict(lr=0.01),
              "RAdam": dict(lr=0.01), "Adadelta": dict(lr=1.0), "Rprop": dict(lr=0.01),
              "ASGD": dict(lr=0.01)}


def _train(device: str, optimizer: str):
    return train_steps(device, lambda: (nn.Linear(5, 8), nn.ReLU(), nn.Dropout(0.0),
                                        nn.Linear(8, 3)), optimizer, OPTIMIZERS[optimizer])


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_training_steps_on_cuda_match_cpu(cuda, optimizer):
    model, opt = _train(cuda, optimizer)
    ref, _ = _train("cpu", optimizer)
    for p, q in zip(model.parameters(), ref.parameters()):
        assert p.device.type == "cuda"
        np.testing.assert_allclose(p.detach().cpu().numpy(), q.detach().numpy(), rtol=1e-9,
                                   atol=1e-12)
    for state in opt.state.values():  # moments on the parameters' device (step stays on the CPU)
        assert {v.device.type for k, v in state.items()
                if isinstance(v, cr.Tensor) and k != "step" and v.ndim} <= {"cuda"}


# ---------------------------------------------------------------------- CLI --
def _train_cli(tmp_path, env_extra):
    env = {**os.environ, **env_extra}
    env.pop("CHAINRULE_CUDA_STANDIN", None) if not env_extra else None
    return subprocess.run([sys.executable, "-m", "chainrule", "train", "--device", "cuda",
                           "--data", "moons", "--epochs", "1", "--no-report", "--quiet",
                           "--runs-dir", str(tmp_path)], capture_output=True, text=True,
                          env=env, timeout=300)


def test_train_on_cuda_without_cupy_is_one_line_and_exit_2(tmp_path):
    try:
        import cupy  # noqa: F401
        pytest.skip("CuPy is installed")
    except ImportError:
        pass
    done = _train_cli(tmp_path, {})
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "cuda" in lines[0] and "CuPy" in lines[0], done.stderr


def test_train_on_cuda_runs_on_the_standin(tmp_path):
    done = _train_cli(tmp_path, {"CHAINRULE_CUDA_STANDIN": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
