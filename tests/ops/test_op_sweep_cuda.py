"""The op sweep on the ``cuda`` device: every spec case's forward and first-order gradients
(both kinds of rule) against PyTorch, and float64 results against chainrule's own on the CPU
(to 1e-10), with chainrule's tensors on ``cuda``.

Without a GPU the device is the CPU stand-in (:mod:`chainrule.backends.standin`): arrays
that refuse implicit conversion to NumPy and host scalars, so a hidden device-to-host
round trip in any op fails here. With CuPy and a GPU (``CHAINRULE_SWEEP_REAL_CUDA=1``, as
``python -m benchmarks.gpu_check`` runs it) the same tests run on the GPU, PyTorch's side on
CUDA too where PyTorch has it."""
from __future__ import annotations

import os

import numpy as np
import pytest

import chainrule as cr
import harness
from chainrule.backends import standin
from test_op_sweep import FD, TENSOR_RULES, TORCH

REAL_CUDA = os.environ.get("CHAINRULE_SWEEP_REAL_CUDA", "") not in ("", "0")
# sparse COO tensors keep their indices in host arrays: not on the device yet
HOST_ONLY = ("sparse",)
# float64 on the device against float64 on the CPU (GPU reductions sum in another order)
CPU_TOL = dict(rtol=1e-10, atol=1e-10)


def _on_device(params):
    return [p for p in params if not p.values[0].name.startswith(HOST_ONLY)]


@pytest.fixture(autouse=True)
def _on_cuda(monkeypatch):
    was = standin.enabled()
    if not REAL_CUDA:
        standin.enable()
    else:
        import torch
        if torch.cuda.is_available():
            monkeypatch.setattr(harness, "TORCH_DEVICE", "cuda")
    monkeypatch.setattr(harness, "DEVICE", "cuda")
    yield
    if not was:
        standin.disable()


@pytest.mark.parametrize("spec,case,dtype", _on_device(TORCH))
def test_matches_torch_on_cuda(spec, case, dtype):
    harness.check_against_torch(spec, case, dtype)


@pytest.mark.parametrize("spec,case,dtype", _on_device(TENSOR_RULES))
def test_tensor_rules_match_torch_on_cuda(spec, case, dtype):
    harness.check_tensor_rules_against_torch(spec, case, dtype)


def _outputs_and_grads(spec, case, device, between=lambda: None):
    """float64 outputs and first-order gradients (ones as cotangents) as host arrays;
    ``between()`` runs before the forward and before the backward."""
    inputs = harness.make_inputs(spec, case, "float64")
    xs = [cr.tensor(v.copy(), device=device,
                    requires_grad=spec.grad and g and v.dtype.kind == "f") if k == "t" else v
          for k, v, g in inputs]
    between()
    out = harness.as_list(spec.fn(*xs, **case.kwargs))
    live = [o for o in out if o.requires_grad]
    wrt = [x for x in xs if isinstance(x, cr.Tensor) and x.requires_grad]
    between()
    grads = cr.autograd.grad(live, wrt, [cr.ones_like(o) for o in live],
                             allow_unused=True) if live and wrt else []
    return [harness.host(o) for o in out], [None if g is None else harness.host(g) for g in grads]


@pytest.mark.parametrize("spec,case", _on_device(FD))
def test_float64_matches_cpu(spec, case):
    out, grads = _outputs_and_grads(spec, case, "cuda")
    ref_out, ref_grads = _outputs_and_grads(spec, case, "cpu")
    for k, (a, b) in enumerate(zip(out, ref_out)):
        assert a.dtype == b.dtype, f"output {k}: {a.dtype} on cuda, {b.dtype} on cpu"
        np.testing.assert_allclose(a, b, **CPU_TOL, err_msg=f"output {k} on cuda vs cpu")
    for k, (a, b) in enumerate(zip(grads, ref_grads)):
        assert (a is None) == (b is None), f"gradient {k}: None on one device only"
        if a is not None:
            np.testing.assert_allclose(a, b, **CPU_TOL, err_msg=f"gradient {k} on cuda vs cpu")



def _gpu_0_current() -> None:
    """Make GPU 0 CuPy's current device, as an op on ``cuda:0`` tensors on the user's previous
    line leaves it: what runs next on ``cuda:1`` tensors must make GPU 1 current itself, or
    it meets device-1 arrays on device 0, which the stand-in (CuPy without peer access)
    refuses."""
    from chainrule.backends import standin_devices
    standin_devices.set_current(0)


@pytest.mark.skipif(REAL_CUDA, reason="needs the stand-in's two devices")
@pytest.mark.parametrize("spec,case", _on_device(FD))
def test_float64_on_the_second_gpu_matches_cpu(spec, case):
    out, grads = _outputs_and_grads(spec, case, "cuda:1", between=_gpu_0_current)
    ref_out, ref_grads = _outputs_and_grads(spec, case, "cpu")
    for k, (a, b) in enumerate(zip(out, ref_out)):
        np.testing.assert_allclose(a, b, **CPU_TOL, err_msg=f"output {k} on cuda:1 vs cpu")
    for k, (a, b) in enumerate(zip(grads, ref_grads)):
        assert (a is None) == (b is None), f"gradient {k}: None on one device only"
        if a is not None:
            np.testing.assert_allclose(a, b, **CPU_TOL, err_msg=f"gradient {k} on cuda:1 vs cpu")
