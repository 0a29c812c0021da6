"""The CuPy backend (NVIDIA GPUs); imported only when a CUDA device is asked for."""
from __future__ import annotations

from .base import Backend, Device

_BACKEND = None


class CupyBackend(Backend):
    name = "cupy"

    def __init__(self, cupy) -> None:
        super().__init__(cupy)
        self.device = Device("cuda:0")
        self.ndarray = cupy.ndarray
        self._cupyx = __import__("cupyx")
        self.load_special_functions("cupyx.scipy")

    def scatter_add(self, target, index, values) -> None:
        self._cupyx.scatter_add(target, index, values)

    def to_host(self, array):
        return self.module.asnumpy(array)

    def from_host(self, array):
        return self.module.asarray(array)

    def is_array(self, obj) -> bool:
        return isinstance(obj, self.module.ndarray)


def get_cupy_backend() -> CupyBackend:
    global _BACKEND
    if _BACKEND is None:
        try:
            import cupy
        except ImportError as e:
            raise RuntimeError(
                "device 'cuda' needs CuPy, which is not installed: "
                "pip install 'chainrule[gpu]' (or a cupy-cudaXXx wheel matching your CUDA)") from e
        _BACKEND = CupyBackend(cupy)
    return _BACKEND
