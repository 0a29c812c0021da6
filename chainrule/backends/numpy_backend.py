"""The NumPy backend (CPU)."""
from __future__ import annotations

import numpy as np

from .base import Backend, Device


class NumpyBackend(Backend):
    name = "numpy"

    def __init__(self) -> None:
        super().__init__(np)
        self.device = Device("cpu")
        self.ndarray = np.ndarray
        self.load_special_functions("scipy")

    def scatter_add(self, target, index, values) -> None:
        np.add.at(target, index, values)

    def to_host(self, array):
        return np.asarray(array)

    def from_host(self, array):
        return np.asarray(array)

    def is_array(self, obj) -> bool:
        return isinstance(obj, np.ndarray)


NUMPY = NumpyBackend()
