"""Timing helpers shared by the benchmarks: warm-up, many repeats, medians, BLAS info."""
from __future__ import annotations

import gc
import statistics
import sys
import time
from typing import Callable


def median_time(fn: Callable[[], object], *, repeats: int = 30, inner: int = 1,
                warmup: int = 3, min_time: float = 0.0, max_time: float | None = None) -> float:
    """Median seconds per call of ``fn`` over ``repeats`` samples of ``inner`` calls each.

    ``inner`` is raised until one sample takes at least ``min_time`` seconds, so tiny
    workloads are not dominated by the timer. With ``max_time``, sampling stops once the
    samples have taken that many seconds (but never before 5 samples), so slow workloads
    keep the whole run short.
    """
    for _ in range(warmup):
        fn()
    if min_time:
        while True:
            t0 = time.perf_counter()
            for _ in range(inner):
                fn()
            if time.perf_counter() - t0 >= min_time or inner >= 1 << 20:
                break
            inner *= 2
    samples = []
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in range(repeats):
            t0 = time.perf_counter()
            for _ in range(inner):
                fn()
            t1 = time.perf_counter()
            samples.append((t1 - t0) / inner)
            if max_time is not None and len(samples) >= 5 and t1 - start >= max_time:
                break
    finally:
        if gc_was_enabled:
            gc.enable()
    return statistics.median(samples)


def _owner(path: str) -> str:
    """The package that ships a loaded library: ``…/site-packages/numpy.libs/x.so`` → numpy."""
    parts = path.replace("\\", "/").split("/")
    for before, name in zip(parts, parts[1:]):
        if before in ("site-packages", "dist-packages"):
            return name.removesuffix(".libs")
    return path or "?"


def blas_info() -> str:
    """The BLAS libraries loaded (threadpoolctl), each named by the package that ships it,
    NumPy's first: that is the one chainrule's products run on. PyTorch links MKL
    statically (threadpoolctl cannot see it), so it is named from ``torch.__config__``."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (pip install threadpoolctl)"
    import numpy  # noqa: F401  (loads the BLAS)
    parts = []
    for info in threadpool_info():
        if info.get("user_api") == "blas":
            parts.append(f"{_owner(info.get('filepath', ''))}: {info.get('internal_api')} "
                         f"{info.get('version')} kernel={info.get('architecture')} "
                         f"threads={info.get('num_threads')}")
    parts.sort(key=lambda part: not part.startswith("numpy:"))
    torch = sys.modules.get("torch")
    if torch is not None:
        config = torch.__config__.show()
        blas = "MKL" if "BLAS_INFO=mkl" in config else "see torch.__config__.show()"
        parts.append(f"torch: {blas}{' + oneDNN' if 'USE_MKLDNN=ON' in config else ''}")
    return "; ".join(parts) or "none found"


def format_table(rows: list[dict], columns: list[str]) -> str:
    """A plain-text table a person can read."""
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    line = "  ".join(c.ljust(widths[c]) for c in columns)
    out = [line, "  ".join("-" * widths[c] for c in columns)]
    for r in rows:
        out.append("  ".join(str(r.get(c, "")).ljust(widths[c]) for c in columns))
    return "\n".join(out)
