"""The host allocator tuning: an explicit opt-in (fit, `chainrule train`, the benchmarks,
or CHAINRULE_HOST_MALLOC=tuned), never an import side effect, never over the user's choice."""
import os
import platform
import subprocess
import sys

import pytest

IMPORT_ONLY = "import chainrule, chainrule.backends.host_memory as h; print(h.TUNED)"
OPT_IN = "import chainrule.backends.host_memory as h; print(h.tune(), h.TUNED)"
FIT = """
import chainrule as cr, chainrule.backends.host_memory as h, chainrule.train
from chainrule.utils.data import DataLoader, TensorDataset
before = h.TUNED
m = cr.nn.Linear(2, 2)
cr.train.fit(m, cr.nn.CrossEntropyLoss(), cr.optim.SGD(m.parameters(), lr=0.1),
             DataLoader(TensorDataset(cr.randn(8, 2), cr.zeros(8).long()), batch_size=4),
             progress=False)
print(before, h.TUNED)
"""
GLIBC = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")


def _run(code: str, **env) -> str:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith("MALLOC_") and k not in ("GLIBC_TUNABLES", "CHAINRULE_HOST_MALLOC")}
    clean.update(env)
    out = subprocess.run([sys.executable, "-c", code], env=clean, capture_output=True, text=True,
                         check=True)
    return out.stdout.strip()


def test_importing_chainrule_leaves_malloc_alone():
    assert _run(IMPORT_ONLY) == "False"


@GLIBC
def test_tune_applies_it_on_glibc():
    assert _run(OPT_IN) == "True True"


@GLIBC
def test_fit_opts_in():
    assert _run(FIT) == "False True"


@GLIBC
def test_the_environment_opts_in_at_import():
    assert _run(IMPORT_ONLY, CHAINRULE_HOST_MALLOC="tuned") == "True"


@pytest.mark.parametrize("env", [{"MALLOC_MMAP_THRESHOLD_": "131072"},
                                 {"MALLOC_TRIM_THRESHOLD_": "0"},
                                 {"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=0"},
                                 {"CHAINRULE_HOST_MALLOC": "system"}])
def test_left_alone_when_the_user_chose(env):
    assert _run(OPT_IN, **env) == "False False"
