"""Every module of ``chainrule.nn`` and every loss of ``chainrule.nn.functional`` on the
``cuda`` device against the same on the CPU (issue 16).

On the CPU stand-in for CuPy (chainrule/backends/standin.py) a device array refuses every
hidden host round-trip (``np.asarray`` of it, ``bool()``/``float()`` of it), so a layer that
would sync or copy to the host on a GPU fails here. Each case builds its module once on the
CPU from one seed, copies it to the device, runs forward and backward in float64 in training
mode and in eval mode, and compares outputs, input gradients, parameter gradients and buffers
(running statistics) with the CPU run. The cases are tables in nn_cuda_cases.py; a module
class added to ``chainrule.nn`` without a case there fails the coverage test.

The stand-in lets the explicit ways out (``.item()``, ``.tolist()``, ``.get()``) pass, but
on a GPU each one waits for the device: the device runs here record where chainrule reads
device data on the host, and a read from a place not in ``HOST_READS`` (each with its
reason) fails.
"""
from __future__ import annotations

import contextlib
import sys

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.backends import standin

from tests.backends.cuda_device import cuda  # noqa: F401 (a fixture)
from tests.backends.nn_cuda_cases import (LOSS_INPUT_TRANSFORMS, LOSSES, MODULE_CASES,
                                          NOT_LAYERS, Case, covered_classes, functional_losses,
                                          module_classes)

RTOL, ATOL = 1e-10, 1e-12

# Where chainrule may read device data on the host during a layer's forward and backward
# ("file" or "file::function" under chainrule/), and why: every other read is a GPU sync to
# remove (take the general path on a device, or make the value from Python ints).
HOST_READS = {
    "nn/functional/_ctc.py": "lengths and targets are walked on the host (PyTorch's CUDA "
                             "ctc_loss copies the lengths to the host too)",
    "nn/functional/_embedding_bag.py": "the bags' sizes are data: offsets are checked and the "
                                       "bag layout is built from them",
    "nn/functional/_loss.py::_check_targets": "class indices out of range raise as on the CPU "
                                              "(CuPy would index silently wrong)",
    "nn/functional/_loss_margin.py::_class_targets": "class indices out of range raise",
    "nn/functional/_loss_margin.py::multilabel_margin_loss": "the -1-terminated class lists "
                                                             "are walked on the host",
    "nn/functional/_loss.py::binary_cross_entropy": "inputs outside [0, 1] raise, as PyTorch",
    "nn/functional/_loss.py::gaussian_nll_loss": "a negative variance raises (PyTorch's "
                                                 "torch.any(var < 0) syncs too)",
    "nn/functional/_sparse.py::embedding": "indices out of range raise",
    "nn/functional/_pooling3d.py::_max_unpool": "indices out of range raise",
    "ops/indexing.py::_check_index_shape": "(max_unpool's scatter checks its indices again)",
    "nn/normalization.py::forward": "momentum=None reads num_batches_tracked, as PyTorch",
    "ops/conv.py::_conv2d_weight_fwd": "an all-finite input picks the flat weight-gradient "
                                       "path (a choice to weigh on a GPU)",
}


def _site(frame) -> str | None:
    """``file::function`` of the innermost chainrule frame (the stand-in, Tensor's own
    ``item``/``tolist`` and the helpers of ``_host_calls`` that read for their caller left
    out), or None when chainrule did not ask."""
    while frame is not None:
        name = frame.f_code.co_filename.replace("\\", "/")
        if "/chainrule/" in name and not name.endswith(("/backends/standin.py", "/tensor.py",
                                                        "/_host_calls.py")):
            return f"{name.split('/chainrule/', 1)[1]}::{frame.f_code.co_name}"
        frame = frame.f_back
    return None


@contextlib.contextmanager
def _host_reads_checked(what: str):
    """Fail on a host read of device data from a place not in ``HOST_READS``."""
    seen: set[str] = set()
    saved = {name: getattr(standin.ndarray, name) for name in ("get", "item", "tolist")}

    def recording(method):
        def read(self, *args, **kwargs):
            seen.add(_site(sys._getframe(1)))
            return method(self, *args, **kwargs)
        return read
    for name, method in saved.items():
        setattr(standin.ndarray, name, recording(method))
    try:
        yield
    finally:
        for name, method in saved.items():
            setattr(standin.ndarray, name, method)
    unexpected = {site for site in seen - {None}
                  if site not in HOST_READS and site.split("::")[0] not in HOST_READS}
    assert not unexpected, f"{what} reads device data on the host at {sorted(unexpected)}"


def _tensors(out) -> list:
    """The tensors in a module's output (tuples of tuples, as LSTM's)."""
    if isinstance(out, cr.Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for item in out for t in _tensors(item)]
    return []


def _host(t) -> np.ndarray | None:
    return None if t is None else t.detach().cpu().numpy()


def _device_inputs(arrays, device: str) -> list:
    return [None if a is None else cr.tensor(a, device=device, requires_grad=g)
            for a, g in arrays]


def _backward(outputs: list) -> None:
    """Backward of the sum of squares of every differentiable output (squares, so that the
    gradient of a softmax or a normalized output is not zero)."""
    loss = sum((o * o).sum() for o in outputs if o.requires_grad and o.dtype.is_floating_point)
    if isinstance(loss, cr.Tensor):
        loss.backward()


