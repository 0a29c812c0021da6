"""The host allocator tuning: applied by default on glibc, never over the user's choice."""
import os
import platform
import subprocess
import sys

import pytest

CHECK = "import chainrule.backends.host_memory as h; print(h.TUNED)"


def _tuned(**env) -> str:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith("MALLOC_") and k not in ("GLIBC_TUNABLES", "CHAINRULE_HOST_MALLOC")}
    clean.update(env)
    out = subprocess.run([sys.executable, "-c", CHECK], env=clean, capture_output=True, text=True,
                         check=True)
    return out.stdout.strip()


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_applied_by_default_on_glibc():
    assert _tuned() == "True"


@pytest.mark.parametrize("env", [{"MALLOC_MMAP_THRESHOLD_": "131072"},
                                 {"MALLOC_TRIM_THRESHOLD_": "0"},
                                 {"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=0"},
                                 {"CHAINRULE_HOST_MALLOC": "system"}])
def test_left_alone_when_the_user_chose(env):
    assert _tuned(**env) == "False"
