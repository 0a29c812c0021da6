"""The op sweep on the ``cuda`` device: every spec case's forward and first-order gradients
(both kinds of rule) against PyTorch, with chainrule's tensors on ``cuda``.

Without a GPU the device is the CPU stand-in (:mod:`chainrule.backends.standin`): arrays
that refuse implicit conversion to NumPy and host scalars, so a hidden device-to-host
round trip in any op fails here. With CuPy and a GPU (``CHAINRULE_SWEEP_REAL_CUDA=1``,
run by benchmarks/gpu_check.py) the same tests run on the GPU itself."""
from __future__ import annotations

import os

import pytest

import harness
from chainrule.backends import standin
from test_op_sweep import TENSOR_RULES, TORCH

REAL_CUDA = os.environ.get("CHAINRULE_SWEEP_REAL_CUDA", "") not in ("", "0")


# sparse COO tensors keep their indices in host arrays: not on the device yet
HOST_ONLY = ("sparse",)


def _on_device(params):
    return [p for p in params if not p.values[0].name.startswith(HOST_ONLY)]


@pytest.fixture(autouse=True)
def _on_cuda(monkeypatch):
    was = standin.enabled()
    if not REAL_CUDA:
        standin.enable()
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
