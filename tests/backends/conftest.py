"""``cuda`` fixture: the device is the CPU stand-in for CuPy (chainrule.backends.standin)
unless the run has a real GPU (CHAINRULE_SWEEP_REAL_CUDA=1)."""
import os

import pytest

from chainrule.backends import standin

REAL_CUDA = os.environ.get("CHAINRULE_SWEEP_REAL_CUDA", "") not in ("", "0")


@pytest.fixture
def cuda():
    """Turns the stand-in on for one test; yields the device name."""
    was = standin.enabled()
    if not REAL_CUDA:
        standin.enable()
    yield "cuda"
    if not was:
        standin.disable()
