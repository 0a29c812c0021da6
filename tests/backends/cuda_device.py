"""The ``cuda`` device for the tests of the CUDA path: the CPU stand-in for CuPy
(chainrule/backends/standin.py), or a real GPU when the run sets
CHAINRULE_SWEEP_REAL_CUDA=1 (benchmarks/gpu_check.py does), where the tests about the
stand-in itself are skipped."""
import os

import pytest

from chainrule.backends import standin

REAL_CUDA = os.environ.get("CHAINRULE_SWEEP_REAL_CUDA", "") not in ("", "0")
standin_only = pytest.mark.skipif(REAL_CUDA, reason="about the CPU stand-in itself")


@pytest.fixture
def cuda():
    """The stand-in on for one test (unless the run has a real GPU); yields the device name."""
    was = standin.enabled()
    if not REAL_CUDA:
        standin.enable()
    yield "cuda"
    if not was:
        standin.disable()
