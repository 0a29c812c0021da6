"""``chainrule.cuda``: PyTorch's ``torch.cuda`` queries, answered from the CuPy backend.

With CuPy and an NVIDIA GPU present the answers are CuPy's (device count, name,
memory in use); without them the queries answer as CPU-only PyTorch does
(``is_available()`` is False, ``device_count()`` and ``memory_allocated()`` are 0,
seeding and ``empty_cache()`` do nothing) and the calls that need a GPU raise
:class:`CudaUnavailableError` (an ``AssertionError``, as CPU-only PyTorch raises, and a
``RuntimeError``, as CUDA PyTorch without a GPU raises). CuPy is imported on first use
only, so ``import chainrule`` never needs it.

Random numbers for CUDA tensors are drawn on the device, from one generator per GPU
(:data:`default_generators`, see :mod:`chainrule.random`): ``manual_seed`` seeds the
current GPU's, ``manual_seed_all`` every GPU's, and ``chainrule.manual_seed`` seeds them
all along with the CPU's, as in PyTorch. Seeding needs no GPU (it is kept for the first
draw); ``get_rng_state``/``set_rng_state`` save and restore a stream (16 bytes).

Several GPUs are ``cuda:0`` … ``cuda:{device_count() - 1}``; ``set_device`` and ``with
cuda.device(n):`` choose the one ``device="cuda"`` means, as in PyTorch (see
:mod:`chainrule.backends.cupy_backend` for how ops follow their tensors' GPU). Memory
queries answer per GPU (CuPy keeps one pool a device).

>>> import chainrule as cr
>>> cr.cuda.is_available(), cr.cuda.device_count()   # on a machine without CuPy or GPU
(False, 0)
>>> device = "cuda" if cr.cuda.is_available() else "cpu"
"""
from __future__ import annotations

from types import SimpleNamespace

__all__ = ["CudaUnavailableError", "is_available", "device_count", "current_device", "set_device",
           "device", "device_of",
           "manual_seed", "manual_seed_all", "seed", "seed_all", "initial_seed", "get_rng_state",
           "set_rng_state", "get_rng_state_all", "set_rng_state_all", "synchronize", "get_device_name",
           "get_device_properties", "get_device_capability", "memory_allocated",
           "max_memory_allocated", "memory_reserved", "max_memory_reserved",
           "reset_peak_memory_stats", "empty_cache", "is_bf16_supported", "is_initialized"]


class CudaUnavailableError(AssertionError, RuntimeError):
    """A call that needs a CUDA GPU, made where chainrule has none (no CuPy, or no device)."""


def _cupy():
    """The cupy module when it is installed and sees at least one GPU, else None (the CPU
    stand-in of chainrule.backends.standin while that is enabled: one device)."""
    try:
        from .backends.cupy_backend import cupy_modules
        cupy = cupy_modules()[0]
        if cupy.cuda.runtime.getDeviceCount() > 0:
            return cupy
    except Exception:  # ImportError, or CUDARuntimeError when the driver finds no device
        pass
    return None


def _need_cupy(what: str):
    cupy = _cupy()
    if cupy is None:
        raise CudaUnavailableError(
            f"chainrule.cuda.{what}: CUDA is not available (chainrule reaches GPUs through CuPy: "
            f"pip install 'chainrule[gpu]' on a machine with an NVIDIA GPU); check "
            f"chainrule.cuda.is_available() first")
    return cupy


def _index(device, what: str) -> int:
    """The device index of ``device`` (None, an int, 'cuda[:N]' or a chainrule.device)."""
    if device is None:
        return current_device()
    if isinstance(device, int):
        return device
    from .backends import Device
    dev = Device(device)
    if dev.type != "cuda":
        raise ValueError(f"chainrule.cuda.{what}: expected a cuda device, but got: {dev}")
    return _selected() if dev.index is None else dev.index


def _selected() -> int:
    """The selected GPU's index (0 until set_device; needs no GPU: seeding works without)."""
    from .backends.cupy_backend import selected_device
    return selected_device()


def _backend(index: int):
    """GPU ``index``'s backend, made current (DeviceError: "invalid device ordinal")."""
    from .backends.cupy_backend import get_cupy_backend
    backend = get_cupy_backend(index)
    backend.activate()
    return backend


def is_available() -> bool:
    """True when CuPy is installed and sees a GPU."""
    return _cupy() is not None