def _run_module(case: Case, device: str, training: bool) -> dict:
    cr.manual_seed(0)
    module = case.module().double()
    arrays = case.arrays()
    if case.lazy:  # parameters drawn on the CPU at the first call, then copied
        with cr.no_grad():
            module(*_device_inputs(arrays, "cpu"))
    module = module.to(device).train(training)
    inputs = _device_inputs(arrays, device)
    out = case.call(module, *inputs) if case.call else module(*inputs)
    outputs = _tensors(out)
    _backward(outputs)
    for t in outputs:  # on the device, held in the device's arrays
        assert t.device.type == device and isinstance(t._data, np.ndarray) == (device == "cpu")
    return {
        "outputs": outputs,
        "input grads": [x.grad for x in inputs if x is not None and x.requires_grad],
        "parameter grads": {k: p.grad for k, p in module.named_parameters()},
        "buffers": dict(module.named_buffers()),
    }


def _assert_same(got: dict, ref: dict) -> None:
    for what in ("outputs", "input grads"):
        assert len(got[what]) == len(ref[what])
        for i, (a, b) in enumerate(zip(got[what], ref[what])):
            assert a.dtype == b.dtype, f"{what}[{i}]: {a.dtype} vs {b.dtype}"
            np.testing.assert_allclose(_host(a), _host(b), rtol=RTOL, atol=ATOL,
                                       err_msg=f"{what}[{i}]")
    for what in ("parameter grads", "buffers"):
        assert got[what].keys() == ref[what].keys()
        for name in ref[what]:
            a, b = got[what][name], ref[what][name]
            assert (a is None) == (b is None), f"{what} {name}"
            if b is not None:
                assert a.device.type != "cpu", f"{what} {name} on the CPU"
                np.testing.assert_allclose(_host(a), _host(b), rtol=RTOL, atol=ATOL,
                                           err_msg=f"{what} {name}")


# ------------------------------------------------------------------ coverage --
def test_every_module_class_has_a_case_or_a_reason():
    missing = module_classes() - covered_classes() - set(NOT_LAYERS)
    assert not missing, (f"chainrule.nn exports {sorted(missing)} without a case in "
                         "tests/backends/nn_cuda_cases.py (or a reason in NOT_LAYERS)")
    assert set(NOT_LAYERS) <= module_classes(), "a reason for a class chainrule.nn lacks"
    assert not set(NOT_LAYERS) & covered_classes(), "a class both skipped and covered"


def test_every_functional_loss_has_a_case():
    assert functional_losses() == set(LOSSES)


# ------------------------------------------------------------------- modules --
IDS = [case.id if [c.id for c in MODULE_CASES[:i]].count(case.id) == 0 else f"{case.id}#{i}"
       for i, case in enumerate(MODULE_CASES)]  # (a reused table repeats a spec on new shapes)


@pytest.mark.parametrize("case", MODULE_CASES, ids=IDS)
def test_module_on_cuda_matches_cpu(cuda, case):
    modes = [False] if case.random else [True, False]
    for training in modes:
        with _host_reads_checked(case.id):
            got = _run_module(case, cuda, training)
        _assert_same(got, _run_module(case, "cpu", training))
    if case.random:  # the drawn training mode: it runs on the device, shapes as on the CPU
        with _host_reads_checked(case.id):
            got = _run_module(case, cuda, True)
        ref = _run_module(case, "cpu", True)
        assert [t.shape for t in got["outputs"]] == [t.shape for t in ref["outputs"]]
        assert all(bool(cr.isfinite(t).all()) for t in got["outputs"] + got["input grads"])


# ------------------------------------------------------------------- losses --
LOSS_CASES = [(name, i) for name in sorted(LOSSES) for i in range(len(LOSSES[name]))]


def _run_loss(name: str, index: int, device: str) -> list:
    kwargs, inputs = LOSSES[name][index]
    arrays = Case(name, "Identity()", inputs).arrays()
    args = _device_inputs(arrays, device)
    first = LOSS_INPUT_TRANSFORMS.get(name, lambda x: x)(args[0])
    kwargs = {k: cr.tensor(v(None)[0], device=device) if callable(v) else v
              for k, v in kwargs.items()}
    loss = getattr(F, name)(first, *args[1:], **kwargs)
    assert loss.device.type == device
    _backward([loss])
    return [loss] + [x.grad for x in args if x.requires_grad]


@pytest.mark.parametrize("name,index", LOSS_CASES, ids=[f"{n}-{i}" for n, i in LOSS_CASES])
def test_functional_loss_on_cuda_matches_cpu(cuda, name, index):
    with _host_reads_checked(name):
        got = _run_loss(name, index, cuda)
    ref = _run_loss(name, index, "cpu")
    assert len(got) == len(ref)
    for i, (a, b) in enumerate(zip(got, ref)):
        assert a.device.type == cuda and a.dtype == b.dtype
        np.testing.assert_allclose(_host(a), _host(b), rtol=RTOL, atol=ATOL, err_msg=f"[{i}]")
