"""Tensors whose array lives in a ``multiprocessing.shared_memory`` block.

``Tensor.share_memory_()`` copies the array into a new block and makes the tensor use it, so
processes started afterwards with ``fork`` write to the same memory (hogwild training), and a
tensor sent to a ``spawn``ed process is rebuilt over the same block by its name (reductions.py).

Blocks stay open for the life of the process that made or attached them; the process that made
a block unlinks its name at exit (a block already mapped elsewhere stays valid until unmapped).

>>> import chainrule as cr
>>> t = cr.zeros(3).share_memory_()
>>> t.is_shared(), cr.ones(1).is_shared()
(True, False)
"""
from __future__ import annotations

import atexit
import os
from multiprocessing import shared_memory

import numpy as np

from ..ops._operands import tensor_method

# id(the object NumPy records as the base of arrays over a block, its mmap) -> (that object,
# the block); both live as long as the process, so an id is never reused
_BLOCKS: dict[int, tuple[object, shared_memory.SharedMemory]] = {}
_CREATED: list[tuple[int, shared_memory.SharedMemory]] = []  # (creating pid, block)


def _unlink_created() -> None:
    for pid, shm in _CREATED:
        if pid == os.getpid():  # a forked child never unlinks its parent's blocks
            try:
                shm.unlink()
            except FileNotFoundError:
                pass


atexit.register(_unlink_created)


def block_of(array: np.ndarray):
    """The shared block ``array`` is a view of, or None."""
    a = array
    while a is not None:
        entry = _BLOCKS.get(id(a))
        if entry is not None and entry[0] is a:
            return entry[1]
        a = getattr(a, "base", None)
    return None


def _register(shm) -> None:
    root = np.ndarray((0,), dtype=np.uint8, buffer=shm.buf).base  # what arrays over it point at
    _BLOCKS[id(root)] = (root, shm)


def _buffer_address(shm) -> int:
    return np.frombuffer(shm.buf, dtype=np.uint8).ctypes.data


def location(array: np.ndarray):
    """``(block name, byte offset)`` of a shared array, or None."""
    shm = block_of(array)
    if shm is None:
        return None
    return shm.name, array.__array_interface__["data"][0] - _buffer_address(shm)


def new_shared_array(array: np.ndarray) -> np.ndarray:
    """A C-contiguous copy of ``array`` in a new shared block."""
    shm = shared_memory.SharedMemory(create=True, size=max(int(array.nbytes), 1))
    _register(shm)
    _CREATED.append((os.getpid(), shm))
    out = np.ndarray(array.shape, dtype=array.dtype, buffer=shm.buf)
    out[...] = array
    return out


def attach(name: str, offset: int, shape, strides, dtype) -> np.ndarray:
    """The array at ``offset`` of the shared block ``name`` (opened once per process)."""
    shm = next((b for _, b in _BLOCKS.values() if b.name == name), None)
    if shm is None:
        # (Python < 3.13 registers the name with the resource tracker again: that tracker is the
        # maker's, shared by the processes it starts, and the maker's unlink unregisters it)
        shm = shared_memory.SharedMemory(name=name)
        _register(shm)
    return np.ndarray(shape, dtype=dtype, buffer=shm.buf, offset=offset, strides=strides)


@tensor_method()
def share_memory_(self):
    """Moves this tensor's array into shared memory (no-op if it is there); returns ``self``.

    >>> import chainrule as cr
    >>> w = cr.ones(2, requires_grad=True).share_memory_()
    >>> w.is_shared(), w.requires_grad
    (True, True)
    """
    if block_of(self._data) is None:
        self._data = new_shared_array(self._data)
    return self


@tensor_method()
def is_shared(self) -> bool:
    """True if this tensor's array lives in a shared-memory block."""
    return block_of(self._data) is not None