def is_initialized() -> bool:
    """True once CuPy has been imported (chainrule's CUDA state is CuPy's)."""
    import sys
    return "cupy" in sys.modules and is_available()


def device_count() -> int:
    """The number of GPUs CuPy sees (0 without CuPy or GPU)."""
    cupy = _cupy()
    return 0 if cupy is None else int(cupy.cuda.runtime.getDeviceCount())


def current_device() -> int:
    """The index of the selected GPU: what ``device="cuda"`` means (0 until :func:`set_device`)."""
    _need_cupy("current_device")
    return _selected()


def set_device(device) -> None:
    """Select the GPU that ``device="cuda"`` means, as ``torch.cuda.set_device``; an index past
    the last GPU raises "CUDA error: invalid device ordinal". A negative index does nothing.

    >>> import chainrule as cr
    >>> if cr.cuda.device_count() > 1:
    ...     cr.cuda.set_device(1); assert cr.zeros(1, device="cuda").device.index == 1
    ...     cr.cuda.set_device(0)
    """
    index = _index(device, "set_device")
    _need_cupy("set_device")
    if index >= 0:
        from .backends.cupy_backend import select_device
        select_device(index)


class device:  # noqa: N801 - PyTorch's name
    """``with cuda.device(1):`` selects GPU 1 for the block (``device="cuda"`` means it there),
    then the one selected before; ``None`` or a negative index changes nothing."""

    def __init__(self, device) -> None:
        self.idx = -1 if device is None else _index(device, "device")
        self.prev_idx = -1

    def __enter__(self) -> "device":
        if self.idx >= 0:
            self.prev_idx = current_device()
            set_device(self.idx)
        return self

    def __exit__(self, *exc) -> None:
        if self.prev_idx >= 0:
            set_device(self.prev_idx)


class device_of(device):  # noqa: N801 - PyTorch's name
    """``with cuda.device_of(t):`` selects the GPU of tensor ``t`` (nothing for a CPU tensor)."""

    def __init__(self, obj) -> None:
        dev = obj.device
        super().__init__(dev.index if dev.type == "cuda" else None)


def _generator(device, what: str):
    """The default CUDA generator of ``device`` (None: the selected GPU, cuda:0 without one)."""
    from .random import cuda_generator
    index = _selected() if device is None else _index(device, what)
    return cuda_generator(index)


def manual_seed(seed: int) -> None:
    """Seed the current GPU's generator (kept until the first draw where there is no GPU).

    >>> import chainrule as cr
    >>> cr.cuda.manual_seed(7); cr.cuda.initial_seed()
    7
    """
    _generator(None, "manual_seed").manual_seed(seed)


def manual_seed_all(seed: int) -> None:
    """Seed every GPU's generator (those not used yet too)."""
    from .random import seed_cuda_all
    seed_cuda_all(seed)


def seed() -> None:
    """Seed the current GPU's generator with a fresh random seed."""
    _generator(None, "seed").seed()


def seed_all() -> None:
    """Seed every GPU's generator with one fresh random seed."""
    from .random import cuda_generator, seed_cuda_all
    seed_cuda_all(cuda_generator(0).seed())


def initial_seed() -> int:
    """The seed of the current GPU's generator."""
    return _generator(None, "initial_seed").initial_seed()


def get_rng_state(device="cuda"):
    """The state of a GPU's generator: a uint8 tensor (seed and offset, 16 bytes)."""
    return _generator(device, "get_rng_state").get_state()


def set_rng_state(new_state, device="cuda") -> None:
    """Restore a GPU's generator from :func:`get_rng_state`: the draws after it repeat."""
    _generator(device, "set_rng_state").set_state(new_state)


def get_rng_state_all() -> list:
    """The states of every GPU's generator."""
    from .random import cuda_generators
    return [gen.get_state() for gen in cuda_generators()]


def set_rng_state_all(new_states) -> None:
    """Restore every GPU's generator from :func:`get_rng_state_all`."""
    from .random import cuda_generator
    for index, state in enumerate(new_states):
        cuda_generator(index).set_state(state)


def synchronize(device=None) -> None:
    """Wait until the GPU (the selected one by default) has finished all queued work."""
    _need_cupy("synchronize")
    _backend(_index(device, "synchronize")).module.cuda.runtime.deviceSynchronize()


