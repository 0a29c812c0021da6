"""The ``cuda`` device for the tests of the CUDA path: the CPU stand-in for CuPy
(chainrule/backends/standin.py), or a real GPU when the run sets
CHAINRULE_SWEEP_REAL_CUDA=1 (benchmarks/gpu_check.py does), where the tests about the
stand-in itself are skipped."""
import os

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
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


def train_steps(device: str, layers, optimizer: str, options: dict, steps: int = 3):
    """A small float64 classifier (``layers()`` made from seed 0) trained ``steps`` steps on
    ``device`` with clipped gradients: the same run on two devices must end the same."""
    cr.manual_seed(0)
    model = nn.Sequential(*layers()).double().to(device)
    opt = getattr(cr.optim, optimizer)(model.parameters(), **options)
    rng = np.random.default_rng(3)
    x = cr.tensor(rng.standard_normal((16, 5)), device=device)
    y = cr.tensor(rng.integers(0, 3, 16), device=device)
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    return model, opt
