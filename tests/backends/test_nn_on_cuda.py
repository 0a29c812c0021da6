"""Every module of ``chainrule.nn`` and every loss of ``chainrule.nn.functional`` on the
``cuda`` device against the same on the CPU (issue 16).

On the CPU stand-in for CuPy (chainrule/backends/standin.py) a device array refuses every
hidden host round-trip (``np.asarray`` of it, ``bool()``/``float()`` of it), so a layer that
would sync or copy to the host on a GPU fails here. Each case builds its module once on the
CPU from one seed, copies it to the device, runs forward and backward in float64 in training
mode and in eval mode, and compares outputs, input gradients, parameter gradients and buffers
(running statistics) with the CPU run. The cases are tables in nn_cuda_cases.py; a module
class added to ``chainrule.nn`` without a case there fails the coverage test.
"""
from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F

from tests.backends.cuda_device import cuda  # noqa: F401 (a fixture)
from tests.backends.nn_cuda_cases import (LOSS_INPUT_TRANSFORMS, LOSSES, MODULE_CASES,
                                          NOT_LAYERS, Case, covered_classes, functional_losses,
                                          module_classes)

RTOL, ATOL = 1e-10, 1e-12


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
        _assert_same(_run_module(case, cuda, training), _run_module(case, "cpu", training))
    if case.random:  # the drawn training mode: it runs on the device, shapes as on the CPU
        got, ref = _run_module(case, cuda, True), _run_module(case, "cpu", True)
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
    got, ref = _run_loss(name, index, cuda), _run_loss(name, index, "cpu")
    assert len(got) == len(ref)
    for i, (a, b) in enumerate(zip(got, ref)):
        assert a.device.type == cuda and a.dtype == b.dtype
        np.testing.assert_allclose(_host(a), _host(b), rtol=RTOL, atol=ATOL, err_msg=f"[{i}]")