def get_device_properties(device=None) -> SimpleNamespace:
    """Name, total memory, compute capability and SM count of a GPU."""
    cupy = _need_cupy("get_device_properties")
    index = _index(device, "get_device_properties")
    if not 0 <= index < device_count():  # (PyTorch's words)
        raise AssertionError(f"chainrule.cuda.get_device_properties: Invalid device id {index}")
    p = cupy.cuda.runtime.getDeviceProperties(index)
    name = p["name"].decode() if isinstance(p["name"], bytes) else str(p["name"])
    return SimpleNamespace(name=name, total_memory=int(p["totalGlobalMem"]), major=int(p["major"]),
                           minor=int(p["minor"]), multi_processor_count=int(p["multiProcessorCount"]))


def get_device_name(device=None) -> str:
    """The GPU's name, e.g. ``'NVIDIA H100 80GB HBM3'``."""
    return get_device_properties(device).name


def get_device_capability(device=None) -> tuple[int, int]:
    """The GPU's compute capability ``(major, minor)``."""
    p = get_device_properties(device)
    return p.major, p.minor


class _PeakHook:
    """Counts the peak of CuPy's pool usage, a GPU each, from the moment it is installed (CuPy
    keeps no peak of its own); installed by the first max_memory_allocated() or
    reset_peak_memory_stats(). An allocation is made on the current device: its peak grows."""

    def __init__(self, cupy) -> None:
        self.used = cupy.get_default_memory_pool().used_bytes  # (the current device's)
        self.current = cupy.cuda.runtime.getDevice
        self.peaks: dict = {}  # device index → peak bytes

        class Hook(cupy.cuda.memory_hook.MemoryHook):
            name = "chainrule_peak"

            def malloc_postprocess(hook, **kwargs) -> None:  # noqa: N805
                index = self.current()
                self.peaks[index] = max(self.peaks.get(index, 0), self.used())

        self.hook = Hook()
        self.hook.__enter__()  # stays installed (on this thread) for the process's life


_PEAK: list = []


def _peak(cupy) -> _PeakHook:
    if not _PEAK:
        _PEAK.append(_PeakHook(cupy))
    return _PEAK[0]


def _pool_bytes(device, what: str, total: bool = False) -> int:
    """Bytes in CuPy's pool of a GPU (in use, or ``total``: held); 0 without a GPU."""
    cupy = _cupy()
    if cupy is None:
        return 0
    _backend(_index(device, what))  # (CuPy's pool answers for the current device)
    pool = cupy.get_default_memory_pool()
    return int(pool.total_bytes() if total else pool.used_bytes())


def memory_allocated(device=None) -> int:
    """Bytes held by tensors on a GPU (the selected one by default; CuPy's pool in use); 0
    without a GPU."""
    return _pool_bytes(device, "memory_allocated")


def max_memory_allocated(device=None) -> int:
    """The peak of :func:`memory_allocated` since it was first asked for or reset; 0 without a GPU."""
    cupy = _cupy()
    if cupy is None:
        return 0
    now = memory_allocated(device)
    return int(max(_peak(cupy).peaks.get(_index(device, "max_memory_allocated"), now), now))


def memory_reserved(device=None) -> int:
    """Bytes CuPy's pool holds from the driver on a GPU (in use or cached); 0 without a GPU."""
    return _pool_bytes(device, "memory_reserved", total=True)


def max_memory_reserved(device=None) -> int:
    """CuPy keeps no peak of reserved memory: the current :func:`memory_reserved`."""
    return memory_reserved(device)


def reset_peak_memory_stats(device=None) -> None:
    """Start counting :func:`max_memory_allocated` of a GPU afresh from its current usage."""
    peak = _peak(_need_cupy("reset_peak_memory_stats"))
    peak.peaks[_index(device, "reset_peak_memory_stats")] = memory_allocated(device)


def empty_cache() -> None:
    """Return CuPy's cached, unused GPU blocks to the driver; does nothing without a GPU."""
    cupy = _cupy()
    if cupy is not None:
        cupy.get_default_memory_pool().free_all_blocks()


def is_bf16_supported(including_emulation: bool = True) -> bool:
    """False: CuPy arrays have no bfloat16 dtype, so chainrule has no bfloat16 on the GPU."""
    return False


def __getattr__(name: str):
    if name == "default_generators":  # (torch.cuda.default_generators: one a GPU)
        from .random import cuda_generator
        return tuple(cuda_generator(i) for i in range(max(device_count(), 1)))
    raise AttributeError(f"module 'chainrule.cuda' has no attribute {name!r}")
