"""Keep freed host memory for reuse: glibc's malloc tuned for training loops.

A training step allocates and frees the same large arrays every step. With glibc's
default, adaptive settings those frees often hand the memory back to the kernel
(``munmap``, or a trim of the heap top), and the next step pays a page fault for
every 4 KiB it touches again: thousands per step for a small CNN, a quarter of its
time. Raising the mmap threshold to glibc's maximum and the trim threshold to
``TRIM_BYTES`` keeps up to that much freed memory in the process, where the next
step reuses it (PyTorch's caching allocators make the same trade on the GPU).

It is a process-wide setting, so importing chainrule never applies it: :func:`tune` is
an explicit opt-in, called by :func:`chainrule.train.fit` and ``chainrule train``, by
the benchmarks, and at import when ``CHAINRULE_HOST_MALLOC=tuned`` is set (for programs
run with ``import chainrule as torch``). Even then nothing is changed when glibc is not
the C library, when any of glibc's ``MALLOC_*_`` tunables is set in the environment, or
when ``CHAINRULE_HOST_MALLOC`` is ``system``.

>>> from chainrule.backends import host_memory
>>> host_memory.tune() in (True, False)
True
"""
from __future__ import annotations

import ctypes
import os
import platform

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
M_MMAP_THRESHOLD = -3
MMAP_BYTES = 32 << 20  # the largest mmap threshold glibc accepts on 64-bit systems
TRIM_BYTES = 256 << 20  # freed heap memory kept for reuse before any is handed back

_GLIBC_TUNABLES = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_",
                   "MALLOC_MMAP_MAX_", "GLIBC_TUNABLES")


def tune() -> bool:
    """Apply the settings above when it is safe to; True when they were applied.
    Calling it again is harmless."""
    if os.environ.get("CHAINRULE_HOST_MALLOC", "").lower() == "system":
        return False
    if any(name in os.environ for name in _GLIBC_TUNABLES):
        return False  # the user tuned malloc: theirs wins
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    global TUNED
    TUNED = bool(mallopt(M_MMAP_THRESHOLD, MMAP_BYTES)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_BYTES))
    return TUNED


TUNED = False  # whether tune() has applied the settings in this process
if os.environ.get("CHAINRULE_HOST_MALLOC", "").lower() == "tuned":
    tune()
