"""The edges real PyTorch programs touch first, compared with CPU-only PyTorch."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

import chainrule as cr


@pytest.mark.parametrize("query", [
    lambda m: m.cuda.is_available(), lambda m: m.cuda.device_count(),
    lambda m: m.cuda.memory_allocated(), lambda m: m.cuda.max_memory_allocated(),
    lambda m: m.cuda.manual_seed_all(3), lambda m: m.cuda.manual_seed(3), lambda m: m.cuda.empty_cache(),
    lambda m: m.accelerator.is_available(), lambda m: m.backends.mps.is_available(),
    lambda m: m.backends.cudnn.is_available(), lambda m: m.distributed.is_initialized(),
    lambda m: m.get_float32_matmul_precision(),
], ids=["is_available", "device_count", "memory_allocated", "max_memory_allocated",
        "manual_seed_all", "manual_seed", "empty_cache", "accelerator", "mps", "cudnn",
        "dist_initialized", "matmul_precision"])
def test_device_queries_answer_as_cpu_only_pytorch(query):
    assert query(cr) == query(torch)


@pytest.mark.parametrize("call", [lambda m: m.cuda.get_device_name(), lambda m: m.cuda.synchronize(),
                                  lambda m: m.cuda.current_device()])
def test_calls_that_need_a_gpu_raise_as_cpu_only_pytorch(call):
    with pytest.raises(AssertionError):
        call(torch)
    with pytest.raises(AssertionError, match="CUDA is not available"):
        call(cr)


def test_flags_programs_set_are_accepted():
    for m in (cr, torch):
        m.backends.cudnn.benchmark = True
        m.backends.cudnn.deterministic = True
        m.backends.cuda.matmul.allow_tf32 = True
        m.use_deterministic_algorithms(False)
    assert cr.backends.cudnn.benchmark is True
    cr.backends.cudnn.benchmark = cr.backends.cudnn.deterministic = False
    torch.backends.cudnn.benchmark = torch.backends.cudnn.deterministic = False


def test_modules_import_where_programs_name_them():
    from chainrule.nn.parallel import DataParallel, DistributedDataParallel  # noqa: F401
    import chainrule.distributed as dist
    import chainrule.onnx
    with pytest.raises(ValueError):
        DistributedDataParallel(cr.nn.Linear(2, 2))
    import importlib.util
    if importlib.util.find_spec("onnx") is not None:  # the optional extra: export builds a model
        assert chainrule.onnx.export(cr.nn.Linear(2, 2), cr.zeros(1, 2), None).graph.node
    # True as in PyTorch once the backend's package (mpi4py) is installed
    assert dist.is_available() is (importlib.util.find_spec("mpi4py") is not None)
    wrapped = DataParallel(cr.nn.Linear(2, 3))
    assert sorted(wrapped.state_dict()) == sorted(torch.nn.DataParallel(torch.nn.Linear(2, 3)).state_dict())


def test_unseeded_processes_differ_and_seeded_ones_agree():
    code = ("import chainrule as cr, sys; s = sys.argv[1]; "
            "cr.manual_seed(int(s)) if s != 'none' else None; "
            "print(cr.initial_seed(), cr.rand(3).tolist())")
    run = lambda seed: subprocess.run([sys.executable, "-c", code, seed], capture_output=True,  # noqa: E731
                                      text=True, check=True).stdout
    a, b = run("none"), run("none")
    assert a != b and 0 <= int(a.split()[0]) < 2 ** 64
    assert run("7") == run("7") and run("7").split()[0] == "7"


def test_new_methods_and_legacy_constructors_as_pytorch():
    for m in (cr, torch):
        w = m.ones(2, 3, dtype=m.float64)
        made = [w.new_zeros(2, 2), w.new_ones((1, 3)), w.new_full((2,), 7.0), w.new_empty(3),
                w.new_tensor([1, 2]), w.new_zeros(2, dtype=m.int64), m.FloatTensor(2, 3),
                m.LongTensor([4, 5]), m.FloatTensor([1.5])]
        desc = [(tuple(t.shape), str(t.dtype).split(".")[-1]) for t in made]
        if m is cr:
            ours = desc
        else:
            assert ours == desc
    assert isinstance(cr.zeros(2), cr.FloatTensor) and not isinstance(cr.zeros(2, dtype=cr.int64),
                                                                      cr.FloatTensor)
    assert cr.ones(1).is_cpu and not cr.ones(1).is_xpu and not cr.ones(1).is_mps


def test_next_functions_walk_like_pytorch():
    def names(m):
        x = m.ones(2, requires_grad=True)
        y = (x * 2 + m.ones(2)).sum()
        seen, stack = [], [y.grad_fn]
        while stack:
            node = stack.pop()
            seen.append(type(node).__name__ if m is torch else node.name())
            stack.extend(n for n, _ in node.next_functions if n is not None)
        return seen
    ours, theirs = names(cr), names(torch)
    assert len(ours) == len(theirs) and ours[-1] == theirs[-1] == "AccumulateGrad"


def test_pytorch_s_internal_layer_paths_name_the_same_classes():
    for file, name in (("linear", "Linear"), ("rnn", "LSTM"), ("dropout", "Dropout"),
                       ("sparse", "Embedding"), ("transformer", "TransformerEncoderLayer"),
                       ("activation", "MultiheadAttention"), ("container", "ModuleList"),
                       ("normalization", "LayerNorm")):
        ours = getattr(getattr(cr.nn.modules, file), name)
        assert ours is getattr(cr.nn, name)
        assert getattr(getattr(torch.nn.modules, file), name) is getattr(torch.nn, name)


def test_a_disabled_grad_scaler_passes_through_as_pytorch():
    w = cr.tensor([1.0], requires_grad=True)
    opt = cr.optim.SGD([w], lr=0.5)
    for m in (cr, torch):
        with pytest.warns(UserWarning, match=r"CUDA is not available.\s+Disabling"):
            scaler = m.cuda.amp.GradScaler(enabled=True)
        assert scaler.is_enabled() is False
    scaler = cr.amp.GradScaler(enabled=False)
    loss = (w * 3).sum()
    assert scaler.scale(loss) is loss
    scaler.scale(loss).backward()
    scaler.unscale_(opt)
    scaler.step(opt)
    scaler.update()
    assert w.tolist() == [-0.5]


def test_indexing_with_a_python_range_as_pytorch():
    data = np.arange(20.0).reshape(4, 5)
    for index in (range(3), (slice(None), range(1, 4)), (range(0, 4, 2), 1)):
        ours = cr.tensor(data, requires_grad=True)
        theirs = torch.tensor(data, requires_grad=True)
        np.testing.assert_array_equal(ours[index].detach().numpy(), theirs[index].detach().numpy())
        ours[index].sum().backward()
        theirs[index].sum().backward()
        np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())
    x = cr.zeros(5)
    x[range(1, 3)] = 1.0
    assert x.tolist() == [0.0, 1.0, 1.0, 0.0, 0.0]
